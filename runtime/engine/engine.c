#include "config.h"
#include "engine.h"
#include "fsutil.h"
#include "log.h"
#include "spec.h"
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dockerd (20.10) gives a `--network host` container its own network
 * namespace as a path (<exec-root>/netns/default): the namespace podshim
 * runs in. That is no choice of the member's to respect: a host-network
 * member of a pod joins the pod's network (the Swarm sidecar recipe): the
 * pod's path replaces it. True for a `--network host` container whose network
 * path, if any, is podshim's own namespace. */
bool
engine_host_network (yajl_val spec, const char *mode)
{
  if (mode == NULL || strcmp (mode, "host") != 0)
    return false;
  yajl_val nss = json_get_array (json_get_object (spec, "linux"), "namespaces");
  struct stat self, st;
  if (stat ("/proc/self/ns/net", &self) < 0)
    return false;
  for (size_t i = 0; nss && i < nss->u.array.len; i++)
    {
      yajl_val ns = nss->u.array.values[i];
      const char *t = json_get_string (ns, "type");
      const char *path = json_get_string (ns, "path");
      if (t && strcmp (t, "network") == 0 && path && path[0]
          && (stat (path, &st) < 0 || st.st_dev != self.st_dev || st.st_ino != self.st_ino))
        return false;
    }
  return true;
}

static const char *const docker_label_path[] = { "Config", "Labels", NULL };

/* Swarm's IDs are 25 characters of [0-9a-z], its names Docker's (at most 63
 * of [A-Za-z0-9_.-]): these values go into pod.json, so anything else is no
 * task of Swarm's. */
static bool
swarm_value_valid (const char *s, size_t len, size_t max, bool name)
{
  if (len == 0 || len > max)
    return false;
  for (size_t i = 0; i < len; i++)
    {
      char c = s[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || (name && i > 0 && (c == '_' || c == '.' || c == '-'));
      if (!ok)
        return false;
    }
  return true;
}

static int
swarm_label_invalid (const char *label, const char *v, struct podshim_error **err)
{
  return podshim_error_set (err, 0,
                            "invalid Docker label %s `%.64s%s`: not a Swarm task's (IDs are up to"
                            " %d characters of [A-Za-z0-9], names up to %d of [A-Za-z0-9_.-])",
                            label, v, strlen (v) > 64 ? "..." : "", SWARM_ID_MAX, SWARM_NAME_MAX);
}

int
swarm_task_from_labels (yajl_val labels_doc, struct swarm_task *ret, struct podshim_error **err)
{
  yajl_val l = json_get_path (labels_doc, docker_label_path);
  memset (ret, 0, sizeof (*ret));
  const char *sid = json_get_string (l, "com.docker.swarm.service.id");
  if (sid == NULL || sid[0] == '\0')
    return 0;
  if (!swarm_value_valid (sid, strlen (sid), SWARM_ID_MAX, false))
    return swarm_label_invalid ("com.docker.swarm.service.id", sid, err);
  const char *name = json_get_string (l, "com.docker.swarm.service.name");
  if (name == NULL)
    name = sid;
  if (!swarm_value_valid (name, strlen (name), SWARM_NAME_MAX, true))
    return swarm_label_invalid ("com.docker.swarm.service.name", name, err);
  const char *task = json_get_string (l, "com.docker.swarm.task.name");
  size_t nl = strlen (name);
  if (task && strncmp (task, name, nl) == 0 && task[nl] == '.')
    {
      const char *slot = task + nl + 1;
      const char *end = strrchr (slot, '.');
      size_t len = end ? (size_t)(end - slot) : strlen (slot);
      if (!swarm_value_valid (slot, len, sizeof (ret->slot) - 1, false))
        return swarm_label_invalid ("com.docker.swarm.task.name", task, err);
      memcpy (ret->slot, slot, len);
    }
  ret->service_id = sid;
  ret->service_name = name;
  return 0;
}

/* Refuses a second live task of the member's service, recording the task in
 * the member's entry otherwise (m->raw: pod.json keeps fields it does not
 * know). Members are all alive here (join_locked pruned the dead). */
int
swarm_guard (const char *key, struct pod_state *pod, const struct swarm_task *t,
             struct podshim_error **err)
{
  if (t == NULL || t->service_id == NULL)
    return 0;
  for (size_t i = 0; i < pod->n_members; i++)
    {
      const struct pod_member *m = &pod->members[i];
      const char *sid = json_get_string (m->raw, "swarm_service_id");
      if (sid == NULL || strcmp (sid, t->service_id) != 0)
        continue;
      const char *slot = json_get_string (m->raw, "swarm_slot");
      if (t->slot[0] && slot && strcmp (slot, t->slot) == 0)
        continue; /* the same replica being replaced */
      return podshim_error_set (
          err, 0,
          "pod `%s` already has a live task of Swarm service `%s` (container `%.12s`, slot %s):"
          " two tasks of one service cannot share a pod. Give each replica its own pod"
          " (`{{.Node.ID}}` or `{{.Task.Slot}}` in the name), or make the service global",
          key, t->service_name, m->id, slot && slot[0] ? slot : "?");
    }
  return 0;
}

void
swarm_task_record (struct pod_member *m, const struct swarm_task *t)
{
  if (t && t->companion_of)
    {
      if (m->raw == NULL)
        m->raw = json_new_object ();
      json_object_set (m->raw, "companion_of", json_new_string (t->companion_of));
      json_object_set (m->raw, "companion",
                       json_new_string (t->companion_name ? t->companion_name : ""));
    }
  if (t == NULL || t->service_id == NULL)
    return;
  if (m->raw == NULL)
    m->raw = json_new_object ();
  json_object_set (m->raw, "swarm_service_id", json_new_string (t->service_id));
  json_object_set (m->raw, "swarm_service_name", json_new_string (t->service_name));
  json_object_set (m->raw, "swarm_slot", json_new_string (t->slot));
}

/* The pod's copies of its network owner's resolver files, in net/ of the pod
 * directory: members that join the pod's network but do not own it bind-mount
 * them, as a Kubernetes pod's containers share one resolv.conf (a `--network
 * host` sidecar then asks Docker's DNS at 127.0.0.11 in the pod's netns).
 * net/owner-<leaf> is a symlink to the owner's own file. */
static const struct
{
  const char *leaf, *owner, *dest;
} net_files[2] = { { "resolv.conf", "owner-resolv.conf", "/etc/resolv.conf" },
                   { "hosts", "owner-hosts", "/etc/hosts" } };

#define NET_FILE_MAX (1 << 20)

/* Writes nfd/leaf in place, not by rename: members' bind mounts hold the
 * inode (Docker writes its own copies in place too). */
static int
write_net_file (int nfd, const char *leaf, const char *buf, size_t len, struct podshim_error **err)
{
  cleanup_close int fd
      = openat (nfd, leaf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 || write_all (fd, buf, len) < 0)
    return podshim_error_set (err, errno, "cannot write the pod's %s", leaf);
  return 0;
}

/* The owner's files are copied at its create and again at its start (dockerd
 * >= 28 writes them between the two); a member that joins before any owner
 * seeds them with its own. */
int
engine_share_net_files (int poddir, yajl_val spec, bool owner, bool ret_mount[2],
                        struct podshim_error **err)
{
  cleanup_close int nfd = -1;
  for (size_t i = 0; i < 2; i++)
    {
      const char *src = spec_mount_source (spec, net_files[i].dest);
      if (src == NULL || src[0] != '/')
        continue;
      if (nfd < 0 && (nfd = ensure_dir_at (poddir, STATEDIR_POD_NET, 0755, err)) < 0)
        return -1;
      if (owner)
        {
          if ((unlinkat (nfd, net_files[i].owner, 0) < 0 && errno != ENOENT)
              || symlinkat (src, nfd, net_files[i].owner) < 0)
            return podshim_error_set (err, errno, "cannot record the pod's network owner's %s",
                                      net_files[i].leaf);
        }
      else if (faccessat (nfd, net_files[i].leaf, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        {
          ret_mount[i] = true;
          continue;
        }
      cleanup_error struct podshim_error *e = NULL;
      cleanup_free char *buf = NULL;
      size_t len;
      if (read_file_at (AT_FDCWD, src, O_NOFOLLOW, NET_FILE_MAX, &buf, &len, &e) < 0)
        {
          /* Unreadable source: the member keeps its own file. */
          podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e->msg);
          continue;
        }
      if (write_net_file (nfd, net_files[i].leaf, buf, len, err) < 0)
        return -1;
      ret_mount[i] = !owner;
    }
  return 0;
}

void
engine_refresh_net_files (int poddir, const char *key)
{
  cleanup_error struct podshim_error *err = NULL;
  cleanup_close int nfd = open_dir_at (poddir, STATEDIR_POD_NET, &err);
  if (nfd < 0)
    return;
  for (size_t i = 0; i < 2; i++)
    {
      cleanup_error struct podshim_error *e = NULL;
      cleanup_free char *buf = NULL;
      size_t len;
      if (faccessat (nfd, net_files[i].owner, F_OK, AT_SYMLINK_NOFOLLOW) == 0
          && (read_file_at (nfd, net_files[i].owner, 0, NET_FILE_MAX, &buf, &len, &e) < 0
              || write_net_file (nfd, net_files[i].leaf, buf, len, &e) < 0))
        podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: %s", key, e->msg);
    }
}

#include "config.h"
#include "spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

int
pod_ns_index (unsigned bit)
{
  switch (bit)
    {
    case POD_NS_NET:
      return 0;
    case POD_NS_IPC:
      return 1;
    case POD_NS_UTS:
      return 2;
    case POD_NS_PID:
      return 3;
    }
  return -1;
}

static bool
is_network_hook (yajl_val hook)
{
  yajl_val args = json_get_array (hook, "args");
  if (args == NULL)
    return false;
  for (size_t i = 0; i < args->u.array.len && i < 3; i++)
    {
      yajl_val a = args->u.array.values[i];
      if (a->type == yajl_t_string && strcmp (a->u.string, "libnetwork-setkey") == 0)
        return true;
    }
  return false;
}

static const char *const hook_kinds[] = { "prestart", "createRuntime", NULL };

bool
spec_has_network_hook (yajl_val spec)
{
  yajl_val hooks = json_get_object (spec, "hooks");
  for (int k = 0; hooks && hook_kinds[k]; k++)
    {
      yajl_val arr = json_get_array (hooks, hook_kinds[k]);
      for (size_t i = 0; arr && i < arr->u.array.len; i++)
        if (is_network_hook (arr->u.array.values[i]))
          return true;
    }
  return false;
}

const char *
spec_network_path (yajl_val spec)
{
  yajl_val nss = json_get_array (json_get_object (spec, "linux"), "namespaces");
  for (size_t i = 0; nss && i < nss->u.array.len; i++)
    {
      yajl_val ns = nss->u.array.values[i];
      const char *t = json_get_string (ns, "type");
      const char *path = json_get_string (ns, "path");
      if (t && strcmp (t, "network") == 0)
        return path && path[0] ? path : NULL;
    }
  return NULL;
}

enum spec_network
spec_network_kind (yajl_val spec, const char *mode)
{
  if (mode
      && (strcmp (mode, "none") == 0 || strcmp (mode, "host") == 0
          || strncmp (mode, "container:", 10) == 0))
    return SPEC_NET_NO_INTERFACE;
  if (spec_has_network_hook (spec))
    return SPEC_NET_HOOK;
  if (mode == NULL)
    return SPEC_NET_NO_INTERFACE; /* no engine we know plumbs it after create */
  yajl_val nss = json_get_array (json_get_object (spec, "linux"), "namespaces");
  for (size_t i = 0; nss && i < nss->u.array.len; i++)
    {
      yajl_val ns = nss->u.array.values[i];
      const char *t = json_get_string (ns, "type");
      if (t == NULL || strcmp (t, "network") != 0)
        continue;
      const char *path = json_get_string (ns, "path");
      /* A fresh namespace: dockerd plumbs /proc/<init>/ns/net after create. */
      return path == NULL || path[0] == '\0' ? SPEC_NET_AFTER_CREATE : SPEC_NET_NO_INTERFACE;
    }
  return SPEC_NET_NO_INTERFACE; /* the engine's own network namespace */
}

static size_t
drop_network_hooks (yajl_val spec)
{
  size_t dropped = 0;
  yajl_val hooks = json_get_object (spec, "hooks");
  for (int k = 0; hooks && hook_kinds[k]; k++)
    {
      yajl_val arr = json_get_array (hooks, hook_kinds[k]);
      for (size_t i = arr ? arr->u.array.len : 0; i > 0; i--)
        if (is_network_hook (arr->u.array.values[i - 1]))
          {
            json_array_remove (arr, i - 1);
            dropped++;
          }
    }
  return dropped;
}

bool
sysctl_in_namespaces (const char *key_in, unsigned mask)
{
  /* runc (and crun) also take '/' as the separator when it comes first
   * ("net/ipv4/ip_forward"): classify the dotted form, '.' and '/' swapped. */
  size_t sep = strcspn (key_in, "./");
  cleanup_free char *swapped = NULL;
  const char *key = key_in;
  if (key_in[sep] == '/')
    {
      swapped = strdup (key_in);
      if (swapped == NULL)
        abort ();
      for (char *p = swapped; *p; p++)
        *p = *p == '/' ? '.' : *p == '.' ? '/' : *p;
      key = swapped;
    }
  /* The kernel's namespaced sysctls, as runc's validator lists them. */
  if ((mask & POD_NS_NET) && strncmp (key, "net.", 4) == 0)
    return true;
  if ((mask & POD_NS_IPC)
      && (strcmp (key, "kernel.msgmax") == 0 || strcmp (key, "kernel.msgmnb") == 0
          || strcmp (key, "kernel.msgmni") == 0 || strcmp (key, "kernel.sem") == 0
          || strcmp (key, "kernel.shmall") == 0 || strcmp (key, "kernel.shmmax") == 0
          || strcmp (key, "kernel.shmmni") == 0 || strcmp (key, "kernel.shm_rmid_forced") == 0
          || strncmp (key, "fs.mqueue.", 10) == 0))
    return true;
  if ((mask & POD_NS_UTS)
      && (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0))
    return true;
  return false;
}

static void
drop_sysctls (yajl_val lx, unsigned mask)
{
  yajl_val sysctl = json_get_object (lx, "sysctl");
  if (sysctl == NULL)
    return;
  size_t i = 0;
  while (i < sysctl->u.object.len)
    {
      if (!sysctl_in_namespaces (sysctl->u.object.keys[i], mask))
        {
          i++;
          continue;
        }
      /* Copy: removal frees the key; duplicates go with it. */
      cleanup_free char *k = strdup (sysctl->u.object.keys[i]);
      if (k == NULL)
        abort ();
      json_object_remove (sysctl, k);
    }
}

/* Skips 1 to 10 decimal digits at *s. */
static bool
skip_digits (const char **s)
{
  const char *q = *s;
  while (*q >= '0' && *q <= '9' && q - *s < 11)
    q++;
  if (q == *s || q - *s > 10)
    return false;
  *s = q;
  return true;
}

/* "/proc/<digits>/fd/<digits>": the form podshim writes since pods are held by
 * a holder process (an fd of the creating podshim). */
static bool
is_proc_fd_path (const char *p)
{
  if (strncmp (p, "/proc/", 6) != 0)
    return false;
  const char *s = p + 6;
  if (!skip_digits (&s) || s[0] != '/' || s[1] != 'f' || s[2] != 'd' || s[3] != '/')
    return false;
  s += 4;
  return skip_digits (&s) && *s == '\0';
}

/* A path podshim itself wrote for a pod: a bundle re-created after an earlier
 * join, possibly under another state dir. Older versions wrote
 * `.../pods/<pod key>/ns/<short>`; this one writes an fd of its own. */
static bool
is_pod_ns_path (const char *p, const char *short_name)
{
  if (is_proc_fd_path (p))
    return true;
  size_t n = strlen (p), sn = strlen (short_name);
  if (n < sn + 4 || strcmp (p + n - sn, short_name) != 0
      || strncmp (p + n - sn - 4, "/ns/", 4) != 0)
    return false;
  size_t end = n - sn - 4; /* the pod key ends here */
  size_t start = end;
  while (start > 0 && p[start - 1] != '/')
    start--;
  if (start == end || start < 6 || strncmp (p + start - 6, "/pods/", 6) != 0)
    return false;
  char name[POD_KEY_MAX + 1];
  if (end - start > POD_KEY_MAX)
    return false;
  memcpy (name, p + start, end - start);
  name[end - start] = '\0';
  return pod_key_valid (name);
}

static int
set_namespace (yajl_val lx, const char *type, const char *short_name, const char *path,
               bool replace_own, struct podshim_error **err)
{
  yajl_val nss = json_object_ensure (lx, "namespaces", yajl_t_array);
  if (nss == NULL)
    return podshim_error_set (err, 0, "invalid config.json: `linux.namespaces` is not an array");
  bool found = false;
  for (size_t i = 0; i < nss->u.array.len; i++)
    {
      yajl_val ns = nss->u.array.values[i];
      if (ns->type != yajl_t_object)
        return podshim_error_set (
            err, 0, "invalid config.json: `linux.namespaces[%zu]` is not an object", i);
      const char *t = json_get_string (ns, "type");
      if (t == NULL || strcmp (t, type) != 0)
        continue;
      if (found)
        return podshim_error_set (err, 0, "invalid config.json: namespace `%s` is listed twice",
                                  type);
      found = true;
      /* The member's own choice (`--network container:X`, a bundle's path):
         never silently replaced. A pod's path: joined before, by podshim. */
      yajl_val own = json_get (ns, "path");
      if (own && !replace_own
          && !(own->type == yajl_t_string
               && (own->u.string[0] == '\0' || is_pod_ns_path (own->u.string, short_name))))
        return podshim_error_set (err, 0,
                                  "the container already joins its %s namespace at `%.200s`;"
                                  " a pod member cannot also share it with the pod"
                                  " (drop that namespace from podshim.share or the path)",
                                  type, own->type == yajl_t_string ? own->u.string : "?");
      json_object_set (ns, "path", json_new_string (path));
    }
  if (!found)
    {
      yajl_val ns = json_new_object ();
      json_object_set (ns, "type", json_new_string (type));
      json_object_set (ns, "path", json_new_string (path));
      json_array_append (nss, ns);
    }
  return 0;
}

/* How path stands to dir for the kernel: empty and "." components do not
 * count, so "/data/", "//data" and "data" (runc takes it from /) are all
 * "/data". */
enum mount_rel
{
  MOUNT_OTHER,
  MOUNT_SAME,
  MOUNT_UNDER, /* dir is a strict parent of path */
};

static enum mount_rel
mount_path_rel (const char *path, const char *dir)
{
  for (;;)
    {
      while (*path == '/' || (path[0] == '.' && (path[1] == '/' || path[1] == '\0')))
        path++;
      while (*dir == '/' || (dir[0] == '.' && (dir[1] == '/' || dir[1] == '\0')))
        dir++;
      size_t lp = strcspn (path, "/"), ld = strcspn (dir, "/");
      if (ld == 0)
        return lp == 0 ? MOUNT_SAME : MOUNT_UNDER; /* dir ended */
      if (lp != ld || strncmp (path, dir, lp) != 0)
        return MOUNT_OTHER;
      path += lp;
      dir += ld;
    }
}

static bool
same_mount_path (const char *a, const char *b)
{
  return mount_path_rel (a, b) == MOUNT_SAME;
}

/* The next mount object of spec, from index *i on, whose destination is
 * dest (same_mount_path); *i is left just past it. NULL when there is none. */
static yajl_val
next_mount (yajl_val spec, const char *dest, size_t *i)
{
  yajl_val mounts = json_get_array (spec, "mounts");
  while (mounts && *i < mounts->u.array.len)
    {
      yajl_val m = mounts->u.array.values[(*i)++];
      const char *d = json_get_string (m, "destination");
      if (d && same_mount_path (d, dest))
        return m;
    }
  return NULL;
}

const char *
spec_mount_source (yajl_val spec, const char *dest)
{
  size_t i = 0;
  return json_get_string (next_mount (spec, dest, &i), "source");
}

/* Points the bind mounts at dest (Docker's /etc/resolv.conf, /etc/hosts) at
 * source; a container without such a mount keeps its image's file. */
static void
set_mount_source (yajl_val spec, const char *dest, const char *source)
{
  yajl_val m;
  for (size_t i = 0; source && (m = next_mount (spec, dest, &i));)
    json_object_set (m, "source", json_new_string (source));
}

#define SHM_DEFAULT_SIZE (64ULL << 20)

unsigned long long
spec_shm_size (yajl_val spec)
{
  size_t i = 0;
  yajl_val m = next_mount (spec, "/dev/shm", &i);
  if (m == NULL)
    return 0;
  yajl_val opts = json_get_array (m, "options");
  for (size_t j = 0; opts && j < opts->u.array.len; j++)
    {
      const char *o
          = YAJL_IS_STRING (opts->u.array.values[j]) ? opts->u.array.values[j]->u.string : NULL;
      if (o == NULL || strncmp (o, "size=", 5) != 0)
        continue;
      char *end;
      errno = 0;
      unsigned long long n = strtoull (o + 5, &end, 10);
      unsigned shift = 0;
      switch (*end)
        {
        case 'k':
        case 'K':
          shift = 10;
          end++;
          break;
        case 'm':
        case 'M':
          shift = 20;
          end++;
          break;
        case 'g':
        case 'G':
          shift = 30;
          end++;
          break;
        default:
          break;
        }
      if (errno == 0 && end != o + 5 && *end == '\0' && n > 0 && n <= (~0ULL >> shift))
        return n << shift;
    }
  const char *type = json_get_string (m, "type");
  const char *src = json_get_string (m, "source");
  struct statfs sf;
  if (type && strcmp (type, "bind") == 0 && src && src[0] == '/' && statfs (src, &sf) == 0
      && sf.f_blocks > 0)
    return (unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize;
  return SHM_DEFAULT_SIZE;
}

/* Replaces the member's own /dev/shm (Docker's `shm` tmpfs, or its bind mount
 * of one) by a bind mount of the pod's, in place: /dev comes first. */
static void
set_pod_shm (yajl_val spec, const char *source)
{
  yajl_val m;
  for (size_t i = 0; (m = next_mount (spec, "/dev/shm", &i));)
    {
      json_object_set (m, "type", json_new_string ("bind"));
      json_object_set (m, "source", json_new_string (source));
      yajl_val opts = json_new_array ();
      static const char *const o[] = { "rbind", "rprivate", "rw", "nosuid", "nodev", "noexec" };
      for (size_t j = 0; j < sizeof (o) / sizeof (o[0]); j++)
        json_array_append (opts, json_new_string (o[j]));
      json_object_set (m, "options", opts);
    }
}

static int
add_volume_mounts (yajl_val spec, const struct join_plan *plan, struct podshim_error **err)
{
  if (plan->n_volumes == 0)
    return 0;
  yajl_val mounts = json_object_ensure (spec, "mounts", yajl_t_array);
  if (mounts == NULL)
    return podshim_error_set (err, 0, "invalid config.json: `mounts` is not an array");
  for (size_t v = 0; v < plan->n_volumes; v++)
    {
      for (size_t i = 0; i < mounts->u.array.len; i++)
        {
          const char *d = json_get_string (mounts->u.array.values[i], "destination");
          if (d && same_mount_path (d, plan->volumes[v].destination))
            return podshim_error_set (err, 0,
                                      "pod volume `%s` conflicts with a mount of the container at"
                                      " the same path",
                                      plan->volumes[v].destination);
          /* A volume over /etc would hide Docker's /etc/hosts, /etc/resolv.conf... */
          if (d && mount_path_rel (d, plan->volumes[v].destination) == MOUNT_UNDER)
            return podshim_error_set (err, 0,
                                      "pod volume `%s` is refused: it would hide the container's"
                                      " mount at `%.256s`",
                                      plan->volumes[v].destination, d);
        }
      yajl_val m = json_new_object ();
      json_object_set (m, "destination", json_new_string (plan->volumes[v].destination));
      json_object_set (m, "type", json_new_string ("bind"));
      json_object_set (m, "source", json_new_string (plan->volumes[v].source));
      yajl_val opts = json_new_array ();
      json_array_append (opts, json_new_string ("rbind"));
      json_array_append (opts, json_new_string ("rw"));
      json_array_append (opts, json_new_string ("nosuid"));
      json_array_append (opts, json_new_string ("nodev"));
      json_object_set (m, "options", opts);
      json_array_append (mounts, m);
    }
  return 0;
}

int
spec_join_pod (yajl_val spec, const struct join_plan *plan, size_t *ret_dropped_hooks,
               struct podshim_error **err)
{
  if (spec == NULL || spec->type != yajl_t_object)
    return podshim_error_set (err, 0, "invalid config.json: not a JSON object");
  yajl_val lx = json_object_ensure (spec, "linux", yajl_t_object);
  if (lx == NULL)
    return podshim_error_set (err, 0, "invalid config.json: `linux` is not an object");
  yajl_val hooks = json_get (spec, "hooks");
  if (hooks && hooks->type != yajl_t_object)
    return podshim_error_set (err, 0, "invalid config.json: `hooks` is not an object");
  yajl_val sysctl = json_get (lx, "sysctl");
  if (sysctl && sysctl->type != yajl_t_object)
    return podshim_error_set (err, 0, "invalid config.json: `linux.sysctl` is not an object");

  yajl_val nss = json_get (lx, "namespaces");
  bool has_user = false;
  for (size_t i = 0; nss && nss->type == yajl_t_array && i < nss->u.array.len; i++)
    {
      const char *t = json_get_string (nss->u.array.values[i], "type");
      has_user |= t && strcmp (t, "user") == 0;
    }
  if (has_user && plan->userns_path == NULL)
    return podshim_error_set (err, 0,
                              "a pod member cannot have its own user namespace in a pod made"
                              " without one: the pod's namespaces belong to the host's user"
                              " namespace");
  if (has_user && set_namespace (lx, "user", "user", plan->userns_path, false, err) < 0)
    return -1;
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    {
      if (!(plan->share & bit))
        continue;
      const char *path = plan->ns_path[pod_ns_index (bit)];
      if (path == NULL)
        return podshim_error_set (err, 0, "internal error: no path for namespace %s",
                                  pod_ns_name (bit));
      if (bit == POD_NS_NET && plan->adopt_network)
        {
          if (spec_network_path (spec) == NULL)
            return podshim_error_set (err, 0,
                                      "internal error: the pod adopts a network namespace the"
                                      " container does not name");
          continue;
        }
      bool replace_own = bit == POD_NS_NET && plan->docker_host_network;
      if (set_namespace (lx, pod_ns_oci_type (bit), pod_ns_name (bit), path, replace_own, err) < 0)
        return -1;
    }
  if (plan->share & POD_NS_UTS)
    {
      json_object_remove (spec, "hostname");
      json_object_remove (spec, "domainname");
    }
  drop_sysctls (lx, plan->share);
  size_t dropped = 0;
  if ((plan->share & POD_NS_NET) && !plan->keep_network_hook)
    dropped = drop_network_hooks (spec);
  if (plan->share & POD_NS_NET)
    {
      set_mount_source (spec, "/etc/resolv.conf", plan->resolv_conf);
      set_mount_source (spec, "/etc/hosts", plan->hosts);
    }
  if ((plan->share & POD_NS_IPC) && plan->shm)
    set_pod_shm (spec, plan->shm);
  if (ret_dropped_hooks)
    *ret_dropped_hooks = dropped;
  return add_volume_mounts (spec, plan, err);
}

int
spec_userns (yajl_val spec, struct pod_userns *ret, struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  yajl_val lx = json_get_object (spec, "linux");
  yajl_val nss = json_get_array (lx, "namespaces");
  bool found = false;
  for (size_t i = 0; nss && i < nss->u.array.len; i++)
    {
      yajl_val ns = nss->u.array.values[i];
      const char *t = json_get_string (ns, "type");
      if (t == NULL || strcmp (t, "user") != 0)
        continue;
      if (found)
        return podshim_error_set (err, 0, "invalid config.json: namespace `user` is listed twice");
      found = true;
      yajl_val own = json_get (ns, "path");
      if (own
          && !(own->type == yajl_t_string
               && (own->u.string[0] == '\0' || is_proc_fd_path (own->u.string))))
        return podshim_error_set (err, 0,
                                  "the container already joins its user namespace at `%.200s`;"
                                  " a pod member joins its pod's",
                                  own->type == yajl_t_string ? own->u.string : "?");
    }
  if (idmap_from_json (json_get (lx, "uidMappings"), "linux.uidMappings", &ret->uid, err) < 0
      || idmap_from_json (json_get (lx, "gidMappings"), "linux.gidMappings", &ret->gid, err) < 0)
    return podshim_error_wrap (err, "invalid config.json");
  if (!found)
    {
      if (ret->uid.n || ret->gid.n)
        return podshim_error_set (err, 0,
                                  "invalid config.json: uid/gid mappings without a user"
                                  " namespace");
      return 0;
    }
  if (idmap_check (&ret->uid, "linux.uidMappings", err) < 0
      || idmap_check (&ret->gid, "linux.gidMappings", err) < 0)
    return podshim_error_wrap (err, "a pod member's user namespace");
  ret->on = true;
  return 1;
}

#include "config.h"
#include "volumes.h"
#include "fault.h"
#include "fsutil.h"
#include "statedir.h"
#include "json.h"
#include "log.h"
#include "podshm.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Removes the pod's volumes: the data directory recorded in the pod directory's
 * `data` file (written before it is made), its sized volumes unmounted first. */
int
pod_volumes_remove (int poddir, struct podshim_error **err)
{
  if (rm_rf_at (poddir, STATEDIR_POD_VOLUMES, err) < 0)
    return -1;
  cleanup_free char *path = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (statedir_data_read (poddir, &path, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0;
      *err = steal_pointer (&e);
      return -1;
    }
  char *slash = strrchr (path, '/');
  if (path[0] != '/' || slash == NULL || slash[1] == '\0' || strcmp (slash + 1, "..") == 0
      || strcmp (slash + 1, ".") == 0)
    return podshim_error_set (err, 0, "invalid pod data directory `%.200s`", path);
  *slash = '\0';
  cleanup_close int pfd = open (path[0] ? path : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot open `%s`", path);
  if (pfd >= 0)
    {
      cleanup_close int dfd
          = openat (pfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int dup_fd = dfd >= 0 ? dup (dfd) : -1;
      cleanup_dir DIR *d = dup_fd >= 0 ? fdopendir (dup_fd) : NULL;
      struct dirent *de;
      while (d && (de = readdir (d)) != NULL)
        {
          if (de->d_name[0] == '.')
            continue;
          cleanup_free char *v = NULL;
          if (asprintf (&v, "%s/%s/%s", path, slash + 1, de->d_name) < 0)
            abort ();
          /* A sized volume is a tmpfs; EINVAL: not (or no longer) a mount. */
          for (int i = 0; i < 16 && umount2 (v, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
            ;
        }
      if (rm_rf_at (pfd, slash + 1, err) < 0)
        return -1;
    }
  if (unlinkat (poddir, STATEDIR_POD_DATA, 0) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove the pod's `data` record");
  return 0;
}

/* After a failed create: removes the pod volumes that create made (dirnames
 * in made) unless a member still names one. Members record the volumes they
 * use ("volumes" in pod.json); with one that does not (an older podshim's),
 * nothing is removed. */
void
drop_new_volumes (const struct shim_ctx *ctx, const char *key, const struct pod_state *pod,
                  char **made)
{
  if (made == NULL || made[0] == NULL)
    return;
  for (size_t i = 0; i < pod->n_members; i++)
    if (json_get_array (pod->members[i].raw, "volumes") == NULL)
      return;
  cleanup_free char *data = pod_data_path (ctx, key);
  cleanup_close int vfd = open (data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (vfd < 0)
    return;
  for (char **dn = made; *dn; dn++)
    {
      bool used = false;
      for (size_t i = 0; !used && i < pod->n_members; i++)
        {
          yajl_val vols = json_get_array (pod->members[i].raw, "volumes");
          for (size_t j = 0; !used && j < vols->u.array.len; j++)
            {
              yajl_val v = vols->u.array.values[j];
              used = v->type == yajl_t_string && strcmp (v->u.string, *dn) == 0;
            }
        }
      if (used)
        continue;
      /* A sized volume is a tmpfs: unmounted first. */
      cleanup_free char *v = NULL;
      if (asprintf (&v, "%s/%s", data, *dn) < 0)
        abort ();
      for (int i = 0; i < 16 && umount2 (v, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
        ;
      cleanup_error struct podshim_error *e = NULL;
      rm_rf_at (vfd, *dn, &e);
    }
}

/* Sets up volume `path` as dn in the pod's data directory vfd: a plain 0777
 * directory, or a tmpfs of size bytes (nosuid, nodev). Every member must name
 * a volume with the same size: a mismatch is an error. */
static int
volume_setup (int vfd, const char *path, const char *dn, unsigned long long size,
              const struct pod_userns *owner, struct podshim_error **err)
{
  unsigned uid = 0, gid = 0;
  bool remapped = pod_userns_root (owner, &uid, &gid);
  bool existed = faccessat (vfd, dn, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
  cleanup_close int d = ensure_dir_at (vfd, dn, 0777, err);
  if (d < 0)
    return -1;
  struct stat pst, st;
  if (fstat (vfd, &pst) < 0 || fstat (d, &st) < 0)
    return podshim_error_set (err, errno, "cannot set up pod volume `%s`", path);
  if (st.st_dev != pst.st_dev)
    {
      struct statfs sf;
      if (fstatfs (d, &sf) < 0)
        return podshim_error_set (err, errno, "cannot set up pod volume `%s`", path);
      unsigned long long have = (unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize;
      if (size == 0)
        return podshim_error_set (err, 0,
                                  "pod volume `%s` has a size of %llu bytes in this pod: every"
                                  " member must name it `%s:%lluk`",
                                  path, have, path, have >> 10);
      if (have < size || have - size >= (unsigned long long)sf.f_bsize)
        return podshim_error_set (err, 0,
                                  "pod volume `%s` has a size of %llu bytes in this pod, not %llu:"
                                  " every member must name it `%s:%lluk`",
                                  path, have, size, path, have >> 10);
      return 0;
    }
  if (size == 0)
    {
      /* World-writable like an emptyDir: members may run as any user. A
         remapped pod's root owns it (root's inside, not nobody's). */
      if (fchmod (d, 0777) < 0 || (remapped && !existed && fchown (d, uid, gid) < 0))
        return podshim_error_set (err, errno, "cannot set up pod volume `%s`", path);
      return 0;
    }
  if (existed)
    return podshim_error_set (err, 0,
                              "pod volume `%s` exists in this pod without a size: every member must"
                              " name it the same way",
                              path);
  char target[64], opts[96];
  snprintf (target, sizeof (target), "/proc/self/fd/%d", d);
  snprintf (opts, sizeof (opts), "size=%llu,mode=0777,uid=%u,gid=%u", size, uid, gid);
  if (mount ("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
    {
      int e = errno;
      unlinkat (vfd, dn, AT_REMOVEDIR);
      return podshim_error_set (err, e, "cannot mount a tmpfs of %llu bytes for pod volume `%s`",
                                size, path);
    }
  return 0;
}

/* The pod's /dev/shm, `shm` in its data directory vfd (volumes' names start
 * with `-`): a tmpfs (nosuid, nodev, noexec, 1777) of the size of the first
 * IPC-sharing member's own /dev/shm; later members get it whatever theirs
 * says. Unmounted with the volumes at teardown. */
static int
shm_setup (int vfd, unsigned long long size, const struct pod_userns *owner,
           struct podshim_error **err)
{
  unsigned uid = 0, gid = 0;
  (void)pod_userns_root (owner, &uid, &gid);
  cleanup_close int d = ensure_dir_at (vfd, "shm", 01777, err);
  if (d < 0)
    return -1;
  struct stat pst, st;
  if (fstat (vfd, &pst) < 0 || fstat (d, &st) < 0)
    return podshim_error_set (err, errno, "cannot set up the pod's /dev/shm");
  if (st.st_dev != pst.st_dev)
    return 0;
  char target[64], opts[96];
  snprintf (target, sizeof (target), "/proc/self/fd/%d", d);
  snprintf (opts, sizeof (opts), "size=%llu,mode=1777,uid=%u,gid=%u", size, uid, gid);
  if (mount ("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
    {
      int e = errno;
      unlinkat (vfd, "shm", AT_REMOVEDIR);
      return podshim_error_set (err, e, "cannot mount a tmpfs of %llu bytes for the pod's /dev/shm",
                                size);
    }
  return fault_point ("after-shm", err);
}

/* Creates the pod's data directory (recorded first in the pod directory, so
 * that teardown finds it whatever happens next), its volumes and, with
 * shm_size, its /dev/shm. */
int
volumes_setup (const struct shim_ctx *ctx, int poddir, const char *key,
               const struct pod_request *req, const struct pod_userns *owner,
               unsigned long long shm_size, char **made, yajl_val used, struct podshim_error **err)
{
  cleanup_free char *dpath = pod_data_path (ctx, key);
  cleanup_free char *rec = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (statedir_data_read (poddir, &rec, &e) == 0)
    {
      if (strcmp (rec, dpath) != 0)
        return podshim_error_set (err, 0,
                                  "the pod keeps its volumes in `%.256s`, not in `%s`: its"
                                  " members must use one --podshim-data",
                                  rec, dpath);
    }
  else if (!podshim_error_is (e, ENOENT))
    {
      *err = steal_pointer (&e);
      return -1;
    }
  else if (write_file_atomic_at (poddir, STATEDIR_POD_DATA, dpath, strlen (dpath), 0600, err) < 0)
    return -1;
  cleanup_close int dfd = ensure_dir_path (ctx->data_dir, 0700, err);
  if (dfd < 0)
    return podshim_error_wrap (err, "data directory");
  struct stat st;
  if (fstat (dfd, &st) < 0)
    return podshim_error_set (err, errno, "cannot stat data directory `%s`", ctx->data_dir);
  if (st.st_uid != geteuid () || (st.st_mode & 022))
    return podshim_error_set (err, 0,
                              "data directory `%s` must be owned by uid %u and writable by no one"
                              " else (it is uid %u, mode %03o)",
                              ctx->data_dir, (unsigned)geteuid (), (unsigned)st.st_uid,
                              (unsigned)(st.st_mode & 07777));
  cleanup_close int rfd = ensure_dir_at (dfd, ctx->rootkey, 0700, err);
  if (rfd < 0)
    return -1;
  cleanup_close int vfd = ensure_dir_at (rfd, key, 0700, err);
  if (vfd < 0)
    return -1;
  size_t nm = 0;
  for (size_t i = 0; i < req->n_volumes; i++)
    {
      cleanup_free char *dn = pod_volume_dirname (req->volumes[i]);
      json_array_append (used, json_new_string (dn));
      if (faccessat (vfd, dn, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
        {
          /* Ours to remove if this create fails. */
          made[nm] = strdup (dn);
          if (made[nm++] == NULL)
            abort ();
        }
      if (volume_setup (vfd, req->volumes[i], dn, req->volume_sizes ? req->volume_sizes[i] : 0,
                        owner, err)
          < 0)
        return -1;
    }
  if (shm_size && shm_setup (vfd, shm_size, owner, err) < 0)
    return -1;
  return 0;
}

static int
shm_setup_holder (const struct shim_ctx *ctx, int poddir, const char *key,
                  const struct pod_state *pod, unsigned long long size,
                  struct sandbox_proc *pending, int *ret_fd, struct podshim_error **err)
{
  /* A pod made by an older podshim: its /dev/shm is a tmpfs on the host. */
  cleanup_free char *data = pod_data_path (ctx, key);
  cleanup_free char *old = NULL;
  if (asprintf (&old, "%s/shm", data) < 0)
    abort ();
  struct stat st, pst;
  if (stat (old, &st) == 0 && stat (data, &pst) == 0 && st.st_dev != pst.st_dev)
    return 1;
  cleanup_close int stage = ensure_dir_at (poddir, "shm", 0700, err);
  if (stage < 0)
    return -1;
  cleanup_error struct podshim_error *e = NULL;
  int fd;
  if (pending && pending->shm_fd >= 0)
    /* A holder this create started, waiting for it: a new one, which the
       holder gets once it is staged (holder_take_shm). */
    fd = podshm_new (size, &pod->userns, &e);
  else
    {
      /* A holder this create started without waiting for a /dev/shm, or
         one another create may still be starting: isolated (in its own
         mount namespace) before we mount anything there. */
      if (pending && pending->report_fd >= 0)
        {
          cleanup_free char *pause = sandbox_pause_path ();
          if (sandbox_ready (pending, pause, err) < 0)
            return -1;
        }
      else
        {
          int r = sandbox_wait_isolated (pod->holder_pid, pod->holder_start, err);
          if (r == -ESRCH)
            return podshim_error_set (err, ESRCH, "its holder died");
          if (r < 0)
            return -1;
        }
      fd = podshm_open (pod->holder_pid, pod->holder_start, pod, size, &e);
    }
  if (fd == -ENOTSUP)
    {
      podshim_log (PODSHIM_LOG_DEBUG,
                   "podshim: pod `%s`: its holder has no /shm (an older podshim's): /dev/shm on"
                   " the host",
                   key);
      return 1;
    }
  if (fd < 0 && podshim_error_is (e, ENOSYS))
    {
      /* No mount API (fsopen, open_tree, move_mount: kernel < 5.2, or
         valgrind 3.19): a tmpfs on the host, as an older podshim made. */
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: pod `%s`: %s: /dev/shm on the host", key, e->msg);
      return 1;
    }
  if (fd < 0)
    {
      *err = steal_pointer (&e);
      return -1;
    }
  *ret_fd = fd;
  return 0;
}

int
pod_shm_setup (const struct shim_ctx *ctx, int poddir, const char *key, const struct pod_state *pod,
               unsigned long long size, struct sandbox_proc *pending, int *ret_fd,
               struct podshim_error **err)
{
  *ret_fd = -1;
  int r = shm_setup_holder (ctx, poddir, key, pod, size, pending, ret_fd, err);
  /* A holder waiting for a /dev/shm it will not get goes on now. */
  if (*ret_fd < 0 && pending)
    cleanup_closep (&pending->shm_fd);
  return r;
}

char *
pod_shm_stage_path (const struct shim_ctx *ctx, const char *key)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/pods/%s/shm", ctx->state_dir, ctx->rootkey, key) < 0)
    abort ();
  return p;
}

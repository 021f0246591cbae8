#include "config.h"
#include "podshm.h"
#include "cleanup.h"
#include "fault.h"
#include "log.h"
#include "procutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static void
close_reset (int *fd)
{
  cleanup_closep (fd);
  *fd = -1;
}

static int
home_save (struct podshm_home *h, struct podshim_error **err)
{
  h->ns = open ("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  h->cwd = h->ns >= 0 ? open (".", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  if (h->ns < 0 || h->cwd < 0)
    {
      int e = errno;
      close_reset (&h->ns);
      return podshim_error_set (err, e, "cannot open our own mount namespace");
    }
  return 0;
}

/* In the holder's namespace: 1 when /shm is a mount (not the root's empty
 * directory), 0 when not, -ENOTSUP when there is no /shm. */
static int
holder_has_shm (struct podshim_error **err)
{
  struct stat root, st;
  if (stat ("/", &root) < 0)
    return podshim_error_set (err, errno, "cannot stat the holder's root");
  if (lstat ("/shm", &st) < 0)
    {
      if (errno == ENOENT)
        return -ENOTSUP;
      return podshim_error_set (err, errno, "cannot stat the holder's /shm");
    }
  if (!S_ISDIR (st.st_mode))
    return -ENOTSUP;
  return st.st_dev != root.st_dev;
}

/* In a member's mount namespace: a clone of its /dev/shm if that is a
 * tmpfs mounted nosuid, nodev and noexec (else -1 without err), resolved
 * without following symlinks (the member's root is not ours to trust). */
static int
clone_member_shm (void)
{
  cleanup_close int root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return -1;
  struct open_how how
      = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  cleanup_close int d = (int)syscall (SYS_openat2, root, "dev/shm", &how, sizeof (how));
  if (d < 0)
    return -1;
  struct statfs sf;
  if (fstatfs (d, &sf) < 0 || sf.f_type != TMPFS_MAGIC
      || (sf.f_flags & (ST_NOSUID | ST_NODEV | ST_NOEXEC)) != (ST_NOSUID | ST_NODEV | ST_NOEXEC))
    return -1;
  return open_tree (d, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
}

int
podshm_new (unsigned long long size, const struct pod_userns *owner, struct podshim_error **err)
{
  unsigned uid, gid;
  char us[16] = "0", gs[16] = "0";
  if (pod_userns_root (owner, &uid, &gid))
    {
      snprintf (us, sizeof (us), "%u", uid);
      snprintf (gs, sizeof (gs), "%u", gid);
    }
  cleanup_close int fs = fsopen ("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return podshim_error_set (err, errno, "cannot make a tmpfs for the pod's /dev/shm (fsopen)");
  char sz[32];
  snprintf (sz, sizeof (sz), "%llu", size);
  if (fsconfig (fs, FSCONFIG_SET_STRING, "source", "shm", 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "size", sz, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "mode", "1777", 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "uid", us, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "gid", gs, 0) < 0
      || fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return podshim_error_set (err, errno,
                              "cannot make a tmpfs of %llu bytes for the pod's /dev/shm", size);
  int m = fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (m < 0)
    return podshim_error_set (err, errno, "cannot mount a tmpfs for the pod's /dev/shm (fsmount)");
  return m;
}

/* The pod's /dev/shm as a live member that shares IPC has it: entered
 * through its mount namespace. -1 without err: none found. */
static int
recover_shm (const struct pod_state *pod, struct podshm_home *home)
{
  for (size_t i = 0; i < pod->n_members; i++)
    {
      const struct pod_member *m = &pod->members[i];
      if (m->creating || m->pid <= 0 || !(m->share & POD_NS_IPC))
        continue;
      cleanup_error struct podshim_error *e = NULL;
      cleanup_close int ns = proc_open_ns (m->pid, m->start, "mnt", &e);
      if (ns < 0 || setns (ns, CLONE_NEWNS) < 0)
        continue;
      int fd = clone_member_shm ();
      podshm_leave (home);
      if (home_save (home, &e) < 0)
        abort ();
      if (fd >= 0)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: pod `%s`: /dev/shm recovered from `%s`",
                       pod->name, m->id);
          return fd;
        }
    }
  return -1;
}

int
podshm_open (pid_t holder, unsigned long long start, const struct pod_state *pod,
             unsigned long long size, struct podshim_error **err)
{
  cleanup_close int hns = proc_open_ns (holder, start, "mnt", err);
  if (hns == -ESRCH)
    return podshim_error_set (err, ESRCH, "pod `%s`: its holder died", pod->name);
  if (hns < 0)
    return -1;
  struct podshm_home home;
  if (home_save (&home, err) < 0)
    return -1;
  int fd = -1;
  if (setns (hns, CLONE_NEWNS) < 0)
    {
      int e = errno;
      podshm_leave (&home);
      return podshim_error_set (err, e, "cannot enter the mount namespace of pod `%s`'s holder",
                                pod->name);
    }
  int r = holder_has_shm (err);
  if (r == 0)
    {
      /* None yet: the pod's, from a member that outlived its holder, or a
         new one. Both are mounted at the holder's /shm. */
      podshm_leave (&home);
      if (home_save (&home, err) < 0)
        return -1;
      cleanup_close int src = recover_shm (pod, &home);
      if (src < 0)
        src = podshm_new (size, &pod->userns, err);
      if (src < 0)
        {
          podshm_leave (&home);
          return -1;
        }
      if (setns (hns, CLONE_NEWNS) < 0)
        r = podshim_error_set (err, errno, "cannot enter the mount namespace of pod `%s`'s holder",
                               pod->name);
      else if (move_mount (src, "", AT_FDCWD, "/shm", MOVE_MOUNT_F_EMPTY_PATH) < 0)
        r = podshim_error_set (err, errno, "cannot mount pod `%s`'s /dev/shm in its holder",
                               pod->name);
      else
        r = 1;
    }
  if (r == 1)
    {
      fd = open_tree (AT_FDCWD, "/shm", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (fd < 0)
        r = podshim_error_set (err, errno, "cannot clone pod `%s`'s /dev/shm", pod->name);
    }
  podshm_leave (&home);
  if (r < 0)
    return r;
  return fd;
}

int
podshm_clone (int mnt_fd, struct podshim_error **err)
{
  int fd = open_tree (mnt_fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot clone the pod's /dev/shm");
  return fd;
}

/* The mount that holds path: the topmost directory up from it on the same
 * mount. */
static int
mount_point_of (const char *path, char **ret, struct podshim_error **err)
{
  cleanup_free char *p = strdup (path);
  if (p == NULL)
    abort ();
  struct statx sx;
  if (statx (AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0
      || !(sx.stx_mask & STATX_MNT_ID))
    return podshim_error_set (err, errno ? errno : ENOTSUP, "cannot find the mount of `%s`", path);
  uint64_t id = sx.stx_mnt_id;
  for (;;)
    {
      char *slash = strrchr (p, '/');
      if (slash == NULL || slash == p)
        {
          struct statx rx;
          if (statx (AT_FDCWD, "/", 0, STATX_MNT_ID, &rx) == 0 && rx.stx_mnt_id == id)
            p[1] = '\0', p[0] = '/';
          break;
        }
      *slash = '\0';
      struct statx px;
      if (statx (AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &px) < 0 || px.stx_mnt_id != id)
        {
          *slash = '/';
          break;
        }
    }
  *ret = steal_pointer (&p);
  return 0;
}

int
podshm_enter (int mnt_fd, const char *stage, struct podshm_home *home, struct podshim_error **err)
{
  if (home_save (home, err) < 0)
    return -1;
  if (unshare (CLONE_NEWNS) < 0)
    {
      int e = errno;
      close_reset (&home->ns);
      close_reset (&home->cwd);
      return podshim_error_set (err, e, "cannot make a mount namespace for the pod's /dev/shm");
    }
  /* Our copy of the mount under the staging directory sends no mount event
     to the host's (it may be shared): it only receives them. */
  cleanup_free char *mp = NULL;
  int r = mount_point_of (stage, &mp, err);
  if (r == 0 && mount (NULL, mp, NULL, MS_SLAVE, NULL) < 0)
    r = podshim_error_set (err, errno, "cannot make `%s` a slave mount", mp);
  if (r == 0 && move_mount (mnt_fd, "", AT_FDCWD, stage, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    r = podshim_error_set (err, errno, "cannot mount the pod's /dev/shm at `%s`", stage);
  if (r == 0)
    r = fault_point ("podshm-staged", err);
  if (r < 0)
    {
      podshm_leave (home);
      return -1;
    }
  return 0;
}

/* Back home; podshim must not go on in another namespace. */
void
podshm_leave (struct podshm_home *h)
{
  if (h->ns < 0)
    return;
  if (setns (h->ns, CLONE_NEWNS) < 0 || fchdir (h->cwd) < 0)
    {
      podshim_log (PODSHIM_LOG_ERROR, "podshim: cannot return to our own mount namespace: %s",
                   strerror (errno));
      abort ();
    }
  close_reset (&h->ns);
  close_reset (&h->cwd);
}

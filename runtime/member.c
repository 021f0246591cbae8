#include "config.h"
#include "member.h"
#include "delegate.h"
#include "fsutil.h"
#include "log.h"
#include "podcfg.h"
#include "procutil.h"
#include "route.h"
#include "sandbox.h"
#include "spec.h"
#include "podshm.h"
#include "volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONFIG_MAX (64 * 1024 * 1024)

#if PODSHIM_FAULT_INJECTION
/* Test builds: PODSHIM_FAULT=<point> kills podshim there, as a crash would;
 * PODSHIM_FAULT=fail:<point> makes the step fail there (an error, rolled
 * back). */
static int
fault_point (const char *name, struct podshim_error **err)
{
  const char *f = getenv ("PODSHIM_FAULT");
  if (f && strcmp (f, name) == 0)
    raise (SIGKILL);
  if (f && strncmp (f, "fail:", 5) == 0 && strcmp (f + 5, name) == 0)
    return podshim_error_set (err, EIO, "fault injected at %s", name);
  return 0;
}
#else
static inline int
fault_point (const char *name, struct podshim_error **err)
{
  (void) name;
  (void) err;
  return 0;
}
#endif

void
shim_rootkey (const char *root, char out[17])
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *) root; *p; p++)
    {
      h ^= *p;
      h *= 0x100000001b3ULL;
    }
  snprintf (out, 17, "%016llx", (unsigned long long) h);
}

int
shim_ctx_init (struct shim_ctx *ctx, struct runc_cmdline *cmd, struct podshim_error **err)
{
  memset (ctx, 0, sizeof (*ctx));
  ctx->cmd = cmd;
  const char *s = cmd->shim_state;
  if (s == NULL)
    s = getenv ("PODSHIM_STATE");
  if (s == NULL || *s == '\0')
    s = "/run/podshim";
  /* Checked when opened: a non-member never needs it. */
  ctx->state_dir = strdup (s);
  if (ctx->state_dir == NULL)
    abort ();
  const char *d = cmd->shim_data;
  if (d == NULL)
    d = getenv ("PODSHIM_DATA");
  if (d == NULL || *d == '\0')
    d = "/var/lib/podshim";
  if (d[0] != '/')
    return podshim_error_set (err, 0, "data directory `%s` is not an absolute path", d);
  ctx->data_dir = strdup (d);
  if (ctx->data_dir == NULL)
    abort ();
  /* One spelling: it is recorded and compared (`/d/` is `/d`). */
  for (size_t n = strlen (ctx->data_dir); n > 1 && ctx->data_dir[n - 1] == '/'; n--)
    ctx->data_dir[n - 1] = '\0';
  ctx->root = delegate_root (cmd);
  shim_rootkey (ctx->root, ctx->rootkey);
  return 0;
}

void
shim_ctx_free (struct shim_ctx *ctx)
{
  free (ctx->state_dir);
  free (ctx->data_dir);
  free (ctx->root);
}

int
shim_max_pods (const struct shim_ctx *ctx, long *ret, struct podshim_error **err)
{
  const char *v = ctx->cmd->shim_max_pods;
  const char *from = "--podshim-max-pods";
  if (v == NULL && (v = getenv ("PODSHIM_MAX_PODS")) != NULL && *v != '\0')
    from = "PODSHIM_MAX_PODS";
  if (v == NULL || *v == '\0')
    {
      *ret = POD_MAX_PODS_DEFAULT;
      return 0;
    }
  char *end;
  errno = 0;
  long n = strtol (v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 1000000)
    return podshim_error_set (err, 0, "invalid %s `%.32s`: a number from 1 to 1000000", from, v);
  *ret = n;
  return 0;
}

int
shim_open_root_state (const char *state_dir, const char *rootkey, const char *root, bool create,
                      int *ret_statefd, struct podshim_error **err)
{
  cleanup_close int sfd = open_private_dir_path (state_dir, create, err);
  if (sfd < 0)
    return sfd;
  /* Shared: `pod gc` removes empty root directories only while no one
     holds the state dir (LOCK_EX|LOCK_NB). */
  if (ret_statefd)
    {
      int r;
      while ((r = flock (sfd, LOCK_SH)) < 0 && errno == EINTR)
        ;
      if (r < 0)
        return podshim_error_set (err, errno, "cannot lock `%s`", state_dir);
    }
  int rfd;
  if (!create)
    rfd = open_dir_at (sfd, rootkey, err);
  else
    rfd = ensure_dir_at (sfd, rootkey, 0700, err);
  if (rfd < 0)
    return rfd;
  cleanup_close int rootfd = rfd;
  if (create && faccessat (rootfd, "root", F_OK, AT_SYMLINK_NOFOLLOW) < 0
      && write_file_atomic_at (rootfd, "root", root, strlen (root), 0600, err) < 0)
    return -1;
  if (ret_statefd)
    *ret_statefd = steal_fd (&sfd);
  return steal_fd (&rootfd);
}

/* Is the delegate still holding container id? Both runc and crun keep <root>/<id>/. */
static bool
delegate_knows (const char *root, const char *id)
{
  cleanup_free char *p = NULL;
  if (asprintf (&p, "%s/%s", root, id) < 0)
    return true;
  struct stat st;
  return lstat (p, &st) == 0 && S_ISDIR (st.st_mode);
}

static bool
member_alive (const char *root, const struct pod_member *m)
{
  if (m->pid > 0 && proc_is_alive (m->pid, m->start))
    return true;
  /* A creating member records its podshim; if that died (after the delegate's
     create, say), the container may still exist: ask the delegate's state. */
  if (m->pid <= 0 || m->creating)
    return delegate_knows (root, m->id);
  return false;
}

/* Removes containers/<id> if it names pod. */
static void
unindex (int rootfd, const char *id, const char *pod)
{
  cleanup_close int cfd = open_dir_at (rootfd, "containers", NULL);
  if (cfd < 0)
    return;
  cleanup_free char *buf = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (cfd, id, O_NOFOLLOW, 4096, &buf, NULL, &e) == 0 && strcmp (buf, pod) == 0)
    unlinkat (cfd, id, 0);
}

/* Index of net, ipc, uts in sandbox_start's join_fd. */
static const unsigned holder_ns[3] = { POD_NS_NET, POD_NS_IPC, POD_NS_UTS };

static void
close_fds (int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    cleanup_closep (&fds[i]);
}

/* Saves the pod with its new holder, which now holds what an older podshim
 * pinned: those pins go. */
static int
record_holder (int poddir, struct pod_state *pod, struct podshim_error **err)
{
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: pod `%s` has a new holder, PID %d", pod->name,
               (int) pod->holder_pid);
  for (size_t i = 0; i < 3; i++)
    {
      cleanup_error struct podshim_error *e = NULL;
      if ((pod->pinned & holder_ns[i]) && sandbox_unpin (poddir, holder_ns[i], &e) == 0)
        pod->pinned &= ~holder_ns[i];
    }
  return pod_state_save (poddir, pod, err);
}

/* Gives pod a live holder if it has none: a new podshim-pause in the
 * namespaces a live member still has (or an older podshim pinned), fresh
 * ones for the others. Saves the pod's state. With pending (a pod without
 * members), its "ready" is left to read there (sandbox_ready), so that it
 * isolates itself while the delegate works. */
static int
ensure_holder_locked (int poddir, struct pod_state *pod, struct sandbox_proc *pending,
                      struct podshim_error **err)
{
  if (pod->holder_pid > 0 && proc_is_alive (pod->holder_pid, pod->holder_start))
    return 0;
  pod->holder_pid = 0;
  pod->holder_start = 0;
  int fds[3] = { -1, -1, -1 };
  int r = 0;
  for (size_t i = 0; r == 0 && i < 3; i++)
    {
      if (pod->pinned & holder_ns[i])
        {
          char rel[32];
          snprintf (rel, sizeof (rel), "ns/%s", pod_ns_name (holder_ns[i]));
          fds[i] = openat (poddir, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
          struct statfs sf;
          if (fds[i] >= 0 && (fstatfs (fds[i], &sf) < 0 || sf.f_type != NSFS_MAGIC))
            cleanup_closep (&fds[i]);
          if (fds[i] >= 0)
            continue;
        }
      for (size_t m = 0; fds[i] < 0 && m < pod->n_members; m++)
        {
          const struct pod_member *pm = &pod->members[m];
          if (pm->creating || pm->pid <= 0 || !(pm->share & holder_ns[i]))
            continue;
          int fd = sandbox_open_ns (pm->pid, pm->start, holder_ns[i], err);
          if (fd == -ESRCH)
            continue;
          if (fd < 0)
            r = -1;
          fds[i] = fd;
        }
    }
  struct sandbox_proc sp = { .go_fd = -1, .report_fd = -1 };
  if (r == 0)
    {
      cleanup_free char *pause = sandbox_pause_path ();
      r = sandbox_start (fds, false, pod->name, pause, pending == NULL, &sp, err);
    }
  close_fds (fds, 3);
  if (r < 0)
    return -1;
  pod->holder_pid = sp.pid;
  pod->holder_start = sp.start;
  /* Until it is recorded, the holder dies with us (go closed); on an error,
     we stop it. */
  if (fault_point ("holder-started", err) < 0 || record_holder (poddir, pod, err) < 0)
    {
      sandbox_proc_close (&sp);
      sandbox_stop (pod->holder_pid, pod->holder_start);
      pod->holder_pid = 0;
      pod->holder_start = 0;
      return -1;
    }
  sandbox_release (&sp);
  if (pending)
    *pending = sp;
  else
    sandbox_proc_close (&sp);
  return fault_point ("holder-recorded", err);
}

/* Gives a pod a live pause (PID 1 of its PID namespace) in the holder's
 * namespaces if it has none. Saves the pod's state. */
static int
ensure_pause_locked (int poddir, struct pod_state *pod, struct podshim_error **err)
{
  if (pod->pause_pid > 0 && proc_is_alive (pod->pause_pid, pod->pause_start))
    return 0;
  pod->pause_pid = 0;
  pod->pause_start = 0;
  cleanup_error struct podshim_error *e = NULL;
  if ((pod->pinned & POD_NS_PID) && sandbox_unpin (poddir, POD_NS_PID, &e) == 0)
    pod->pinned &= ~POD_NS_PID;
  int fds[3] = { -1, -1, -1 };
  int r = 0;
  for (size_t i = 0; r == 0 && i < 3; i++)
    {
      fds[i] = sandbox_open_ns (pod->holder_pid, pod->holder_start, holder_ns[i], err);
      if (fds[i] == -ESRCH)
        r = podshim_error_set (err, ESRCH, "the holder of pod `%s` died", pod->name);
      else if (fds[i] < 0)
        r = -1;
    }
  /* Members see it as their PID 1: it is isolated before we go on. */
  struct sandbox_proc sp = { .go_fd = -1, .report_fd = -1 };
  if (r == 0)
    {
      cleanup_free char *pause = sandbox_pause_path ();
      r = sandbox_start (fds, true, pod->name, pause, true, &sp, err);
    }
  close_fds (fds, 3);
  if (r < 0)
    return -1;
  pod->pause_pid = sp.pid;
  pod->pause_start = sp.start;
  if (fault_point ("pause-started", err) < 0 || pod_state_save (poddir, pod, err) < 0)
    {
      sandbox_proc_close (&sp);
      sandbox_stop (pod->pause_pid, pod->pause_start);
      pod->pause_pid = 0;
      pod->pause_start = 0;
      return -1;
    }
  sandbox_release (&sp);
  sandbox_proc_close (&sp);
  return fault_point ("pause-recorded", err);
}

static int
pod_teardown_locked (int rootfd, int podsfd, int poddir, const struct pod_state *pod,
                     struct podshim_error **err)
{
  cleanup_free char *key = pod_key (pod->scope, pod->name);
  if (sandbox_destroy (poddir, pod, err) < 0)
    return -1;
  if (pod_volumes_remove (poddir, err) < 0)
    return -1;
  if (unlinkat (poddir, "pod.json", 0) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove the state of pod `%s`", key);
  if (rm_rf_at (podsfd, key, err) < 0)
    return -1;
  char lock[POD_KEY_MAX + 8];
  snprintf (lock, sizeof (lock), "%s.lock", key);
  /* Still held by us: waiters see it unlinked and start over. */
  cleanup_close int locksfd = open_dir_at (rootfd, "locks", NULL);
  if (locksfd >= 0)
    unlinkat (locksfd, lock, 0);
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: pod `%s` torn down", key);
  return 0;
}

int
pod_prune_locked (int rootfd, int podsfd, int poddir, const char *root, struct pod_state *pod,
                  bool dirty, bool *ret_gone, struct podshim_error **err)
{
  bool changed = dirty;
  cleanup_free char *key = pod_key (pod->scope, pod->name);
  for (size_t i = pod->n_members; i > 0; i--)
    {
      struct pod_member *m = &pod->members[i - 1];
      if (member_alive (root, m))
        continue;
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: pruning dead member `%s` of pod `%s`", m->id, key);
      unindex (rootfd, m->id, key);
      cleanup_free char *id = strdup (m->id);
      if (id == NULL)
        abort ();
      pod_state_remove (pod, id);
      changed = true;
    }
  if (pod->network_owner && pod_state_find (pod, pod->network_owner) == NULL)
    {
      free (pod->network_owner);
      pod->network_owner = NULL;
      changed = true;
    }
  if (pod->pause_pid > 0 && !proc_is_alive (pod->pause_pid, pod->pause_start))
    {
      pod->pause_pid = 0;
      pod->pause_start = 0;
      changed = true;
    }
  bool pid_shared = false;
  for (size_t i = 0; i < pod->n_members; i++)
    pid_shared |= (pod->members[i].share & POD_NS_PID) != 0;
  if (pod->pause_pid > 0 && pod->n_members > 0 && !pid_shared)
    {
      /* No member shares PIDs (any more): e.g. the one it was started for
         failed to join. */
      sandbox_stop (pod->pause_pid, pod->pause_start);
      pod->pause_pid = 0;
      pod->pause_start = 0;
      changed = true;
    }
  bool holder_dead = pod->holder_pid > 0 && !proc_is_alive (pod->holder_pid, pod->holder_start);
  *ret_gone = false;
  if (pod->n_members == 0)
    {
      if (pod_teardown_locked (rootfd, podsfd, poddir, pod, err) < 0)
        return -1;
      *ret_gone = true;
      return 0;
    }
  if (holder_dead)
    {
      /* Members still run in the pod's namespaces: a new holder takes them. */
      cleanup_error struct podshim_error *e = NULL;
      if (ensure_holder_locked (poddir, pod, NULL, &e) < 0)
        podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: cannot recover its holder: %s",
                     pod->name, e->msg);
      changed = true;
    }
  if (changed)
    return pod_state_save (poddir, pod, err);
  return 0;
}

static int
read_pid_file (const char *path, pid_t *ret)
{
  cleanup_free char *buf = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (AT_FDCWD, path, 0, 64, &buf, NULL, &e) < 0)
    return -1;
  char *end;
  long v = strtol (buf, &end, 10);
  if (end == buf || v <= 0 || v > INT32_MAX)
    return -1;
  *ret = (pid_t) v;
  return 0;
}

/* The container's init PID after a successful create: --pid-file, else the
 * delegate's own state (runc: state.json, crun: status). 0 when unknown. */
pid_t
member_init_pid (const struct shim_ctx *ctx)
{
  pid_t pid = 0;
  if (ctx->cmd->pid_file && read_pid_file (ctx->cmd->pid_file, &pid) == 0)
    return pid;
  static const char *const files[] = { "state.json", "status", NULL };
  static const char *const keys[] = { "init_process_pid", "pid", NULL };
  for (int i = 0; files[i]; i++)
    {
      cleanup_free char *p = NULL, *buf = NULL;
      size_t len;
      cleanup_error struct podshim_error *e = NULL;
      cleanup_json yajl_val doc = NULL;
      if (asprintf (&p, "%s/%s/%s", ctx->class_root ? ctx->class_root : ctx->root, ctx->cmd->id,
                    files[i]) < 0)
        return 0;
      if (read_file_at (AT_FDCWD, p, O_NOFOLLOW, 16 * 1024 * 1024, &buf, &len, &e) < 0
          || json_parse (buf, len, p, &doc, &e) < 0)
        continue;
      yajl_val v = json_get (doc, keys[i]);
      if (v && v->type == yajl_t_number && (v->u.number.flags & YAJL_NUMBER_INT_VALID)
          && v->u.number.i > 0 && v->u.number.i <= INT32_MAX)
        return (pid_t) v->u.number.i;
    }
  return 0;
}

struct pod_handles
{
  int rootfd;
  int podsfd;
  int poddir;
  int lockfd;
  int statefd; /* holds the state dir's shared lock */
  int locksfd;
};
#define POD_HANDLES_INIT                                                                           \
  {                                                                                                \
    -1, -1, -1, -1, -1, -1                                                                         \
  }

static void
pod_handles_close (struct pod_handles *h)
{
  cleanup_closep (&h->poddir);
  cleanup_closep (&h->lockfd);
  cleanup_closep (&h->locksfd);
  cleanup_closep (&h->podsfd);
  cleanup_closep (&h->rootfd);
  cleanup_closep (&h->statefd);
  h->rootfd = h->podsfd = h->poddir = h->lockfd = h->statefd = h->locksfd = -1;
}
#define cleanup_pod_handles __attribute__ ((cleanup (pod_handles_close)))

/* Refuses a new pod when the root already has the most it may. */
static int
pods_limit_check (const struct shim_ctx *ctx, int podsfd, const char *name,
                  struct podshim_error **err)
{
  long max;
  if (shim_max_pods (ctx, &max, err) < 0)
    return -1;
  /* Without listing them (O(pods) on every new pod): a directory's link
     count is 2 + its subdirectories on tmpfs, ext4, xfs (btrfs, overlayfs:
     1, and an ext4 directory past 65,000 entries: 1). Hidden entries only
     add to it: below the limit, it is below. */
  struct stat st;
  if (fstat (podsfd, &st) == 0 && st.st_nlink >= 2 && (long long) st.st_nlink - 2 < max)
    return 0;
  int dfd = dup (podsfd);
  cleanup_dir DIR *d = dfd >= 0 ? fdopendir (dfd) : NULL;
  if (d == NULL)
    {
      if (dfd >= 0)
        close (dfd);
      return podshim_error_set (err, errno, "cannot list pods");
    }
  long n = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.' && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN))
      n++;
  if (n >= max)
    return podshim_error_set (err, 0,
                              "cannot create pod `%s`: root `%.200s` already has %ld pods, the"
                              " most allowed (--podshim-max-pods %ld)",
                              name, ctx->root, n, max);
  return 0;
}

/* Locks pod `name` and opens its directory (creating it if create). */
static int
pod_open_locked (const struct shim_ctx *ctx, const char *name, bool create, struct pod_handles *h,
                 struct podshim_error **err)
{
  h->rootfd
      = shim_open_root_state (ctx->state_dir, ctx->rootkey, ctx->root, create, &h->statefd, err);
  if (h->rootfd < 0)
    return h->rootfd;
  h->podsfd = create ? ensure_dir_at (h->rootfd, "pods", 0700, err)
                     : open_dir_at (h->rootfd, "pods", err);
  if (h->podsfd < 0)
    return h->podsfd;
  if (!create && faccessat (h->podsfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return -ENOENT; /* no pod: do not leave a lock file behind */
  /* Locks live apart from pods: pod `web.lock` is no lock of pod `web`. */
  h->locksfd = create ? ensure_dir_at (h->rootfd, "locks", 0700, err)
                      : open_dir_at (h->rootfd, "locks", err);
  if (h->locksfd < 0)
    return h->locksfd;
  h->lockfd = pod_lock (h->locksfd, name, err);
  if (h->lockfd < 0)
    return -1;
  /* A new pod: counting the pods and making its directory are one step
     (pods/ locked), so concurrent creates of new pods keep the limit. */
  bool counting = false;
  if (create && faccessat (h->podsfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
    {
      int r;
      while ((r = flock (h->podsfd, LOCK_EX)) < 0 && errno == EINTR)
        ;
      if (r < 0)
        return podshim_error_set (err, errno, "cannot lock the pods directory");
      counting = true;
      if (pods_limit_check (ctx, h->podsfd, name, err) < 0)
        {
          flock (h->podsfd, LOCK_UN);
          char lock[POD_KEY_MAX + 8];
          snprintf (lock, sizeof (lock), "%s.lock", name);
          unlinkat (h->locksfd, lock, 0);
          return -1;
        }
    }
  h->poddir = create ? ensure_dir_at (h->podsfd, name, 0700, err)
                     : open_dir_at (h->podsfd, name, err);
  if (counting)
    flock (h->podsfd, LOCK_UN);
  if (h->poddir == -ENOENT)
    {
      /* Torn down while we waited; the lock file is ours to remove. */
      char lock[POD_KEY_MAX + 8];
      snprintf (lock, sizeof (lock), "%s.lock", name);
      unlinkat (h->locksfd, lock, 0);
    }
  if (h->poddir < 0)
    return h->poddir;
  return 0;
}

/* Removes member id from pod name (locked here), tearing the pod down when it
 * was the last, and drops the container's index entry; after a failed create,
 * also the volumes it made (made: dirnames, or NULL). */
static int
member_leave (const struct shim_ctx *ctx, const char *name, const char *id, char **made,
              struct podshim_error **err)
{
  cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
  int r = pod_open_locked (ctx, name, false, &h, err);
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return -1;
  cleanup_pod_state struct pod_state pod = { 0 };
  r = pod_state_load (h.poddir, name, &pod, err);
  if (r == -ENOENT)
    {
      unindex (h.rootfd, id, name);
      return 0;
    }
  if (r < 0)
    return -1;
  pod_state_remove (&pod, id);
  unindex (h.rootfd, id, name);
  drop_new_volumes (ctx, name, &pod, made);
  if (pod.network_owner && strcmp (pod.network_owner, id) == 0)
    {
      free (pod.network_owner);
      pod.network_owner = NULL;
    }
  bool gone;
  if (pod_prune_locked (h.rootfd, h.podsfd, h.poddir, ctx->root, &pod, true, &gone, err) < 0)
    return -1;
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` left pod `%s`", id, name);
  return 0;
}

static char *
pod_path (const struct shim_ctx *ctx, const char *key, const char *sub, const char *leaf)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/pods/%s/%s/%s", ctx->state_dir, ctx->rootkey, key, sub, leaf) < 0)
    abort ();
  return p;
}

char *
pod_data_path (const struct shim_ctx *ctx, const char *key)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/%s", ctx->data_dir, ctx->rootkey, key) < 0)
    abort ();
  return p;
}

/* The Swarm task a member is, from its Docker labels: two live tasks of one
 * service in one pod are a mistake (a fixed pod name on a replicated service
 * whose replicas share a node). The slot is the middle of the task name
 * (SERVICE.SLOT.TASKID; the node ID in global mode): a task replacing one of
 * the same slot (`--update-order start-first`) is not refused. */
struct swarm_task
{
  const char *service_id; /* NULL: not a Swarm task */
  const char *service_name;
  char slot[128];
};

/* dockerd (20.10) gives a `--network host` container its own network
 * namespace as a path (<exec-root>/netns/default): the namespace podshim
 * runs in. That is no choice of the member's to respect: a host-network
 * member of a pod joins the pod's network (the Swarm sidecar recipe): the
 * pod's path replaces it. True for a `--network host` container whose network
 * path, if any, is podshim's own namespace. */
static bool
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

static void
swarm_task_from_labels (yajl_val labels_doc, struct swarm_task *ret)
{
  yajl_val l = json_get_path (labels_doc, docker_label_path);
  memset (ret, 0, sizeof (*ret));
  ret->service_id = json_get_string (l, "com.docker.swarm.service.id");
  if (ret->service_id == NULL || ret->service_id[0] == '\0')
    {
      ret->service_id = NULL;
      return;
    }
  ret->service_name = json_get_string (l, "com.docker.swarm.service.name");
  if (ret->service_name == NULL)
    ret->service_name = ret->service_id;
  const char *task = json_get_string (l, "com.docker.swarm.task.name");
  size_t nl = strlen (ret->service_name);
  if (task && strncmp (task, ret->service_name, nl) == 0 && task[nl] == '.')
    {
      const char *slot = task + nl + 1;
      const char *end = strrchr (slot, '.');
      size_t len = end ? (size_t) (end - slot) : strlen (slot);
      if (len < sizeof (ret->slot))
        memcpy (ret->slot, slot, len);
    }
}

/* Refuses a second live task of the member's service, recording the task in
 * the member's entry otherwise (m->raw: pod.json keeps fields it does not
 * know). Members are all alive here (join_locked pruned the dead). */
static int
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

static void
swarm_task_record (struct pod_member *m, const struct swarm_task *t)
{
  if (t == NULL || t->service_id == NULL)
    return;
  if (m->raw == NULL)
    m->raw = json_new_object ();
  json_object_set (m->raw, "swarm_service_id", json_new_string (t->service_id));
  json_object_set (m->raw, "swarm_service_name", json_new_string (t->service_name));
  json_object_set (m->raw, "swarm_slot", json_new_string (t->slot));
}

struct join_result
{
  bool keep_network_hook;
  bool recorded;              /* the member is in pod.json */
  bool net_files[2];          /* mount the pod's copy of net_files[i] */
  bool docker_host_network;
  int nsfd[POD_NS_COUNT];     /* the pod's namespaces this member joins, or -1 */
  char **new_volumes;         /* volume dirnames this create made (NULL-terminated) */
  struct sandbox_proc holder; /* a holder this create started, "ready" still to read */
  bool shm;                   /* mount the pod's /dev/shm */
  int shm_fd;                 /* its clone to stage for the delegate, or -1: on the host */
};

static void
join_result_close (struct join_result *r)
{
  close_fds (r->nsfd, POD_NS_COUNT);
  cleanup_closep (&r->shm_fd);
  cleanup_strvp (&r->new_volumes);
  sandbox_proc_close (&r->holder);
}
#define cleanup_join_result __attribute__ ((cleanup (join_result_close)))

/* The holder this create started has isolated itself by now, or it died
 * (then the pod's next call starts another): a warning. */
static void
holder_ready (const char *pod, struct join_result *res)
{
  if (res->holder.report_fd < 0)
    return;
  cleanup_free char *pause = sandbox_pause_path ();
  cleanup_error struct podshim_error *e = NULL;
  if (sandbox_ready (&res->holder, pause, &e) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: the holder failed: %s", pod, e->msg);
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
static int
share_net_files (int poddir, yajl_val spec, bool owner, struct join_result *res,
                 struct podshim_error **err)
{
  cleanup_close int nfd = -1;
  for (size_t i = 0; i < 2; i++)
    {
      const char *src = spec_mount_source (spec, net_files[i].dest);
      if (src == NULL || src[0] != '/')
        continue;
      if (nfd < 0 && (nfd = ensure_dir_at (poddir, "net", 0755, err)) < 0)
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
          res->net_files[i] = true;
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
      res->net_files[i] = !owner;
    }
  return 0;
}

void
member_start (struct shim_ctx *ctx)
{
  struct runc_cmdline *c = ctx->cmd;
  if (c->id == NULL || c->n_positional != 1 || !container_id_valid (c->id))
    return;
  cleanup_error struct podshim_error *err = NULL;
  cleanup_close int rootfd
      = shim_open_root_state (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &err);
  if (rootfd < 0)
    return;
  cleanup_close int cfd = open_dir_at (rootfd, "containers", &err);
  cleanup_free char *name = NULL;
  if (cfd < 0 || read_file_at (cfd, c->id, O_NOFOLLOW, 4096, &name, NULL, &err) < 0
      || !pod_key_valid (name))
    return; /* not a member */
  cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
  cleanup_pod_state struct pod_state pod = { 0 };
  if (pod_open_locked (ctx, name, false, &h, &err) < 0
      || pod_state_load (h.poddir, name, &pod, &err) < 0 || pod.network_owner == NULL
      || strcmp (pod.network_owner, c->id) != 0)
    return;
  cleanup_close int nfd = open_dir_at (h.poddir, "net", &err);
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
        podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: %s", name, e->msg);
    }
}

/* With the pod locked: makes sure the sandbox (and pause, and volumes) exist
 * for this member and records it as creating. */
static int
join_locked (const struct shim_ctx *ctx, struct pod_handles *h, const char *key,
             const struct pod_request *req, yajl_val spec, enum spec_network net,
             const struct swarm_task *task, struct join_result *res,
             struct podshim_error **err)
{
  const char *id = ctx->cmd->id;
  cleanup_pod_state struct pod_state pod = { 0 };
  int r = pod_state_load (h->poddir, key, &pod, err);
  if (r < 0 && r != -ENOENT)
    return -1;
  if (r == -ENOENT)
    {
      pod.name = strdup (req->name);
      pod.scope = req->scope ? strdup (req->scope) : NULL;
      pod.root = strdup (ctx->root);
      if (pod.name == NULL || pod.root == NULL || (req->scope && pod.scope == NULL))
        abort ();
    }
  else
    {
      /* Prune without tearing down: an empty pod is rebuilt below. */
      for (size_t i = pod.n_members; i > 0; i--)
        if (!member_alive (ctx->root, &pod.members[i - 1]))
          {
            cleanup_free char *dead = strdup (pod.members[i - 1].id);
            if (dead == NULL)
              abort ();
            unindex (h->rootfd, dead, key);
            pod_state_remove (&pod, dead);
          }
      if (pod_state_find (&pod, id))
        return podshim_error_set (err, 0, "container `%s` is already a member of pod `%s`", id,
                                  key);
      if (swarm_guard (key, &pod, task, err) < 0)
        return -1;
      if (pod.network_owner && pod_state_find (&pod, pod.network_owner) == NULL)
        {
          free (pod.network_owner);
          pod.network_owner = NULL;
        }
      if (pod.n_members == 0 && (pod.pinned || pod.holder_pid > 0 || pod.pause_pid > 0))
        {
          /* A stale sandbox whose members all died: start afresh. */
          if (sandbox_destroy (h->poddir, &pod, err) < 0
              || pod_volumes_remove (h->poddir, err) < 0)
            return -1;
          pod.pinned = 0;
          pod.holder_pid = 0;
          pod.pause_pid = 0;
        }
    }

  /* A hook-less engine moves a second member's interface into the pod's
     namespace after create, as eth0 again: it fails there and the veth
     stays. Refuse before the engine plumbs anything. */
  if ((req->share & POD_NS_NET) && net == SPEC_NET_AFTER_CREATE && pod.network_owner)
    return podshim_error_set (
        err, 0,
        "pod `%s` already has a networked member (`%.12s`, its network owner), and this engine"
        " (dockerd 26.0.0 or >= 28: no libnetwork-setkey hook) would add a second interface"
        " named eth0 to the pod's network namespace. Start this member with `--network none`"
        " (a Swarm service: `--network host`): it shares the pod's network all the same",
        key, pod.network_owner);

  if (ensure_holder_locked (h->poddir, &pod, pod.n_members == 0 ? &res->holder : NULL, err) < 0)
    return podshim_error_wrap (err, "pod `%s`", req->name);
  if ((req->share & POD_NS_PID) && ensure_pause_locked (h->poddir, &pod, err) < 0)
    return podshim_error_wrap (err, "pod `%s`", req->name);
  /* Held open until the delegate has joined them: a PID reused meanwhile
     cannot redirect the member. */
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    if (req->share & bit)
      {
        bool pid = bit == POD_NS_PID;
        int fd = sandbox_open_ns (pid ? pod.pause_pid : pod.holder_pid,
                                  pid ? pod.pause_start : pod.holder_start, bit, err);
        if (fd == -ESRCH)
          return podshim_error_set (err, ESRCH, "pod `%s`: its %s died", req->name,
                                    pid ? "pause" : "holder");
        if (fd < 0)
          return -1;
        res->nsfd[pod_ns_index (bit)] = fd;
      }
  if (fault_point ("ns-opened", err) < 0)
    return -1;
  res->new_volumes = calloc (req->n_volumes + 1, sizeof (char *));
  if (res->new_volumes == NULL)
    abort ();
  /* A shared IPC namespace needs a shared /dev/shm for POSIX shared memory. */
  unsigned long long shm_size = (req->share & POD_NS_IPC) ? spec_shm_size (spec) : 0;
  cleanup_json yajl_val used = json_new_array ();
  int host_shm = shm_size ? pod_shm_setup (ctx, h->poddir, key, &pod, shm_size,
                                           pod.n_members == 0 ? &res->holder : NULL,
                                           &res->shm_fd, err)
                          : 0;
  if (host_shm < 0)
    return podshim_error_wrap (err, "pod `%s`", key);
  if (req->n_volumes > 0 || host_shm)
    {
      if (volumes_setup (ctx, h->poddir, key, req, host_shm ? shm_size : 0, res->new_volumes,
                         used, err)
          < 0)
        return podshim_error_wrap (err, "pod `%s`", key);
      if (fault_point ("after-volumes", err) < 0)
        return -1;
    }
  res->shm = shm_size != 0;
  res->keep_network_hook = false;
  if ((req->share & POD_NS_NET) && net != SPEC_NET_NO_INTERFACE && pod.network_owner == NULL)
    {
      pod.network_owner = strdup (id);
      res->keep_network_hook = true;
    }
  if ((req->share & POD_NS_NET)
      && share_net_files (h->poddir, spec, res->keep_network_hook, res, err) < 0)
    return -1;
  struct pod_member *m = pod_state_add (&pod, id);
  m->raw = json_new_object ();
  json_object_set (m->raw, "volumes", steal_pointer (&used));
  m->pid = getpid ();
  if (proc_start_time (m->pid, &m->start) < 0)
    return podshim_error_set (err, errno, "cannot read our own start time");
  m->creating = true;
  m->share = req->share;
  swarm_task_record (m, task);
  if (pod_state_save (h->poddir, &pod, err) < 0)
    return -1;
  res->recorded = true;
  if (fault_point ("after-state", err) < 0)
    return -1;

  cleanup_close int cfd = ensure_dir_at (h->rootfd, "containers", 0700, err);
  if (cfd < 0 || write_file_atomic_at (cfd, id, key, strlen (key), 0600, err) < 0)
    return -1;
  return fault_point ("after-index", err);
}

/* Marks the member created with its init PID. */
static int
confirm_member (const struct shim_ctx *ctx, const char *name, pid_t pid,
                struct podshim_error **err)
{
  cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
  if (pod_open_locked (ctx, name, false, &h, err) < 0)
    return podshim_error_set (err, ENOENT, "pod `%s` vanished during create", name);
  cleanup_pod_state struct pod_state pod = { 0 };
  if (pod_state_load (h.poddir, name, &pod, err) < 0)
    return podshim_error_set (err, ENOENT, "pod `%s` vanished during create", name);
  struct pod_member *m = pod_state_find (&pod, ctx->cmd->id);
  if (m == NULL)
    return podshim_error_set (err, 0, "container `%s` was removed from pod `%s` during create",
                              ctx->cmd->id, name);
  m->creating = false;
  m->pid = pid;
  m->start = 0;
  if (pid > 0 && proc_start_time (pid, &m->start) < 0)
    m->pid = 0; /* exited already: fall back to the delegate's state */
  return pod_state_save (h.poddir, &pod, err);
}

static int
rewrite_config (const struct shim_ctx *ctx, int bundle_fd, yajl_val spec, const char *key,
                const struct pod_request *req, const struct join_result *res,
                struct podshim_error **err)
{
  bool keep_hook = res->keep_network_hook;
  cleanup_free char *resolv = res->net_files[0] ? pod_path (ctx, key, "net", "resolv.conf") : NULL;
  cleanup_free char *hosts = res->net_files[1] ? pod_path (ctx, key, "net", "hosts") : NULL;
  cleanup_strv char **paths = calloc (POD_NS_COUNT + 2 * req->n_volumes + 1, sizeof (char *));
  struct join_volume *vols = calloc (req->n_volumes + 1, sizeof (*vols));
  if (paths == NULL || vols == NULL)
    abort ();
  struct join_plan plan = { .share = req->share, .keep_network_hook = keep_hook,
                            .docker_host_network = res->docker_host_network,
                            .resolv_conf = resolv, .hosts = hosts,
                            .volumes = vols, .n_volumes = req->n_volumes };
  cleanup_free char *data = pod_data_path (ctx, key);
  cleanup_free char *shm = NULL;
  if (res->shm && res->shm_fd >= 0)
    shm = pod_shm_stage_path (ctx, key);
  else if (res->shm && asprintf (&shm, "%s/shm", data) < 0)
    abort ();
  plan.shm = shm;
  size_t np = 0;
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    if (req->share & bit)
      {
        /* Our fd of the namespace: valid while we wait for the delegate. */
        if (asprintf (&paths[np], "/proc/%d/fd/%d", (int) getpid (),
                      res->nsfd[pod_ns_index (bit)])
            < 0)
          abort ();
        plan.ns_path[pod_ns_index (bit)] = paths[np++];
      }
  for (size_t i = 0; i < req->n_volumes; i++)
    {
      paths[np] = pod_volume_dirname (req->volumes[i]);
      char *src = NULL;
      if (asprintf (&src, "%s/%s", data, paths[np++]) < 0)
        abort ();
      paths[np++] = src;
      vols[i].destination = req->volumes[i];
      vols[i].source = src;
    }
  size_t dropped = 0;
  int r = spec_join_pod (spec, &plan, &dropped, err);
  free (vols);
  if (r < 0)
    return -1;
  if (dropped)
    podshim_log (PODSHIM_LOG_DEBUG,
                 "podshim: dropped %zu libnetwork-setkey hook(s) of `%s`: pod `%s` already has"
                 " its network",
                 dropped, ctx->cmd->id, key);
  cleanup_free char *out = NULL;
  size_t len;
  if (json_emit (spec, &out, &len, err) < 0)
    return -1;
  if (write_file_atomic_at (bundle_fd, "config.json", out, len, 0644, err) < 0)
    return -1;
  return fault_point ("after-config", err);
}

int
member_create (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err)
{
  struct runc_cmdline *c = ctx->cmd;
  const char *bundle = c->bundle ? c->bundle : ".";
  cleanup_close int bundle_fd = open (bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bundle_fd < 0)
    return 1; /* the delegate reports it */
  cleanup_free char *orig = NULL;
  size_t orig_len;
  cleanup_error struct podshim_error *rerr = NULL;
  /* crun's --config names the file it reads instead of config.json. */
  const char *config = c->config ? c->config : "config.json";
  if (read_file_at (bundle_fd, config, 0, CONFIG_MAX, &orig, &orig_len, &rerr) < 0)
    return 1;
  /* Bytes first: most containers never get parsed. */
  if (!spec_may_name_pod (orig, orig_len)
      && !(c->id && docker_labels_may_name_pod (orig, orig_len, c->id)))
    return 1;

  /* Until a pod key is found, trouble of ours is no reason to fail a
     container: the delegate runs it untouched (and judges config.json). */
  cleanup_json yajl_val spec = NULL;
  cleanup_error struct podshim_error *perr = NULL;
  if (json_parse (orig, orig_len, "config.json", &spec, &perr) < 0)
    {
      if (memmem (orig, orig_len, "\"podshim.pod\"", 13) == NULL
          && memmem (orig, orig_len, "\"PODSHIM_POD=", 13) == NULL)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` names no pod we can read: %s",
                       c->id ? c->id : "", perr->msg);
          return 1;
        }
      *err = steal_pointer (&perr);
      return -1;
    }
  cleanup_json yajl_val labels = NULL;
  if (c->id && container_id_valid (c->id) && docker_labels_load (spec, c->id, &labels, &perr) < 0)
    {
      /* Unreadable labels: only a container whose own spec asks for nothing
         of podshim's runs untouched. */
      cleanup_pod_request struct pod_request own = { 0 };
      cleanup_container_record struct container_record own_rec = { 0 };
      cleanup_error struct podshim_error *e2 = NULL;
      if (pod_request_from_spec (spec, NULL, &own, &e2) == 0
          && route_record_from_spec (ctx, spec, NULL, &own_rec, &e2) == 0)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: ignoring Docker labels of `%s`: %s", c->id,
                       perr->msg);
          return 1;
        }
      *err = steal_pointer (&perr);
      return -1;
    }
  cleanup_container_record struct container_record rec = { 0 };
  int has_rec = route_record_from_spec (ctx, spec, labels, &rec, err);
  if (has_rec < 0)
    return -1;
  cleanup_pod_request struct pod_request req = { 0 };
  int r = pod_request_from_spec (spec, labels, &req, err);
  if (r < 0 || (r == 0 && !has_rec))
    return r < 0 ? -1 : 1;
  if (r == 0)
    {
      /* A runtime class and no pod. */
      if (c->id == NULL || !container_id_valid (c->id))
        return podshim_error_set (err, 0, "invalid container ID `%.200s`", c->id ? c->id : "");
      return route_create_nopod (ctx, &rec, ret_status, err);
    }
  /* A member outside its pod is worse than a refused one. */
  if (c->uncertain)
    return podshim_error_set (err, 0,
                              "cannot be sure what `%.64s` means in this command line (podshim"
                              " knows the options of runc 1.1-1.3 and crun): refusing to %s"
                              " a member of pod `%s`",
                              c->uncertain, c->command, req.name);
  if (c->config)
    return podshim_error_set (err, 0, "pod `%s`: a member cannot use --config (`%.64s`)", req.name,
                              c->config);
  if (c->id == NULL || c->n_positional != 1)
    return podshim_error_set (err, 0,
                              "pod `%s`: expected exactly one container ID on the command line,"
                              " got %d",
                              req.name, c->n_positional);
  if (!container_id_valid (c->id))
    return podshim_error_set (err, 0, "invalid container ID `%.200s` for pod `%s`", c->id,
                              req.name);
  /* The pod's scope: a named pod is found under the container's compose
     project or stack (labels a pod named by environment has not loaded yet). */
  if (labels == NULL && docker_labels_load_all (spec, c->id, &labels, err) < 0)
    return -1;
  if (pod_scope_from_spec (spec, labels, &req.scope, err) < 0)
    return -1;
  cleanup_free char *key = pod_key (req.scope, req.name);
  cleanup_free char *class_root = NULL;
  if (has_rec && route_create_begin (ctx, &rec, &req, &class_root, err) < 0)
    {
      route_create_end (ctx, &rec, false);
      return -1;
    }
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` joins pod `%s`", c->id, key);

  cleanup_join_result struct join_result res
      = { .nsfd = { -1, -1, -1, -1 }, .holder = { .go_fd = -1, .report_fd = -1 }, .shm_fd = -1 };
  {
    cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
    if (pod_open_locked (ctx, key, true, &h, err) < 0)
      return -1;
    /* A networked member brings the pod its interface: through Docker's
       setkey hook, or (hook-less engines) by dockerd after create. A
       `--network none` one carries the hook (dockerd < 28) but no interface. */
    cleanup_free char *mode = docker_network_mode (spec, c->id);
    res.docker_host_network = engine_host_network (spec, mode);
    enum spec_network net
        = (req.share & POD_NS_NET) ? spec_network_kind (spec, mode) : SPEC_NET_NO_INTERFACE;
    struct swarm_task task;
    swarm_task_from_labels (labels, &task);
    if (join_locked (ctx, &h, key, &req, spec, net, &task, &res, err) < 0)
      {
        /* Take back what we recorded (the index may be what failed); drop a
           sandbox made only for us. */
        bool gone;
        cleanup_error struct podshim_error *e2 = NULL;
        cleanup_pod_state struct pod_state pod = { 0 };
        if (pod_state_load (h.poddir, key, &pod, &e2) == 0)
          {
            bool ours = res.recorded && pod_state_find (&pod, c->id) != NULL;
            if (ours)
              {
                unindex (h.rootfd, c->id, key);
                pod_state_remove (&pod, c->id);
              }
            drop_new_volumes (ctx, key, &pod, res.new_volumes);
            pod_prune_locked (h.rootfd, h.podsfd, h.poddir, ctx->root, &pod, ours, &gone, &e2);
          }
        else if (e2 == NULL)
          {
            struct pod_state empty = { .name = req.name, .scope = req.scope };
            pod_prune_locked (h.rootfd, h.podsfd, h.poddir, ctx->root, &empty, false, &gone, &e2);
          }
        if (has_rec)
          route_create_end (ctx, &rec, false);
        return -1;
      }
  }

  if (rewrite_config (ctx, bundle_fd, spec, key, &req, &res, err) < 0)
    {
      cleanup_error struct podshim_error *e2 = NULL, *e3 = NULL;
      member_leave (ctx, key, c->id, res.new_volumes, &e2);
      if (has_rec)
        route_create_end (ctx, &rec, false);
      /* It may have been written: give the bundle its own back. */
      write_file_atomic_at (bundle_fd, "config.json", orig, orig_len, 0644, &e3);
      return -1;
    }

  int status = -1;
  cleanup_podshm_home struct podshm_home home = PODSHM_HOME_INIT;
  cleanup_free char *stage = res.shm_fd >= 0 ? pod_shm_stage_path (ctx, key) : NULL;
  if ((stage == NULL || podshm_enter (res.shm_fd, stage, &home, err) == 0)
      && delegate_run (c, &status, err) < 0)
    status = -1;
  podshm_leave (&home);
  holder_ready (req.name, &res);
  bool is_run = strcmp (c->command, "run") == 0;
  bool ok = status == 0;
  if (ok && !(is_run && !c->detach))
    {
      if (fault_point ("before-confirm", err) < 0)
        return -1;
      if (confirm_member (ctx, key, member_init_pid (ctx), err) < 0)
        return -1;
      if (has_rec)
        route_create_end (ctx, &rec, true);
      *ret_status = 0;
      return 0;
    }
  /* Failed, or a foreground run that has finished: leave, and give the bundle
   * back its original config.json. */
  cleanup_error struct podshim_error *e2 = NULL;
  if (has_rec)
    route_create_end (ctx, &rec, false);
  if (member_leave (ctx, key, c->id, status == 0 ? NULL : res.new_volumes, &e2) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e2->msg);
  cleanup_error struct podshim_error *e3 = NULL;
  if (write_file_atomic_at (bundle_fd, "config.json", orig, orig_len, 0644, &e3) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: cannot restore config.json: %s", e3->msg);
  if (status == -1)
    return -1;
  *ret_status = status;
  return 0;
}

int
member_delete (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err)
{
  struct runc_cmdline *c = ctx->cmd;
  if (c->id == NULL || c->n_positional != 1 || !container_id_valid (c->id))
    return 1;
  cleanup_error struct podshim_error *serr = NULL;
  cleanup_close int rootfd
      = shim_open_root_state (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &serr);
  if (rootfd == -ENOENT)
    return 1;
  if (rootfd < 0)
    {
      /* No member can have been made there: never block a delete. */
      podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", serr->msg);
      return 1;
    }
  cleanup_close int cfd = open_dir_at (rootfd, "containers", err);
  if (cfd == -ENOENT)
    return 1;
  if (cfd < 0)
    return -1;
  cleanup_free char *pod = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (cfd, c->id, O_NOFOLLOW, 4096, &pod, NULL, &e) < 0 || !pod_key_valid (pod))
    {
      if (e && e->errno_ == ENOENT)
        return 1;
      /* A damaged entry names no pod we could act on: never block the
         delete; drop the entry (a member is pruned when its pod is touched). */
      podshim_log (PODSHIM_LOG_WARNING, "podshim: dropping the damaged index entry of `%s`: %s",
                   c->id, e ? e->msg : "not a pod name");
      if (unlinkat (cfd, c->id, 0) < 0 && errno != ENOENT)
        unlinkat (cfd, c->id, AT_REMOVEDIR);
      return 1;
    }
  if (c->uncertain)
    return podshim_error_set (err, 0,
                              "cannot be sure what `%.64s` means in this command line (podshim"
                              " knows the options of runc 1.1-1.3 and crun): refusing to delete"
                              " `%s`, a member of pod `%s`",
                              c->uncertain, c->id, pod);

  int status;
  if (delegate_run (c, &status, err) < 0)
    return -1;
  if (status == 0 || !delegate_knows (ctx->class_root ? ctx->class_root : ctx->root, c->id))
    {
      cleanup_error struct podshim_error *fe = NULL;
      (void) fault_point ("before-leave", &fe);
      if (member_leave (ctx, pod, c->id, NULL, err) < 0)
        {
          /* The container is gone; report the pod trouble but keep its status. */
          podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", (*err)->msg);
          podshim_error_free (*err);
          *err = NULL;
        }
    }
  *ret_status = status;
  return 0;
}

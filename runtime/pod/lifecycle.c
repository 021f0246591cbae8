#include "config.h"
#include "lifecycle.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "procutil.h"
#include "statedir.h"
#include "volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Is the delegate still holding container id? Both runc and crun keep <root>/<id>/. */
bool
delegate_knows (const char *root, const char *id)
{
  cleanup_free char *p = NULL;
  if (asprintf (&p, "%s/%s", root, id) < 0)
    return true;
  struct stat st;
  return lstat (p, &st) == 0 && S_ISDIR (st.st_mode);
}

bool
pod_member_alive (const char *root, const struct pod_member *m)
{
  if (m->pid > 0 && proc_is_alive (m->pid, m->start))
    return true;
  /* A creating member records its podshim; if that died (after the delegate's
     create, say), the container may still exist: ask the delegate's state. */
  if (m->pid <= 0 || m->creating)
    return delegate_knows (root, m->id);
  return false;
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
               (int)pod->holder_pid);
  for (size_t i = 0; i < 3; i++)
    {
      cleanup_error struct podshim_error *e = NULL;
      if ((pod->pinned & holder_ns[i]) && sandbox_unpin (poddir, holder_ns[i], &e) == 0)
        pod->pinned &= ~holder_ns[i];
    }
  return pod_state_save (poddir, pod, err);
}

/* Gives pod a live holder if it has none: a new podshim-pause in the
 * namespaces a live member still has (or an older podshim pinned), the
 * network namespace adopt_net_fd (>= 0: the engine's, which the pod adopts),
 * fresh ones for the others. Saves the pod's state. With pending (a pod without
 * members), its "ready" is left to read there (sandbox_ready), so that it
 * isolates itself while the delegate works; with shm_later too, it then
 * waits for the pod's /dev/shm there (sandbox_send_shm). */
int
pod_ensure_holder_locked (int rootfd, int poddir, struct pod_state *pod, int adopt_net_fd,
                          struct sandbox_proc *pending, bool shm_later, struct podshim_error **err)
{
  if (pod->holder_pid > 0 && proc_is_alive (pod->holder_pid, pod->holder_start))
    return 0;
  pod->holder_pid = 0;
  pod->holder_start = 0;
  int fds[3] = { -1, -1, -1 };
  int r = 0;
  if (adopt_net_fd >= 0 && (fds[0] = fcntl (adopt_net_fd, F_DUPFD_CLOEXEC, 3)) < 0)
    r = podshim_error_set (err, errno, "cannot duplicate a namespace fd");
  for (size_t i = 0; r == 0 && i < 3; i++)
    {
      if (fds[i] >= 0)
        continue;
      if (pod->pinned & holder_ns[i])
        {
          char rel[32];
          snprintf (rel, sizeof (rel), STATEDIR_POD_NS "/%s", pod_ns_name (holder_ns[i]));
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
  /* A remapped pod's fresh namespaces are made in its user namespace: the
     one its live namespaces belong to, else a new one. */
  struct sandbox_userns uns = { .fd = -1, .maps = &pod->userns };
  cleanup_close int uns_fd = -1;
  for (size_t i = 0; r == 0 && pod->userns.on && uns_fd < 0 && i < 3; i++)
    if (fds[i] >= 0 && (uns_fd = sandbox_userns_of (fds[i], err)) < 0)
      r = -1;
  uns.fd = uns_fd;
  struct sandbox_proc sp = SANDBOX_PROC_INIT;
  /* Its root copied from another holder's, else one of its own (and it is
     the template for the next ones). */
  cleanup_close int template_ns = r == 0 ? sandbox_template_open (rootfd) : -1;
  if (r == 0)
    {
      cleanup_free char *pause = sandbox_pause_path ();
      r = sandbox_start (fds, false, pod->name, pause, pending == NULL, pending && shm_later,
                         template_ns, pod->userns.on ? &uns : NULL, &sp, err);
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
  if (template_ns < 0)
    sandbox_template_save (rootfd, sp.pid, sp.start);
  sandbox_release (&sp);
  if (pending)
    *pending = sp;
  else
    sandbox_proc_close (&sp);
  return fault_point ("holder-recorded", err);
}

/* Gives a pod a live pause (PID 1 of its PID namespace) in the holder's
 * namespaces if it has none. Saves the pod's state. */
int
pod_ensure_pause_locked (int rootfd, int poddir, struct pod_state *pod, struct podshim_error **err)
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
  /* Its root copied from a holder's, as a holder's is (not from its own
     pod's holder, which may still be isolating itself); a pause is never
     the template (its root has no /shm). */
  /* A remapped pod's PID namespace belongs to its user namespace (the
     holder's namespaces'), where its members can mount its /proc; its pause
     is in it too, and cannot enter a template of the host's: it makes its
     own root. */
  cleanup_close int template_ns = r == 0 && !pod->userns.on ? sandbox_template_open (rootfd) : -1;
  cleanup_close int uns_fd = -1;
  if (r == 0 && pod->userns.on && (uns_fd = sandbox_userns_of (fds[0], err)) < 0)
    r = -1;
  struct sandbox_userns uns = { .fd = uns_fd, .maps = &pod->userns };
  /* Members see it as their PID 1: it is isolated before we go on. */
  struct sandbox_proc sp = SANDBOX_PROC_INIT;
  if (r == 0)
    {
      cleanup_free char *pause = sandbox_pause_path ();
      r = sandbox_start (fds, true, pod->name, pause, true, false, template_ns,
                         pod->userns.on ? &uns : NULL, &sp, err);
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

/* The pod's `data` file is one this podshim reads (or none): checked before
 * anything of the pod goes, so that a newer podshim's is never half removed. */
static int
data_file_readable (int poddir, struct podshim_error **err)
{
  cleanup_free char *data = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (statedir_data_read (poddir, &data, &e) < 0 && !podshim_error_is (e, ENOENT))
    {
      *err = steal_pointer (&e);
      return -1;
    }
  return 0;
}

static int
pod_teardown_locked (int rootfd, int podsfd, int poddir, const struct pod_state *pod,
                     struct podshim_error **err)
{
  cleanup_free char *key = pod_key (pod->scope, pod->name);
  if (data_file_readable (poddir, err) < 0 || sandbox_destroy (poddir, pod, err) < 0)
    return -1;
  if (pod_volumes_remove (poddir, err) < 0)
    return -1;
  if (unlinkat (poddir, STATEDIR_POD_STATE, 0) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove the state of pod `%s`", key);
  if (rm_rf_at (podsfd, key, err) < 0)
    return -1;
  /* Still held by us: waiters see it unlinked and start over. */
  cleanup_close int locksfd = statedir_open_sub (rootfd, STATEDIR_LOCKS, false, NULL);
  statedir_unlink_lock (locksfd, key);
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: pod `%s` torn down", key);
  return 0;
}

/* An empty pod a member is about to join: its sandbox and volumes go, the
 * pod directory stays. */
static int
pod_reset_locked (int poddir, struct pod_state *pod, struct podshim_error **err)
{
  if (pod->pinned == 0 && pod->holder_pid <= 0 && pod->pause_pid <= 0)
    return 0;
  if (data_file_readable (poddir, err) < 0 || sandbox_destroy (poddir, pod, err) < 0
      || pod_volumes_remove (poddir, err) < 0)
    return -1;
  pod->pinned = 0;
  pod->holder_pid = 0;
  pod->pause_pid = 0;
  return 0;
}

int
pod_prune_locked (int rootfd, int podsfd, int poddir, const char *root, struct pod_state *pod,
                  enum pod_prune_mode mode, bool dirty, bool *ret_gone, struct podshim_error **err)
{
  bool keep = mode == POD_PRUNE_KEEP;
  bool changed = dirty;
  cleanup_free char *key = pod_key (pod->scope, pod->name);
  for (size_t i = pod->n_members; i > 0; i--)
    {
      struct pod_member *m = &pod->members[i - 1];
      if (pod_member_alive (root, m))
        continue;
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: pruning dead member `%s` of pod `%s`", m->id, key);
      statedir_index_remove (rootfd, m->id, key);
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
  *ret_gone = false;
  if (keep)
    return pod->n_members == 0 ? pod_reset_locked (poddir, pod, err) : 0;
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
      if (pod_ensure_holder_locked (rootfd, poddir, pod, -1, NULL, false, &e) < 0)
        podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: cannot recover its holder: %s",
                     pod->name, e->msg);
      changed = true;
    }
  if (changed)
    return pod_state_save (poddir, pod, err);
  return 0;
}

void
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
  if (fstat (podsfd, &st) == 0 && st.st_nlink >= 2 && (long long)st.st_nlink - 2 < max)
    return 0;
  int dfd = dup (podsfd);
  cleanup_dir DIR *d = dfd >= 0 ? fdopendir (dfd) : NULL;
  if (d == NULL)
    {
      if (dfd >= 0)
        (void)close (dfd);
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

static int
open_locked (const struct shim_ctx *ctx, const char *name, bool create, struct pod_handles *h,
             struct podshim_error **err)
{
  h->rootfd
      = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, create, &h->statefd, err);
  if (h->rootfd < 0)
    return h->rootfd;
  h->podsfd = statedir_open_sub (h->rootfd, STATEDIR_PODS, create, err);
  if (h->podsfd < 0)
    return h->podsfd;
  if (!create && faccessat (h->podsfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return -ENOENT; /* no pod: do not leave a lock file behind */
  /* Locks live apart from pods: pod `web.lock` is no lock of pod `web`. */
  h->locksfd = statedir_open_sub (h->rootfd, STATEDIR_LOCKS, create, err);
  if (h->locksfd < 0)
    return h->locksfd;
  h->lockfd = statedir_lock_pod (h->locksfd, name, err);
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
          (void)flock (h->podsfd, LOCK_UN);
          statedir_unlink_lock (h->locksfd, name);
          return -1;
        }
    }
  h->poddir = statedir_open_sub (h->podsfd, name, create, err);
  if (counting)
    (void)flock (h->podsfd, LOCK_UN);
  if (h->poddir == -ENOENT)
    {
      /* Torn down while we waited; the lock file is ours to remove. */
      statedir_unlink_lock (h->locksfd, name);
    }
  if (h->poddir < 0)
    return h->poddir;
  return 0;
}

int
pod_open_locked (const struct shim_ctx *ctx, const char *key, bool create, struct pod_handles *h,
                 struct podshim_error **err)
{
  int r = open_locked (ctx, key, create, h, err);
  if (r == -ENOENT)
    return podshim_error_set (err, ENOENT, "no pod `%s`", key);
  return r < 0 ? -1 : 0;
}

int
pod_leave_locked (const struct shim_ctx *ctx, struct pod_handles *h, const char *key,
                  const char *id, char **made, struct podshim_error **err)
{
  cleanup_pod_state struct pod_state pod = { 0 };
  cleanup_error struct podshim_error *e = NULL;
  if (pod_state_load (h->poddir, key, &pod, &e) < 0)
    {
      if (!podshim_error_is (e, ENOENT))
        {
          *err = steal_pointer (&e);
          return -1;
        }
      /* Killed before its first save: nothing can be a member. */
      if (pod_key_parse (key, &pod.scope, &pod.name) < 0)
        return podshim_error_set (err, 0, "invalid pod key `%s`", key);
    }
  bool ours = id != NULL && pod_state_find (&pod, id) != NULL;
  if (ours)
    pod_state_remove (&pod, id);
  if (id != NULL)
    statedir_index_remove (h->rootfd, id, key);
  drop_new_volumes (ctx, key, &pod, made);
  bool gone;
  if (pod_prune_locked (h->rootfd, h->podsfd, h->poddir, ctx->root, &pod, POD_PRUNE_TEARDOWN, ours,
                        &gone, err)
      < 0)
    return -1;
  if (ours)
    podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` left pod `%s`", id, key);
  return 0;
}

int
pod_leave (const struct shim_ctx *ctx, const char *key, const char *id, char **made,
           struct podshim_error **err)
{
  cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
  cleanup_error struct podshim_error *e = NULL;
  if (pod_open_locked (ctx, key, false, &h, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0;
      *err = steal_pointer (&e);
      return -1;
    }
  return pod_leave_locked (ctx, &h, key, id, made, err);
}

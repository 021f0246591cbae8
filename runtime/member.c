#include "config.h"
#include "member.h"
#include "delegate.h"
#include "fsutil.h"
#include "log.h"
#include "podcfg.h"
#include "procutil.h"
#include "sandbox.h"
#include "spec.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <linux/magic.h>
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
#define fault_point(name, err) 0
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
  if (s[0] != '/')
    return podshim_error_set (err, 0, "state directory `%s` is not an absolute path", s);
  ctx->state_dir = strdup (s);
  if (ctx->state_dir == NULL)
    abort ();
  ctx->root = delegate_root (cmd);
  shim_rootkey (ctx->root, ctx->rootkey);
  return 0;
}

void
shim_ctx_free (struct shim_ctx *ctx)
{
  free (ctx->state_dir);
  free (ctx->root);
}

int
shim_open_root_state (const char *state_dir, const char *rootkey, const char *root, bool create,
                      struct podshim_error **err)
{
  cleanup_close int sfd = -1;
  if (create)
    {
      sfd = ensure_dir_path (state_dir, 0700, err);
      if (sfd < 0)
        return -1;
    }
  else
    {
      sfd = open (state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sfd < 0)
        return errno == ENOENT ? -ENOENT
                               : podshim_error_set (err, errno, "cannot open `%s`", state_dir);
    }
  if (!create)
    return open_dir_at (sfd, rootkey, err);
  cleanup_close int rfd = ensure_dir_at (sfd, rootkey, 0700, err);
  if (rfd < 0)
    return -1;
  if (faccessat (rfd, "root", F_OK, AT_SYMLINK_NOFOLLOW) < 0
      && write_file_atomic_at (rfd, "root", root, strlen (root), 0600, err) < 0)
    return -1;
  return steal_fd (&rfd);
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
pod_teardown_locked (int podsfd, int poddir, const struct pod_state *pod, struct podshim_error **err)
{
  if (sandbox_destroy (poddir, pod, err) < 0)
    return -1;
  if (rm_rf_at (poddir, "volumes", err) < 0)
    return -1;
  if (unlinkat (poddir, "pod.json", 0) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove the state of pod `%s`", pod->name);
  if (rm_rf_at (podsfd, pod->name, err) < 0)
    return -1;
  char lock[POD_NAME_MAX + 8];
  snprintf (lock, sizeof (lock), "%s.lock", pod->name);
  /* Still held by us: waiters see it unlinked and start over. */
  unlinkat (podsfd, lock, 0);
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: pod `%s` torn down", pod->name);
  return 0;
}

int
pod_prune_locked (int rootfd, int podsfd, int poddir, const char *root, struct pod_state *pod,
                  bool dirty, bool *ret_gone, struct podshim_error **err)
{
  bool changed = dirty;
  for (size_t i = pod->n_members; i > 0; i--)
    {
      struct pod_member *m = &pod->members[i - 1];
      if (member_alive (root, m))
        continue;
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: pruning dead member `%s` of pod `%s`", m->id,
                   pod->name);
      unindex (rootfd, m->id, pod->name);
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
      if (pod_teardown_locked (podsfd, poddir, pod, err) < 0)
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
static pid_t
find_init_pid (const struct shim_ctx *ctx)
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
      if (asprintf (&p, "%s/%s/%s", ctx->root, ctx->cmd->id, files[i]) < 0)
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
};

static void
pod_handles_close (struct pod_handles *h)
{
  cleanup_closep (&h->poddir);
  cleanup_closep (&h->lockfd);
  cleanup_closep (&h->podsfd);
  cleanup_closep (&h->rootfd);
  h->rootfd = h->podsfd = h->poddir = h->lockfd = -1;
}
#define cleanup_pod_handles __attribute__ ((cleanup (pod_handles_close)))

/* Locks pod `name` and opens its directory (creating it if create). */
static int
pod_open_locked (const struct shim_ctx *ctx, const char *name, bool create, struct pod_handles *h,
                 struct podshim_error **err)
{
  h->rootfd = shim_open_root_state (ctx->state_dir, ctx->rootkey, ctx->root, create, err);
  if (h->rootfd < 0)
    return h->rootfd;
  h->podsfd = create ? ensure_dir_at (h->rootfd, "pods", 0700, err)
                     : open_dir_at (h->rootfd, "pods", err);
  if (h->podsfd < 0)
    return h->podsfd;
  if (!create && faccessat (h->podsfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return -ENOENT; /* no pod: do not leave a lock file behind */
  h->lockfd = pod_lock (h->podsfd, name, err);
  if (h->lockfd < 0)
    return -1;
  h->poddir = create ? ensure_dir_at (h->podsfd, name, 0700, err)
                     : open_dir_at (h->podsfd, name, err);
  if (h->poddir == -ENOENT)
    {
      /* Torn down while we waited; the lock file is ours to remove. */
      char lock[POD_NAME_MAX + 8];
      snprintf (lock, sizeof (lock), "%s.lock", name);
      unlinkat (h->podsfd, lock, 0);
    }
  if (h->poddir < 0)
    return h->poddir;
  return 0;
}

/* After a failed create: removes the pod volumes that create made (dirnames
 * in made) unless a member still names one. Members record the volumes they
 * use ("volumes" in pod.json); with one that does not (an older podshim's),
 * nothing is removed. */
static void
drop_new_volumes (int poddir, const struct pod_state *pod, char **made)
{
  if (made == NULL || made[0] == NULL)
    return;
  for (size_t i = 0; i < pod->n_members; i++)
    if (json_get_array (pod->members[i].raw, "volumes") == NULL)
      return;
  cleanup_close int vfd = open_dir_at (poddir, "volumes", NULL);
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
      cleanup_error struct podshim_error *e = NULL;
      if (!used)
        rm_rf_at (vfd, *dn, &e);
    }
}

/* Removes member id from pod name (locked here), tearing the pod down when it
 * was the last, and drops the container's index entry; after a failed create,
 * also the volumes it made (made: dirnames, or NULL). */
static int
member_leave (const struct shim_ctx *ctx, const char *name, const char *id, char **made,
              struct podshim_error **err)
{
  cleanup_pod_handles struct pod_handles h = { -1, -1, -1, -1 };
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
  drop_new_volumes (h.poddir, &pod, made);
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
pod_path (const struct shim_ctx *ctx, const char *name, const char *sub, const char *leaf)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/pods/%s/%s/%s", ctx->state_dir, ctx->rootkey, name, sub, leaf) < 0)
    abort ();
  return p;
}

struct join_result
{
  bool keep_network_hook;
  bool recorded;            /* the member is in pod.json */
  int nsfd[POD_NS_COUNT];   /* the pod's namespaces this member joins, or -1 */
  char **new_volumes;       /* volume dirnames this create made (NULL-terminated) */
  struct sandbox_proc holder; /* a holder this create started, "ready" still to read */
};

static void
join_result_close (struct join_result *r)
{
  close_fds (r->nsfd, POD_NS_COUNT);
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

/* With the pod locked: makes sure the sandbox (and pause, and volumes) exist
 * for this member and records it as creating. */
static int
join_locked (const struct shim_ctx *ctx, struct pod_handles *h, const struct pod_request *req,
             bool networked, struct join_result *res, struct podshim_error **err)
{
  const char *id = ctx->cmd->id;
  cleanup_pod_state struct pod_state pod = { 0 };
  int r = pod_state_load (h->poddir, req->name, &pod, err);
  if (r < 0 && r != -ENOENT)
    return -1;
  if (r == -ENOENT)
    {
      pod.name = strdup (req->name);
      pod.root = strdup (ctx->root);
      if (pod.name == NULL || pod.root == NULL)
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
            unindex (h->rootfd, dead, req->name);
            pod_state_remove (&pod, dead);
          }
      if (pod_state_find (&pod, id))
        return podshim_error_set (err, 0, "container `%s` is already a member of pod `%s`", id,
                                  req->name);
      if (pod.network_owner && pod_state_find (&pod, pod.network_owner) == NULL)
        {
          free (pod.network_owner);
          pod.network_owner = NULL;
        }
      if (pod.n_members == 0 && (pod.pinned || pod.holder_pid > 0 || pod.pause_pid > 0))
        {
          /* A stale sandbox whose members all died: start afresh. */
          if (sandbox_destroy (h->poddir, &pod, err) < 0
              || rm_rf_at (h->poddir, "volumes", err) < 0)
            return -1;
          pod.pinned = 0;
          pod.holder_pid = 0;
          pod.pause_pid = 0;
        }
    }

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
  cleanup_json yajl_val used = json_new_array ();
  if (req->n_volumes > 0)
    {
      cleanup_close int vfd = ensure_dir_at (h->poddir, "volumes", 0711, err);
      if (vfd < 0)
        return -1;
      size_t nv = 0;
      for (size_t i = 0; i < req->n_volumes; i++)
        {
          cleanup_free char *dn = pod_volume_dirname (req->volumes[i]);
          json_array_append (used, json_new_string (dn));
          if (faccessat (vfd, dn, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            {
              /* Ours to remove if this create fails. */
              res->new_volumes[nv] = strdup (dn);
              if (res->new_volumes[nv++] == NULL)
                abort ();
            }
          cleanup_close int d = ensure_dir_at (vfd, dn, 0777, err);
          /* World-writable like an emptyDir: members may run as any user. */
          if (d < 0 || fchmod (d, 0777) < 0)
            return d < 0 ? -1 : podshim_error_set (err, errno, "cannot set up pod volume `%s`",
                                                   req->volumes[i]);
        }
      if (fault_point ("after-volumes", err) < 0)
        return -1;
    }
  res->keep_network_hook = false;
  if ((req->share & POD_NS_NET) && networked && pod.network_owner == NULL)
    {
      pod.network_owner = strdup (id);
      res->keep_network_hook = true;
    }
  struct pod_member *m = pod_state_add (&pod, id);
  m->raw = json_new_object ();
  json_object_set (m->raw, "volumes", steal_pointer (&used));
  m->pid = getpid ();
  if (proc_start_time (m->pid, &m->start) < 0)
    return podshim_error_set (err, errno, "cannot read our own start time");
  m->creating = true;
  m->share = req->share;
  if (pod_state_save (h->poddir, &pod, err) < 0)
    return -1;
  res->recorded = true;
  if (fault_point ("after-state", err) < 0)
    return -1;

  cleanup_close int cfd = ensure_dir_at (h->rootfd, "containers", 0700, err);
  if (cfd < 0 || write_file_atomic_at (cfd, id, req->name, strlen (req->name), 0600, err) < 0)
    return -1;
  return fault_point ("after-index", err);
}

/* Marks the member created with its init PID. */
static int
confirm_member (const struct shim_ctx *ctx, const char *name, pid_t pid,
                struct podshim_error **err)
{
  cleanup_pod_handles struct pod_handles h = { -1, -1, -1, -1 };
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
rewrite_config (const struct shim_ctx *ctx, int bundle_fd, yajl_val spec,
                const struct pod_request *req, const struct join_result *res,
                struct podshim_error **err)
{
  cleanup_strv char **paths = calloc (POD_NS_COUNT + 2 * req->n_volumes + 1, sizeof (char *));
  struct join_volume *vols = calloc (req->n_volumes + 1, sizeof (*vols));
  if (paths == NULL || vols == NULL)
    abort ();
  struct join_plan plan = { .share = req->share, .keep_network_hook = res->keep_network_hook,
                            .volumes = vols, .n_volumes = req->n_volumes };
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
      char *src = pod_path (ctx, req->name, "volumes", paths[np++]);
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
                 dropped, ctx->cmd->id, req->name);
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
  if (c->id == NULL || c->n_positional != 1)
    return 1;
  cleanup_close int bundle_fd = open (bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bundle_fd < 0)
    return 1; /* the delegate reports it */
  cleanup_free char *orig = NULL;
  size_t orig_len;
  cleanup_error struct podshim_error *rerr = NULL;
  if (read_file_at (bundle_fd, "config.json", 0, CONFIG_MAX, &orig, &orig_len, &rerr) < 0)
    return 1;
  if (!spec_may_name_pod (orig, orig_len))
    return 1;

  cleanup_json yajl_val spec = NULL;
  if (json_parse (orig, orig_len, "config.json", &spec, err) < 0)
    return -1;
  cleanup_json yajl_val labels = NULL;
  if (container_id_valid (c->id) && docker_labels_load (spec, c->id, &labels, err) < 0)
    return -1;
  cleanup_pod_request struct pod_request req = { 0 };
  int r = pod_request_from_spec (spec, labels, &req, err);
  if (r <= 0)
    return r < 0 ? -1 : 1;
  if (!container_id_valid (c->id))
    return podshim_error_set (err, 0, "invalid container ID `%.200s` for pod `%s`", c->id,
                              req.name);
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` joins pod `%s`", c->id, req.name);

  cleanup_join_result struct join_result res
      = { .nsfd = { -1, -1, -1, -1 }, .holder = { .go_fd = -1, .report_fd = -1 } };
  {
    cleanup_pod_handles struct pod_handles h = { -1, -1, -1, -1 };
    if (pod_open_locked (ctx, req.name, true, &h, err) < 0)
      return -1;
    /* A networked member brings the pod its interface through Docker's
       setkey hook; a `--network none` one carries the hook but no interface. */
    bool networked = (req.share & POD_NS_NET) && spec_has_network_hook (spec)
                     && !docker_network_none (spec, c->id);
    if (join_locked (ctx, &h, &req, networked, &res, err) < 0)
      {
        /* Take back what we recorded (the index may be what failed); drop a
           sandbox made only for us. */
        bool gone;
        cleanup_error struct podshim_error *e2 = NULL;
        cleanup_pod_state struct pod_state pod = { 0 };
        if (pod_state_load (h.poddir, req.name, &pod, &e2) == 0)
          {
            bool ours = res.recorded && pod_state_find (&pod, c->id) != NULL;
            if (ours)
              {
                unindex (h.rootfd, c->id, req.name);
                pod_state_remove (&pod, c->id);
              }
            drop_new_volumes (h.poddir, &pod, res.new_volumes);
            pod_prune_locked (h.rootfd, h.podsfd, h.poddir, ctx->root, &pod, ours, &gone, &e2);
          }
        else if (e2 == NULL)
          {
            struct pod_state empty = { .name = req.name };
            pod_prune_locked (h.rootfd, h.podsfd, h.poddir, ctx->root, &empty, false, &gone, &e2);
          }
        return -1;
      }
  }

  if (rewrite_config (ctx, bundle_fd, spec, &req, &res, err) < 0)
    {
      cleanup_error struct podshim_error *e2 = NULL, *e3 = NULL;
      member_leave (ctx, req.name, c->id, res.new_volumes, &e2);
      /* It may have been written: give the bundle its own back. */
      write_file_atomic_at (bundle_fd, "config.json", orig, orig_len, 0644, &e3);
      return -1;
    }

  int status;
  if (delegate_run (c, &status, err) < 0)
    status = -1;
  holder_ready (req.name, &res);
  bool is_run = strcmp (c->command, "run") == 0;
  bool ok = status == 0;
  if (ok && !(is_run && !c->detach))
    {
      if (fault_point ("before-confirm", err) < 0)
        return -1;
      if (confirm_member (ctx, req.name, find_init_pid (ctx), err) < 0)
        return -1;
      *ret_status = 0;
      return 0;
    }
  /* Failed, or a foreground run that has finished: leave, and give the bundle
   * back its original config.json. */
  cleanup_error struct podshim_error *e2 = NULL;
  if (member_leave (ctx, req.name, c->id, status == 0 ? NULL : res.new_volumes, &e2) < 0)
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
  cleanup_close int rootfd
      = shim_open_root_state (ctx->state_dir, ctx->rootkey, ctx->root, false, err);
  if (rootfd == -ENOENT)
    return 1;
  if (rootfd < 0)
    return -1;
  cleanup_close int cfd = open_dir_at (rootfd, "containers", err);
  if (cfd == -ENOENT)
    return 1;
  if (cfd < 0)
    return -1;
  cleanup_free char *pod = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (cfd, c->id, O_NOFOLLOW, 4096, &pod, NULL, &e) < 0)
    {
      if (e->errno_ == ENOENT)
        return 1;
      *err = steal_pointer (&e);
      return -1;
    }
  if (!pod_name_valid (pod))
    return podshim_error_set (err, 0, "corrupted index entry for container `%s`", c->id);

  int status;
  if (delegate_run (c, &status, err) < 0)
    return -1;
  if (status == 0 || !delegate_knows (ctx->root, c->id))
    {
      cleanup_error struct podshim_error *fe = NULL;
      fault_point ("before-leave", &fe);
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

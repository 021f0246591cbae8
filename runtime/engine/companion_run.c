/* What companions' runtime commands do (companion_run.h): the anchor's start
 * and delete, a companion's create, and the detached workers they leave to
 * wait for the API. */
#include "config.h"
#include "companion_run.h"
#include "companion_api.h"
#include "fsutil.h"
#include "log.h"
#include "procutil.h"
#include "spawn.h"
#include "statedir.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a detached worker waits for the API (dockerd's boot-time restore). */
#define API_WAIT_S 600
/* How long the anchor's start waits for the removal of its old companions. */
#define LOCK_WAIT_S 60

static const char *const label_path[] = { "Config", "Labels", NULL };

/* Forks a detached worker (spawn_detach, keep its fd 3): 1 in it, which
   then keeps no capability but what reaching the API socket sock needs; 0 in
   the caller; -1 (logged) when there is none. */
static int
worker (const char *sock, int keep)
{
  podshim_log_pin_path ();
  int r = spawn_detach (keep);
  if (r < 0)
    podshim_log (PODSHIM_LOG_ERROR, "podshim: cannot start a companion worker: %s",
                 strerror (errno));
  if (r != 1)
    return r;
  bool dac = !path_reachable_without_caps (sock);
  int d = spawn_drop_privileges (dac);
  if (d < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: a companion worker cannot drop privileges: %s",
                 strerror (-d));
  return 1;
}

/* Waits until the API answers /_ping (up to API_WAIT_S) at a version
   podshim speaks; false, logged, when it answers at none. */
static bool
wait_api (struct docker_api *a)
{
  for (int i = 0; i < API_WAIT_S; i++)
    {
      cleanup_error struct podshim_error *e = NULL;
      if (docker_api_ping (a, COMPANION_PING_TIMEOUT_MS, &e) == 0)
        return true;
      if (e->errno_ == 0)
        {
          podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e->msg);
          return false;
        }
      sleep (1);
    }
  return false;
}

/* The lock of anchor_id's companions: <state>/<rootkey>/companions/<id>,
 * held by a removal until it is done, taken by a start before it looks;
 * the holder removes the file before it lets go (a waiter that locked the
 * removed file sees it and retries). -1 when it cannot be had within wait_s. */
static int
anchor_lock (const struct shim_ctx *ctx, const char *anchor_id, int wait_s)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int rootfd
      = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, true, NULL, &e);
  if (rootfd < 0)
    return -1;
  cleanup_close int dfd = ensure_dir_at (rootfd, STATEDIR_COMPANIONS, 0700, &e);
  if (dfd < 0)
    return -1;
  for (int t = 0; t <= wait_s * 10; t++)
    {
      cleanup_close int fd
          = openat (dfd, anchor_id, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return -1;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        {
          struct stat a, b;
          /* Removed by its last holder meanwhile: take the new one. */
          if (fstat (fd, &a) == 0 && fstatat (dfd, anchor_id, &b, AT_SYMLINK_NOFOLLOW) == 0
              && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return steal_fd (&fd);
          continue;
        }
      usleep (100 * 1000);
    }
  return -1;
}

/* Lets go of a lock of anchor_lock (fd < 0: none): the file first. */
static void
anchor_unlock (const struct shim_ctx *ctx, const char *anchor_id, int fd)
{
  if (fd < 0)
    return;
  cleanup_free char *p = NULL;
  if (asprintf (&p, "%s/%s/" STATEDIR_COMPANIONS "/%s", ctx->state_dir, ctx->rootkey, anchor_id)
      >= 0)
    unlink (p);
  close (fd);
}

/* Is anchor_id a member of pod `pod` (a key) whose init runs? */
static bool
anchor_alive (const struct shim_ctx *ctx, const char *pod, const char *anchor_id)
{
  if (pod == NULL || !pod_key_valid (pod))
    return false;
  cleanup_free char *dir = statedir_pod_path (ctx->state_dir, ctx->rootkey, pod, NULL);
  cleanup_close int poddir = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_pod_state struct pod_state st = { 0 };
  cleanup_error struct podshim_error *e = NULL;
  if (poddir < 0 || pod_state_load (poddir, pod, &st, &e) < 0)
    return false;
  struct pod_member *m = pod_state_find (&st, anchor_id);
  return m && !m->creating && m->pid > 0 && proc_is_alive (m->pid, m->start);
}

/* The detached worker of a start the API did not answer: once it does, and
   if the anchor's init is still the one that started (pid, start time),
   makes the companions. */
static void
start_later (struct docker_api *a, const char *anchor_id, yajl_val doc,
             const struct companion_start_opts *o, pid_t pid, unsigned long long start)
{
  size_t n = doc->u.array.len;
  cleanup_free bool *skip = calloc (n + 1, sizeof (bool));
  cleanup_error struct podshim_error *e = NULL;
  if (skip == NULL)
    abort ();
  if (!wait_api (a))
    {
      podshim_log (PODSHIM_LOG_ERROR,
                   "podshim: companions of `%.12s`: no Docker API at `%s` after %d s", anchor_id,
                   a->sock, API_WAIT_S);
      return;
    }
  if (pid <= 0 || !proc_is_alive (pid, start))
    {
      podshim_log (PODSHIM_LOG_INFO,
                   "podshim: companions of `%.12s`: none made, the anchor's process that started"
                   " them (pid %d) is gone",
                   anchor_id, (int)pid);
      return;
    }
  if (companion_api_skip_image_labels (a, anchor_id, doc, o->policy, o->config, skip, &e) < 0
      || companion_api_check_images (doc, skip, o->policy, o->config, false, &e) < 0
      || companion_api_reconcile (a, anchor_id, doc, skip, true, NULL, &e) < 0)
    podshim_log (PODSHIM_LOG_ERROR, "podshim: companions of `%.12s`: %s", anchor_id, e->msg);
}

int
companion_start (const struct shim_ctx *ctx, const char *anchor_id, const char *plan,
                 const struct companion_start_opts *o, char **ret_plan, struct podshim_error **err)
{
  *ret_plan = NULL;
  cleanup_free char *sock = companion_docker_socket (ctx, err);
  if (sock == NULL)
    return -1;
  struct docker_api a = { .sock = sock };
  cleanup_json yajl_val doc = NULL;
  if (json_parse (plan, strlen (plan), "companion plan", &doc, err) < 0)
    return -1;
  if (doc->type != yajl_t_array)
    return podshim_error_set (err, 0, "companions of `%.12s`: corrupted plan", anchor_id);
  size_t n = doc->u.array.len;
  cleanup_free bool *skip = calloc (n + 1, sizeof (bool));
  if (skip == NULL)
    abort ();
  cleanup_error struct podshim_error *pe = NULL;
  if (docker_api_ping (&a, COMPANION_PING_TIMEOUT_MS, &pe) < 0 && pe->errno_ == 0)
    {
      /* It answers, at no version podshim speaks. */
      *err = steal_pointer (&pe);
      return podshim_error_wrap (err, "companions of `%.12s`", anchor_id);
    }
  if (pe)
    {
      /* dockerd restores containers before it serves the API: never wait
         for it here. What the policy refuses without asking the API fails
         the start now. */
      if (companion_api_check_images (doc, skip, o->policy, o->config, true, err) < 0)
        return podshim_error_wrap (err, "companions of `%.12s`", anchor_id);
      unsigned long long start = 0;
      pid_t pid = o->anchor_pid;
      if (pid > 0 && proc_start_time (pid, &start) < 0)
        pid = 0;
      podshim_log (PODSHIM_LOG_INFO,
                   "podshim: companions of `%.12s` are made in the background: the Docker API"
                   " does not answer yet (%s)",
                   anchor_id, pe->msg);
      if (worker (sock, -1) == 1)
        {
          /* After any removal still pending from the anchor's last delete
             (it waits for the API too). */
          int lk = anchor_lock (ctx, anchor_id, API_WAIT_S);
          start_later (&a, anchor_id, doc, o, pid, start);
          anchor_unlock (ctx, anchor_id, lk);
          _exit (0);
        }
      return 0;
    }
  if (companion_api_skip_image_labels (&a, anchor_id, doc, o->policy, o->config, skip, err) < 0
      || companion_api_check_images (doc, skip, o->policy, o->config, false, err) < 0)
    return podshim_error_wrap (err, "companions of `%.12s`", anchor_id);
  bool any_skipped = false;
  for (size_t i = 0; i < n; i++)
    if (skip[i])
      {
        json_object_set (doc->u.array.values[i], "ignored", json_new_bool (true));
        any_skipped = true;
      }
  size_t plen;
  if (any_skipped && json_emit (doc, ret_plan, &plen, err) < 0)
    return -1;
  int lk = anchor_lock (ctx, anchor_id, LOCK_WAIT_S);
  if (lk < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: companions of `%.12s`: no lock, going on",
                 anchor_id);
  cleanup_strv char **deferred = NULL;
  int rc = companion_api_reconcile (&a, anchor_id, doc, skip, false, &deferred, err);
  /* The lock file exists only while held. */
  anchor_unlock (ctx, anchor_id, lk);
  if (rc < 0)
    return -1;
  if (deferred && deferred[0] && worker (sock, -1) == 1)
    {
      /* They wait for conditions the anchor may fulfil once it runs. */
      for (char **d = deferred; *d; d++)
        {
          cleanup_error struct podshim_error *e = NULL;
          if (companion_api_start (&a, *d, &e) < 0)
            podshim_log (PODSHIM_LOG_ERROR, "podshim: companion %.12s of `%.12s`: %s", *d,
                         anchor_id, e->msg);
        }
      _exit (0);
    }
  return 0;
}

/* The removal worker's work: 0 when done. */
static int
remove_all (const struct shim_ctx *ctx, struct docker_api *a, const char *anchor_id,
            const char *pod, time_t deleted)
{
  cleanup_error struct podshim_error *e = NULL;
  if (!wait_api (a))
    return 1;
  if (anchor_alive (ctx, pod, anchor_id))
    {
      podshim_log (PODSHIM_LOG_INFO, "podshim: `%.12s` runs again: its companions stay", anchor_id);
      return 0;
    }
  cleanup_json yajl_val list = NULL;
  if (companion_api_list_of (a, anchor_id, &list, &e) < 0)
    {
      podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e->msg);
      return 1;
    }
  for (size_t i = 0; i < list->u.array.len; i++)
    {
      yajl_val c = list->u.array.values[i];
      const char *id = json_get_string (c, "Id");
      yajl_val created = json_get (c, "Created");
      cleanup_error struct podshim_error *e2 = NULL;
      if (id == NULL)
        continue;
      /* Made after this delete: a new start's (Created is in seconds). */
      if (created && created->type == yajl_t_number
          && (created->u.number.flags & YAJL_NUMBER_INT_VALID) && created->u.number.i > deleted)
        continue;
      podshim_log (PODSHIM_LOG_INFO, "podshim: removing companion %.12s of deleted `%.12s`", id,
                   anchor_id);
      if (companion_api_remove (a, id, &e2) < 0)
        podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e2->msg);
    }
  return 0;
}

void
companion_remove_detached (const struct shim_ctx *ctx, const char *anchor_id, const char *pod)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_free char *sock = companion_docker_socket (ctx, &e);
  struct docker_api a = { .sock = sock };
  if (sock == NULL)
    return;
  time_t deleted = time (NULL);
  /* Held by the worker until it is done: a start of the anchor waits. */
  int lk = anchor_lock (ctx, anchor_id, 5);
  int r = worker (sock, lk);
  if (r < 0)
    anchor_unlock (ctx, anchor_id, lk); /* no worker took it over */
  else if (r == 0 && lk >= 0)
    close (lk); /* the worker's copy holds it */
  if (r != 1)
    return;
  int rc = remove_all (ctx, &a, anchor_id, pod, deleted);
  anchor_unlock (ctx, anchor_id, lk >= 0 ? 3 : -1);
  _exit (rc);
}

/* The refused companion `id` of `of` (in pod key), in a detached worker: once
   the API answers, removes it, unless it runs or its anchor does again. The
   anchor's lock is held only around that inspect and removal (a forged
   companion-of cannot hold a real anchor's lock while the API is away). */
static int
remove_refused (const struct shim_ctx *ctx, struct docker_api *a, const char *key, const char *id,
                const char *of)
{
  /* Give dockerd time to record the failed start before the removal. */
  sleep (1);
  if (!wait_api (a))
    return 1;
  cleanup_error struct podshim_error *e = NULL;
  int lk = anchor_lock (ctx, of, LOCK_WAIT_S);
  cleanup_json yajl_val doc = NULL;
  int r = companion_api_inspect (a, id, &doc, &e);
  static const char *const running[] = { "State", "Running", NULL };
  yajl_val v = json_get_path (doc, running);
  const char *its = json_get_string (json_get_path (doc, label_path), COMPANION_OF_LABEL);
  if (r < 0)
    podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e->msg);
  else if (r == 200 && (its == NULL || strcmp (its, of) != 0))
    podshim_log (PODSHIM_LOG_WARNING,
                 "podshim: container %.12s is not a companion of `%.12s` (any more): kept", id, of);
  else if (r == 200 && ((v && v->type == yajl_t_true) || anchor_alive (ctx, key, of)))
    podshim_log (PODSHIM_LOG_INFO,
                 "podshim: companion %.12s runs again (its anchor `%.12s` is back): kept", id, of);
  else if (r == 200 && companion_api_remove (a, id, &e) < 0)
    podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e->msg);
  else if (r == 200)
    podshim_log (PODSHIM_LOG_INFO, "podshim: removed companion %.12s of gone `%.12s`", id, of);
  anchor_unlock (ctx, of, lk);
  return 0;
}

int
companion_check_anchor (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels_doc,
                        const char *key, const char *id, struct podshim_error **err)
{
  const char *of, *name;
  companion_labels (spec, labels_doc, &of, &name);
  if (of == NULL)
    return 0;
  /* Only Docker's own containers may drive Docker's API: a containerd, CRI
     or podman caller could name any container it likes. */
  if (labels_doc == NULL)
    return podshim_error_set (err, 0,
                              "%s is podshim's own label for the companions it makes through"
                              " the Docker API; this container was not made by Docker (it has"
                              " no config.v2.json): refused",
                              COMPANION_OF_LABEL);
  if (!container_id_valid (of))
    return podshim_error_set (err, 0, "invalid %s `%.80s`", COMPANION_OF_LABEL, of);
  if (anchor_alive (ctx, key, of))
    return 0;
  podshim_error_set (err, 0,
                     "companion `%s` of `%.12s` refused: its anchor is not running in pod `%s`"
                     " (a companion never runs without its anchor); it is being removed",
                     name ? name : "?", of, key);
  cleanup_error struct podshim_error *e = NULL;
  cleanup_free char *sock = companion_docker_socket (ctx, &e);
  struct docker_api a = { .sock = sock };
  if (sock == NULL || !container_id_valid (id) || worker (sock, -1) != 1)
    return -1;
  _exit (remove_refused (ctx, &a, key, id, of));
}

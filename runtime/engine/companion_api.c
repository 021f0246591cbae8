/* Companions through the Docker Engine API: made at the anchor's start,
 * removed after its delete, refused without their anchor (companion.h). */
#include "config.h"
#include "companion.h"
#include "fsutil.h"
#include "dockerapi.h"
#include "http.h"
#include "log.h"
#include "pod.h"
#include "procutil.h"
#include "statedir.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bounds of the calls made while dockerd waits for the anchor's start. */
#define API_TIMEOUT_MS (15 * 1000)
#define PING_TIMEOUT_MS (3 * 1000)
#define PULL_TIMEOUT_MS (180 * 1000)
/* How long a detached worker waits for the API (dockerd's boot-time restore). */
#define API_WAIT_S 600
/* How long the anchor's start waits for the removal of its old companions. */
#define LOCK_WAIT_S 60

static const char *const label_path[] = { "Config", "Labels", NULL };

/* Pulls image when the node lacks it. */
static int
ensure_image (struct docker_api *a, const char *image, struct podshim_error **err)
{
  cleanup_free char *esc = docker_url_escape (image);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/images/%s/json", esc) < 0)
    abort ();
  {
    cleanup_http_response struct http_response r = { 0 };
    if (docker_api_call (a, "GET", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
      return -1;
    if (r.status == 200)
      return 0;
    if (r.status != 404)
      {
        cleanup_free char *m = docker_api_message (&r);
        return podshim_error_set (err, 0, "image `%s`: %s (HTTP %d)", image, m, r.status);
      }
  }
  /* fromImage without a tag would pull every tag. */
  cleanup_free char *repo = strdup (image);
  if (repo == NULL)
    abort ();
  const char *tag = "latest";
  char *slash = strrchr (repo, '/');
  char *colon = strrchr (slash ? slash : repo, ':');
  if (strchr (repo, '@'))
    tag = NULL;
  else if (colon)
    {
      *colon = '\0';
      tag = colon + 1;
    }
  cleanup_free char *resc = docker_url_escape (repo);
  cleanup_free char *tesc = docker_url_escape (tag ? tag : "");
  cleanup_free char *pull = NULL;
  if (asprintf (&pull, "/images/create?fromImage=%s%s%s", resc, tag ? "&tag=" : "", tag ? tesc : "")
      < 0)
    abort ();
  podshim_log (PODSHIM_LOG_INFO, "podshim: pulling image `%s` for a companion", image);
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "POST", pull, "", PULL_TIMEOUT_MS, &r, err) < 0)
    return podshim_error_wrap (err, "cannot pull image `%s`", image);
  if (r.status != 200)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "image `%s` is not on this node and cannot be pulled: %s",
                                image, m);
    }
  /* A 200 streams progress lines; a failure is a line with "error". */
  for (char *line = r.body; line && *line;)
    {
      char *nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      cleanup_json yajl_val d = NULL;
      cleanup_error struct podshim_error *e = NULL;
      if (json_parse (line, strlen (line), "pull progress", &d, &e) == 0)
        {
          const char *m = json_get_string (d, "error");
          if (m)
            return podshim_error_set (
                err, 0, "image `%s` is not on this node and cannot be pulled: %.400s", image, m);
        }
      line = nl ? nl + 1 : NULL;
    }
  return 0;
}

static int
api_remove (struct docker_api *a, const char *id, struct podshim_error **err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s?force=1&v=1", id) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "DELETE", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status != 204 && r.status != 404)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot remove container `%.64s`: %s", id, m);
    }
  return 0;
}

static int
api_start (struct docker_api *a, const char *id, struct podshim_error **err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/start", id) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "POST", path, NULL, API_TIMEOUT_MS * 4, &r, err) < 0)
    return -1;
  if (r.status != 204 && r.status != 304)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot start it: %s", m);
    }
  return 0;
}

/* Finds container `name`: 1 and *ret_id when it is a companion of anchor_id;
 * 0 when absent (a stale companion of another anchor is removed first). */
static int
find_companion (struct docker_api *a, const char *name, const char *anchor_id, char **ret_id,
                struct podshim_error **err)
{
  cleanup_free char *esc = docker_url_escape (name);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/json", esc) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "GET", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status == 404)
    return 0;
  cleanup_free char *m = docker_api_message (&r);
  if (r.status != 200)
    return podshim_error_set (err, 0, "cannot inspect container `%s`: %s", name, m);
  cleanup_json yajl_val doc = NULL;
  if (json_parse (r.body, r.body_len, "container inspect", &doc, err) < 0)
    return -1;
  const char *id = json_get_string (doc, "Id");
  yajl_val labels = json_get_path (doc, label_path);
  const char *of = json_get_string (labels, COMPANION_OF_LABEL);
  if (id == NULL || of == NULL)
    return podshim_error_set (
        err, 0, "the name `%s` is taken by a container that is not a companion", name);
  if (strcmp (of, anchor_id) == 0)
    {
      if ((*ret_id = strdup (id)) == NULL)
        abort ();
      return 1;
    }
  podshim_log (PODSHIM_LOG_INFO, "podshim: removing `%s`, a companion of the gone `%.12s`", name,
               of);
  if (api_remove (a, id, err) < 0)
    return -1;
  return 0;
}

static int
api_create (struct docker_api *a, const char *name, yajl_val body, char **ret_id,
            struct podshim_error **err)
{
  cleanup_free char *doc = NULL;
  size_t dlen;
  if (json_emit (body, &doc, &dlen, err) < 0)
    return -1;
  cleanup_free char *esc = docker_url_escape (name);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/create?name=%s", esc) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "POST", path, doc, API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status != 201)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot create it: %s", m);
    }
  cleanup_json yajl_val d = NULL;
  if (json_parse (r.body, r.body_len, "container create", &d, err) < 0)
    return -1;
  const char *id = json_get_string (d, "Id");
  if (id == NULL || !container_id_valid (id))
    return podshim_error_set (err, 0, "cannot create it: the API gave no container ID");
  if ((*ret_id = strdup (id)) == NULL)
    abort ();
  return 0;
}

/* Makes every companion of plan exist; starts the ones not deferred (all
 * when all is set). On failure removes what it created, and err names the
 * companion. ret_deferred: IDs left to start (NULL-terminated, owned). */
static int
reconcile (struct docker_api *a, const char *anchor_id, yajl_val plan, bool all,
           char ***ret_deferred, struct podshim_error **err)
{
  size_t n = plan->type == yajl_t_array ? plan->u.array.len : 0;
  cleanup_strv char **created = calloc (n + 1, sizeof (char *));
  cleanup_strv char **deferred = calloc (n + 1, sizeof (char *));
  if (created == NULL || deferred == NULL)
    abort ();
  size_t nc = 0, nd = 0;
  int ret = 0;
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      yajl_val e = plan->u.array.values[i];
      const char *name = json_get_string (e, "name");
      const char *cname = json_get_string (e, "container");
      const char *image = json_get_string (e, "image");
      yajl_val body = json_get_object (e, "body");
      if (name == NULL || cname == NULL || image == NULL || body == NULL)
        continue;
      cleanup_free char *id = NULL;
      int r = find_companion (a, cname, anchor_id, &id, err);
      if (r == 0 && (r = ensure_image (a, image, err)) == 0
          && (r = api_create (a, cname, body, &id, err)) == 0)
        {
          created[nc++] = strdup (id);
          podshim_log (PODSHIM_LOG_INFO, "podshim: created companion `%s` (%.12s) of `%.12s`",
                       cname, id, anchor_id);
        }
      yajl_val d = json_get (e, "deferred");
      if (r >= 0 && !all && d && d->type == yajl_t_true)
        deferred[nd++] = steal_pointer (&id);
      else if (r >= 0)
        r = api_start (a, id, err);
      if (r < 0)
        {
          podshim_error_wrap (err, "companion `%s` (container `%s`)", name, cname);
          ret = -1;
        }
    }
  if (ret < 0)
    {
      for (size_t i = 0; i < nc; i++)
        {
          cleanup_error struct podshim_error *e2 = NULL;
          if (api_remove (a, created[i], &e2) < 0)
            podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e2->msg);
        }
      return -1;
    }
  if (ret_deferred)
    *ret_deferred = steal_pointer (&deferred);
  return 0;
}

/* Forks a detached worker: returns true in it (stdio on /dev/null, its own
 * session, no descriptor of the caller's but keep), false in the caller. */
static bool
detach (int keep)
{
  pid_t pid = fork ();
  if (pid != 0)
    {
      if (pid > 0)
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
          ;
      return false;
    }
  setsid ();
  if (fork () != 0)
    _exit (0);
  int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0)
    {
      dup2 (fd, 0);
      dup2 (fd, 1);
      dup2 (fd, 2);
    }
  if (keep >= 0 && keep != 3)
    {
      dup2 (keep, 3);
      keep = 3;
    }
  close_range (keep >= 0 ? 4 : 3, ~0U, 0);
  return true;
}

/* Waits until the API answers /_ping (up to API_WAIT_S) at a version
   podshim speaks; false, logged, when it answers at none. */
static bool
wait_api (struct docker_api *a)
{
  for (int i = 0; i < API_WAIT_S; i++)
    {
      cleanup_error struct podshim_error *e = NULL;
      if (docker_api_ping (a, PING_TIMEOUT_MS, &e) == 0)
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

static void
anchor_unlock_remove (const struct shim_ctx *ctx, const char *anchor_id, int fd)
{
  cleanup_free char *p = NULL;
  if (asprintf (&p, "%s/%s/companions/%s", ctx->state_dir, ctx->rootkey, anchor_id) >= 0)
    unlink (p);
  close (fd);
}

int
companion_start (const struct shim_ctx *ctx, const char *anchor_id, const char *plan,
                 struct podshim_error **err)
{
  cleanup_free char *sock = companion_docker_socket (ctx, err);
  if (sock == NULL)
    return -1;
  struct docker_api a = { .sock = sock };
  cleanup_json yajl_val doc = NULL;
  if (json_parse (plan, strlen (plan), "companion plan", &doc, err) < 0)
    return -1;
  cleanup_error struct podshim_error *pe = NULL;
  if (docker_api_ping (&a, PING_TIMEOUT_MS, &pe) < 0 && pe->errno_ == 0)
    {
      /* It answers, at no version podshim speaks. */
      *err = steal_pointer (&pe);
      return podshim_error_wrap (err, "companions of `%.12s`", anchor_id);
    }
  if (pe)
    {
      /* dockerd restores containers before it serves the API: never wait
         for it here. */
      podshim_log (PODSHIM_LOG_INFO,
                   "podshim: companions of `%.12s` are made in the background: the Docker API"
                   " does not answer yet (%s)",
                   anchor_id, pe->msg);
      if (detach (-1))
        {
          cleanup_error struct podshim_error *e = NULL;
          /* After any removal still pending from the anchor's last delete
             (it waits for the API too). */
          cleanup_close int wlk = anchor_lock (ctx, anchor_id, API_WAIT_S);
          if (!wait_api (&a))
            podshim_log (PODSHIM_LOG_ERROR,
                         "podshim: companions of `%.12s`: no Docker API at"
                         " `%s` after %d s",
                         anchor_id, sock, API_WAIT_S);
          else if (reconcile (&a, anchor_id, doc, true, NULL, &e) < 0)
            podshim_log (PODSHIM_LOG_ERROR, "podshim: companions of `%.12s`: %s", anchor_id,
                         e->msg);
          if (wlk >= 0)
            anchor_unlock_remove (ctx, anchor_id, steal_fd (&wlk));
          _exit (0);
        }
      return 0;
    }
  cleanup_close int lk = anchor_lock (ctx, anchor_id, LOCK_WAIT_S);
  if (lk < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: companions of `%.12s`: no lock, going on",
                 anchor_id);
  cleanup_strv char **deferred = NULL;
  int rc = reconcile (&a, anchor_id, doc, false, &deferred, err);
  /* The lock file exists only while held. */
  if (lk >= 0)
    anchor_unlock_remove (ctx, anchor_id, steal_fd (&lk));
  if (rc < 0)
    return -1;
  if (deferred && deferred[0] && detach (-1))
    {
      /* They wait for conditions the anchor may fulfil once it runs. */
      for (char **d = deferred; *d; d++)
        {
          cleanup_error struct podshim_error *e = NULL;
          if (api_start (&a, *d, &e) < 0)
            podshim_log (PODSHIM_LOG_ERROR, "podshim: companion %.12s of `%.12s`: %s", *d,
                         anchor_id, e->msg);
        }
      _exit (0);
    }
  return 0;
}

void
companion_remove_detached (const struct shim_ctx *ctx, const char *anchor_id)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_free char *sock = companion_docker_socket (ctx, &e);
  struct docker_api a = { .sock = sock };
  if (sock == NULL)
    return;
  /* Held by the worker until it is done: a start of the anchor waits. */
  cleanup_close int lk = anchor_lock (ctx, anchor_id, 5);
  if (!detach (lk))
    return;
  if (!wait_api (&a))
    _exit (1);
  cleanup_free char *q = NULL;
  if (asprintf (&q, "{\"label\":[\"%s=%s\"]}", COMPANION_OF_LABEL, anchor_id) < 0)
    _exit (1);
  cleanup_free char *filt = docker_url_escape (q);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/json?all=1&filters=%s", filt) < 0)
    _exit (1);
  cleanup_http_response struct http_response r = { 0 };
  cleanup_json yajl_val list = NULL;
  if (docker_api_call (&a, "GET", path, NULL, API_TIMEOUT_MS, &r, &e) < 0 || r.status != 200
      || json_parse (r.body, r.body_len, "container list", &list, &e) < 0
      || list->type != yajl_t_array)
    {
      podshim_log (PODSHIM_LOG_ERROR, "podshim: cannot list the companions of `%.12s`: %s",
                   anchor_id, e ? e->msg : "bad answer");
      _exit (1);
    }
  for (size_t i = 0; i < list->u.array.len; i++)
    {
      const char *id = json_get_string (list->u.array.values[i], "Id");
      cleanup_error struct podshim_error *e2 = NULL;
      if (id == NULL)
        continue;
      podshim_log (PODSHIM_LOG_INFO, "podshim: removing companion %.12s of deleted `%.12s`", id,
                   anchor_id);
      if (api_remove (&a, id, &e2) < 0)
        podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e2->msg);
    }
  if (lk >= 0)
    anchor_unlock_remove (ctx, anchor_id, 3);
  _exit (0);
}

void
companion_labels (yajl_val spec, yajl_val labels_doc, const char **ret_of, const char **ret_name)
{
  yajl_val ann = json_get_object (spec, "annotations");
  yajl_val lab = json_get_path (labels_doc, label_path);
  *ret_of = json_get_string (ann, COMPANION_OF_LABEL);
  if (*ret_of == NULL)
    *ret_of = json_get_string (lab, COMPANION_OF_LABEL);
  *ret_name = json_get_string (ann, COMPANION_NAME_LABEL);
  if (*ret_name == NULL)
    *ret_name = json_get_string (lab, COMPANION_NAME_LABEL);
}

int
companion_check_anchor (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels_doc,
                        const char *key, const char *id, struct podshim_error **err)
{
  const char *of, *name;
  companion_labels (spec, labels_doc, &of, &name);
  if (of == NULL)
    return 0;
  /* Both go into pod.json: an anchor's Docker ID, a name as podshim makes it. */
  if (!companion_anchor_id_valid (of))
    return podshim_error_set (err, 0,
                              "invalid %s `%.80s%s`: not the 64-hex-digit ID of a Docker container",
                              COMPANION_OF_LABEL, of, strlen (of) > 80 ? "..." : "");
  if (name && !companion_name_valid (name))
    return podshim_error_set (err, 0, "invalid %s `%.40s%s` (%zu bytes): [a-z0-9][a-z0-9_-]{0,%d}",
                              COMPANION_NAME_LABEL, name, strlen (name) > 40 ? "..." : "",
                              strlen (name), COMPANION_NAME_MAX - 1);
  cleanup_free char *dir = NULL;
  if (asprintf (&dir, "%s/%s/pods/%s", ctx->state_dir, ctx->rootkey, key) < 0)
    abort ();
  cleanup_close int poddir = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_pod_state struct pod_state pod = { 0 };
  cleanup_error struct podshim_error *e = NULL;
  if (poddir >= 0 && pod_state_load (poddir, key, &pod, &e) == 0)
    {
      struct pod_member *m = pod_state_find (&pod, of);
      if (m && !m->creating && m->pid > 0 && proc_is_alive (m->pid, m->start))
        return 0;
    }
  podshim_error_set (err, 0,
                     "companion `%s` of `%.12s` refused: its anchor is not running in pod `%s`"
                     " (a companion never runs without its anchor); it is being removed",
                     name ? name : "?", of, key);
  cleanup_free char *sock = companion_docker_socket (ctx, &e);
  struct docker_api a = { .sock = sock };
  if (sock == NULL || !detach (-1))
    return -1;
  cleanup_error struct podshim_error *e2 = NULL;
  /* Serialised with the anchor's own reconciliation: if the anchor has
     started meanwhile and started this very container, it stays. */
  cleanup_close int lk = anchor_lock (ctx, of, API_WAIT_S);
  /* Give dockerd time to record the failed start before the removal. */
  sleep (1);
  if (!wait_api (&a))
    _exit (1);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/json", id) < 0)
    _exit (1);
  cleanup_http_response struct http_response r = { 0 };
  cleanup_json yajl_val doc = NULL;
  if (docker_api_call (&a, "GET", path, NULL, API_TIMEOUT_MS, &r, &e2) == 0 && r.status == 200
      && json_parse (r.body, r.body_len, "container inspect", &doc, &e2) == 0)
    {
      const char *const running[] = { "State", "Running", NULL };
      yajl_val v = json_get_path (doc, running);
      if (v && v->type == yajl_t_true)
        {
          podshim_log (PODSHIM_LOG_INFO,
                       "podshim: companion %.12s runs again (its anchor `%.12s` is back): kept", id,
                       of);
          _exit (0);
        }
    }
  if (api_remove (&a, id, &e2) < 0)
    podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e2->msg);
  else
    podshim_log (PODSHIM_LOG_INFO, "podshim: removed companion %.12s of gone `%.12s`", id, of);
  if (lk >= 0)
    anchor_unlock_remove (ctx, of, steal_fd (&lk));
  _exit (0);
}

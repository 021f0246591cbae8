#include "config.h"
#include "route.h"
#include "companion.h"
#include "delegate.h"
#include "fsutil.h"
#include "log.h"
#include "member.h"
#include "pod.h"
#include "procutil.h"
#include "spawn.h"
#include "startwait.h"
#include "statedir.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int
copy_class (const struct runtime_class *k, struct runtime_class *out)
{
  out->name = strdup (k->name);
  out->path = strdup (k->path);
  out->args = calloc (k->n_args + 1, sizeof (char *));
  if (out->name == NULL || out->path == NULL || out->args == NULL)
    abort ();
  for (size_t i = 0; i < k->n_args; i++)
    if ((out->args[i] = strdup (k->args[i])) == NULL)
      abort ();
  out->n_args = k->n_args;
  return 0;
}

int
route_record_from_spec (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels,
                        struct container_record *rec, struct podshim_error **err)
{
  int any = 0;
  char from[64];
  rec->wait_timeout = WAIT_TIMEOUT_DEFAULT;
  const char *name = podcfg_lookup (spec, labels, "podshim.runtime", "PODSHIM_RUNTIME", from);
  if (name && name[0] != '\0')
    {
      if (!class_name_valid (name))
        return podshim_error_set (err, 0,
                                  "invalid runtime class `%.100s` (from %s): a runtime class is"
                                  " the name of one of the podshim config's runtimes",
                                  name, from);
      cleanup_class_config struct class_config cfg = { 0 };
      if (class_config_load (ctx->cmd, &cfg, err) < 0)
        return -1;
      const struct runtime_class *k = class_config_find (&cfg, name);
      if (k == NULL)
        {
          cleanup_free char *names = class_config_names (&cfg);
          return podshim_error_set (
              err, 0,
              "unknown runtime class `%s` (from %s); the runtime classes of"
              " %s are: %s",
              name, from, ctx->cmd->shim_config ? ctx->cmd->shim_config : CLASS_CONFIG_DEFAULT,
              names);
        }
      copy_class (k, &rec->cls);
      any = 1;
    }
  const char *w = podcfg_lookup (spec, labels, "podshim.wait", "PODSHIM_WAIT", from);
  if (w && w[0] != '\0')
    {
      if (wait_list_parse (w, &rec->wait, &rec->n_wait, err) < 0)
        return podshim_error_wrap (err, "invalid %s", from);
      any = 1;
    }
  const char *ess = podcfg_lookup (spec, labels, "podshim.essential", "PODSHIM_ESSENTIAL", from);
  if (ess && ess[0] != '\0')
    {
      if (parse_go_bool (ess, &rec->essential) < 0)
        return podshim_error_set (err, 0, "invalid %s `%.64s`: want true or false", from, ess);
      any |= rec->essential;
    }
  const char *t
      = podcfg_lookup (spec, labels, "podshim.wait-timeout", "PODSHIM_WAIT_TIMEOUT", from);
  if (t && t[0] != '\0' && wait_timeout_parse (t, &rec->wait_timeout, err) < 0)
    return podshim_error_wrap (err, "invalid %s", from);
  int nc = companion_specs_from_spec (spec, labels, &rec->companion_specs, err);
  if (nc < 0)
    return -1;
  if (nc > 0)
    {
      rec->anchor_name = companion_anchor_name (labels, ctx->cmd->id ? ctx->cmd->id : "");
      any = 1;
    }
  return any;
}

/* The backing directory of pod volume dest: where rewrite_config points the
   member's bind mount. The one place to change if pod volumes move. */
static char *
volume_source (const struct shim_ctx *ctx, const char *key, const char *dest)
{
  cleanup_free char *dn = pod_volume_dirname (dest);
  cleanup_free char *data = pod_data_path (ctx, key);
  char *p = NULL;
  if (asprintf (&p, "%s/%s", data, dn) < 0)
    abort ();
  return p;
}

static int
open_root_state (const struct shim_ctx *ctx, bool create, int *ret_statefd,
                 struct podshim_error **err)
{
  return statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, create, ret_statefd, err);
}

int
route_create_begin (struct shim_ctx *ctx, struct container_record *rec,
                    const struct pod_request *req, char **ret_root, struct podshim_error **err)
{
  cleanup_free char *key = req ? pod_key (req->scope, req->name) : NULL;
  if (rec->n_wait)
    {
      if (req == NULL)
        return podshim_error_set (err, 0,
                                  "start conditions (podshim.wait) need a pod"
                                  " (podshim.pod)");
      rec->vol_dest = calloc (req->n_volumes + 1, sizeof (char *));
      rec->vol_src = calloc (req->n_volumes + 1, sizeof (char *));
      if (rec->vol_dest == NULL || rec->vol_src == NULL)
        abort ();
      for (size_t i = 0; i < req->n_volumes; i++)
        {
          if ((rec->vol_dest[i] = strdup (req->volumes[i])) == NULL)
            abort ();
          rec->vol_src[i] = volume_source (ctx, key, req->volumes[i]);
          rec->n_vols = i + 1;
        }
      if (wait_check (rec, (req->share & POD_NS_NET) != 0, err) < 0)
        return -1;
    }
  if (rec->essential && req == NULL)
    return podshim_error_set (err, 0,
                              "an essential member (podshim.essential) needs a pod"
                              " (podshim.pod)");
  if (rec->companion_specs)
    {
      if (req == NULL)
        return podshim_error_set (err, 0, "companions need a pod");
      free (rec->companions);
      rec->companions = NULL;
      if (companion_plan (rec->companion_specs, ctx->cmd->id, rec->anchor_name, req->name,
                          req->scope, &rec->companions, err)
          < 0)
        return -1;
    }
  if (req)
    rec->pod = steal_pointer (&key);
  if (rec->cls.name)
    {
      *ret_root = class_root (ctx->root, rec->cls.name);
      class_apply (ctx->cmd, &rec->cls, *ret_root);
      ctx->class_root = *ret_root;
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` runs with runtime class `%s` (%s)",
                   ctx->cmd->id, rec->cls.name, rec->cls.path);
    }
  /* The state dir's shared lock keeps `pod gc` from removing the root meanwhile. */
  cleanup_close int statefd = -1;
  cleanup_close int rootfd = open_root_state (ctx, true, &statefd, err);
  if (rootfd < 0)
    return -1;
  return container_record_save (rootfd, ctx->cmd->id, rec, err);
}

void
route_create_end (struct shim_ctx *ctx, struct container_record *rec, bool ok)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int rootfd = open_root_state (ctx, false, NULL, &e);
  if (rootfd < 0)
    return;
  if (!ok)
    {
      container_record_remove (rootfd, ctx->cmd->id);
      return;
    }
  rec->pid = member_init_pid (ctx);
  if (container_record_save (rootfd, ctx->cmd->id, rec, &e) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e->msg);
}

int
route_create_nopod (struct shim_ctx *ctx, struct container_record *rec, int *ret_status,
                    struct podshim_error **err)
{
  cleanup_free char *root = NULL;
  if (route_create_begin (ctx, rec, NULL, &root, err) < 0)
    return -1;
  int status;
  if (delegate_run (ctx->cmd, &status, err) < 0)
    {
      route_create_end (ctx, rec, false);
      return -1;
    }
  /* A foreground run has deleted its container when it returns. */
  bool fg_run = strcmp (ctx->cmd->command, "run") == 0 && !ctx->cmd->detach;
  route_create_end (ctx, rec, status == 0 && !fg_run);
  ctx->class_root = NULL;
  *ret_status = status;
  return 0;
}

/* Runs argv with stdio on /dev/null; its exit status, -1 if it did not run. */
static int
run_quiet (char **argv)
{
  struct spawn_opts o = { .argv = argv, .n_fds = 3, .fds = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL } };
  int status;
  if (spawn_run (&o, argv[0], &status, NULL) < 0)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Does the (class) runtime still know container id? `RUNTIME [globals] state ID`. */
static bool
runtime_knows (const struct runc_cmdline *c, const char *id)
{
  int end = c->command_index < 0 ? c->argc : c->command_index;
  cleanup_free char **av = calloc ((size_t)end + 3, sizeof (char *));
  if (av == NULL)
    abort ();
  for (int i = 0; i < end; i++)
    av[i] = c->argv[i];
  av[0] = (char *)delegate_runtime (c);
  av[end] = (char *)"state";
  av[end + 1] = (char *)id;
  int r = run_quiet (av);
  /* Unknown only when it ran and said so (-1, 127: it could not run). */
  return !(r > 0 && r != 127);
}

/* `kill ID SIG` through the member's own runtime: its class's (from its
   record), else the default delegate dlg with the caller's root. */
static void
kill_member (const struct shim_ctx *ctx, const char *dlg, const char *id, const char *sig)
{
  cleanup_container_record struct container_record r = { 0 };
  cleanup_free char *croot = NULL;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int rootfd = open_root_state (ctx, false, NULL, &e);
  if (rootfd >= 0 && container_record_load (rootfd, id, &r, &e) < 0
      && !podshim_error_is (e, ENOENT))
    return;
  char *av[CLASS_ARGS_MAX + 8];
  size_t n = 0;
  if (r.cls.name)
    {
      croot = class_root (ctx->root, r.cls.name);
      av[n++] = r.cls.path;
      for (size_t i = 0; i < r.cls.n_args; i++)
        av[n++] = r.cls.args[i];
    }
  else
    av[n++] = (char *)dlg;
  av[n++] = (char *)"--root";
  av[n++] = croot ? croot : ctx->root;
  av[n++] = (char *)"kill";
  av[n++] = (char *)id;
  av[n++] = (char *)sig;
  av[n] = NULL;
  (void)run_quiet (av);
}

/* The essential member `id` of pod `name` is gone: stop the others (SIGTERM,
   SIGKILL after ESSENTIAL_GRACE_S), in a detached process so that the
   caller's delete returns at once. */
static void
stop_pod_members (const struct shim_ctx *ctx, const char *dlg, const char *name, const char *id)
{
  pid_t pid = fork ();
  if (pid != 0)
    {
      if (pid > 0)
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
          ;
      return;
    }
  /* Detach: the caller (a containerd shim) waits for EOF on our stdio. */
  (void)setsid ();
  if (fork () != 0)
    _exit (0);
  int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0)
    {
      (void)dup2 (fd, 0);
      (void)dup2 (fd, 1);
      (void)dup2 (fd, 2);
    }
  /* Nor any other descriptor the caller gave us. */
  close_range (3, ~0U, 0);
  cleanup_error struct podshim_error *e = NULL;
  cleanup_free char *dir = statedir_pod_path (ctx->state_dir, ctx->rootkey, name, NULL);
  cleanup_close int poddir = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_pod_state struct pod_state pod = { 0 };
  if (poddir < 0 || pod_state_load (poddir, name, &pod, &e) < 0)
    _exit (0);
  bool any = false;
  for (size_t i = 0; i < pod.n_members; i++)
    {
      struct pod_member *m = &pod.members[i];
      if (strcmp (m->id, id) == 0 || m->pid <= 0 || !proc_is_alive (m->pid, m->start))
        continue;
      podshim_log (PODSHIM_LOG_INFO,
                   "podshim: essential member `%s` of pod `%s` is gone: stopping `%s`", id, name,
                   m->id);
      kill_member (ctx, dlg, m->id, "TERM");
      any = true;
    }
  for (int t = 0; any && t < ESSENTIAL_GRACE_S * 10; t++)
    {
      any = false;
      for (size_t i = 0; i < pod.n_members; i++)
        if (strcmp (pod.members[i].id, id) != 0 && pod.members[i].pid > 0
            && proc_is_alive (pod.members[i].pid, pod.members[i].start))
          any = true;
      if (any)
        usleep (100 * 1000);
    }
  for (size_t i = 0; any && i < pod.n_members; i++)
    if (strcmp (pod.members[i].id, id) != 0 && pod.members[i].pid > 0
        && proc_is_alive (pod.members[i].pid, pod.members[i].start))
      kill_member (ctx, dlg, pod.members[i].id, "KILL");
  _exit (0);
}

/* delete of a container without a record: a pod member's, or passed on. */
static int
delete_plain (struct shim_ctx *ctx, enum shim_outcome *ret_outcome, int *ret_status,
              struct podshim_error **err)
{
  int r = member_delete (ctx, ret_status, err);
  if (r < 0)
    return -1;
  *ret_outcome = r;
  return 0;
}

int
route_command (struct shim_ctx *ctx, const char *id, struct container_record *rec, char **ret_root,
               enum shim_outcome *ret_outcome, int *ret_status, struct podshim_error **err)
{
  struct runc_cmdline *c = ctx->cmd;
  bool is_delete = strcmp (c->command, "delete") == 0;
  *ret_outcome = SHIM_PASS_THROUGH;
  if (!container_id_valid (id))
    return is_delete ? delete_plain (ctx, ret_outcome, ret_status, err) : 0;
  /* The one lookup every command of a container pays. */
  cleanup_free char *path = statedir_record_path (ctx->state_dir, ctx->rootkey, id);
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (AT_FDCWD, path, O_NOFOLLOW, 256 * 1024, &buf, &len, &e) < 0)
    {
      if (!podshim_error_is (e, ENOENT))
        {
          *err = steal_pointer (&e);
          return -1;
        }
      return is_delete ? delete_plain (ctx, ret_outcome, ret_status, err) : 0;
    }
  if (container_record_parse (buf, len, rec, err) < 0)
    return podshim_error_wrap (err, "container `%s`", id);
  cleanup_free char *dlg = strdup (delegate_runtime (c)); /* before a class replaces it */
  if (dlg == NULL)
    abort ();
  if (rec->cls.name)
    {
      *ret_root = class_root (ctx->root, rec->cls.name);
      class_apply (c, &rec->cls, *ret_root);
      ctx->class_root = *ret_root;
    }
  bool is_start = strcmp (c->command, "start") == 0;
  if (is_start && rec->network_owner)
    member_start (ctx);
  /* Companions first: the anchor's own start conditions may wait for them. */
  if (is_start && rec->companions && companion_start (ctx, id, rec->companions, err) < 0)
    return -1;
  if (is_start && rec->n_wait > 0)
    {
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: start of `%s` waits for %zu condition(s)", id,
                   rec->n_wait);
      if (wait_conditions (rec, id, err) < 0)
        return -1;
    }
  if (!is_delete)
    return 0;

  if (delete_plain (ctx, ret_outcome, ret_status, err) < 0)
    return -1;
  if (*ret_outcome == SHIM_PASS_THROUGH && delegate_run (c, ret_status, err) < 0)
    return -1;
  *ret_outcome = SHIM_HANDLED;
  if (*ret_status == 0 || !runtime_knows (c, id))
    {
      cleanup_close int rootfd = open_root_state (ctx, false, NULL, &e);
      if (rootfd >= 0)
        container_record_remove (rootfd, id);
      if (rec->essential && rec->pod && pod_key_valid (rec->pod))
        stop_pod_members (ctx, dlg, rec->pod, id);
      if (rec->companions)
        companion_remove_detached (ctx, id);
    }
  return 0;
}

void
route_gc_records (const struct shim_ctx *ctx, int rootfd, const char *root)
{
  cleanup_close int dfd = statedir_open_sub (rootfd, STATEDIR_RECORDS, false, NULL);
  int lfd = dfd >= 0 ? dup (dfd) : -1;
  cleanup_dir DIR *d = lfd >= 0 ? fdopendir (lfd) : NULL;
  struct dirent *de;
  time_t now = time (NULL);
  while (d && (de = readdir (d)) != NULL)
    {
      struct stat st;
      if (!container_id_valid (de->d_name)
          || fstatat (dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
          || now - st.st_mtime < RECORD_GC_AGE_S)
        continue;
      cleanup_container_record struct container_record r = { 0 };
      cleanup_error struct podshim_error *e = NULL;
      cleanup_free char *croot = NULL;
      if (container_record_load (rootfd, de->d_name, &r, &e) < 0)
        continue;
      char *av[CLASS_ARGS_MAX + 8];
      size_t n = 0;
      if (r.cls.name)
        {
          croot = class_root (root, r.cls.name);
          av[n++] = r.cls.path;
          for (size_t i = 0; i < r.cls.n_args; i++)
            av[n++] = r.cls.args[i];
        }
      else
        av[n++] = (char *)delegate_runtime (ctx->cmd);
      av[n++] = (char *)"--root";
      av[n++] = croot ? croot : (char *)root;
      av[n++] = (char *)"state";
      av[n++] = de->d_name;
      av[n] = NULL;
      int s = run_quiet (av);
      if (s > 0 && s != 127)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: gc: dropping the record of `%s`", de->d_name);
          (void)unlinkat (dfd, de->d_name, 0);
        }
    }
}

#include "config.h"
#include "route.h"
#include "companion_run.h"
#include "delegate.h"
#include "fsutil.h"
#include "log.h"
#include "member.h"
#include "pod.h"
#include "procutil.h"
#include "spawn.h"
#include "statedir.h"
#include "stateformat.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
  int r = spawn_run_quiet (av);
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
  cleanup_close int rootfd
      = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &e);
  if (rootfd >= 0 && container_record_load (rootfd, id, &r, &e) < 0
      && !podshim_error_is (e, ENOENT))
    return;
  char *av[RECORD_ARGV_MAX];
  record_runtime_argv (&r, dlg, ctx->root, "kill", id, sig, av, &croot);
  (void)spawn_run_quiet (av);
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
  /* A newer podshim's record: its runtime class routes the command; its
     start, and its delete's duties, are that podshim's. */
  bool newer = container_record_newer (rec);
  cleanup_error struct podshim_error *ne = NULL;
  if (newer)
    {
      state_format_newer (rec->version, RECORD_VERSION, &ne);
      podshim_error_wrap (&ne, "container `%s`: its record `%s`", id, path);
      if (strcmp (c->command, "start") == 0)
        {
          *err = steal_pointer (&ne);
          return podshim_error_wrap (err, "cannot start it");
        }
    }
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
  /* Companions first: the anchor's own start conditions may wait for them.
     The operator's policy as the config file says now. */
  if (is_start && rec->companions)
    {
      cleanup_class_config struct class_config cfg = { 0 };
      if (class_config_load (c, &cfg, err) < 0)
        return -1;
      struct companion_start_opts o
          = { .policy = &cfg.companions, .config = class_config_path (c), .anchor_pid = rec->pid };
      cleanup_free char *kept = NULL;
      if (companion_start (ctx, id, rec->companions, &o, &kept, err) < 0)
        return -1;
      if (kept)
        {
          /* `pod list` says which were left out. */
          free (rec->companions);
          rec->companions = steal_pointer (&kept);
          cleanup_close int rootfd
              = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &e);
          if (rootfd < 0 || container_record_save (rootfd, id, rec, &e) < 0)
            podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e ? e->msg : "no state");
        }
    }
  if (is_start && rec->n_wait > 0)
    {
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: start of `%s` waits for %zu condition(s)", id,
                   rec->n_wait);
      struct start_wait w = container_record_wait (rec);
      if (wait_conditions (&w, id, err) < 0)
        return -1;
    }
  if (!is_delete)
    return 0;

  if (delete_plain (ctx, ret_outcome, ret_status, err) < 0)
    return -1;
  if (*ret_outcome == SHIM_PASS_THROUGH && delegate_run (c, ret_status, err) < 0)
    return -1;
  *ret_outcome = SHIM_HANDLED;
  if (newer)
    podshim_log (PODSHIM_LOG_WARNING,
                 "podshim: %s: it stays, and what a delete does beside the runtime's (an essential"
                 " member's pod stopped, companions removed) is left to a podshim that reads it",
                 ne->msg);
  else if (*ret_status == 0 || !runtime_knows (c, id))
    {
      cleanup_close int rootfd
          = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &e);
      if (rootfd >= 0)
        container_record_remove (rootfd, id);
      if (rec->essential && rec->pod && pod_key_valid (rec->pod))
        stop_pod_members (ctx, dlg, rec->pod, id);
      if (rec->companions)
        companion_remove_detached (ctx, id, rec->pod);
    }
  return 0;
}

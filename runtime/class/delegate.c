#include "config.h"
#include "delegate.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
log_argv (const struct runc_cmdline *c, const char *rt)
{
  if (!podshim_log_debug_enabled ())
    return;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return;
  fputs (rt, f);
  for (int i = 1; i < c->argc; i++)
    fprintf (f, " %s", c->argv[i]);
  fclose (f);
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: running %s", buf);
  free (buf);
}

int
delegate_exec (const struct runc_cmdline *c, struct podshim_error **err)
{
  const char *rt = delegate_runtime (c);
  log_argv (c, rt);
  c->argv[0] = (char *)rt;
  execvp (rt, c->argv);
  return podshim_error_set (err, errno, "cannot execute the runtime `%s`", rt);
}

static volatile sig_atomic_t child_pid;

static void
forward_signal (int sig)
{
  pid_t p = child_pid;
  if (p > 0)
    kill (p, sig);
}

int
delegate_run (const struct runc_cmdline *c, int *ret_status, struct podshim_error **err)
{
  const char *rt = delegate_runtime (c);
  log_argv (c, rt);
  c->argv[0] = (char *)rt;
  cleanup_free char *what = NULL;
  if (asprintf (&what, "the runtime `%s`", rt) < 0)
    abort ();

  sigset_t all, old;
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &old);
  struct spawn_opts o = { .argv = c->argv, .sigmask = &old };
  struct spawn_proc sp;
  if (spawn_start (&o, what, &sp, err) < 0)
    {
      sigprocmask (SIG_SETMASK, &old, NULL);
      return -1;
    }
  child_pid = sp.pid;
  struct sigaction sa;
  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  sigfillset (&sa.sa_mask);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGSEGV && s != SIGBUS && s != SIGILL
        && s != SIGFPE && s != SIGABRT && s != SIGTRAP)
      sigaction (s, &sa, NULL);
  sigprocmask (SIG_SETMASK, &old, NULL);

  int r = spawn_wait (&sp, what, ret_status, err);
  child_pid = 0;
  return r;
}

int
delegate_run_quiet (const struct runc_cmdline *c, const char *const *args)
{
  int end = c->command_index < 0 ? c->argc : c->command_index;
  size_t n = 0;
  while (args[n])
    n++;
  cleanup_free char **av = calloc ((size_t)end + n + 1, sizeof (char *));
  if (av == NULL)
    abort ();
  for (int i = 1; i < end; i++)
    av[i] = c->argv[i];
  av[0] = (char *)delegate_runtime (c);
  for (size_t i = 0; i < n; i++)
    av[end + i] = (char *)args[i];
  if (podshim_log_debug_enabled ())
    {
      cleanup_free char *line = NULL;
      size_t len = 0;
      FILE *f = open_memstream (&line, &len);
      for (size_t i = 0; f && av[i]; i++)
        fprintf (f, "%s%s", i ? " " : "", av[i]);
      if (f)
        fclose (f);
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: running %s", line ? line : "");
    }
  return spawn_run_quiet (av);
}

void
exit_like (int status)
{
  if (WIFEXITED (status))
    exit (WEXITSTATUS (status));
  if (WIFSIGNALED (status))
    {
      int sig = WTERMSIG (status);
      signal (sig, SIG_DFL);
      sigset_t s;
      sigemptyset (&s);
      sigaddset (&s, sig);
      sigprocmask (SIG_UNBLOCK, &s, NULL);
      raise (sig);
      exit (128 + sig);
    }
  exit (1);
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
  *ret = (pid_t)v;
  return 0;
}

pid_t
delegate_init_pid (const struct runc_cmdline *c, const char *root)
{
  pid_t pid = 0;
  if (c->pid_file && read_pid_file (c->pid_file, &pid) == 0)
    return pid;
  static const char *const files[] = { "state.json", "status", NULL };
  static const char *const keys[] = { "init_process_pid", "pid", NULL };
  for (int i = 0; files[i]; i++)
    {
      cleanup_free char *p = NULL, *buf = NULL;
      size_t len;
      cleanup_error struct podshim_error *e = NULL;
      cleanup_json yajl_val doc = NULL;
      if (asprintf (&p, "%s/%s/%s", root, c->id, files[i]) < 0)
        return 0;
      if (read_file_at (AT_FDCWD, p, O_NOFOLLOW, 16 * 1024 * 1024, &buf, &len, &e) < 0
          || json_parse (buf, len, p, &doc, &e) < 0)
        continue;
      yajl_val v = json_get (doc, keys[i]);
      if (v && v->type == yajl_t_number && (v->u.number.flags & YAJL_NUMBER_INT_VALID)
          && v->u.number.i > 0 && v->u.number.i <= INT32_MAX)
        return (pid_t)v->u.number.i;
    }
  return 0;
}

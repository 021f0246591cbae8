#include "config.h"
#include "delegate.h"
#include "log.h"
#include "spawn.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *
delegate_runtime (const struct runc_cmdline *c)
{
  if (c->shim_runtime)
    return c->shim_runtime;
  const char *e = getenv ("PODSHIM_DELEGATE");
  return e && *e ? e : "runc";
}

char *
delegate_root (const struct runc_cmdline *c)
{
  char *r = NULL;
  if (c->root)
    r = strdup (c->root);
  else
    {
      const char *rt = delegate_runtime (c);
      const char *base = strrchr (rt, '/');
      base = base ? base + 1 : rt;
      const char *name = strcmp (base, "crun") == 0 ? "crun" : "runc";
      const char *xdg = getenv ("XDG_RUNTIME_DIR");
      if (geteuid () != 0 && xdg && *xdg)
        {
          if (asprintf (&r, "%s/%s", xdg, name) < 0)
            r = NULL;
        }
      else if (asprintf (&r, "/run/%s", name) < 0)
        r = NULL;
    }
  if (r == NULL)
    abort ();
  return r;
}

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

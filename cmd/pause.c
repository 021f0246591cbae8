/* podshim-pause: PID 1 of a pod that shares PIDs. Reaps zombies, exits 0 on
 * SIGTERM or SIGINT, holds no privilege: no capabilities, no_new_privs, and a
 * seccomp allow-list of the few calls it makes. Static, no allocation after
 * start-up. */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void
on_signal (int sig)
{
  (void) sig; /* a handler, so signals from inside the PID namespace reach init */
}

static int
drop_capabilities (void)
{
  for (int c = 0; c <= CAP_LAST_CAP; c++)
    if (prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return -1;
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return -1;
  cap_t none = cap_init ();
  if (none == NULL)
    return -1;
  int r = cap_set_proc (none);
  cap_free (none);
  return r;
}

static int
install_seccomp (void)
{
  static const int allowed[] = {
    SCMP_SYS (rt_sigtimedwait), SCMP_SYS (rt_sigprocmask), SCMP_SYS (rt_sigreturn),
    SCMP_SYS (rt_sigaction),    SCMP_SYS (wait4),          SCMP_SYS (waitid),
    SCMP_SYS (exit),            SCMP_SYS (exit_group),     SCMP_SYS (restart_syscall),
  };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
  if (ctx == NULL)
    return -1;
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof (allowed) / sizeof (allowed[0]); i++)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, allowed[i], 0);
  if (r == 0)
    r = seccomp_load (ctx);
  seccomp_release (ctx);
  return r;
}

int
main (void)
{
  sigset_t set;
  sigfillset (&set);
  sigprocmask (SIG_BLOCK, &set, NULL);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGCHLD, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return 1;
  if (drop_capabilities () < 0)
    return 1;
  if (install_seccomp () < 0)
    return 1;

  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  for (;;)
    {
      int sig = sigwaitinfo (&set, NULL);
      if (sig == SIGTERM || sig == SIGINT)
        _exit (0);
      /* SIGCHLD (or EINTR): reap every orphan that has exited. */
      while (waitpid (-1, NULL, WNOHANG) > 0)
        ;
    }
}

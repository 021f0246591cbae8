/* Child processes: fork, set up the child's fds and signal mask, exec, learn
 * whether the exec worked (the child's errno over a CLOEXEC pipe: EOF means
 * it did), wait. Never a shell: argv as given. */
#ifndef PODSHIM_SPAWN_H
#define PODSHIM_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define SPAWN_FDS_MAX 7
#define SPAWN_KEEP (-1) /* in fds[]: the child's fd is ours, as it is */
#define SPAWN_NULL (-2) /* in fds[]: /dev/null, read-write */

struct spawn_opts
{
  const char *file;  /* NULL: argv[0] */
  char *const *argv; /* NULL-terminated */
  char *const *envp; /* NULL: ours, and file is looked up in PATH (execvp); else execve */
  int n_fds;         /* the child's fds 0 .. n_fds-1 are fds[] (0: ours, as they are) */
  int fds[SPAWN_FDS_MAX];
  bool close_fds;          /* no other fd crosses exec */
  const sigset_t *sigmask; /* the child's signal mask; NULL: ours */
};

/* What spawn_exec() returns: the step that failed, errno set. */
enum
{
  SPAWN_FAILED_SETUP = -1,
  SPAWN_FAILED_EXEC = -2,
};

/* In a child we forked: sets up fds and the signal mask as o says and execs.
 * Returns only on failure; every fd we had is still open then (those that
 * should not cross exec are CLOEXEC), so the failure can be reported. */
int spawn_exec (const struct spawn_opts *o);

/* A child started by spawn_start() or spawn_call(). */
struct spawn_proc
{
  pid_t pid;
  int exec_fd; /* reads the child's errno if its exec fails; -1: none */
};

/* Forks a child that runs spawn_exec (o). `what` names it in messages
 * ("cannot run %s"). */
int spawn_start (const struct spawn_opts *o, const char *what, struct spawn_proc *ret,
                 struct podshim_error **err);

/* Forks a child that runs fn (data) and _exits with what it returns (no exec
 * to report). */
int spawn_call (int (*fn) (void *data), void *data, const char *what, struct spawn_proc *ret,
                struct podshim_error **err);

/* Reaps the child (EINTR retried) and returns its wait status; fails, the
 * child reaped all the same, when its exec failed ("cannot execute %s"). */
int spawn_wait (struct spawn_proc *sp, const char *what, int *ret_status,
                struct podshim_error **err);

/* spawn_start() then spawn_wait(). */
int spawn_run (const struct spawn_opts *o, const char *what, int *ret_status,
               struct podshim_error **err);

/* Forks a detached worker: returns 1 in the worker (its own session, not our
 * child, cwd /, stdio on /dev/null, no descriptor of ours but keep, which
 * becomes fd 3), 0 in the caller (the intermediate child reaped), -1 when it
 * could not fork. A caller whose stdio someone reads to EOF (a containerd
 * shim) returns at once. */
int spawn_detach (int keep);

/* For a worker that only talks to sockets and files its uid owns: drops every
 * capability (all but CAP_DAC_OVERRIDE when keep_dac), from the bounding set
 * too when it may, and the ambient set, and sets no_new_privs. 0, or -errno. */
int spawn_drop_privileges (bool keep_dac);

/* Runs argv (looked up in PATH) with its stdout into *ret (NUL-terminated,
 * owned), stdin and stderr ours, and returns its wait status in *ret_status.
 * More than max bytes of output is an error whose errno_ is EFBIG; a child
 * that cannot exec exits 127, as a shell's would. */
int spawn_capture (char *const *argv, size_t max, char **ret, size_t *ret_len, int *ret_status,
                   struct podshim_error **err);

/* Runs argv (looked up in PATH) with stdio on /dev/null: its exit status, -1
 * when it did not run or was killed by a signal. */
int spawn_run_quiet (char *const *argv);

#endif

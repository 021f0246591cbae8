/* The delegate runtime (runc by default, or crun): found, exec'd for
 * pass-through, or run as a child whose status becomes ours. */
#ifndef PODSHIM_DELEGATE_H
#define PODSHIM_DELEGATE_H

#include <sys/types.h>

#include "argv.h"
#include "error.h"

/* Replaces this process with the delegate, c->argv as given but argv[0].
 * Returns only on failure. */
int delegate_exec (const struct runc_cmdline *c, struct podshim_error **err);

/* Runs the delegate as a child, forwarding every signal we receive to it, and
 * returns its wait status in *ret_status. */
int delegate_run (const struct runc_cmdline *c, int *ret_status, struct podshim_error **err);

/* Runs the delegate with c's runtime and global options (a class's, once
 * applied) but another command: `RUNTIME GLOBALS... args...`, stdio on
 * /dev/null. Its exit status, or -1 when it could not run or was killed. */
int delegate_run_quiet (const struct runc_cmdline *c, const char *const *args);

/* The container's init PID after a successful create of c: --pid-file, else
 * the delegate's own state under root (runc: state.json, crun: status). 0
 * when unknown. */
pid_t delegate_init_pid (const struct runc_cmdline *c, const char *root);

/* Exits the way a child with this wait status did: same code, or the same
 * signal re-raised. */
__attribute__ ((noreturn)) void exit_like (int wait_status);

#endif

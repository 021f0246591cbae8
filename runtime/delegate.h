/* The delegate runtime (runc by default, or crun): found, exec'd for
 * pass-through, or run as a child whose status becomes ours. */
#ifndef PODSHIM_DELEGATE_H
#define PODSHIM_DELEGATE_H

#include "argv.h"
#include "error.h"

/* --podshim-runtime, else $PODSHIM_DELEGATE, else "runc". */
const char *delegate_runtime (const struct runc_cmdline *c);

/* The state root the delegate uses: --root, else its default (/run/crun for
 * crun, /run/runc otherwise; $XDG_RUNTIME_DIR/<name> when not root). Owned. */
char *delegate_root (const struct runc_cmdline *c);

/* Replaces this process with the delegate, c->argv as given but argv[0].
 * Returns only on failure. */
int delegate_exec (const struct runc_cmdline *c, struct podshim_error **err);

/* Runs the delegate as a child, forwarding every signal we receive to it, and
 * returns its wait status in *ret_status. */
int delegate_run (const struct runc_cmdline *c, int *ret_status, struct podshim_error **err);

/* Exits the way a child with this wait status did: same code, or the same
 * signal re-raised. */
__attribute__ ((noreturn)) void exit_like (int wait_status);

#endif

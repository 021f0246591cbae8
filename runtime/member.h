/* Pod membership around the delegate's create, run, start and delete: the
 * shim's side of the transaction (pod lifecycle: lifecycle.h). */
#ifndef PODSHIM_MEMBER_H
#define PODSHIM_MEMBER_H

#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"

/* create/run. Returns 1 when the container is not a pod member (the caller
 * execs the delegate), 0 with *ret_status set when it ran the delegate. */
int member_create (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err);

/* The container's init PID after a successful create (--pid-file, else the
 * delegate's state), 0 when unknown. */
pid_t member_init_pid (const struct shim_ctx *ctx);

/* delete. Returns 1 when the container is in no pod (exec the delegate). */
int member_delete (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err);

/* Before `start`: when the container owns its pod's network, copies its
 * /etc/resolv.conf and /etc/hosts (final by now) over the pod's copies that
 * the other members mount. Best effort: warnings only, never fails start. */
void member_start (struct shim_ctx *ctx);

#endif

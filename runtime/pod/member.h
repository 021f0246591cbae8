/* Pod membership around the delegate's create, run, start and delete: the
 * shim's side of the transaction (pod lifecycle: lifecycle.h). */
#ifndef PODSHIM_MEMBER_H
#define PODSHIM_MEMBER_H

#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"

/* create/run. Returns an enum shim_outcome (ctx.h), or < 0 with err:
 * SHIM_PASS_THROUGH when the container is not a pod member (the caller execs
 * the delegate), SHIM_HANDLED with *ret_status set when it ran the delegate.
 * (An int, not a ret_ parameter: the signature stays as tests know it.) */
int member_create (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err);

/* delete. As member_create: SHIM_PASS_THROUGH when the container is in no
 * pod (exec the delegate). */
int member_delete (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err);

/* Before `start` of a container whose record says it owns its pod's network
 * (route_command): when it still does, copies its /etc/resolv.conf and
 * /etc/hosts (final by now) over the pod's copies that the other members
 * mount. Best effort: warnings only, never fails start. */
void member_start (struct shim_ctx *ctx);

#endif

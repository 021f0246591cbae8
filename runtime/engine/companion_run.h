/* What companions' runtime commands do: the anchor's start makes them
 * (companion.h's plan, through companion_api.h), the anchor's delete removes
 * them, a companion's create checks its anchor; what must wait for the API
 * (dockerd restoring containers at boot) goes to a detached worker that
 * keeps no privilege it does not need. */
#ifndef PODSHIM_COMPANION_RUN_H
#define PODSHIM_COMPANION_RUN_H

#include <sys/types.h>

#include "companion.h"
#include "companion_policy.h"
#include "ctx.h"
#include "error.h"
#include "json.h"

/* What the anchor's start goes by besides its plan. */
struct companion_start_opts
{
  const struct companion_policy *policy; /* the operator's, as the config file says now */
  const char *config;                    /* the config file's name, for messages */
  pid_t anchor_pid;                      /* the anchor's init (its record); 0: unknown */
};

/* The anchor's start: makes every companion of plan exist and run. A
 * companion declared by a label whose value only repeats the anchor's
 * image's own label is left out (unless policy->from_image_labels); one
 * whose image the policy refuses fails the start. When the API does not
 * answer (dockerd restoring containers at boot), the work goes to a detached
 * process that waits for it and does it only if the anchor's init (pid and
 * start time) still runs; returns 0 then. *ret_plan (owned) is the plan
 * to keep when this start left companions out ("ignored": true on them, for
 * `pod list`), else NULL. */
int companion_start (const struct shim_ctx *ctx, const char *anchor_id, const char *plan,
                     const struct companion_start_opts *o, char **ret_plan,
                     struct podshim_error **err);

/* The anchor's container (of pod `pod`, a key; may be NULL) is deleted:
 * removes its companions, in a detached process (dockerd may be the caller),
 * unless by then the anchor runs again (a member of its pod again, alive):
 * only companions created before this delete. */
void companion_remove_detached (const struct shim_ctx *ctx, const char *anchor_id, const char *pod);

/* A container's create: when it is a companion (label podshim.companion-of)
 * it must be a Docker container (labels_doc, its config.v2.json, not NULL:
 * only Docker's own containers drive Docker's API), and its anchor alive in
 * pod `key`; otherwise it is refused and (a Docker one) removed through the
 * API (detached). 0 when it may go on. */
int companion_check_anchor (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels_doc,
                            const char *key, const char *id, struct podshim_error **err);

#endif

/* Companions through the Docker Engine API (dockerapi.h): the calls that
 * make, start, inspect, list and remove them, and what a start asks of the
 * API and of the operator's policy before it makes any. Every call is
 * bounded in time; used by companion_run.c. */
#ifndef PODSHIM_COMPANION_API_H
#define PODSHIM_COMPANION_API_H

#include <stdbool.h>

#include "companion_policy.h"
#include "dockerapi.h"
#include "error.h"
#include "json.h"

/* Bounds of the calls made while dockerd waits for the anchor's start. */
#define COMPANION_API_TIMEOUT_MS (15 * 1000)
#define COMPANION_PING_TIMEOUT_MS (3 * 1000)

/* Makes every companion of plan (companion_plan) exist but those with
 * skip[i] or "ignored"; starts them (all when all is set, else those not
 * deferred). On failure removes what it created, and err names the
 * companion. ret_deferred (may be NULL): the IDs left to start,
 * NULL-terminated, owned. */
int companion_api_reconcile (struct docker_api *a, const char *anchor_id, yajl_val plan,
                             const bool *skip, bool all, char ***ret_deferred,
                             struct podshim_error **err);

/* Sets skip[i] for the companions of plan declared by a label that only
 * repeats the anchor's image's own (same key and value, GET
 * /images/ID/json), unless p allows image labels. A `--debug` line for
 * each; an image that cannot be read is an error (nothing is guessed). */
int companion_api_skip_image_labels (struct docker_api *a, const char *anchor_id, yajl_val plan,
                                     const struct companion_policy *p, const char *config,
                                     bool *skip, struct podshim_error **err);

/* The policy's image check (companion_image_check) over the companions not
 * skipped; with certain_only, only over those that cannot be an image's
 * label (no API asked). */
int companion_api_check_images (yajl_val plan, const bool *skip, const struct companion_policy *p,
                                const char *config, bool certain_only, struct podshim_error **err);

/* POST /containers/ID/start (204 or 304). */
int companion_api_start (struct docker_api *a, const char *id, struct podshim_error **err);

/* DELETE /containers/ID?force=1&v=1 (204 or 404). */
int companion_api_remove (struct docker_api *a, const char *id, struct podshim_error **err);

/* GET /containers/ID/json: 200 and *ret (may be NULL) the document, 404
 * (*ret NULL), or -1 with err. */
int companion_api_inspect (struct docker_api *a, const char *id, yajl_val *ret,
                           struct podshim_error **err);

/* Every container labelled podshim.companion-of=anchor_id (GET
 * /containers/json?all=1): *ret an array of the API's summaries, owned. */
int companion_api_list_of (struct docker_api *a, const char *anchor_id, yajl_val *ret,
                           struct podshim_error **err);

#endif

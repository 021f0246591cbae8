/* Start ordering: `podshim.wait` conditions a member's `start` waits for,
 * `tcp:PORT` (something listens on PORT in the pod's network namespace) and
 * `file:PATH` (PATH exists in one of the member's pod volumes). */
#ifndef PODSHIM_STARTWAIT_H
#define PODSHIM_STARTWAIT_H

#include <stddef.h>

#include "class.h"
#include "error.h"

#define WAIT_POLL_MS 50

/* Parses a comma list of conditions (at most WAIT_MAX). */
int wait_list_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err);

/* Seconds, 1..WAIT_TIMEOUT_MAX. */
int wait_timeout_parse (const char *s, int *ret, struct podshim_error **err);

/* Checks that every condition can be evaluated for this member: tcp needs the
 * pod's network namespace (shares_net), file a path under one of vol_dest. */
int wait_check (const struct container_record *r, bool shares_net, struct podshim_error **err);

/* Polls every WAIT_POLL_MS until every condition of r holds; fails naming the
 * first unmet one after r->wait_timeout seconds. */
int wait_conditions (const struct container_record *r, const char *id, struct podshim_error **err);

/* One evaluation (for tests): 1 when cond holds, 0 when not, < 0 when it
 * cannot be evaluated. */
int wait_condition_holds (const struct container_record *r, const char *cond,
                          struct podshim_error **err);

#endif

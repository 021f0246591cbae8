/* Start ordering: `podshim.wait` conditions a member's `start` waits for,
 * `tcp:PORT` (something listens on PORT in the pod's network namespace) and
 * `file:PATH` (PATH exists in one of the member's pod volumes), checked and
 * evaluated (their syntax: podcfg.h). */
#ifndef PODSHIM_STARTWAIT_H
#define PODSHIM_STARTWAIT_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "podcfg.h"

/* Every 50 ms for the first second, then less and less often, down to every
 * WAIT_POLL_MAX_MS. */
#define WAIT_POLL_MS 50
#define WAIT_POLL_MAX_MS 1000
/* The most of a /proc/net/tcp table read on a poll. */
#define WAIT_TCP_READ_MAX (1024 * 1024)

/* What a member's start waits for (borrowed from its container record). */
struct start_wait
{
  char *const *wait; /* "tcp:PORT" / "file:PATH" */
  size_t n_wait;
  int wait_timeout;      /* seconds */
  char *const *vol_dest; /* the member's pod volumes: container path ... */
  char *const *vol_src;  /* ... and its backing directory on the host */
  size_t n_vols;
  pid_t pid;                /* the member's init (its network namespace), 0 before create */
  unsigned long long start; /* its start time; 0: read at the wait (an older record) */
};

/* Checks that every condition can be evaluated for this member: tcp needs the
 * pod's network namespace (shares_net), file a path under one of vol_dest. */
int wait_check (const struct start_wait *r, bool shares_net, struct podshim_error **err);

/* Polls (WAIT_POLL_MS, backing off) until every condition of r holds; fails
 * naming the first unmet one after r->wait_timeout seconds. A tcp condition
 * reads the tables of the member's init (r->pid) through its /proc
 * directory, checked once for its start time: never those of another
 * process that got its PID. */
int wait_conditions (const struct start_wait *r, const char *id, struct podshim_error **err);

/* One evaluation (for tests): 1 when cond holds, 0 when not, < 0 when it
 * cannot be evaluated. */
int wait_condition_holds (const struct start_wait *r, const char *cond, struct podshim_error **err);

/* Is something listening on port in the /proc/net/tcp (or tcp6) table read
 * from fd? 1 or 0. The kernel lists listening sockets first: the scan stops
 * at the first socket in another state, and after WAIT_TCP_READ_MAX bytes. */
int wait_tcp_table_listens (int fd, int port);

#endif

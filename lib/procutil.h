/* Process identity: a PID plus its start time (field 22 of /proc/PID/stat),
 * so a reused PID is never taken for the process recorded. */
#ifndef PODSHIM_PROCUTIL_H
#define PODSHIM_PROCUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* Returns 0 and the start time in clock ticks, or -errno (ENOENT: no such process). */
int proc_start_time (pid_t pid, unsigned long long *ret);

/* True when pid runs and started at start_time (a zombie counts as dead). */
bool proc_is_alive (pid_t pid, unsigned long long start_time);

/* The same for the process of procfd, an open /proc/PID directory: that fd
 * stays bound to that process, so a reused PID never passes. */
bool proc_is_alive_at (int procfd, unsigned long long start_time);

#endif

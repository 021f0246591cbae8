/* Process identity: a PID plus its start time (field 22 of /proc/PID/stat),
 * so a reused PID is never taken for the process recorded. */
#ifndef PODSHIM_PROCUTIL_H
#define PODSHIM_PROCUTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Returns 0 and the start time in clock ticks, or -errno (ENOENT: no such process). */
int proc_start_time (pid_t pid, unsigned long long *ret);

/* The command name (/proc/PID/stat's, at most 15 bytes; comm[16]) and the
 * start time of pid, from one read. 0, or -errno (ENOENT: no such process). */
int proc_comm_start (pid_t pid, char comm[16], unsigned long long *ret_start);

/* True when pid runs and started at start_time (a zombie counts as dead). */
bool proc_is_alive (pid_t pid, unsigned long long start_time);

/* The same for the process of procfd, an open /proc/PID directory: that fd
 * stays bound to that process, so a reused PID never passes. */
bool proc_is_alive_at (int procfd, unsigned long long start_time);

/* Opens /proc/PID (O_DIRECTORY) of the process recorded as (pid, start):
 * what is opened through the fd is that process's, or fails once it has
 * exited, whoever has its PID by then. Returns the fd, or -ESRCH when that
 * process is gone. */
int proc_open_at_start (pid_t pid, unsigned long long start);

/* Opens /proc/PID/ns/<name> (O_CLOEXEC) of the process recorded as (pid,
 * start), through an open /proc/PID checked for that start time, so that the
 * namespace is that process's even if the PID is reused meanwhile. Returns the
 * fd, -ESRCH without err when the process is gone, or < 0 with err. */
int proc_open_ns (pid_t pid, unsigned long long start, const char *name,
                  struct podshim_error **err);

/* The real uid of the process of procfd (an open /proc/PID), or -ESRCH. */
int proc_uid_at (int procfd);

#endif

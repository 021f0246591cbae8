/* Who is behind a unix stream socket: the process that made its listener (a
 * connection's SO_PEERCRED), the listener's socket inode (sock_diag), and the
 * processes that hold it open. For telling one run of a daemon from the next
 * without asking it anything. */
#ifndef PODSHIM_SOCKPEER_H
#define PODSHIM_SOCKPEER_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Connects to the unix stream socket at path (non-blocking, CLOEXEC),
 * retrying a full backlog until deadline_ms (CLOCK_MONOTONIC, as
 * sockpeer_now_ms). Returns the fd; a connection that cannot be made fails
 * with err's errno_ set (ENOENT, ECONNREFUSED, ETIMEDOUT...). */
int unix_connect (const char *path, long long deadline_ms, struct podshim_error **err);

/* CLOCK_MONOTONIC in milliseconds. */
long long sockpeer_now_ms (void);

/* The PID of the process that called listen() on the socket at the other end
 * of connected unix socket fd (SO_PEERCRED; a daemon that made its own
 * listener, or the socket activator that made it for the daemon). 0 when
 * that process is in no PID namespace of ours. */
int unix_peer_pid (int fd, pid_t *ret, struct podshim_error **err);

/* The socket inode of the listener bound to the file whose stat(2) gave
 * (dev, ino), among the unix sockets of this network namespace (sock_diag,
 * NETLINK_SOCK_DIAG). 0, or -errno: -ENOENT when no listener is bound
 * there, other errors when sock_diag cannot be used. */
int unix_listener_inode (unsigned long long dev, unsigned long long ino, unsigned long long *ret);

/* True when process pid has an open file descriptor on socket inode
 * sock_ino (/proc/PID/fd). */
bool proc_holds_socket (pid_t pid, unsigned long long sock_ino);

/* The process named comm (/proc/PID/comm, at most 15 bytes) that holds socket
 * inode sock_ino: its PID; 0 when none does, -1 when more than one does. */
pid_t proc_socket_holder (const char *comm, unsigned long long sock_ino);

#endif

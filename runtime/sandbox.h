/* A pod's sandbox: its network, IPC and UTS namespaces, held by a holder
 * process (podshim-pause, isolated: see cmd/pause.c), and, for pods that share
 * PIDs, a PID namespace whose init is another podshim-pause. Nothing is
 * mounted in the host's mount namespace. Pods made by an older podshim pinned
 * their namespaces as bind mounts under the pod's ns/ directory: those are
 * still unpinned at teardown. */
#ifndef PODSHIM_SANDBOX_H
#define PODSHIM_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "pod.h"

/* Opens /proc/PID/ns/<bit> (O_CLOEXEC) of the process recorded as (pid,
 * start), checked through a pidfd so that the namespace is that process's
 * even if the PID is reused meanwhile. Returns the fd, -ESRCH without err when
 * the process is gone, or < 0 with err. */
int sandbox_open_ns (pid_t pid, unsigned long long start, unsigned bit,
                     struct podshim_error **err);

/* Starts podshim-pause, detached (own session, stdio on /dev/null, no
 * inherited fd), in the pod's net, ipc and uts namespaces: join_fd[i] (i =
 * 0 net, 1 ipc, 2 uts) where >= 0, a fresh namespace where -1 (a fresh uts
 * gets hostname, a fresh net its loopback up). new_pid: as PID 1 of a new PID
 * namespace. Returns once podshim-pause has isolated itself and said so, with
 * *ret_go_fd: podshim-pause exits when that fd is closed (we die) before
 * sandbox_release() was called on it, which the caller does once the process
 * is recorded. */
int sandbox_start (const int join_fd[3], bool new_pid, const char *hostname,
                   const char *pause_path, pid_t *ret_pid, unsigned long long *ret_start,
                   int *ret_go_fd, struct podshim_error **err);

/* Lets a started podshim-pause live on past us; closes *go_fd (-1 is fine). */
void sandbox_release (int *go_fd);

/* SIGKILLs (pidfd) the process recorded as (pid, start) if it still is that
 * process, and waits until it is gone. */
void sandbox_stop (pid_t pid, unsigned long long start);

/* Unpins one namespace an older podshim pinned (MNT_DETACH) and removes its
 * file. Missing is fine. */
int sandbox_unpin (int poddir_fd, unsigned ns_bit, struct podshim_error **err);

/* Stops the pause and the holder, unpins whatever an older podshim pinned. */
int sandbox_destroy (int poddir_fd, const struct pod_state *pod, struct podshim_error **err);

/* The path of podshim-pause: $PODSHIM_PAUSE, else beside our executable, else
 * the installed libexec path. Owned. */
char *sandbox_pause_path (void);

#endif

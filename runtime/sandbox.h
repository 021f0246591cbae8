/* A pod's sandbox: network, IPC and UTS namespaces pinned by bind mounts under
 * the pod's ns/ directory (as `ip netns` and CRI-O's pinns do), and, for pods
 * that share PIDs, a PID namespace whose init is podshim-pause. */
#ifndef PODSHIM_SANDBOX_H
#define PODSHIM_SANDBOX_H

#include <sys/types.h>

#include "error.h"
#include "pod.h"

/* Creates fresh net, ipc and uts namespaces, sets the hostname, brings lo up
 * and pins them as ns/net, ns/ipc, ns/uts under poddir_fd. On failure nothing
 * is left pinned. */
int sandbox_create (int poddir_fd, const char *hostname, struct podshim_error **err);

/* Starts podshim-pause as PID 1 of a new PID namespace inside the pinned
 * net/ipc/uts namespaces, detached (own session, stdio on /dev/null, no
 * inherited fds), and pins its PID namespace as ns/pid. */
int sandbox_start_pause (int poddir_fd, const char *pause_path, pid_t *ret_pid,
                         unsigned long long *ret_start, struct podshim_error **err);

/* Unpins one namespace (MNT_DETACH) and removes its file. Missing is fine. */
int sandbox_unpin (int poddir_fd, unsigned ns_bit, struct podshim_error **err);

/* Kills the pause (if it is still the process recorded) and waits until it is
 * gone, unpins every namespace. */
int sandbox_destroy (int poddir_fd, pid_t pause_pid, unsigned long long pause_start,
                     struct podshim_error **err);

/* The path of podshim-pause: $PODSHIM_PAUSE, else beside our executable, else
 * the installed libexec path. Owned. */
char *sandbox_pause_path (void);

#endif

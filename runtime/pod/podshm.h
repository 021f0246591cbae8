/* The pod's /dev/shm without a mount on the host: a tmpfs mounted at /shm in
 * the holder's own mount namespace (its empty root, see cmd/pause.c), which
 * keeps it alive between members. For an IPC-sharing member's create, podshim
 * clones it (open_tree), enters a mount namespace of its own for the time of
 * the delegate's create, and mounts the clone there at a staging directory
 * that the member's config names as its /dev/shm source. The host's mount
 * table never has it, and a podshim killed meanwhile leaves nothing: its
 * private namespace dies with it. */
#ifndef PODSHIM_PODSHM_H
#define PODSHIM_PODSHM_H

#include <sys/types.h>

#include "error.h"
#include "pod.h"

/* A detached clone (O_CLOEXEC fd) of the /dev/shm of the pod whose holder
 * is (holder, start). When the holder has none yet: taken from a live member
 * of pod that shares IPC (the holder was replaced while they ran), else a new
 * tmpfs of size bytes (nosuid, nodev, noexec, mode 1777). Returns the fd,
 * -ENOTSUP without err when the holder has no mount point for it (started by
 * an older podshim), or -1 with err. */
int podshm_open (pid_t holder, unsigned long long start, const struct pod_state *pod,
                 unsigned long long size, struct podshim_error **err);

/* A new tmpfs of size bytes for a pod's /dev/shm (nosuid, nodev, noexec,
 * mode 1777, owned by owner's root: the host's when off), detached: an O_CLOEXEC fd, or -1 with err
 * (ENOSYS: no mount API). */
int podshm_new (unsigned long long size, const struct pod_userns *owner,
                struct podshim_error **err);

/* A detached clone of the mount mnt_fd, which is mounted in our mount
 * namespace (by podshm_enter). */
int podshm_clone (int mnt_fd, struct podshim_error **err);

/* Where podshim was before it entered another mount namespace. */
struct podshm_home
{
  int ns;  /* its mount namespace, or -1 */
  int cwd; /* its working directory */
};
#define PODSHM_HOME_INIT                                                                           \
  {                                                                                                \
    .ns = -1, .cwd = -1                                                                            \
  }

/* Around the delegate's create. podshm_enter: moves podshim into a mount
 * namespace of its own (the delegate inherits it) and mounts mnt_fd (from
 * podshm_open) at stage, an existing directory; home: where to go back.
 * podshm_leave: goes back (the private namespace, with the staging mount,
 * goes when its last process has); a no-op when home is not set. */
int podshm_enter (int mnt_fd, const char *stage, struct podshm_home *home,
                  struct podshim_error **err);
void podshm_leave (struct podshm_home *home);
#define cleanup_podshm_home __attribute__ ((cleanup (podshm_leave)))

#endif

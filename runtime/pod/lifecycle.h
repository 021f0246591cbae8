/* A pod's lifecycle, under its lock: opening (and counting) pods, its holder
 * and pause, its members' liveness, and the one prune-and-teardown that
 * create, delete and `pod gc` share. */
#ifndef PODSHIM_LIFECYCLE_H
#define PODSHIM_LIFECYCLE_H

#include <stdbool.h>

#include "ctx.h"
#include "error.h"
#include "pod.h"
#include "sandbox.h"

/* What pod_open_locked holds: the pod's lock, its directory, and the state
 * dir's shared lock (`pod gc` removes no root meanwhile). */
struct pod_handles
{
  int rootfd;
  int podsfd;
  int poddir;
  int lockfd;
  int statefd;
  int locksfd;
};
#define POD_HANDLES_INIT                                                                           \
  {                                                                                                \
    -1, -1, -1, -1, -1, -1                                                                         \
  }
void pod_handles_close (struct pod_handles *h);
#define cleanup_pod_handles __attribute__ ((cleanup (pod_handles_close)))

/* Locks pod key and opens its directory. create: makes what is missing (a
 * new pod counts against shim_max_pods). Without create, a missing pod is an
 * ENOENT error (podshim_error_is) and leaves no lock file behind. */
int pod_open_locked (const struct shim_ctx *ctx, const char *key, bool create,
                     struct pod_handles *h, struct podshim_error **err);

/* Does the delegate still hold container id? Both runc and crun keep
 * <root>/<id>/. */
bool delegate_knows (const char *root, const char *id);

/* A member lives while its init does; one still being created (or without
 * a PID) while the delegate knows it. */
bool pod_member_alive (const char *root, const struct pod_member *m);

/* Gives pod a live holder if it has none (in the namespaces a live member
 * still has, the network namespace adopt_net_fd when >= 0, fresh ones for the
 * others) and saves the state. With pending (a pod without members), its
 * "ready" is left to read there; with shm_later too, it waits there for the
 * pod's /dev/shm (sandbox_send_shm). */
int pod_ensure_holder_locked (int rootfd, int poddir, struct pod_state *pod, int adopt_net_fd,
                              struct sandbox_proc *pending, bool shm_later,
                              struct podshim_error **err);
/* Gives pod a live pause (PID 1 of its PID namespace) and saves the state. */
int pod_ensure_pause_locked (int rootfd, int poddir, struct pod_state *pod,
                             struct podshim_error **err);

enum pod_prune_mode
{
  POD_PRUNE_TEARDOWN, /* an empty pod is torn down */
  POD_PRUNE_KEEP,     /* a member is about to join: an empty pod loses its sandbox and
                         volumes only, and the caller saves the state */
};

/* With the pod locked: drops dead members (and their index entries), a
 * network owner no longer a member and a dead pause. TEARDOWN also stops a
 * pause no member shares, tears an empty pod down (*ret_gone), gives living
 * members a new holder if theirs died, and saves the state if it changed or
 * dirty is set. */
int pod_prune_locked (int rootfd, int podsfd, int poddir, const char *root, struct pod_state *pod,
                      enum pod_prune_mode mode, bool dirty, bool *ret_gone,
                      struct podshim_error **err);

/* Takes member id (NULL: none) out of pod key and its index entry, removes
 * the volumes in made (dirnames a failed create made; NULL) that no member
 * names, and prunes (TEARDOWN). pod_leave takes the pod's lock; a missing
 * pod is fine. */
int pod_leave_locked (const struct shim_ctx *ctx, struct pod_handles *h, const char *key,
                      const char *id, char **made, struct podshim_error **err);
int pod_leave (const struct shim_ctx *ctx, const char *key, const char *id, char **made,
               struct podshim_error **err);

#endif

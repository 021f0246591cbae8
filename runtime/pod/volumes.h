/* A pod's volumes and its /dev/shm: its data directory under --podshim-data. */
#ifndef PODSHIM_VOLUMES_H
#define PODSHIM_VOLUMES_H

#include "error.h"
#include "json.h"
#include "ctx.h"
#include "pod.h"
#include "podcfg.h"
#include "sandbox.h"

/* Removes the pod's volumes: the data directory recorded in the pod
 * directory's `data` file, its sized volumes unmounted first. */
int pod_volumes_remove (int poddir, struct podshim_error **err);

/* After a failed create: removes the pod volumes that create made (dirnames
 * in made) unless a member still names one. */
void drop_new_volumes (const struct shim_ctx *ctx, const char *key, const struct pod_state *pod,
                       char **made);

/* Creates the pod's data directory, its volumes (new ones' dirnames appended
 * to made, every one's to the JSON array used) and, with shm_size, its
 * /dev/shm; a new volume (and the /dev/shm) is owner's root's (the host's
 * when off). */
int volumes_setup (const struct shim_ctx *ctx, int poddir, const char *key,
                   const struct pod_request *req, const struct pod_userns *owner,
                   unsigned long long shm_size, char **made, yajl_val used,
                   struct podshim_error **err);

/* The /dev/shm of an IPC-sharing member of a pod (locked, with its live
 * holder): *ret_fd, a clone of the pod's tmpfs of size bytes that lives in
 * the holder's mount namespace (runtime/podshm.h), to mount at
 * pod_shm_stage_path() for the delegate's create; returns 0. A holder
 * another create is starting is waited for until it has isolated itself;
 * pending, one this create started: if it waits for its /dev/shm
 * (pending->shm_fd), *ret_fd is a new tmpfs, which the holder is to get
 * once staged (sandbox_send_shm); else it is waited for ("ready"). Returns 1 (*ret_fd -1) for a pod
 * whose /dev/shm is a tmpfs on the host (an older podshim's pod or holder): volumes_setup() then
 * mounts or finds it there. */
int pod_shm_setup (const struct shim_ctx *ctx, int poddir, const char *key,
                   const struct pod_state *pod, unsigned long long size,
                   struct sandbox_proc *pending, int *ret_fd, struct podshim_error **err);

/* <state>/<rootkey>/pods/<key>/shm: where the member's /dev/shm source is
 * mounted, in podshim's private mount namespace only. Owned. */
char *pod_shm_stage_path (const struct shim_ctx *ctx, const char *key);

#endif

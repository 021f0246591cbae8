/* A pod's volumes and its /dev/shm: its data directory under --podshim-data. */
#ifndef PODSHIM_VOLUMES_H
#define PODSHIM_VOLUMES_H

#include "error.h"
#include "json.h"
#include "member.h"
#include "pod.h"
#include "podcfg.h"

/* Removes the pod's volumes: the data directory recorded in the pod
 * directory's `data` file, its sized volumes unmounted first. */
int pod_volumes_remove (int poddir, struct podshim_error **err);

/* After a failed create: removes the pod volumes that create made (dirnames
 * in made) unless a member still names one. */
void drop_new_volumes (const struct shim_ctx *ctx, const char *key, const struct pod_state *pod,
                       char **made);

/* Creates the pod's data directory, its volumes (new ones' dirnames appended
 * to made, every one's to the JSON array used) and, with shm_size, its
 * /dev/shm. */
int volumes_setup (const struct shim_ctx *ctx, int poddir, const char *key,
                   const struct pod_request *req, unsigned long long shm_size, char **made,
                   yajl_val used, struct podshim_error **err);

#endif

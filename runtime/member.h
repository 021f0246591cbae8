/* Pod membership around the delegate's create, run and delete: the shim's
 * side of the transaction, and pod state housekeeping shared with `pod gc`. */
#ifndef PODSHIM_MEMBER_H
#define PODSHIM_MEMBER_H

#include <stdbool.h>
#include <sys/types.h>

#include "argv.h"
#include "error.h"
#include "pod.h"
#include "statedir.h"

struct shim_ctx
{
  struct runc_cmdline *cmd;
  char *state_dir; /* absolute */
  char *data_dir;  /* absolute: pod volumes (created when a pod has one) */
  char *root;      /* the delegate's state root */
  char rootkey[STATEDIR_ROOTKEY_LEN + 1];
  const char *class_root; /* the runtime class's root, when it has one (borrowed) */
};

int shim_ctx_init (struct shim_ctx *ctx, struct runc_cmdline *cmd, struct podshim_error **err);
void shim_ctx_free (struct shim_ctx *ctx);

/* create/run. Returns 1 when the container is not a pod member (the caller
 * execs the delegate), 0 with *ret_status set when it ran the delegate. */
int member_create (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err);

/* The container's init PID after a successful create (--pid-file, else the
 * delegate's state), 0 when unknown. */
pid_t member_init_pid (const struct shim_ctx *ctx);

/* delete. Returns 1 when the container is in no pod (exec the delegate). */
int member_delete (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err);

/* Before `start`: when the container owns its pod's network, copies its
 * /etc/resolv.conf and /etc/hosts (final by now) over the pod's copies that
 * the other members mount. Best effort: warnings only, never fails start. */
void member_start (struct shim_ctx *ctx);

#define POD_MAX_PODS_DEFAULT 1000

/* The most pods a root may have: --podshim-max-pods, PODSHIM_MAX_PODS, or 1000. */
int shim_max_pods (const struct shim_ctx *ctx, long *ret, struct podshim_error **err);

/* With the pod locked: drops dead members (and their index entries) and tears
 * the sandbox down when no member is left. *ret_gone is set when the pod was
 * removed; otherwise the state is saved if it changed or dirty is set. */
int pod_prune_locked (int rootfd, int podsfd, int poddir, const char *root, struct pod_state *pod,
                      bool dirty, bool *ret_gone, struct podshim_error **err);

/* <data>/<rootkey>/<key>: the directory of pod key's volumes. Owned. */
char *pod_data_path (const struct shim_ctx *ctx, const char *key);

#endif

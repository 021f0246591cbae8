/* What every podshim command that looks at pods works with: the command
 * line, the state and data directories, the delegate's --root and its key. */
#ifndef PODSHIM_CTX_H
#define PODSHIM_CTX_H

#include "argv.h"
#include "error.h"
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

/* What a command's handler did: SHIM_PASS_THROUGH, the caller execs the
 * delegate (ctx->cmd, rewritten for a runtime class); SHIM_HANDLED, the
 * delegate ran here and its status is the caller's exit status. */
enum shim_outcome
{
  SHIM_HANDLED = 0,
  SHIM_PASS_THROUGH = 1,
};

int shim_ctx_init (struct shim_ctx *ctx, struct runc_cmdline *cmd, struct podshim_error **err);
void shim_ctx_free (struct shim_ctx *ctx);

#define POD_MAX_PODS_DEFAULT 1000

/* The most pods a root may have: --podshim-max-pods, PODSHIM_MAX_PODS, or 1000. */
int shim_max_pods (const struct shim_ctx *ctx, long *ret, struct podshim_error **err);

/* <data>/<rootkey>/<key>: the directory of pod key's volumes. Owned. */
char *pod_data_path (const struct shim_ctx *ctx, const char *key);

#endif

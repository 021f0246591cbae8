#include "config.h"
#include "ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
shim_ctx_init (struct shim_ctx *ctx, struct runc_cmdline *cmd, struct podshim_error **err)
{
  memset (ctx, 0, sizeof (*ctx));
  ctx->cmd = cmd;
  const char *s = cmd->shim_state;
  if (s == NULL)
    s = getenv ("PODSHIM_STATE");
  /* Rootless (dockerd-rootless.sh): /run and /var/lib are not ours; the
     places a rootless runtime uses are. */
  bool rootless = shim_rootless ();
  cleanup_free char *xs = NULL, *xd = NULL;
  if ((s == NULL || *s == '\0') && rootless
      && asprintf (&xs, "%s/podshim", getenv ("XDG_RUNTIME_DIR")) >= 0)
    s = xs;
  if (s == NULL || *s == '\0')
    s = STATEDIR_DEFAULT;
  /* Checked when opened: a non-member never needs it. */
  ctx->state_dir = strdup (s);
  if (ctx->state_dir == NULL)
    abort ();
  const char *d = cmd->shim_data;
  if (d == NULL)
    d = getenv ("PODSHIM_DATA");
  if ((d == NULL || *d == '\0') && rootless)
    {
      const char *xh = getenv ("XDG_DATA_HOME"), *home = getenv ("HOME");
      if (xh && xh[0] == '/')
        {
          if (asprintf (&xd, "%s/podshim", xh) >= 0)
            d = xd;
        }
      else if (home && home[0] == '/' && asprintf (&xd, "%s/.local/share/podshim", home) >= 0)
        d = xd;
    }
  if (d == NULL || *d == '\0')
    d = DATADIR_DEFAULT;
  if (d[0] != '/')
    return podshim_error_set (err, 0, "data directory `%s` is not an absolute path", d);
  ctx->data_dir = strdup (d);
  if (ctx->data_dir == NULL)
    abort ();
  /* One spelling: it is recorded and compared (`/d/` is `/d`). */
  for (size_t n = strlen (ctx->data_dir); n > 1 && ctx->data_dir[n - 1] == '/'; n--)
    ctx->data_dir[n - 1] = '\0';
  ctx->root = delegate_root (cmd);
  statedir_rootkey (ctx->root, ctx->rootkey);
  return 0;
}

void
shim_ctx_free (struct shim_ctx *ctx)
{
  free (ctx->state_dir);
  free (ctx->data_dir);
  free (ctx->root);
}

int
shim_max_pods (const struct shim_ctx *ctx, long *ret, struct podshim_error **err)
{
  const char *v = ctx->cmd->shim_max_pods;
  const char *from = "--podshim-max-pods";
  if (v == NULL && (v = getenv ("PODSHIM_MAX_PODS")) != NULL && *v != '\0')
    from = "PODSHIM_MAX_PODS";
  if (v == NULL || *v == '\0')
    {
      *ret = POD_MAX_PODS_DEFAULT;
      return 0;
    }
  char *end;
  errno = 0;
  long n = strtol (v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 1000000)
    return podshim_error_set (err, 0, "invalid %s `%.32s`: a number from 1 to 1000000", from, v);
  *ret = n;
  return 0;
}

char *
pod_data_path (const struct shim_ctx *ctx, const char *key)
{
  return statedir_data_path (ctx->data_dir, ctx->rootkey, key);
}

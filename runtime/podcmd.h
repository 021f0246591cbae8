/* `podshim pod list|inspect|gc`: podshim's own commands. */
#ifndef PODSHIM_PODCMD_H
#define PODSHIM_PODCMD_H

#include "error.h"
#include <stdio.h>

#include "ctx.h"

/* args: what follows `pod`. Writes its output to out, usage and skipped
 * pods to diag (cmd/ passes stdout and stderr). Returns the exit code, or
 * < 0 with err. */
int podcmd_main (struct shim_ctx *ctx, int argc, char **argv, FILE *out, FILE *diag,
                 struct podshim_error **err);

#endif

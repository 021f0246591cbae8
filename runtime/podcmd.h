/* `podshim pod list|inspect|gc`: podshim's own commands. */
#ifndef PODSHIM_PODCMD_H
#define PODSHIM_PODCMD_H

#include "error.h"
#include "ctx.h"

/* args: what follows `pod`. Returns the exit code, or < 0 with err. */
int podcmd_main (struct shim_ctx *ctx, int argc, char **argv, struct podshim_error **err);

#endif

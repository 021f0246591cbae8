/* `docker pod ls|inspect`: the docker CLI plugin. The pods of the daemon the
 * CLI talks to, each member by its container's name, image, status and
 * health. The pods come from the podshim binary that daemon runs (the path
 * of its runtime, `pod list --format json` / `pod inspect`, explicit argv),
 * with podshim's state directory as that runtime has it: its runtimeArgs'
 * --podshim-state, else PODSHIM_STATE in the environment its containers'
 * shims got from containerd (read from /proc), else the default. */
#ifndef PODSHIM_DOCKERPOD_H
#define PODSHIM_DOCKERPOD_H

#include <stdio.h>

#include "error.h"
#include "json.h"

/* The plugin's main: argv as the docker CLI runs it (`docker-pod [docker
 * global options] pod COMMAND ...`, or `docker-pod
 * docker-cli-plugin-metadata`). Returns the exit code, or < 0 with err. */
int dockerpod_main (int argc, char **argv, const char *version, FILE *out,
                    struct podshim_error **err);

/* The podshim runtime of a daemon's /info: the default runtime when it is
 * podshim (named so, or its path's last component is), else the runtime
 * named podshim, else the first whose path is a podshim. Sets *ret_name and
 * *ret_path (borrowed from info) and *ret_args (the runtimeArgs array, or
 * NULL); 0 when there is none. */
int dockerpod_find_runtime (yajl_val info, const char **ret_name, const char **ret_path,
                            yajl_val *ret_args);

/* The value of PODSHIM_STATE in an environ block (NUL-separated), or NULL;
 * points into env. */
const char *dockerpod_env_state (const char *env, size_t len);

#endif

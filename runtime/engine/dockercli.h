/* The docker CLI as a plugin of it (`docker pod`) sees it: the global
 * options the CLI passes on, and the daemon they (or the environment, or a
 * context) name. The Engine API itself is dockerapi.h. */
#ifndef PODSHIM_DOCKERCLI_H
#define PODSHIM_DOCKERCLI_H

#include "error.h"

#define DOCKERCLI_HOST_DEFAULT "unix:///var/run/docker.sock"

/* The docker CLI's global options, as it passes them to a plugin (before the
 * plugin's own command name). Borrowed strings; NULL when absent. */
struct docker_globals
{
  const char *host;    /* -H, --host */
  const char *context; /* -c, --context */
  const char *config;  /* --config DIR */
};

/* Parses the global options in argv[1..] up to the first word that is no
 * option (the plugin's command name), whose index goes to *ret_index (argc
 * when there is none). An option docker does not have is an error. */
int docker_globals_parse (int argc, char **argv, struct docker_globals *ret, int *ret_index,
                          struct podshim_error **err);

/* The daemon's address as the CLI resolves it: --context, -H, DOCKER_HOST,
 * DOCKER_CONTEXT, the config's currentContext, the default. A context is
 * asked of the CLI itself (`docker context inspect`: cli names it, e.g.
 * $DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND). Owned. */
int docker_host_resolve (const struct docker_globals *g, const char *cli, char **ret,
                         struct podshim_error **err);

#endif

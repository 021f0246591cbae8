/* The Docker Engine API as `docker pod` (the CLI plugin) reads it: which
 * daemon the docker CLI talks to, and GETs of JSON documents from it. Every
 * call of the plugin goes through here, with the API version chosen once. */
#ifndef PODSHIM_DOCKERAPI_H
#define PODSHIM_DOCKERAPI_H

#include "error.h"
#include "json.h"

#define DOCKERAPI_HOST_DEFAULT "unix:///var/run/docker.sock"
/* The newest API version the plugin asks for: the fields it reads are in
 * every version since 1.24; a newer daemon serves this one too. */
#define DOCKERAPI_VERSION_MAX "1.51"
#define DOCKERAPI_TIMEOUT_MS (15 * 1000)

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

struct dockerapi
{
  char *host; /* as resolved */
  char *sock; /* its unix socket */
  char version[16];
};

void dockerapi_close (struct dockerapi *a);
static inline void
cleanup_dockerapip (struct dockerapi *a)
{
  dockerapi_close (a);
}
#define cleanup_dockerapi __attribute__ ((cleanup (cleanup_dockerapip)))

/* Connects to host (unix:// only: the pods are this node's) and picks the
 * API version: the daemon's own, at most DOCKERAPI_VERSION_MAX. */
int dockerapi_open (const char *host, struct dockerapi *ret, struct podshim_error **err);

/* GET path (e.g. "/info"): *ret the parsed JSON body of a 200. A 404 is an
 * error whose errno_ is ENOENT. */
int dockerapi_get (const struct dockerapi *a, const char *path, yajl_val *ret,
                   struct podshim_error **err);

/* GET /containers/ID/json. An ID that is no container ID is an error whose
 * errno_ is ENOENT, as a 404. */
int dockerapi_inspect (const struct dockerapi *a, const char *id, yajl_val *ret,
                       struct podshim_error **err);

/* The version the daemon serves, capped at max ("1.41" style); pure, for
 * tests. Returns false when v is not MAJOR.MINOR. */
bool dockerapi_pick_version (const char *v, const char *max, char out[16]);

#endif

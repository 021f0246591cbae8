/* Who brings a pod its network. Decided from what the engine will plumb into
 * a member's network namespace — config.json, Docker's records of the
 * container and, where those leave it open, the Docker daemon itself — not
 * from the absence of a hook alone: a member owns the pod's network, joins
 * it, has its engine-made namespace adopted as the pod's (podman), or is
 * refused before the engine plumbs a second interface. */
#ifndef PODSHIM_NETOWNER_H
#define PODSHIM_NETOWNER_H

#include <stdbool.h>

#include "error.h"
#include "json.h"

/* What the engine puts into the member's network namespace. */
enum net_plumb
{
  NET_PLUMB_NONE,         /* no interface: --network none, host, container:, no
                             fresh namespace, the default network of a daemon
                             without its bridge ("bridge": "none"), not an
                             engine podshim knows */
  NET_PLUMB_HOOK,         /* Docker's setkey hook moves it in at start: podshim
                             drops the hook of a member that does not own */
  NET_PLUMB_AFTER_CREATE, /* hook-less dockerd (26.0.0, >= 28) moves it into
                             /proc/<init>/ns/net after create, as eth0 */
  NET_PLUMB_ENGINE_NETNS, /* podman made the namespace named by its path and
                             plumbed it before create */
};

/* What podshim saw of the engine beyond config.json. */
struct net_engine
{
  char *docker_mode;   /* Docker's NetworkMode (hostconfig.json); NULL: not Docker */
  bool default_bridge; /* Docker: its one network is the daemon's default bridge
                          (NetworkMode default or bridge, config.v2.json's
                          NetworkSettings.Networks nothing else) */
  int bridge;          /* that daemon's default bridge: 1 there, 0 none, -1 unknown */
  char *name;          /* "dockerd 28.5.2", "podman": for messages; NULL: unknown */
  char *unknown;       /* why the daemon could not be asked, or NULL */
};
#define NET_ENGINE_INIT                                                                            \
  {                                                                                                \
    .bridge = -1                                                                                   \
  }
void net_engine_free (struct net_engine *e);
#define cleanup_net_engine __attribute__ ((cleanup (net_engine_free)))

/* podman's mark on a container it made: annotation io.container.manager. */
#define NETOWNER_PODMAN_ANNOTATION "io.container.manager"
#define NETOWNER_PODMAN_MANAGER "libpod"

/* Pure: what the engine plumbs for spec, given e. */
enum net_plumb netowner_plumb (yajl_val spec, const struct net_engine *e);

/* Fills e from Docker's records of container id (hostconfig.json's
 * NetworkMode; labels_doc: its config.v2.json, may be NULL) and, for podman,
 * from spec. Reads files only. */
void netowner_facts (yajl_val spec, const char *id, yajl_val labels_doc, struct net_engine *e);

/* Pure: as netowner_facts, given the NetworkMode (NULL: not Docker). */
void netowner_facts_from (yajl_val spec, const char *docker_mode, yajl_val labels_doc,
                          struct net_engine *e);

/* Pure: the Docker daemon's answers to GET /containers/json?all=1&filters=
 * {"id":[id]} (list_body), GET /networks/bridge (bridge_status, its HTTP
 * status) and GET /version (version_body) into e->bridge and e->name. An
 * error (e untouched) when they are not the answers of the daemon that made
 * container id. */
int netowner_docker_answers (const char *id, const char *list_body, int bridge_status,
                             const char *version_body, struct net_engine *e,
                             struct podshim_error **err);

/* What the Docker daemon at socket sock plumbs for container id, whose
 * directory is dir (docker_container_dir_of; may be NULL), into e->bridge
 * and e->name. From what podshim keeps of that run of the daemon
 * (dockerfacts.h, under state_dir), asked once per run, when dir is
 * <its data-root>/containers/<id>: no call to the daemon at all on the common
 * path. Otherwise asked as netowner_docker_answers reads. A daemon that does
 * not answer is given one attempt of probe_ms (nobody listening: at once);
 * each further call timeout_ms. Best effort: on failure e->unknown says
 * why. */
void netowner_ask_docker (const char *state_dir, const char *sock, const char *id, const char *dir,
                          int probe_ms, int timeout_ms, struct net_engine *e);

/* A member's part in its pod's network. */
enum net_role
{
  NET_ROLE_JOIN,  /* joins the pod's namespace, brings nothing (hook dropped) */
  NET_ROLE_OWN,   /* brings the pod its interface (hook kept) */
  NET_ROLE_ADOPT, /* owns, and its engine-made namespace becomes the pod's: the
                     holder joins it, the member keeps its path */
};

/* Pure: the role of a member that shares the pod's network and whose engine
 * plumbs p. owner: the pod's network owner (NULL: none); fresh: the pod has no
 * namespaces yet (this member is its first); own_path: the member's network
 * path (ENGINE_NETNS). Refuses a second networked member of a hook-less
 * dockerd or of podman, and a podman namespace the pod can no longer adopt,
 * naming the engine as seen (e) and what to do instead. */
int netowner_decide (enum net_plumb p, const struct net_engine *e, const char *key,
                     const char *owner, bool fresh, const char *own_path, enum net_role *ret,
                     struct podshim_error **err);

#endif

/* The config.json rewrite that makes a container a pod member. Pure: a tree in,
 * the same tree edited; golden-file tested and fuzzed. */
#ifndef PODSHIM_SPEC_H
#define PODSHIM_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "json.h"
#include "pod.h"

struct join_volume
{
  const char *destination; /* container path */
  const char *source;      /* the pod's directory for it */
};

struct join_plan
{
  unsigned share;                    /* namespaces to join */
  const char *ns_path[POD_NS_COUNT]; /* indexed by bit position: net, ipc, uts, pid */
  bool keep_network_hook;            /* this member sets up the pod's network */
  bool docker_host_network;          /* Docker `--network host`: the network path it names
                                        is the engine's own namespace, which the pod's replaces */
  bool adopt_network;                /* the member's own network path stays: the engine made
                                        that namespace and the pod adopted it (podman) */
  const char *resolv_conf;           /* with net: source for the /etc/resolv.conf mount */
  const char *hosts;                 /* with net: source for the /etc/hosts mount */
  const struct join_volume *volumes;
  size_t n_volumes;
  const char *shm; /* with ipc: the pod's /dev/shm directory, bind-mounted over the member's */
  const char *userns_path; /* the pod's user namespace, for a member with one of its own
                              (NULL: the member has none) */
};

/* The member's own user namespace: 0 when it has none (no `user` entry in
 * linux.namespaces), 1 with its mappings in *ret (checked: idmap_check).
 * Refused: a `user` entry naming a path other than a pod's (a namespace
 * of its own choosing), one without mappings, mappings without one. */
int spec_userns (yajl_val spec, struct pod_userns *ret, struct podshim_error **err);

/* The size in bytes of the container's own /dev/shm: its tmpfs `size=`
 * option, else the filesystem size of a bind mount's source (Docker's
 * `shareable` IPC mode), else 64 MiB (Docker's default). 0: no /dev/shm mount. */
unsigned long long spec_shm_size (yajl_val spec);

/* The source of spec's mount at destination dest, or NULL. */
const char *spec_mount_source (yajl_val spec, const char *dest);

/* Index into join_plan.ns_path for a POD_NS_* bit. */
int pod_ns_index (unsigned bit);

/* True when the spec carries Docker's libnetwork-setkey prestart hook. */
bool spec_has_network_hook (yajl_val spec);

/* How a container would bring an interface into the network namespace it
 * is given. */
enum spec_network
{
  SPEC_NET_NO_INTERFACE, /* none, host, container:, no fresh netns, or not Docker */
  SPEC_NET_HOOK,         /* Docker's setkey hook moves it in at start (dockerd
                            <= 25, 26.0.1-27.x); podshim can drop the hook */
  SPEC_NET_AFTER_CREATE, /* hook-less Docker (26.0.0, >= 28): dockerd moves it
                            into /proc/<init>/ns/net after create, always
                            named eth0; nothing in the config to drop */
};

/* Classifies spec from what it shows: the setkey hook, the network namespace
 * entry (none: host; with a path: joins one that exists), and Docker's
 * NetworkMode (NULL when not a Docker container). */
enum spec_network spec_network_kind (yajl_val spec, const char *docker_network_mode);

/* The path of spec's (first) network namespace entry, or NULL: none, or a
 * fresh namespace. Points into spec. */
const char *spec_network_path (yajl_val spec);

/* Edits spec in place: sets linux.namespaces[].path of each shared type (the
 * existing entry, or a new one; with adopt_network, the network entry keeps
 * its own path, which must be there), drops hostname/domainname when UTS is
 * shared, drops namespaced sysctls of shared namespaces, drops the network
 * hook unless kept, points the /etc/resolv.conf and /etc/hosts mounts at the
 * plan's files (the pod's network owner's) when it shares the network,
 * replaces the member's /dev/shm mount by a bind mount of plan->shm when it
 * shares IPC (nosuid, nodev, noexec), adds the pod volumes' bind mounts,
 * and points its `user` entry at plan->userns_path (its mappings stay: runc
 * 1.1 needs them, and later runcs check them against the namespace's). A
 * member with a user namespace and no userns_path is refused. *ret_dropped_hooks
 * counts dropped hooks (may be NULL). */
int spec_join_pod (yajl_val spec, const struct join_plan *plan, size_t *ret_dropped_hooks,
                   struct podshim_error **err);

/* True when sysctl `key` belongs to a namespace in mask. */
bool sysctl_in_namespaces (const char *key, unsigned mask);

#endif

/* Which pod a container asks for, and how: from its OCI annotations, its Docker
 * labels (config.v2.json beside its /etc/hostname), or its environment. */
#ifndef PODSHIM_PODCFG_H
#define PODSHIM_PODCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "json.h"

#define POD_VOLUMES_MAX 64
#define POD_VOLUME_PATH_MAX 4096
/* A sized volume (`/cache:64m`) is a tmpfs of that many bytes, rounded up to
 * 4 KiB pages: at least one page, at most 1 TiB. */
#define POD_VOLUME_SIZE_MAX (1ULL << 40)

struct pod_request
{
  char *name;
  unsigned share;
  char **volumes;                   /* absolute container paths, NULL-terminated */
  unsigned long long *volume_sizes; /* bytes per volume; 0: a plain directory */
  size_t n_volumes;
  char *scope; /* "compose:P" or "stack:S" (pod_scope_valid), or NULL */
};

void pod_request_free (struct pod_request *r);
static inline void
cleanup_pod_requestp (struct pod_request *r)
{
  pod_request_free (r);
}
#define cleanup_pod_request __attribute__ ((cleanup (cleanup_pod_requestp)))

/* False when config.json's bytes cannot name a pod: no "podshim"/"PODSHIM_"
 * anywhere, and no \u00XX or \/ escape that could spell them. The fast path
 * for every other container (Docker's labels: docker_labels_may_name_pod). */
bool spec_may_name_pod (const char *buf, size_t len);

typedef bool (*docker_dir_fn) (const char *dir, size_t dir_len, void *data);

/* Byte scan for Docker's container directory of `id` (valid) without parsing:
 * calls fn for the directory D of every JSON string "D/hostname" where D is
 * absolute and ends in "/<id>", a superset of what docker_labels_load reads.
 * Returns 1 when fn returned true or when an escape makes the bytes
 * uncertain (then parse), else 0. Meant for bytes spec_may_name_pod rejected. */
int spec_scan_docker_dirs (const char *buf, size_t len, const char *id, docker_dir_fn fn,
                           void *data);

/* True when config.v2.json of a directory spec_scan_docker_dirs finds holds
 * the bytes "podshim" (or the scan is uncertain). Unreadable files: false. */
bool docker_labels_may_name_pod (const char *buf, size_t len, const char *id);

/* Loads the Docker labels of container `id`: `<dir>/config.v2.json`, where dir
 * is the directory of the /etc/hostname mount's source and its basename is id.
 * *ret is the whole document (NULL when there is none or it names no podshim
 * label); labels are at Config.Labels. */
int docker_labels_load (yajl_val spec, const char *id, yajl_val *ret, struct podshim_error **err);

/* As docker_labels_load, whatever the labels are: for a container that names a
 * pod some other way (environment), whose scope labels are still needed. */
int docker_labels_load_all (yajl_val spec, const char *id, yajl_val *ret,
                            struct podshim_error **err);

/* The scope a pod member's labels (or annotations) put it in: label
 * com.docker.stack.namespace (a Swarm stack), else com.docker.compose.project
 * (a compose project). *ret is "stack:NAME", "compose:NAME" or NULL; a value
 * that is not 1-100 characters of [A-Za-z0-9_.-] is an error naming it. */
int pod_scope_from_spec (yajl_val spec, yajl_val labels_doc, char **ret,
                         struct podshim_error **err);

/* True when dockerd (< 28) says container id has `--network none`
 * (hostconfig.json beside config.v2.json): it carries a libnetwork-setkey hook
 * all the same, but has no interface to give the pod. */
bool docker_network_none (yajl_val spec, const char *id);

/* Docker's directory of container id: the directory of its /etc/hostname
 * mount's source, whose basename is id (<data-root>/containers/<id>).
 * Owned; NULL when there is none. */
char *docker_container_dir_of (yajl_val spec, const char *id);

/* Docker's NetworkMode of container id (hostconfig.json beside config.v2.json:
 * "none", "host", "container:<id>", "bridge", "default", a network name...),
 * malloc'd; NULL when it is not a Docker container or the file is unreadable. */
char *docker_network_mode (yajl_val spec, const char *id);

/* Returns 1 and fills ret when the container belongs to a pod, 0 when not,
 * < 0 on a bad value (err names it and where it came from). labels_doc may be NULL. */
int pod_request_from_spec (yajl_val spec, yajl_val labels_doc, struct pod_request *ret,
                           struct podshim_error **err);

/* As pod_request_from_spec for a pod named `name` (valid; `from` says where
 * the name came from), e.g. the pod of an anchor of companions. */
int pod_request_for_name (yajl_val spec, yajl_val labels_doc, const char *name, const char *from,
                          struct pod_request *ret, struct podshim_error **err);

/* One setting: the OCI annotation key, else the Docker label key, else the
 * environment variable envkey. *from names where it was found. NULL if unset. */
const char *podcfg_lookup (yajl_val spec, yajl_val labels_doc, const char *key, const char *envkey,
                           char from[64]);

/* Parses a comma list of volumes, each an absolute path with an optional size
 * (`/cache:64m`; k, m, g suffixes, powers of 1024). Refuses `/`, paths under
 * /proc, /sys or /dev, and a volume inside another (a member could redirect
 * the inner mount with a symlink planted in the outer, shared volume).
 * ret_sizes (may be NULL) gets bytes per volume, 0 when unsized. */
int pod_volumes_parse_sized (const char *list, char ***ret, unsigned long long **ret_sizes,
                             size_t *ret_n, struct podshim_error **err);
/* The same without sizes. */
int pod_volumes_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err);

/* The directory name under a pod's volumes/ for a container path: '/' becomes
 * '-', anything but [A-Za-z0-9_.] becomes \xHH, so names never collide. */
char *pod_volume_dirname (const char *path);

/* Start conditions (podshim.wait; evaluated by startwait.h): `tcp:PORT` and
 * `file:/ABSOLUTE/PATH`, at most WAIT_MAX; podshim.wait-timeout seconds. */
#define WAIT_MAX 16
#define WAIT_TIMEOUT_DEFAULT 60
#define WAIT_TIMEOUT_MAX 3600

/* Parses a comma list of conditions (at most WAIT_MAX). */
int wait_list_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err);

/* Seconds, 1..WAIT_TIMEOUT_MAX. */
int wait_timeout_parse (const char *s, int *ret, struct podshim_error **err);

/* The port of a `tcp:PORT` condition, -1 when cond is not one. */
int wait_tcp_port (const char *cond);

#endif

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

struct pod_request
{
  char *name;
  unsigned share;
  char **volumes; /* absolute container paths, NULL-terminated */
  size_t n_volumes;
};

void pod_request_free (struct pod_request *r);
static inline void
cleanup_pod_requestp (struct pod_request *r)
{
  pod_request_free (r);
}
#define cleanup_pod_request __attribute__ ((cleanup (cleanup_pod_requestp)))

/* False when config.json's bytes cannot name a pod: no "podshim"/"PODSHIM_"
 * anywhere, no Docker /etc/hostname mount, and no \u00XX or \/ escape that
 * could spell them. The fast path for every other container. */
bool spec_may_name_pod (const char *buf, size_t len);

/* Loads the Docker labels of container `id`: `<dir>/config.v2.json`, where dir
 * is the directory of the /etc/hostname mount's source and its basename is id.
 * *ret is the whole document (NULL when there is none or it names no podshim
 * label); labels are at Config.Labels. */
int docker_labels_load (yajl_val spec, const char *id, yajl_val *ret, struct podshim_error **err);

/* True when dockerd (< 28) says container id has `--network none`
 * (hostconfig.json beside config.v2.json): it carries a libnetwork-setkey hook
 * all the same, but has no interface to give the pod. */
bool docker_network_none (yajl_val spec, const char *id);

/* Returns 1 and fills ret when the container belongs to a pod, 0 when not,
 * < 0 on a bad value (err names it and where it came from). labels_doc may be NULL. */
int pod_request_from_spec (yajl_val spec, yajl_val labels_doc, struct pod_request *ret,
                           struct podshim_error **err);

/* One setting: the OCI annotation key, else the Docker label key, else the
 * environment variable envkey. *from names where it was found. NULL if unset. */
const char *podcfg_lookup (yajl_val spec, yajl_val labels_doc, const char *key,
                           const char *envkey, char from[64]);

/* Parses a comma list of volume paths. */
int pod_volumes_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err);

/* The directory name under a pod's volumes/ for a container path: '/' becomes
 * '-', anything but [A-Za-z0-9_.] becomes \xHH, so names never collide. */
char *pod_volume_dirname (const char *path);

#endif

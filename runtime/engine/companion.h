/* Companions: containers declared on an anchor container by
 * `podshim.companion.NAME` labels (or OCI annotations), made to exist and run
 * beside it, in its pod, through the node's Docker Engine API when the anchor
 * starts, and removed when the anchor's container is deleted. */
#ifndef PODSHIM_COMPANION_H
#define PODSHIM_COMPANION_H

#include <stdbool.h>

#include "companion_policy.h"
#include "error.h"
#include "json.h"
#include "ctx.h"
#include "pod.h"

#define COMPANION_PREFIX "podshim.companion."
#define COMPANION_MAX 8
#define COMPANION_NAME_MAX 32
#define COMPANION_VALUE_MAX (16 * 1024)
#define COMPANION_DOCKER_HOST_DEFAULT "unix:///var/run/docker.sock"
/* Labels podshim puts on a companion container. */
#define COMPANION_OF_LABEL "podshim.companion-of"
#define COMPANION_NAME_LABEL "podshim.companion-name"

/* [a-z0-9][a-z0-9_-]{0,31} */
bool companion_name_valid (const char *name);

/* Checks one companion's label value against the schema (image, command,
 * entrypoint, env, user, workdir, volumes, share, restart, wait, essential);
 * anything else is refused, naming the companion and the key. *ret (may be
 * NULL) gets the parsed object. */
int companion_spec_parse (const char *name, const char *value, yajl_val *ret,
                          struct podshim_error **err);

/* The companions a container declares (annotations win over labels of the
 * same key): 0 when none, else 1 and *ret_specs = JSON text
 * [{"name": N, "spec": {...}, "limits": {...}, "labelHash", "anchorImage"},
 * ...] (owned), all checked. limits: companion_limits_resolve against the
 * anchor's own (its config.json) and defaults (NULL: none). A label's value
 * is kept as its hash, with the anchor's image ID, so that the start can
 * tell one the image declares (companion_start). */
int companion_specs_from_spec (yajl_val spec, yajl_val labels_doc,
                               const struct companion_limits *defaults, char **ret_specs,
                               struct podshim_error **err);

/* Does the container carry any podshim.companion.* key at all? */
bool companion_declares_any (yajl_val spec, yajl_val labels_doc);

/* 16 hex digits of the FNV-1a hash of a label's value. */
void companion_label_hash (const char *value, char out[17]);

/* The pod an anchor that names none joins: its Docker container name
 * (config.v2.json `Name`) made a valid pod name, else id. Owned. */
char *companion_default_pod (yajl_val labels_doc, const char *id);

/* The anchor's Docker container name (without '/'), else id. Owned. */
char *companion_anchor_name (yajl_val labels_doc, const char *id);

/* Turns specs (companion_specs_from_spec) into the plan the record keeps:
 * JSON text [{"name", "container", "image", "deferred", "body"}], body being
 * the Engine API's container-create document. Owned. */
int companion_plan (const char *specs, const char *anchor_id, const char *anchor_name,
                    const char *pod_name, const char *scope, char **ret_plan,
                    struct podshim_error **err);

/* The Docker API socket: --podshim-docker-host, PODSHIM_DOCKER_HOST, or the
 * default. Owned; NULL with err when it is not unix://PATH. */
char *companion_docker_socket (const struct shim_ctx *ctx, struct podshim_error **err);

/* A companion's create, in pod `key`, under its lock (pod pruned: every
 * member alive): refused when the pod already has max companions. */
int companion_pod_check (const char *key, const struct pod_state *pod, const char *companion_of,
                         unsigned max, const char *config, struct podshim_error **err);

/* Reads the companion labels of a container (for pod.json): borrowed
 * strings, NULL when absent. */
void companion_labels (yajl_val spec, yajl_val labels_doc, const char **ret_of,
                       const char **ret_name);

#endif

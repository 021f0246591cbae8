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
  unsigned share;                   /* namespaces to join */
  const char *ns_path[POD_NS_COUNT]; /* indexed by bit position: net, ipc, uts, pid */
  bool keep_network_hook;           /* this member sets up the pod's network */
  const struct join_volume *volumes;
  size_t n_volumes;
};

/* Index into join_plan.ns_path for a POD_NS_* bit. */
int pod_ns_index (unsigned bit);

/* True when the spec carries Docker's libnetwork-setkey prestart hook. */
bool spec_has_network_hook (yajl_val spec);

/* Edits spec in place: sets linux.namespaces[].path of each shared type (the
 * existing entry, or a new one), drops hostname/domainname when UTS is
 * shared, drops namespaced sysctls of shared namespaces, drops the network
 * hook unless kept, adds the pod volumes' bind mounts. *ret_dropped_hooks
 * counts dropped hooks (may be NULL). */
int spec_join_pod (yajl_val spec, const struct join_plan *plan, size_t *ret_dropped_hooks,
                   struct podshim_error **err);

/* True when sysctl `key` belongs to a namespace in mask. */
bool sysctl_in_namespaces (const char *key, unsigned mask);

#endif

/* A pod's recorded state (pod.json), its lock, and the names that may become
 * paths. Knows nothing about runc. */
#ifndef PODSHIM_POD_H
#define PODSHIM_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "idmap.h"
#include "json.h"

/* The file in a pod's directory that holds its state. */
#define POD_STATE_FILE "pod.json"

enum pod_ns
{
  POD_NS_NET = 1 << 0,
  POD_NS_IPC = 1 << 1,
  POD_NS_UTS = 1 << 2,
  POD_NS_PID = 1 << 3,
};
#define POD_NS_DEFAULT (POD_NS_NET | POD_NS_IPC | POD_NS_UTS)
#define POD_NS_COUNT 4

/* Short names (net, ipc, uts, pid) and OCI types (network, ipc, uts, pid). */
const char *pod_ns_name (unsigned bit);
const char *pod_ns_oci_type (unsigned bit);
/* Parses a comma list of short names into a mask; err names a bad item. */
int pod_ns_parse_list (const char *list, unsigned *ret, struct podshim_error **err);

#define POD_NAME_MAX 128
bool pod_name_valid (const char *name);

/* A pod's scope: where its members come from, beside the delegate's --root.
 * "compose:PROJECT" or "stack:NAMESPACE", the value 1-POD_SCOPE_VALUE_MAX
 * characters of a pod name's alphabet; NULL for an unscoped pod. */
#define POD_SCOPE_VALUE_MAX 100
bool pod_scope_valid (const char *scope);

/* A pod's key: its directory under pods/ and its containers/ index entry.
 * NAME for an unscoped pod, SCOPE:NAME for a scoped one (':' is in neither a
 * name nor a scope value, so the split is unambiguous). At most 237 bytes. */
#define POD_KEY_MAX (8 + POD_SCOPE_VALUE_MAX + 1 + POD_NAME_MAX)
char *pod_key (const char *scope, const char *name);
/* Splits a key; ret_scope is NULL for an unscoped pod. Returns < 0 when key is
 * not a valid key. Both out-parameters are malloc'd. */
int pod_key_parse (const char *key, char **ret_scope, char **ret_name);
bool pod_key_valid (const char *key);
/* runc's rule: [A-Za-z0-9_+.-]+, and not "." or "..", at most 1024 bytes. */
bool container_id_valid (const char *id);

struct pod_member
{
  char *id;
  pid_t pid;                /* init PID, or the creating podshim's while creating */
  unsigned long long start; /* its start time */
  bool creating;
  unsigned share;
  yajl_val raw; /* the member's object as read: unknown fields survive */
};

struct pod_state
{
  char *name;
  char *scope; /* NULL: unscoped */
  char *root;
  unsigned pinned;  /* namespaces pinned under ns/ (older podshim) */
  pid_t holder_pid; /* holds net, ipc, uts; 0: none */
  unsigned long long holder_start;
  pid_t pause_pid; /* PID 1 of the pod's PID namespace; 0: none */
  unsigned long long pause_start;
  char *network_owner;      /* member whose network hook set up the pod's netns */
  struct pod_userns userns; /* on: its namespaces belong to a user namespace of
                               these mappings (its first member's) */
  struct pod_member *members;
  size_t n_members;
  yajl_val raw; /* pod.json as read */
};

/* Frees what p holds (not p itself) and zeroes it; NULL is fine. */
void pod_state_done (struct pod_state *p);
static inline void
cleanup_pod_statep (struct pod_state *p)
{
  pod_state_done (p);
}
#define cleanup_pod_state __attribute__ ((cleanup (cleanup_pod_statep)))

/* Reads pod.json from the pod directory. Returns 0, or < 0 with err: -ENOENT
 * (podshim_error_is (e, ENOENT)) when absent; a corrupted file is an error
 * naming it. */
int pod_state_load (int poddir_fd, const char *pod_name, struct pod_state *ret,
                    struct podshim_error **err);
/* Writes pod.json atomically, keeping fields this version does not know. */
int pod_state_save (int poddir_fd, const struct pod_state *p, struct podshim_error **err);
/* Pure: parse / emit, for tests and fuzzing. */
int pod_state_parse (const char *buf, size_t len, struct pod_state *ret,
                     struct podshim_error **err);
int pod_state_emit (const struct pod_state *p, char **ret, size_t *ret_len,
                    struct podshim_error **err);

struct pod_member *pod_state_find (struct pod_state *p, const char *id);
/* Appends a member (id copied). */
struct pod_member *pod_state_add (struct pod_state *p, const char *id);
void pod_state_remove (struct pod_state *p, const char *id);

#endif

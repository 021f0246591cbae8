/* The on-disk layout of podshim's state and data directories, their
 * permissions and their locks: no other file spells these names.
 *
 *   <state>/                    0700, ours, reached without a symlink
 *     dockerd-facts.json        what Docker daemons answered, per run of each
 *                               (runtime/engine/dockerfacts.h)
 *     <rootkey>/                one per delegate --root (statedir_rootkey)
 *       root                    the --root it stands for
 *       pods/<key>/             a pod: pod.json, data, ns/, net/
 *       locks/<key>.lock        its lock (apart: pod `web.lock` is no lock of `web`)
 *       containers/<id>         the index: the key of the pod id is in
 *       records/<id>            the container's record (class.h)
 *   <data>/<rootkey>/<key>/     a pod's volumes and /dev/shm
 *
 * Every directory is made 0700 and opened without following a symlink.
 * Every file has a format version (stateformat.h, docs/upgrades.md); the
 * one-value files' are below, pod.json's in pod.c, a record's in record.h,
 * dockerd-facts.json's in dockerfacts.h. */
#ifndef PODSHIM_STATEDIR_H
#define PODSHIM_STATEDIR_H

#include <stdbool.h>

#include "error.h"
#include "pod.h"

#define STATEDIR_DEFAULT "/run/podshim"
#define DATADIR_DEFAULT "/var/lib/podshim"

/* Entries of the state dir beside the root directories. */
#define STATEDIR_DOCKERD_FACTS "dockerd-facts.json"

/* Entries of a root directory. */
#define STATEDIR_ROOT_FILE "root"
#define STATEDIR_PODS "pods"
#define STATEDIR_LOCKS "locks"
#define STATEDIR_COMPANIONS "companions" /* companions/: per-anchor locks of companion work */
#define STATEDIR_CONTAINERS "containers"
#define STATEDIR_RECORDS "records"
#define STATEDIR_HOLDER_TEMPLATE "holder-template" /* "PID START" of a holder new ones copy */

/* Entries of a pod directory. */
#define STATEDIR_POD_STATE POD_STATE_FILE
#define STATEDIR_POD_DATA "data"       /* the pod's data directory, recorded */
#define STATEDIR_POD_NS "ns"           /* namespaces pinned by an older podshim */
#define STATEDIR_POD_NET "net"         /* the pod's resolver files */
#define STATEDIR_POD_VOLUMES "volumes" /* where an older podshim kept volumes */

/* The newest format of each one-value file that this podshim reads (and the
 * one it writes): version 1 is the bare value (stateformat.h). */
#define STATEDIR_ROOT_FILE_VERSION 1       /* root: the --root */
#define STATEDIR_INDEX_VERSION 1           /* containers/<id>: a pod key */
#define STATEDIR_HOLDER_TEMPLATE_VERSION 1 /* holder-template: "PID START\n" */
#define STATEDIR_POD_DATA_VERSION 1        /* pods/<key>/data: an absolute path */

#define STATEDIR_ROOTKEY_LEN 16
/* The key of a --root: 16 hex digits of its FNV-1a hash. */
void statedir_rootkey (const char *root, char out[STATEDIR_ROOTKEY_LEN + 1]);
bool statedir_rootkey_valid (const char *name);

/* Opens the state dir (creating it if create) as open_private_dir_path does;
 * missing without create: an ENOENT error. */
int statedir_open (const char *state_dir, bool create, struct podshim_error **err);

/* Opens <state>/<rootkey>. create: make it (and its `root` file). Missing
 * without create: an ENOENT error (podshim_error_is). ret_statefd (may be NULL):
 * the state dir, locked shared, for the caller to hold while it works in the
 * tree (`pod gc` removes an empty root only while no one holds it). */
int statedir_open_root (const char *state_dir, const char *rootkey, const char *root, bool create,
                        int *ret_statefd, struct podshim_error **err);

/* Reads the `root` file of a root directory (a newer one: STATE_FORMAT_NEWER). */
int statedir_root_read (int rootfd, char **ret, struct podshim_error **err);

/* Reads a pod directory's `data` file: the data directory its volumes are
 * in. Missing: an ENOENT error; newer: STATE_FORMAT_NEWER. */
int statedir_data_read (int poddir, char **ret, struct podshim_error **err);

/* Opens sub (STATEDIR_PODS, ...) of a root directory, creating it (0700) if
 * create. Missing without create: an ENOENT error. */
int statedir_open_sub (int rootfd, const char *sub, bool create, struct podshim_error **err);

/* Removes a root directory that holds nothing but its `root` file, if no one
 * holds the state dir statefd (a create may be about to use it). */
void statedir_remove_root_if_empty (int statefd, const char *rootkey, int rootfd);

/* Takes the exclusive lock of pod key in locksfd (file `<key>.lock`). The lock
 * file is removed at teardown (statedir_unlink_lock, still held), so a waiter
 * retries when the file it locked was unlinked. */
int statedir_lock_pod (int locksfd, const char *key, struct podshim_error **err);
void statedir_unlink_lock (int locksfd, const char *key);
/* The pod key a file of locks/ is the lock of; false when it is none. */
bool statedir_lock_key (const char *file, char ret[POD_KEY_MAX + 1]);

/* The index entry of container id: *ret_key the key of its pod. A missing
 * index or entry: 0 with *ret_key NULL. A damaged entry is an error, and so is
 * a newer one (STATE_FORMAT_NEWER: leave it be). */
int statedir_index_read (int rootfd, const char *id, char **ret_key, struct podshim_error **err);
int statedir_index_write (int rootfd, const char *id, const char *key, struct podshim_error **err);
/* Removes the entry of id if it names key (any entry when key is NULL). */
void statedir_index_remove (int rootfd, const char *id, const char *key);

/* Absolute paths, for what is handed to the delegate (owned). leaf may be
 * NULL: the directory itself. */
char *statedir_pod_path (const char *state_dir, const char *rootkey, const char *key,
                         const char *leaf);
char *statedir_record_path (const char *state_dir, const char *rootkey, const char *id);
char *statedir_data_path (const char *data_dir, const char *rootkey, const char *key);

#endif

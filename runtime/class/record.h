/* The per-container record, <state>/<rootkey>/records/<id>: what a container
 * was created with that its later commands need (its runtime class, start
 * conditions, essential flag, companion plan, network ownership). Written at
 * create for a container that has any, read by every later command of that
 * container (one failed open for all others: route.h), removed at delete. */
#ifndef PODSHIM_RECORD_H
#define PODSHIM_RECORD_H

#include <stdbool.h>
#include <sys/types.h>

#include "class.h"
#include "ctx.h"
#include "error.h"
#include "json.h"
#include "podcfg.h"
#include "startwait.h"

#define RECORD_MAX (256 * 1024)
/* The record's format: the newest read, the one written ("version"; none:
 * 1, podshim 0.1.0's). A newer record is read for its routing fields only:
 * "class", "path", "runtimeArgs" and "pod" mean the same in every version,
 * so that an older podshim still reaches the container (docs/upgrades.md). */
#define RECORD_VERSION 1

struct container_record
{
  struct runtime_class cls; /* cls.name NULL: the default delegate */
  bool network_owner;       /* owns its pod's network: refreshes its files at start */
  char **wait;              /* "tcp:PORT" / "file:PATH", NULL-terminated */
  size_t n_wait;
  int wait_timeout; /* seconds */
  char **vol_dest;  /* pod volumes: container path ... */
  char **vol_src;   /* ... and its backing directory on the host */
  size_t n_vols;
  pid_t pid; /* the init, once created (0 before) */
  bool essential;
  char *pod;
  /* Companions (companion.h): the plan, JSON text of an array, kept in the
   * record; the checked specs and the anchor's name only until create. */
  char *companions;
  char *companion_specs;
  char *anchor_name;
  unsigned long long version; /* as read; above RECORD_VERSION: routing fields only */
};

/* Written by a newer podshim: only cls and pod were read, and it is never
 * written back (container_record_emit refuses it). */
static inline bool
container_record_newer (const struct container_record *r)
{
  return r->version > RECORD_VERSION;
}

void container_record_free (struct container_record *r);
static inline void
cleanup_container_recordp (struct container_record *r)
{
  container_record_free (r);
}
#define cleanup_container_record __attribute__ ((cleanup (cleanup_container_recordp)))

/* A newer record parses (container_record_newer) with its routing fields. */
int container_record_parse (const char *buf, size_t len, struct container_record *ret,
                            struct podshim_error **err);
int container_record_emit (const struct container_record *r, char **ret, size_t *ret_len,
                           struct podshim_error **err);

/* Reads the record of id under rootfd (<state>/<rootkey>). < 0 on error,
 * ENOENT (podshim_error_is) when there is none. */
int container_record_load (int rootfd, const char *id, struct container_record *ret,
                           struct podshim_error **err);
int container_record_save (int rootfd, const char *id, const struct container_record *r,
                           struct podshim_error **err);
void container_record_remove (int rootfd, const char *id);

/* The start conditions of r, borrowed. */
static inline struct start_wait
container_record_wait (const struct container_record *r)
{
  return (struct start_wait){ r->wait,    r->n_wait, r->wait_timeout, r->vol_dest,
                              r->vol_src, r->n_vols, r->pid };
}

/* From the container's settings (podshim.runtime, podshim.wait,
 * podshim.wait-timeout, podshim.essential, podshim.companion.*): 1 and rec
 * filled when it has any, 0 when none. */
int record_from_spec (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels,
                      struct container_record *rec, struct podshim_error **err);

/* Before the delegate's create: checks rec against the pod request (NULL when
 * no pod), points ctx->cmd at the class runtime (*ret_root owns its root) and
 * saves the record. */
int record_create_begin (struct shim_ctx *ctx, struct container_record *rec,
                         const struct pod_request *req, char **ret_root,
                         struct podshim_error **err);

/* After the delegate's create: ok keeps the record (with the init PID), else
 * it is removed. */
void record_create_end (struct shim_ctx *ctx, struct container_record *rec, bool ok);

/* create of a container with a record but no pod: runs the delegate. */
int record_create_nopod (struct shim_ctx *ctx, struct container_record *rec, int *ret_status,
                         struct podshim_error **err);

/* argv (NULL-terminated, in av of at least RECORD_ARGV_MAX entries) of
 * `RUNTIME --root ROOT CMD ID [ARG]` for the container's own runtime: its
 * class's (path and runtimeArgs, root `<root>-podshim-class-NAME`, owned by
 * *ret_root) or dlg with root. Strings are borrowed from r, dlg, root, id. */
#define RECORD_ARGV_MAX (CLASS_ARGS_MAX + 8)
void record_runtime_argv (const struct container_record *r, const char *dlg, const char *root,
                          const char *cmd, const char *id, const char *arg, char **av,
                          char **ret_root);

/* `pod gc`: removes the records under rootfd (of caller's root `root`) of
 * containers their runtime's `state` no longer knows. Records younger than
 * RECORD_GC_AGE_S are kept: their create may be under way. */
#define RECORD_GC_AGE_S 300
void record_gc (const struct shim_ctx *ctx, int rootfd, const char *root);

#endif

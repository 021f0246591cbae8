/* The per-container record around the delegate's commands: written at create
 * for a container with a runtime class or start conditions, read by every
 * later command of that container (one failed open for all others), removed
 * at delete. */
#ifndef PODSHIM_ROUTE_H
#define PODSHIM_ROUTE_H

#include "class.h"
#include "json.h"
#include "ctx.h"
#include "podcfg.h"

/* Seconds the other members of a pod get between SIGTERM and SIGKILL when
 * its essential member is deleted. */
#define ESSENTIAL_GRACE_S 10

/* From the container's settings (podshim.runtime, podshim.wait,
 * podshim.wait-timeout): 1 and rec filled when it has any, 0 when none. */
int route_record_from_spec (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels,
                            struct container_record *rec, struct podshim_error **err);

/* Before the delegate's create: checks rec against the pod request (NULL when
 * no pod), points ctx->cmd at the class runtime (*ret_root owns its root) and
 * saves the record. */
int route_create_begin (struct shim_ctx *ctx, struct container_record *rec,
                        const struct pod_request *req, char **ret_root, struct podshim_error **err);

/* After the delegate's create: ok keeps the record (with the init PID), else
 * it is removed. */
void route_create_end (struct shim_ctx *ctx, struct container_record *rec, bool ok);

/* create of a container with a record but no pod: runs the delegate. */
int route_create_nopod (struct shim_ctx *ctx, struct container_record *rec, int *ret_status,
                        struct podshim_error **err);

/* Any command with a container ID but create/run (id = class_command_id):
 * its one record lookup. *ret_outcome SHIM_PASS_THROUGH: the caller execs
 * ctx->cmd (rewritten for a class: it borrows from rec and *ret_root, which
 * must live until then); SHIM_HANDLED with *ret_status: the delegate ran here
 * (delete). A network owner's start refreshes its pod's files first
 * (member_start). */
int route_command (struct shim_ctx *ctx, const char *id, struct container_record *rec,
                   char **ret_root, enum shim_outcome *ret_outcome, int *ret_status,
                   struct podshim_error **err);

/* `pod gc`: removes the records under rootfd (of caller's root `root`) of
 * containers their runtime's `state` no longer knows. Records younger than
 * RECORD_GC_AGE_S are kept: their create may be under way. */
#define RECORD_GC_AGE_S 300
void route_gc_records (const struct shim_ctx *ctx, int rootfd, const char *root);

#endif

/* The dispatch of every command that names a container (start, state, kill,
 * exec, delete, ...): its one record lookup (record.h), then the class
 * runtime, start conditions, companions and essential members it asks for;
 * create goes to member.h. */
#ifndef PODSHIM_ROUTE_H
#define PODSHIM_ROUTE_H

#include "ctx.h"
#include "record.h"

/* Seconds the other members of a pod get between SIGTERM and SIGKILL when
 * its essential member is deleted. */
#define ESSENTIAL_GRACE_S 10

/* Any command with a container ID but create/run (id = class_command_id):
 * its one record lookup. *ret_outcome SHIM_PASS_THROUGH: the caller execs
 * ctx->cmd (rewritten for a class: it borrows from rec and *ret_root, which
 * must live until then); SHIM_HANDLED with *ret_status: the delegate ran here
 * (delete). A network owner's start refreshes its pod's files first
 * (member_start). */
int route_command (struct shim_ctx *ctx, const char *id, struct container_record *rec,
                   char **ret_root, enum shim_outcome *ret_outcome, int *ret_status,
                   struct podshim_error **err);

#endif

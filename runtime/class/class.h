/* Runtime classes: other OCI runtimes (crun, runsc, kata...) named in the
 * operator's config file, selected per container by `podshim.runtime` /
 * PODSHIM_RUNTIME (the record that routes a container's later commands to
 * its class: record.h). */
#ifndef PODSHIM_CLASS_H
#define PODSHIM_CLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "argv.h"
#include "companion_policy.h"
#include "error.h"
#include "json.h"

#define CLASS_CONFIG_DEFAULT "/etc/podshim/config.json"
#define CLASS_CONFIG_MAX (1024 * 1024)
#define CLASS_NAME_MAX 64
#define CLASS_MAX 64
#define CLASS_ARGS_MAX 64
#define CLASS_ARG_MAX 4096

struct runtime_class
{
  char *name;
  char *path;  /* absolute, or a bare name looked up on PATH */
  char **args; /* runtimeArgs, NULL-terminated */
  size_t n_args;
};

struct class_config
{
  struct runtime_class *classes;
  size_t n;
  struct companion_policy companions; /* "companions" (companion_policy.h) */
};

void runtime_class_free (struct runtime_class *rc);
void class_config_free (struct class_config *cfg);
static inline void
cleanup_class_configp (struct class_config *c)
{
  class_config_free (c);
}
#define cleanup_class_config __attribute__ ((cleanup (cleanup_class_configp)))

/* 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit. */
bool class_name_valid (const char *name);

/* Parses {"runtimes": {"NAME": {"path": ..., "runtimeArgs": [...]}},
 * "companions": {...}} (companion_policy_parse); other keys are ignored.
 * `what` names the document in errors. */
int class_config_parse (const char *buf, size_t len, const char *what, struct class_config *ret,
                        struct podshim_error **err);

/* Loads --podshim-config FILE (must exist), else CLASS_CONFIG_DEFAULT when it
 * exists; an absent default is an empty config. */
int class_config_load (const struct runc_cmdline *c, struct class_config *ret,
                       struct podshim_error **err);

/* The config file's name, for messages: --podshim-config, else the default. */
const char *class_config_path (const struct runc_cmdline *c);

const struct runtime_class *class_config_find (const struct class_config *cfg, const char *name);

/* "`a`, `b`" (or "none"), for messages. Owned. */
char *class_config_names (const struct class_config *cfg);

/* The state root of class `name` for a caller's root: `<root>-podshim-class-NAME`
 * (a sibling, so `runc list` of the caller's root never sees it). Owned. */
char *class_root (const char *root, const char *name);

/* Rewrites c->argv to run class rc with its own root: argv[0] = path, then
 * runtimeArgs, then the caller's global options without --root, then
 * `--root ROOT`, the command and its arguments. Strings are borrowed from rc,
 * root and the old argv: they must outlive c. */
void class_apply (struct runc_cmdline *c, const struct runtime_class *rc, const char *root);

/* The container ID of a command that takes one first (start, state, kill,
 * exec, ps, pause, resume, update, events, delete, checkpoint), or NULL. */
const char *class_command_id (const struct runc_cmdline *c);

/* `list` over the caller's root and every configured class's root. Returns 1
 * when there is no class (the caller execs the delegate), else 0 with
 * *ret_status the exit status. */
int class_list (const struct runc_cmdline *c, const char *root, int *ret_status,
                struct podshim_error **err);

/* Fills rc (name `name`) from {"path": ..., "runtimeArgs": [...]}; `what`
 * names the document in errors. */
int class_from_json (const char *name, yajl_val v, const char *what, struct runtime_class *rc,
                     struct podshim_error **err);

/* A deep copy of k (aborts on OOM). */
void runtime_class_copy (const struct runtime_class *k, struct runtime_class *out);

#endif

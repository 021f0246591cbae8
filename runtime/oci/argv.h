/* The runc command line: `podshim [podshim opts] [runc global opts] COMMAND [ARGS]`.
 * Flags follow Go's flag package as runc (urfave/cli v1) parses them: one or
 * two dashes, `--name value` or `--name=value`, bool flags only `--name[=bool]`,
 * `--` ends the flags; command flags may follow positional arguments. */
#ifndef PODSHIM_ARGV_H
#define PODSHIM_ARGV_H

#include <stdbool.h>

#include "error.h"

struct runc_cmdline
{
  /* podshim's own options, consumed (never passed on). NULL when absent. */
  const char *shim_runtime;
  const char *shim_state;
  const char *shim_max_pods;
  const char *shim_data;
  const char *shim_config;      /* --podshim-config: runtime classes */
  const char *shim_docker_host; /* --podshim-docker-host: companions' Docker API */
  bool shim_help;               /* --podshim-help: podshim's own usage */

  /* runc global options (pointers into the caller's argv). */
  const char *root;
  const char *log;
  const char *log_format;
  bool debug;
  bool version; /* -v / --version before any command */

  /* The delegate's argv: the caller's argv without podshim's options, argv[0]
   * included, NULL-terminated. Owned (the array, not the strings). */
  char **argv;
  int argc;

  /* Index in argv of the command, or -1 when there is none. */
  int command_index;
  const char *command;

  /* For create, run and delete. */
  const char *bundle;
  const char *pid_file;
  const char *console_socket;
  const char *config; /* crun's --config FILE (create, run) */
  const char *id;     /* the first positional argument */
  int n_positional;
  /* The first argument podshim cannot classify with certainty (an option
   * neither runc 1.1-1.4 nor crun has, or a value option without its value),
   * or NULL. A pod member's command line must have none. */
  const char *uncertain;
  bool detach;
  bool force;
  bool help;
};

/* Parses argv (argc entries). On failure (a podshim option without value) sets
 * err and leaves nothing to free; runc's own errors are left for the delegate
 * to report. */
int runc_cmdline_parse (int argc, char **argv, struct runc_cmdline *ret,
                        struct podshim_error **err);

void runc_cmdline_free (struct runc_cmdline *c);

/* Parses a Go bool ("1", "t", "T", "TRUE", "true", "True", and the false forms). */
int parse_go_bool (const char *s, bool *ret);

/* The delegate and the state root this command line names. */
/* --podshim-runtime, else $PODSHIM_DELEGATE, else "runc". */
const char *delegate_runtime (const struct runc_cmdline *c);

/* The state root the delegate uses: --root, else its default (/run/crun for
 * crun, /run/runc otherwise; $XDG_RUNTIME_DIR/<name> when not root). Owned. */
/* A rootless runtime's environment, by runc's rule: $XDG_RUNTIME_DIR set, and
 * not root, or root of a user namespace other than the host's (rootlesskit,
 * under dockerd-rootless.sh) with $USER other than root. */
bool shim_rootless (void);

char *delegate_root (const struct runc_cmdline *c);

#endif

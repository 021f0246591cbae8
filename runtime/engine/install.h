/* `podshim install|uninstall ENGINE`: registers podshim with a container
 * engine. For docker, daemon.json is edited: runtimes.podshim.path, and with
 * --default default-runtime; what it takes to undo that is kept beside the
 * file (DAEMON_JSON.podshim: dockerd refuses a daemon.json with a key it does
 * not know). For podman and containerd, the configuration to add is printed
 * (their files are TOML, which podshim does not edit). */
#ifndef PODSHIM_INSTALL_H
#define PODSHIM_INSTALL_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "json.h"

#define INSTALL_DAEMON_JSON_DEFAULT "/etc/docker/daemon.json"
#define INSTALL_RUNTIME_NAME "podshim"
/* Beside daemon.json: what install did (for uninstall), and the content the
 * last write replaced. */
#define INSTALL_MEMORY_SUFFIX ".podshim"
#define INSTALL_BACKUP_SUFFIX ".podshim-backup"
#define INSTALL_FILE_MAX (1024 * 1024)
#define INSTALL_MEMORY_MAX (64 * 1024)

/* What install changed, so that uninstall undoes exactly that. */
struct install_memory
{
  char *path;             /* runtimes.podshim.path as install wrote it */
  bool created_runtimes;  /* `runtimes` was absent */
  bool created_entry;     /* runtimes.podshim was absent */
  char *previous_path;    /* its path before, when it existed (NULL: none) */
  bool set_default;       /* default-runtime was set to podshim by install */
  char *previous_default; /* default-runtime before (NULL: absent) */
};

void install_memory_free (struct install_memory *m);
static inline void
cleanup_install_memoryp (struct install_memory *m)
{
  install_memory_free (m);
}
#define cleanup_install_memory __attribute__ ((cleanup (cleanup_install_memoryp)))

/* Parses a memory file (what install_memory_emit wrote); `what` names it. */
int install_memory_parse (const char *buf, size_t len, const char *what, struct install_memory *ret,
                          struct podshim_error **err);
/* The memory file's text (owned). */
int install_memory_emit (const struct install_memory *m, char **ret, size_t *ret_len,
                         struct podshim_error **err);

/* One key the transformation changed: before/after as compact JSON, NULL
 * for absent. */
#define INSTALL_CHANGES_MAX 4
struct install_changes
{
  size_t n;
  struct
  {
    const char *key;
    char *before;
    char *after;
  } c[INSTALL_CHANGES_MAX];
  /* dockerd keeps its default runtime across a reload when daemon.json no
     longer names one: only a restart applies the change. */
  bool needs_restart;
  /* `runtimes` removed: a reload keeps the runtimes dockerd has (podshim
     stays registered, unused, until dockerd restarts). */
  bool runtimes_removed;
};

void install_changes_free (struct install_changes *ch);
static inline void
cleanup_install_changesp (struct install_changes *ch)
{
  install_changes_free (ch);
}
#define cleanup_install_changes __attribute__ ((cleanup (cleanup_install_changesp)))

/* daemon.json's text to a tree: empty (or only whitespace) is `{}`; anything
 * but an object is refused. `what` names the file in errors. */
int install_docker_parse (const char *buf, size_t len, const char *what, yajl_val *ret,
                          struct podshim_error **err);

/* Edits doc (daemon.json's tree, an object) in place: runtimes.podshim.path =
 * path, and default-runtime = podshim when set_default. old (may be NULL) is
 * the memory of an earlier install; *ret_mem gets the memory to keep. Every
 * other key and value is left as it was. */
int install_docker_apply (yajl_val doc, const char *path, bool set_default,
                          const struct install_memory *old, struct install_memory *ret_mem,
                          struct install_changes *ret_changes, struct podshim_error **err);

/* Undoes install_docker_apply on doc: runtimes.podshim removed (or its
 * earlier path put back), `runtimes` removed when install made it and it is
 * now empty, default-runtime put back to what it was (or removed when it
 * names podshim and nothing earlier is known). mem may be NULL. */
int install_docker_revert (yajl_val doc, const struct install_memory *mem,
                           struct install_changes *ret_changes, struct podshim_error **err);

/* `podshim install ...` / `podshim uninstall ...`: args are what follows the
 * command (argv[0] is the engine). Output and diagnostics to out; returns
 * the exit code, or < 0 with err. */
int install_main (bool uninstall, int argc, char **argv, FILE *out, struct podshim_error **err);

#endif

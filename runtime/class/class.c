#include "config.h"
#include "class.h"
#include "delegate.h"
#include "fsutil.h"
#include "json.h"
#include "statedir.h"
#include "spawn.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIST_OUT_MAX (64 * 1024 * 1024)

void
runtime_class_free (struct runtime_class *rc)
{
  free (rc->name);
  free (rc->path);
  if (rc->args)
    for (size_t i = 0; i < rc->n_args; i++)
      free (rc->args[i]);
  free (rc->args);
  memset (rc, 0, sizeof (*rc));
}

void
class_config_free (struct class_config *cfg)
{
  for (size_t i = 0; i < cfg->n; i++)
    runtime_class_free (&cfg->classes[i]);
  free (cfg->classes);
  companion_policy_free (&cfg->companions);
  memset (cfg, 0, sizeof (*cfg));
}

bool
class_name_valid (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > CLASS_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char ch = name[i];
      bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
      if (!alnum && (i == 0 || (ch != '_' && ch != '.' && ch != '-')))
        return false;
    }
  return true;
}

static bool
arg_valid (const char *s)
{
  return strlen (s) <= CLASS_ARG_MAX;
}

int
class_from_json (const char *name, yajl_val v, const char *what, struct runtime_class *rc,
                 struct podshim_error **err)
{
  if (v == NULL || v->type != yajl_t_object)
    return podshim_error_set (err, 0, "%s: runtime `%s` is not an object", what, name);
  const char *path = json_get_string (v, "path");
  if (path == NULL || path[0] == '\0' || strlen (path) > CLASS_ARG_MAX)
    return podshim_error_set (err, 0, "%s: runtime `%s` has no `path`", what, name);
  if (path[0] != '/' && strchr (path, '/') != NULL)
    return podshim_error_set (
        err, 0, "%s: runtime `%s`: `path` must be absolute or a bare command name", what, name);
  yajl_val args = json_get (v, "runtimeArgs");
  if (args && args->type != yajl_t_array && args->type != yajl_t_null)
    return podshim_error_set (err, 0, "%s: runtime `%s`: `runtimeArgs` is not an array", what,
                              name);
  size_t n = args && args->type == yajl_t_array ? args->u.array.len : 0;
  if (n > CLASS_ARGS_MAX)
    return podshim_error_set (err, 0, "%s: runtime `%s`: more than %d runtimeArgs", what, name,
                              CLASS_ARGS_MAX);
  rc->name = strdup (name);
  rc->path = strdup (path);
  rc->args = calloc (n + 1, sizeof (char *));
  if (rc->name == NULL || rc->path == NULL || rc->args == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      yajl_val a = args->u.array.values[i];
      if (a->type != yajl_t_string || !arg_valid (a->u.string))
        return podshim_error_set (err, 0,
                                  "%s: runtime `%s`: runtimeArgs[%zu] is not a string"
                                  " of at most %d bytes",
                                  what, name, i, CLASS_ARG_MAX);
      rc->args[i] = strdup (a->u.string);
      if (rc->args[i] == NULL)
        abort ();
      rc->n_args = i + 1;
    }
  return 0;
}

int
class_config_parse (const char *buf, size_t len, const char *what, struct class_config *ret,
                    struct podshim_error **err)
{
  cleanup_json yajl_val doc = NULL;
  if (json_parse (buf, len, what, &doc, err) < 0)
    return -1;
  if (doc->type != yajl_t_object)
    return podshim_error_set (err, 0, "%s: not a JSON object", what);
  cleanup_class_config struct class_config cfg = { 0 };
  if (companion_policy_parse (json_get (doc, "companions"), what, &cfg.companions, err) < 0)
    return -1;
  yajl_val rts = json_get (doc, "runtimes");
  if (rts == NULL || rts->type == yajl_t_null)
    {
      *ret = cfg;
      memset (&cfg, 0, sizeof (cfg));
      return 0;
    }
  if (rts->type != yajl_t_object)
    return podshim_error_set (err, 0, "%s: `runtimes` is not an object", what);
  size_t n = rts->u.object.len;
  if (n > CLASS_MAX)
    return podshim_error_set (err, 0, "%s: more than %d runtimes", what, CLASS_MAX);
  cfg.classes = calloc (n + 1, sizeof (*cfg.classes));
  if (cfg.classes == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      const char *name = rts->u.object.keys[i];
      if (!class_name_valid (name))
        return podshim_error_set (err, 0,
                                  "%s: invalid runtime name `%.100s`: 1-%d characters of"
                                  " [A-Za-z0-9_.-] starting with a letter or digit",
                                  what, name, CLASS_NAME_MAX);
      for (size_t j = 0; j < cfg.n; j++)
        if (strcmp (cfg.classes[j].name, name) == 0)
          return podshim_error_set (err, 0, "%s: runtime `%s` is defined twice", what, name);
      int r = class_from_json (name, rts->u.object.values[i], what, &cfg.classes[cfg.n], err);
      cfg.n++; /* freed with the rest, even half-filled */
      if (r < 0)
        return -1;
    }
  *ret = cfg;
  memset (&cfg, 0, sizeof (cfg));
  return 0;
}

int
class_config_load (const struct runc_cmdline *c, struct class_config *ret,
                   struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  const char *path = c->shim_config ? c->shim_config : CLASS_CONFIG_DEFAULT;
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (AT_FDCWD, path, 0, CLASS_CONFIG_MAX, &buf, &len, &e) < 0)
    {
      if (c->shim_config == NULL && podshim_error_is (e, ENOENT))
        return 0;
      *err = steal_pointer (&e);
      return podshim_error_wrap (err, "podshim config");
    }
  return class_config_parse (buf, len, path, ret, err);
}

const char *
class_config_path (const struct runc_cmdline *c)
{
  return c->shim_config ? c->shim_config : CLASS_CONFIG_DEFAULT;
}

const struct runtime_class *
class_config_find (const struct class_config *cfg, const char *name)
{
  for (size_t i = 0; i < cfg->n; i++)
    if (strcmp (cfg->classes[i].name, name) == 0)
      return &cfg->classes[i];
  return NULL;
}

char *
class_config_names (const struct class_config *cfg)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    abort ();
  if (cfg->n == 0)
    fputs ("none", f);
  for (size_t i = 0; i < cfg->n; i++)
    fprintf (f, "%s`%s`", i ? ", " : "", cfg->classes[i].name);
  fclose (f);
  return buf;
}

char *
class_root (const char *root, const char *name)
{
  size_t n = strlen (root);
  while (n > 1 && root[n - 1] == '/')
    n--;
  char *r = NULL;
  if (asprintf (&r, "%.*s-podshim-class-%s", (int)n, root, name) < 0)
    abort ();
  return r;
}

/* Is argv[i] a --root flag? *ret_takes_next when its value is the next argument. */
static bool
is_root_flag (const char *a, bool *ret_takes_next)
{
  if (a[0] != '-')
    return false;
  const char *n = a + 1 + (a[1] == '-');
  if (strncmp (n, "root", 4) != 0 || (n[4] != '\0' && n[4] != '='))
    return false;
  *ret_takes_next = n[4] == '\0';
  return true;
}

void
class_apply (struct runc_cmdline *c, const struct runtime_class *rc, const char *root)
{
  size_t n = (size_t)c->argc + rc->n_args + 3;
  char **av = calloc (n + 1, sizeof (char *));
  if (av == NULL)
    abort ();
  size_t o = 0;
  av[o++] = rc->path;
  for (size_t i = 0; i < rc->n_args; i++)
    av[o++] = rc->args[i];
  int end = c->command_index < 0 ? c->argc : c->command_index;
  for (int i = 1; i < end; i++)
    {
      bool next;
      if (is_root_flag (c->argv[i], &next))
        {
          i += next;
          continue;
        }
      av[o++] = c->argv[i];
    }
  av[o++] = (char *)"--root";
  av[o++] = (char *)root;
  int cmd_index = c->command_index < 0 ? -1 : (int)o;
  for (int i = end; i < c->argc; i++)
    av[o++] = c->argv[i];
  av[o] = NULL;
  free (c->argv);
  c->argv = av;
  c->argc = (int)o;
  c->command_index = cmd_index;
  c->shim_runtime = rc->path;
  c->root = root;
}

/* Value-taking flags of the commands class_command_id knows (runc 1.1 and
 * crun); any other flag is taken for a bool, as runc's own parser would
 * reject it anyway. */
static const char *const value_flags[] = {
  /* exec */
  "console-socket",
  "pidfd-socket",
  "cwd",
  "env",
  "e",
  "user",
  "u",
  "additional-gids",
  "g",
  "process",
  "p",
  "process-label",
  "apparmor",
  "cap",
  "c",
  "preserve-fds",
  "cgroup",
  "pid-file",
  /* ps */
  "format",
  "f",
  /* events */
  "interval",
  /* update */
  "resources",
  "r",
  "blkio-weight",
  "cpu-period",
  "cpu-quota",
  "cpu-share",
  "cpu-rt-period",
  "cpu-rt-runtime",
  "cpuset-cpus",
  "cpuset-mems",
  "kernel-memory",
  "kernel-memory-tcp",
  "memory",
  "cpu-idle",
  "memory-reservation",
  "memory-swap",
  "pids-limit",
  "l3-cache-schema",
  "mem-bw-schema",
  /* checkpoint */
  "image-path",
  "work-path",
  "parent-path",
  "page-server",
  "manage-cgroups-mode",
  "empty-ns",
  "status-fd",
  "lsm-profile",
  "lsm-mount-context",
  NULL,
};

static const char *const id_commands[] = {
  "start",  "state",  "kill",   "exec",   "ps",         "pause",
  "resume", "update", "events", "delete", "checkpoint", NULL,
};

const char *
class_command_id (const struct runc_cmdline *c)
{
  if (c->command == NULL || c->help)
    return NULL;
  bool known = false;
  for (int i = 0; id_commands[i]; i++)
    if (strcmp (c->command, id_commands[i]) == 0)
      known = true;
  if (!known)
    return NULL;
  bool is_delete = strcmp (c->command, "delete") == 0;
  bool is_kill = strcmp (c->command, "kill") == 0;
  for (int i = c->command_index + 1; i < c->argc; i++)
    {
      const char *a = c->argv[i];
      if (strcmp (a, "--") == 0)
        return i + 1 < c->argc ? c->argv[i + 1] : NULL;
      if (a[0] != '-' || a[1] == '\0')
        return a;
      const char *n = a + 1 + (a[1] == '-');
      const char *eq = strchr (n, '=');
      size_t nl = eq ? (size_t)(eq - n) : strlen (n);
      if ((nl == 1 && n[0] == 'h') || (nl == 4 && strncmp (n, "help", 4) == 0))
        return NULL;
      if (eq || is_delete || is_kill)
        continue; /* delete and kill have bool flags only */
      for (int k = 0; value_flags[k]; k++)
        if (strlen (value_flags[k]) == nl && strncmp (value_flags[k], n, nl) == 0)
          {
            i++;
            break;
          }
    }
  return NULL;
}

/* Runs argv with stdout into *ret (at most LIST_OUT_MAX bytes); stderr and
 * stdin are ours. */
static int
run_capture (char **argv, char **ret, size_t *ret_len, int *ret_status, struct podshim_error **err)
{
  int r = spawn_capture (argv, LIST_OUT_MAX, ret, ret_len, ret_status, err);
  if (r < 0 && podshim_error_is (*err, EFBIG))
    {
      podshim_error_free (*err);
      *err = NULL;
      return podshim_error_set (err, 0, "`%s list` printed more than %d bytes", argv[0],
                                LIST_OUT_MAX);
    }
  return r;
}

/* What `list` was asked for: --format json, -q. */
static void
list_flags (const struct runc_cmdline *c, bool *json, bool *quiet)
{
  *json = *quiet = false;
  for (int i = c->command_index + 1; i < c->argc; i++)
    {
      const char *a = c->argv[i];
      if (a[0] != '-')
        continue;
      const char *n = a + 1 + (a[1] == '-');
      if (strcmp (n, "q") == 0 || strcmp (n, "quiet") == 0 || strcmp (n, "q=true") == 0
          || strcmp (n, "quiet=true") == 0)
        *quiet = true;
      else if ((strcmp (n, "format") == 0 || strcmp (n, "f") == 0) && i + 1 < c->argc)
        *json = strcmp (c->argv[++i], "json") == 0;
      else if (strncmp (n, "format=", 7) == 0 || strncmp (n, "f=", 2) == 0)
        *json = strcmp (strchr (n, '=') + 1, "json") == 0;
    }
}

int
class_list (const struct runc_cmdline *c, const char *root, int *ret_status,
            struct podshim_error **err)
{
  cleanup_class_config struct class_config cfg = { 0 };
  if (class_config_load (c, &cfg, err) < 0)
    return -1;
  if (cfg.n == 0)
    return 1;
  bool json, quiet;
  list_flags (c, &json, &quiet);

  /* The caller's root first, as given; then each class with a root. */
  struct runc_cmdline cc = *c;
  cc.argv = calloc ((size_t)c->argc + 1, sizeof (char *));
  if (cc.argv == NULL)
    abort ();
  memcpy (cc.argv, c->argv, ((size_t)c->argc + 1) * sizeof (char *));
  cc.argv[0] = (char *)delegate_runtime (c);
  cleanup_free char *out = NULL;
  size_t len;
  int status;
  int r = run_capture (cc.argv, &out, &len, &status, err);
  free (cc.argv);
  if (r < 0)
    return -1;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      fwrite (out, 1, len, stdout);
      *ret_status = status;
      return 0;
    }
  cleanup_json yajl_val all = NULL;
  if (json)
    {
      if (json_parse (out, len, "list output", &all, err) < 0)
        return -1;
      if (all->type == yajl_t_null)
        {
          yajl_tree_free (all);
          all = json_new_array ();
        }
      if (all->type != yajl_t_array)
        return podshim_error_set (err, 0, "`list` did not print a JSON array");
    }
  else
    fwrite (out, 1, len, stdout);

  for (size_t k = 0; k < cfg.n; k++)
    {
      cleanup_free char *croot = class_root (root, cfg.classes[k].name);
      struct stat st;
      if (stat (croot, &st) < 0)
        continue; /* the class never ran a container under this root */
      struct runc_cmdline kc = *c;
      kc.argv = calloc ((size_t)c->argc + 1, sizeof (char *));
      if (kc.argv == NULL)
        abort ();
      memcpy (kc.argv, c->argv, ((size_t)c->argc + 1) * sizeof (char *));
      class_apply (&kc, &cfg.classes[k], croot);
      cleanup_free char *kout = NULL;
      size_t klen;
      r = run_capture (kc.argv, &kout, &klen, &status, err);
      free (kc.argv);
      if (r < 0)
        return -1;
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        return podshim_error_set (err, 0, "`list` of runtime class `%s` failed",
                                  cfg.classes[k].name);
      if (json)
        {
          cleanup_json yajl_val part = NULL;
          if (json_parse (kout, klen, "list output", &part, err) < 0)
            return -1;
          if (part->type != yajl_t_array)
            continue; /* null: none */
          for (size_t i = 0; i < part->u.array.len; i++)
            {
              json_array_append (all, part->u.array.values[i]);
              part->u.array.values[i] = NULL;
            }
          part->u.array.len = 0;
        }
      else
        {
          /* The table's header line once, from the caller's root. */
          const char *body = kout;
          if (!quiet)
            {
              const char *nl = memchr (kout, '\n', klen);
              body = nl ? nl + 1 : kout + klen;
            }
          fwrite (body, 1, klen - (size_t)(body - kout), stdout);
        }
    }
  if (json)
    {
      cleanup_free char *text = NULL;
      size_t tlen;
      if (json_emit (all, &text, &tlen, err) < 0)
        return -1;
      fwrite (text, 1, tlen, stdout);
      fputc ('\n', stdout);
    }
  fflush (stdout);
  *ret_status = 0;
  return 0;
}

void
runtime_class_copy (const struct runtime_class *k, struct runtime_class *out)
{
  out->name = strdup (k->name);
  out->path = strdup (k->path);
  out->args = calloc (k->n_args + 1, sizeof (char *));
  if (out->name == NULL || out->path == NULL || out->args == NULL)
    abort ();
  for (size_t i = 0; i < k->n_args; i++)
    if ((out->args[i] = strdup (k->args[i])) == NULL)
      abort ();
  out->n_args = k->n_args;
}

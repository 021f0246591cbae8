#include "config.h"
#include "argv.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum flag_kind
{
  FLAG_UNKNOWN,
  FLAG_BOOL,
  FLAG_VALUE,
};

struct flag_def
{
  const char *name;
  enum flag_kind kind;
};

/* The global options of runc 1.1-1.4 (1.4 dropped --criu: kept here, runc
   1.4 refuses it itself) and crun (1.8-1.2x). */
static const struct flag_def global_flags[] = {
  { "debug", FLAG_BOOL },
  { "log", FLAG_VALUE },
  { "log-format", FLAG_VALUE },
  { "root", FLAG_VALUE },
  { "criu", FLAG_VALUE },
  { "systemd-cgroup", FLAG_BOOL },
  { "rootless", FLAG_VALUE },
  { "help", FLAG_BOOL },
  { "h", FLAG_BOOL },
  { "version", FLAG_BOOL },
  { "v", FLAG_BOOL },
  /* crun's own. */
  { "cgroup-manager", FLAG_VALUE },
  { "log-level", FLAG_VALUE },
  { "?", FLAG_BOOL },
  { "usage", FLAG_BOOL },
  { "V", FLAG_BOOL },
  { NULL, FLAG_UNKNOWN },
};

/* create and run (run adds detach and keep): runc 1.1-1.4 (1.2 added
 * --pidfd-socket) and crun (-f/--config FILE, --no-subreaper on create). */
static const struct flag_def create_flags[] = {
  { "bundle", FLAG_VALUE },
  { "b", FLAG_VALUE },
  { "console-socket", FLAG_VALUE },
  { "pidfd-socket", FLAG_VALUE },
  { "pid-file", FLAG_VALUE },
  { "no-pivot", FLAG_BOOL },
  { "no-new-keyring", FLAG_BOOL },
  { "preserve-fds", FLAG_VALUE },
  { "no-subreaper", FLAG_BOOL },
  { "config", FLAG_VALUE },
  { "f", FLAG_VALUE },
  { "detach", FLAG_BOOL },
  { "d", FLAG_BOOL },
  { "keep", FLAG_BOOL },
  { "help", FLAG_BOOL },
  { "h", FLAG_BOOL },
  { "?", FLAG_BOOL },
  { "usage", FLAG_BOOL },
  { NULL, FLAG_UNKNOWN },
};

/* delete: runc's -f/--force, crun's -r/--regex. */
static const struct flag_def delete_flags[] = {
  { "force", FLAG_BOOL }, { "f", FLAG_BOOL },     { "regex", FLAG_BOOL },
  { "r", FLAG_BOOL },     { "help", FLAG_BOOL },  { "h", FLAG_BOOL },
  { "?", FLAG_BOOL },     { "usage", FLAG_BOOL }, { NULL, FLAG_UNKNOWN },
};

int
parse_go_bool (const char *s, bool *ret)
{
  static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True", NULL };
  static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False", NULL };
  for (int i = 0; t[i]; i++)
    if (strcmp (s, t[i]) == 0)
      {
        *ret = true;
        return 0;
      }
  for (int i = 0; f[i]; i++)
    if (strcmp (s, f[i]) == 0)
      {
        *ret = false;
        return 0;
      }
  return -1;
}

struct flag
{
  const char *name; /* without dashes, not NUL-terminated at '=' */
  size_t name_len;
  const char *inline_value; /* after '=', or NULL */
};

/* Splits "-x", "--x", "--x=v". Returns false for non-flags ("-", "--", "x"). */
static bool
split_flag (const char *arg, struct flag *f)
{
  if (arg[0] != '-' || arg[1] == '\0')
    return false;
  const char *n = arg + 1;
  if (*n == '-')
    n++;
  if (*n == '\0')
    return false; /* "--" */
  const char *eq = strchr (n, '=');
  f->name = n;
  f->name_len = eq ? (size_t)(eq - n) : strlen (n);
  f->inline_value = eq ? eq + 1 : NULL;
  return true;
}

static bool
flag_is (const struct flag *f, const char *name)
{
  return strlen (name) == f->name_len && strncmp (f->name, name, f->name_len) == 0;
}

static enum flag_kind
lookup (const struct flag_def *defs, const struct flag *f)
{
  for (; defs->name; defs++)
    if (flag_is (f, defs->name))
      return defs->kind;
  return FLAG_UNKNOWN;
}

static bool
bool_value (const struct flag *f)
{
  bool b = true;
  if (f->inline_value && parse_go_bool (f->inline_value, &b) < 0)
    return true; /* runc rejects it; what we assume does not matter */
  return b;
}

static void
parse_command_args (struct runc_cmdline *c)
{
  char **argv = c->argv;
  bool is_delete = strcmp (c->command, "delete") == 0;
  const struct flag_def *defs = is_delete ? delete_flags : create_flags;
  for (int i = c->command_index + 1; i < c->argc; i++)
    {
      struct flag f;
      if (strcmp (argv[i], "--") == 0)
        {
          for (i++; i < c->argc; i++)
            if (c->n_positional++ == 0)
              c->id = argv[i];
          break;
        }
      if (!split_flag (argv[i], &f))
        {
          if (c->n_positional++ == 0)
            c->id = argv[i];
          continue;
        }
      enum flag_kind kind = lookup (defs, &f);
      if (kind == FLAG_UNKNOWN && c->uncertain == NULL)
        c->uncertain = argv[i];
      const char *value = f.inline_value;
      if (kind == FLAG_VALUE && value == NULL)
        {
          if (i + 1 < c->argc)
            value = argv[++i];
          else if (c->uncertain == NULL)
            c->uncertain = argv[i];
        }
      if (flag_is (&f, "bundle") || flag_is (&f, "b"))
        c->bundle = value;
      else if (flag_is (&f, "pid-file"))
        c->pid_file = value;
      else if (flag_is (&f, "console-socket"))
        c->console_socket = value;
      else if (!is_delete && (flag_is (&f, "config") || flag_is (&f, "f")))
        c->config = value;
      else if (flag_is (&f, "detach") || flag_is (&f, "d"))
        c->detach = bool_value (&f);
      else if (is_delete && (flag_is (&f, "force") || flag_is (&f, "f")))
        c->force = bool_value (&f);
      else if (flag_is (&f, "help") || flag_is (&f, "h") || flag_is (&f, "?")
               || flag_is (&f, "usage"))
        c->help = true;
    }
}

static bool
is_pod_command (const char *cmd)
{
  return strcmp (cmd, "create") == 0 || strcmp (cmd, "run") == 0 || strcmp (cmd, "delete") == 0
         || strcmp (cmd, "start") == 0;
}

int
runc_cmdline_parse (int argc, char **argv, struct runc_cmdline *c, struct podshim_error **err)
{
  memset (c, 0, sizeof (*c));
  c->command_index = -1;
  /* Owned here until the end: nothing leaks on an error. */
  cleanup_free char **av = calloc ((size_t)argc + 1, sizeof (char *));
  if (av == NULL)
    return podshim_error_set (err, ENOMEM, "cannot parse the command line");
  int out = 0;
  if (argc > 0)
    av[out++] = argv[0];

  int i;
  for (i = 1; i < argc; i++)
    {
      struct flag f;
      if (strcmp (argv[i], "--") == 0)
        {
          av[out++] = argv[i++];
          break;
        }
      if (!split_flag (argv[i], &f))
        break;
      if (flag_is (&f, "podshim-help"))
        {
          c->shim_help = bool_value (&f);
          continue;
        }
      bool shim_runtime = flag_is (&f, "podshim-runtime");
      bool shim_max = flag_is (&f, "podshim-max-pods");
      bool shim_data = flag_is (&f, "podshim-data");
      bool shim_config = flag_is (&f, "podshim-config");
      bool shim_docker = flag_is (&f, "podshim-docker-host");
      if (shim_runtime || shim_max || shim_data || shim_config || shim_docker
          || flag_is (&f, "podshim-state"))
        {
          const char *v = f.inline_value;
          if (v == NULL)
            {
              if (i + 1 >= argc)
                return podshim_error_set (err, 0, "option `%s` needs a value", argv[i]);
              v = argv[++i];
            }
          if (*v == '\0')
            return podshim_error_set (err, 0, "option `--%s` needs a non-empty value",
                                      shim_runtime  ? "podshim-runtime"
                                      : shim_max    ? "podshim-max-pods"
                                      : shim_data   ? "podshim-data"
                                      : shim_config ? "podshim-config"
                                      : shim_docker ? "podshim-docker-host"
                                                    : "podshim-state");
          if (shim_runtime)
            c->shim_runtime = v;
          else if (shim_max)
            c->shim_max_pods = v;
          else if (shim_data)
            c->shim_data = v;
          else if (shim_config)
            c->shim_config = v;
          else if (shim_docker)
            c->shim_docker_host = v;
          else
            c->shim_state = v;
          continue;
        }
      av[out++] = argv[i];
      enum flag_kind kind = lookup (global_flags, &f);
      if (kind == FLAG_UNKNOWN && c->uncertain == NULL)
        c->uncertain = argv[i];
      const char *value = f.inline_value;
      if (kind == FLAG_VALUE && value == NULL && i + 1 < argc)
        {
          value = argv[++i];
          av[out++] = argv[i];
        }
      if (flag_is (&f, "root"))
        c->root = value;
      else if (flag_is (&f, "log"))
        c->log = value;
      else if (flag_is (&f, "log-format"))
        c->log_format = value;
      else if (flag_is (&f, "debug"))
        c->debug = bool_value (&f);
      else if (flag_is (&f, "version") || flag_is (&f, "v"))
        c->version = bool_value (&f);
      else if (flag_is (&f, "help") || flag_is (&f, "h"))
        c->help = true;
    }
  if (i < argc)
    {
      c->command_index = out;
      c->command = argv[i];
    }
  for (; i < argc; i++)
    av[out++] = argv[i];
  av[out] = NULL;
  c->argv = steal_pointer (&av);
  c->argc = out;

  /* An unknown global option may have taken the next word as its value:
     `--new-opt X create ...` is then a create (of uncertain meaning). */
  if (c->uncertain && c->command && !is_pod_command (c->command) && c->command_index + 1 < c->argc
      && is_pod_command (c->argv[c->command_index + 1]))
    c->command = c->argv[++c->command_index];
  if (c->command && !c->help && is_pod_command (c->command))
    parse_command_args (c);
  return 0;
}

void
runc_cmdline_free (struct runc_cmdline *c)
{
  free (c->argv);
  c->argv = NULL;
}

const char *
delegate_runtime (const struct runc_cmdline *c)
{
  if (c->shim_runtime)
    return c->shim_runtime;
  const char *e = getenv ("PODSHIM_DELEGATE");
  return e && *e ? e : "runc";
}

bool
shim_rootless (void)
{
  /* runc's rule (shouldHonorXDGRuntimeDir): not root, or root of a user
     namespace other than the host's (rootlesskit's) who is not $USER root. */
  const char *xdg = getenv ("XDG_RUNTIME_DIR");
  if (xdg == NULL || *xdg == '\0')
    return false;
  if (geteuid () != 0)
    return true;
  char buf[128];
  int fd = open ("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, buf, sizeof (buf) - 1) : -1;
  if (fd >= 0)
    close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  unsigned long inner, outer, count;
  bool initial = sscanf (buf, "%lu %lu %lu", &inner, &outer, &count) == 3 && inner == 0
                 && outer == 0 && count == 4294967295UL;
  if (initial)
    return false;
  const char *user = getenv ("USER");
  return user == NULL || strcmp (user, "root") != 0;
}

char *
delegate_root (const struct runc_cmdline *c)
{
  char *r = NULL;
  if (c->root)
    r = strdup (c->root);
  else
    {
      const char *rt = delegate_runtime (c);
      const char *base = strrchr (rt, '/');
      base = base ? base + 1 : rt;
      const char *name = strcmp (base, "crun") == 0 ? "crun" : "runc";
      const char *xdg = getenv ("XDG_RUNTIME_DIR");
      if (shim_rootless ())
        {
          if (asprintf (&r, "%s/%s", xdg, name) < 0)
            r = NULL;
        }
      else if (asprintf (&r, "/run/%s", name) < 0)
        r = NULL;
    }
  if (r == NULL)
    abort ();
  return r;
}

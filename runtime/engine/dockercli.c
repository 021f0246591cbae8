#include "config.h"
#include "dockercli.h"
#include "fsutil.h"
#include "json.h"
#include "spawn.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* The docker CLI's global options (cli/flags): those that take a value. */
static const char *const value_opts[]
    = { "H",         "host",      "c",       "context", "config", "l",
        "log-level", "tlscacert", "tlscert", "tlskey",  NULL };
/* ... and its bool options. */
static const char *const bool_opts[] = { "D", "debug", "tls", "tlsverify", "v", "version", NULL };

static bool
is (const char *name, size_t len, const char *s)
{
  return strlen (s) == len && strncmp (name, s, len) == 0;
}

static bool
in (const char *const *list, const char *name, size_t len)
{
  for (; *list; list++)
    if (is (name, len, *list))
      return true;
  return false;
}

int
docker_globals_parse (int argc, char **argv, struct docker_globals *ret, int *ret_index,
                      struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  int i;
  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (a[0] != '-' || a[1] == '\0')
        break;
      bool lng = a[1] == '-';
      const char *name = a + (lng ? 2 : 1);
      const char *eq = strchr (name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen (name);
      const char *value = eq ? eq + 1 : NULL;
      /* pflag: a one-letter option may carry its value glued on (-Hunix://). */
      if (!lng && len > 1 && !eq && in (value_opts, name, 1))
        {
          len = 1;
          value = name + 1;
        }
      /* Long names take two dashes, one letter one. */
      if ((lng && len == 1) || (!lng && len > 1))
        return podshim_error_set (err, 0, "unknown docker option `%.200s`", a);
      if (in (bool_opts, name, len))
        continue;
      if (!in (value_opts, name, len))
        return podshim_error_set (err, 0, "unknown docker option `%.200s`", a);
      if (value == NULL)
        {
          if (i + 1 >= argc)
            return podshim_error_set (err, 0, "docker option `%.200s` needs a value", a);
          value = argv[++i];
        }
      if (is (name, len, "H") || is (name, len, "host"))
        ret->host = value;
      else if (is (name, len, "c") || is (name, len, "context"))
        ret->context = value;
      else if (is (name, len, "config"))
        ret->config = value;
    }
  *ret_index = i;
  return 0;
}

/* The config file's currentContext ("" when none). Owned. */
static char *
current_context (const struct docker_globals *g)
{
  cleanup_free char *path = NULL;
  const char *dir = g->config ? g->config : getenv ("DOCKER_CONFIG");
  const char *home = getenv ("HOME");
  int r;
  if (dir && *dir)
    r = asprintf (&path, "%s/config.json", dir);
  else
    r = asprintf (&path, "%s/.docker/config.json", home && *home ? home : "/root");
  if (r < 0)
    abort ();
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_json yajl_val doc = NULL;
  const char *cur = NULL;
  if (read_file_at (AT_FDCWD, path, 0, 1024 * 1024, &buf, &len, NULL) == 0
      && json_parse (buf, len, path, &doc, NULL) == 0)
    cur = json_get_string (doc, "currentContext");
  char *out = strdup (cur ? cur : "");
  if (out == NULL)
    abort ();
  return out;
}

int
docker_host_resolve (const struct docker_globals *g, const char *cli, char **ret,
                     struct podshim_error **err)
{
  /* The order of the CLI's own resolveContextName. The default context's
     endpoint is DOCKER_HOST, else the default socket. */
  const char *dh = getenv ("DOCKER_HOST");
  const char *dc = getenv ("DOCKER_CONTEXT");
  const char *host = NULL, *context = NULL;
  cleanup_free char *cur = NULL;
  if (g->context)
    context = g->context;
  else if (g->host)
    host = g->host;
  else if (dh)
    host = dh;
  else if (dc)
    context = dc;
  else
    {
      cur = current_context (g);
      context = cur;
    }
  if (context && (context[0] == '\0' || strcmp (context, "default") == 0))
    {
      host = dh;
      context = NULL;
    }
  if (context == NULL)
    {
      *ret = strdup (host && *host ? host : DOCKERCLI_HOST_DEFAULT);
      if (*ret == NULL)
        abort ();
      return 0;
    }
  /* A context: the CLI knows where its endpoint is. */
  const char *argv[12];
  int n = 0;
  argv[n++] = cli && *cli ? cli : "docker";
  if (g->config)
    {
      argv[n++] = "--config";
      argv[n++] = g->config;
    }
  argv[n++] = "--context";
  argv[n++] = context;
  argv[n++] = "context";
  argv[n++] = "inspect";
  argv[n++] = "--format";
  argv[n++] = "{{.Endpoints.docker.Host}}";
  argv[n] = NULL;
  char *out = NULL;
  size_t len;
  int status;
  if (spawn_capture ((char *const *)argv, 64 * 1024, &out, &len, &status, err) < 0)
    return podshim_error_wrap (err, "cannot ask the docker CLI for its context");
  while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
    out[--len] = '\0';
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || len == 0)
    {
      free (out);
      return podshim_error_set (err, 0, "`%s context inspect` failed: which daemon is meant?",
                                argv[0]);
    }
  *ret = out;
  return 0;
}

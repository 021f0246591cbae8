/* `docker pod` (the CLI plugin): the input as a daemon's /info (its podshim
 * runtime and that runtime's arguments), as a shim's environ block, as the
 * docker CLI's argv (NUL-separated). Checks: what is
 * found lies inside the input and is what it claims to be. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockercli.h"
#include "dockerpod.h"

#include "fuzz.h"

static void
as_info (const char *buf, size_t len)
{
  yajl_val info = NULL;
  struct podshim_error *err = NULL;
  if (json_parse (buf, len, "info", &info, &err) < 0)
    {
      podshim_error_free (err);
      return;
    }
  const char *name = NULL, *path = NULL;
  yajl_val args = NULL;
  if (dockerpod_find_runtime (info, &name, &path, &args) == 1)
    {
      const char *base = strrchr (path, '/');
      CHECK (strcmp (name, "podshim") == 0 || strcmp (base ? base + 1 : path, "podshim") == 0);
      CHECK (args == NULL || args->type == yajl_t_array);
    }
  yajl_tree_free (info);
}

static void
as_environ (const char *buf, size_t len)
{
  const char *v = dockerpod_env_state (buf, len);
  if (v == NULL)
    return;
  CHECK (v >= buf + 14 && v <= buf + len && memcmp (v - 14, "PODSHIM_STATE=", 14) == 0);
  CHECK (memchr (v, '\0', (size_t)(buf + len - v)) != NULL);
}

static void
as_argv (const char *buf, size_t len)
{
  /* Copied with a final NUL: each NUL-separated piece is an argument. */
  char *copy = malloc (len + 1);
  char **argv = calloc (len + 2, sizeof (char *));
  if (copy == NULL || argv == NULL)
    abort ();
  memcpy (copy, buf, len);
  copy[len] = '\0';
  int argc = 0;
  for (char *p = copy; p <= copy + len; p += strlen (p) + 1)
    argv[argc++] = p;
  struct docker_globals g;
  int i = -1;
  struct podshim_error *err = NULL;
  if (docker_globals_parse (argc, argv, &g, &i, &err) < 0)
    {
      CHECK (err && err->msg[0]);
      podshim_error_free (err);
    }
  else
    {
      CHECK (i >= 1 && i <= argc);
      CHECK (i == argc || argv[i][0] != '-' || argv[i][1] == '\0');
      const char *vals[] = { g.host, g.context, g.config };
      for (size_t k = 0; k < 3; k++)
        CHECK (vals[k] == NULL || (vals[k] >= copy && vals[k] <= copy + len));
    }
  free (argv);
  free (copy);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *buf = (const char *)data;
  as_info (buf, size);
  as_environ (buf, size);
  as_argv (buf, size);
  return 0;
}

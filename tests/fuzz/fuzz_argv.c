/* runc_cmdline_parse. Input: argv, NUL-separated.
 * Checks: the delegate's argv is the input minus podshim's options (and their
 * values), same pointers, same order, all before the command; every field
 * points into the input. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"

#include "fuzz.h"

/* "-podshim-runtime", "--podshim-state=x", ...: a podshim option token. With
 * *inline_value set when it carries its value after '='. */
static bool
is_shim_option (const char *a, bool *inline_value)
{
  if (a[0] != '-')
    return false;
  const char *n = a + 1 + (a[1] == '-');
  size_t len = strcspn (n, "=");
  *inline_value = n[len] == '=';
  return (len == 15 && strncmp (n, "podshim-runtime", 15) == 0)
         || (len == 13 && strncmp (n, "podshim-state", 13) == 0)
         || (len == 16 && strncmp (n, "podshim-max-pods", 16) == 0)
         || (len == 12 && strncmp (n, "podshim-data", 12) == 0)
         || (len == 14 && strncmp (n, "podshim-config", 14) == 0)
         || (len == 19 && strncmp (n, "podshim-docker-host", 19) == 0);
}

/* podshim's one boolean flag, --podshim-help (or -podshim-help, =BOOL). */
static bool
is_shim_flag (const char *a)
{
  if (a[0] != '-')
    return false;
  const char *n = a + 1 + (a[1] == '-');
  return strncmp (n, "podshim-help", 12) == 0 && (n[12] == '\0' || n[12] == '=');
}

static char *buf_start, *buf_end;

static void
check_in_input (const char *p)
{
  if (p)
    CHECK (p >= buf_start && p < buf_end);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  /* The strings, each NUL-terminated, in one buffer. */
  char *buf = malloc (size + 1);
  if (buf == NULL)
    return 0;
  memcpy (buf, data, size);
  buf[size] = '\0';
  buf_start = buf;
  buf_end = buf + size + 1;
  int argc = 0;
  for (size_t i = 0; i <= size; i++)
    argc += buf[i] == '\0';
  char **argv = calloc ((size_t)argc + 1, sizeof (char *));
  if (argv == NULL)
    {
      free (buf);
      return 0;
    }
  char *p = buf;
  for (int i = 0; i < argc; i++)
    {
      argv[i] = p;
      p += strlen (p) + 1;
    }

  struct runc_cmdline c;
  struct podshim_error *err = NULL;
  if (runc_cmdline_parse (argc, argv, &c, &err) < 0)
    {
      CHECK (err && strstr (err->msg, "needs a") != NULL);
      CHECK (strstr (err->msg, "podshim-") != NULL);
      CHECK (c.argv == NULL);
      podshim_error_free (err);
      free (argv);
      free (buf);
      return 0;
    }
  CHECK (err == NULL);
  CHECK (c.argc >= 0 && c.argc <= argc);
  CHECK (c.argv[c.argc] == NULL);
  if (argc > 0)
    CHECK (c.argc >= 1 && c.argv[0] == argv[0]);

  /* Walk both: every input element is kept in order, or is a podshim option
   * (or the value of one) removed before the command. */
  int o = 0;
  bool saw_runtime = false, saw_state = false, saw_max = false, saw_data = false;
  bool saw_config = false, saw_docker = false, saw_command = false;
  for (int i = 0; i < argc; i++)
    {
      if (o < c.argc && c.argv[o] == argv[i])
        {
          if (c.command_index >= 0 && o == c.command_index)
            saw_command = true;
          o++;
          continue;
        }
      bool inline_value = false;
      CHECK (!saw_command);
      if (i > 0 && is_shim_flag (argv[i]))
        continue; /* --podshim-help[=BOOL]: no value of its own */
      CHECK (i > 0 && is_shim_option (argv[i], &inline_value));
      const char *n = argv[i] + 1 + (argv[i][1] == '-');
      const char *value = inline_value ? strchr (argv[i], '=') + 1 : argv[i + 1];
      if (!inline_value)
        {
          CHECK (i + 1 < argc);
          i++; /* its value went with it */
        }
      CHECK (value[0] != '\0');
      if (n[8] == 'r')
        {
          saw_runtime = true;
          CHECK (c.shim_runtime != NULL);
        }
      else if (n[8] == 'm')
        {
          saw_max = true;
          CHECK (c.shim_max_pods != NULL);
        }
      else if (strncmp (n, "podshim-docker-host", 19) == 0)
        {
          saw_docker = true;
          CHECK (c.shim_docker_host != NULL);
        }
      else if (n[8] == 'd')
        {
          saw_data = true;
          CHECK (c.shim_data != NULL);
        }
      else if (n[8] == 'c')
        {
          saw_config = true;
          CHECK (c.shim_config != NULL);
        }
      else
        {
          saw_state = true;
          CHECK (c.shim_state != NULL);
        }
    }
  CHECK (o == c.argc);
  CHECK (saw_runtime == (c.shim_runtime != NULL));
  CHECK (saw_state == (c.shim_state != NULL));
  CHECK (saw_max == (c.shim_max_pods != NULL));
  CHECK (saw_data == (c.shim_data != NULL));
  CHECK (saw_config == (c.shim_config != NULL));
  CHECK (saw_docker == (c.shim_docker_host != NULL));

  if (c.command_index >= 0)
    {
      CHECK (c.command_index < c.argc && c.argv[c.command_index] == c.command);
      CHECK (saw_command);
    }
  else
    CHECK (c.command == NULL);
  CHECK (c.n_positional >= 0 && (c.id != NULL) == (c.n_positional > 0));
  check_in_input (c.shim_runtime);
  check_in_input (c.shim_state);
  check_in_input (c.shim_data);
  check_in_input (c.shim_config);
  check_in_input (c.shim_docker_host);
  check_in_input (c.root);
  check_in_input (c.log);
  check_in_input (c.log_format);
  check_in_input (c.bundle);
  check_in_input (c.pid_file);
  check_in_input (c.console_socket);
  check_in_input (c.shim_max_pods);
  check_in_input (c.config);
  check_in_input (c.uncertain);
  check_in_input (c.id);
  runc_cmdline_free (&c);
  free (argv);
  free (buf);
  return 0;
}

/* runc_cmdline_parse: runc's global flags in every form, podshim's options
 * consumed, everything else passed on pointer-for-pointer in order. One table
 * row a command line, naming every field of the result. */
#include "config.h"
#include "testutil.h"

#include "argv.h"
#include "ctx.h"

#include <sched.h>
#include <sys/wait.h>

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })

static int
count (char **argv)
{
  int n = 0;
  while (argv[n])
    n++;
  return n;
}

/* What runc_cmdline_parse must make of in. Strings not named are NULL,
 * flags false, counts 0. */
struct argv_case
{
  char **in;
  int ci;          /* command_index */
  const int *keep; /* c->argv is in[keep[0]], in[keep[1]]... (-1 ends); NULL: all of in */
  const char *command, *id, *root, *log, *log_format, *bundle, *pid_file, *console_socket, *config;
  const char *shim_runtime, *shim_state, *shim_data, *shim_config, *shim_max_pods,
      *shim_docker_host;
  int n_positional;
  int uncertain; /* index in `in` of c->uncertain; 0: NULL (in[0] never is) */
  bool debug, version, detach, force, help, shim_help;
};

static const struct argv_case cases[] = {
  { ARGV ("podshim", "--root", "/r1", "state", "x"), .ci = 3, .command = "state", .root = "/r1" },
  { ARGV ("podshim", "--root=/r2", "state", "x"), .ci = 2, .command = "state", .root = "/r2" },
  { ARGV ("podshim", "-root", "/r3", "list"), .ci = 3, .command = "list", .root = "/r3" },
  { ARGV ("podshim", "-root=/r4", "list"), .ci = 2, .command = "list", .root = "/r4" },
  /* The last one wins, as with Go's flag package. */
  { ARGV ("podshim", "--root", "/a", "--root=/b", "list"), .ci = 4, .command = "list",
    .root = "/b" },
  { ARGV ("podshim", "--log", "/l.json", "--log-format", "json", "create", "id"), .ci = 5,
    .command = "create", .id = "id", .log = "/l.json", .log_format = "json", .n_positional = 1 },
  { ARGV ("podshim", "-log=/l", "-log-format=text", "start", "id"), .ci = 3, .command = "start",
    .id = "id", .log = "/l", .log_format = "text", .n_positional = 1 },
  { ARGV ("podshim", "--debug", "--systemd-cgroup", "create", "x"), .ci = 3, .command = "create",
    .id = "x", .n_positional = 1, .debug = true },
  { ARGV ("podshim", "--debug=false", "delete", "x"), .ci = 2, .command = "delete", .id = "x",
    .n_positional = 1 },
  { ARGV ("podshim", "-debug=1", "delete", "x"), .ci = 2, .command = "delete", .id = "x",
    .n_positional = 1, .debug = true },
  /* A bool flag never takes the next argument: "false" is the command. */
  { ARGV ("podshim", "--debug", "false", "delete", "x"), .ci = 2, .command = "false",
    .debug = true },
  /* --criu and --rootless take a value (rootless: true|false|auto). */
  { ARGV ("podshim", "--criu", "/usr/sbin/criu", "--rootless", "true", "create", "x"), .ci = 5,
    .command = "create", .id = "x", .n_positional = 1 },
  { ARGV ("podshim", "--rootless=auto", "-criu=x", "ps", "id"), .ci = 3, .command = "ps" },
  /* A value flag takes the next argument whatever it looks like. */
  { ARGV ("podshim", "--root", "--podshim-runtime", "x", "create", "id"), .ci = 3, .command = "x",
    .root = "--podshim-runtime" },
  /* podshim's options are consumed; the rest is passed on pointer-for-pointer. */
  { ARGV ("podshim", "--podshim-runtime", "crun", "--root", "/r", "--podshim-state", "/s", "--log",
          "/l", "create", "--bundle", "/b", "id"),
    .ci = 5, .keep = (const int[]){ 0, 3, 4, 7, 8, 9, 10, 11, 12, -1 }, .command = "create",
    .id = "id", .root = "/r", .log = "/l", .bundle = "/b", .shim_runtime = "crun",
    .shim_state = "/s", .n_positional = 1 },
  /* run's --detach, delete's --force. */
  { ARGV ("podshim", "--podshim-runtime=/usr/bin/crun", "-podshim-state=/st", "--debug", "run",
          "-d", "id"),
    .ci = 2, .keep = (const int[]){ 0, 3, 4, 5, 6, -1 }, .command = "run", .id = "id",
    .shim_runtime = "/usr/bin/crun", .shim_state = "/st", .n_positional = 1, .debug = true,
    .detach = true },
  /* The last --podshim-data wins. */
  { ARGV ("podshim", "--podshim-data", "/d", "-podshim-data=/d2", "--root", "/r", "delete", "id"),
    .ci = 3, .keep = (const int[]){ 0, 4, 5, 6, 7, -1 }, .command = "delete", .id = "id",
    .root = "/r", .shim_data = "/d2", .n_positional = 1 },
  /* The companions' Docker API. */
  { ARGV ("podshim", "--podshim-docker-host", "unix:///d.sock", "--root", "/r", "start", "id"),
    .ci = 3, .keep = (const int[]){ 0, 3, 4, 5, 6, -1 }, .command = "start", .id = "id",
    .root = "/r", .shim_docker_host = "unix:///d.sock", .n_positional = 1 },
  { ARGV ("podshim", "-podshim-runtime", "runc", "list"), .ci = 1,
    .keep = (const int[]){ 0, 3, -1 }, .command = "list", .shim_runtime = "runc" },
  /* After the command they belong to the command: passed on untouched. */
  { ARGV ("podshim", "create", "--podshim-runtime", "x", "id"), .ci = 1, .command = "create",
    .id = "x", .n_positional = 2, .uncertain = 2 },
  /* runc's own options without their value: runc reports it; we pass it on. */
  { ARGV ("podshim", "--root"), .ci = -1 },
  { ARGV ("podshim", "--log"), .ci = -1 },
  { ARGV ("podshim", "create", "id", "--bundle"), .ci = 1, .command = "create", .id = "id",
    .n_positional = 1, .uncertain = 3 },
  { ARGV ("podshim", "create", "--pid-file"), .ci = 1, .command = "create", .uncertain = 2 },
  /* `--` ends the global flags. */
  { ARGV ("podshim", "--root", "/r", "--", "create", "id"), .ci = 4, .command = "create",
    .id = "id", .root = "/r", .n_positional = 1 },
  /* After `--` nothing is a flag, podshim's options included. */
  { ARGV ("podshim", "--", "--podshim-runtime", "x"), .ci = 2, .command = "--podshim-runtime" },
  /* In the command's arguments: the ID after `--` may look like a flag. */
  { ARGV ("podshim", "delete", "-f", "--", "-weird"), .ci = 1, .command = "delete", .id = "-weird",
    .n_positional = 1, .force = true },
  { ARGV ("podshim", "--"), .ci = -1 },
  /* create's flags in every form. */
  { ARGV ("podshim", "create", "id", "--bundle", "/b", "--pid-file", "/p", "--console-socket",
          "/s"),
    .ci = 1, .command = "create", .id = "id", .bundle = "/b", .pid_file = "/p",
    .console_socket = "/s", .n_positional = 1 },
  { ARGV ("podshim", "create", "-b", "/b2", "--pid-file=/p2", "-console-socket=/s2", "--no-pivot",
          "--preserve-fds", "3", "id2"),
    .ci = 1, .command = "create", .id = "id2", .bundle = "/b2", .pid_file = "/p2",
    .console_socket = "/s2", .n_positional = 1 },
  { ARGV ("podshim", "create", "--bundle=/b3", "a", "b"), .ci = 1, .command = "create", .id = "a",
    .bundle = "/b3", .n_positional = 2 },
  /* An unknown command flag is taken as a bool: the ID still follows; the
     command line is uncertain (a member's is refused). */
  { ARGV ("podshim", "create", "--future-flag", "id"), .ci = 1, .command = "create", .id = "id",
    .n_positional = 1, .uncertain = 2 },
  /* runc 1.2's --pidfd-socket takes a value; crun's -f/--config and
     --no-subreaper; none is uncertain. */
  { ARGV ("podshim", "create", "--pidfd-socket", "/sock", "--no-new-keyring", "--no-subreaper",
          "-f", "other.json", "--bundle", "/b", "id"),
    .ci = 1, .command = "create", .id = "id", .bundle = "/b", .config = "other.json",
    .n_positional = 1 },
  /* A value option without its value is uncertain. */
  { ARGV ("podshim", "create", "id", "--pid-file"), .ci = 1, .command = "create", .id = "id",
    .n_positional = 1, .uncertain = 3 },
  /* Other commands' flags are not interpreted. */
  { ARGV ("podshim", "exec", "--pid-file", "/p", "id", "sh"), .ci = 1, .command = "exec" },
  { ARGV ("podshim", "run", "-d", "--bundle", "/b", "id"), .ci = 1, .command = "run", .id = "id",
    .bundle = "/b", .n_positional = 1, .detach = true },
  { ARGV ("podshim", "run", "--detach=false", "id"), .ci = 1, .command = "run", .id = "id",
    .n_positional = 1 },
  { ARGV ("podshim", "run", "id"), .ci = 1, .command = "run", .id = "id", .n_positional = 1 },
  { ARGV ("podshim", "delete", "-f", "id"), .ci = 1, .command = "delete", .id = "id",
    .n_positional = 1, .force = true },
  { ARGV ("podshim", "delete", "id", "--force"), .ci = 1, .command = "delete", .id = "id",
    .n_positional = 1, .force = true },
  { ARGV ("podshim", "delete", "--help"), .ci = 1, .command = "delete", .help = true },
  /* delete's -f is --force (create's is crun's --config); crun's --regex. */
  { ARGV ("podshim", "delete", "-f", "--regex", "id"), .ci = 1, .command = "delete", .id = "id",
    .n_positional = 1, .force = true },
  { ARGV ("podshim", "run", "--keep", "--no-subreaper", "-d", "id"), .ci = 1, .command = "run",
    .id = "id", .n_positional = 1, .detach = true },
  /* No command. */
  { ARGV ("podshim"), .ci = -1 },
  { ARGV ("podshim", "--debug", "--root", "/r"), .ci = -1, .root = "/r", .debug = true },
  { ARGV ("podshim", "--version"), .ci = -1, .version = true },
  { ARGV ("podshim", "-v"), .ci = -1, .version = true },
  { ARGV ("podshim", "--podshim-runtime", "crun", "-v"), .ci = -1,
    .keep = (const int[]){ 0, 3, -1 }, .shim_runtime = "crun", .version = true },
  { ARGV ("podshim", "--version=false", "list"), .ci = 2, .command = "list" },
  /* -v after the command is the command's. */
  { ARGV ("podshim", "list", "-v"), .ci = 1, .command = "list" },
  /* Unknown global options are uncertain. */
  { ARGV ("podshim", "--no-such-flag", "-x=1", "create", "--whatever=2", "id"), .ci = 3,
    .command = "create", .id = "id", .n_positional = 1, .uncertain = 1 },
  /* An unknown global option may have taken a value: `X create` is a create. */
  { ARGV ("podshim", "--new-opt", "X", "create", "--bundle", "/b", "id"), .ci = 3,
    .command = "create", .id = "id", .bundle = "/b", .n_positional = 1, .uncertain = 1 },
  /* crun's global options are known. */
  { ARGV ("podshim", "--cgroup-manager", "systemd", "--log-level=debug", "--usage"), .ci = -1 },
  /* --help: not parsed further, runc prints help. */
  { ARGV ("podshim", "--help", "create", "id"), .ci = 2, .command = "create", .help = true },
  /* "" and "-" are not flags: they are the command. */
  { ARGV ("podshim", "", "create", "id"), .ci = 1, .command = "" },
  { ARGV ("podshim", "--root", "", "create", "", "--bundle", ""), .ci = 3, .command = "create",
    .id = "", .root = "", .bundle = "", .n_positional = 1 },
  { ARGV ("podshim", "-", "x"), .ci = 1, .command = "-" },
  /* --podshim-help is podshim's (consumed); --help stays the delegate's. */
  { ARGV ("podshim", "--podshim-help"), .ci = -1, .keep = (const int[]){ 0, -1 },
    .shim_help = true },
  { ARGV ("podshim", "--root", "/r", "-podshim-help", "list"), .ci = 3,
    .keep = (const int[]){ 0, 1, 2, 4, -1 }, .command = "list", .root = "/r", .shim_help = true },
  { ARGV ("podshim", "--podshim-help=false", "--help"), .ci = -1, .keep = (const int[]){ 0, 2, -1 },
    .help = true },
  /* An empty argv[0] is passed on all the same. */
  { ARGV ("", "--podshim-state", "/s", ""), .ci = 1, .keep = (const int[]){ 0, 3, -1 },
    .command = "", .shim_state = "/s" },
};

static char *
case_line (char **in)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  assert_non_null (f);
  for (int i = 0; in[i]; i++)
    fprintf (f, "%s\"%s\"", i ? " " : "", in[i]);
  fclose (f);
  return buf;
}

/* A string field: NULL or equal to want, and then pointing into one of in's
 * strings (at its start, or just after a `=`). */
static void
check_str (const char *line, const char *field, char **in, const char *got, const char *want)
{
  if (got == NULL || want == NULL)
    {
      if (got != want)
        fail_msg ("%s: %s is %s, want %s", line, field, got ? got : "NULL", want ? want : "NULL");
      return;
    }
  if (strcmp (got, want) != 0)
    fail_msg ("%s: %s is `%s`, want `%s`", line, field, got, want);
  for (int i = 0; in[i]; i++)
    if (got == in[i] || (got > in[i] && got <= in[i] + strlen (in[i]) && got[-1] == '='))
      return;
  fail_msg ("%s: %s does not point into the caller's argv", line, field);
}

static void
check_bool (const char *line, const char *field, bool got, bool want)
{
  if (got != want)
    fail_msg ("%s: %s is %d, want %d", line, field, got, want);
}

static void
check_case (const struct argv_case *k)
{
  cleanup_free char *line = case_line (k->in);
  int n = count (k->in);
  struct runc_cmdline c;
  struct podshim_error *err = NULL;
  int r = runc_cmdline_parse (n, k->in, &c, &err);
  if (r < 0)
    fail_msg ("%s: %s", line, err->msg);
  assert_int_equal (r, 0);

  if (c.command_index != k->ci)
    fail_msg ("%s: command_index is %d, want %d", line, c.command_index, k->ci);
  if (k->ci >= 0 && c.command != c.argv[k->ci])
    fail_msg ("%s: command is not argv[command_index]", line);
  check_str (line, "command", k->in, c.command, k->command);
  check_str (line, "id", k->in, c.id, k->id);
  check_str (line, "root", k->in, c.root, k->root);
  check_str (line, "log", k->in, c.log, k->log);
  check_str (line, "log_format", k->in, c.log_format, k->log_format);
  check_str (line, "bundle", k->in, c.bundle, k->bundle);
  check_str (line, "pid_file", k->in, c.pid_file, k->pid_file);
  check_str (line, "console_socket", k->in, c.console_socket, k->console_socket);
  check_str (line, "config", k->in, c.config, k->config);
  check_str (line, "shim_runtime", k->in, c.shim_runtime, k->shim_runtime);
  check_str (line, "shim_state", k->in, c.shim_state, k->shim_state);
  check_str (line, "shim_data", k->in, c.shim_data, k->shim_data);
  check_str (line, "shim_config", k->in, c.shim_config, k->shim_config);
  check_str (line, "shim_max_pods", k->in, c.shim_max_pods, k->shim_max_pods);
  check_str (line, "shim_docker_host", k->in, c.shim_docker_host, k->shim_docker_host);
  if (c.n_positional != k->n_positional)
    fail_msg ("%s: n_positional is %d, want %d", line, c.n_positional, k->n_positional);
  const char *uncertain = k->uncertain ? k->in[k->uncertain] : NULL;
  if (c.uncertain != uncertain)
    fail_msg ("%s: uncertain is %s, want %s", line, c.uncertain ? c.uncertain : "NULL",
              uncertain ? uncertain : "NULL");
  check_bool (line, "debug", c.debug, k->debug);
  check_bool (line, "version", c.version, k->version);
  check_bool (line, "detach", c.detach, k->detach);
  check_bool (line, "force", c.force, k->force);
  check_bool (line, "help", c.help, k->help);
  check_bool (line, "shim_help", c.shim_help, k->shim_help);

  /* Passed on: the very pointers, in order, NULL-terminated. */
  int want_argc = n;
  if (k->keep)
    for (want_argc = 0; k->keep[want_argc] >= 0; want_argc++)
      ;
  if (c.argc != want_argc)
    fail_msg ("%s: argc is %d, want %d", line, c.argc, want_argc);
  for (int i = 0; i < want_argc; i++)
    {
      int j = k->keep ? k->keep[i] : i;
      if (c.argv[i] != k->in[j])
        fail_msg ("%s: argv[%d] is `%s`, want input[%d] `%s`", line, i,
                  c.argv[i] ? c.argv[i] : "(null)", j, k->in[j]);
    }
  assert_null (c.argv[want_argc]);
  runc_cmdline_free (&c);
}

static void
test_cases (void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    check_case (&cases[i]);
}

/* podshim's own options without a (non-empty) value are refused. */
static void
test_podshim_option_missing_value (void **state)
{
  (void)state;
  const struct
  {
    char **in;
    const char *msg;
  } bad[] = {
    { ARGV ("podshim", "--podshim-runtime"), "`--podshim-runtime` needs a value" },
    { ARGV ("podshim", "--root", "/r", "--podshim-state"), "`--podshim-state` needs a value" },
    { ARGV ("podshim", "--podshim-state=", "list"), "`--podshim-state` needs a non-empty value" },
    { ARGV ("podshim", "--podshim-runtime", "", "list"),
      "`--podshim-runtime` needs a non-empty value" },
    { ARGV ("podshim", "--podshim-data=", "list"), "`--podshim-data` needs a non-empty value" },
    { ARGV ("podshim", "--podshim-docker-host=", "list"),
      "`--podshim-docker-host` needs a non-empty value" },
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      struct runc_cmdline c;
      struct podshim_error *err = NULL;
      assert_true (runc_cmdline_parse (count (bad[i].in), bad[i].in, &c, &err) < 0);
      assert_error_contains (&err, bad[i].msg);
    }
}

/* argc 0 (execve with an empty argv) */
static void
test_empty_argv (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char *empty[] = { NULL };
  struct podshim_error *err = NULL;
  assert_int_equal (runc_cmdline_parse (0, empty, &c, &err), 0);
  assert_null (err);
  assert_int_equal (c.argc, 0);
  assert_null (c.argv[0]);
  assert_null (c.command);
  runc_cmdline_free (&c);
}

static void
test_parse_go_bool (void **state)
{
  (void)state;
  const char *t[] = { "1", "t", "T", "TRUE", "true", "True" };
  const char *f[] = { "0", "f", "F", "FALSE", "false", "False" };
  const char *bad[] = { "", "yes", "tRUE", "2", "true ", "FaLse" };
  for (size_t i = 0; i < 6; i++)
    {
      bool b = false;
      assert_int_equal (parse_go_bool (t[i], &b), 0);
      assert_true (b);
      b = true;
      assert_int_equal (parse_go_bool (f[i], &b), 0);
      assert_false (b);
      assert_int_equal (parse_go_bool (bad[i], &b), -1);
    }
}

/* The defaults follow the environment: root of the host keeps /run and
 * /var/lib whatever $XDG_RUNTIME_DIR says; a rootless runtime (here: a
 * child in a user namespace of its own, where it is not root) uses
 * $XDG_RUNTIME_DIR and $XDG_DATA_HOME (else ~/.local/share), as runc does. */
static void
expect_dirs (const char *state, const char *data, const char *root)
{
  struct runc_cmdline c = { 0 };
  struct podshim_error *err = NULL;
  assert_no_error (runc_cmdline_parse (2, ARGV ("podshim", "list"), &c, &err), err);
  struct shim_ctx ctx;
  assert_no_error (shim_ctx_init (&ctx, &c, &err), err);
  assert_string_equal (ctx.state_dir, state);
  assert_string_equal (ctx.data_dir, data);
  assert_string_equal (ctx.root, root);
  shim_ctx_free (&ctx);
  runc_cmdline_free (&c);
}

static void
test_rootless_defaults (void **state)
{
  (void)state;
  unsetenv ("PODSHIM_STATE");
  unsetenv ("PODSHIM_DATA");
  unsetenv ("PODSHIM_DELEGATE");
  unsetenv ("XDG_DATA_HOME");
  setenv ("HOME", "/home/u", 1);
  setenv ("USER", "u", 1);
  unsetenv ("XDG_RUNTIME_DIR");
  assert_false (shim_rootless ());
  if (geteuid () == 0)
    {
      expect_dirs ("/run/podshim", "/var/lib/podshim", "/run/runc");
      setenv ("XDG_RUNTIME_DIR", "/run/user/0", 1);
      assert_false (shim_rootless ());
      expect_dirs ("/run/podshim", "/var/lib/podshim", "/run/runc");
    }
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* Unmapped: not root there. */
      if (geteuid () == 0 && unshare (CLONE_NEWUSER) < 0)
        _exit (77);
      if (!shim_rootless ())
        _exit (1);
      expect_dirs ("/run/user/1000/podshim", "/home/u/.local/share/podshim", "/run/user/1000/runc");
      setenv ("XDG_DATA_HOME", "/data/u", 1);
      expect_dirs ("/run/user/1000/podshim", "/data/u/podshim", "/run/user/1000/runc");
      _exit (0);
    }
  int status;
  assert_int_equal (waitpid (pid, &status, 0), pid);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
    skip ();
  assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  unsetenv ("XDG_RUNTIME_DIR");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_cases),
    cmocka_unit_test (test_podshim_option_missing_value),
    cmocka_unit_test (test_empty_argv),
    cmocka_unit_test (test_parse_go_bool),
    cmocka_unit_test (test_rootless_defaults),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

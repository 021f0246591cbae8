/* runc_cmdline_parse: runc's global flags in every form, podshim's options
 * consumed, everything else passed on pointer-for-pointer in order. */
#include "config.h"
#include "testutil.h"

#include "argv.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define KEEP(...) ((int[]){ __VA_ARGS__ }), (int)(sizeof ((int[]){ __VA_ARGS__ }) / sizeof (int))

static int
count (char **argv)
{
  int n = 0;
  while (argv[n])
    n++;
  return n;
}

/* Parses argv, which must succeed. */
static void
parse_ok (char **argv, struct runc_cmdline *c)
{
  struct podshim_error *err = NULL;
  int r = runc_cmdline_parse (count (argv), argv, c, &err);
  assert_no_error (r, err);
  assert_int_equal (r, 0);
}

/* c->argv must be exactly in[keep[0]], in[keep[1]], ...: the same pointers. */
static void
assert_passed (const struct runc_cmdline *c, char **in, const int *keep, int n)
{
  assert_int_equal (c->argc, n);
  for (int i = 0; i < n; i++)
    {
      if (c->argv[i] != in[keep[i]])
        fail_msg ("argv[%d] is `%s`, expected input[%d] `%s`", i,
                  c->argv[i] ? c->argv[i] : "(null)", keep[i], in[keep[i]]);
    }
  assert_null (c->argv[n]);
}

/* Every argument is passed on. */
static void
assert_all_passed (const struct runc_cmdline *c, char **in)
{
  int n = count (in);
  assert_int_equal (c->argc, n);
  for (int i = 0; i <= n; i++)
    assert_ptr_equal (c->argv[i], in[i]);
}

static void
test_root_forms (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--root", "/r1", "state", "x");
  parse_ok (a, &c);
  assert_ptr_equal (c.root, a[2]);
  assert_string_equal (c.command, "state");
  assert_int_equal (c.command_index, 3);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--root=/r2", "state", "x");
  parse_ok (b, &c);
  assert_string_equal (c.root, "/r2");
  assert_ptr_equal (c.root, b[1] + strlen ("--root="));
  assert_int_equal (c.command_index, 2);
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "-root", "/r3", "list");
  parse_ok (d, &c);
  assert_ptr_equal (c.root, d[2]);
  assert_string_equal (c.command, "list");
  assert_all_passed (&c, d);
  runc_cmdline_free (&c);

  char **e = ARGV ("podshim", "-root=/r4", "list");
  parse_ok (e, &c);
  assert_string_equal (c.root, "/r4");
  assert_int_equal (c.command_index, 2);
  assert_all_passed (&c, e);
  runc_cmdline_free (&c);

  /* The last one wins, as with Go's flag package. */
  char **f = ARGV ("podshim", "--root", "/a", "--root=/b", "list");
  parse_ok (f, &c);
  assert_string_equal (c.root, "/b");
  assert_all_passed (&c, f);
  runc_cmdline_free (&c);
}

static void
test_log_flags (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--log", "/l.json", "--log-format", "json", "create", "id");
  parse_ok (a, &c);
  assert_ptr_equal (c.log, a[2]);
  assert_ptr_equal (c.log_format, a[4]);
  assert_int_equal (c.command_index, 5);
  assert_string_equal (c.id, "id");
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "-log=/l", "-log-format=text", "start", "id");
  parse_ok (b, &c);
  assert_string_equal (c.log, "/l");
  assert_string_equal (c.log_format, "text");
  assert_string_equal (c.command, "start");
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);
}

static void
test_bool_flags (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--debug", "--systemd-cgroup", "create", "x");
  parse_ok (a, &c);
  assert_true (c.debug);
  assert_int_equal (c.command_index, 3);
  assert_string_equal (c.command, "create");
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--debug=false", "delete", "x");
  parse_ok (b, &c);
  assert_false (c.debug);
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "-debug=1", "delete", "x");
  parse_ok (d, &c);
  assert_true (c.debug);
  runc_cmdline_free (&c);

  /* A bool flag never takes the next argument: "false" is the command. */
  char **e = ARGV ("podshim", "--debug", "false", "delete", "x");
  parse_ok (e, &c);
  assert_true (c.debug);
  assert_string_equal (c.command, "false");
  assert_int_equal (c.command_index, 2);
  assert_all_passed (&c, e);
  runc_cmdline_free (&c);
}

static void
test_value_flags (void **state)
{
  (void)state;
  struct runc_cmdline c;
  /* --criu and --rootless take a value (rootless: true|false|auto). */
  char **a = ARGV ("podshim", "--criu", "/usr/sbin/criu", "--rootless", "true", "create", "x");
  parse_ok (a, &c);
  assert_string_equal (c.command, "create");
  assert_int_equal (c.command_index, 5);
  assert_string_equal (c.id, "x");
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--rootless=auto", "-criu=x", "ps", "id");
  parse_ok (b, &c);
  assert_string_equal (c.command, "ps");
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  /* A value flag takes the next argument whatever it looks like. */
  char **d = ARGV ("podshim", "--root", "--podshim-runtime", "x", "create", "id");
  parse_ok (d, &c);
  assert_ptr_equal (c.root, d[2]);
  assert_null (c.shim_runtime);
  assert_string_equal (c.command, "x");
  assert_int_equal (c.command_index, 3);
  assert_all_passed (&c, d);
  runc_cmdline_free (&c);
}

static void
test_podshim_options_consumed (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--podshim-runtime", "crun", "--root", "/r", "--podshim-state", "/s",
                   "--log", "/l", "create", "--bundle", "/b", "id");
  parse_ok (a, &c);
  assert_ptr_equal (c.shim_runtime, a[2]);
  assert_ptr_equal (c.shim_state, a[6]);
  assert_ptr_equal (c.root, a[4]);
  assert_ptr_equal (c.log, a[8]);
  assert_passed (&c, a, KEEP (0, 3, 4, 7, 8, 9, 10, 11, 12));
  assert_int_equal (c.command_index, 5);
  assert_ptr_equal (c.argv[c.command_index], a[9]);
  assert_ptr_equal (c.command, a[9]);
  assert_ptr_equal (c.bundle, a[11]);
  assert_ptr_equal (c.id, a[12]);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--podshim-runtime=/usr/bin/crun", "-podshim-state=/st", "--debug",
                   "run", "-d", "id");
  parse_ok (b, &c);
  assert_string_equal (c.shim_runtime, "/usr/bin/crun");
  assert_ptr_equal (c.shim_runtime, b[1] + strlen ("--podshim-runtime="));
  assert_string_equal (c.shim_state, "/st");
  assert_passed (&c, b, KEEP (0, 3, 4, 5, 6));
  assert_int_equal (c.command_index, 2);
  assert_true (c.detach);
  assert_true (c.debug);
  runc_cmdline_free (&c);

  char **dd = ARGV ("podshim", "--podshim-data", "/d", "-podshim-data=/d2", "--root", "/r",
                    "delete", "id");
  parse_ok (dd, &c);
  assert_string_equal (c.shim_data, "/d2"); /* the last wins */
  assert_passed (&c, dd, KEEP (0, 4, 5, 6, 7));
  runc_cmdline_free (&c);
  struct podshim_error *derr = NULL;
  char **de = ARGV ("podshim", "--podshim-data=", "list");
  assert_true (runc_cmdline_parse (3, de, &c, &derr) < 0);
  assert_error_contains (&derr, "`--podshim-data` needs a non-empty value");

  char **dh = ARGV ("podshim", "--podshim-docker-host", "unix:///d.sock", "--root", "/r", "start",
                    "id");
  parse_ok (dh, &c);
  assert_string_equal (c.shim_docker_host, "unix:///d.sock");
  assert_passed (&c, dh, KEEP (0, 3, 4, 5, 6));
  runc_cmdline_free (&c);
  char **dhe = ARGV ("podshim", "--podshim-docker-host=", "list");
  assert_true (runc_cmdline_parse (3, dhe, &c, &derr) < 0);
  assert_error_contains (&derr, "`--podshim-docker-host` needs a non-empty value");

  char **d = ARGV ("podshim", "-podshim-runtime", "runc", "list");
  parse_ok (d, &c);
  assert_ptr_equal (c.shim_runtime, d[2]);
  assert_passed (&c, d, KEEP (0, 3));
  runc_cmdline_free (&c);

  /* After the command they belong to the command: passed on untouched. */
  char **e = ARGV ("podshim", "create", "--podshim-runtime", "x", "id");
  parse_ok (e, &c);
  assert_null (c.shim_runtime);
  assert_all_passed (&c, e);
  runc_cmdline_free (&c);
}

static void
test_podshim_option_missing_value (void **state)
{
  (void)state;
  struct runc_cmdline c;
  struct podshim_error *err = NULL;
  char **a = ARGV ("podshim", "--podshim-runtime");
  assert_true (runc_cmdline_parse (count (a), a, &c, &err) < 0);
  assert_error_contains (&err, "`--podshim-runtime` needs a value");
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--root", "/r", "--podshim-state");
  assert_true (runc_cmdline_parse (count (b), b, &c, &err) < 0);
  assert_error_contains (&err, "`--podshim-state` needs a value");
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "--podshim-state=", "list");
  assert_true (runc_cmdline_parse (count (d), d, &c, &err) < 0);
  assert_error_contains (&err, "`--podshim-state` needs a non-empty value");
  runc_cmdline_free (&c);

  char **e = ARGV ("podshim", "--podshim-runtime", "", "list");
  assert_true (runc_cmdline_parse (count (e), e, &c, &err) < 0);
  assert_error_contains (&err, "`--podshim-runtime` needs a non-empty value");
  runc_cmdline_free (&c);
}

static void
test_runc_option_missing_value (void **state)
{
  (void)state;
  struct runc_cmdline c;
  /* runc reports it; we pass it on and do not crash. */
  char **a = ARGV ("podshim", "--root");
  parse_ok (a, &c);
  assert_null (c.root);
  assert_null (c.command);
  assert_int_equal (c.command_index, -1);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--log");
  parse_ok (b, &c);
  assert_null (c.log);
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "create", "id", "--bundle");
  parse_ok (d, &c);
  assert_null (c.bundle);
  assert_string_equal (c.id, "id");
  assert_int_equal (c.n_positional, 1);
  assert_all_passed (&c, d);
  runc_cmdline_free (&c);

  char **e = ARGV ("podshim", "create", "--pid-file");
  parse_ok (e, &c);
  assert_null (c.pid_file);
  assert_null (c.id);
  assert_int_equal (c.n_positional, 0);
  runc_cmdline_free (&c);
}

static void
test_double_dash (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--root", "/r", "--", "create", "id");
  parse_ok (a, &c);
  assert_string_equal (c.command, "create");
  assert_int_equal (c.command_index, 4);
  assert_string_equal (c.id, "id");
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  /* After `--` nothing is a flag, podshim's options included. */
  char **b = ARGV ("podshim", "--", "--podshim-runtime", "x");
  parse_ok (b, &c);
  assert_null (c.shim_runtime);
  assert_string_equal (c.command, "--podshim-runtime");
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  /* In the command's arguments: the ID after `--` may look like a flag. */
  char **d = ARGV ("podshim", "delete", "-f", "--", "-weird");
  parse_ok (d, &c);
  assert_true (c.force);
  assert_string_equal (c.id, "-weird");
  assert_int_equal (c.n_positional, 1);
  assert_all_passed (&c, d);
  runc_cmdline_free (&c);

  char **e = ARGV ("podshim", "--");
  parse_ok (e, &c);
  assert_null (c.command);
  assert_int_equal (c.command_index, -1);
  assert_all_passed (&c, e);
  runc_cmdline_free (&c);
}

static void
test_create_flags (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "create", "id", "--bundle", "/b", "--pid-file", "/p",
                   "--console-socket", "/s");
  parse_ok (a, &c);
  assert_ptr_equal (c.id, a[2]);
  assert_ptr_equal (c.bundle, a[4]);
  assert_ptr_equal (c.pid_file, a[6]);
  assert_ptr_equal (c.console_socket, a[8]);
  assert_int_equal (c.n_positional, 1);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "create", "-b", "/b2", "--pid-file=/p2", "-console-socket=/s2",
                   "--no-pivot", "--preserve-fds", "3", "id2");
  parse_ok (b, &c);
  assert_ptr_equal (c.bundle, b[3]);
  assert_string_equal (c.pid_file, "/p2");
  assert_string_equal (c.console_socket, "/s2");
  assert_ptr_equal (c.id, b[9]);
  assert_int_equal (c.n_positional, 1);
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "create", "--bundle=/b3", "a", "b");
  parse_ok (d, &c);
  assert_string_equal (c.bundle, "/b3");
  assert_string_equal (c.id, "a");
  assert_int_equal (c.n_positional, 2);
  runc_cmdline_free (&c);

  /* An unknown command flag is taken as a bool: the ID still follows; the
     command line is uncertain (a member's is refused). */
  char **e = ARGV ("podshim", "create", "--future-flag", "id");
  parse_ok (e, &c);
  assert_string_equal (c.id, "id");
  assert_int_equal (c.n_positional, 1);
  assert_ptr_equal (c.uncertain, e[2]);
  runc_cmdline_free (&c);

  /* runc 1.2's --pidfd-socket takes a value; crun's -f/--config and
     --no-subreaper; none is uncertain. */
  char **g = ARGV ("podshim", "create", "--pidfd-socket", "/sock", "--no-new-keyring",
                   "--no-subreaper", "-f", "other.json", "--bundle", "/b", "id");
  parse_ok (g, &c);
  assert_string_equal (c.id, "id");
  assert_int_equal (c.n_positional, 1);
  assert_string_equal (c.config, "other.json");
  assert_string_equal (c.bundle, "/b");
  assert_null (c.uncertain);
  assert_all_passed (&c, g);
  runc_cmdline_free (&c);

  /* A value option without its value is uncertain. */
  char **h = ARGV ("podshim", "create", "id", "--pid-file");
  parse_ok (h, &c);
  assert_ptr_equal (c.uncertain, h[3]);
  runc_cmdline_free (&c);

  /* Other commands' flags are not interpreted. */
  char **f = ARGV ("podshim", "exec", "--pid-file", "/p", "id", "sh");
  parse_ok (f, &c);
  assert_null (c.pid_file);
  assert_null (c.id);
  assert_all_passed (&c, f);
  runc_cmdline_free (&c);
}

static void
test_run_detach_delete_force (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "run", "-d", "--bundle", "/b", "id");
  parse_ok (a, &c);
  assert_true (c.detach);
  assert_string_equal (c.command, "run");
  assert_string_equal (c.id, "id");
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "run", "--detach=false", "id");
  parse_ok (b, &c);
  assert_false (c.detach);
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "run", "id");
  parse_ok (d, &c);
  assert_false (c.detach);
  runc_cmdline_free (&c);

  char **e = ARGV ("podshim", "delete", "-f", "id");
  parse_ok (e, &c);
  assert_true (c.force);
  assert_string_equal (c.id, "id");
  assert_all_passed (&c, e);
  runc_cmdline_free (&c);

  char **f = ARGV ("podshim", "delete", "id", "--force");
  parse_ok (f, &c);
  assert_true (c.force);
  assert_string_equal (c.id, "id");
  runc_cmdline_free (&c);

  char **g = ARGV ("podshim", "delete", "--help");
  parse_ok (g, &c);
  assert_true (c.help);
  assert_null (c.id);
  runc_cmdline_free (&c);

  /* delete's -f is --force (create's is crun's --config); crun's --regex. */
  char **h = ARGV ("podshim", "delete", "-f", "--regex", "id");
  parse_ok (h, &c);
  assert_true (c.force);
  assert_null (c.config);
  assert_string_equal (c.id, "id");
  assert_null (c.uncertain);
  runc_cmdline_free (&c);

  char **i = ARGV ("podshim", "run", "--keep", "--no-subreaper", "-d", "id");
  parse_ok (i, &c);
  assert_true (c.detach);
  assert_null (c.uncertain);
  runc_cmdline_free (&c);
}

static void
test_no_command (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim");
  parse_ok (a, &c);
  assert_null (c.command);
  assert_int_equal (c.command_index, -1);
  assert_int_equal (c.argc, 1);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--debug", "--root", "/r");
  parse_ok (b, &c);
  assert_null (c.command);
  assert_int_equal (c.command_index, -1);
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  /* argc 0 (execve with an empty argv) */
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
test_version (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--version");
  parse_ok (a, &c);
  assert_true (c.version);
  assert_null (c.command);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "-v");
  parse_ok (b, &c);
  assert_true (c.version);
  runc_cmdline_free (&c);

  char **d = ARGV ("podshim", "--podshim-runtime", "crun", "-v");
  parse_ok (d, &c);
  assert_true (c.version);
  assert_passed (&c, d, KEEP (0, 3));
  runc_cmdline_free (&c);

  char **e = ARGV ("podshim", "--version=false", "list");
  parse_ok (e, &c);
  assert_false (c.version);
  runc_cmdline_free (&c);

  /* -v after the command is the command's */
  char **f = ARGV ("podshim", "list", "-v");
  parse_ok (f, &c);
  assert_false (c.version);
  runc_cmdline_free (&c);
}

static void
test_unknown_flags (void **state)
{
  (void)state;
  struct runc_cmdline c;
  char **a = ARGV ("podshim", "--no-such-flag", "-x=1", "create", "--whatever=2", "id");
  parse_ok (a, &c);
  assert_string_equal (c.command, "create");
  assert_int_equal (c.command_index, 3);
  assert_string_equal (c.id, "id");
  assert_ptr_equal (c.uncertain, a[1]);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  /* An unknown global option may have taken a value: `X create` is a create. */
  char **d = ARGV ("podshim", "--new-opt", "X", "create", "--bundle", "/b", "id");
  parse_ok (d, &c);
  assert_string_equal (c.command, "create");
  assert_int_equal (c.command_index, 3);
  assert_string_equal (c.id, "id");
  assert_string_equal (c.bundle, "/b");
  assert_ptr_equal (c.uncertain, d[1]);
  assert_all_passed (&c, d);
  runc_cmdline_free (&c);

  /* crun's global options are known. */
  char **e = ARGV ("podshim", "--cgroup-manager", "systemd", "--log-level=debug", "--usage");
  parse_ok (e, &c);
  assert_null (c.uncertain);
  assert_null (c.command);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--help", "create", "id");
  parse_ok (b, &c);
  assert_true (c.help);
  assert_null (c.id); /* not parsed: runc prints help */
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);
}

static void
test_empty_strings (void **state)
{
  (void)state;
  struct runc_cmdline c;
  /* "" is not a flag: it is the command. */
  char **a = ARGV ("podshim", "", "create", "id");
  parse_ok (a, &c);
  assert_string_equal (c.command, "");
  assert_int_equal (c.command_index, 1);
  assert_null (c.id);
  assert_all_passed (&c, a);
  runc_cmdline_free (&c);

  char **b = ARGV ("podshim", "--root", "", "create", "", "--bundle", "");
  parse_ok (b, &c);
  assert_string_equal (c.root, "");
  assert_string_equal (c.id, "");
  assert_string_equal (c.bundle, "");
  assert_all_passed (&c, b);
  runc_cmdline_free (&c);

  /* "-" alone is not a flag either */
  char **d = ARGV ("podshim", "-", "x");
  parse_ok (d, &c);
  assert_string_equal (c.command, "-");
  assert_all_passed (&c, d);
  runc_cmdline_free (&c);

  char **e = ARGV ("", "--podshim-state", "/s", "");
  parse_ok (e, &c);
  assert_string_equal (c.shim_state, "/s");
  assert_passed (&c, e, KEEP (0, 3));
  assert_int_equal (c.command_index, 1);
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

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_root_forms),
    cmocka_unit_test (test_log_flags),
    cmocka_unit_test (test_bool_flags),
    cmocka_unit_test (test_value_flags),
    cmocka_unit_test (test_podshim_options_consumed),
    cmocka_unit_test (test_podshim_option_missing_value),
    cmocka_unit_test (test_runc_option_missing_value),
    cmocka_unit_test (test_double_dash),
    cmocka_unit_test (test_create_flags),
    cmocka_unit_test (test_run_detach_delete_force),
    cmocka_unit_test (test_no_command),
    cmocka_unit_test (test_version),
    cmocka_unit_test (test_unknown_flags),
    cmocka_unit_test (test_empty_strings),
    cmocka_unit_test (test_parse_go_bool),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

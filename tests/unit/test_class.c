/* Runtime classes (config, argv rewrite, container ID of a command), the
 * per-container record, and start-condition parsing. */
#include "config.h"
#include "testutil.h"

#include "argv.h"
#include "class.h"
#include "record.h"
#include "stateformat.h"
#include "startwait.h"

static int
cfg_parse (const char *text, struct class_config *cfg, struct podshim_error **err)
{
  memset (cfg, 0, sizeof (*cfg));
  return class_config_parse (text, strlen (text), "cfg", cfg, err);
}

static void
expect_bad_cfg (const char *text, const char *needle)
{
  struct class_config cfg;
  struct podshim_error *err = NULL;
  assert_int_equal (cfg_parse (text, &cfg, &err), -1);
  assert_non_null (err);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("`%s` not in `%s`", needle, err->msg);
  podshim_error_free (err);
  assert_int_equal (cfg.n, 0);
}

static void
test_config (void **state)
{
  (void)state;
  struct class_config cfg;
  struct podshim_error *err = NULL;
  assert_int_equal (
      cfg_parse ("{\"default-runtime\":\"x\",\"runtimes\":{\"gvisor\":{\"path\":\"/usr/bin/runsc\","
                 "\"runtimeArgs\":[\"--platform=ptrace\",\"--network=none\"]},"
                 "\"crun\":{\"path\":\"crun\",\"runtimeArgs\":null,\"other\":1}}}",
                 &cfg, &err),
      0);
  assert_null (err);
  assert_int_equal (cfg.n, 2);
  const struct runtime_class *g = class_config_find (&cfg, "gvisor");
  assert_non_null (g);
  assert_string_equal (g->path, "/usr/bin/runsc");
  assert_int_equal (g->n_args, 2);
  assert_string_equal (g->args[1], "--network=none");
  assert_null (g->args[2]);
  const struct runtime_class *c = class_config_find (&cfg, "crun");
  assert_non_null (c);
  assert_int_equal (c->n_args, 0);
  assert_null (class_config_find (&cfg, "kata"));
  char *names = class_config_names (&cfg);
  assert_string_equal (names, "`gvisor`, `crun`");
  free (names);
  class_config_free (&cfg);

  /* No runtimes: an empty config. */
  assert_int_equal (cfg_parse ("{}", &cfg, &err), 0);
  assert_int_equal (cfg.n, 0);
  names = class_config_names (&cfg);
  assert_string_equal (names, "none");
  free (names);

  expect_bad_cfg ("[]", "not a JSON object");
  expect_bad_cfg ("{\"runtimes\":[]}", "`runtimes` is not an object");
  expect_bad_cfg ("{\"runtimes\":{\"a/b\":{\"path\":\"/x\"}}}", "invalid runtime name");
  expect_bad_cfg ("{\"runtimes\":{\"..\":{\"path\":\"/x\"}}}", "invalid runtime name");
  expect_bad_cfg ("{\"runtimes\":{\"a\":{}}}", "has no `path`");
  expect_bad_cfg ("{\"runtimes\":{\"a\":{\"path\":\"\"}}}", "has no `path`");
  expect_bad_cfg ("{\"runtimes\":{\"a\":{\"path\":\"bin/x\"}}}", "absolute or a bare");
  expect_bad_cfg ("{\"runtimes\":{\"a\":\"x\"}}", "not an object");
  expect_bad_cfg ("{\"runtimes\":{\"a\":{\"path\":\"/x\",\"runtimeArgs\":[1]}}}", "runtimeArgs[0]");
  expect_bad_cfg ("{\"runtimes\":{\"a\":{\"path\":\"/x\",\"runtimeArgs\":\"-x\"}}}",
                  "not an array");
  expect_bad_cfg ("{\"runtimes\":{\"a\":{\"path\":\"/x\"},\"a\":{\"path\":\"/y\"}}}",
                  "defined twice");
  expect_bad_cfg ("{\"runtimes\":", "cfg");

  /* Bounds: runtimes and args. */
  char *big = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&big, &len);
  fputs ("{\"runtimes\":{", f);
  for (int i = 0; i <= CLASS_MAX; i++)
    fprintf (f, "%s\"r%d\":{\"path\":\"/x\"}", i ? "," : "", i);
  fputs ("}}", f);
  fclose (f);
  expect_bad_cfg (big, "more than");
  free (big);
  f = open_memstream (&big, &len);
  fputs ("{\"runtimes\":{\"a\":{\"path\":\"/x\",\"runtimeArgs\":[", f);
  for (int i = 0; i <= CLASS_ARGS_MAX; i++)
    fprintf (f, "%s\"a\"", i ? "," : "");
  fputs ("]}}}", f);
  fclose (f);
  expect_bad_cfg (big, "more than");
  free (big);
}

static void
test_names (void **state)
{
  (void)state;
  assert_true (class_name_valid ("gvisor"));
  assert_true (class_name_valid ("nvidia-2.x_y"));
  assert_true (class_name_valid ("0"));
  assert_false (class_name_valid (""));
  assert_false (class_name_valid (".hidden"));
  assert_false (class_name_valid ("-x"));
  assert_false (class_name_valid ("a/b"));
  assert_false (class_name_valid ("a b"));
  char n[CLASS_NAME_MAX + 2];
  memset (n, 'a', sizeof (n) - 1);
  n[sizeof (n) - 1] = '\0';
  assert_false (class_name_valid (n));
  n[CLASS_NAME_MAX] = '\0';
  assert_true (class_name_valid (n));

  char *r = class_root ("/run/runc", "gvisor");
  assert_string_equal (r, "/run/runc-podshim-class-gvisor");
  free (r);
  r = class_root ("/var/run/docker/runtime-runc/moby//", "crun");
  assert_string_equal (r, "/var/run/docker/runtime-runc/moby-podshim-class-crun");
  free (r);
}

static void
parse_cmdline (struct runc_cmdline *c, char **argv)
{
  int argc = 0;
  while (argv[argc])
    argc++;
  struct podshim_error *err = NULL;
  assert_int_equal (runc_cmdline_parse (argc, argv, c, &err), 0);
}

static void
assert_argv (char **got, const char *const *want)
{
  size_t i = 0;
  for (; want[i]; i++)
    {
      assert_non_null (got[i]);
      assert_string_equal (got[i], want[i]);
    }
  assert_null (got[i]);
}

static void
test_apply (void **state)
{
  (void)state;
  char *argv[] = { "podshim",  "--podshim-config", "/c.json", "--root",   "/r", "--log", "l",
                   "-root=/x", "--debug",          "create",  "--bundle", "b",  "id",    NULL };
  struct runc_cmdline c;
  parse_cmdline (&c, argv);
  assert_string_equal (c.shim_config, "/c.json");
  char *args[] = { "--platform=ptrace", "--network=none", NULL };
  struct runtime_class rc
      = { .name = "gvisor", .path = "/usr/bin/runsc", .args = args, .n_args = 2 };
  class_apply (&c, &rc, "/r-podshim-class-gvisor");
  const char *want[] = { "/usr/bin/runsc",
                         "--platform=ptrace",
                         "--network=none",
                         "--log",
                         "l",
                         "--debug",
                         "--root",
                         "/r-podshim-class-gvisor",
                         "create",
                         "--bundle",
                         "b",
                         "id",
                         NULL };
  assert_argv (c.argv, want);
  assert_int_equal (c.argc, 12);
  assert_string_equal (c.command, "create");
  assert_string_equal (c.argv[c.command_index], "create");
  assert_string_equal (c.root, "/r-podshim-class-gvisor");
  assert_string_equal (c.shim_runtime, "/usr/bin/runsc");
  runc_cmdline_free (&c);

  /* No global options at all. */
  char *argv2[] = { "podshim", "start", "id", NULL };
  parse_cmdline (&c, argv2);
  struct runtime_class rc2 = { .name = "crun", .path = "crun", .args = (char *[]){ NULL } };
  class_apply (&c, &rc2, "/run/runc-podshim-class-crun");
  const char *want2[] = { "crun", "--root", "/run/runc-podshim-class-crun", "start", "id", NULL };
  assert_argv (c.argv, want2);
  runc_cmdline_free (&c);
}

static const char *
cmd_id (char **argv, struct runc_cmdline *c)
{
  parse_cmdline (c, argv);
  return class_command_id (c);
}

static void
test_command_id (void **state)
{
  (void)state;
  struct runc_cmdline c;
#define ID_IS(want, ...)                                                                           \
  do                                                                                               \
    {                                                                                              \
      char *av[] = { "podshim", "--root", "/r", __VA_ARGS__, NULL };                               \
      const char *got = cmd_id (av, &c);                                                           \
      if (want == NULL)                                                                            \
        assert_null (got);                                                                         \
      else                                                                                         \
        {                                                                                          \
          assert_non_null (got);                                                                   \
          assert_string_equal (got, (const char *)want);                                           \
        }                                                                                          \
      runc_cmdline_free (&c);                                                                      \
    }                                                                                              \
  while (0)
  ID_IS ("x", "start", "x");
  ID_IS ("x", "state", "x");
  ID_IS ("x", "kill", "--all", "x", "KILL");
  ID_IS ("x", "kill", "-a", "x");
  ID_IS ("x", "delete", "--force", "x");
  ID_IS ("x", "delete", "-f=true", "x");
  ID_IS ("x", "exec", "--process", "/p.json", "--detach", "--pid-file", "/p", "x");
  ID_IS ("x", "exec", "-e", "A=B", "-u", "0:0", "--cwd=/", "-t", "x", "sh");
  ID_IS ("x", "exec", "--", "x", "sh");
  ID_IS ("x", "ps", "--format", "json", "x", "-ef");
  ID_IS ("x", "ps", "-f", "json", "x");
  ID_IS ("x", "events", "--interval", "5s", "--stats", "x");
  ID_IS ("x", "update", "--resources", "-", "x");
  ID_IS ("x", "update", "-r", "/res.json", "--pids-limit", "10", "x");
  ID_IS ("x", "pause", "x");
  ID_IS ("x", "resume", "x");
  ID_IS ("x", "checkpoint", "--image-path", "/i", "x");
  ID_IS (NULL, "list", "-q");
  ID_IS (NULL, "features");
  ID_IS (NULL, "create", "--bundle", "b", "x");
  ID_IS (NULL, "run", "x");
  ID_IS (NULL, "start");
  ID_IS (NULL, "start", "--help", "x");
  ID_IS (NULL, "exec", "--process");
#undef ID_IS
}

static void
test_record (void **state)
{
  (void)state;
  struct container_record r = { 0 };
  r.cls.name = t_strdup ("gvisor");
  r.cls.path = t_strdup ("/usr/bin/runsc");
  r.cls.args = calloc (2, sizeof (char *));
  r.cls.args[0] = t_strdup ("--network=none");
  r.cls.n_args = 1;
  struct podshim_error *err = NULL;
  assert_int_equal (wait_list_parse ("tcp:80, file:/etc/x", &r.wait, &r.n_wait, &err), 0);
  r.wait_timeout = 7;
  r.vol_dest = calloc (2, sizeof (char *));
  r.vol_src = calloc (2, sizeof (char *));
  r.vol_dest[0] = t_strdup ("/etc");
  r.vol_src[0] = t_strdup ("/run/podshim/x/pods/p/volumes/-etc");
  r.n_vols = 1;
  r.pid = 1234;
  r.essential = true;
  r.pod = t_strdup ("web");
  char *text = NULL;
  size_t len;
  assert_int_equal (container_record_emit (&r, &text, &len, &err), 0);
  struct container_record back = { 0 };
  assert_int_equal (container_record_parse (text, len, &back, &err), 0);
  assert_string_equal (back.cls.name, "gvisor");
  assert_string_equal (back.cls.path, "/usr/bin/runsc");
  assert_int_equal (back.cls.n_args, 1);
  assert_string_equal (back.cls.args[0], "--network=none");
  assert_int_equal (back.n_wait, 2);
  assert_string_equal (back.wait[0], "tcp:80");
  assert_string_equal (back.wait[1], "file:/etc/x");
  assert_int_equal (back.wait_timeout, 7);
  assert_int_equal (back.n_vols, 1);
  assert_string_equal (back.vol_src[0], r.vol_src[0]);
  assert_int_equal (back.pid, 1234);
  assert_true (back.essential);
  assert_string_equal (back.pod, "web");
  container_record_free (&back);
  container_record_free (&r);
  free (text);

  /* Corrupted records. */
  const char *bad[] = {
    "[]",
    "{\"class\":\"../x\",\"path\":\"/x\"}",
    "{\"class\":\"x\"}",
    "{\"wait\":\"tcp:80\"}",
    "{\"volumes\":[\"/a\"]}",
    "{\"volumes\":[\"/a\"],\"sources\":[1]}",
    "{\"sources\":[\"/a\"]}", /* more sources than volumes (once leaked) */
    NULL,
  };
  for (int i = 0; bad[i]; i++)
    {
      assert_int_equal (container_record_parse (bad[i], strlen (bad[i]), &back, &err), -1);
      assert_non_null (err);
      podshim_error_free (err);
      err = NULL;
    }
  /* No class: the default delegate; the default timeout. */
  assert_int_equal (container_record_parse ("{\"wait\":[\"tcp:1\"]}", 18, &back, &err), 0);
  assert_null (back.cls.name);
  assert_int_equal (back.wait_timeout, WAIT_TIMEOUT_DEFAULT);
  container_record_free (&back);
}

/* A record's format version: none is 0.1.0's (1), this podshim writes 1, a
 * newer one is read for its routing fields only and never written back. */
static void
test_record_versions (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  struct container_record r = { 0 };
  /* As podshim 0.1.0 wrote it: no version. */
  const char *old = "{\"class\":\"gvisor\",\"path\":\"/usr/bin/runsc\",\"runtimeArgs\":[],"
                    "\"wait\":[\"tcp:80\"],\"waitTimeout\":5,\"pid\":42,\"essential\":true,"
                    "\"pod\":\"web\",\"companions\":[{\"name\":\"p\"}]}";
  assert_int_equal (container_record_parse (old, strlen (old), &r, &err), 0);
  assert_int_equal (r.version, 1);
  assert_false (container_record_newer (&r));
  assert_string_equal (r.cls.name, "gvisor");
  assert_int_equal (r.n_wait, 1);
  assert_true (r.essential);
  assert_non_null (r.companions);
  char *text = NULL;
  size_t len;
  assert_int_equal (container_record_emit (&r, &text, &len, &err), 0);
  assert_non_null (strstr (text, "\"version\":1,"));
  free (text);
  text = NULL;
  container_record_free (&r);

  /* A newer one: class, path, runtimeArgs and pod; nothing else. */
  const char *newer
      = "{\"version\":2,\"class\":\"gvisor\",\"path\":\"/usr/bin/runsc\",\"runtimeArgs\":"
        "[\"--network=none\"],\"wait\":{\"a new\":\"shape\"},\"essential\":true,\"pod\":\"web\","
        "\"companions\":[{\"name\":\"p\"}]}";
  assert_int_equal (container_record_parse (newer, strlen (newer), &r, &err), 0);
  assert_true (container_record_newer (&r));
  assert_int_equal (r.version, 2);
  assert_string_equal (r.cls.name, "gvisor");
  assert_string_equal (r.cls.path, "/usr/bin/runsc");
  assert_int_equal (r.cls.n_args, 1);
  assert_string_equal (r.pod, "web");
  assert_int_equal (r.n_wait, 0);
  assert_false (r.essential);
  assert_null (r.companions);
  assert_int_equal (container_record_emit (&r, &text, &len, &err), -1);
  assert_null (text);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_error_contains (&err, "format version 2, newer than 1");
  container_record_free (&r);

  const char *bad[] = { "{\"version\":0}",   "{\"version\":-1}",   "{\"version\":\"1\"}",
                        "{\"version\":1.5}", "{\"version\":null}", NULL };
  for (int i = 0; bad[i]; i++)
    {
      assert_int_equal (container_record_parse (bad[i], strlen (bad[i]), &r, &err), -1);
      assert_error_contains (&err, "bad `version`");
    }
}

static void
test_wait_parse (void **state)
{
  (void)state;
  char **v = NULL;
  size_t n = 0;
  struct podshim_error *err = NULL;
  assert_int_equal (wait_list_parse ("tcp:1,tcp:65535,file:/a/b.c", &v, &n, &err), 0);
  assert_int_equal (n, 3);
  assert_null (v[3]);
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
  const char *bad[]
      = { "",          "tcp:",    "tcp:0",      "tcp:65536",    "tcp:080",  "tcp:8a",
          "udp:53",    "file:",   "file:rel",   "file:/a/../b", "file:/a/", "file://a",
          "file:/a/.", "tcp:80,", "file:/a\nb", "tcp:123456",   NULL };
  for (int i = 0; bad[i]; i++)
    {
      v = NULL;
      assert_int_equal (wait_list_parse (bad[i], &v, &n, &err), -1);
      assert_null (v);
      assert_non_null (err);
      podshim_error_free (err);
      err = NULL;
    }
  char many[WAIT_MAX * 8 + 16] = "";
  for (int i = 0; i <= WAIT_MAX; i++)
    strcat (many, i ? ",tcp:1" : "tcp:1");
  assert_int_equal (wait_list_parse (many, &v, &n, &err), -1);
  assert_non_null (strstr (err->msg, "too many"));
  podshim_error_free (err);
  err = NULL;

  int t = 0;
  assert_int_equal (wait_timeout_parse ("1", &t, &err), 0);
  assert_int_equal (t, 1);
  assert_int_equal (wait_timeout_parse ("3600", &t, &err), 0);
  assert_int_equal (t, 3600);
  const char *badt[] = { "0", "3601", "", "-1", "1.5", "99999999999999999999", "10s", NULL };
  for (int i = 0; badt[i]; i++)
    {
      assert_int_equal (wait_timeout_parse (badt[i], &t, &err), -1);
      podshim_error_free (err);
      err = NULL;
    }
}

/* The start conditions of r as startwait.h takes them. */
static const struct start_wait *
wv (const struct container_record *r)
{
  static struct start_wait w;
  w = container_record_wait (r);
  return &w;
}

static void
test_wait_check (void **state)
{
  (void)state;
  struct container_record r = { 0 };
  struct podshim_error *err = NULL;
  assert_int_equal (wait_list_parse ("tcp:80", &r.wait, &r.n_wait, &err), 0);
  assert_int_equal (wait_check (wv (&r), true, &err), 0);
  assert_int_equal (wait_check (wv (&r), false, &err), -1);
  assert_non_null (strstr (err->msg, "`tcp:80`"));
  podshim_error_free (err);
  err = NULL;
  container_record_free (&r);

  assert_int_equal (wait_list_parse ("file:/etc/nginx/x.conf", &r.wait, &r.n_wait, &err), 0);
  r.vol_dest = calloc (3, sizeof (char *));
  r.vol_src = calloc (3, sizeof (char *));
  r.vol_dest[0] = t_strdup ("/etc/ng");
  r.vol_src[0] = t_strdup ("/nonexistent");
  r.n_vols = 1;
  assert_int_equal (wait_check (wv (&r), true, &err),
                    -1); /* /etc/ng is not a parent of /etc/nginx */
  podshim_error_free (err);
  err = NULL;
  r.vol_dest[1] = t_strdup ("/etc/nginx");
  r.n_vols = 2;
  char tmpl[] = "/tmp/podshim-test-wait.XXXXXX";
  assert_non_null (mkdtemp (tmpl));
  r.vol_src[1] = t_strdup (tmpl);
  assert_int_equal (wait_check (wv (&r), false, &err), 0);
  assert_int_equal (wait_condition_holds (wv (&r), r.wait[0], &err), 0);
  char *p = t_printf ("%s/x.conf", tmpl);
  /* A symlink escaping the volume resolves inside it: still missing. */
  assert_int_equal (symlink ("/etc/hostname", p), 0);
  assert_int_equal (wait_condition_holds (wv (&r), r.wait[0], &err), 0);
  unlink (p);
  int fd = open (p, O_CREAT | O_WRONLY, 0600);
  assert_true (fd >= 0);
  close (fd);
  assert_int_equal (wait_condition_holds (wv (&r), r.wait[0], &err), 1);
  unlink (p);
  free (p);
  rmdir (tmpl);
  container_record_free (&r);
}

/* A /proc/net/tcp table: listening sockets come first; the scan stops at the
 * first socket in another state, and after WAIT_TCP_READ_MAX bytes. */
static int
table_listens (const char *text, int port)
{
  char tmpl[] = "/tmp/podshim-test-tcp.XXXXXX";
  int fd = mkstemp (tmpl);
  assert_true (fd >= 0);
  unlink (tmpl);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
  assert_int_equal (lseek (fd, 0, SEEK_SET), 0);
  int r = wait_tcp_table_listens (fd, port);
  close (fd);
  return r;
}

static void
test_wait_tcp_table (void **state)
{
  (void)state;
  static const char head[]
      = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout"
        " inode\n";
  static const char listen80[]
      = "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000"
        " 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0\n";
  static const char est8080[] = "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000"
                                " 00000000     0        0 1235 1 0000000000000000 20 4 30 10 -1\n";
  static const char listen6[]
      = "   0: 00000000000000000000000001000000:1F96 "
        "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000"
        " 00000000     0        0 99 1 0000000000000000 100 0 0 10 0\n";
  char *t = t_printf ("%s%s%s", head, listen80, est8080);
  assert_int_equal (table_listens (t, 80), 1);
  /* 8080 only has an established connection: not listening. */
  assert_int_equal (table_listens (t, 8080), 0);
  free (t);
  /* A listener after the first other socket is not looked for. */
  t = t_printf ("%s%s%s", head, est8080, listen80);
  assert_int_equal (table_listens (t, 80), 0);
  free (t);
  t = t_printf ("%s%s", head, listen6);
  assert_int_equal (table_listens (t, 8086), 1);
  free (t);
  /* The header alone, nothing, a line longer than a table's. */
  assert_int_equal (table_listens (head, 80), 0);
  assert_int_equal (table_listens ("", 80), 0);
  char *longline = calloc (10000, 1);
  memset (longline, 'x', 9998);
  longline[9998] = '\n';
  t = t_printf ("%s%s%s", head, longline, listen80);
  assert_int_equal (table_listens (t, 80), 0);
  free (t);
  free (longline);
  /* Bounded: a listener beyond WAIT_TCP_READ_MAX bytes of listeners. */
  size_t n = (WAIT_TCP_READ_MAX + 16384) / (sizeof (listen80) - 1);
  size_t len = sizeof (head) - 1 + (n + 1) * (sizeof (listen80) - 1);
  char *big = malloc (len + 1);
  memcpy (big, head, sizeof (head) - 1);
  for (size_t i = 0; i < n; i++)
    memcpy (big + sizeof (head) - 1 + i * (sizeof (listen80) - 1), listen80, sizeof (listen80) - 1);
  static const char listen81[]
      = "   0: 0100007F:0051 00000000:0000 0A 00000000:00000000 00:00000000"
        " 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0\n";
  memcpy (big + len - (sizeof (listen81) - 1), listen81, sizeof (listen81) - 1);
  big[len] = '\0';
  assert_int_equal (table_listens (big, 80), 1);
  assert_int_equal (table_listens (big, 81), 0);
  free (big);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_config),         cmocka_unit_test (test_names),
    cmocka_unit_test (test_apply),          cmocka_unit_test (test_command_id),
    cmocka_unit_test (test_record),         cmocka_unit_test (test_record_versions),
    cmocka_unit_test (test_wait_parse),     cmocka_unit_test (test_wait_check),
    cmocka_unit_test (test_wait_tcp_table),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

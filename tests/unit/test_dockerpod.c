/* runtime/dockerpod + engine/dockercli: what `docker pod` reads before it
 * talks to anything: the docker CLI's global options, the daemon's address
 * (-H, DOCKER_HOST, contexts through the CLI), the podshim runtime in /info,
 * PODSHIM_STATE in a shim's environment. */
#include "config.h"
#include "testutil.h"

#include "dockercli.h"
#include "dockerpod.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })

static int
count (char **argv)
{
  int n = 0;
  while (argv[n])
    n++;
  return n;
}

static void
test_globals (void **state)
{
  struct docker_globals g;
  int i;
  struct podshim_error *err = NULL;
  char **a = ARGV ("docker-pod", "-H", "unix:///a.sock", "--config", "/c", "pod", "ls");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), 0);
  assert_string_equal (g.host, "unix:///a.sock");
  assert_string_equal (g.config, "/c");
  assert_null (g.context);
  assert_int_equal (i, 5);

  a = ARGV ("docker-pod", "--context=ctx", "-D", "--log-level", "debug", "--tlsverify", "pod");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), 0);
  assert_string_equal (g.context, "ctx");
  assert_null (g.host);
  assert_int_equal (i, 6);

  a = ARGV ("docker-pod", "-Hunix:///b.sock", "-c", "x2", "pod");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), 0);
  assert_string_equal (g.host, "unix:///b.sock");
  assert_string_equal (g.context, "x2");
  assert_int_equal (i, 4);

  a = ARGV ("docker-pod");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), 0);
  assert_int_equal (i, 1);

  a = ARGV ("docker-pod", "--frobnicate", "pod");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), -1);
  assert_error_contains (&err, "unknown docker option `--frobnicate`");
  a = ARGV ("docker-pod", "-host", "x", "pod");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), -1);
  assert_error_contains (&err, "unknown docker option `-host`");
  a = ARGV ("docker-pod", "--host");
  assert_int_equal (docker_globals_parse (count (a), a, &g, &i, &err), -1);
  assert_error_contains (&err, "needs a value");
}

static char *
resolve (const struct docker_globals *g, const char *cli)
{
  char *h = NULL;
  struct podshim_error *err = NULL;
  if (docker_host_resolve (g, cli, &h, &err) < 0)
    fail_msg ("%s", err->msg);
  return h;
}

/* The CLI's own order: --context, -H, DOCKER_HOST, DOCKER_CONTEXT, the
 * config's currentContext, the default; a context's endpoint is asked of
 * the CLI (here a script printing its arguments as an address). */
static void
test_host_resolve (void **state)
{
  char *dir = t_mkdtemp ();
  char *cli = t_printf ("%s/docker", dir);
  t_write (cli, "#!/bin/sh\necho \"unix:///cli/$*\"\n");
  assert_int_equal (chmod (cli, 0755), 0);
  char *cfg = t_printf ("%s/cfg", dir);
  assert_int_equal (mkdir (cfg, 0700), 0);
  unsetenv ("DOCKER_HOST");
  unsetenv ("DOCKER_CONTEXT");
  setenv ("DOCKER_CONFIG", cfg, 1);

  struct docker_globals g = { 0 };
  char *h = resolve (&g, cli);
  assert_string_equal (h, DOCKERCLI_HOST_DEFAULT);
  free (h);

  char *cfgfile = t_printf ("%s/config.json", cfg);
  t_write (cfgfile, "{\"currentContext\": \"mine\"}");
  h = resolve (&g, cli);
  assert_string_equal (h, "unix:///cli/--context mine context inspect --format "
                          "{{.Endpoints.docker.Host}}");
  free (h);

  setenv ("DOCKER_CONTEXT", "envctx", 1);
  h = resolve (&g, cli);
  assert_non_null (strstr (h, "--context envctx context inspect"));
  free (h);

  setenv ("DOCKER_HOST", "unix:///env.sock", 1);
  h = resolve (&g, cli);
  assert_string_equal (h, "unix:///env.sock");
  free (h);

  g.host = "unix:///flag.sock";
  h = resolve (&g, cli);
  assert_string_equal (h, "unix:///flag.sock");
  free (h);

  g.context = "flagctx";
  g.config = cfg;
  h = resolve (&g, cli);
  char *want = t_printf ("unix:///cli/--config %s --context flagctx context inspect "
                         "--format {{.Endpoints.docker.Host}}",
                         cfg);
  assert_string_equal (h, want);
  free (want);
  free (h);

  /* The default context is DOCKER_HOST, else the default socket. */
  g.context = "default";
  h = resolve (&g, cli);
  assert_string_equal (h, "unix:///env.sock");
  free (h);
  setenv ("DOCKER_HOST", "", 1);
  h = resolve (&g, cli);
  assert_string_equal (h, DOCKERCLI_HOST_DEFAULT);
  free (h);

  /* A CLI that fails: said so. */
  g.context = "broken";
  struct podshim_error *err = NULL;
  assert_int_equal (docker_host_resolve (&g, "/bin/false", &h, &err), -1);
  assert_error_contains (&err, "context inspect` failed");

  unsetenv ("DOCKER_HOST");
  unsetenv ("DOCKER_CONTEXT");
  unsetenv ("DOCKER_CONFIG");
  t_rmtree (dir);
  free (dir);
  free (cli);
  free (cfg);
  free (cfgfile);
}

static yajl_val
parse (const char *text)
{
  yajl_val v = NULL;
  struct podshim_error *err = NULL;
  assert_int_equal (json_parse (text, strlen (text), "info", &v, &err), 0);
  return v;
}

static void
test_find_runtime (void **state)
{
  const char *name, *path;
  yajl_val args;
  yajl_val info = parse ("{\"DefaultRuntime\": \"ps2\", \"Runtimes\": {"
                         "\"runc\": {\"path\": \"runc\"},"
                         "\"podshim\": {\"path\": \"/usr/sbin/podshim\"},"
                         "\"ps2\": {\"path\": \"/opt/bin/podshim\", \"runtimeArgs\": [\"-x\"]}}}");
  assert_int_equal (dockerpod_find_runtime (info, &name, &path, &args), 1);
  assert_string_equal (name, "ps2");
  assert_string_equal (path, "/opt/bin/podshim");
  assert_non_null (args);
  yajl_tree_free (info);

  info = parse ("{\"DefaultRuntime\": \"runc\", \"Runtimes\": {\"runc\": {\"path\": \"runc\"},"
                "\"x\": {\"path\": \"/w/podshim\"}, \"podshim\": {\"path\": \"/a/wrapper\"}}}");
  assert_int_equal (dockerpod_find_runtime (info, &name, &path, &args), 1);
  assert_string_equal (name, "podshim");
  assert_string_equal (path, "/a/wrapper");
  assert_null (args);
  yajl_tree_free (info);

  info = parse (
      "{\"Runtimes\": {\"runc\": {\"path\": \"runc\"}, \"p\": {\"path\": \"/podshim2\"}}}");
  assert_int_equal (dockerpod_find_runtime (info, &name, &path, &args), 0);
  yajl_tree_free (info);
  info = parse ("{\"Runtimes\": []}");
  assert_int_equal (dockerpod_find_runtime (info, &name, &path, &args), 0);
  yajl_tree_free (info);
}

static void
test_env_state (void **state)
{
  static const char env[] = "A=1\0PODSHIM_STATE=/srv/ps\0B=2";
  assert_string_equal (dockerpod_env_state (env, sizeof (env)), "/srv/ps");
  static const char none[] = "A=1\0PODSHIM_STATEX=/x\0XPODSHIM_STATE=/y";
  assert_null (dockerpod_env_state (none, sizeof (none)));
  /* Cut short, without its NUL: not taken. */
  static const char cut[] = "A=1\0PODSHIM_STATE=/srv";
  assert_null (dockerpod_env_state (cut, sizeof (cut) - 1));
  assert_null (dockerpod_env_state ("", 0));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_globals),
    cmocka_unit_test (test_host_resolve),
    cmocka_unit_test (test_find_runtime),
    cmocka_unit_test (test_env_state),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

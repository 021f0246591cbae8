/* runtime/podcmd: `pod list|inspect|gc` write to the streams cmd/ gives
 * them (out: results; diag: usage and skipped pods), never to stdout. */
#include "config.h"
#include "testutil.h"

#include "argv.h"
#include "ctx.h"
#include "podcmd.h"
#include "pod.h"
#include "statedir.h"

struct fx
{
  char *dir, *state, *root;
  struct runc_cmdline c;
  struct shim_ctx ctx;
  FILE *out, *diag;
};

static int
setup (void **state)
{
  struct fx *f = calloc (1, sizeof (*f));
  assert_non_null (f);
  f->dir = t_mkdtemp ();
  f->state = t_printf ("%s/state", f->dir);
  f->root = t_printf ("%s/root", f->dir);
  char *argv[] = { (char *)"podshim",
                   (char *)"--podshim-state",
                   f->state,
                   (char *)"--root",
                   f->root,
                   (char *)"pod",
                   NULL };
  struct podshim_error *err = NULL;
  assert_int_equal (runc_cmdline_parse (6, argv, &f->c, &err), 0);
  assert_int_equal (shim_ctx_init (&f->ctx, &f->c, &err), 0);
  f->out = tmpfile ();
  f->diag = tmpfile ();
  assert_true (f->out && f->diag);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fx *f = *state;
  shim_ctx_free (&f->ctx);
  runc_cmdline_free (&f->c);
  fclose (f->out);
  fclose (f->diag);
  t_rmtree (f->dir);
  free (f->dir);
  free (f->state);
  free (f->root);
  free (f);
  return 0;
}

/* What stream s holds (owned). */
static char *
contents (FILE *s)
{
  fflush (s);
  long n = ftell (s);
  assert_true (n >= 0);
  char *buf = calloc ((size_t)n + 1, 1);
  assert_non_null (buf);
  rewind (s);
  assert_int_equal (fread (buf, 1, (size_t)n, s), (size_t)n);
  return buf;
}

static int
pod (struct fx *f, const char *a, const char *b, struct podshim_error **err)
{
  char *argv[] = { (char *)a, (char *)b, NULL };
  return podcmd_main (&f->ctx, b ? 2 : 1, argv, f->out, f->diag, err);
}

static void
test_empty (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  assert_int_equal (pod (f, "list", NULL, &err), 0);
  assert_int_equal (pod (f, "gc", NULL, &err), 0);
  char *o = contents (f->out), *d = contents (f->diag);
  assert_non_null (strstr (o, "POD"));
  assert_non_null (strstr (o, "MEMBERS\n"));
  assert_non_null (strstr (o, "removed 0 pod(s)\n"));
  assert_string_equal (d, "");
  free (o);
  free (d);
}

static void
test_usage (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  assert_true (pod (f, "frobnicate", NULL, &err) < 0);
  assert_error_contains (&err, "unknown pod command `frobnicate`");
  char *d = contents (f->diag);
  assert_non_null (strstr (d, "usage: podshim pod list"));
  free (d);
}

/* `pod help`, `pod --help`, `pod -h` and `pod list --help`: the
 * subcommands on out, exit 0. */
static void
test_help (void **state)
{
  struct fx *f = *state;
  static const char *const forms[][2]
      = { { "help", NULL }, { "--help", NULL }, { "-h", NULL }, { "list", "--help" } };
  for (size_t i = 0; i < sizeof (forms) / sizeof (forms[0]); i++)
    {
      struct podshim_error *err = NULL;
      assert_int_equal (pod (f, forms[i][0], forms[i][1], &err), 0);
      assert_null (err);
    }
  char *o = contents (f->out), *d = contents (f->diag);
  for (const char *p = o, *q; (q = strstr (p, "Usage: podshim")) != NULL; p = q + 1)
    assert_non_null (strstr (q, "inspect NAME|SCOPE:NAME"));
  assert_non_null (strstr (o, "  gc  "));
  assert_string_equal (d, "");
  free (o);
  free (d);
}

/* Saves a pod of one member (id) named key under the fixture's root. */
static void
make_pod (struct fx *f, const char *key, const char *id)
{
  struct podshim_error *err = NULL;
  int statefd = -1;
  int rootfd
      = statedir_open_root (f->ctx.state_dir, f->ctx.rootkey, f->ctx.root, true, &statefd, &err);
  assert_true (rootfd >= 0);
  int pods = statedir_open_sub (rootfd, STATEDIR_PODS, true, &err);
  assert_true (pods >= 0);
  assert_int_equal (mkdirat (pods, key, 0700), 0);
  int poddir = openat (pods, key, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (poddir >= 0);
  struct pod_state p = { 0 };
  assert_int_equal (pod_key_parse (key, &p.scope, &p.name), 0);
  p.root = t_strdup (f->ctx.root);
  struct pod_member *m = pod_state_add (&p, id);
  m->share = POD_NS_NET;
  assert_int_equal (pod_state_save (poddir, &p, &err), 0);
  pod_state_done (&p);
  close (poddir);
  close (pods);
  close (rootfd);
  close (statefd);
}

/* The table's columns are as wide as their content: a Swarm companion's pod
 * name (far past 24 characters) and a scope keep every column aligned. */
static void
test_table_aligned (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  make_pod (f, "web", "aaaa");
  make_pod (f, "stack:shop:web.1.kx3pq8o3ziyzq8ffrs5dd7sx6", "bbbb");
  assert_int_equal (pod (f, "list", NULL, &err), 0);
  char *o = contents (f->out);
  /* Each column starts at the same offset on every line. */
  const char *cols[] = { "SCOPE", "ROOT", "SHARED", "HOLDER", "PAUSE", "MEMBERS" };
  const char *header = o, *nl = strchr (o, '\n');
  assert_non_null (nl);
  size_t lines = 0;
  for (const char *line = nl + 1; *line; line = strchr (line, '\n') + 1, lines++)
    {
      for (size_t c = 0; c < sizeof (cols) / sizeof (cols[0]); c++)
        {
          size_t at = (size_t)(strstr (header, cols[c]) - header);
          assert_true (at > 0);
          /* a cell starts there: a space before it, none at it */
          assert_int_equal (line[at - 1], ' ');
          assert_true (line[at] != ' ' && line[at] != '\n');
        }
    }
  assert_int_equal (lines, 2);
  assert_non_null (strstr (o, "web.1.kx3pq8o3ziyzq8ffrs5dd7sx6   stack:shop   "));
  free (o);
}

/* A corrupted pod is reported on diag and skipped; list goes on. */
static void
test_corrupted_pod (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  int statefd = -1;
  int rootfd
      = statedir_open_root (f->ctx.state_dir, f->ctx.rootkey, f->ctx.root, true, &statefd, &err);
  assert_true (rootfd >= 0);
  int pods = statedir_open_sub (rootfd, STATEDIR_PODS, true, &err);
  assert_true (pods >= 0);
  assert_int_equal (mkdirat (pods, "web", 0700), 0);
  int poddir = openat (pods, "web", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (poddir >= 0);
  int fd = openat (poddir, STATEDIR_POD_STATE, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, "{not json", 9), 9);
  close (fd);
  close (poddir);
  close (pods);
  close (rootfd);
  close (statefd);
  assert_int_equal (pod (f, "list", "--json", &err), 0);
  assert_int_equal (pod (f, "gc", NULL, &err), 0);
  char *o = contents (f->out), *d = contents (f->diag);
  assert_int_equal (o[0], '['); /* an empty list: the pod is skipped */
  assert_null (strstr (o, "web"));
  assert_non_null (strstr (o, "removed 0 pod(s)\n"));
  assert_non_null (strstr (d, "podshim: pod `web`: corrupted state file"));
  assert_non_null (strstr (d, "(skipped)\n"));
  free (o);
  free (d);
  /* inspect names it: an error, not a diagnostic. */
  assert_true (pod (f, "inspect", "web", &err) < 0);
  assert_error_contains (&err, "corrupted state file");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_empty, setup, teardown),
    cmocka_unit_test_setup_teardown (test_usage, setup, teardown),
    cmocka_unit_test_setup_teardown (test_help, setup, teardown),
    cmocka_unit_test_setup_teardown (test_table_aligned, setup, teardown),
    cmocka_unit_test_setup_teardown (test_corrupted_pod, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

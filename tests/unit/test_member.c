/* The member transaction through member_create/member_delete, with a fake
 * delegate (a script that records its argv, copies config.json, writes the
 * "container's" PID to --pid-file and exits as told). Skipped unless root
 * with $PODSHIM_PAUSE (meson test sets it): pods get real namespaces and a
 * real holder. This process is a child subreaper, so every holder ends up as
 * its child: what is left running is seen, and killed by PID at the end. */
#include "config.h"
#include "testutil.h"

#include "argv.h"
#include "member.h"
#include "statedir.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define MAX_KIDS 64

struct fixture
{
  char *dir; /* everything lives here */
  char *state, *data, *root, *fake, *log;
  char rootkey[17];
  pid_t inits[MAX_KIDS]; /* the fake containers' "init" processes */
  size_t n_inits;
};

static const char fake_script[]
    = "#!/bin/sh\n"
      "# A fake runc: logs its command, and for create/run copies config.json,\n"
      "# writes $FAKE_INIT_PID to --pid-file; exits $FAKE_STATUS.\n"
      "echo \"$*\" >>\"$FAKE_LOG\"\n"
      "cmd= bundle= pidfile= id=\n"
      "while [ $# -gt 0 ]; do\n"
      "  case $1 in\n"
      "  --root|--log|--log-format) shift ;;\n"
      "  --bundle|-b) bundle=$2; shift ;;\n"
      "  --pid-file) pidfile=$2; shift ;;\n"
      "  -*) ;;\n"
      "  *) if [ -z \"$cmd\" ]; then cmd=$1; else id=$1; fi ;;\n"
      "  esac\n"
      "  shift\n"
      "done\n"
      "if [ \"$cmd\" = create ] || [ \"$cmd\" = run ]; then\n"
      "  cp \"$bundle/config.json\" \"$FAKE_DIR/$id.config.json\" || exit 99\n"
      "  [ -z \"$pidfile\" ] || printf %s \"$FAKE_INIT_PID\" >\"$pidfile\"\n"
      "fi\n"
      "exit \"${FAKE_STATUS:-0}\"\n";

static char *
kids_path (void)
{
  return t_printf ("/proc/%d/task/%d/children", (int)getpid (), (int)getpid ());
}

/* Our children that are not fake inits: holders (and pauses) left running.
   Reaps the dead first. */
static size_t
stray_children (const struct fixture *f, pid_t *ret, size_t max)
{
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  cleanup_free char *p = kids_path ();
  FILE *in = fopen (p, "re");
  assert_non_null (in);
  size_t n = 0;
  long pid;
  while (fscanf (in, "%ld", &pid) == 1)
    {
      bool init = false;
      for (size_t i = 0; i < f->n_inits; i++)
        init |= f->inits[i] == (pid_t)pid;
      cleanup_free char *stat = t_printf ("/proc/%ld/stat", pid);
      char st[512] = "";
      FILE *s = fopen (stat, "re");
      if (s)
        {
          size_t r = fread (st, 1, sizeof (st) - 1, s);
          st[r] = '\0';
          fclose (s);
        }
      /* Gone: a zombie, or dying (PF_EXITING, as procutil sees it). */
      const char *cp = strrchr (st, ')');
      char state = 'X';
      unsigned flags = 0;
      if (cp == NULL || sscanf (cp + 2, "%c %*d %*d %*d %*d %*d %u", &state, &flags) != 2)
        state = 'X';
      bool gone = state == 'Z' || state == 'X' || (flags & 0x4);
      if (!init && !gone && n < max)
        ret[n++] = (pid_t)pid;
    }
  fclose (in);
  return n;
}

static int
setup (void **state)
{
  const char *pause_path = getenv ("PODSHIM_PAUSE");
  if (geteuid () != 0 || pause_path == NULL || access (pause_path, X_OK) != 0)
    {
      *state = NULL;
      return 0;
    }
  struct fixture *f = calloc (1, sizeof (*f));
  assert_non_null (f);
  f->dir = t_mkdtemp ();
  f->state = t_printf ("%s/state", f->dir);
  f->data = t_printf ("%s/data", f->dir);
  f->root = t_printf ("%s/root", f->dir);
  f->fake = t_printf ("%s/fake-runc", f->dir);
  f->log = t_printf ("%s/log", f->dir);
  assert_int_equal (mkdir (f->root, 0700), 0);
  t_write (f->fake, fake_script);
  assert_int_equal (chmod (f->fake, 0755), 0);
  statedir_rootkey (f->root, f->rootkey);
  setenv ("FAKE_DIR", f->dir, 1);
  setenv ("FAKE_LOG", f->log, 1);
  unsetenv ("FAKE_STATUS");
  unsetenv ("PODSHIM_FAULT");
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  if (f == NULL)
    return 0;
  pid_t stray[MAX_KIDS];
  size_t n = stray_children (f, stray, MAX_KIDS);
  for (size_t i = 0; i < n; i++)
    kill (stray[i], SIGKILL);
  for (size_t i = 0; i < f->n_inits; i++)
    kill (f->inits[i], SIGKILL);
  for (size_t i = 0; i < n; i++)
    waitpid (stray[i], NULL, 0);
  for (size_t i = 0; i < f->n_inits; i++)
    waitpid (f->inits[i], NULL, 0);
  t_rmtree (f->dir);
  free (f->dir);
  free (f->state);
  free (f->data);
  free (f->root);
  free (f->fake);
  free (f->log);
  free (f);
  return 0;
}

/* A process standing for a container's init. */
static pid_t
new_init (struct fixture *f)
{
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* Gone with us, whatever happens to the test. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () == 1)
        _exit (0);
      for (;;)
        pause ();
    }
  assert_true (f->n_inits < MAX_KIDS);
  f->inits[f->n_inits++] = pid;
  return pid;
}

/* A bundle for id in pod `pod` (net, ipc, uts shared by default). */
static char *
new_bundle (struct fixture *f, const char *id, const char *pod)
{
  char *b = t_printf ("%s/b-%s", f->dir, id);
  assert_int_equal (mkdir (b, 0700), 0);
  cleanup_free char *cfg = t_printf ("%s/config.json", b);
  cleanup_free char *json = t_printf (
      "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sleep\",\"1000\"],\"cwd\":\"/\"},"
      "\"root\":{\"path\":\"rootfs\"},\"hostname\":\"%s\",\"annotations\":{\"podshim.pod\":\"%s\"},"
      "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
      "{\"type\":\"uts\"},{\"type\":\"mount\"}]}}",
      id, pod);
  t_write (cfg, json);
  return b;
}

/* `podshim ... create|run|delete` through member_create/member_delete: the
   return value, *ret_status and *ret_err as they left them. */
static int
shim (struct fixture *f, const char *command, const char *id, int *ret_status,
      struct podshim_error **ret_err)
{
  cleanup_free char *bundle = t_printf ("%s/b-%s", f->dir, id);
  cleanup_free char *pidfile = t_printf ("%s/b-%s/init.pid", f->dir, id);
  bool create = strcmp (command, "create") == 0 || strcmp (command, "run") == 0;
  char *argv[] = { (char *)"podshim",
                   (char *)"--podshim-runtime",
                   f->fake,
                   (char *)"--podshim-state",
                   f->state,
                   (char *)"--podshim-data",
                   f->data,
                   (char *)"--root",
                   f->root,
                   (char *)command,
                   (char *)(create ? "--bundle" : id),
                   create ? bundle : NULL,
                   (char *)"--pid-file",
                   pidfile,
                   (char *)id,
                   NULL };
  int argc = create ? 15 : 11;
  struct runc_cmdline c = { 0 };
  struct podshim_error *err = NULL;
  assert_no_error (runc_cmdline_parse (argc, argv, &c, &err), err);
  struct shim_ctx ctx;
  assert_no_error (shim_ctx_init (&ctx, &c, &err), err);
  int r = create ? member_create (&ctx, ret_status, ret_err)
                 : member_delete (&ctx, ret_status, ret_err);
  shim_ctx_free (&ctx);
  runc_cmdline_free (&c);
  return r;
}

/* `command` (create, or a foreground run) of a new member id of pod. */
static int
create_cmd (struct fixture *f, const char *command, const char *id, const char *pod,
            int fake_status, struct podshim_error **ret_err)
{
  free (new_bundle (f, id, pod));
  cleanup_free char *pid = t_printf ("%d", (int)new_init (f));
  setenv ("FAKE_INIT_PID", pid, 1);
  cleanup_free char *st = t_printf ("%d", fake_status);
  setenv ("FAKE_STATUS", st, 1);
  int status = -1;
  int r = shim (f, command, id, &status, ret_err);
  if (r == 0)
    {
      assert_true (WIFEXITED (status));
      assert_int_equal (WEXITSTATUS (status), fake_status);
    }
  return r;
}

/* rel, under the root's state directory. */
static bool
exists (const struct fixture *f, const char *rel)
{
  cleanup_free char *p = t_printf ("%s/%s/%s", f->state, f->rootkey, rel);
  struct stat st;
  return lstat (p, &st) == 0;
}

/* The whole file, which must exist. */
static char *
t_read_file (const char *path)
{
  char *r = t_read (path, NULL);
  if (r == NULL)
    fail_msg ("cannot read %s", path);
  return r;
}

static char *
slurp (const struct fixture *f, const char *rel)
{
  cleanup_free char *p = t_printf ("%s/%s/%s", f->state, f->rootkey, rel);
  return t_read_file (p);
}

static int
create (struct fixture *f, const char *id, const char *pod, int fake_status,
        struct podshim_error **ret_err)
{
  return create_cmd (f, "create", id, pod, fake_status, ret_err);
}

/* How many of the fake's calls so far were `cmd`. */
static int
fake_calls (const struct fixture *f, const char *cmd)
{
  FILE *in = fopen (f->log, "re");
  if (in == NULL)
    return 0;
  char line[4096];
  int n = 0;
  cleanup_free char *needle = t_printf (" %s ", cmd);
  while (fgets (line, sizeof (line), in))
    n += strstr (line, needle) != NULL;
  fclose (in);
  return n;
}

/* Nothing of pod `pod` is left: no pod directory, no index entry for id, no
   holder. */
static void
assert_no_pod (struct fixture *f, const char *pod, const char *id)
{
  cleanup_free char *poddir = t_printf ("pods/%s", pod);
  cleanup_free char *entry = t_printf ("containers/%s", id);
  assert_false (exists (f, poddir));
  assert_false (exists (f, entry));
  /* A holder stopped or let go exits on its own, a moment later: 30 s is
     only an upper bound. */
  pid_t stray[MAX_KIDS];
  size_t n;
  for (int i = 0; (n = stray_children (f, stray, MAX_KIDS)) > 0 && i < 3000; i++)
    usleep (10000);
  if (n)
    fail_msg ("%zu process(es) left running, the first %d", n, (int)stray[0]);
}

static void
test_delegate_fails (void **state)
{
  struct fixture *f = *state;
  if (f == NULL)
    skip ();
  struct podshim_error *err = NULL;
  int r = create (f, "m1", "web", 3, &err);
  assert_no_error (r, err);
  assert_int_equal (fake_calls (f, "create"), 1);
  /* It ran with the pod's namespaces in its config. */
  cleanup_free char *cfg = t_printf ("%s/m1.config.json", f->dir);
  cleanup_free char *seen = t_read_file (cfg);
  assert_non_null (strstr (seen, "\"path\":\"/proc/"));
  assert_no_pod (f, "web", "m1");
  /* And the bundle has its own config.json back. */
  cleanup_free char *own = t_printf ("%s/b-m1/config.json", f->dir);
  cleanup_free char *back = t_read_file (own);
  assert_null (strstr (back, "/proc/"));
}

static void
test_members_join_and_leave (void **state)
{
  struct fixture *f = *state;
  if (f == NULL)
    skip ();
  struct podshim_error *err = NULL;
  assert_no_error (create (f, "m1", "web", 0, &err), err);
  assert_true (exists (f, "pods/web/pod.json"));
  cleanup_free char *idx1 = slurp (f, "containers/m1");
  assert_string_equal (idx1, "web");
  pid_t holders[MAX_KIDS];
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 1);
  pid_t holder = holders[0];

  /* A second member joins: the same pod, the same holder. */
  assert_no_error (create (f, "m2", "web", 0, &err), err);
  cleanup_free char *idx2 = slurp (f, "containers/m2");
  assert_string_equal (idx2, "web");
  cleanup_free char *podjson = slurp (f, "pods/web/pod.json");
  assert_non_null (strstr (podjson, "\"m1\""));
  assert_non_null (strstr (podjson, "\"m2\""));
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 1);
  assert_int_equal (holders[0], holder);

  /* Another pod gets a holder of its own. */
  assert_no_error (create (f, "o1", "other", 0, &err), err);
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 2);

  /* Deleting one member keeps the pod. */
  int status = -1;
  assert_no_error (shim (f, "delete", "m1", &status, &err), err);
  assert_int_equal (status, 0);
  assert_int_equal (fake_calls (f, "delete"), 1);
  assert_false (exists (f, "containers/m1"));
  assert_true (exists (f, "pods/web/pod.json"));
  free (podjson);
  podjson = slurp (f, "pods/web/pod.json");
  assert_null (strstr (podjson, "\"m1\""));
  assert_true (kill (holder, 0) == 0);

  /* The last one tears it down: its holder too, not the other pod's. */
  assert_no_error (shim (f, "delete", "m2", &status, &err), err);
  assert_int_equal (status, 0);
  assert_false (exists (f, "pods/web"));
  assert_false (exists (f, "containers/m2"));
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 1);
  assert_true (holders[0] != holder);
  assert_no_error (shim (f, "delete", "o1", &status, &err), err);
  assert_no_pod (f, "other", "o1");

  /* A container in no pod: passed through (1), the delegate not run. */
  assert_int_equal (shim (f, "delete", "nobody", &status, &err), 1);
  assert_null (err);
  assert_int_equal (fake_calls (f, "delete"), 3);
}

/* A foreground run joins its pod while it runs and leaves it when the
   delegate returns: the pod stays for the other member, and goes with a
   run alone in it. */
static void
test_foreground_run_leaves (void **state)
{
  struct fixture *f = *state;
  if (f == NULL)
    skip ();
  struct podshim_error *err = NULL;
  assert_no_error (create (f, "m1", "web", 0, &err), err);
  pid_t holders[MAX_KIDS];
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 1);
  assert_no_error (create_cmd (f, "run", "r1", "web", 0, &err), err);
  assert_int_equal (fake_calls (f, "run"), 1);
  cleanup_free char *cfg = t_printf ("%s/r1.config.json", f->dir);
  cleanup_free char *seen = t_read_file (cfg);
  assert_non_null (strstr (seen, "\"path\":\"/proc/"));
  assert_false (exists (f, "containers/r1"));
  cleanup_free char *podjson = slurp (f, "pods/web/pod.json");
  assert_non_null (strstr (podjson, "\"m1\""));
  assert_null (strstr (podjson, "\"r1\""));
  pid_t now[MAX_KIDS];
  assert_int_equal (stray_children (f, now, MAX_KIDS), 1);
  assert_int_equal (now[0], holders[0]);
  int status = -1;
  assert_no_error (shim (f, "delete", "m1", &status, &err), err);
  assert_no_pod (f, "web", "m1");

  /* Alone in its pod: the pod goes when it returns (with its status). */
  assert_no_error (create_cmd (f, "run", "r2", "solo", 5, &err), err);
  assert_no_pod (f, "solo", "r2");
}

/* A delete the delegate refuses keeps the member while the delegate still
   has the container (<root>/<id>/), and lets it go once it has not. */
static void
test_failed_delete (void **state)
{
  struct fixture *f = *state;
  if (f == NULL)
    skip ();
  struct podshim_error *err = NULL;
  assert_no_error (create (f, "m1", "web", 0, &err), err);
  cleanup_free char *known = t_printf ("%s/m1", f->root);
  assert_int_equal (mkdir (known, 0700), 0);
  setenv ("FAKE_STATUS", "1", 1);
  int status = -1;
  assert_no_error (shim (f, "delete", "m1", &status, &err), err);
  assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
  cleanup_free char *idx = slurp (f, "containers/m1");
  assert_string_equal (idx, "web");
  cleanup_free char *podjson = slurp (f, "pods/web/pod.json");
  assert_non_null (strstr (podjson, "\"m1\""));
  pid_t holders[MAX_KIDS];
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 1);

  assert_int_equal (rmdir (known), 0);
  assert_no_error (shim (f, "delete", "m1", &status, &err), err);
  assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
  assert_no_pod (f, "web", "m1");
}

/* A failure injected at each step of a first member's create rolls it all
   back; the delegate never runs. */
static void
test_fault_rolls_back (void **state)
{
  struct fixture *f = *state;
  if (f == NULL || !PODSHIM_FAULT_INJECTION)
    skip ();
  static const char *const points[] = { "holder-started", "holder-recorded", "ns-opened",
                                        "after-state",    "after-index",     "after-config" };
  for (size_t i = 0; i < sizeof (points) / sizeof (points[0]); i++)
    {
      cleanup_free char *fault = t_printf ("fail:%s", points[i]);
      setenv ("PODSHIM_FAULT", fault, 1);
      cleanup_free char *id = t_printf ("f%zu", i);
      struct podshim_error *err = NULL;
      assert_true (create (f, id, "web", 0, &err) < 0);
      cleanup_free char *want = t_printf ("fault injected at %s", points[i]);
      assert_error_contains (&err, want);
      assert_no_pod (f, "web", id);
      assert_int_equal (fake_calls (f, "create"), 0);
      /* The bundle keeps its own config.json. */
      cleanup_free char *own = t_printf ("%s/b-%s/config.json", f->dir, id);
      cleanup_free char *back = t_read_file (own);
      assert_null (strstr (back, "/proc/"));
    }
  /* A second member's failure leaves the first one's pod as it was. */
  unsetenv ("PODSHIM_FAULT");
  struct podshim_error *err = NULL;
  assert_no_error (create (f, "m1", "web", 0, &err), err);
  pid_t holders[MAX_KIDS];
  assert_int_equal (stray_children (f, holders, MAX_KIDS), 1);
  setenv ("PODSHIM_FAULT", "fail:after-index", 1);
  assert_true (create (f, "m2", "web", 0, &err) < 0);
  assert_error_contains (&err, "fault injected at after-index");
  assert_false (exists (f, "containers/m2"));
  cleanup_free char *podjson = slurp (f, "pods/web/pod.json");
  assert_non_null (strstr (podjson, "\"m1\""));
  assert_null (strstr (podjson, "\"m2\""));
  pid_t now[MAX_KIDS];
  assert_int_equal (stray_children (f, now, MAX_KIDS), 1);
  assert_int_equal (now[0], holders[0]);
  unsetenv ("PODSHIM_FAULT");
  int status = -1;
  assert_no_error (shim (f, "delete", "m1", &status, &err), err);
  assert_no_pod (f, "web", "m1");
}

int
main (void)
{
  /* Orphaned holders become our children: seen, and killed by PID. */
  if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    {
      perror ("PR_SET_CHILD_SUBREAPER");
      return 1;
    }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_delegate_fails, setup, teardown),
    cmocka_unit_test_setup_teardown (test_members_join_and_leave, setup, teardown),
    cmocka_unit_test_setup_teardown (test_foreground_run_leaves, setup, teardown),
    cmocka_unit_test_setup_teardown (test_failed_delete, setup, teardown),
    cmocka_unit_test_setup_teardown (test_fault_rolls_back, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

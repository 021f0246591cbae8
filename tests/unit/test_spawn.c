/* spawn: exit statuses and signals reach the caller, exec failures come back
 * as errors, the child's fds and signal mask are what the options say. The
 * children are /bin/sh scripts that answer with their exit status. */
#include "config.h"
#include "testutil.h"

#include "spawn.h"

#include <sys/wait.h>

#define SH(script, ...)                                                                            \
  ((char *[]){ (char *)"/bin/sh", (char *)"-c", (char *)(script), (char *)"sh", __VA_ARGS__ })

static int
run (const struct spawn_opts *o)
{
  struct podshim_error *err = NULL;
  int status = -1;
  int r = spawn_run (o, "`sh`", &status, &err);
  assert_no_error (r, err);
  return status;
}

static void
test_status (void **state)
{
  (void)state;
  struct spawn_opts o = { .argv = SH ("exit 0", NULL) };
  int st = run (&o);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
  o.argv = SH ("exit $1", (char *)"42", NULL);
  st = run (&o);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 42);
  o.argv = SH ("kill -TERM $$", NULL);
  st = run (&o);
  assert_true (WIFSIGNALED (st) && WTERMSIG (st) == SIGTERM);
  /* file looked up in PATH when no envp is given */
  o = (struct spawn_opts){ .file = "true", .argv = (char *[]){ (char *)"x", NULL } };
  st = run (&o);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
}

static void
test_exec_failure (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  int status = 12345;
  struct spawn_opts o = { .argv = (char *[]){ (char *)"/nonexistent/podshim-test", NULL } };
  assert_true (spawn_run (&o, "the runtime `x`", &status, &err) < 0);
  assert_int_equal (err->errno_, ENOENT);
  assert_int_equal (status, 12345); /* untouched */
  assert_error_contains (&err, "cannot execute the runtime `x`");
  /* With an environment: execve, no PATH search. */
  char *envp[] = { NULL };
  o = (struct spawn_opts){ .file = "true",
                           .argv = (char *[]){ (char *)"true", NULL },
                           .envp = envp };
  assert_true (spawn_run (&o, "`true`", &status, &err) < 0);
  assert_error_contains (&err, "cannot execute `true`");
  /* A failed set-up is reported the same way. */
  o = (struct spawn_opts){ .argv = SH ("exit 0", NULL), .n_fds = 1, .fds = { 1000 } };
  assert_true (spawn_run (&o, "`sh`", &status, &err) < 0);
  assert_int_equal (err->errno_, EBADF);
  assert_error_contains (&err, "cannot execute `sh`");
  o.n_fds = SPAWN_FDS_MAX + 1;
  assert_true (spawn_run (&o, "`sh`", &status, &err) < 0);
  assert_int_equal (err->errno_, EINVAL);
  assert_error_contains (&err, "cannot execute `sh`");
}

/* Opens path at exactly fd. */
static void
open_at (const char *path, int fd)
{
  int f = open (path, O_RDONLY | O_CLOEXEC);
  assert_true (f >= 0);
  if (f != fd)
    {
      assert_int_equal (dup3 (f, fd, O_CLOEXEC), fd);
      close (f);
    }
}

static void
test_fds (void **state)
{
  (void)state;
  /* Swapped: fd 3 must become what 4 was and 4 what 3 was. */
  open_at ("/dev/zero", 3);
  open_at ("/dev/full", 4);
  /* Ours, not CLOEXEC: crosses exec only without close_fds. */
  int extra = open ("/dev/random", O_RDONLY);
  assert_true (extra > 4);
  char *fdstr = t_printf ("%d", extra);
  struct spawn_opts o = {
    .argv = SH ("[ \"$(readlink /proc/$$/fd/3)\" = /dev/full ] &&"
                " [ \"$(readlink /proc/$$/fd/4)\" = /dev/zero ] &&"
                " [ \"$(readlink /proc/$$/fd/1)\" = /dev/null ] &&"
                " [ ! -e /proc/$$/fd/$1 ]",
                fdstr, NULL),
    .n_fds = 5,
    .fds = { SPAWN_KEEP, SPAWN_NULL, SPAWN_KEEP, 4, 3 },
    .close_fds = true,
  };
  int st = run (&o);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
  /* Without close_fds, ours cross. */
  o.close_fds = false;
  o.argv = SH ("[ \"$(readlink /proc/$$/fd/$1)\" = /dev/random ]", fdstr, NULL);
  st = run (&o);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
  /* Ours are as they were. */
  char buf[64];
  ssize_t n = readlink ("/proc/self/fd/3", buf, sizeof (buf) - 1);
  assert_true (n > 0);
  buf[n] = '\0';
  assert_string_equal (buf, "/dev/zero");
  close (3);
  close (4);
  close (extra);
  free (fdstr);
}

static void
test_sigmask (void **state)
{
  (void)state;
  sigset_t usr1, old;
  sigemptyset (&usr1);
  sigaddset (&usr1, SIGUSR1);
  sigprocmask (SIG_BLOCK, &usr1, &old);
  /* grep itself, not a shell (dash unblocks every signal at start). */
  char *const argv_blocked[] = { (char *)"grep", (char *)"-q", (char *)"^SigBlk:.*200$",
                                 (char *)"/proc/self/status", NULL };
  struct spawn_opts o = { .argv = argv_blocked };
  int st = run (&o); /* inherited */
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
  sigset_t none;
  sigemptyset (&none);
  o.sigmask = &none;
  char *const argv_none[] = { (char *)"grep", (char *)"-q", (char *)"^SigBlk:[[:space:]0]*$",
                              (char *)"/proc/self/status", NULL };
  o.argv = argv_none;
  st = run (&o);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);
  sigprocmask (SIG_SETMASK, &old, NULL);
}

static int
call_fn (void *data)
{
  return *(int *)data;
}

static void
test_call (void **state)
{
  (void)state;
  int v = 7;
  struct spawn_proc sp;
  struct podshim_error *err = NULL;
  int r = spawn_call (call_fn, &v, "fn", &sp, &err);
  assert_no_error (r, err);
  assert_true (sp.pid > 0);
  assert_int_equal (sp.exec_fd, -1);
  int st = -1;
  r = spawn_wait (&sp, "fn", &st, &err);
  assert_no_error (r, err);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 7);
  /* Reaped: a second wait says so. */
  assert_true (spawn_wait (&sp, "fn", &st, &err) < 0);
  assert_error_contains (&err, "cannot wait for fn");
}

/* A field of /proc/self/status ("CapEff", "NoNewPrivs"...), as written. */
static int
status_field (const char *name, char *out, size_t n)
{
  FILE *f = fopen ("/proc/self/status", "re");
  char line[256];
  int r = -1;
  size_t nl = strlen (name);
  while (f && fgets (line, sizeof (line), f))
    if (strncmp (line, name, nl) == 0 && line[nl] == ':')
      {
        const char *v = line + nl + 1;
        while (*v == ' ' || *v == '\t')
          v++;
        snprintf (out, n, "%.*s", (int)strcspn (v, "\n"), v);
        r = 0;
      }
  if (f)
    fclose (f);
  return r;
}

/* In a child: drops, then reports what it has (0: as wanted). */
static int
dropped (void *data)
{
  bool keep_dac = *(bool *)data;
  char eff[64], prm[64], nnp[16];
  if (spawn_drop_privileges (keep_dac) < 0 || status_field ("CapEff", eff, sizeof (eff)) < 0
      || status_field ("CapPrm", prm, sizeof (prm)) < 0
      || status_field ("NoNewPrivs", nnp, sizeof (nnp)) < 0)
    return 10;
  const char *want = keep_dac ? "0000000000000002" : "0000000000000000";
  if (strcmp (eff, want) != 0 || strcmp (prm, want) != 0)
    return 11;
  return strcmp (nnp, "1") == 0 ? 0 : 12;
}

static void
test_drop_privileges (void **state)
{
  (void)state;
  for (int k = 0; k < 2; k++)
    {
      bool keep = k == 1;
      if (keep && geteuid () != 0)
        continue; /* keeping one needs having it */
      struct spawn_proc sp;
      struct podshim_error *err = NULL;
      assert_no_error (spawn_call (dropped, &keep, "drop", &sp, &err), err);
      int st = -1;
      assert_no_error (spawn_wait (&sp, "drop", &st, &err), err);
      assert_true (WIFEXITED (st));
      assert_int_equal (WEXITSTATUS (st), 0);
    }
}

/* spawn_detach: the caller gets 0 at once; the worker is no child of ours,
   runs in /, with stdio on /dev/null and the kept fd as 3. */
static void
test_detach (void **state)
{
  (void)state;
  int p[2];
  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  int r = spawn_detach (p[1]);
  if (r == 1)
    {
      char cwd[8] = "", buf[64];
      struct stat a, b;
      bool ok = getcwd (cwd, sizeof (cwd)) && strcmp (cwd, "/") == 0 && fstat (0, &a) == 0
                && stat ("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev && fcntl (4, F_GETFD) < 0;
      int n = snprintf (buf, sizeof (buf), "%s %d %d\n", ok ? "ok" : "bad", (int)getppid (),
                        (int)getsid (0));
      if (write (3, buf, (size_t)n) < 0)
        _exit (1);
      _exit (0);
    }
  assert_int_equal (r, 0);
  close (p[1]);
  char buf[64] = "";
  ssize_t n = read (p[0], buf, sizeof (buf) - 1);
  close (p[0]);
  assert_true (n > 0);
  assert_true (strncmp (buf, "ok ", 3) == 0);
  /* Not our child, in a session of its own. */
  char *sp = NULL;
  long ppid = strtol (buf + 3, &sp, 10), sid = strtol (sp, NULL, 10);
  assert_int_not_equal (ppid, (long)getpid ());
  assert_int_not_equal (sid, (long)getsid (0));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_status), cmocka_unit_test (test_exec_failure),
    cmocka_unit_test (test_fds),    cmocka_unit_test (test_sigmask),
    cmocka_unit_test (test_call),   cmocka_unit_test (test_drop_privileges),
    cmocka_unit_test (test_detach),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

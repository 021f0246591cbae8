/* lib/procutil: a process's identity (PID + start time) and what is read
 * through its /proc directory, bound to that process. */
#include "config.h"
#include "testutil.h"

#include "procutil.h"

#include <signal.h>
#include <sys/wait.h>

static void
test_self (void **state)
{
  (void)state;
  unsigned long long start;
  assert_int_equal (proc_start_time (getpid (), &start), 0);
  assert_true (proc_is_alive (getpid (), start));
  assert_false (proc_is_alive (getpid (), start + 1));
  int fd = proc_open_at_start (getpid (), start);
  assert_true (fd >= 0);
  assert_true (proc_is_alive_at (fd, start));
  assert_int_equal (proc_parent_at (fd), getppid ());
  assert_int_equal (proc_uid_at (fd), (int)getuid ());
  close (fd);
  assert_int_equal (proc_open_at_start (getpid (), start + 1), -ESRCH);
  assert_int_equal (proc_open_at_start (0, start), -ESRCH);
}

/* A child that exited: dead once it is a zombie, gone once reaped; the fd
 * opened while it ran stays its own. */
static void
test_child (void **state)
{
  (void)state;
  int p[2];
  assert_int_equal (pipe (p), 0);
  pid_t child = fork ();
  assert_true (child >= 0);
  if (child == 0)
    {
      char c;
      close (p[1]);
      (void)!read (p[0], &c, 1);
      _exit (0);
    }
  close (p[0]);
  unsigned long long start;
  assert_int_equal (proc_start_time (child, &start), 0);
  int fd = proc_open_at_start (child, start);
  assert_true (fd >= 0);
  assert_int_equal (proc_parent_at (fd), getpid ());
  struct podshim_error *err = NULL;
  int ns = proc_open_ns (child, start, "net", &err);
  assert_true (ns >= 0);
  close (ns);
  close (p[1]); /* it exits */
  siginfo_t si;
  assert_int_equal (waitid (P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
  /* A zombie: dead, but still there. */
  assert_false (proc_is_alive_at (fd, start));
  assert_false (proc_is_alive (child, start));
  unsigned long long again;
  assert_int_equal (proc_start_time (child, &again), 0);
  assert_int_equal (proc_open_ns (child, start, "net", &err), -ESRCH);
  assert_null (err);
  int status;
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_false (proc_is_alive_at (fd, start));
  close (fd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_self),
    cmocka_unit_test (test_child),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

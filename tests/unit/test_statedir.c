/* lib/statedir: the layout's names, the pod locks, the container index. */
#include "config.h"
#include "testutil.h"

#include "fsutil.h"
#include "statedir.h"
#include "stateformat.h"

#include <poll.h>
#include <sys/file.h>
#include <sys/wait.h>

static ino_t
ino_at (int dfd, const char *name)
{
  struct stat st;
  assert_int_equal (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
  return st.st_ino;
}

/* True when pid is still running (not exited) after waiting ms. */
static bool
still_running_after (pid_t pid, int ms)
{
  usleep ((useconds_t)ms * 1000);
  int status;
  return waitpid (pid, &status, WNOHANG) == 0;
}

static void
test_lock_retries_when_unlinked (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  int pods = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (pods >= 0);
  struct podshim_error *err = NULL;
  int fd1 = statedir_lock_pod (pods, "web", &err);
  assert_true (fd1 >= 0);
  ino_t first = ino_at (pods, "web.lock");

  int report[2];
  assert_int_equal (pipe2 (report, O_CLOEXEC), 0);
  pid_t child = fork ();
  assert_true (child >= 0);
  if (child == 0)
    {
      /* fork shares fd1's open file description, lock included: drop ours. */
      close (fd1);
      free (dir);
      alarm (20); /* never outlive a failed test */
      struct podshim_error *cerr = NULL;
      int fd = statedir_lock_pod (pods, "web", &cerr);
      struct stat held, named;
      /* The result goes through the pipe: the exit code may be valgrind's. */
      ino_t r[3] = { 1, 0, 0 };
      if (fd >= 0 && fstat (fd, &held) == 0 && fstatat (pods, "web.lock", &named, 0) == 0)
        r[0] = 0, r[1] = held.st_ino, r[2] = named.st_ino;
      podshim_error_free (cerr);
      _exit (write (report[1], r, sizeof (r)) == (ssize_t)sizeof (r) ? 0 : 3);
    }
  close (report[1]);
  /* The child waits on the first lock file. */
  assert_true (still_running_after (child, 200));

  /* Teardown: the holder unlinks the lock file; a new pod takes a new one. */
  assert_int_equal (unlinkat (pods, "web.lock", 0), 0);
  int fd2 = statedir_lock_pod (pods, "web", &err);
  assert_true (fd2 >= 0);
  ino_t second = ino_at (pods, "web.lock");
  assert_true (second != first);
  close (fd1);
  /* The child got the unlinked file's lock, must notice and wait on the new one. */
  assert_true (still_running_after (child, 300));
  close (fd2);

  ino_t got[3] = { 1, 0, 0 };
  struct pollfd pfd = { .fd = report[0], .events = POLLIN };
  assert_int_equal (poll (&pfd, 1, 10000), 1);
  assert_int_equal (read (report[0], got, sizeof (got)), (ssize_t)sizeof (got));
  int status;
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFEXITED (status));
  assert_int_equal (got[0], 0);   /* statedir_lock_pod succeeded */
  assert_true (got[1] == second); /* holding the new lock file */
  assert_true (got[2] == second); /* which is the one named */
  close (report[0]);

  /* A symlinked lock file is refused. */
  assert_int_equal (symlinkat ("/etc/passwd", pods, "evil.lock"), 0);
  assert_true (statedir_lock_pod (pods, "evil", &err) < 0);
  assert_error_contains (&err, "cannot open lock `evil.lock`");

  close (pods);
  t_rmtree (dir);
  free (dir);
}

/* Two scoped keys alike in their first 200 bytes have two lock files, each
 * `<key>.lock` (a name cut at 135 bytes once made them share one, and the
 * teardown could not unlink it). */
static void
test_lock_long_keys (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  int locks = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (locks >= 0);
  char scope[8 + POD_SCOPE_VALUE_MAX + 1], a[POD_KEY_MAX + 1], b[POD_KEY_MAX + 1];
  snprintf (scope, sizeof (scope), "compose:%0*d", POD_SCOPE_VALUE_MAX, 0);
  snprintf (a, sizeof (a), "%s:%0*da", scope, POD_NAME_MAX - 1, 0);
  snprintf (b, sizeof (b), "%s:%0*db", scope, POD_NAME_MAX - 1, 0);
  assert_int_equal (strlen (a), POD_KEY_MAX);
  assert_true (pod_key_valid (a) && pod_key_valid (b));
  struct podshim_error *err = NULL;
  int fa = statedir_lock_pod (locks, a, &err);
  assert_true (fa >= 0);
  char *na = t_printf ("%s.lock", a);
  struct stat st;
  assert_int_equal (fstatat (locks, na, &st, AT_SYMLINK_NOFOLLOW), 0);
  /* Not the same file: b's lock is free while a's is held. */
  int fb = statedir_lock_pod (locks, b, &err);
  assert_true (fb >= 0);
  char key[POD_KEY_MAX + 1];
  assert_true (statedir_lock_key (na, key));
  assert_string_equal (key, a);
  statedir_unlink_lock (locks, a);
  assert_true (fstatat (locks, na, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
  close (fa);
  close (fb);
  free (na);
  close (locks);
  t_rmtree (dir);
  free (dir);
}

static void
test_lock_key (void **state)
{
  (void)state;
  char key[POD_KEY_MAX + 1];
  assert_true (statedir_lock_key ("web.lock", key));
  assert_string_equal (key, "web");
  assert_true (statedir_lock_key ("stack:s:web.lock", key));
  assert_string_equal (key, "stack:s:web");
  assert_false (statedir_lock_key (".lock", key));
  assert_false (statedir_lock_key ("web", key));
  assert_false (statedir_lock_key ("web.lock.tmp", key));
  assert_false (statedir_lock_key ("../x.lock", key));
}

static void
test_rootkey (void **state)
{
  (void)state;
  char k[STATEDIR_ROOTKEY_LEN + 1];
  /* FNV-1a 64 of "": the offset basis; recorded state dirs depend on it. */
  statedir_rootkey ("", k);
  assert_string_equal (k, "cbf29ce484222325");
  statedir_rootkey ("/run/runc", k);
  assert_true (statedir_rootkey_valid (k));
  assert_false (statedir_rootkey_valid ("cbf29ce48422232"));
  assert_false (statedir_rootkey_valid ("cbf29ce484222325x"));
  assert_false (statedir_rootkey_valid ("CBF29CE484222325"));
}

static void
test_index (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  int rootfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (rootfd >= 0);
  struct podshim_error *err = NULL;
  char *key = (char *)"x";
  /* No index yet: not a member, no error. */
  assert_int_equal (statedir_index_read (rootfd, "c1", &key, &err), 0);
  assert_null (key);
  assert_int_equal (statedir_index_write (rootfd, "c1", "compose:p:web", &err), 0);
  assert_int_equal (statedir_index_read (rootfd, "c1", &key, &err), 0);
  assert_string_equal (key, "compose:p:web");
  free (key);
  assert_int_equal (statedir_index_read (rootfd, "c2", &key, &err), 0);
  assert_null (key);
  /* Removed only when it names that pod. */
  statedir_index_remove (rootfd, "c1", "web");
  assert_int_equal (statedir_index_read (rootfd, "c1", &key, &err), 0);
  assert_non_null (key);
  free (key);
  statedir_index_remove (rootfd, "c1", "compose:p:web");
  assert_int_equal (statedir_index_read (rootfd, "c1", &key, &err), 0);
  assert_null (key);
  /* Never written: an entry that would not read back. */
  assert_true (statedir_index_write (rootfd, "c3", "../x", &err) < 0);
  assert_error_contains (&err, "invalid index entry");
  assert_true (statedir_index_write (rootfd, "../c3", "web", &err) < 0);
  assert_error_contains (&err, "invalid index entry");
  /* A damaged entry is an error naming the container. */
  int cfd = openat (rootfd, STATEDIR_CONTAINERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (cfd >= 0);
  int efd = openat (cfd, "c3", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  assert_true (efd >= 0);
  assert_int_equal (write (efd, "../x", 4), 4);
  close (efd);
  close (cfd);
  assert_true (statedir_index_read (rootfd, "c3", &key, &err) < 0);
  assert_null (key);
  assert_error_contains (&err, "`c3`");
  statedir_index_remove (rootfd, "c3", NULL);
  assert_int_equal (statedir_index_read (rootfd, "c3", &key, &err), 0);
  assert_null (key);
  /* A newer podshim's entry: refused as such, naming it; a remove for a
     pod key leaves it. */
  cfd = openat (rootfd, STATEDIR_CONTAINERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (cfd >= 0);
  efd = openat (cfd, "c4", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  assert_true (efd >= 0);
  const char *newer = "{\"version\":2,\"pod\":\"web\"}";
  assert_int_equal (write (efd, newer, strlen (newer)), (ssize_t)strlen (newer));
  close (efd);
  close (cfd);
  assert_true (statedir_index_read (rootfd, "c4", &key, &err) < 0);
  assert_null (key);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  char *want = t_printf ("`%s/containers/c4`: format version 2, newer than 1", dir);
  assert_error_contains (&err, want);
  free (want);
  statedir_index_remove (rootfd, "c4", "web");
  assert_true (statedir_index_read (rootfd, "c4", &key, &err) < 0);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  podshim_error_free (err);
  err = NULL;
  close (rootfd);
  t_rmtree (dir);
  free (dir);
}

static void
test_paths (void **state)
{
  (void)state;
  char *p = statedir_pod_path ("/run/podshim", "0123456789abcdef", "web", "net/hosts");
  assert_string_equal (p, "/run/podshim/0123456789abcdef/pods/web/net/hosts");
  free (p);
  p = statedir_pod_path ("/s", "k", "web", NULL);
  assert_string_equal (p, "/s/k/pods/web");
  free (p);
  p = statedir_record_path ("/s", "k", "c1");
  assert_string_equal (p, "/s/k/records/c1");
  free (p);
  p = statedir_data_path ("/d", "k", "stack:s:web");
  assert_string_equal (p, "/d/k/stack:s:web");
  free (p);
}

static void
test_open_root_and_gc (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  char *sd = t_printf ("%s/state", dir);
  struct podshim_error *err = NULL;
  /* Missing without create: an ENOENT error. */
  assert_int_equal (statedir_open_root (sd, "0123456789abcdef", "/r", false, NULL, &err), -ENOENT);
  assert_true (podshim_error_is (err, ENOENT));
  podshim_error_free (err);
  err = NULL;
  int statefd = -1;
  int rootfd = statedir_open_root (sd, "0123456789abcdef", "/r", true, &statefd, &err);
  assert_true (rootfd >= 0 && statefd >= 0);
  struct stat st;
  assert_int_equal (stat (sd, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0700);
  char *root = NULL;
  assert_int_equal (statedir_root_read (rootfd, &root, &err), 0);
  assert_string_equal (root, "/r");
  free (root);
  /* A newer podshim's `root`, and `data`. */
  assert_int_equal (
      write_file_atomic_at (rootfd, STATEDIR_ROOT_FILE, "{\"version\":3}", 13, 0600, &err), 0);
  root = NULL;
  assert_true (statedir_root_read (rootfd, &root, &err) < 0);
  assert_null (root);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_error_contains (&err, "/0123456789abcdef/root`: format version 3");
  assert_int_equal (write_file_atomic_at (rootfd, STATEDIR_ROOT_FILE, "/r", 2, 0600, &err), 0);
  assert_true (statedir_data_read (rootfd, &root, &err) < 0);
  assert_true (podshim_error_is (err, ENOENT));
  podshim_error_free (err);
  err = NULL;
  assert_int_equal (write_file_atomic_at (rootfd, STATEDIR_POD_DATA, "/d/k/web", 8, 0600, &err), 0);
  assert_int_equal (statedir_data_read (rootfd, &root, &err), 0);
  assert_string_equal (root, "/d/k/web");
  free (root);
  root = NULL;
  assert_int_equal (
      write_file_atomic_at (rootfd, STATEDIR_POD_DATA, "{\"version\":2}", 13, 0600, &err), 0);
  assert_true (statedir_data_read (rootfd, &root, &err) < 0);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_error_contains (&err, "/data`: format version 2");
  assert_int_equal (unlinkat (rootfd, STATEDIR_POD_DATA, 0), 0);
  int pods = statedir_open_sub (rootfd, STATEDIR_PODS, true, &err);
  assert_true (pods >= 0);
  close (pods);
  int sfd = open (sd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  /* Held shared by us: not removed. */
  statedir_remove_root_if_empty (sfd, "0123456789abcdef", rootfd);
  assert_int_equal (faccessat (sfd, "0123456789abcdef", F_OK, 0), 0);
  close (statefd);
  /* Something recorded: not removed. */
  assert_int_equal (statedir_index_write (rootfd, "c1", "web", &err), 0);
  statedir_remove_root_if_empty (sfd, "0123456789abcdef", rootfd);
  assert_int_equal (faccessat (sfd, "0123456789abcdef", F_OK, 0), 0);
  statedir_index_remove (rootfd, "c1", NULL);
  /* The holder template's name does not keep it. */
  assert_int_equal (write_file_atomic_at (rootfd, STATEDIR_HOLDER_TEMPLATE, "1 2\n", 4, 0600, &err),
                    0);
  statedir_remove_root_if_empty (sfd, "0123456789abcdef", rootfd);
  assert_true (faccessat (sfd, "0123456789abcdef", F_OK, 0) < 0 && errno == ENOENT);
  close (sfd);
  close (rootfd);
  free (sd);
  t_rmtree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lock_retries_when_unlinked),
    cmocka_unit_test (test_lock_long_keys),
    cmocka_unit_test (test_lock_key),
    cmocka_unit_test (test_rootkey),
    cmocka_unit_test (test_index),
    cmocka_unit_test (test_paths),
    cmocka_unit_test (test_open_root_and_gc),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

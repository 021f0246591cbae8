/* File helpers: atomic replace, bounded reads, no symlink ever followed. */
#include "config.h"
#include "testutil.h"

#include "fsutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>

struct fx
{
  char *dir;
  int dfd;
};

static int
setup (void **state)
{
  struct fx *f = calloc (1, sizeof (*f));
  f->dir = t_mkdtemp ();
  f->dfd = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (f->dfd < 0)
    return -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fx *f = *state;
  close (f->dfd);
  t_rmtree (f->dir);
  free (f->dir);
  free (f);
  return 0;
}

/* The sorted names in dir (relative to dfd), joined by ' '. */
static char *
listing (int dfd, const char *dir)
{
  int fd = openat (dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  struct dirent **names = NULL;
  char *path = t_printf ("/proc/self/fd/%d", fd);
  int n = scandir (path, &names, NULL, alphasort);
  assert_true (n >= 0);
  char *out = t_strdup ("");
  for (int i = 0; i < n; i++)
    {
      if (strcmp (names[i]->d_name, ".") && strcmp (names[i]->d_name, ".."))
        {
          char *o = t_printf ("%s%s%s", out, *out ? " " : "", names[i]->d_name);
          free (out);
          out = o;
        }
      free (names[i]);
    }
  free (names);
  free (path);
  close (fd);
  return out;
}

static char *
read_at (int dfd, const char *name)
{
  struct podshim_error *err = NULL;
  char *buf = NULL;
  int r = read_file_at (dfd, name, O_NOFOLLOW, 1 << 20, &buf, NULL, &err);
  assert_no_error (r, err);
  return buf;
}

static mode_t
mode_of (int dfd, const char *name)
{
  struct stat st;
  assert_int_equal (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
  return st.st_mode;
}

static void
test_atomic_new_file (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  mode_t old = umask (077);
  int r = write_file_atomic_at (f->dfd, "new", "hello", 5, 0604, &err);
  umask (old);
  assert_no_error (r, err);
  assert_int_equal (mode_of (f->dfd, "new"), S_IFREG | 0604); /* not reduced by the umask */
  char *c = read_at (f->dfd, "new");
  assert_string_equal (c, "hello");
  free (c);
  char *l = listing (f->dfd, ".");
  assert_string_equal (l, "new");
  free (l);

  /* An empty write gives an empty file. */
  assert_int_equal (write_file_atomic_at (f->dfd, "empty", "", 0, 0600, &err), 0);
  c = read_at (f->dfd, "empty");
  assert_string_equal (c, "");
  free (c);

  /* A name in a subdirectory: the temp file goes there too. */
  assert_int_equal (mkdirat (f->dfd, "sub", 0700), 0);
  assert_int_equal (write_file_atomic_at (f->dfd, "sub/f", "x", 1, 0600, &err), 0);
  l = listing (f->dfd, "sub");
  assert_string_equal (l, "f");
  free (l);
  l = listing (f->dfd, ".");
  assert_string_equal (l, "empty new sub");
  free (l);
}

static void
test_atomic_keeps_mode (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  char *p = t_printf ("%s/config.json", f->dir);
  t_write (p, "old content, longer than the new one");
  assert_int_equal (chmod (p, 0640), 0);
  struct stat before;
  assert_int_equal (stat (p, &before), 0);
  int r = write_file_atomic_at (f->dfd, "config.json", "{}", 2, 0600, &err);
  assert_no_error (r, err);
  struct stat after;
  assert_int_equal (stat (p, &after), 0);
  assert_int_equal (after.st_mode, S_IFREG | 0640);
  assert_true (after.st_ino != before.st_ino); /* replaced, not rewritten in place */
  char *c = read_at (f->dfd, "config.json");
  assert_string_equal (c, "{}");
  free (c);
  /* Special bits are kept too. */
  assert_int_equal (chmod (p, 02755), 0);
  assert_int_equal (write_file_atomic_at (f->dfd, "config.json", "[]", 2, 0600, &err), 0);
  assert_int_equal (mode_of (f->dfd, "config.json"), S_IFREG | 02755);
  char *l = listing (f->dfd, ".");
  assert_string_equal (l, "config.json");
  free (l);
  free (p);
}

static void
test_atomic_failure_leaves_nothing (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  char *p = t_printf ("%s/state", f->dir);
  t_write (p, "precious");
  /* Make the write fail half-way: a file size limit (root is not exempt). */
  struct rlimit old;
  assert_int_equal (getrlimit (RLIMIT_FSIZE, &old), 0);
  void (*prev) (int) = signal (SIGXFSZ, SIG_IGN);
  struct rlimit lim = { .rlim_cur = 4, .rlim_max = old.rlim_max };
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &lim), 0);
  int r = write_file_atomic_at (f->dfd, "state", "0123456789", 10, 0600, &err);
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &old), 0);
  signal (SIGXFSZ, prev);
  assert_true (r < 0);
  assert_int_equal (err->errno_, EFBIG);
  assert_error_contains (&err, "cannot write `.state.podshim-tmp-");
  char *l = listing (f->dfd, ".");
  assert_string_equal (l, "state"); /* no temp file left */
  free (l);
  char *c = read_at (f->dfd, "state");
  assert_string_equal (c, "precious");
  free (c);

  /* The leftover temp file of a killed podshim with our PID is replaced. */
  char *tmp = t_printf ("%s/.state.podshim-tmp-%d", f->dir, (int)getpid ());
  t_write (tmp, "leftover");
  assert_int_equal (write_file_atomic_at (f->dfd, "state", "new", 3, 0600, &err), 0);
  l = listing (f->dfd, ".");
  assert_string_equal (l, "state");
  free (l);
  c = read_at (f->dfd, "state");
  assert_string_equal (c, "new");
  free (c);
  free (tmp);
  free (p);
}

static void
test_atomic_refuses_symlink (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  char *outside = t_printf ("%s/outside", f->dir);
  t_write (outside, "outside");
  assert_int_equal (symlinkat (outside, f->dfd, "link"), 0);
  int r = write_file_atomic_at (f->dfd, "link", "evil", 4, 0600, &err);
  assert_true (r < 0);
  assert_error_contains (&err, "cannot replace `link`: not a regular file");
  assert_true (S_ISLNK (mode_of (f->dfd, "link")));
  char *c = t_read (outside, NULL);
  assert_string_equal (c, "outside");
  free (c);
  /* A directory is not replaced either. */
  assert_int_equal (mkdirat (f->dfd, "d", 0700), 0);
  assert_true (write_file_atomic_at (f->dfd, "d", "x", 1, 0600, &err) < 0);
  assert_error_contains (&err, "not a regular file");
  char *l = listing (f->dfd, ".");
  assert_string_equal (l, "d link outside");
  free (l);
  free (outside);
}

static void
test_read_limits (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  char hundred[101];
  memset (hundred, 'x', 100);
  hundred[100] = '\0';
  char *p = t_printf ("%s/h", f->dir);
  t_write (p, hundred);
  char *buf = NULL;
  size_t len = 0;
  assert_true (read_file_at (f->dfd, "h", 0, 99, &buf, &len, &err) < 0);
  assert_null (buf);
  assert_error_contains (&err, "`h` is larger than 99 bytes");
  assert_int_equal (read_file_at (f->dfd, "h", 0, 100, &buf, &len, &err), 0);
  assert_int_equal (len, 100);
  assert_string_equal (buf, hundred);
  free (buf);
  buf = NULL;

  /* A /proc file has st_size 0: the limit still holds while reading. */
  assert_true (read_file_at (AT_FDCWD, "/proc/self/status", 0, 64, &buf, &len, &err) < 0);
  assert_error_contains (&err, "larger than 64 bytes");
  assert_int_equal (read_file_at (AT_FDCWD, "/proc/self/status", 0, 1 << 20, &buf, &len, &err), 0);
  assert_true (len > 64);
  assert_int_equal (strlen (buf), len);
  assert_non_null (strstr (buf, "Pid:"));
  free (buf);
  buf = NULL;

  /* Missing: ENOENT in the error; a directory; a symlink with O_NOFOLLOW. */
  assert_true (read_file_at (f->dfd, "missing", 0, 10, &buf, &len, &err) < 0);
  assert_int_equal (err->errno_, ENOENT);
  assert_error_contains (&err, "cannot open `missing`");
  assert_true (read_file_at (AT_FDCWD, f->dir, 0, 10, &buf, &len, &err) < 0);
  assert_error_contains (&err, "is not a regular file");
  assert_int_equal (symlinkat ("h", f->dfd, "l"), 0);
  assert_true (read_file_at (f->dfd, "l", O_NOFOLLOW, 1000, &buf, &len, &err) < 0);
  assert_int_equal (err->errno_, ELOOP);
  podshim_error_free (err);
  err = NULL;
  assert_null (buf);
  free (p);
}

static void
test_ensure_dir (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  mode_t old = umask (0);
  int fd = ensure_dir_at (f->dfd, "d", 0711, &err);
  umask (old);
  assert_true (fd >= 0);
  assert_null (err);
  assert_int_equal (mode_of (f->dfd, "d"), S_IFDIR | 0711);
  assert_int_equal (mkdirat (fd, "inner", 0700), 0);
  close (fd);
  fd = ensure_dir_at (f->dfd, "d", 0700, &err); /* exists: opened */
  assert_true (fd >= 0);
  assert_int_equal (faccessat (fd, "inner", F_OK, 0), 0);
  close (fd);

  /* A symlink to a directory is refused, and nothing is created through it. */
  assert_int_equal (mkdirat (f->dfd, "real", 0700), 0);
  assert_int_equal (symlinkat ("real", f->dfd, "link"), 0);
  assert_true (ensure_dir_at (f->dfd, "link", 0700, &err) < 0);
  assert_error_contains (&err, "`link`");
  assert_true (open_dir_at (f->dfd, "link", &err) < 0);
  assert_error_contains (&err, "cannot open directory `link`");
  /* A dangling symlink is not created through either. */
  assert_int_equal (symlinkat ("nowhere", f->dfd, "dangling"), 0);
  assert_true (ensure_dir_at (f->dfd, "dangling", 0700, &err) < 0);
  assert_error_contains (&err, "`dangling`");
  assert_int_equal (faccessat (f->dfd, "nowhere", F_OK, AT_SYMLINK_NOFOLLOW), -1);
  /* A file is not a directory. */
  char *p = t_printf ("%s/file", f->dir);
  t_write (p, "");
  assert_true (ensure_dir_at (f->dfd, "file", 0700, &err) < 0);
  assert_error_contains (&err, "`file`");
  assert_int_equal (open_dir_at (f->dfd, "missing", &err), -ENOENT);
  assert_true (podshim_error_is (err, ENOENT));
  assert_error_contains (&err, "`missing`");
  free (p);

  /* ensure_dir_path creates every missing component. */
  char *deep = t_printf ("%s/a/b/c", f->dir);
  fd = ensure_dir_path (deep, 0700, &err);
  assert_true (fd >= 0);
  close (fd);
  struct stat st;
  assert_int_equal (stat (deep, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  free (deep);
  assert_true (ensure_dir_path ("relative/dir", 0700, &err) < 0);
  assert_error_contains (&err, "not an absolute path");
}

static void
test_private_dir_path (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  char *missing = t_printf ("%s/s/t", f->dir);
  assert_int_equal (open_private_dir_path (missing, false, &err), -ENOENT);
  assert_true (podshim_error_is (err, ENOENT));
  assert_error_contains (&err, "/s`");
  int fd = open_private_dir_path (missing, true, &err);
  assert_no_error (fd, err);
  close (fd);
  struct stat st;
  assert_int_equal (stat (missing, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0700);
  fd = open_private_dir_path (missing, false, &err); /* exists: opened */
  assert_no_error (fd, err);
  close (fd);

  /* Writable by others, or another owner: refused, naming it. */
  assert_int_equal (chmod (missing, 0770), 0);
  assert_true (open_private_dir_path (missing, true, &err) < 0);
  assert_error_contains (&err, "is unsafe");
  assert_int_equal (chmod (missing, 0755), 0); /* readable is fine */
  fd = open_private_dir_path (missing, true, &err);
  assert_no_error (fd, err);
  close (fd);
  if (geteuid () == 0)
    {
      assert_int_equal (chown (missing, 65534, 0), 0);
      assert_true (open_private_dir_path (missing, true, &err) < 0);
      assert_error_contains (&err, "owned by uid 65534");
    }

  /* A symlink anywhere on the path is refused, and nothing is made through it. */
  char *real = t_printf ("%s/real", f->dir);
  assert_int_equal (mkdir (real, 0700), 0);
  assert_int_equal (symlinkat ("real", f->dfd, "link"), 0);
  char *via = t_printf ("%s/link/state", f->dir);
  assert_true (open_private_dir_path (via, true, &err) < 0);
  assert_error_contains (&err, "/link` is a symbolic link");
  assert_int_equal (faccessat (f->dfd, "real/state", F_OK, 0), -1);
  char *last = t_printf ("%s/link", f->dir);
  assert_true (open_private_dir_path (last, false, &err) < 0);
  assert_error_contains (&err, "is a symbolic link");
  assert_true (open_private_dir_path ("relative", true, &err) < 0);
  assert_error_contains (&err, "not an absolute path");
  free (missing);
  free (real);
  free (via);
  free (last);
}

static void
test_rm_rf_never_follows (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  /* outside/keep must survive; victim/ holds symlinks to it. */
  assert_int_equal (mkdirat (f->dfd, "outside", 0700), 0);
  char *keep = t_printf ("%s/outside/keep", f->dir);
  t_write (keep, "keep");
  char *outside = t_printf ("%s/outside", f->dir);
  assert_int_equal (mkdirat (f->dfd, "victim", 0700), 0);
  assert_int_equal (mkdirat (f->dfd, "victim/sub", 0700), 0);
  assert_int_equal (mkdirat (f->dfd, "victim/sub/empty", 0700), 0);
  char *a = t_printf ("%s/victim/a", f->dir);
  t_write (a, "a");
  assert_int_equal (symlinkat (outside, f->dfd, "victim/sub/dirlink"), 0);
  assert_int_equal (symlinkat (keep, f->dfd, "victim/sub/filelink"), 0);
  assert_int_equal (symlinkat ("../../outside", f->dfd, "victim/sub/rellink"), 0);
  assert_int_equal (mkfifoat (f->dfd, "victim/fifo", 0600), 0);

  assert_int_equal (rm_rf_at (f->dfd, "victim", &err), 0);
  assert_null (err);
  char *l = listing (f->dfd, ".");
  assert_string_equal (l, "outside");
  free (l);
  l = listing (f->dfd, "outside");
  assert_string_equal (l, "keep");
  free (l);

  /* A symlink given directly is removed, not its target. */
  assert_int_equal (symlinkat (outside, f->dfd, "top"), 0);
  assert_int_equal (rm_rf_at (f->dfd, "top", &err), 0);
  l = listing (f->dfd, ".");
  assert_string_equal (l, "outside");
  free (l);
  l = listing (f->dfd, "outside");
  assert_string_equal (l, "keep");
  free (l);

  /* Missing is fine; a plain file is removed. */
  assert_int_equal (rm_rf_at (f->dfd, "missing", &err), 0);
  assert_int_equal (rm_rf_at (f->dfd, "outside/keep", &err), 0);
  l = listing (f->dfd, "outside");
  assert_string_equal (l, "");
  free (l);
  free (a);
  free (outside);
  free (keep);
}

/* Makes name/d/d/.../d, levels deep. */
static void
make_deep (int dfd, const char *name, int levels)
{
  assert_int_equal (mkdirat (dfd, name, 0700), 0);
  int fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  for (int i = 0; i < levels; i++)
    {
      assert_int_equal (mkdirat (fd, "d", 0700), 0);
      int n = openat (fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      assert_true (n >= 0);
      close (fd);
      fd = n;
    }
  close (fd);
}

static void
test_rm_rf_depth (void **state)
{
  struct fx *f = *state;
  struct podshim_error *err = NULL;
  make_deep (f->dfd, "ok", 200);
  assert_int_equal (rm_rf_at (f->dfd, "ok", &err), 0);
  assert_null (err);
  assert_int_equal (faccessat (f->dfd, "ok", F_OK, AT_SYMLINK_NOFOLLOW), -1);

  /* Deeper than the bound: an error, not unbounded recursion. */
  make_deep (f->dfd, "deep", 400);
  assert_true (rm_rf_at (f->dfd, "deep", &err) < 0);
  assert_error_contains (&err, "too deep");
}

/* Reachable by uid 0 without capabilities: the owner's bits where we own,
   else the group's or other's. */
static void
test_reachable_without_caps (void **state)
{
  const char *dir = ((struct fx *)*state)->dir;
  if (geteuid () != 0)
    skip ();
  char *d = t_printf ("%s/a", dir), *sock = t_printf ("%s/a/s.sock", dir);
  assert_int_equal (mkdir (d, 0700), 0);
  assert_true (path_reachable_without_caps (sock)); /* absent: the way is what counts */
  int fd = open (sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  close (fd);
  assert_true (path_reachable_without_caps (sock));
  assert_int_equal (chmod (sock, 0400), 0);
  assert_false (path_reachable_without_caps (sock)); /* not writable */
  assert_int_equal (chmod (sock, 0600), 0);
  assert_int_equal (chmod (d, 0600), 0);
  assert_false (path_reachable_without_caps (sock)); /* not searchable */
  assert_int_equal (chmod (d, 0700), 0);
  /* another user's 0700 directory: only CAP_DAC_OVERRIDE would pass it */
  assert_int_equal (chown (d, 4321, 4321), 0);
  assert_false (path_reachable_without_caps (sock));
  assert_int_equal (chmod (d, 0701), 0);
  assert_true (path_reachable_without_caps (sock)); /* searchable by others; the socket ours */
  assert_int_equal (chown (sock, 4321, 4321), 0);
  assert_false (path_reachable_without_caps (sock)); /* another's 0600 socket is not */
  assert_int_equal (chmod (sock, 0606), 0);
  assert_true (path_reachable_without_caps (sock));
  /* through a symlink: its target's way too */
  char *link = t_printf ("%s/l.sock", dir);
  assert_int_equal (symlink (sock, link), 0);
  assert_true (path_reachable_without_caps (link));
  assert_int_equal (chmod (d, 0700), 0);
  assert_false (path_reachable_without_caps (link));
  assert_false (path_reachable_without_caps ("relative/s.sock"));
  free (link);
  free (sock);
  free (d);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_atomic_new_file, setup, teardown),
    cmocka_unit_test_setup_teardown (test_atomic_keeps_mode, setup, teardown),
    cmocka_unit_test_setup_teardown (test_atomic_failure_leaves_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown (test_atomic_refuses_symlink, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_limits, setup, teardown),
    cmocka_unit_test_setup_teardown (test_ensure_dir, setup, teardown),
    cmocka_unit_test_setup_teardown (test_private_dir_path, setup, teardown),
    cmocka_unit_test_setup_teardown (test_rm_rf_never_follows, setup, teardown),
    cmocka_unit_test_setup_teardown (test_rm_rf_depth, setup, teardown),
    cmocka_unit_test_setup_teardown (test_reachable_without_caps, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

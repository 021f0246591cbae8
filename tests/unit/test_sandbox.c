/* runtime/sandbox: what makes a holder a template for new holders' roots
 * (the template file's format, the template's mount table), and the whole
 * check against live processes (runs as root). */
#include "config.h"
#include "testutil.h"

#include "fsutil.h"
#include "sandbox.h"
#include "statedir.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static bool
mounts_ok (const char *text)
{
  char *copy = strdup (text);
  assert_non_null (copy);
  bool ok = sandbox_template_mounts_ok (copy);
  free (copy);
  return ok;
}

#define ROOT_RO "68 45 0:41 / / ro,nosuid,nodev,noexec,relatime - tmpfs podshim-pause rw,size=4k\n"
#define SHM "69 68 0:42 / /shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k\n"

static void
test_mounts (void **state)
{
  (void)state;
  assert_true (mounts_ok (ROOT_RO));
  assert_true (mounts_ok (ROOT_RO SHM));
  /* An optional field before the separator. */
  assert_true (mounts_ok ("68 45 0:41 / / ro,relatime shared:5 - tmpfs x rw\n"));
  /* Read-write root, another fs type, another mount point, a subtree root. */
  assert_false (mounts_ok ("68 45 0:41 / / rw,relatime - tmpfs x rw\n"));
  assert_false (mounts_ok ("68 45 8:1 / / ro,relatime - ext4 /dev/sda1 rw\n"));
  assert_false (mounts_ok ("68 45 0:41 / /proc ro,relatime - tmpfs x rw\n"));
  assert_false (mounts_ok ("68 45 0:41 /sub / ro,relatime - tmpfs x rw\n"));
  /* Anything but /shm besides the root, or more than one more. */
  assert_false (mounts_ok (ROOT_RO "69 68 0:42 / /etc rw - tmpfs x rw\n"));
  assert_false (mounts_ok (ROOT_RO SHM SHM));
  assert_false (mounts_ok (ROOT_RO "69 68 8:1 / /shm rw - ext4 /dev/sda1 rw\n"));
  /* The host's table starts with its root: never a template. */
  assert_false (mounts_ok ("25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" SHM));
  /* Truncated lines, no separator, empty. */
  assert_false (mounts_ok ("68 45 0:41 / /\n"));
  assert_false (mounts_ok ("68 45 0:41 / / ro tmpfs\n"));
  assert_false (mounts_ok (""));
  assert_false (mounts_ok ("\n\n"));
}

static void
test_parse (void **state)
{
  (void)state;
  pid_t pid = 0;
  unsigned long long start = 0;
  assert_true (sandbox_template_parse ("1234 987654321\n", &pid, &start));
  assert_int_equal (pid, 1234);
  assert_int_equal (start, 987654321ULL);
  static const char *const bad[] = {
    "",           "1234",      "1234 5",
    "1234 5\n\n", " 1234 5\n", "1234  5\n",
    "-1 5\n",     "0 5\n",     "2147483648 5\n",
    "1234 -5\n",  "12a4 5\n",  "1234 99999999999999999999\n",
    "1234 5 6\n", "0012 5\n",  "12 05\n",
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    assert_false (sandbox_template_parse (bad[i], &pid, &start));
}

/* The whole check: a file naming ourselves (root, the host's mounts), a
 * stale PID, garbage, no file: never a template. */
static void
test_open_refuses (void **state)
{
  (void)state;
  char dir[] = "/tmp/podshim-test-sandbox.XXXXXX";
  assert_non_null (mkdtemp (dir));
  int rootfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (rootfd >= 0);
  assert_int_equal (sandbox_template_open (rootfd), -1);
  struct podshim_error *e = NULL;
  char buf[64];
  unsigned long long start = 0;
  FILE *f = fopen ("/proc/self/stat", "r");
  assert_non_null (f);
  char line[1024];
  assert_non_null (fgets (line, sizeof (line), f));
  fclose (f);
  /* Field 22, after the ")" that ends the command name. */
  const char *p = strrchr (line, ')');
  for (int field = 2; p && field < 22; field++)
    p = strchr (p + 1, ' ');
  assert_non_null (p);
  start = strtoull (p + 1, NULL, 10);
  snprintf (buf, sizeof (buf), "%d %llu\n", (int)getpid (), start);
  assert_int_equal (
      write_file_atomic_at (rootfd, STATEDIR_HOLDER_TEMPLATE, buf, strlen (buf), 0600, &e), 0);
  assert_int_equal (sandbox_template_open (rootfd), -1);
  snprintf (buf, sizeof (buf), "%d %llu\n", (int)getpid (), start + 1);
  assert_int_equal (
      write_file_atomic_at (rootfd, STATEDIR_HOLDER_TEMPLATE, buf, strlen (buf), 0600, &e), 0);
  assert_int_equal (sandbox_template_open (rootfd), -1);
  assert_int_equal (write_file_atomic_at (rootfd, STATEDIR_HOLDER_TEMPLATE, "x\n", 2, 0600, &e), 0);
  assert_int_equal (sandbox_template_open (rootfd), -1);
  assert_int_equal (unlinkat (rootfd, STATEDIR_HOLDER_TEMPLATE, 0), 0);
  close (rootfd);
  assert_int_equal (rmdir (dir), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_mounts),
    cmocka_unit_test (test_parse),
    cmocka_unit_test (test_open_refuses),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

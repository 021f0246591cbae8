/* lib/stateformat: the versions of one-value state files, the refusal of a
 * newer one, the path it names. */
#include "config.h"
#include "testutil.h"

#include "stateformat.h"

static void
assert_text_version_1 (const char *text)
{
  struct podshim_error *err = NULL;
  if (state_format_text (text, strlen (text), 1, &err) != 0)
    fail_msg ("`%s` refused: %s", text, err ? err->msg : "?");
  assert_null (err);
}

static void
assert_text_newer (const char *text, const char *needle)
{
  struct podshim_error *err = NULL;
  if (state_format_text (text, strlen (text), 1, &err) == 0)
    fail_msg ("`%s` taken for version 1", text);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_error_contains (&err, needle);
}

static void
test_text (void **state)
{
  (void)state;
  /* What 0.1.0 wrote (and this podshim writes): the bare value. */
  assert_text_version_1 ("web");
  assert_text_version_1 ("compose:shop:web");
  assert_text_version_1 ("/var/lib/podshim/0123456789abcdef/web");
  assert_text_version_1 ("1234 987654321\n");
  assert_text_version_1 ("");
  /* A JSON object of version 1 or none, or no JSON at all: the caller's
     value to judge (it is no valid value of any file). */
  assert_text_version_1 ("{\"version\":1,\"pod\":\"web\"}");
  assert_text_version_1 ("{\"pod\":\"web\"}");
  assert_text_version_1 ("{\"version\":\"2\"}");
  assert_text_version_1 ("{\"version\":-2}");
  assert_text_version_1 ("{\"version\":2.5}");
  assert_text_version_1 ("{\"version\":2");
  assert_text_version_1 ("[2]");
  /* A later format. */
  assert_text_newer ("{\"version\":2,\"pod\":\"web\"}", "format version 2, newer than 1");
  assert_text_newer ("{\"version\":2}\n", "docs/upgrades.md");
  assert_text_newer ("{\"version\":18446744073709551615}", "format version 18446744073709551615");
  assert_text_newer ("{\"version\":99999999999999999999999}",
                     "format version 18446744073709551615");
  /* Newest 2 reads 2. */
  struct podshim_error *err = NULL;
  assert_int_equal (state_format_text ("{\"version\":2}", 13, 2, &err), 0);
  assert_int_equal (state_format_text ("{\"version\":3}", 13, 2, &err), -1);
  assert_error_contains (&err, "format version 3, newer than 2, the newest this podshim reads");
}

static void
test_newer_and_path (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  assert_int_equal (state_format_newer (7, 1, &err), -1);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  /* No strerror appended: the code is no errno. */
  assert_null (strstr (err->msg, "Unknown error"));
  char *dir = t_mkdtemp ();
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (dfd >= 0);
  assert_int_equal (state_format_wrap_path (&err, dfd, "pod.json"), -1);
  char *want = t_printf ("`%s/pod.json`: format version 7, newer than 1", dir);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_error_contains (&err, want);
  free (want);
  /* An fd that is none: the name alone. */
  assert_int_equal (state_format_newer (2, 1, &err), -1);
  assert_int_equal (state_format_wrap_path (&err, -1, "data"), -1);
  assert_error_contains (&err, "`data`: format version 2");
  close (dfd);
  t_rmtree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_text),
    cmocka_unit_test (test_newer_and_path),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

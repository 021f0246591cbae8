/* Log lines in logrus' json and text forms, and the --log file. */
#include "config.h"
#include "testutil.h"

#include "log.h"

static const struct timespec ts = { .tv_sec = 1700000000, .tv_nsec = 123456789 };

static void
assert_line (bool json, enum podshim_log_level level, const char *msg, const struct timespec *t,
             const char *expected)
{
  char *line = podshim_log_format_line (json, level, msg, t);
  assert_non_null (line);
  assert_string_equal (line, expected);
  free (line);
}

static void
test_json_lines (void **state)
{
  (void)state;
  assert_line (true, PODSHIM_LOG_ERROR, "podshim: boom", &ts,
               "{\"level\":\"error\",\"msg\":\"podshim: "
               "boom\",\"time\":\"2023-11-14T22:13:20.123456789Z\"}\n");
  assert_line (
      true, PODSHIM_LOG_WARNING, "w", &ts,
      "{\"level\":\"warning\",\"msg\":\"w\",\"time\":\"2023-11-14T22:13:20.123456789Z\"}\n");
  assert_line (true, PODSHIM_LOG_INFO, "", &ts,
               "{\"level\":\"info\",\"msg\":\"\",\"time\":\"2023-11-14T22:13:20.123456789Z\"}\n");
  const struct timespec t0 = { .tv_sec = 0, .tv_nsec = 5 };
  assert_line (true, PODSHIM_LOG_DEBUG, "d", &t0,
               "{\"level\":\"debug\",\"msg\":\"d\",\"time\":\"1970-01-01T00:00:00.000000005Z\"}\n");
}

static void
test_json_escaping (void **state)
{
  (void)state;
  const char *msg = "say \"hi\"\nback\\slash\ttab\rcr\x01\x1f\x7f caf\xc3\xa9 /";
  char *line = podshim_log_format_line (true, PODSHIM_LOG_ERROR, msg, &ts);
  assert_non_null (line);
  assert_string_equal (line,
                       "{\"level\":\"error\",\"msg\":\"say \\\"hi\\\"\\nback\\\\slash\\ttab\\rcr"
                       "\\u0001\\u001f\\u007f caf\xc3\xa9 /\",\"time\":"
                       "\"2023-11-14T22:13:20.123456789Z\"}\n");
  /* One line, and valid JSON giving the message back. */
  assert_ptr_equal (strchr (line, '\n'), line + strlen (line) - 1);
  yajl_val v = t_parse (line);
  assert_string_equal (json_get_string (v, "msg"), msg);
  assert_string_equal (json_get_string (v, "level"), "error");
  yajl_tree_free (v);
  free (line);
}

static void
test_text_lines (void **state)
{
  (void)state;
  assert_line (false, PODSHIM_LOG_ERROR, "podshim: invalid pod name `a/b`", &ts,
               "time=\"2023-11-14T22:13:20.123456789Z\" level=error msg=\"podshim: invalid pod name"
               " `a/b`\"\n");
  assert_line (false, PODSHIM_LOG_WARNING, "x", &ts,
               "time=\"2023-11-14T22:13:20.123456789Z\" level=warning msg=\"x\"\n");
  assert_line (false, PODSHIM_LOG_INFO, "quote \" nl \n ctl \x02", &ts,
               "time=\"2023-11-14T22:13:20.123456789Z\" level=info msg=\"quote \\\" nl \\n ctl "
               "\\u0002\"\n");
}

static void
test_log_file (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  char *path = t_printf ("%s/log.json", dir);
  t_write (path, "{\"level\":\"info\",\"msg\":\"runc was here\"}\n");

  podshim_log_init (path, true, false);
  assert_false (podshim_log_debug_enabled ());
  podshim_log (PODSHIM_LOG_ERROR, "first %d %s", 1, "one");
  podshim_log (PODSHIM_LOG_DEBUG, "suppressed");
  podshim_log (PODSHIM_LOG_WARNING, "second\nline");

  char *content = t_read (path, NULL);
  assert_non_null (content);
  /* The delegate's line is kept; ours are appended, one line each. */
  const char *lines[3];
  char *save = NULL;
  int n = 0;
  for (char *l = strtok_r (content, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    {
      assert_true (n < 3);
      lines[n++] = l;
    }
  assert_int_equal (n, 3);
  assert_string_equal (lines[0], "{\"level\":\"info\",\"msg\":\"runc was here\"}");
  yajl_val v = t_parse (lines[1]);
  assert_string_equal (json_get_string (v, "level"), "error");
  assert_string_equal (json_get_string (v, "msg"), "first 1 one");
  assert_non_null (json_get_string (v, "time"));
  yajl_tree_free (v);
  v = t_parse (lines[2]);
  assert_string_equal (json_get_string (v, "level"), "warning");
  assert_string_equal (json_get_string (v, "msg"), "second\nline");
  yajl_tree_free (v);
  free (content);

  /* Text format, with debug enabled. */
  char *tpath = t_printf ("%s/log.txt", dir);
  podshim_log_init (tpath, false, true);
  assert_true (podshim_log_debug_enabled ());
  podshim_log (PODSHIM_LOG_DEBUG, "dbg %s", "on");
  podshim_log (PODSHIM_LOG_INFO, "info");
  content = t_read (tpath, NULL);
  assert_non_null (content);
  assert_int_equal (strncmp (content, "time=\"", 6), 0);
  assert_non_null (strstr (content, "\" level=debug msg=\"dbg on\"\ntime=\""));
  assert_non_null (strstr (content, "\" level=info msg=\"info\"\n"));
  size_t nl = 0;
  for (char *p = content; *p; p++)
    nl += *p == '\n';
  assert_int_equal (nl, 2);
  assert_int_equal (content[strlen (content) - 1], '\n');
  free (content);

  /* No log file: nothing happens. */
  podshim_log_init (NULL, true, true);
  podshim_log (PODSHIM_LOG_ERROR, "nowhere");
  /* An unwritable path is ignored, not fatal. */
  char *bad = t_printf ("%s/missing/dir/log", dir);
  podshim_log_init (bad, true, false);
  podshim_log (PODSHIM_LOG_ERROR, "lost");
  podshim_log_init (NULL, false, false);

  free (bad);
  free (tpath);
  t_rmtree (dir);
  free (path);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_json_lines),
    cmocka_unit_test (test_json_escaping),
    cmocka_unit_test (test_text_lines),
    cmocka_unit_test (test_log_file),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

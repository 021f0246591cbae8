/* lib/idmap: user namespace mappings read from JSON, checked as the kernel
 * and runc take them, compared in any order, written as uid_map text; and a
 * pod state's `userns` round trip. */
#include "config.h"
#include "testutil.h"

#include "idmap.h"
#include "pod.h"

static int
parse (const char *json, struct idmap *m, struct podshim_error **err)
{
  yajl_val v = NULL;
  struct podshim_error *pe = NULL;
  if (json_parse (json, strlen (json), "test", &v, &pe) < 0)
    fail_msg ("bad test JSON: %s", pe->msg);
  int r = idmap_from_json (v, "m", m, err);
  yajl_tree_free (v);
  return r;
}

/* The error of checking json (NULL: accepted), owned. */
static char *
check_error (const char *json)
{
  static struct idmap m;
  struct podshim_error *err = NULL;
  if (parse (json, &m, &err) == 0 && idmap_check (&m, "m", &err) == 0)
    return NULL;
  assert_non_null (err);
  char *r = t_strdup (err->msg);
  podshim_error_free (err);
  return r;
}

static void
expect_refused (const char *json, const char *text)
{
  char *e = check_error (json);
  if (e == NULL)
    fail_msg ("accepted: %s", json);
  if (strstr (e, text) == NULL)
    fail_msg ("`%s`: error `%s` lacks `%s`", json, e, text);
  free (e);
}

static void
test_check (void **state)
{
  (void)state;
  assert_null (check_error ("[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]"));
  assert_null (check_error ("[{\"containerID\":1,\"hostID\":5,\"size\":4},"
                            "{\"containerID\":0,\"hostID\":4294967293,\"size\":1}]"));
  expect_refused ("[]", "maps nothing");
  expect_refused ("null", "maps nothing");
  expect_refused ("{}", "not an array");
  expect_refused ("[{\"containerID\":0,\"hostID\":1,\"size\":0}]", "size of 0");
  expect_refused ("[{\"containerID\":0,\"hostID\":4294967290,\"size\":6}]", "past the last ID");
  expect_refused ("[{\"containerID\":4294967290,\"hostID\":1,\"size\":6}]", "past the last ID");
  expect_refused ("[{\"containerID\":0,\"hostID\":10,\"size\":10},"
                  "{\"containerID\":5,\"hostID\":100,\"size\":1}]",
                  "the same container IDs");
  expect_refused ("[{\"containerID\":0,\"hostID\":10,\"size\":10},"
                  "{\"containerID\":50,\"hostID\":19,\"size\":1}]",
                  "the same host IDs");
  expect_refused ("[{\"containerID\":1,\"hostID\":10,\"size\":10}]", "no ID 0");
  expect_refused ("[{\"containerID\":0,\"hostID\":-1,\"size\":1}]", "numbers from 0");
  expect_refused ("[{\"containerID\":0,\"hostID\":4294967296,\"size\":1}]", "numbers from 0");
  expect_refused ("[{\"containerID\":0,\"hostID\":1.5,\"size\":1}]", "numbers from 0");
  expect_refused ("[{\"containerID\":0,\"size\":1}]", "numbers from 0");
  expect_refused ("[1]", "numbers from 0");
  /* 341 ranges: more than the kernel takes; 340 of long numbers: more text
     than one write. */
  char *big = malloc (341 * 80 + 4);
  assert_non_null (big);
  for (int n = 341, pass = 0; pass < 2; pass++, n = 340)
    {
      size_t off = 0;
      big[off++] = '[';
      for (int i = 0; i < n; i++)
        off += (size_t)sprintf (big + off, "%s{\"containerID\":%d,\"hostID\":%u,\"size\":1}",
                                i ? "," : "", i == 0 ? 0 : 1000000000 + i, 3000000000u + i);
      big[off++] = ']';
      big[off] = '\0';
      expect_refused (big, pass == 0 ? "at most 340" : "one write");
    }
  free (big);
}

static void
test_equal_outer_format (void **state)
{
  (void)state;
  struct idmap a, b;
  struct podshim_error *err = NULL;
  assert_no_error (parse ("[{\"containerID\":0,\"hostID\":100,\"size\":10},"
                          "{\"containerID\":10,\"hostID\":500,\"size\":5}]",
                          &a, &err),
                   err);
  assert_no_error (parse ("[{\"containerID\":10,\"hostID\":500,\"size\":5},"
                          "{\"containerID\":0,\"hostID\":100,\"size\":10}]",
                          &b, &err),
                   err);
  assert_true (idmap_equal (&a, &b));
  b.r[0].count = 6;
  assert_false (idmap_equal (&a, &b));
  b.n = 1;
  assert_false (idmap_equal (&a, &b));
  assert_int_equal (idmap_outer (&a, 0), 100);
  assert_int_equal (idmap_outer (&a, 9), 109);
  assert_int_equal (idmap_outer (&a, 12), 502);
  assert_int_equal (idmap_outer (&a, 15), -1);
  char buf[IDMAP_TEXT_MAX];
  assert_int_equal (idmap_format (&a, buf, sizeof (buf)), 18);
  assert_string_equal (buf, "0 100 10\n10 500 5\n");
  assert_int_equal (idmap_format (&a, buf, 10), -1);
  char *d = idmap_describe (&a);
  assert_string_equal (d, "0:100:10,10:500:5");
  free (d);
  struct pod_userns u = { .on = true, .uid = a, .gid = a };
  unsigned uid = 1, gid = 1;
  assert_true (pod_userns_root (&u, &uid, &gid));
  assert_int_equal (uid, 100);
  assert_int_equal (gid, 100);
  u.on = false;
  assert_false (pod_userns_root (&u, &uid, &gid));
}

static void
test_pod_state_userns (void **state)
{
  (void)state;
  const char *in = "{\"version\":1,\"name\":\"u\",\"userns\":{\"uidMappings\":[{\"containerID\":0,"
                   "\"hostID\":100000,\"size\":65536}],\"gidMappings\":[{\"containerID\":0,"
                   "\"hostID\":200000,\"size\":65536}],\"future\":1}}";
  struct pod_state p = { 0 };
  struct podshim_error *err = NULL;
  assert_no_error (pod_state_parse (in, strlen (in), &p, &err), err);
  assert_true (p.userns.on);
  assert_int_equal (idmap_outer (&p.userns.gid, 0), 200000);
  char *out = NULL;
  size_t len;
  assert_no_error (pod_state_emit (&p, &out, &len, &err), err);
  assert_non_null (strstr (out, "\"hostID\":200000"));
  pod_state_done (&p);
  free (out);
  static const char *const bad[] = {
    "{\"version\":1,\"name\":\"u\",\"userns\":[]}",
    "{\"version\":1,\"name\":\"u\",\"userns\":{}}",
    "{\"version\":1,\"name\":\"u\",\"userns\":{\"uidMappings\":[{\"containerID\":0,"
    "\"hostID\":1,\"size\":1}]}}",
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      assert_int_equal (pod_state_parse (bad[i], strlen (bad[i]), &p, &err), -1);
      assert_non_null (err);
      assert_non_null (strstr (err->msg, "userns"));
      podshim_error_free (err);
      err = NULL;
    }
  /* No userns: none emitted. */
  const char *plain = "{\"version\":1,\"name\":\"p\"}";
  assert_no_error (pod_state_parse (plain, strlen (plain), &p, &err), err);
  assert_false (p.userns.on);
  assert_no_error (pod_state_emit (&p, &out, &len, &err), err);
  assert_null (strstr (out, "userns"));
  pod_state_done (&p);
  free (out);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_check),
    cmocka_unit_test (test_equal_outer_format),
    cmocka_unit_test (test_pod_state_userns),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

/* pod.json parse/emit, members, names, namespace lists and the pod lock. */
#include "config.h"
#include "testutil.h"

#include "pod.h"
#include "stateformat.h"

static const char full_state[]
    = "{\"version\":1,\"name\":\"web\",\"root\":\"/run/"
      "runc\",\"pinned\":[\"net\",\"ipc\",\"uts\",\"pid\"],"
      "\"pause\":{\"pid\":123,\"start\":18446744073709551,\"x-pause\":true},"
      "\"network_owner\":\"c1\",\"members\":["
      "{\"id\":\"c1\",\"pid\":10,\"start\":20,\"creating\":false,\"share\":[\"net\",\"ipc\"],"
      "\"future\":{\"a\":[1,2.50]}},"
      "{\"z-first\":\"y\",\"id\":\"c2\",\"pid\":0,\"start\":0,\"creating\":true,"
      "\"share\":[\"pid\",\"cgroup\",\"net\"]}],"
      "\"futureTop\":{\"k\":\"v\",\"n\":18446744073709551615}}";

static struct pod_state
parse_ok (const char *text)
{
  struct pod_state p = { 0 };
  struct podshim_error *err = NULL;
  int r = pod_state_parse (text, strlen (text), &p, &err);
  assert_no_error (r, err);
  return p;
}

static char *
emit_ok (const struct pod_state *p)
{
  struct podshim_error *err = NULL;
  char *out = NULL;
  size_t len = 0;
  int r = pod_state_emit (p, &out, &len, &err);
  assert_no_error (r, err);
  assert_int_equal (strlen (out), len);
  return out;
}

static void
test_state_parse (void **state)
{
  (void)state;
  struct pod_state p = parse_ok (full_state);
  assert_string_equal (p.name, "web");
  assert_string_equal (p.root, "/run/runc");
  assert_int_equal (p.pinned, POD_NS_NET | POD_NS_IPC | POD_NS_UTS | POD_NS_PID);
  assert_int_equal (p.pause_pid, 123);
  assert_int_equal (p.pause_start, 18446744073709551ULL);
  assert_string_equal (p.network_owner, "c1");
  assert_int_equal (p.n_members, 2);
  assert_string_equal (p.members[0].id, "c1");
  assert_int_equal (p.members[0].pid, 10);
  assert_int_equal (p.members[0].start, 20);
  assert_false (p.members[0].creating);
  assert_int_equal (p.members[0].share, POD_NS_NET | POD_NS_IPC);
  assert_string_equal (p.members[1].id, "c2");
  assert_true (p.members[1].creating);
  /* a namespace a newer version knows is ignored */
  assert_int_equal (p.members[1].share, POD_NS_NET | POD_NS_PID);
  pod_state_done (&p);
  assert_null (p.name);
  pod_state_done (NULL);
}

static void
test_state_roundtrip_keeps_unknown (void **state)
{
  (void)state;
  struct pod_state p = parse_ok (full_state);
  char *out = emit_ok (&p);
  /* Known fields rewritten in place, unknown ones (top level, pause, members) kept. */
  assert_string_equal (
      out, "{\"version\":1,\"name\":\"web\",\"root\":\"/run/"
           "runc\",\"pinned\":[\"net\",\"ipc\",\"uts\",\"pid\"],"
           "\"pause\":{\"pid\":123,\"start\":18446744073709551,\"x-pause\":true},"
           "\"network_owner\":\"c1\",\"members\":["
           "{\"id\":\"c1\",\"pid\":10,\"start\":20,\"creating\":false,\"share\":[\"net\",\"ipc\"],"
           "\"future\":{\"a\":[1,2.50]}},"
           "{\"z-first\":\"y\",\"id\":\"c2\",\"pid\":0,\"start\":0,\"creating\":true,"
           "\"share\":[\"net\",\"pid\"]}],"
           "\"futureTop\":{\"k\":\"v\",\"n\":18446744073709551615}}");
  /* and a second round is stable */
  struct pod_state q = parse_ok (out);
  char *out2 = emit_ok (&q);
  assert_string_equal (out2, out);
  free (out2);
  pod_state_done (&q);
  free (out);

  /* Edits show up; removed things go. */
  p.members[0].creating = true;
  p.members[0].pid = 99;
  p.members[0].start = 18446744073709551615ULL;
  p.pause_pid = 0;
  free (p.network_owner);
  p.network_owner = NULL;
  pod_state_remove (&p, "c2");
  struct pod_member *m = pod_state_add (&p, "c3");
  m->share = POD_NS_UTS;
  out = emit_ok (&p);
  assert_string_equal (
      out, "{\"version\":1,\"name\":\"web\",\"root\":\"/run/"
           "runc\",\"pinned\":[\"net\",\"ipc\",\"uts\",\"pid\"],"
           "\"members\":["
           "{\"id\":\"c1\",\"pid\":99,\"start\":18446744073709551615,\"creating\":true,"
           "\"share\":[\"net\",\"ipc\"],\"future\":{\"a\":[1,2.50]}},"
           "{\"id\":\"c3\",\"pid\":0,\"start\":0,\"creating\":false,\"share\":[\"uts\"]}],"
           "\"futureTop\":{\"k\":\"v\",\"n\":18446744073709551615}}");
  /* what is written reads back, a start time beyond long long included */
  struct pod_state back = parse_ok (out);
  assert_int_equal (back.members[0].start, 18446744073709551615ULL);
  assert_true (back.members[0].creating);
  pod_state_done (&back);
  free (out);
  pod_state_done (&p);
}

static void
test_state_holder (void **state)
{
  (void)state;
  struct pod_state p = parse_ok ("{\"version\":1,\"name\":\"a\",\"pinned\":[],"
                                 "\"holder\":{\"pid\":9,\"start\":18446744073709551615,\"x\":1}}");
  assert_int_equal (p.holder_pid, 9);
  assert_int_equal (p.holder_start, 18446744073709551615ULL);
  assert_int_equal (p.pause_pid, 0);
  p.holder_start = 11;
  char *out = emit_ok (&p);
  /* Unknown fields of the holder object survive. */
  assert_string_equal (out, "{\"version\":1,\"name\":\"a\",\"pinned\":[],"
                            "\"holder\":{\"pid\":9,\"start\":11,\"x\":1},\"members\":[]}");
  free (out);
  p.holder_pid = 0;
  out = emit_ok (&p);
  assert_string_equal (out, "{\"version\":1,\"name\":\"a\",\"pinned\":[],\"members\":[]}");
  free (out);
  pod_state_done (&p);

  struct podshim_error *err = NULL;
  static const char bad[] = "{\"version\":1,\"name\":\"a\",\"holder\":{\"pid\":-1}}";
  assert_true (pod_state_parse (bad, strlen (bad), &p, &err) < 0);
  assert_non_null (strstr (err->msg, "holder"));
  podshim_error_free (err);
}

static void
test_state_from_scratch (void **state)
{
  (void)state;
  struct pod_state p = { 0 };
  p.name = t_strdup ("db");
  p.pinned = POD_NS_DEFAULT;
  p.pause_pid = 7;
  p.pause_start = 8;
  pod_state_add (&p, "x")->pid = 5;
  char *out = emit_ok (&p);
  assert_string_equal (out,
                       "{\"version\":1,\"name\":\"db\",\"pinned\":[\"net\",\"ipc\",\"uts\"],"
                       "\"pause\":{\"pid\":7,\"start\":8},\"members\":[{\"id\":\"x\",\"pid\":5,"
                       "\"start\":0,\"creating\":false,\"share\":[]}]}");
  struct pod_state q = parse_ok (out);
  assert_null (q.root);
  assert_int_equal (q.pause_pid, 7);
  assert_int_equal (q.members[0].pid, 5);
  pod_state_done (&q);
  free (out);
  pod_state_done (&p);

  /* Minimal valid state */
  q = parse_ok ("{\"version\":1,\"name\":\"a\"}");
  assert_int_equal (q.n_members, 0);
  assert_int_equal (q.pinned, 0);
  assert_int_equal (q.pause_pid, 0);
  pod_state_done (&q);
}

static void
assert_state_error (const char *text, const char *needle)
{
  struct pod_state p = { 0 };
  struct podshim_error *err = NULL;
  if (pod_state_parse (text, strlen (text), &p, &err) == 0)
    fail_msg ("`%s` parsed", text);
  assert_null (p.name); /* untouched */
  assert_null (p.members);
  assert_error_contains (&err, needle);
}

static void
test_state_errors (void **state)
{
  (void)state;
  assert_state_error ("", "invalid pod state");
  assert_state_error ("{\"version\":1,", "invalid pod state");
  assert_state_error ("[]", "invalid pod state: not a JSON object");
  assert_state_error ("{\"name\":\"a\"}", "bad `version`");
  assert_state_error ("{\"version\":0,\"name\":\"a\"}", "bad `version`");
  assert_state_error ("{\"version\":-1,\"name\":\"a\"}", "bad `version`");
  assert_state_error ("{\"version\":\"1\",\"name\":\"a\"}", "bad `version`");
  assert_state_error ("{\"version\":1.5,\"name\":\"a\"}", "bad `version`");
  assert_state_error ("{\"version\":99999999999999999999,\"name\":\"a\"}", "bad `version`");
  /* A newer podshim's: refused as such, not as damaged. */
  assert_state_error ("{\"version\":2,\"name\":\"a\"}", "format version 2, newer than 1");
  assert_state_error ("{\"version\":1000001,\"members\":7}", "format version 1000001");
  assert_state_error ("{\"version\":1}", "bad `name`");
  assert_state_error ("{\"version\":1,\"name\":\"\"}", "bad `name`");
  assert_state_error ("{\"version\":1,\"name\":\"../x\"}", "bad `name`");
  assert_state_error ("{\"version\":1,\"name\":\".x\"}", "bad `name`");
  assert_state_error ("{\"version\":1,\"name\":7}", "bad `name`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"pinned\":\"net\"}", "bad `pinned`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"pinned\":[1]}", "bad `pinned`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"pause\":{\"pid\":-2}}", "bad `pause`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"pause\":{\"pid\":2147483648}}",
                      "bad `pause`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":{}}", "`members` is not an array");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{}]}", "member 0 has a bad `id`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"ok\"},\"x\"]}",
                      "member 1 has a bad `id`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"../../etc\"}]}",
                      "member 0 has a bad `id`");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"c\",\"pid\":\"1\"}]}",
                      "member `c` has a bad pid");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"c\",\"start\":-1}]}",
                      "member `c` has a bad pid");
  assert_state_error (
      "{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"c\",\"start\":18446744073709551616}]}",
      "member `c` has a bad pid");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"c\",\"pid\":1e3}]}",
                      "member `c` has a bad pid");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"c\",\"pid\":-0}]}",
                      "member `c` has a bad pid");
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"members\":[{\"id\":\"c\",\"share\":{}}]}",
                      "member `c` has a bad `share`");
  /* a later duplicate is what counts, as for every reader */
  assert_state_error ("{\"version\":1,\"name\":\"a\",\"name\":\"b/c\"}", "bad `name`");
}

static void
test_members (void **state)
{
  (void)state;
  struct pod_state p = { 0 };
  p.name = t_strdup ("p");
  assert_null (pod_state_find (&p, "a"));
  pod_state_add (&p, "a");
  pod_state_add (&p, "b");
  struct pod_member *c = pod_state_add (&p, "c");
  assert_string_equal (c->id, "c");
  assert_int_equal (c->pid, 0);
  assert_false (c->creating);
  assert_null (c->raw);
  assert_int_equal (p.n_members, 3);
  struct pod_member *b = pod_state_find (&p, "b");
  assert_non_null (b);
  assert_string_equal (b->id, "b");
  assert_ptr_equal (b, &p.members[1]);
  pod_state_remove (&p, "b");
  assert_int_equal (p.n_members, 2);
  assert_null (pod_state_find (&p, "b"));
  assert_string_equal (p.members[0].id, "a");
  assert_string_equal (p.members[1].id, "c");
  pod_state_remove (&p, "missing");
  assert_int_equal (p.n_members, 2);
  pod_state_remove (&p, "a");
  pod_state_remove (&p, "c");
  assert_int_equal (p.n_members, 0);
  pod_state_add (&p, "d");
  assert_non_null (pod_state_find (&p, "d"));
  pod_state_done (&p);
}

static void
test_names (void **state)
{
  (void)state;
  char id255[256], id256[257];
  memset (id255, 'a', 255);
  id255[255] = '\0';
  memset (id256, 'a', 256);
  id256[256] = '\0';
  assert_true (container_id_valid ("abc"));
  assert_true (container_id_valid ("a.b_c-d+E9"));
  assert_true (container_id_valid ("..."));
  assert_true (container_id_valid (".hidden"));
  assert_true (container_id_valid (id255));
  assert_false (container_id_valid (id256)); /* a file name */
  assert_false (container_id_valid (""));
  assert_false (container_id_valid ("."));
  assert_false (container_id_valid (".."));
  assert_false (container_id_valid ("a/b"));
  assert_false (container_id_valid ("a b"));
  assert_false (container_id_valid ("caf\xc3\xa9"));
  assert_false (container_id_valid ("a\nb"));

  assert_true (pod_name_valid ("web"));
  assert_true (pod_name_valid ("a.b-c_D9"));
  assert_false (pod_name_valid ("a+b"));
  assert_false (pod_name_valid (".x"));
  assert_false (pod_name_valid (""));

  /* Keys: NAME, or SCOPE:NAME; scope and name come back apart. */
  char *k = pod_key ("compose:shop", "web");
  assert_string_equal (k, "compose:shop:web");
  char *sc = NULL, *nm = NULL;
  assert_int_equal (pod_key_parse (k, &sc, &nm), 0);
  assert_string_equal (sc, "compose:shop");
  assert_string_equal (nm, "web");
  free (sc);
  free (nm);
  free (k);
  k = pod_key (NULL, "web");
  assert_string_equal (k, "web");
  assert_int_equal (pod_key_parse (k, &sc, &nm), 0);
  assert_null (sc);
  assert_string_equal (nm, "web");
  free (nm);
  free (k);
  assert_true (pod_key_valid ("stack:st.1:web-1"));
  assert_false (pod_key_valid ("other:x:web"));
  assert_false (pod_key_valid ("compose::web"));
  assert_false (pod_key_valid ("compose:x:"));
  assert_false (pod_key_valid ("compose:x"));
  assert_false (pod_key_valid ("compose:a:b:web"));
  assert_false (pod_key_valid ("compose:.x:web"));
  assert_false (pod_key_valid ("compose:x/y:web"));
  assert_false (pod_key_valid ("web.lock/x"));
  assert_true (pod_scope_valid ("compose:a"));
  assert_false (pod_scope_valid ("compose"));
  assert_false (pod_scope_valid ("Compose:a"));
}

static void
test_ns_lists (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  unsigned m = 0;
  assert_int_equal (pod_ns_parse_list ("net", &m, &err), 0);
  assert_int_equal (m, POD_NS_NET);
  assert_int_equal (pod_ns_parse_list ("pid,uts,ipc,net", &m, &err), 0);
  assert_int_equal (m, POD_NS_NET | POD_NS_IPC | POD_NS_UTS | POD_NS_PID);
  assert_int_equal (pod_ns_parse_list (" net , pid ", &m, &err), 0);
  assert_int_equal (m, POD_NS_NET | POD_NS_PID);
  assert_int_equal (pod_ns_parse_list ("ipc,ipc", &m, &err), 0);
  assert_int_equal (m, POD_NS_IPC);
  assert_null (err);

  m = 12345;
  assert_true (pod_ns_parse_list ("net,bogus", &m, &err) < 0);
  assert_int_equal (m, 12345); /* untouched on failure */
  assert_error_contains (&err, "unknown namespace `bogus` in `net,bogus`");
  assert_true (pod_ns_parse_list ("", &m, &err) < 0);
  assert_error_contains (&err, "unknown namespace ``");
  assert_true (pod_ns_parse_list ("net,,ipc", &m, &err) < 0);
  assert_error_contains (&err, "unknown namespace ``");
  assert_true (pod_ns_parse_list ("net,", &m, &err) < 0);
  assert_error_contains (&err, "unknown namespace ``");
  assert_true (pod_ns_parse_list ("NET", &m, &err) < 0);
  assert_error_contains (&err, "`NET`");
  assert_true (pod_ns_parse_list ("network", &m, &err) < 0);
  assert_error_contains (&err, "(expected net, ipc, uts, pid)");
  assert_true (pod_ns_parse_list ("net;ipc", &m, &err) < 0);
  assert_error_contains (&err, "`net;ipc`");

  assert_string_equal (pod_ns_name (POD_NS_NET), "net");
  assert_string_equal (pod_ns_oci_type (POD_NS_NET), "network");
  assert_string_equal (pod_ns_oci_type (POD_NS_PID), "pid");
  assert_null (pod_ns_name (1u << 7));
  assert_null (pod_ns_oci_type (0));
}

static void
test_state_load_save (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (dfd >= 0);
  struct podshim_error *err = NULL;
  struct pod_state p = { 0 };
  assert_int_equal (pod_state_load (dfd, "web", &p, &err), -ENOENT);
  assert_true (podshim_error_is (err, ENOENT));
  assert_error_contains (&err, "pod `web`");

  p = parse_ok (full_state);
  assert_int_equal (pod_state_save (dfd, &p, &err), 0);
  struct stat st;
  assert_int_equal (fstatat (dfd, "pod.json", &st, 0), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  struct pod_state q = { 0 };
  assert_int_equal (pod_state_load (dfd, "web", &q, &err), 0);
  char *a = emit_ok (&p), *b = emit_ok (&q);
  assert_string_equal (a, b);
  free (a);
  free (b);
  pod_state_done (&q);
  pod_state_done (&p);

  char *path = t_printf ("%s/pod.json", dir);
  t_write (path, "{\"version\":1,\"name\":\"web\",\"members\":[{\"id\":\"a/b\"}]}");
  assert_true (pod_state_load (dfd, "web", &q, &err) < 0);
  assert_error_contains (&err, "pod `web`: corrupted state file pod.json");
  t_write (path, "{trunc");
  assert_true (pod_state_load (dfd, "web", &q, &err) < 0);
  assert_error_contains (&err, "corrupted state file pod.json");
  /* A newer podshim's: the file, its version and the newest read named;
     never called corrupted. */
  t_write (path, "{\"version\":2,\"name\":\"web\",\"members\":[{\"id\":\"c1\"}]}");
  assert_true (pod_state_load (dfd, "web", &q, &err) < 0);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_null (strstr (err->msg, "corrupted"));
  char *want = t_printf ("pod `web`: `%s`: format version 2, newer than 1", path);
  assert_error_contains (&err, want);
  free (want);
  assert_null (q.name);
  /* pod.json as a symlink is not followed */
  unlink (path);
  char *elsewhere = t_printf ("%s/elsewhere.json", dir);
  t_write (elsewhere, "{\"version\":1,\"name\":\"web\"}");
  assert_int_equal (symlink (elsewhere, path), 0);
  assert_true (pod_state_load (dfd, "web", &q, &err) < 0);
  assert_error_contains (&err, "pod `web`");
  free (elsewhere);
  free (path);
  close (dfd);
  t_rmtree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_state_parse),
    cmocka_unit_test (test_state_roundtrip_keeps_unknown),
    cmocka_unit_test (test_state_from_scratch),
    cmocka_unit_test (test_state_holder),
    cmocka_unit_test (test_state_errors),
    cmocka_unit_test (test_members),
    cmocka_unit_test (test_names),
    cmocka_unit_test (test_ns_lists),
    cmocka_unit_test (test_state_load_save),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

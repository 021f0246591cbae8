/* runtime/install: daemon.json's transformation by `podshim install docker`
 * and `uninstall docker`, and the memory kept beside the file. */
#include "config.h"
#include "testutil.h"

#include "install.h"

#define EXE "/usr/sbin/podshim"

static yajl_val
parse (const char *text)
{
  yajl_val doc = NULL;
  struct podshim_error *err = NULL;
  assert_int_equal (install_docker_parse (text, strlen (text), "daemon.json", &doc, &err), 0);
  return doc;
}

/* doc as the file install writes (owned). */
static char *
emit (yajl_val doc)
{
  char *out = NULL;
  size_t len;
  struct podshim_error *err = NULL;
  assert_int_equal (json_emit_pretty (doc, &out, &len, &err), 0);
  return out;
}

/* doc compact (owned), for short comparisons. */
static char *
compact (yajl_val doc)
{
  char *out = NULL;
  size_t len;
  struct podshim_error *err = NULL;
  assert_int_equal (json_emit (doc, &out, &len, &err), 0);
  return out;
}

static void
apply (yajl_val doc, bool set_default, const struct install_memory *old,
       struct install_memory *ret_mem, struct install_changes *ch)
{
  struct podshim_error *err = NULL;
  assert_int_equal (install_docker_apply (doc, EXE, set_default, old, ret_mem, ch, &err), 0);
}

static void
revert (yajl_val doc, const struct install_memory *mem, struct install_changes *ch)
{
  struct podshim_error *err = NULL;
  assert_int_equal (install_docker_revert (doc, mem, ch, &err), 0);
}

/* An empty (or missing) daemon.json gets runtimes.podshim and, with
 * --default, default-runtime; uninstall gives `{}` back. */
static void
test_empty_file (void **state)
{
  yajl_val doc = parse (" \n");
  struct install_memory m;
  struct install_changes ch;
  apply (doc, true, NULL, &m, &ch);
  char *out = emit (doc);
  assert_string_equal (out, "{\n"
                            "  \"runtimes\": {\n"
                            "    \"podshim\": {\n"
                            "      \"path\": \"" EXE "\"\n"
                            "    }\n"
                            "  },\n"
                            "  \"default-runtime\": \"podshim\"\n"
                            "}\n");
  free (out);
  assert_int_equal (ch.n, 2);
  assert_string_equal (ch.c[0].key, "runtimes");
  assert_null (ch.c[0].before);
  assert_string_equal (ch.c[0].after, "{\"podshim\":{\"path\":\"" EXE "\"}}");
  assert_string_equal (ch.c[1].key, "default-runtime");
  assert_null (ch.c[1].before);
  assert_string_equal (ch.c[1].after, "\"podshim\"");
  assert_true (m.created_runtimes && m.created_entry && m.set_default);
  assert_null (m.previous_default);
  assert_string_equal (m.path, EXE);
  install_changes_free (&ch);

  revert (doc, &m, &ch);
  out = compact (doc);
  assert_string_equal (out, "{}");
  free (out);
  /* dockerd keeps its default across a reload that names none, and its
     runtimes when there is no `runtimes`. */
  assert_true (ch.needs_restart);
  assert_true (ch.runtimes_removed);
  install_changes_free (&ch);
  install_memory_free (&m);
  yajl_tree_free (doc);
}

/* Every other key, runtime and value is kept, numbers by their text, in
 * their order; a second install changes nothing, byte for byte. */
static void
test_keeps_everything_and_idempotent (void **state)
{
  const char *text = "{\"debug\": true, \"log-opts\": {\"max-size\": \"10m\"}, "
                     "\"big\": 123456789012345678901234567890, \"f\": -0.5e-3, "
                     "\"default-runtime\": \"crun\", \"x-unknown\": [1, {\"a\": null}], "
                     "\"runtimes\": {\"crun\": {\"path\": \"/usr/bin/crun\", \"runtimeArgs\": "
                     "[\"--debug\"]}}, \"empty\": {}, \"none\": []}";
  yajl_val doc = parse (text);
  struct install_memory m;
  struct install_changes ch;
  apply (doc, true, NULL, &m, &ch);
  char *first = compact (doc);
  assert_string_equal (
      first, "{\"debug\":true,\"log-opts\":{\"max-size\":\"10m\"},"
             "\"big\":123456789012345678901234567890,\"f\":-0.5e-3,"
             "\"default-runtime\":\"podshim\",\"x-unknown\":[1,{\"a\":null}],"
             "\"runtimes\":{\"crun\":{\"path\":\"/usr/bin/crun\",\"runtimeArgs\":[\"--debug\"]},"
             "\"podshim\":{\"path\":\"" EXE "\"}},\"empty\":{},\"none\":[]}");
  assert_int_equal (ch.n, 2);
  assert_string_equal (ch.c[0].key, "runtimes.podshim");
  assert_string_equal (ch.c[1].before, "\"crun\"");
  assert_false (m.created_runtimes);
  assert_true (m.created_entry);
  assert_string_equal (m.previous_default, "crun");
  install_changes_free (&ch);
  char *file1 = emit (doc);
  /* `{}` and `[]` stay on one line. */
  assert_non_null (strstr (file1, "\"empty\": {},\n  \"none\": []\n}\n"));

  /* Again, from the file as written and with the memory kept. */
  yajl_val doc2 = parse (file1);
  struct install_memory m2;
  apply (doc2, true, &m, &m2, &ch);
  assert_int_equal (ch.n, 0);
  char *file2 = emit (doc2);
  assert_string_equal (file1, file2);
  /* The earlier default stays the one to restore, not podshim. */
  assert_string_equal (m2.previous_default, "crun");
  assert_true (m2.created_entry);

  revert (doc2, &m2, &ch);
  char *back = compact (doc2);
  yajl_val orig = parse (text);
  char *want = compact (orig);
  assert_string_equal (back, want);
  assert_false (ch.needs_restart);
  assert_int_equal (ch.n, 2);
  assert_string_equal (ch.c[1].after, "\"crun\"");

  free (back);
  free (want);
  free (first);
  free (file1);
  free (file2);
  install_changes_free (&ch);
  install_memory_free (&m);
  install_memory_free (&m2);
  yajl_tree_free (doc);
  yajl_tree_free (doc2);
  yajl_tree_free (orig);
}

/* An existing runtimes.podshim keeps its other keys; uninstall puts its old
 * path back instead of removing it. */
static void
test_existing_entry (void **state)
{
  const char *text = "{\"runtimes\": {\"podshim\": {\"path\": \"/opt/podshim\", "
                     "\"runtimeArgs\": [\"--podshim-state\", \"/srv/ps\"]}}}";
  yajl_val doc = parse (text);
  struct install_memory m;
  struct install_changes ch;
  apply (doc, false, NULL, &m, &ch);
  char *out = compact (doc);
  assert_string_equal (out, "{\"runtimes\":{\"podshim\":{\"path\":\"" EXE "\","
                            "\"runtimeArgs\":[\"--podshim-state\",\"/srv/ps\"]}}}");
  free (out);
  assert_int_equal (ch.n, 1);
  assert_string_equal (ch.c[0].key, "runtimes.podshim.path");
  assert_string_equal (ch.c[0].before, "\"/opt/podshim\"");
  assert_false (m.created_entry);
  assert_false (m.set_default);
  assert_string_equal (m.previous_path, "/opt/podshim");
  install_changes_free (&ch);

  revert (doc, &m, &ch);
  out = compact (doc);
  assert_string_equal (out, "{\"runtimes\":{\"podshim\":{\"path\":\"/opt/podshim\","
                            "\"runtimeArgs\":[\"--podshim-state\",\"/srv/ps\"]}}}");
  free (out);
  assert_false (ch.needs_restart);
  install_changes_free (&ch);
  install_memory_free (&m);
  yajl_tree_free (doc);
}

/* Without a memory (registered by hand), uninstall removes the entry and a
 * default naming podshim; a runtime added after install keeps `runtimes`. */
static void
test_revert_without_memory (void **state)
{
  yajl_val doc = parse ("{\"default-runtime\": \"podshim\", \"runtimes\": {\"podshim\": "
                        "{\"path\": \"/x\"}, \"crun\": {\"path\": \"/usr/bin/crun\"}}}");
  struct install_changes ch;
  revert (doc, NULL, &ch);
  char *out = compact (doc);
  assert_string_equal (out, "{\"runtimes\":{\"crun\":{\"path\":\"/usr/bin/crun\"}}}");
  free (out);
  assert_true (ch.needs_restart);
  install_changes_free (&ch);
  /* Nothing left to undo: no change. */
  revert (doc, NULL, &ch);
  assert_int_equal (ch.n, 0);
  install_changes_free (&ch);
  yajl_tree_free (doc);

  /* install made `runtimes`, crun was added since: only podshim goes. */
  doc = parse ("{}");
  struct install_memory m;
  apply (doc, false, NULL, &m, &ch);
  install_changes_free (&ch);
  yajl_val rt = json_get (doc, "runtimes");
  json_object_set (rt, "crun", json_new_object ());
  revert (doc, &m, &ch);
  out = compact (doc);
  assert_string_equal (out, "{\"runtimes\":{\"crun\":{}}}");
  free (out);
  assert_false (ch.needs_restart);
  assert_false (ch.runtimes_removed);
  install_changes_free (&ch);
  install_memory_free (&m);
  yajl_tree_free (doc);
}

/* A default of podshim set by hand before install: nothing earlier to put
 * back, so uninstall removes it. A memory whose path is not the entry's is
 * stale and is not used. */
static void
test_default_by_hand_and_stale_memory (void **state)
{
  yajl_val doc = parse ("{\"default-runtime\": \"podshim\", \"runtimes\": {}}");
  struct install_memory stale = { .path = t_strdup ("/elsewhere"),
                                  .set_default = true,
                                  .previous_default = t_strdup ("crun") };
  struct install_memory m;
  struct install_changes ch;
  apply (doc, true, &stale, &m, &ch);
  assert_int_equal (ch.n, 1);
  assert_true (m.set_default);
  assert_null (m.previous_default);
  assert_true (m.created_entry);
  assert_false (m.created_runtimes);
  install_changes_free (&ch);
  revert (doc, &m, &ch);
  char *out = compact (doc);
  assert_string_equal (out, "{\"runtimes\":{}}");
  free (out);
  assert_true (ch.needs_restart);
  install_changes_free (&ch);
  install_memory_free (&m);
  install_memory_free (&stale);
  yajl_tree_free (doc);
}

/* What dockerd would not read the way podshim writes it is refused, the
 * tree untouched. */
static void
test_refused (void **state)
{
  static const char *const bad[][2] = {
    { "{\"runtimes\": []}", "`runtimes` is not a JSON object" },
    { "{\"runtimes\": {\"podshim\": \"/x\"}}", "`runtimes.podshim` is not a JSON object" },
    { "{\"runtimes\": {\"podshim\": {\"path\": 1}}}", "`runtimes.podshim.path` is not a string" },
    { "{\"default-runtime\": null}", "`default-runtime` is not a string" },
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      yajl_val doc = parse (bad[i][0]);
      char *before = compact (doc);
      struct install_memory m;
      struct install_changes ch;
      struct podshim_error *err = NULL;
      assert_int_equal (install_docker_apply (doc, EXE, true, NULL, &m, &ch, &err), -1);
      assert_error_contains (&err, bad[i][1]);
      assert_int_equal (install_docker_revert (doc, NULL, &ch, &err), -1);
      assert_error_contains (&err, bad[i][1]);
      char *after = compact (doc);
      assert_string_equal (before, after);
      free (before);
      free (after);
      yajl_tree_free (doc);
    }
  static const char *const unparsable[][2] = {
    { "[]", "invalid /etc/docker/daemon.json: not a JSON object" },
    { "{\"a\": ", "invalid /etc/docker/daemon.json: " },
    { "\"x\"", "not a JSON object" },
  };
  for (size_t i = 0; i < sizeof (unparsable) / sizeof (unparsable[0]); i++)
    {
      yajl_val doc = NULL;
      struct podshim_error *err = NULL;
      assert_int_equal (install_docker_parse (unparsable[i][0], strlen (unparsable[i][0]),
                                              "/etc/docker/daemon.json", &doc, &err),
                        -1);
      assert_null (doc);
      assert_error_contains (&err, unparsable[i][1]);
    }
}

/* The memory file: what emit writes, parse reads; anything else refused. */
static void
test_memory_file (void **state)
{
  struct install_memory m = { .path = t_strdup (EXE),
                              .created_entry = true,
                              .set_default = true,
                              .previous_default = t_strdup ("runc") };
  char *text = NULL;
  size_t len;
  struct podshim_error *err = NULL;
  assert_int_equal (install_memory_emit (&m, &text, &len, &err), 0);
  struct install_memory r;
  assert_int_equal (install_memory_parse (text, len, "memory", &r, &err), 0);
  assert_string_equal (r.path, EXE);
  assert_true (r.created_entry && r.set_default && !r.created_runtimes);
  assert_null (r.previous_path);
  assert_string_equal (r.previous_default, "runc");
  install_memory_free (&r);
  free (text);
  install_memory_free (&m);

  static const char *const bad[][2] = {
    { "{}", "`path` is not a string" },
    { "{\"path\": \"\"}", "`path` is not a string" },
    { "{\"path\": \"/x\", \"created_runtimes\": 1}", "`created_runtimes` is not a boolean" },
    { "{\"path\": \"/x\", \"created_runtimes\": true, \"created_entry\": true, "
      "\"set_default\": true, \"previous_default\": 3}",
      "`previous_default` is not a string" },
    { "[1]", "not a JSON object" },
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      assert_int_equal (install_memory_parse (bad[i][0], strlen (bad[i][0]), "memory", &r, &err),
                        -1);
      assert_error_contains (&err, bad[i][1]);
      assert_null (r.path);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_empty_file),
    cmocka_unit_test (test_keeps_everything_and_idempotent),
    cmocka_unit_test (test_existing_entry),
    cmocka_unit_test (test_revert_without_memory),
    cmocka_unit_test (test_default_by_hand_and_stale_memory),
    cmocka_unit_test (test_refused),
    cmocka_unit_test (test_memory_file),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

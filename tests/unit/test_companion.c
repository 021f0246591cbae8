/* Companion specs (every refusal), the anchor's pod and name, the plan
 * (the Engine API's create document), and the record keeping the plan. */
#include "config.h"
#include "testutil.h"

#include "class.h"
#include "record.h"
#include "companion.h"

static void
expect_bad (const char *name, const char *value, const char *needle)
{
  struct podshim_error *err = NULL;
  yajl_val v = NULL;
  assert_int_equal (companion_spec_parse (name, value, &v, &err), -1);
  assert_null (v);
  assert_error_contains (&err, needle);
}

static void
test_spec_ok (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  yajl_val v = NULL;
  int r = companion_spec_parse (
      "side-car_1",
      "{\"image\":\"registry.example:5000/a/b:1.2@sha256:0123\",\"command\":[\"sh\",\"-c\",\"x\"],"
      "\"entrypoint\":[],\"env\":[\"A=1\",\"B=\"],\"user\":\"65534:65534\",\"workdir\":\"/w\","
      "\"volumes\":[\"/logs\",\"/cache:64m\"],\"share\":\"net,pid\",\"restart\":\"on-failure\","
      "\"wait\":\"tcp:8080\",\"essential\":true}",
      &v, &err);
  assert_no_error (r, err);
  assert_non_null (v);
  assert_string_equal (json_get_string (v, "user"), "65534:65534");
  yajl_tree_free (v);
  for (const char *const *rs
       = (const char *const[]){ "no", "always", "on-failure", "unless-stopped", NULL };
       *rs; rs++)
    {
      char buf[128];
      snprintf (buf, sizeof (buf), "{\"image\":\"x\",\"restart\":\"%s\"}", *rs);
      assert_no_error (companion_spec_parse ("a", buf, NULL, &err), err);
    }
  assert_no_error (
      companion_spec_parse ("a", "{\"image\":\"x\",\"essential\":\"false\"}", NULL, &err), err);
  assert_no_error (companion_spec_parse ("a", "{\"image\":\"x\",\"volumes\":[]}", NULL, &err), err);
}

static void
test_spec_refusals (void **state)
{
  (void)state;
  /* names */
  expect_bad ("", "{\"image\":\"x\"}", "invalid companion name");
  expect_bad ("Side", "{\"image\":\"x\"}", "invalid companion name");
  expect_bad ("-a", "{\"image\":\"x\"}", "invalid companion name");
  expect_bad ("a.b", "{\"image\":\"x\"}", "invalid companion name");
  expect_bad ("a23456789012345678901234567890123", "{\"image\":\"x\"}", "invalid companion name");
  /* the value */
  expect_bad ("a", "not json", "companion `a`");
  expect_bad ("a", "[1]", "companion `a`: its value must be a JSON object");
  expect_bad ("a", "\"x\"", "must be a JSON object");
  expect_bad ("a", "{}", "companion `a`: `image` is required");
  char *big = malloc (COMPANION_VALUE_MAX + 64);
  assert_non_null (big);
  snprintf (big, COMPANION_VALUE_MAX + 64, "{\"image\":\"x\",\"user\":\"%0*d\"}",
            COMPANION_VALUE_MAX, 0);
  expect_bad ("a", big, "companion `a`: its value is longer than 16384 bytes");
  free (big);
  /* unknown keys: everything that would give more than an unprivileged
     container is simply not in the schema */
  static const char *const unknown[]
      = { "privileged", "cap_add", "CapAdd", "devices", "security_opt", "network", "pid",
          "ipc",        "binds",   "mounts", "Image",   "hostconfig",   NULL };
  for (const char *const *k = unknown; *k; k++)
    {
      char buf[256], needle[128];
      snprintf (buf, sizeof (buf), "{\"image\":\"x\",\"%s\":true}", *k);
      snprintf (needle, sizeof (needle), "companion `a`: unknown key `%s`", *k);
      expect_bad ("a", buf, needle);
    }
  expect_bad ("a", "{\"image\":\"x\",\"image\":\"y\"}", "companion `a`: key `image` given twice");
  /* wrong types */
  expect_bad ("a", "{\"image\":1}", "companion `a`: `image` must be a string");
  expect_bad ("a", "{\"image\":\"\"}", "`image` `` is not an image reference");
  expect_bad ("a", "{\"image\":\"a b\"}", "is not an image reference");
  expect_bad ("a", "{\"image\":\"-x\"}", "is not an image reference");
  expect_bad ("a", "{\"image\":\"x\",\"command\":\"sleep 1\"}",
              "companion `a`: `command` must be an array of strings");
  expect_bad ("a", "{\"image\":\"x\",\"entrypoint\":[1]}",
              "companion `a`: `entrypoint` must be an array of strings");
  expect_bad ("a", "{\"image\":\"x\",\"env\":[\"NOEQ\"]}",
              "companion `a`: `env` item `NOEQ` is not K=V");
  expect_bad ("a", "{\"image\":\"x\",\"env\":[\"=v\"]}", "is not K=V");
  expect_bad ("a", "{\"image\":\"x\",\"env\":{}}", "`env` must be an array of strings");
  expect_bad ("a", "{\"image\":\"x\",\"user\":[]}", "companion `a`: `user` must be a string");
  expect_bad ("a", "{\"image\":\"x\",\"workdir\":\"rel\"}",
              "companion `a`: `workdir` must be an absolute path");
  expect_bad ("a", "{\"image\":\"x\",\"volumes\":\"/logs\"}",
              "`volumes` must be an array of strings");
  expect_bad ("a", "{\"image\":\"x\",\"volumes\":[\"/a,/b\"]}", "`volumes` items hold no comma");
  expect_bad ("a", "{\"image\":\"x\",\"volumes\":[\"/proc/x\"]}", "companion `a`: `volumes`");
  expect_bad ("a", "{\"image\":\"x\",\"volumes\":[\"rel\"]}", "companion `a`: `volumes`");
  expect_bad ("a", "{\"image\":\"x\",\"share\":\"net,user\"}", "companion `a`: `share`");
  expect_bad ("a", "{\"image\":\"x\",\"share\":true}", "`share` must be a string");
  expect_bad (
      "a", "{\"image\":\"x\",\"restart\":\"sometimes\"}",
      "companion `a`: `restart` `sometimes`: want no, always, on-failure or unless-stopped");
  expect_bad ("a", "{\"image\":\"x\",\"restart\":\"on-failure:3\"}", "`restart`");
  expect_bad ("a", "{\"image\":\"x\",\"wait\":\"udp:1\"}", "companion `a`: `wait`");
  expect_bad ("a", "{\"image\":\"x\",\"wait\":[\"tcp:1\"]}", "`wait` must be a string");
  expect_bad ("a", "{\"image\":\"x\",\"essential\":\"maybe\"}",
              "companion `a`: `essential` must be true or false");
  expect_bad ("a", "{\"image\":\"x\",\"essential\":1}", "`essential` must be true or false");
  /* over-long values */
  char longs[700];
  snprintf (longs, sizeof (longs), "{\"image\":\"%0600d\"}", 0);
  expect_bad ("a", longs, "companion `a`: `image` is longer than 512 bytes");
}

static void
test_specs_from_labels (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  char *specs = NULL;
  yajl_val spec
      = t_parse ("{\"annotations\":{\"podshim.companion.b\":\"{\\\"image\\\":\\\"ann\\\"}\"}}");
  yajl_val labels
      = t_parse ("{\"Name\":\"/"
                 "web\",\"Image\":\"sha256:ab\",\"Config\":{\"Labels\":{\"podshim.companion.a\":\"{"
                 "\\\"image\\\":\\\"x\\\"}\","
                 "\"podshim.companion.b\":\"{\\\"image\\\":\\\"lab\\\"}\",\"other\":\"1\"}}}");
  assert_int_equal (companion_specs_from_spec (spec, labels, NULL, &specs, &err), 1);
  assert_null (err);
  /* A label's value is kept as its hash, beside the anchor's image. */
  char h[17];
  companion_label_hash ("{\"image\":\"x\"}", h);
  char *text = t_printf ("[{\"name\":\"b\",\"spec\":{\"image\":\"ann\"}},{\"name\":\"a\","
                         "\"spec\":{\"image\":\"x\"},\"labelHash\":\"%s\","
                         "\"anchorImage\":\"sha256:ab\"}]",
                         h);
  char *want = t_canon (text);
  assert_string_equal (specs, want);
  free (want);
  free (text);
  assert_true (companion_declares_any (spec, NULL) && companion_declares_any (NULL, labels));
  free (specs);
  yajl_tree_free (spec);

  /* none */
  spec = t_parse ("{}");
  specs = NULL;
  assert_int_equal (companion_specs_from_spec (spec, NULL, NULL, &specs, &err), 0);
  assert_null (specs);

  /* a refusal names where it came from */
  yajl_val bad = t_parse ("{\"Config\":{\"Labels\":{\"podshim.companion.x\":\"{\\\"image\\\":"
                          "\\\"x\\\",\\\"privileged\\\":true}\"}}}");
  assert_int_equal (companion_specs_from_spec (spec, bad, NULL, &specs, &err), -1);
  assert_error_contains (&err,
                         "label podshim.companion.x: companion `x`: unknown key `privileged`");
  yajl_tree_free (bad);
  bad = t_parse ("{\"Config\":{\"Labels\":{\"podshim.companion.X\":\"{}\"}}}");
  assert_int_equal (companion_specs_from_spec (spec, bad, NULL, &specs, &err), -1);
  assert_error_contains (&err, "invalid companion name `X`");
  yajl_tree_free (bad);

  /* at most 8 */
  char buf[2048] = "{\"Config\":{\"Labels\":{";
  for (int i = 0; i < 9; i++)
    snprintf (buf + strlen (buf), sizeof (buf) - strlen (buf), "%s\"podshim.companion.c%d\":\"{}\"",
              i ? "," : "", i);
  strcat (buf, "}}}");
  bad = t_parse (buf);
  assert_int_equal (companion_specs_from_spec (spec, bad, NULL, &specs, &err), -1);
  assert_error_contains (&err, "more than 8 companions");
  yajl_tree_free (bad);
  yajl_tree_free (spec);

  /* the anchor's pod and name */
  char *p = companion_default_pod (labels, "0123");
  assert_string_equal (p, "web");
  free (p);
  yajl_val odd = t_parse ("{\"Name\":\"/.we b\"}");
  p = companion_default_pod (odd, "0123");
  assert_string_equal (p, "_we-b");
  free (p);
  yajl_tree_free (odd);
  p = companion_default_pod (NULL, "0123");
  assert_string_equal (p, "0123");
  free (p);
  yajl_tree_free (labels);
}

static void
test_plan_and_record (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  const char *specs
      = "[{\"name\":\"p\",\"spec\":{\"image\":\"img:1\",\"command\":[\"a\"],\"env\":[\"K=V\"],"
        "\"volumes\":[\"/l\",\"/c:1m\"],\"share\":\"net\",\"wait\":\"tcp:80\",\"essential\":true,"
        "\"user\":\"1\",\"workdir\":\"/w\",\"restart\":\"always\"}},"
        "{\"name\":\"q\",\"spec\":{\"image\":\"img2\"}}]";
  char *plan = NULL;
  assert_no_error (companion_plan (specs, "ID", "web.1.xyz", "podA", "stack:st", &plan, &err), err);
  char *want = t_canon (
      "[{\"name\":\"p\",\"container\":\"web.1.xyz.p\",\"image\":\"img:1\",\"deferred\":true,"
      "\"body\":{\"Image\":\"img:1\",\"Cmd\":[\"a\"],\"Env\":[\"K=V\"],\"User\":\"1\","
      "\"WorkingDir\":\"/w\","
      "\"Labels\":{\"podshim.pod\":\"podA\",\"com.docker.stack.namespace\":\"st\","
      "\"podshim.companion-of\":\"ID\",\"podshim.companion-name\":\"p\",\"podshim.volumes\":\"/l,/"
      "c:1m\","
      "\"podshim.share\":\"net\",\"podshim.wait\":\"tcp:80\",\"podshim.essential\":\"true\"},"
      "\"HostConfig\":{\"NetworkMode\":\"none\",\"RestartPolicy\":{\"Name\":\"always\"}}}},"
      "{\"name\":\"q\",\"container\":\"web.1.xyz.q\",\"image\":\"img2\",\"deferred\":false,"
      "\"body\":{\"Image\":\"img2\",\"Labels\":{\"podshim.pod\":\"podA\",\"com.docker.stack."
      "namespace\":\"st\","
      "\"podshim.companion-of\":\"ID\","
      "\"podshim.companion-name\":\"q\"},\"HostConfig\":{\"NetworkMode\":\"none\","
      "\"RestartPolicy\":{\"Name\":\"no\"}}}}]");
  assert_string_equal (plan, want);
  free (want);

  char *plan2 = NULL;
  assert_no_error (companion_plan (specs, "ID", "w", "p", "compose:proj", &plan2, &err), err);
  assert_non_null (strstr (plan2, "\"com.docker.compose.project\":\"proj\""));
  free (plan2);

  /* The record keeps the plan (as JSON, not as a string). */
  struct container_record rec = { .pid = 7, .companions = plan };
  char *buf = NULL;
  size_t len = 0;
  assert_no_error (container_record_emit (&rec, &buf, &len, &err), err);
  assert_non_null (strstr (buf, "\"companions\":[{\"name\":\"p\""));
  struct container_record back = { 0 };
  assert_no_error (container_record_parse (buf, len, &back, &err), err);
  assert_string_equal (back.companions, plan);
  container_record_free (&back);
  free (buf);
  free (plan);
}

static void
test_limits (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  char *specs = NULL, *plan = NULL;
  /* The anchor: --memory 64m --cpus 0.5 --pids-limit 100, as runc gets them. */
  yajl_val anchor
      = t_parse ("{\"linux\":{\"resources\":{\"memory\":{\"limit\":67108864},"
                 "\"cpu\":{\"quota\":50000,\"period\":100000},\"pids\":{\"limit\":100}}}}");
  yajl_val labels
      = t_parse ("{\"Config\":{\"Labels\":{"
                 "\"podshim.companion.a\":\"{\\\"image\\\":\\\"x\\\"}\","
                 "\"podshim.companion.b\":\"{\\\"image\\\":\\\"x\\\",\\\"memory\\\":\\\"32m\\\","
                 "\\\"cpus\\\":\\\"0.25\\\",\\\"pids_limit\\\":50}\"}}}");
  assert_int_equal (companion_specs_from_spec (anchor, labels, NULL, &specs, &err), 1);
  assert_no_error (companion_plan (specs, "ID", "w", "p", NULL, &plan, &err), err);
  yajl_val doc = t_parse (plan);
  static const char *const hc[] = { "body", "HostConfig", NULL };
  char *a = NULL, *b = NULL;
  size_t len;
  assert_no_error (json_emit (json_get_path (doc->u.array.values[0], hc), &a, &len, &err), err);
  assert_no_error (json_emit (json_get_path (doc->u.array.values[1], hc), &b, &len, &err), err);
  /* none given: the anchor's; given: the spec's */
  assert_string_equal (a, "{\"NetworkMode\":\"none\",\"RestartPolicy\":{\"Name\":\"no\"},"
                          "\"Memory\":67108864,\"NanoCpus\":500000000,\"PidsLimit\":100}");
  assert_string_equal (b, "{\"NetworkMode\":\"none\",\"RestartPolicy\":{\"Name\":\"no\"},"
                          "\"Memory\":33554432,\"NanoCpus\":250000000,\"PidsLimit\":50}");
  free (a);
  free (b);
  free (plan);
  free (specs);
  yajl_tree_free (doc);
  yajl_tree_free (labels);

  /* never above the anchor's: the key is named */
  static const char *const over[][2] = {
    { "\\\"memory\\\":\\\"128m\\\"", "companion `a`: `memory` 128m is more than its anchor's own"
                                     " limit (64m)" },
    { "\\\"memory\\\":67108865", "`memory` 67108865 is more than its anchor's own limit (64m)" },
    { "\\\"cpus\\\":\\\"0.6\\\"", "companion `a`: `cpus` 0.6 is more than its anchor's own limit"
                                  " (0.5)" },
    { "\\\"pids_limit\\\":101", "companion `a`: `pids_limit` 101 is more than its anchor's own"
                                " limit (100)" },
    { "\\\"memory\\\":\\\"1m\\\"", "companion `a`: `memory` must be at least 6m" },
    { "\\\"cpus\\\":0", "companion `a`: `cpus` must be at least 0.01" },
    { "\\\"cpus\\\":\\\"1.0000000001\\\"", "`cpus` must be a number of CPUs" },
    { "\\\"pids_limit\\\":0", "companion `a`: `pids_limit` must be a whole number" },
    { "\\\"pids_limit\\\":1.5", "`pids_limit` must be a whole number" },
    { "\\\"memory\\\":true", "`memory` must be bytes" },
  };
  for (size_t i = 0; i < sizeof (over) / sizeof (over[0]); i++)
    {
      char *l = t_printf ("{\"Config\":{\"Labels\":{\"podshim.companion.a\":"
                          "\"{\\\"image\\\":\\\"x\\\",%s}\"}}}",
                          over[i][0]);
      yajl_val bad = t_parse (l);
      specs = NULL;
      assert_int_equal (companion_specs_from_spec (anchor, bad, NULL, &specs, &err), -1);
      assert_null (specs);
      assert_error_contains (&err, over[i][1]);
      yajl_tree_free (bad);
      free (l);
    }

  /* the operator's defaults: the lower of them and the anchor's */
  struct companion_limits def = { .memory = 32 << 20, .nano_cpus = 2000000000, .pids = 0 };
  labels = t_parse (
      "{\"Config\":{\"Labels\":{\"podshim.companion.a\":\"{\\\"image\\\":\\\"x\\\"}\"}}}");
  assert_int_equal (companion_specs_from_spec (anchor, labels, &def, &specs, &err), 1);
  assert_non_null (strstr (specs, "\"limits\":{\"memory\":33554432,\"nanoCpus\":500000000,"
                                  "\"pids\":100}"));
  free (specs);
  /* an anchor without limits: the defaults, else none */
  yajl_val bare = t_parse ("{}");
  assert_int_equal (companion_specs_from_spec (bare, labels, &def, &specs, &err), 1);
  assert_non_null (strstr (specs, "\"limits\":{\"memory\":33554432,\"nanoCpus\":2000000000}"));
  free (specs);
  assert_int_equal (companion_specs_from_spec (bare, labels, NULL, &specs, &err), 1);
  assert_null (strstr (specs, "limits"));
  free (specs);
  yajl_tree_free (bare);
  yajl_tree_free (labels);
  yajl_tree_free (anchor);
}

/* A companion (it carries podshim.companion-of) declares no companions: its
   own podshim.companion.* labels (its image's, say) are never followed. */
static void
test_companion_declares_none (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  struct runc_cmdline c = { .id = "cid" };
  struct shim_ctx ctx = { .cmd = &c };
  yajl_val spec = t_parse ("{}");
  yajl_val labels
      = t_parse ("{\"Config\":{\"Labels\":{\"podshim.pod\":\"p\",\"podshim.companion-of\":\"0123\","
                 "\"podshim.companion.a\":\"{\\\"image\\\":\\\"self\\\"}\"}}}");
  struct container_record rec = { 0 };
  assert_int_equal (record_from_spec (&ctx, spec, labels, &rec, &err), 0);
  assert_null (err);
  assert_null (rec.companion_specs);
  container_record_free (&rec);
  /* not even a bad one fails it */
  yajl_tree_free (labels);
  labels = t_parse ("{\"Config\":{\"Labels\":{\"podshim.companion-of\":\"0123\","
                    "\"podshim.companion.a\":\"{\\\"privileged\\\":true}\"}}}");
  assert_int_equal (record_from_spec (&ctx, spec, labels, &rec, &err), 0);
  assert_null (err);
  container_record_free (&rec);
  yajl_tree_free (labels);
  yajl_tree_free (spec);
}

static void
test_pod_cap (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  struct pod_state pod = { 0 };
  struct pod_member m[3] = { { 0 } };
  m[0].raw = t_parse ("{}");
  m[1].raw = t_parse ("{\"companion_of\":\"aa\"}");
  m[2].raw = t_parse ("{\"companion_of\":\"bb\"}");
  pod.members = m;
  pod.n_members = 3;
  assert_no_error (companion_pod_check ("web", &pod, NULL, 1, "cfg", &err), err);
  assert_no_error (companion_pod_check ("web", &pod, "cc", 3, "cfg", &err), err);
  assert_int_equal (companion_pod_check ("web", &pod, "cc", 2, "/etc/podshim/config.json", &err),
                    -1);
  assert_error_contains (&err, "pod `web` already has 2 companions, the most it may have"
                               " (companions.maxPerPod in /etc/podshim/config.json, default 16)");
  for (int i = 0; i < 3; i++)
    yajl_tree_free (m[i].raw);
}

static void
test_docker_host (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  struct runc_cmdline c = { 0 };
  struct shim_ctx ctx = { .cmd = &c };
  unsetenv ("PODSHIM_DOCKER_HOST");
  char *p = companion_docker_socket (&ctx, &err);
  assert_string_equal (p, "/var/run/docker.sock");
  free (p);
  setenv ("PODSHIM_DOCKER_HOST", "unix:///env/d.sock", 1);
  p = companion_docker_socket (&ctx, &err);
  assert_string_equal (p, "/env/d.sock");
  free (p);
  /* the option wins over the environment */
  c.shim_docker_host = "unix:///opt/d.sock";
  p = companion_docker_socket (&ctx, &err);
  assert_string_equal (p, "/opt/d.sock");
  free (p);
  c.shim_docker_host = "tcp://127.0.0.1:2375";
  assert_null (companion_docker_socket (&ctx, &err));
  assert_error_contains (&err, "Docker host `tcp://127.0.0.1:2375` is not unix:///PATH");
  unsetenv ("PODSHIM_DOCKER_HOST");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_spec_ok),
    cmocka_unit_test (test_spec_refusals),
    cmocka_unit_test (test_specs_from_labels),
    cmocka_unit_test (test_plan_and_record),
    cmocka_unit_test (test_docker_host),
    cmocka_unit_test (test_limits),
    cmocka_unit_test (test_companion_declares_none),
    cmocka_unit_test (test_pod_cap),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

/* The operator's companion policy (the config file's "companions"), the
 * image checks (patterns, references by ID, loopback registries) and the
 * limits' own syntax. */
#include "config.h"
#include "testutil.h"

#include "class.h"
#include "companion_policy.h"

static int
parse_cfg (const char *text, struct class_config *cfg, struct podshim_error **err)
{
  return class_config_parse (text, strlen (text), "/etc/podshim/config.json", cfg, err);
}

static void
bad_cfg (const char *text, const char *needle)
{
  struct class_config cfg = { 0 };
  struct podshim_error *err = NULL;
  assert_int_equal (parse_cfg (text, &cfg, &err), -1);
  assert_error_contains (&err, needle);
  assert_int_equal (cfg.n, 0);
}

static void
test_config (void **state)
{
  (void)state;
  struct class_config cfg = { 0 };
  struct podshim_error *err = NULL;
  assert_no_error (
      parse_cfg ("{\"runtimes\":{\"crun\":{\"path\":\"/usr/bin/crun\"}},\"companions\":{"
                 "\"fromImageLabels\":true,\"allowedImages\":[\"nginx:*\",\"reg.example/team/*\"],"
                 "\"maxPerPod\":4,\"defaults\":{\"memory\":\"64m\",\"cpus\":\"0.5\","
                 "\"pidsLimit\":100}}}",
                 &cfg, &err),
      err);
  assert_int_equal (cfg.n, 1);
  const struct companion_policy *p = &cfg.companions;
  assert_true (p->from_image_labels && p->images_set);
  assert_int_equal (p->n_allowed, 2);
  assert_string_equal (p->allowed_images[1], "reg.example/team/*");
  assert_null (p->allowed_images[2]);
  assert_int_equal (companion_policy_max_per_pod (p), 4);
  assert_true (p->defaults.memory == 64 << 20 && p->defaults.nano_cpus == 500000000
               && p->defaults.pids == 100);
  class_config_free (&cfg);

  /* none: the defaults (image labels ignored, any image by name, 16 a pod) */
  assert_no_error (parse_cfg ("{}", &cfg, &err), err);
  assert_false (cfg.companions.from_image_labels || cfg.companions.images_set);
  assert_int_equal (companion_policy_max_per_pod (&cfg.companions), COMPANION_PER_POD_DEFAULT);
  class_config_free (&cfg);
  assert_no_error (parse_cfg ("{\"companions\":{\"allowedImages\":[]}}", &cfg, &err), err);
  assert_true (cfg.companions.images_set && cfg.companions.n_allowed == 0);
  class_config_free (&cfg);

  /* a misspelt or mistyped policy is loud */
  bad_cfg ("{\"companions\":[]}", "/etc/podshim/config.json: `companions` is not an object");
  bad_cfg ("{\"companions\":{\"allowedImage\":[\"x\"]}}",
           "unknown key `companions.allowedImage` (it has fromImageLabels, allowedImages,"
           " maxPerPod, defaults)");
  bad_cfg ("{\"companions\":{\"fromImageLabels\":\"yes\"}}",
           "`companions.fromImageLabels` is not true or false");
  bad_cfg ("{\"companions\":{\"allowedImages\":\"nginx:*\"}}",
           "`companions.allowedImages` is not an array of strings");
  bad_cfg ("{\"companions\":{\"allowedImages\":[\"a\",\"\"]}}",
           "`companions.allowedImages[1]` is not a pattern of 1-512 bytes");
  bad_cfg ("{\"companions\":{\"maxPerPod\":0}}",
           "`companions.maxPerPod` is not a whole number from 1 to 1024");
  bad_cfg ("{\"companions\":{\"maxPerPod\":2.5}}", "`companions.maxPerPod`");
  bad_cfg ("{\"companions\":{\"defaults\":{\"memory\":\"lots\"}}}",
           "`companions.defaults.memory` must be bytes");
  bad_cfg ("{\"companions\":{\"defaults\":{\"pids_limit\":1}}}",
           "unknown key `companions.defaults.pids_limit` (it has memory, cpus, pidsLimit)");
  bad_cfg ("{\"companions\":{\"maxPerPod\":1,\"maxPerPod\":2}}",
           "`companions.maxPerPod` is given twice");
  char *many = t_strdup ("{\"companions\":{\"allowedImages\":[");
  for (int i = 0; i <= COMPANION_POLICY_IMAGES_MAX; i++)
    {
      char *n = t_printf ("%s%s\"x\"", many, i ? "," : "");
      free (many);
      many = n;
    }
  char *n = t_printf ("%s]}}", many);
  bad_cfg (n, "`companions.allowedImages` has more than 256 patterns");
  free (n);
  free (many);
}

static void
test_limits_syntax (void **state)
{
  (void)state;
  static const struct
  {
    const char *json;
    long long bytes; /* -1: refused */
  } mem[] = {
    { "\"64m\"", 64 << 20 },
    { "\"64M\"", 64 << 20 },
    { "\"64mb\"", 64 << 20 },
    { "\"1g\"", 1LL << 30 },
    { "\"2t\"", 2LL << 40 },
    { "6291456", 6291456 },
    { "\"6291456b\"", 6291456 },
    { "\"6291455\"", -1 },
    { "\"5m\"", -1 },
    { "\"64x\"", -1 },
    { "\"m\"", -1 },
    { "\"-64m\"", -1 },
    { "64.5", -1 },
    { "\"1025t\"", -1 },
    { "\"99999999999999999999\"", -1 },
    { "true", -1 },
    { "\" 64m\"", -1 },
  };
  for (size_t i = 0; i < sizeof (mem) / sizeof (mem[0]); i++)
    {
      yajl_val v = t_parse (mem[i].json);
      long long n = 0;
      const char *why = NULL;
      int r = companion_memory_parse (v, &n, &why);
      if (mem[i].bytes < 0)
        assert_true (r < 0 && why != NULL);
      else
        {
          assert_int_equal (r, 0);
          assert_int_equal (n, mem[i].bytes);
        }
      yajl_tree_free (v);
    }
  static const struct
  {
    const char *json;
    long long nano;
  } cpu[] = {
    { "\"0.5\"", 500000000 },
    { "0.5", 500000000 },
    { "2", 2000000000 },
    { "\"0.01\"", 10000000 },
    { "\"1.000000001\"", 1000000001 },
    { "\"0.009\"", -1 },
    { "\"0\"", -1 },
    { "\".5\"", -1 },
    { "\"1.\"", -1 },
    { "\"4097\"", -1 },
    { "\"1e3\"", -1 },
    { "1e3", -1 },
    { "\"0.5 \"", -1 },
    { "-1", -1 },
  };
  for (size_t i = 0; i < sizeof (cpu) / sizeof (cpu[0]); i++)
    {
      yajl_val v = t_parse (cpu[i].json);
      long long n = 0;
      const char *why = NULL;
      int r = companion_cpus_parse (v, &n, &why);
      if (cpu[i].nano < 0)
        assert_true (r < 0 && why != NULL);
      else
        {
          assert_int_equal (r, 0);
          assert_int_equal (n, cpu[i].nano);
        }
      yajl_tree_free (v);
    }
  static const char *const pids_ok[] = { "1", "\"100\"", "4194304" };
  static const char *const pids_bad[] = { "0", "-1", "4194305", "\"1k\"", "1.0", "null" };
  for (size_t i = 0; i < 3; i++)
    {
      yajl_val v = t_parse (pids_ok[i]);
      long long n;
      const char *why;
      assert_int_equal (companion_pids_parse (v, &n, &why), 0);
      yajl_tree_free (v);
    }
  for (size_t i = 0; i < 6; i++)
    {
      yajl_val v = t_parse (pids_bad[i]);
      long long n;
      const char *why = NULL;
      assert_int_equal (companion_pids_parse (v, &n, &why), -1);
      assert_non_null (why);
      yajl_tree_free (v);
    }
  char *s = companion_memory_str (64 << 20);
  assert_string_equal (s, "64m");
  free (s);
  s = companion_memory_str (1000);
  assert_string_equal (s, "1000");
  free (s);
  s = companion_cpus_str (500000000);
  assert_string_equal (s, "0.5");
  free (s);
  s = companion_cpus_str (1000000001);
  assert_string_equal (s, "1.000000001");
  free (s);
  s = companion_cpus_str (3000000000);
  assert_string_equal (s, "3");
  free (s);

  /* the anchor's own, from its config.json */
  struct companion_limits l;
  yajl_val spec
      = t_parse ("{\"linux\":{\"resources\":{\"memory\":{\"limit\":-1},"
                 "\"cpu\":{\"quota\":150000,\"period\":100000},\"pids\":{\"limit\":-1}}}}");
  companion_limits_from_spec (spec, &l);
  assert_true (l.memory == 0 && l.nano_cpus == 1500000000 && l.pids == 0);
  yajl_tree_free (spec);
  companion_limits_from_spec (NULL, &l);
  assert_true (l.memory == 0 && l.nano_cpus == 0 && l.pids == 0);
}

static void
test_images (void **state)
{
  (void)state;
  /* by ID, or an ID's prefix */
  static const char *const by_id[]
      = { "3f2a",
          "3F2A",
          "abc",
          "sha256:3f2a",
          "SHA256:3f2a",
          "sha512:",
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
  for (size_t i = 0; i < sizeof (by_id) / sizeof (by_id[0]); i++)
    assert_true (companion_image_by_id (by_id[i]));
  static const char *const by_name[] = { "nginx",      "nginx:1",  "abc:1",       "abc/def",
                                         "sha256:xyz", "md5:3f2a", "a/sha256:3f", "cafe.io/x" };
  for (size_t i = 0; i < sizeof (by_name) / sizeof (by_name[0]); i++)
    assert_false (companion_image_by_id (by_name[i]));

  /* loopback registries, any port, any spelling the resolver takes */
  static const char *const loop[][2] = {
    { "127.0.0.1:5000/x", "127.0.0.1:5000" },
    { "127.9.9.9/x:1", "127.9.9.9" },
    { "localhost/x", "localhost" },
    { "localhost:5000/a/b", "localhost:5000" },
    { "LOCALHOST/x", "LOCALHOST" },
    { "localhost.:80/x", "localhost.:80" },
    { "registry.localhost/x", "registry.localhost" },
    { "127.1:5000/x", "127.1:5000" },
    { "0x7f.1/x", "0x7f.1" },
    { "2130706433:1/x", "2130706433:1" },
    { "0.0.0.0:5000/x", "0.0.0.0:5000" },
    { "0:80/x", "0:80" },
    { "[::1]:5000/x", "[::1]:5000" },
    { "[::ffff:127.0.0.1]/x", "[::ffff:127.0.0.1]" },
    { "[::]/x", "[::]" },
  };
  for (size_t i = 0; i < sizeof (loop) / sizeof (loop[0]); i++)
    {
      char *r = companion_image_loopback_registry (loop[i][0]);
      assert_non_null (r);
      assert_string_equal (r, loop[i][1]);
      free (r);
    }
  static const char *const remote[]
      = { "nginx",      "library/nginx",    "127.0.0.1",    "reg.example:5000/x",
          "10.0.0.1/x", "128.0.0.1/x",      "localhostx/x", "mylocalhost/x",
          "[::2]/x",    "[fe80::1]:5000/x", "2130706433/x", "localhost" };
  for (size_t i = 0; i < sizeof (remote) / sizeof (remote[0]); i++)
    assert_null (companion_image_loopback_registry (remote[i]));

  struct podshim_error *err = NULL;
  struct companion_policy none = { 0 };
  const char *cfg = "/etc/podshim/config.json";
  /* no policy: any image by name, none by ID or on loopback */
  assert_no_error (companion_image_check (&none, cfg, "a", "anything/at:all", &err), err);
  assert_int_equal (companion_image_check (&none, cfg, "a", "3f2a", &err), -1);
  assert_error_contains (&err, "companion `a`: image `3f2a` would be looked up by image ID (or an"
                               " ID's prefix), not by name: refused unless companions.allowedImages"
                               " in /etc/podshim/config.json names it exactly");
  assert_int_equal (companion_image_check (&none, cfg, "a", "127.0.0.1:5000/x", &err), -1);
  assert_error_contains (&err, "companion `a`: image `127.0.0.1:5000/x` is on a registry on this"
                               " host's loopback (`127.0.0.1:5000`), which dockerd would reach"
                               " from the host's network: refused unless a pattern of"
                               " companions.allowedImages in /etc/podshim/config.json names"
                               " that registry");

  char *pats[] = { "nginx:*", "reg.example/team/*", "3f2a", "localhost:5000/team/*",
                   "*",       "127.0.0.*/x",        NULL };
  struct companion_policy p = { .images_set = true, .allowed_images = pats, .n_allowed = 3 };
  assert_no_error (companion_image_check (&p, cfg, "a", "nginx:1.25", &err), err);
  assert_no_error (companion_image_check (&p, cfg, "a", "reg.example/team/a/b:1", &err), err);
  assert_no_error (companion_image_check (&p, cfg, "a", "3f2a", &err), err);
  assert_int_equal (companion_image_check (&p, cfg, "a", "3f2ab", &err), -1);
  assert_error_contains (&err, "names it exactly");
  assert_int_equal (companion_image_check (&p, cfg, "side", "docker.io/library/nginx:1", &err), -1);
  assert_error_contains (&err,
                         "companion `side`: image `docker.io/library/nginx:1` is not allowed: it"
                         " matches none of companions.allowedImages in /etc/podshim/config.json"
                         " (`nginx:*`, `reg.example/team/*`, `3f2a`)");
  /* a loopback registry: only a pattern that names it (no wildcard in it) */
  p.n_allowed = 6;
  assert_no_error (companion_image_check (&p, cfg, "a", "localhost:5000/team/x", &err), err);
  /* patterns match the reference as written */
  assert_int_equal (companion_image_check (&p, cfg, "a", "LocalHost:5000/team/x", &err), -1);
  assert_error_contains (&err, "loopback (`LocalHost:5000`)");
  assert_int_equal (companion_image_check (&p, cfg, "a", "localhost:5000/other/x", &err), -1);
  assert_error_contains (&err, "loopback (`localhost:5000`)");
  assert_int_equal (companion_image_check (&p, cfg, "a", "127.0.0.1/x", &err), -1);
  assert_error_contains (&err, "loopback");
  /* "*" allows every name, never an ID */
  assert_no_error (companion_image_check (&p, cfg, "a", "other:1", &err), err);
  assert_int_equal (companion_image_check (&p, cfg, "a", "sha256:3f2a", &err), -1);
  assert_error_contains (&err, "by image ID");
  /* an empty list allows nothing */
  struct companion_policy empty = { .images_set = true };
  assert_int_equal (companion_image_check (&empty, cfg, "a", "nginx", &err), -1);
  assert_error_contains (&err, "matches none of companions.allowedImages in"
                               " /etc/podshim/config.json (none)");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_config),
    cmocka_unit_test (test_limits_syntax),
    cmocka_unit_test (test_images),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

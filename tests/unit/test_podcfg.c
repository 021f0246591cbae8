/* Which pod a container asks for: annotations, Docker labels, environment. */
#include "config.h"
#include "testutil.h"

#include "pod.h"
#include "podcfg.h"

static int
request (const char *spec_text, const char *labels_text, struct pod_request *r,
         struct podshim_error **err)
{
  yajl_val spec = t_parse (spec_text);
  yajl_val labels = labels_text ? t_parse (labels_text) : NULL;
  memset (r, 0, sizeof (*r));
  int ret = pod_request_from_spec (spec, labels, r, err);
  yajl_tree_free (spec);
  if (labels)
    yajl_tree_free (labels);
  return ret;
}

static void
test_annotation (void **state)
{
  (void)state;
  struct pod_request r;
  struct podshim_error *err = NULL;
  assert_int_equal (request ("{\"annotations\":{\"podshim.pod\":\"web\"}}", NULL, &r, &err), 1);
  assert_null (err);
  assert_string_equal (r.name, "web");
  assert_int_equal (r.share, POD_NS_NET | POD_NS_IPC | POD_NS_UTS); /* the default */
  assert_int_equal (r.n_volumes, 0);
  pod_request_free (&r);
  assert_null (r.name);

  /* No pod named: 0, whatever else is set. */
  assert_int_equal (
      request ("{\"annotations\":{\"podshim.share\":\"pid\",\"podshim.volumes\":\"rel\"},"
               "\"process\":{\"env\":[\"PODSHIM_SHARE=bogus\"]}}",
               "{\"Config\":{\"Labels\":{\"podshim.share\":\"bogus\"}}}", &r, &err),
      0);
  assert_null (err);
  assert_null (r.name);
  assert_int_equal (request ("{}", NULL, &r, &err), 0);
  assert_int_equal (request ("[]", NULL, &r, &err), 0);
  assert_int_equal (request ("{\"annotations\":[],\"process\":{\"env\":{}}}", NULL, &r, &err), 0);
  /* a non-string annotation is not a name */
  assert_int_equal (request ("{\"annotations\":{\"podshim.pod\":7}}", NULL, &r, &err), 0);
  assert_null (err);
}

static void
test_precedence_per_key (void **state)
{
  (void)state;
  struct pod_request r;
  struct podshim_error *err = NULL;
  const char *labels
      = "{\"Config\":{\"Labels\":{\"podshim.pod\":\"from-label\",\"podshim.share\":\"pid,net\"}}}";
  const char *env
      = "\"process\":{\"env\":[\"PATH=/bin\",\"PODSHIM_POD=from-env\",\"PODSHIM_SHARE=uts\","
        "\"PODSHIM_VOLUMES=/from/env\"]}";

  /* annotation > label > env, for each key separately */
  char *spec = t_printf ("{\"annotations\":{\"podshim.pod\":\"from-annotation\"},%s}", env);
  assert_int_equal (request (spec, labels, &r, &err), 1);
  assert_string_equal (r.name, "from-annotation");
  assert_int_equal (r.share, POD_NS_PID | POD_NS_NET);
  assert_int_equal (r.n_volumes, 1);
  assert_string_equal (r.volumes[0], "/from/env");
  pod_request_free (&r);
  free (spec);

  spec = t_printf ("{%s}", env);
  assert_int_equal (request (spec, labels, &r, &err), 1);
  assert_string_equal (r.name, "from-label");
  assert_int_equal (r.share, POD_NS_PID | POD_NS_NET);
  pod_request_free (&r);
  assert_int_equal (request (spec, NULL, &r, &err), 1);
  assert_string_equal (r.name, "from-env");
  assert_int_equal (r.share, POD_NS_UTS);
  pod_request_free (&r);
  free (spec);

  /* The annotation's share wins over the label's. */
  assert_int_equal (
      request ("{\"annotations\":{\"podshim.share\":\"ipc\"}}",
               "{\"Config\":{\"Labels\":{\"podshim.pod\":\"l\",\"podshim.share\":\"pid\"}}}", &r,
               &err),
      1);
  assert_string_equal (r.name, "l");
  assert_int_equal (r.share, POD_NS_IPC);
  pod_request_free (&r);

  /* env: the last assignment wins; look-alikes are not it */
  assert_int_equal (request ("{\"process\":{\"env\":[\"PODSHIM_POD=first\",\"PODSHIM_PODX=no\","
                             "\"PODSHIM_POD\",\"XPODSHIM_POD=no\",7,\"PODSHIM_POD=last\","
                             "\"PODSHIM_PO=no\"]}}",
                             NULL, &r, &err),
                    1);
  assert_string_equal (r.name, "last");
  pod_request_free (&r);
  assert_null (err);
}

static void
test_share (void **state)
{
  (void)state;
  struct pod_request r;
  struct podshim_error *err = NULL;
  assert_int_equal (
      request ("{\"annotations\":{\"podshim.pod\":\"p\",\"podshim.share\":\" net , pid \"}}", NULL,
               &r, &err),
      1);
  assert_int_equal (r.share, POD_NS_NET | POD_NS_PID);
  pod_request_free (&r);
  assert_int_equal (request ("{\"annotations\":{\"podshim.pod\":\"p\",\"podshim.share\":\"ipc\"}}",
                             NULL, &r, &err),
                    1);
  assert_int_equal (r.share, POD_NS_IPC);
  pod_request_free (&r);

  assert_true (request ("{\"annotations\":{\"podshim.pod\":\"p\",\"podshim.share\":\"net,bogus\"}}",
                        NULL, &r, &err)
               < 0);
  assert_null (r.name);
  assert_error_contains (&err, "invalid annotation podshim.share: unknown namespace `bogus`");
  assert_true (request ("{\"annotations\":{\"podshim.pod\":\"p\"}}",
                        "{\"Config\":{\"Labels\":{\"podshim.share\":\"\"}}}", &r, &err)
               < 0);
  assert_error_contains (&err, "invalid label podshim.share: unknown namespace ``");
  assert_true (request ("{\"process\":{\"env\":[\"PODSHIM_POD=p\",\"PODSHIM_SHARE=net,,ipc\"]}}",
                        NULL, &r, &err)
               < 0);
  assert_error_contains (&err, "invalid environment variable PODSHIM_SHARE: unknown namespace ``");
}

static void
assert_name (const char *name, bool ok)
{
  struct pod_request r;
  struct podshim_error *err = NULL;
  char *spec = t_printf ("{\"annotations\":{\"podshim.pod\":\"%s\"}}", name);
  int ret = request (spec, NULL, &r, &err);
  if (ok)
    {
      if (ret != 1)
        fail_msg ("pod name `%s` refused: %s", name, err ? err->msg : "?");
      assert_string_equal (r.name, name);
      pod_request_free (&r);
    }
  else
    {
      if (ret >= 0)
        fail_msg ("pod name `%s` accepted", name);
      assert_error_contains (&err, "invalid pod name `");
      assert_null (r.name);
    }
  free (spec);
}

static void
test_pod_names (void **state)
{
  (void)state;
  char n128[129], n129[130];
  memset (n128, 'x', 128);
  n128[128] = '\0';
  memset (n129, 'x', 129);
  n129[129] = '\0';
  assert_name (n128, true);
  assert_name (n129, false);
  assert_name ("a", true);
  assert_name ("web-1.slot_2", true);
  assert_name ("x.", true);
  assert_name ("x..y", true);
  assert_name (".x", false);
  assert_name ("..", false);
  assert_name ("a/b", false);
  assert_name ("", false);
  assert_name ("caf\xc3\xa9", false);
  assert_name ("a b", false);
  assert_name ("a+b", false);
  assert_name ("a\\nb", false); /* a JSON escape: a newline */

  struct pod_request r;
  struct podshim_error *err = NULL;
  assert_true (request ("{\"process\":{\"env\":[\"PODSHIM_POD=a/b\"]}}", NULL, &r, &err) < 0);
  assert_error_contains (&err, "invalid pod name `a/b` (from environment variable PODSHIM_POD)");
  assert_true (request ("{}", "{\"Config\":{\"Labels\":{\"podshim.pod\":\"../x\"}}}", &r, &err)
               < 0);
  assert_error_contains (&err, "(from label podshim.pod)");
}

static void
assert_volumes (const char *list, size_t n, const char *const *expected)
{
  char **v = NULL;
  size_t got = 0;
  struct podshim_error *err = NULL;
  int r = pod_volumes_parse (list, &v, &got, &err);
  if (r < 0)
    fail_msg ("`%s` refused: %s", list, err->msg);
  assert_int_equal (got, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal (v[i], expected[i]);
  assert_null (v[n]);
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

static void
assert_bad_volumes (const char *list, const char *needle)
{
  char **v = NULL;
  size_t n = 0;
  struct podshim_error *err = NULL;
  if (pod_volumes_parse (list, &v, &n, &err) == 0)
    fail_msg ("`%s` accepted", list);
  assert_null (v);
  assert_error_contains (&err, needle);
}

static void
test_volumes (void **state)
{
  (void)state;
  assert_volumes ("/data", 1, (const char *[]){ "/data" });
  assert_volumes ("/a,/b/c", 2, (const char *[]){ "/a", "/b/c" });
  assert_volumes (" /a , /b ", 2, (const char *[]){ "/a", "/b" });
  assert_volumes ("/a,/b,/a,/b", 2, (const char *[]){ "/a", "/b" }); /* deduplicated */
  assert_volumes ("/...,/.a,/a.,/a b", 4, (const char *[]){ "/...", "/.a", "/a.", "/a b" });

  assert_bad_volumes ("rel", "invalid pod volume `rel` in `rel`: must be an absolute path");
  assert_bad_volumes ("/a,data/x", "invalid pod volume `data/x`");
  assert_bad_volumes ("/a/../b", "`/a/../b`");
  assert_bad_volumes ("/..", "`/..`");
  assert_bad_volumes ("/a/..", "`/a/..`");
  assert_bad_volumes ("/.", "`/.`");
  assert_bad_volumes ("/a/./b", "`/a/./b`");
  assert_bad_volumes ("//a", "`//a`");
  assert_bad_volumes ("/a//b", "`/a//b`");
  assert_bad_volumes ("/a/", "`/a/`");
  assert_bad_volumes ("/", "`/`");
  assert_bad_volumes ("", "invalid pod volume ``");
  assert_bad_volumes ("/a,", "invalid pod volume ``");
  assert_bad_volumes ("/a,,/b", "invalid pod volume ``");
  assert_bad_volumes (" ", "invalid pod volume ``");
  assert_bad_volumes ("/a\tb", "invalid pod volume");
  assert_bad_volumes ("/a\x7f", "invalid pod volume");

  char *long_path = malloc (POD_VOLUME_PATH_MAX + 2);
  long_path[0] = '/';
  memset (long_path + 1, 'a', POD_VOLUME_PATH_MAX);
  long_path[POD_VOLUME_PATH_MAX + 1] = '\0';
  assert_bad_volumes (long_path, "invalid pod volume");
  long_path[POD_VOLUME_PATH_MAX] = '\0'; /* exactly the maximum */
  assert_volumes (long_path, 1, (const char *[]){ long_path });
  free (long_path);

  /* At most 64 distinct paths; duplicates do not count. */
  char *list = t_strdup ("");
  for (int i = 0; i < POD_VOLUMES_MAX; i++)
    {
      char *n = t_printf ("%s/v%d,/v%d,", list, i, i);
      free (list);
      list = n;
    }
  list[strlen (list) - 1] = '\0';
  char **v = NULL;
  size_t n = 0;
  struct podshim_error *err = NULL;
  assert_int_equal (pod_volumes_parse (list, &v, &n, &err), 0);
  assert_int_equal (n, POD_VOLUMES_MAX);
  assert_string_equal (v[63], "/v63");
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
  char *more = t_printf ("%s,/one-too-many", list);
  assert_bad_volumes (more, "too many pod volumes");
  free (more);
  free (list);

  /* Through a request: volumes are parsed, an empty value means none. */
  struct pod_request r;
  assert_int_equal (
      request ("{\"annotations\":{\"podshim.pod\":\"p\",\"podshim.volumes\":\"/x,/y/z\"}}", NULL,
               &r, &err),
      1);
  assert_int_equal (r.n_volumes, 2);
  assert_string_equal (r.volumes[1], "/y/z");
  pod_request_free (&r);
  assert_int_equal (request ("{\"annotations\":{\"podshim.pod\":\"p\",\"podshim.volumes\":\"\"}}",
                             NULL, &r, &err),
                    1);
  assert_int_equal (r.n_volumes, 0);
  pod_request_free (&r);
  assert_true (
      request (
          "{\"annotations\":{\"podshim.pod\":\"p\"},\"process\":{\"env\":[\"PODSHIM_VOLUMES=x\"]}}",
          NULL, &r, &err)
      < 0);
  assert_error_contains (&err,
                         "invalid environment variable PODSHIM_VOLUMES: invalid pod volume `x`");
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
test_volume_dirname (void **state)
{
  (void)state;
  struct
  {
    const char *path, *dir;
  } cases[] = {
    { "/a_b", "-a_b" },
    { "/a/b", "-a-b" },
    { "/a-b", "-a\\x2db" },
    { "/var/cache/nginx", "-var-cache-nginx" },
    { "/a.b", "-a.b" },
    { "/.a", "-\\x2ea" },
    { "/a b", "-a\\x20b" },
    { "/a\\x2d", "-a\\x5cx2d" },
    { "/caf\xc3\xa9", "-caf\\xc3\\xa9" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      char *d = pod_volume_dirname (cases[i].path);
      assert_string_equal (d, cases[i].dir);
      free (d);
    }

  /* Injective over every path of up to 5 characters of a nasty alphabet, and
   * never a name that is not a plain file name. */
  const char alpha[] = "/a-_.\\x2d";
  const size_t na = sizeof (alpha) - 1;
  size_t total = 0, cap = 1;
  for (int len = 1; len <= 5; len++)
    cap *= na, total += cap / na;
  char **out = calloc (total, sizeof (char *));
  assert_non_null (out);
  size_t k = 0;
  for (int len = 1; len <= 5; len++)
    {
      size_t combos = 1;
      for (int i = 1; i < len; i++)
        combos *= na;
      for (size_t c = 0; c < combos; c++)
        {
          char p[8] = "/";
          size_t x = c;
          for (int i = 1; i < len; i++, x /= na)
            p[i] = alpha[x % na];
          p[len] = '\0';
          char *d = pod_volume_dirname (p);
          assert_null (strchr (d, '/'));
          assert_true (d[0] != '\0' && strcmp (d, ".") != 0 && strcmp (d, "..") != 0);
          out[k++] = d;
        }
    }
  assert_int_equal (k, total);
  qsort (out, k, sizeof (char *), cmp_str);
  for (size_t i = 1; i < k; i++)
    if (strcmp (out[i - 1], out[i]) == 0)
      fail_msg ("two paths map to `%s`", out[i]);
  for (size_t i = 0; i < k; i++)
    free (out[i]);
  free (out);
}

static void
test_may_name_pod (void **state)
{
  (void)state;
  const char *yes[] = {
    "{\"annotations\":{\"podshim.pod\":\"x\"}}",
    "{\"process\":{\"env\":[\"PODSHIM_POD=x\"]}}",
  };
  const char *no[] = {
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"env\":[\"PATH=/bin\"]}}",
    "{\"mounts\":[{\"destination\":\"/etc/hostname2\"}]}",
    "{\"annotations\":{\"Podshim.pod\":\"x\"}}",
    "",
    /* Docker's labels are scanned apart (docker_labels_may_name_pod). */
    "{\"mounts\":[{\"destination\":\"/etc/hostname\",\"source\":\"/d/id/hostname\"}]}",
  };
  for (size_t i = 0; i < 2; i++)
    assert_true (spec_may_name_pod (yes[i], strlen (yes[i])));
  for (size_t i = 0; i < 5; i++)
    assert_false (spec_may_name_pod (no[i], strlen (no[i])));
  /* JSON escapes can spell a pod: such documents take the slow path. */
  const char *escaped[] = {
    "{\"annotations\":{\"\\u0070odshim.pod\":\"x\"}}",
    "{\"process\":{\"env\":[\"PODSHIM\\u005fPOD=x\"]}}",
    "{\"mounts\":[{\"destination\":\"\\/etc\\/hostname\"}]}",
  };
  for (size_t i = 0; i < 3; i++)
    {
      assert_true (spec_may_name_pod (escaped[i], strlen (escaped[i])));
      struct pod_request r;
      struct podshim_error *err = NULL;
      if (i < 2)
        {
          assert_int_equal (request (escaped[i], NULL, &r, &err), 1);
          assert_string_equal (r.name, "x");
          pod_request_free (&r);
        }
    }
  /* but not the escapes Go writes: <, >, &, controls, U+2028 */
  const char *go
      = "{\"process\":{\"env\":[\"URL=a\\u0026b\\u003cc\\u003e\\u0001\\u2028\\u00e9\"]}}";
  assert_false (spec_may_name_pod (go, strlen (go)));
  const char *letter = "{\"x\":\"\\u0041\"}";
  assert_true (spec_may_name_pod (letter, strlen (letter)));
  const char *cut = "{\"x\":\"\\u00";
  assert_false (spec_may_name_pod (cut, strlen (cut)));
  assert_false (spec_may_name_pod (letter, 10)); /* cut before the hex digits */
  /* only len bytes count */
  const char *s = "{}podshim";
  assert_false (spec_may_name_pod (s, 2));
  assert_true (spec_may_name_pod (s, 9));
}

struct seen
{
  int n;
  char dirs[4][64];
};

static bool
record_dir (const char *dir, size_t len, void *data)
{
  struct seen *s = data;
  if (s->n < 4)
    snprintf (s->dirs[s->n++], 64, "%.*s", (int)len, dir);
  return false;
}

static int
scan (const char *text, const char *id, struct seen *s)
{
  memset (s, 0, sizeof (*s));
  return spec_scan_docker_dirs (text, strlen (text), id, record_dir, s);
}

static void
test_scan_docker_dirs (void **state)
{
  (void)state;
  struct seen s;
  assert_int_equal (
      scan ("{\"mounts\":[{\"destination\":\"/etc/hostname\",\"source\":\"/d/c1/hostname\"}]}",
            "c1", &s),
      0);
  assert_int_equal (s.n, 1);
  assert_string_equal (s.dirs[0], "/d/c1");
  /* every string that could be the source, in any order of keys */
  assert_int_equal (
      scan ("{\"a\":\"/x/c1/hostname\",\"b\":[\"/c1/hostname\",\"/y/c1/hostname\"]}", "c1", &s), 0);
  assert_int_equal (s.n, 3);
  assert_string_equal (s.dirs[0], "/x/c1");
  assert_string_equal (s.dirs[1], "/c1");
  assert_string_equal (s.dirs[2], "/y/c1");
  /* not it: another ID, a suffix of the ID, a relative path, not the end of a string */
  assert_int_equal (scan ("{\"a\":\"/d/c2/hostname\",\"b\":\"/d/xc1/hostname\"}", "c1", &s), 0);
  assert_int_equal (s.n, 0);
  assert_int_equal (scan ("{\"a\":\"d/c1/hostname\",\"b\":\"/d/c1/hostname2\"}", "c1", &s), 0);
  assert_int_equal (s.n, 0);
  /* an escape in the string: uncertain, parse */
  assert_int_equal (scan ("{\"a\":\"/d\\\"q/c1/hostname\"}", "c1", &s), 1);
  assert_int_equal (scan ("{\"a\":\"/d\\u0041/c1/hostname\"}", "c1", &s), 1);
}

/* dockerd's layout: <dir>/<id>/hostname and <dir>/<id>/config.v2.json */
struct docker
{
  char *dir;
  char *cdir;
  char *spec;
};

static void
docker_setup (struct docker *d, const char *id, const char *config_v2)
{
  d->dir = t_mkdtemp ();
  d->cdir = t_printf ("%s/%s", d->dir, id);
  assert_int_equal (mkdir (d->cdir, 0700), 0);
  char *h = t_printf ("%s/hostname", d->cdir);
  t_write (h, "abc\n");
  free (h);
  if (config_v2)
    {
      char *c = t_printf ("%s/config.v2.json", d->cdir);
      t_write (c, config_v2);
      free (c);
    }
  d->spec = t_printf (
      "{\"mounts\":[{\"destination\":\"/etc/resolv.conf\",\"source\":\"%s/resolv.conf\"},"
      "{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"%s/hostname\","
      "\"options\":[\"rbind\",\"rprivate\"]}]}",
      d->cdir, d->cdir);
}

static void
docker_teardown (struct docker *d)
{
  t_rmtree (d->dir);
  free (d->dir);
  free (d->cdir);
  free (d->spec);
}

static int
labels (const char *spec_text, const char *id, yajl_val *ret, struct podshim_error **err)
{
  yajl_val spec = t_parse (spec_text);
  int r = docker_labels_load (spec, id, ret, err);
  yajl_tree_free (spec);
  return r;
}

static void
test_docker_labels (void **state)
{
  (void)state;
  const char *id = "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e";
  struct docker d;
  docker_setup (&d, id,
                "{\"ID\":\"3f4e\",\"Config\":{\"Hostname\":\"3f4e5d6c7b8a\",\"Labels\":{"
                "\"com.docker.compose.service\":\"web\",\"podshim.pod\":\"compose-pod\","
                "\"podshim.volumes\":\"/shared\"}},\"State\":{\"Running\":false}}");
  struct podshim_error *err = NULL;
  yajl_val doc = NULL;
  assert_int_equal (labels (d.spec, id, &doc, &err), 0);
  assert_null (err);
  assert_non_null (doc);
  const char *const p[] = { "Config", "Labels", "podshim.pod", NULL };
  assert_string_equal (json_get_path (doc, p)->u.string, "compose-pod");

  /* The labels make the request when nothing else does. */
  struct pod_request r = { 0 };
  yajl_val spec = t_parse (d.spec);
  assert_int_equal (pod_request_from_spec (spec, doc, &r, &err), 1);
  assert_string_equal (r.name, "compose-pod");
  assert_int_equal (r.n_volumes, 1);
  assert_string_equal (r.volumes[0], "/shared");
  pod_request_free (&r);
  yajl_tree_free (spec);
  yajl_tree_free (doc);
  doc = NULL;

  /* The byte scan finds it without parsing. */
  assert_true (docker_labels_may_name_pod (d.spec, strlen (d.spec), id));
  assert_false (docker_labels_may_name_pod (d.spec, strlen (d.spec), "someone-else"));

  /* The directory's basename must be the ID. */
  assert_int_equal (labels (d.spec, "someone-else", &doc, &err), 0);
  assert_null (doc);
  assert_int_equal (labels (d.spec, id + 1, &doc, &err), 0); /* a suffix is not it */
  assert_null (doc);
  docker_teardown (&d);

  /* config.v2.json missing, or naming no podshim label: nothing. */
  docker_setup (&d, "c1", NULL);
  assert_int_equal (labels (d.spec, "c1", &doc, &err), 0);
  assert_null (doc);
  assert_null (err);
  docker_teardown (&d);
  docker_setup (&d, "c1", "{\"Config\":{\"Labels\":{\"other\":\"x\"}}}");
  assert_int_equal (labels (d.spec, "c1", &doc, &err), 0);
  assert_null (doc);
  assert_false (docker_labels_may_name_pod (d.spec, strlen (d.spec), "c1"));
  docker_teardown (&d);
  /* unreadable (here: a directory) or missing: the scan says no pod */
  docker_setup (&d, "c1", NULL);
  char *v2 = t_printf ("%s/config.v2.json", d.cdir);
  assert_int_equal (mkdir (v2, 0700), 0);
  assert_false (docker_labels_may_name_pod (d.spec, strlen (d.spec), "c1"));
  free (v2);
  docker_teardown (&d);

  /* A corrupted one that may name a pod is an error naming the file. */
  docker_setup (&d, "c1", "{\"Config\":{\"Labels\":{\"podshim.pod\":");
  assert_true (labels (d.spec, "c1", &doc, &err) < 0);
  assert_null (doc);
  assert_error_contains (&err, "config.v2.json");
  docker_teardown (&d);

  /* No /etc/hostname mount, or a relative source: not Docker. */
  assert_int_equal (
      labels ("{\"mounts\":[{\"destination\":\"/etc/hosts\",\"source\":\"/x/c1/hosts\"}]}", "c1",
              &doc, &err),
      0);
  assert_null (doc);
  assert_int_equal (
      labels ("{\"mounts\":[{\"destination\":\"/etc/hostname\",\"source\":\"c1/hostname\"}]}", "c1",
              &doc, &err),
      0);
  assert_int_equal (
      labels ("{\"mounts\":[{\"destination\":\"/etc/hostname\",\"source\":\"/hostname\"}]}", "c1",
              &doc, &err),
      0);
  assert_int_equal (labels ("{\"mounts\":[{\"destination\":\"/etc/hostname\"}]}", "c1", &doc, &err),
                    0);
  assert_int_equal (labels ("{\"mounts\":{}}", "c1", &doc, &err), 0);
  assert_null (doc);
  assert_null (err);
}

static void
test_docker_network_none (void **state)
{
  (void)state;
  struct docker d;
  docker_setup (&d, "c1", NULL);
  yajl_val spec = t_parse (d.spec);
  assert_false (docker_network_none (spec, "c1")); /* no hostconfig.json */
  char *hc = t_printf ("%s/hostconfig.json", d.cdir);
  t_write (hc, "{\"NetworkMode\":\"none\",\"PortBindings\":{}}");
  assert_true (docker_network_none (spec, "c1"));
  assert_false (docker_network_none (spec, "c2")); /* not its directory */
  t_write (hc, "{\"NetworkMode\":\"bridge\"}");
  assert_false (docker_network_none (spec, "c1"));
  t_write (hc, "{\"NetworkMode\":\"container:abc\"}");
  assert_false (docker_network_none (spec, "c1"));
  char *mode = docker_network_mode (spec, "c1");
  assert_string_equal (mode, "container:abc");
  free (mode);
  t_write (hc, "{\"NetworkMode\":7}");
  assert_null (docker_network_mode (spec, "c1"));
  t_write (hc, "{\"NetworkMode\":");
  assert_false (docker_network_none (spec, "c1")); /* unreadable: not none */
  assert_null (docker_network_mode (spec, "c1"));
  assert_null (docker_network_mode (spec, "c2"));
  yajl_tree_free (spec);
  spec = t_parse ("{}");
  assert_false (docker_network_none (spec, "c1"));
  yajl_tree_free (spec);
  free (hc);
  docker_teardown (&d);
}

static void
test_volume_sizes_and_refusals (void **state)
{
  (void)state;
  char **v = NULL;
  unsigned long long *sz = NULL;
  size_t n = 0;
  struct podshim_error *err = NULL;
  assert_int_equal (
      pod_volumes_parse_sized ("/cache:64m, /b ,/c:1K,/d:3,/e:2g,/cache:64M", &v, &sz, &n, &err),
      0);
  assert_int_equal (n, 5);
  assert_string_equal (v[0], "/cache");
  assert_true (sz[0] == 64ULL << 20);
  assert_string_equal (v[1], "/b");
  assert_true (sz[1] == 0);
  assert_true (sz[2] == 4096); /* rounded up to a page */
  assert_true (sz[3] == 4096);
  assert_true (sz[4] == 2ULL << 30);
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
  free (sz);
  /* Without sizes asked for, the paths only. */
  assert_volumes ("/cache:64m", 1, (const char *[]){ "/cache" });

  assert_bad_volumes ("/cache:", "invalid size `` of pod volume `/cache`");
  assert_bad_volumes ("/cache:0", "invalid size `0`");
  assert_bad_volumes ("/cache:64x", "invalid size `64x`");
  assert_bad_volumes ("/cache:m", "invalid size `m`");
  assert_bad_volumes ("/cache:-1", "invalid size `-1`");
  assert_bad_volumes ("/cache:2t", "invalid size `2t`");
  assert_bad_volumes ("/cache:1025g", "invalid size `1025g`");
  assert_bad_volumes ("/cache:99999999999999999999999", "invalid size");
  assert_bad_volumes ("/a:b:1m", "invalid pod volume `/a:b`");
  assert_bad_volumes ("/a:b", "invalid size `b`");
  assert_bad_volumes ("/a:1m,/a:2m", "pod volume `/a` is given two sizes");
  assert_bad_volumes ("/a:1m,/a", "pod volume `/a` is given two sizes");

  assert_bad_volumes ("/proc", "pod volume `/proc` is refused");
  assert_bad_volumes ("/x,/proc/sys", "pod volume `/proc/sys` is refused");
  assert_bad_volumes ("/sys", "pod volume `/sys` is refused");
  assert_bad_volumes ("/sys/fs/cgroup:1m", "pod volume `/sys/fs/cgroup` is refused");
  assert_bad_volumes ("/dev", "pod volume `/dev` is refused");
  assert_bad_volumes ("/dev/shm", "pod volume `/dev/shm` is refused");
  assert_volumes ("/procx,/sysfs,/devices,/data/proc", 4,
                  (const char *[]){ "/procx", "/sysfs", "/devices", "/data/proc" });

  assert_bad_volumes ("/data,/data/sub",
                      "pod volume `/data/sub` is inside pod volume `/data`: nested pod volumes are"
                      " refused");
  assert_bad_volumes ("/data/sub/x,/data", "pod volume `/data/sub/x` is inside pod volume `/data`");
  assert_volumes ("/data,/data2,/dat", 3, (const char *[]){ "/data", "/data2", "/dat" });
}

static int
scope_of (const char *spec_text, const char *labels_text, char **ret, struct podshim_error **err)
{
  yajl_val spec = t_parse (spec_text);
  yajl_val labels = labels_text ? t_parse (labels_text) : NULL;
  *ret = NULL;
  int r = pod_scope_from_spec (spec, labels, ret, err);
  yajl_tree_free (spec);
  if (labels)
    yajl_tree_free (labels);
  return r;
}

static void
test_scope (void **state)
{
  (void)state;
  char *s = NULL;
  struct podshim_error *err = NULL;
  assert_true (0 == scope_of ("{}", NULL, &s, &err));
  assert_null (s);
  assert_true (0
               == scope_of ("{}",
                            "{\"Config\":{\"Labels\":{\"com.docker.compose.project\":\"shop\"}}}",
                            &s, &err));
  assert_string_equal (s, "compose:shop");
  free (s);
  assert_true (0
               == scope_of ("{}",
                            "{\"Config\":{\"Labels\":{\"com.docker.compose.project\":\"a\","
                            "\"com.docker.stack.namespace\":\"st.1\"}}}",
                            &s, &err));
  assert_string_equal (s, "stack:st.1"); /* a stack wins over a project */
  free (s);
  assert_true (0
               == scope_of ("{\"annotations\":{\"com.docker.compose.project\":\"ann\"}}",
                            "{\"Config\":{\"Labels\":{\"com.docker.compose.project\":\"lab\"}}}",
                            &s, &err));
  assert_string_equal (s, "compose:ann");
  free (s);
  /* Never from the environment: an image's ENV must not pick another scope. */
  assert_true (
      0 == scope_of ("{\"process\":{\"env\":[\"com.docker.compose.project=x\"]}}", NULL, &s, &err));
  assert_null (s);

  assert_true (0 > scope_of ("{}",
                             "{\"Config\":{\"Labels\":{\"com.docker.compose.project\":\"a:b\"}}}",
                             &s, &err));
  assert_error_contains (&err, "invalid label com.docker.compose.project `a:b`");
  assert_true (0 > scope_of ("{}",
                             "{\"Config\":{\"Labels\":{\"com.docker.stack.namespace\":\"\"}}}", &s,
                             &err));
  assert_error_contains (&err, "invalid label com.docker.stack.namespace ``");
  assert_true (
      0 > scope_of ("{\"annotations\":{\"com.docker.compose.project\":\"../x\"}}", NULL, &s, &err));
  assert_error_contains (&err, "invalid annotation com.docker.compose.project `../x`");
  char *big = malloc (POD_SCOPE_VALUE_MAX + 2);
  memset (big, 'a', POD_SCOPE_VALUE_MAX + 1);
  big[POD_SCOPE_VALUE_MAX + 1] = '\0';
  char *doc = t_printf ("{\"annotations\":{\"com.docker.compose.project\":\"%s\"}}", big);
  assert_true (0 > scope_of (doc, NULL, &s, &err));
  assert_error_contains (&err, "must be 1-100 characters");
  free (doc);
  big[POD_SCOPE_VALUE_MAX] = '\0';
  doc = t_printf ("{\"annotations\":{\"com.docker.compose.project\":\"%s\"}}", big);
  assert_true (0 == scope_of (doc, NULL, &s, &err));
  assert_int_equal (strlen (s), 8 + POD_SCOPE_VALUE_MAX);
  free (s);
  free (doc);
  free (big);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_annotation),    cmocka_unit_test (test_precedence_per_key),
    cmocka_unit_test (test_share),         cmocka_unit_test (test_pod_names),
    cmocka_unit_test (test_volumes),       cmocka_unit_test (test_volume_sizes_and_refusals),
    cmocka_unit_test (test_scope),         cmocka_unit_test (test_volume_dirname),
    cmocka_unit_test (test_may_name_pod),  cmocka_unit_test (test_scan_docker_dirs),
    cmocka_unit_test (test_docker_labels), cmocka_unit_test (test_docker_network_none),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

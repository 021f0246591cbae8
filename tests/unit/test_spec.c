/* spec_join_pod against golden files: tests/data/spec/<case>.in.json, the plan
 * applied (<case>.plan.json, see regen.py there) and <case>.out.json, compared
 * in canonical form; or the error the plan names. One cmocka test per case. */
#include "config.h"
#include "testutil.h"

#include "fsutil.h"
#include "spec.h"

#include <dirent.h>

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must be defined"
#endif

#define DEFAULT_NS_DIR "/run/podshim/8c0f7e1b2a3d4c5e/pods/web/ns/"

/* Cases that must exist: the directory scan runs whatever else is there. */
static const char *const required_cases[] = {
  "docker-first",
  "docker-second",
  "runc-default",
  "missing-namespaces",
  "no-linux",
  "pid-sharing",
  "ipc-only",
  "uts-only",
  "sysctl-slash",
  "volumes",
  "volume-conflict",
  "volume-conflict-unclean",
  "namespace-twice",
  "linux-not-object",
  "unknown-fields",
  "hook-variants",
  "docker28-bridge",
  "docker28-none",
  "docker28-host",
  "docker28-resolv",
  "shm-tmpfs",
  "shm-bind",
  "shm-no-ipc",
  "userns-remap",
  NULL,
};

static char *data_dir;

static char *
case_file (const char *name, const char *suffix)
{
  return t_printf ("%s/%s%s", data_dir, name, suffix);
}

static yajl_val
load_json (const char *path)
{
  struct podshim_error *err = NULL;
  char *buf = NULL;
  size_t len = 0;
  int r = read_file_at (AT_FDCWD, path, 0, 16 << 20, &buf, &len, &err);
  assert_no_error (r, err);
  yajl_val v = NULL;
  r = json_parse (buf, len, path, &v, &err);
  assert_no_error (r, err);
  free (buf);
  return v;
}

struct plan_storage
{
  struct join_plan plan;
  struct join_volume vols[8];
  char *paths[POD_NS_COUNT];
  const char *error;
  long long dropped_hooks; /* -1: not checked */
};

static void
load_plan (yajl_val doc, struct plan_storage *ps)
{
  memset (ps, 0, sizeof (*ps));
  ps->dropped_hooks = -1;
  yajl_val share = json_get_array (doc, "share");
  assert_non_null (share);
  for (size_t i = 0; i < share->u.array.len; i++)
    {
      struct podshim_error *err = NULL;
      unsigned bit = 0;
      int r = pod_ns_parse_list (share->u.array.values[i]->u.string, &bit, &err);
      assert_no_error (r, err);
      ps->plan.share |= bit;
    }
  yajl_val ns_path = json_get_object (doc, "ns_path");
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    {
      int idx = pod_ns_index (bit);
      const char *p = json_get_string (ns_path, pod_ns_name (bit));
      ps->paths[idx] = p ? t_strdup (p) : t_printf (DEFAULT_NS_DIR "%s", pod_ns_name (bit));
      ps->plan.ns_path[idx] = ps->paths[idx];
    }
  yajl_val keep = json_get (doc, "keep_network_hook");
  ps->plan.keep_network_hook = keep && keep->type == yajl_t_true;
  yajl_val host = json_get (doc, "docker_host_network");
  ps->plan.docker_host_network = host && host->type == yajl_t_true;
  yajl_val adopt = json_get (doc, "adopt_network");
  ps->plan.adopt_network = adopt && adopt->type == yajl_t_true;
  ps->plan.resolv_conf = json_get_string (doc, "resolv_conf");
  ps->plan.hosts = json_get_string (doc, "hosts");
  yajl_val vols = json_get_array (doc, "volumes");
  for (size_t i = 0; vols && i < vols->u.array.len; i++)
    {
      assert_true (i < 8);
      ps->vols[i].destination = json_get_string (vols->u.array.values[i], "destination");
      ps->vols[i].source = json_get_string (vols->u.array.values[i], "source");
      assert_non_null (ps->vols[i].destination);
      assert_non_null (ps->vols[i].source);
      ps->plan.n_volumes++;
    }
  ps->plan.volumes = ps->vols;
  ps->plan.shm = json_get_string (doc, "shm");
  ps->plan.userns_path = json_get_string (doc, "userns_path");
  ps->error = json_get_string (doc, "error");
  yajl_val d = json_get (doc, "dropped_hooks");
  if (d)
    ps->dropped_hooks = d->u.number.i;
}

static void
free_plan (struct plan_storage *ps)
{
  for (int i = 0; i < POD_NS_COUNT; i++)
    free (ps->paths[i]);
}

/* Fails showing where the canonical forms first differ. */
static void
assert_same_json (const char *what, const char *got, const char *want)
{
  if (strcmp (got, want) == 0)
    return;
  size_t i = 0;
  while (got[i] && got[i] == want[i])
    i++;
  size_t from = i > 80 ? i - 80 : 0;
  fail_msg ("%s differs at offset %zu:\n  got:  ...%.160s\n  want: ...%.160s", what, i, got + from,
            want + from);
}

/* The plan may replace the /dev/shm mount (shm, with ipc shared). */
static bool survive_shm;

static bool
t_str_eq (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

/* Everything in `in` is in `out` (arrays may grow), except what the plan may
 * change: hostname/domainname, namespace paths, and sysctls of shared
 * namespaces. Objects' duplicate keys are matched occurrence by occurrence. */
static void
assert_survives (yajl_val in, yajl_val out, const char *path, unsigned share)
{
  if (in->type != out->type)
    fail_msg ("`%s` changed type", path);
  if (in->type == yajl_t_object)
    {
      for (size_t i = 0; i < in->u.object.len; i++)
        {
          const char *k = in->u.object.keys[i];
          char *sub = t_printf ("%s.%s", path, k);
          bool may_go = ((share & POD_NS_UTS)
                         && (strcmp (sub, ".hostname") == 0 || strcmp (sub, ".domainname") == 0))
                        || strcmp (sub, ".linux.namespaces[].path") == 0
                        /* /etc/resolv.conf and /etc/hosts: the owner's */
                        || ((share & POD_NS_NET) && strcmp (sub, ".mounts[].source") == 0)
                        || (strcmp (path, ".linux.sysctl") == 0 && sysctl_in_namespaces (k, share));
          if (!may_go)
            {
              size_t nth = 0;
              for (size_t j = 0; j < i; j++)
                nth += strcmp (in->u.object.keys[j], k) == 0;
              yajl_val o = NULL;
              for (size_t j = 0; j < out->u.object.len && o == NULL; j++)
                if (strcmp (out->u.object.keys[j], k) == 0 && nth-- == 0)
                  o = out->u.object.values[j];
              if (o == NULL)
                fail_msg ("`%s` is gone", sub);
              assert_survives (in->u.object.values[i], o, sub, share);
            }
          free (sub);
        }
      return;
    }
  if (in->type == yajl_t_array)
    {
      if (out->u.array.len < in->u.array.len)
        fail_msg ("`%s` lost elements", path);
      char *sub = t_printf ("%s[]", path);
      for (size_t i = 0; i < in->u.array.len; i++)
        if (!(survive_shm && strcmp (path, ".mounts") == 0
              && t_str_eq (json_get_string (in->u.array.values[i], "destination"), "/dev/shm")))
          assert_survives (in->u.array.values[i], out->u.array.values[i], sub, share);
      free (sub);
      return;
    }
  char *a = t_emit (in), *b = t_emit (out);
  if (strcmp (a, b) != 0)
    fail_msg ("`%s` changed from %s to %s", path, a, b);
  free (a);
  free (b);
}

static void
run_case (void **state)
{
  const char *name = *state;
  char *in_path = case_file (name, ".in.json");
  char *plan_path = case_file (name, ".plan.json");
  char *out_path = case_file (name, ".out.json");
  yajl_val plan_doc = load_json (plan_path);
  if (json_get_string (json_get_object (plan_doc, "netowner"), "refused"))
    {
      /* Refused before any rewrite (test_netowner): no output. */
      assert_int_equal (access (out_path, F_OK), -1);
      yajl_tree_free (plan_doc);
      free (in_path);
      free (plan_path);
      free (out_path);
      return;
    }
  struct plan_storage ps;
  load_plan (plan_doc, &ps);
  yajl_val spec = load_json (in_path);
  struct podshim_error *err = NULL;
  size_t dropped = 12345;
  int r = spec_join_pod (spec, &ps.plan, &dropped, &err);
  if (ps.error)
    {
      if (r == 0)
        fail_msg ("case %s: expected an error containing `%s`", name, ps.error);
      assert_error_contains (&err, ps.error);
      assert_int_equal (access (out_path, F_OK), -1); /* an error case has no output */
    }
  else
    {
      assert_no_error (r, err);
      if (ps.dropped_hooks >= 0)
        assert_int_equal (dropped, ps.dropped_hooks);
      yajl_val want = load_json (out_path);
      char *got_text = t_emit (spec), *want_text = t_emit (want);
      assert_same_json (name, got_text, want_text);

      /* The emitted text parses back to the same thing. */
      char *again = t_canon (got_text);
      assert_string_equal (again, got_text);
      free (again);

      /* What the plan does not touch survives (arrays shrink only by hooks). */
      if (dropped == 0)
        {
          yajl_val orig = load_json (in_path);
          survive_shm = ps.plan.shm && (ps.plan.share & POD_NS_IPC);
          assert_survives (orig, spec, "", ps.plan.share);
          yajl_tree_free (orig);
        }

      /* Joining again changes nothing (volumes would now conflict). */
      if (ps.plan.n_volumes == 0)
        {
          size_t d2 = 1;
          r = spec_join_pod (spec, &ps.plan, &d2, &err);
          assert_no_error (r, err);
          assert_int_equal (d2, 0);
          char *twice = t_emit (spec);
          assert_same_json ("joined twice", twice, want_text);
          free (twice);
        }
      free (got_text);
      free (want_text);
      yajl_tree_free (want);
    }
  yajl_tree_free (spec);
  yajl_tree_free (plan_doc);
  free_plan (&ps);
  free (in_path);
  free (plan_path);
  free (out_path);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static char **case_names;
static size_t n_cases;

static void
test_required_cases_exist (void **state)
{
  (void)state;
  for (size_t i = 0; required_cases[i]; i++)
    {
      if (bsearch (&required_cases[i], case_names, n_cases, sizeof (char *), cmp_str) == NULL)
        fail_msg ("golden case `%s` is missing", required_cases[i]);
      char *plan = case_file (required_cases[i], ".plan.json");
      assert_int_equal (access (plan, R_OK), 0);
      free (plan);
    }
}

/* The docker cases differ only in the hook: kept for the first member. */
static void
test_network_hook_detection (void **state)
{
  (void)state;
  char *p = case_file ("docker-first", ".in.json");
  yajl_val spec = load_json (p);
  assert_true (spec_has_network_hook (spec));
  yajl_tree_free (spec);
  free (p);
  p = case_file ("docker-second", ".out.json");
  spec = load_json (p);
  assert_false (spec_has_network_hook (spec));
  yajl_tree_free (spec);
  free (p);
  p = case_file ("runc-default", ".in.json");
  spec = load_json (p);
  assert_false (spec_has_network_hook (spec));
  yajl_tree_free (spec);
  free (p);
  spec = t_parse (
      "{\"hooks\":{\"createRuntime\":[{\"args\":[\"x\",\"y\",\"libnetwork-setkey\"]}]}}");
  assert_true (spec_has_network_hook (spec));
  yajl_tree_free (spec);
  spec = t_parse ("{\"hooks\":{\"prestart\":[{\"args\":[\"a\",\"b\",\"c\",\"libnetwork-setkey\"]}],"
                  "\"poststart\":[{\"args\":[\"libnetwork-setkey\"]}]}}");
  assert_false (spec_has_network_hook (spec));
  yajl_tree_free (spec);
  spec = t_parse (
      "{\"hooks\":{\"prestart\":[\"libnetwork-setkey\",{\"args\":\"libnetwork-setkey\"}]}}");
  assert_false (spec_has_network_hook (spec));
  yajl_tree_free (spec);
}

/* What a container brings to the pod's network, from its config (real ones:
 * dockerd 20.10 with the setkey hook, dockerd 28.5 without) and Docker's
 * NetworkMode. */
static void
test_network_kind (void **state)
{
  (void)state;
  static const struct
  {
    const char *config; /* case name, or inline JSON when it starts with '{' */
    const char *mode;
    enum spec_network want;
  } cases[] = {
    { "docker-first", "bridge", SPEC_NET_HOOK },
    { "docker-first", NULL, SPEC_NET_HOOK },
    { "docker-first", "none", SPEC_NET_NO_INTERFACE }, /* 20.10 hooks none too */
    { "docker28-bridge", "bridge", SPEC_NET_AFTER_CREATE },
    { "docker28-bridge", "default", SPEC_NET_AFTER_CREATE },
    { "docker28-bridge", "podnet", SPEC_NET_AFTER_CREATE },
    { "docker28-bridge", NULL, SPEC_NET_NO_INTERFACE }, /* not Docker: nobody plumbs it */
    { "docker28-bridge", "container:0123abcd", SPEC_NET_NO_INTERFACE },
    { "docker28-bridge", "host", SPEC_NET_NO_INTERFACE },
    { "docker28-none", "none", SPEC_NET_NO_INTERFACE },
    { "docker28-host", "host", SPEC_NET_NO_INTERFACE },
    { "docker28-host", "bridge", SPEC_NET_NO_INTERFACE }, /* no netns entry */
    { "runc-default", NULL, SPEC_NET_NO_INTERFACE },
    { "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/x\"}]}}", "bridge",
      SPEC_NET_NO_INTERFACE },
    { "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"\"}]}}", "bridge",
      SPEC_NET_AFTER_CREATE },
    { "{\"linux\":{\"namespaces\":{}}}", "bridge", SPEC_NET_NO_INTERFACE },
    { "{\"linux\":[]}", "bridge", SPEC_NET_NO_INTERFACE },
    { "[]", "bridge", SPEC_NET_NO_INTERFACE },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      yajl_val spec;
      if (cases[i].config[0] == '{' || cases[i].config[0] == '[')
        spec = t_parse (cases[i].config);
      else
        {
          char *p = case_file (cases[i].config, ".in.json");
          spec = load_json (p);
          free (p);
        }
      enum spec_network got = spec_network_kind (spec, cases[i].mode);
      if (got != cases[i].want)
        fail_msg ("%s with NetworkMode %s: got %d, want %d", cases[i].config,
                  cases[i].mode ? cases[i].mode : "(none)", got, cases[i].want);
      yajl_tree_free (spec);
    }
}

static void
test_sysctl_classes (void **state)
{
  (void)state;
  const unsigned all = POD_NS_NET | POD_NS_IPC | POD_NS_UTS | POD_NS_PID;
  assert_true (sysctl_in_namespaces ("net.ipv4.ip_forward", POD_NS_NET));
  assert_false (sysctl_in_namespaces ("net.ipv4.ip_forward", POD_NS_IPC | POD_NS_UTS | POD_NS_PID));
  assert_true (sysctl_in_namespaces ("net/ipv4/ip_forward", POD_NS_NET));
  assert_true (sysctl_in_namespaces ("net/ipv4/conf/eth0.100/rp_filter", POD_NS_NET));
  assert_true (sysctl_in_namespaces ("kernel.shm_rmid_forced", POD_NS_IPC));
  assert_true (sysctl_in_namespaces ("kernel/sem", POD_NS_IPC));
  assert_true (sysctl_in_namespaces ("fs.mqueue.queues_max", POD_NS_IPC));
  assert_true (sysctl_in_namespaces ("fs/mqueue/msg_max", POD_NS_IPC));
  assert_false (sysctl_in_namespaces ("fs.mqueue.msg_max", POD_NS_NET));
  assert_true (sysctl_in_namespaces ("kernel.hostname", POD_NS_UTS));
  assert_true (sysctl_in_namespaces ("kernel/domainname", POD_NS_UTS));
  assert_false (sysctl_in_namespaces ("kernel.hostname", POD_NS_NET | POD_NS_IPC));
  assert_false (sysctl_in_namespaces ("kernel.pid_max", all));
  assert_false (sysctl_in_namespaces ("netfilter.x", all));
  assert_false (sysctl_in_namespaces ("kernel.shmmax2", all));
  assert_false (sysctl_in_namespaces ("", all));
  /* a '.' before the first '/' means dots separate: "a.b/c" is not net.* */
  assert_false (sysctl_in_namespaces ("kernel.x/net.y", all));
}

static void
test_spec_errors_leave_no_crash (void **state)
{
  (void)state;
  /* A plan sharing a namespace without a path is an internal error. */
  struct join_plan plan = { .share = POD_NS_PID };
  yajl_val spec = t_parse ("{}");
  struct podshim_error *err = NULL;
  assert_true (spec_join_pod (spec, &plan, NULL, &err) < 0);
  assert_error_contains (&err, "internal error: no path for namespace pid");
  yajl_tree_free (spec);
  assert_true (spec_join_pod (NULL, &plan, NULL, &err) < 0);
  assert_error_contains (&err, "not a JSON object");

  /* Odd but valid shapes are tolerated: non-object mounts/hooks entries. */
  const char *net = "/n";
  struct join_volume v = { .destination = "/v", .source = "/s" };
  struct join_plan p2 = { .share = POD_NS_NET, .ns_path = { net }, .volumes = &v, .n_volumes = 1 };
  spec = t_parse (
      "{\"mounts\":[1,\"x\",{\"destination\":7}],\"hooks\":{\"prestart\":[null,{\"args\":{}}],"
      "\"createRuntime\":{}},\"linux\":{}}");
  size_t dropped = 9;
  assert_int_equal (spec_join_pod (spec, &p2, &dropped, &err), 0);
  assert_null (err);
  assert_int_equal (dropped, 0);
  char *out = t_emit (spec);
  assert_string_equal (
      out,
      "{\"mounts\":[1,\"x\",{\"destination\":7},{\"destination\":\"/v\",\"type\":\"bind\","
      "\"source\":\"/"
      "s\",\"options\":[\"rbind\",\"rw\",\"nosuid\",\"nodev\"]}],\"hooks\":{\"prestart\":[null,"
      "{\"args\":{}}],\"createRuntime\":{}},\"linux\":{\"namespaces\":[{\"type\":"
      "\"network\",\"path\":\"/n\"}]}}");
  free (out);
  yajl_tree_free (spec);
}

static void
test_shm_size (void **state)
{
  (void)state;
  static const struct
  {
    const char *spec;
    unsigned long long want;
  } cases[] = {
    { "{\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"options\":"
      "[\"nosuid\",\"size=67108864\"]}]}",
      64ULL << 20 },
    { "{\"mounts\":[{\"destination\":\"/dev//shm/\",\"type\":\"tmpfs\",\"options\":"
      "[\"size=65536k\"]}]}",
      64ULL << 20 },
    { "{\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"options\":"
      "[\"size=1g\"]}]}",
      1ULL << 30 },
    { "{\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"options\":"
      "[\"size=12x\",\"size=\",7]}]}",
      64ULL << 20 },
    { "{\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"options\":"
      "[\"size=99999999999999999999g\"]}]}",
      64ULL << 20 },
    { "{\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":"
      "\"/nonexistent/shm\"}]}",
      64ULL << 20 },
    { "{\"mounts\":[{\"destination\":\"/dev/shmx\"},1]}", 0 },
    { "{}", 0 },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      yajl_val spec = t_parse (cases[i].spec);
      unsigned long long got = spec_shm_size (spec);
      if (got != cases[i].want)
        fail_msg ("%s: got %llu, want %llu", cases[i].spec, got, cases[i].want);
      yajl_tree_free (spec);
    }
}

static void
test_mount_source (void **state)
{
  (void)state;
  static const struct
  {
    const char *spec, *dest, *want;
  } cases[] = {
    { "{\"mounts\":[1,{\"destination\":\"/etc/hosts\",\"source\":\"/a\"},"
      "{\"destination\":\"/etc/hosts\",\"source\":\"/b\"}]}",
      "/etc/hosts", "/a" },
    { "{\"mounts\":[{\"destination\":\"//etc/./hosts/\",\"source\":\"/a\"}]}", "/etc/hosts", "/a" },
    { "{\"mounts\":[{\"destination\":\"/etc/hosts\",\"source\":7}]}", "/etc/hosts", NULL },
    { "{\"mounts\":[{\"destination\":\"/etc/hostsx\",\"source\":\"/a\"}]}", "/etc/hosts", NULL },
    { "{\"mounts\":{\"destination\":\"/etc/hosts\",\"source\":\"/a\"}}", "/etc/hosts", NULL },
    { "{}", "/etc/hosts", NULL },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      yajl_val spec = t_parse (cases[i].spec);
      const char *got = spec_mount_source (spec, cases[i].dest);
      if (got != cases[i].want && !t_str_eq (got, cases[i].want))
        fail_msg ("%s: got %s, want %s", cases[i].spec, got ? got : "NULL",
                  cases[i].want ? cases[i].want : "NULL");
      yajl_tree_free (spec);
    }
}

int
main (void)
{
  const char *env = getenv ("PODSHIM_TEST_DATA");
  data_dir = t_printf ("%s/spec", env && *env ? env : TEST_DATA_DIR);
  DIR *d = opendir (data_dir);
  if (d == NULL)
    {
      fprintf (stderr, "cannot open %s\n", data_dir);
      return 1;
    }
  size_t cap = 64;
  case_names = calloc (cap, sizeof (char *));
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      size_t len = strlen (de->d_name);
      const char *suffix = ".in.json";
      if (len <= strlen (suffix) || strcmp (de->d_name + len - strlen (suffix), suffix) != 0)
        continue;
      if (n_cases == cap)
        case_names = reallocarray (case_names, cap *= 2, sizeof (char *));
      case_names[n_cases++] = strndup (de->d_name, len - strlen (suffix));
    }
  closedir (d);
  qsort (case_names, n_cases, sizeof (char *), cmp_str);

  struct CMUnitTest *tests = calloc (n_cases + 7, sizeof (*tests));
  size_t n = 0;
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_required_cases_exist);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_network_hook_detection);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_network_kind);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_sysctl_classes);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_spec_errors_leave_no_crash);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_shm_size);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test (test_mount_source);
  for (size_t i = 0; i < n_cases; i++)
    tests[n++] = (struct CMUnitTest){ .name = case_names[i],
                                      .test_func = run_case,
                                      .initial_state = case_names[i] };
  int r = _cmocka_run_group_tests ("spec", tests, n, NULL, NULL);
  free (tests);
  for (size_t i = 0; i < n_cases; i++)
    free (case_names[i]);
  free (case_names);
  free (data_dir);
  return r;
}

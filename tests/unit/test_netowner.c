/* runtime/engine/netowner: who brings a pod its network. The decision that
 * gives each golden case's plan (tests/data/spec/<case>.plan.json's
 * "netowner": what the engine is seen to be, the pod's owner, the role or the
 * refusal; test_spec applies the plan to <case>.in.json), the same real
 * configs under other facts, the Docker daemon's answers, and the questions
 * asked of a fake daemon. */
#include "config.h"
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "fsutil.h"
#include "netowner.h"
#include "spec.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must be defined"
#endif

#define OWNER "5bd0f1e26e8a0c7b3e0b7e3f6f1c2d4a9e8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"

static yajl_val
load_case (const char *name, const char *suffix)
{
  char *path = t_printf ("%s/spec/%s%s", TEST_DATA_DIR, name, suffix);
  struct podshim_error *err = NULL;
  char *buf = NULL;
  size_t len = 0;
  assert_no_error (read_file_at (AT_FDCWD, path, 0, 16 << 20, &buf, &len, &err), err);
  yajl_val v = NULL;
  assert_no_error (json_parse (buf, len, path, &v, &err), err);
  free (buf);
  free (path);
  return v;
}

/* config.v2.json with these networks (NULL-terminated; NULL: no document). */
static yajl_val
labels_with (const char *const *nets)
{
  if (nets == NULL)
    return NULL;
  yajl_val doc = json_new_object (), ns = json_new_object (), n = json_new_object ();
  for (size_t i = 0; nets[i]; i++)
    json_object_set (n, nets[i], json_new_object ());
  json_object_set (ns, "Networks", n);
  json_object_set (doc, "NetworkSettings", ns);
  return doc;
}

static const char *const ROLES[] = { "join", "own", "adopt" };

/* Decides for spec under the facts; the role's name, or NULL with *ret_err. */
static const char *
decide (yajl_val spec, const char *mode, const char *const *nets, int bridge, const char *name,
        const char *owner, bool fresh, struct podshim_error **ret_err)
{
  struct net_engine e = NET_ENGINE_INIT;
  yajl_val labels = labels_with (nets);
  netowner_facts_from (spec, mode, labels, &e);
  yajl_tree_free (labels);
  e.bridge = bridge;
  if (name)
    {
      free (e.name);
      e.name = t_strdup (name);
    }
  enum net_role role = NET_ROLE_JOIN;
  int r = netowner_decide (netowner_plumb (spec, &e), &e, "web", owner, fresh,
                           spec_network_path (spec), &role, ret_err);
  net_engine_free (&e);
  return r < 0 ? NULL : ROLES[role];
}

/* Every golden case with a "netowner": the decision gives its plan. */
static void
test_golden_decisions (void **state)
{
  (void)state;
  char *dir = t_printf ("%s/spec", TEST_DATA_DIR);
  DIR *d = opendir (dir);
  assert_non_null (d);
  struct dirent *de;
  size_t n = 0;
  while ((de = readdir (d)))
    {
      size_t l = strlen (de->d_name);
      if (l < 11 || strcmp (de->d_name + l - 10, ".plan.json") != 0)
        continue;
      char *name = t_printf ("%.*s", (int)(l - 10), de->d_name);
      yajl_val plan = load_case (name, ".plan.json");
      yajl_val no = json_get_object (plan, "netowner");
      if (no == NULL)
        {
          yajl_tree_free (plan);
          free (name);
          continue;
        }
      n++;
      yajl_val spec = load_case (name, ".in.json");
      const char *nets[8] = { NULL };
      yajl_val na = json_get_array (no, "docker_networks");
      for (size_t i = 0; na && i < na->u.array.len && i < 7; i++)
        nets[i] = na->u.array.values[i]->u.string;
      yajl_val b = json_get (no, "bridge");
      yajl_val fr = json_get (no, "fresh");
      struct podshim_error *err = NULL;
      const char *role
          = decide (spec, json_get_string (no, "docker_mode"), na ? nets : NULL,
                    b ? (int)b->u.number.i : -1, json_get_string (no, "name"),
                    json_get_string (no, "owner"), fr && fr->type == yajl_t_true, &err);
      const char *refused = json_get_string (no, "refused");
      if (refused)
        {
          if (role)
            fail_msg ("case %s: not refused (%s); want `%s`", name, role, refused);
          assert_error_contains (&err, refused);
        }
      else
        {
          if (role == NULL)
            fail_msg ("case %s: refused: %s", name, err->msg);
          const char *want = json_get_string (no, "role");
          if (strcmp (role, want) != 0)
            fail_msg ("case %s: role %s, want %s", name, role, want);
          yajl_val keep = json_get (plan, "keep_network_hook");
          yajl_val adopt = json_get (plan, "adopt_network");
          assert_int_equal (keep && keep->type == yajl_t_true, strcmp (role, "join") != 0);
          assert_int_equal (adopt && adopt->type == yajl_t_true, strcmp (role, "adopt") == 0);
        }
      yajl_tree_free (spec);
      yajl_tree_free (plan);
      free (name);
    }
  closedir (d);
  free (dir);
  assert_true (n >= 12);
}

static const char *const BRIDGE_ONLY[] = { "bridge", NULL };
static const char *const BRIDGE_AND_PODNET[] = { "bridge", "podnet", NULL };
static const char *const NO_NETS[] = { NULL };

static void
assert_role (const char *got, const char *want, struct podshim_error **err)
{
  if (got == NULL)
    fail_msg ("refused: %s; want %s", (*err)->msg, want);
  assert_string_equal (got, want);
}

/* The real configs of a default-network container (no hook, a fresh
 * namespace) under what the daemon says of its default bridge. */
static void
test_default_network (void **state)
{
  (void)state;
  static const char *const cases[]
      = { "docker20-nobridge", "docker28-nobridge", "docker28-bridge-second", NULL };
  struct podshim_error *err = NULL;
  for (size_t i = 0; cases[i]; i++)
    {
      yajl_val spec = load_case (cases[i], ".in.json");
      /* No bridge: never owns, never refused, whatever the pod. */
      assert_role (decide (spec, "default", BRIDGE_ONLY, 0, NULL, NULL, true, &err), "join", &err);
      assert_role (decide (spec, "default", BRIDGE_ONLY, 0, NULL, OWNER, false, &err), "join",
                   &err);
      assert_role (decide (spec, "default", NO_NETS, 0, NULL, OWNER, false, &err), "join", &err);
      assert_role (decide (spec, "default", NULL, 0, NULL, OWNER, false, &err), "join", &err);
      assert_role (decide (spec, "bridge", BRIDGE_ONLY, 0, NULL, OWNER, false, &err), "join", &err);
      /* A bridge, or nobody could say: plumbed after create. */
      assert_role (decide (spec, "default", BRIDGE_ONLY, 1, NULL, NULL, true, &err), "own", &err);
      assert_null (decide (spec, "default", BRIDGE_ONLY, 1, "dockerd 28.5.2", OWNER, false, &err));
      assert_error_contains (&err, "this engine (dockerd 28.5.2, which gives a container no"
                                   " libnetwork-setkey hook) would add a second interface");
      assert_null (decide (spec, "default", BRIDGE_ONLY, -1, NULL, OWNER, false, &err));
      assert_error_contains (&err, "a dockerd that gives a container no libnetwork-setkey hook;"
                                   " its version is unknown: its API was not asked");
      /* Another network besides (or instead): it has an interface there. */
      assert_null (decide (spec, "default", BRIDGE_AND_PODNET, 0, NULL, OWNER, false, &err));
      assert_error_contains (&err, "would add a second interface named eth0");
      assert_null (decide (spec, "podnet", BRIDGE_ONLY, 0, NULL, OWNER, false, &err));
      assert_error_contains (&err, "`--network none`");
      assert_role (decide (spec, "podnet", NULL, 0, NULL, NULL, true, &err), "own", &err);
      /* none, host, container: bring nothing. */
      assert_role (decide (spec, "none", NULL, 1, NULL, OWNER, false, &err), "join", &err);
      assert_role (decide (spec, "host", NULL, 1, NULL, NULL, true, &err), "join", &err);
      assert_role (decide (spec, "container:0123abcd", NULL, 1, NULL, OWNER, false, &err), "join",
                   &err);
      /* Not Docker, not podman: nobody plumbs it. */
      assert_role (decide (spec, NULL, NULL, 1, NULL, OWNER, false, &err), "join", &err);
      yajl_tree_free (spec);
    }
  /* The setkey hook (dockerd 20.10 with a bridge) says it all. */
  yajl_val spec = load_case ("docker-first", ".in.json");
  assert_role (decide (spec, "bridge", BRIDGE_ONLY, 0, NULL, NULL, true, &err), "own", &err);
  assert_role (decide (spec, "bridge", BRIDGE_ONLY, 1, NULL, OWNER, false, &err), "join", &err);
  assert_role (decide (spec, "none", NULL, 1, NULL, NULL, true, &err), "join", &err);
  yajl_tree_free (spec);
}

/* podman: its namespace, made and plumbed before create, is adopted by a new
 * pod only. */
static void
test_podman (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  yajl_val spec = load_case ("podman-owner", ".in.json");
  assert_role (decide (spec, NULL, NULL, -1, NULL, NULL, true, &err), "adopt", &err);
  assert_null (decide (spec, NULL, NULL, -1, NULL, OWNER, false, &err));
  assert_error_contains (&err, "and podman made this container a network namespace of its own"
                               " (`/run/netns/netns-");
  assert_null (decide (spec, NULL, NULL, -1, NULL, NULL, false, &err));
  assert_error_contains (&err, "podshim adopts an engine's network namespace only for a new pod's"
                               " first member");
  /* Paths that are not podman's own namespaces: never adopted (spec_join_pod
     then refuses a path of the container's own). */
  yajl_val nss = json_get_array (json_get_object (spec, "linux"), "namespaces");
  yajl_val net = NULL;
  for (size_t i = 0; i < nss->u.array.len; i++)
    if (strcmp (json_get_string (nss->u.array.values[i], "type"), "network") == 0)
      net = nss->u.array.values[i];
  static const char *const not_podman[] = {
    "/proc/1234/ns/net",     "/run/netns/mine",
    "/run/netns/netns-",     "netns/netns-abc",
    "/run/netns/netns-x/..", "/run/netns/netns-ab/../netns-cd",
    "/run/other/netns-abcd", NULL,
  };
  for (size_t i = 0; not_podman[i]; i++)
    {
      json_object_set (net, "path", json_new_string (not_podman[i]));
      assert_role (decide (spec, NULL, NULL, -1, NULL, NULL, true, &err), "join", &err);
    }
  json_object_set (net, "path", json_new_string ("/run/user/1000/netns/netns-0a1b-2c3d"));
  assert_role (decide (spec, NULL, NULL, -1, NULL, NULL, true, &err), "adopt", &err);
  /* Without podman's mark, a path is the container's own choice. */
  json_object_set (net, "path", json_new_string ("/run/netns/netns-0a1b-2c3d"));
  json_object_remove (json_get_object (spec, "annotations"), NETOWNER_PODMAN_ANNOTATION);
  assert_role (decide (spec, NULL, NULL, -1, NULL, NULL, true, &err), "join", &err);
  yajl_tree_free (spec);
  /* --network none, host: podman gives them no namespace of its own. */
  static const char *const others[] = { "podman-none", "podman-host", NULL };
  for (size_t i = 0; others[i]; i++)
    {
      spec = load_case (others[i], ".in.json");
      assert_role (decide (spec, NULL, NULL, -1, NULL, OWNER, false, &err), "join", &err);
      assert_role (decide (spec, NULL, NULL, -1, NULL, NULL, true, &err), "join", &err);
      yajl_tree_free (spec);
    }
}

static void
test_facts (void **state)
{
  (void)state;
  yajl_val spec = t_parse ("{}");
  struct
  {
    const char *mode;
    const char *labels;
    bool want;
  } cases[] = {
    { "default", "{\"NetworkSettings\":{\"Networks\":{\"bridge\":{}}}}", true },
    { "bridge", "{\"NetworkSettings\":{\"Networks\":{}}}", true },
    { "default", NULL, true },
    { "default", "{\"NetworkSettings\":{\"Networks\":{\"bridge\":{},\"podnet\":{}}}}", false },
    { "default", "{\"NetworkSettings\":{\"Networks\":[\"bridge\"]}}", false },
    { "podnet", "{\"NetworkSettings\":{\"Networks\":{\"podnet\":{}}}}", false },
    { "none", NULL, false },
    { NULL, NULL, false },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct net_engine e = NET_ENGINE_INIT;
      yajl_val labels = cases[i].labels ? t_parse (cases[i].labels) : NULL;
      netowner_facts_from (spec, cases[i].mode, labels, &e);
      assert_int_equal (e.default_bridge, cases[i].want);
      assert_int_equal (e.bridge, -1);
      if (cases[i].mode)
        assert_string_equal (e.docker_mode, cases[i].mode);
      else
        assert_null (e.docker_mode);
      assert_null (e.name);
      net_engine_free (&e);
      yajl_tree_free (labels);
    }
  yajl_tree_free (spec);
  /* podman's mark: the engine's name, no Docker mode. */
  spec = t_parse ("{\"annotations\":{\"io.container.manager\":\"libpod\"}}");
  struct net_engine e = NET_ENGINE_INIT;
  netowner_facts_from (spec, "default", NULL, &e);
  assert_string_equal (e.name, "podman");
  assert_null (e.docker_mode);
  net_engine_free (&e);
  yajl_tree_free (spec);
}

#define ID "0c8b58c583b4d305063c2d56b52bb244e2e5d3d091e952091f431c4529afff47"

static void
test_docker_answers (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  const char *list = "[{\"Id\":\"ffff\"},{\"Id\":\"" ID "\",\"Names\":[\"/app\"]}]";
  struct net_engine e = NET_ENGINE_INIT;
  assert_no_error (
      netowner_docker_answers (ID, list, 404, "{\"Version\":\"20.10.24+dfsg1\"}", &e, &err), err);
  assert_int_equal (e.bridge, 0);
  assert_string_equal (e.name, "dockerd 20.10.24+dfsg1");
  assert_no_error (netowner_docker_answers (ID, list, 200, "{\"Version\":\"28.5.2\"}", &e, &err),
                   err);
  assert_int_equal (e.bridge, 1);
  assert_string_equal (e.name, "dockerd 28.5.2");
  /* Not asked about the bridge: what was known stays. */
  e.bridge = -1;
  assert_no_error (netowner_docker_answers (ID, list, 0, "{\"Version\":\"x y\"}", &e, &err), err);
  assert_int_equal (e.bridge, -1);
  assert_string_equal (e.name, "dockerd (no version given)");
  net_engine_free (&e);
  /* Another daemon's (a wrong PODSHIM_DOCKER_HOST), or not answers at all:
     e untouched. */
  struct net_engine f = NET_ENGINE_INIT;
  assert_int_equal (
      netowner_docker_answers (ID, "[{\"Id\":\"0c8b58c583b4\"}]", 404, "{}", &f, &err), -1);
  assert_error_contains (&err, "does not list container `0c8b58c583b4`");
  assert_int_equal (netowner_docker_answers (ID, "{}", 404, "{}", &f, &err), -1);
  assert_error_contains (&err, "does not list");
  assert_int_equal (netowner_docker_answers (ID, list, 500, "{}", &f, &err), -1);
  assert_error_contains (&err, "/networks/bridge answered HTTP 500");
  assert_int_equal (netowner_docker_answers (ID, "[", 404, "{}", &f, &err), -1);
  podshim_error_free (steal_pointer (&err));
  assert_int_equal (netowner_docker_answers (ID, list, 404, "not json", &f, &err), -1);
  podshim_error_free (steal_pointer (&err));
  assert_int_equal (f.bridge, -1);
  assert_null (f.name);
}

/* A fake dockerd (API 1.41) that knows container ID, whose data-root is
 * ROOT: the questions podshim asks, one line each in log. */
#define ROOT "/srv/docker"
#define DIR_OF_ID ROOT "/containers/" ID

struct fake
{
  const char *log;
  bool bridge;   /* GET /networks/bridge: 200, else 404 */
  bool own;      /* makes its own listener (as dockerd -H unix://) */
  bool dockerd;  /* named dockerd (prctl), as the daemon is */
  int listen_fd; /* else: serves this listener, made by the parent (as
                    systemd's docker.socket) */
};

static void
fake_serve (const struct fake *f)
{
  int s = f->listen_fd;
  FILE *lf = fopen (f->log, "a");
  for (;;)
    {
      int c = accept (s, NULL, NULL);
      if (c < 0 || lf == NULL)
        _exit (1);
      char req[4096];
      size_t got = t_read_head (c, req, sizeof (req));
      char path[1024] = "";
      /* A connection that asks nothing (who listens?) is no question. */
      if (got == 0 || sscanf (req, "%*s %1023s", path) != 1)
        {
          close (c);
          continue;
        }
      fprintf (lf, "%s\n", path);
      fflush (lf);
      const char *status = "200 OK", *hdr = "", *body = "{}";
      if (strcmp (path, "/_ping") == 0)
        hdr = "Api-Version: 1.41\r\n", body = "OK";
      else if (strncmp (path, "/v1.41/containers/json?", 23) == 0)
        body = "[{\"Id\":\"" ID "\"}]";
      else if (strcmp (path, "/v1.41/networks/bridge") == 0 && !f->bridge)
        status = "404 Not Found", body = "{\"message\":\"network bridge not found\"}";
      else if (strcmp (path, "/v1.41/version") == 0)
        body = "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\"}";
      else if (strcmp (path, "/v1.41/info") == 0)
        body = "{\"ServerVersion\":\"20.10.24\",\"DockerRootDir\":\"" ROOT "\"}";
      char out[1024];
      int len = snprintf (out, sizeof (out), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n%s",
                          status, hdr, strlen (body), body);
      if (write (c, out, (size_t)len) != len)
        _exit (1);
      close (c);
    }
}

/* Starts a fake daemon at sock until fake_stop; it is named and listening
 * when this returns. */
static pid_t
fake_start (const char *sock, const struct fake *f)
{
  int ready[2];
  assert_int_equal (pipe2 (ready, O_CLOEXEC), 0);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* Gone with the test, even when it fails. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      close (ready[0]);
      if (f->dockerd)
        prctl (PR_SET_NAME, "dockerd");
      struct fake g = *f;
      if (f->own)
        {
          g.listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
          struct sockaddr_un sa = { .sun_family = AF_UNIX };
          strcpy (sa.sun_path, sock);
          if (g.listen_fd < 0 || bind (g.listen_fd, (struct sockaddr *)&sa, sizeof (sa)) < 0
              || listen (g.listen_fd, 8) < 0)
            _exit (1);
        }
      /* Named and listening: the parent may go on. */
      close (ready[1]);
      fake_serve (&g);
    }
  close (ready[1]);
  char b;
  assert_int_equal (read (ready[0], &b, 1), 0);
  close (ready[0]);
  return pid;
}

static void
fake_stop (pid_t pid)
{
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
}

/* The questions asked since the last call (the log emptied). */
static char *
asked (const char *log)
{
  char *got = t_read (log, NULL);
  FILE *f = fopen (log, "w");
  assert_non_null (f);
  fclose (f);
  return got ? got : t_strdup ("");
}

#define LISTING "/v1.41/containers/json?all=1&filters=%7B%22id%22%3A%5B%22" ID "%22%5D%7D\n"

/* Asks about container ID in dir for a member on the default network. */
static void
ask (const char *state, const char *sock, const char *dir, int probe_ms, struct net_engine *e)
{
  *e = (struct net_engine)NET_ENGINE_INIT;
  e->default_bridge = true;
  netowner_ask_docker (state, sock, ID, dir, probe_ms, 60 * 1000, e);
}

/* A daemon that made its own listener: asked once per run, then answered from
 * what podshim keeps; a container directory under another data-root is asked
 * about as ever; a restarted daemon is asked again. */
static void
test_ask_docker (void **state_)
{
  (void)state_;
  char *dir = t_mkdtemp ();
  char *sock = t_printf ("%s/docker.sock", dir), *log = t_printf ("%s/log", dir);
  char *state = t_printf ("%s/state", dir);
  struct fake f = { .log = log, .own = true, .dockerd = true };
  pid_t pid = fake_start (sock, &f);
  struct net_engine e;
  ask (state, sock, DIR_OF_ID, 5000, &e);
  assert_null (e.unknown);
  assert_int_equal (e.bridge, 0);
  assert_string_equal (e.name, "dockerd 20.10.24");
  net_engine_free (&e);
  char *got = asked (log);
  assert_string_equal (got, "/_ping\n/v1.41/info\n/v1.41/networks/bridge\n");
  free (got);
  /* The same run of the daemon: nothing asked. */
  for (int i = 0; i < 3; i++)
    {
      ask (state, sock, DIR_OF_ID, 5000, &e);
      assert_null (e.unknown);
      assert_int_equal (e.bridge, 0);
      assert_string_equal (e.name, "dockerd 20.10.24");
      net_engine_free (&e);
      got = asked (log);
      assert_string_equal (got, "");
      free (got);
    }
  /* A container directory that is not under its data-root: another
     daemon's container? Asked whether it lists it, as ever. */
  ask (state, sock, "/var/lib/docker/containers/" ID, 5000, &e);
  assert_int_equal (e.bridge, 0);
  net_engine_free (&e);
  got = asked (log);
  assert_string_equal (got, "/_ping\n" LISTING "/v1.41/networks/bridge\n/v1.41/version\n");
  free (got);
  /* A member not on the default bridge: its bridge is not its business. */
  struct net_engine g = NET_ENGINE_INIT;
  netowner_ask_docker (state, sock, ID, DIR_OF_ID, 5000, 5000, &g);
  assert_int_equal (g.bridge, -1);
  assert_string_equal (g.name, "dockerd 20.10.24");
  net_engine_free (&g);
  /* Restarted with its bridge: another process, asked again. */
  fake_stop (pid);
  unlink (sock);
  f.bridge = true;
  pid = fake_start (sock, &f);
  ask (state, sock, DIR_OF_ID, 5000, &e);
  assert_int_equal (e.bridge, 1);
  net_engine_free (&e);
  got = asked (log);
  assert_string_equal (got, "/_ping\n/v1.41/info\n/v1.41/networks/bridge\n");
  free (got);
  fake_stop (pid);
  /* Nobody there: unknown at once, and why. */
  unlink (sock);
  ask (state, sock, DIR_OF_ID, 5000, &e);
  assert_int_equal (e.bridge, -1);
  assert_null (e.name);
  assert_non_null (strstr (e.unknown, "Docker API at `"));
  net_engine_free (&e);
  t_rmtree (dir);
  free (sock);
  free (log);
  free (state);
  free (dir);
}

/* A listener made for the daemon by another process (systemd's
 * docker.socket): it outlives the daemon, whose restart is told by the
 * dockerd that holds the listener. A listener no dockerd holds: asked about
 * each time, as before. */
static void
test_ask_docker_activated (void **state_)
{
  (void)state_;
  char *dir = t_mkdtemp ();
  char *sock = t_printf ("%s/docker.sock", dir), *log = t_printf ("%s/log", dir);
  char *state = t_printf ("%s/state", dir);
  int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  strcpy (sa.sun_path, sock);
  assert_int_equal (bind (s, (struct sockaddr *)&sa, sizeof (sa)), 0);
  assert_int_equal (listen (s, 8), 0);
  struct fake f = { .log = log, .dockerd = true, .listen_fd = s };
  pid_t pid = fake_start (sock, &f);
  struct net_engine e;
  for (int i = 0; i < 2; i++)
    {
      ask (state, sock, DIR_OF_ID, 5000, &e);
      assert_null (e.unknown);
      assert_int_equal (e.bridge, 0);
      net_engine_free (&e);
      char *got = asked (log);
      assert_string_equal (got, i == 0 ? "/_ping\n/v1.41/info\n/v1.41/networks/bridge\n" : "");
      free (got);
    }
  /* The daemon restarted with its bridge, on the same listener. */
  fake_stop (pid);
  f.bridge = true;
  pid = fake_start (sock, &f);
  ask (state, sock, DIR_OF_ID, 5000, &e);
  assert_int_equal (e.bridge, 1);
  net_engine_free (&e);
  char *got = asked (log);
  assert_string_equal (got, "/_ping\n/v1.41/info\n/v1.41/networks/bridge\n");
  free (got);
  fake_stop (pid);
  /* Served by a process that is not named dockerd: who serves it cannot be
     told, so nothing is kept, and it is asked as ever. */
  f.dockerd = false;
  pid = fake_start (sock, &f);
  for (int i = 0; i < 2; i++)
    {
      ask (state, sock, DIR_OF_ID, 5000, &e);
      assert_int_equal (e.bridge, 1);
      net_engine_free (&e);
      got = asked (log);
      assert_string_equal (got, "/_ping\n" LISTING "/v1.41/networks/bridge\n/v1.41/version\n");
      free (got);
    }
  fake_stop (pid);
  /* Booting: it accepts (the listener is there) and does not answer. One
     short attempt, not a minute a call. */
  ask (state, sock, DIR_OF_ID, 200, &e);
  assert_int_equal (e.bridge, -1);
  assert_non_null (strstr (e.unknown, "/_ping"));
  net_engine_free (&e);
  close (s);
  t_rmtree (dir);
  free (sock);
  free (log);
  free (state);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_golden_decisions),
    cmocka_unit_test (test_default_network),
    cmocka_unit_test (test_podman),
    cmocka_unit_test (test_facts),
    cmocka_unit_test (test_docker_answers),
    cmocka_unit_test (test_ask_docker),
    cmocka_unit_test (test_ask_docker_activated),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

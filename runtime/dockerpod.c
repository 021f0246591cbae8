#include "config.h"
#include "dockerpod.h"
#include "argv.h"
#include "dockerapi.h"
#include "dockercli.h"
#include "http.h"
#include "pod.h"
#include "fsutil.h"
#include "spawn.h"
#include "statedir.h"
#include "table.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>

#define POD_OUTPUT_MAX (64 * 1024 * 1024)
#define ENVIRON_MAX (1024 * 1024)
/* Running containers looked at for their shim's environment. */
#define PROBE_MAX 32

static const char help[]
    = "Usage: docker pod COMMAND\n"
      "\n"
      "The pods podshim made for the containers of this Docker daemon.\n"
      "\n"
      "Commands:\n"
      "  ls [--format table|json]   every pod and its members: container name, image,\n"
      "                             status, health; companions marked (also: list, ps)\n"
      "  inspect NAME|SCOPE:NAME    the pod(s) of that name, in JSON (podshim pod inspect,\n"
      "                             each member with its container's name, image, status\n"
      "                             and health)\n"
      "\n"
      "Options:\n"
      "  --podshim-state DIR        podshim's state directory, when the daemon's runtime\n"
      "                             configuration does not tell it\n";

#define API_TIMEOUT_MS (15 * 1000)

/* The daemon's Engine API: every call of the plugin goes through api_get. */
struct api
{
  struct docker_api api;
  const char *host; /* as the CLI named it */
};

/* GET path: *ret the parsed JSON body of a 200. A 404 is an error whose
 * errno_ is ENOENT. */
static int
api_get (struct api *a, const char *path, yajl_val *ret, struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (&a->api, "GET", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
    return podshim_error_wrap (err, "Docker API at %s", a->host);
  if (r.status != 200)
    {
      cleanup_free char *m = docker_api_message (&r);
      podshim_error_set (err, 0, "Docker API at %s: GET %s: %s (HTTP %d)", a->host, path, m,
                         r.status);
      if (r.status == 404 && err && *err)
        (*err)->errno_ = ENOENT;
      return -1;
    }
  return json_parse (r.body, r.body_len, "Docker API answer", ret, err);
}

/* GET /containers/ID/json; an ID that is none is an error whose errno_ is
 * ENOENT, as a 404. */
static int
api_inspect (struct api *a, const char *id, yajl_val *ret, struct podshim_error **err)
{
  if (!container_id_valid (id))
    {
      podshim_error_set (err, 0, "`%.100s` is no container ID", id);
      if (err && *err)
        (*err)->errno_ = ENOENT;
      return -1;
    }
  cleanup_free char *q = NULL;
  if (asprintf (&q, "/containers/%s/json", id) < 0)
    abort ();
  return api_get (a, q, ret, err);
}

static bool
podshim_path (const char *path)
{
  const char *base = strrchr (path, '/');
  return strcmp (base ? base + 1 : path, "podshim") == 0;
}

int
dockerpod_find_runtime (yajl_val info, const char **ret_name, const char **ret_path,
                        yajl_val *ret_args)
{
  yajl_val rts = json_get_object (info, "Runtimes");
  const char *dflt = json_get_string (info, "DefaultRuntime");
  if (rts == NULL)
    return 0;
  int best = -1, rank = 0;
  for (size_t i = 0; i < rts->u.object.len; i++)
    {
      const char *name = rts->u.object.keys[i];
      const char *path = json_get_string (rts->u.object.values[i], "path");
      if (path == NULL || !(strcmp (name, "podshim") == 0 || podshim_path (path)))
        continue;
      int r = dflt && strcmp (name, dflt) == 0 ? 3 : strcmp (name, "podshim") == 0 ? 2 : 1;
      if (r > rank)
        {
          best = (int)i;
          rank = r;
        }
    }
  if (best < 0)
    return 0;
  *ret_name = rts->u.object.keys[best];
  *ret_path = json_get_string (rts->u.object.values[best], "path");
  *ret_args = json_get_array (rts->u.object.values[best], "runtimeArgs");
  return 1;
}

const char *
dockerpod_env_state (const char *env, size_t len)
{
  static const char key[] = "PODSHIM_STATE=";
  for (const char *p = env; p < env + len;)
    {
      size_t n = strnlen (p, (size_t)(env + len - p));
      if (n >= sizeof (key) - 1 && memcmp (p, key, sizeof (key) - 1) == 0 && p + n < env + len)
        return p + sizeof (key) - 1;
      p += n + 1;
    }
  return NULL;
}

/* --podshim-state in the runtime's runtimeArgs, parsed as podshim parses
 * them. Owned, NULL when absent. */
static char *
state_from_args (const char *path, yajl_val args)
{
  if (args == NULL)
    return NULL;
  size_t n = args->u.array.len;
  cleanup_free char **argv = calloc (n + 3, sizeof (char *));
  if (argv == NULL)
    abort ();
  size_t k = 0;
  argv[k++] = (char *)path;
  for (size_t i = 0; i < n; i++)
    if (args->u.array.values[i]->type == yajl_t_string)
      argv[k++] = args->u.array.values[i]->u.string;
  argv[k++] = (char *)"list";
  struct runc_cmdline c;
  if (runc_cmdline_parse ((int)k, argv, &c, NULL) < 0)
    return NULL;
  char *r = c.shim_state ? strdup (c.shim_state) : NULL;
  runc_cmdline_free (&c);
  return r;
}

/* The environment containerd gave the shim of a container whose init is
 * pid: 1 and *ret_state (owned; NULL when PODSHIM_STATE is not in it); 0
 * when pid's parent is no containerd shim. */
static int
shim_state (pid_t pid, char **ret_state)
{
  char p[64];
  snprintf (p, sizeof (p), "/proc/%d/stat", (int)pid);
  cleanup_free char *stat = NULL;
  if (read_file_at (AT_FDCWD, p, 0, 4096, &stat, NULL, NULL) < 0)
    return 0;
  const char *rp = strrchr (stat, ')');
  int ppid = 0;
  char st;
  if (rp == NULL || sscanf (rp + 1, " %c %d", &st, &ppid) != 2 || ppid <= 1)
    return 0;
  snprintf (p, sizeof (p), "/proc/%d/comm", ppid);
  cleanup_free char *comm = NULL;
  if (read_file_at (AT_FDCWD, p, 0, 64, &comm, NULL, NULL) < 0
      || strncmp (comm, "containerd-shim", 15) != 0)
    return 0;
  snprintf (p, sizeof (p), "/proc/%d/environ", ppid);
  cleanup_free char *env = NULL;
  size_t len;
  if (read_file_at (AT_FDCWD, p, 0, ENVIRON_MAX, &env, &len, NULL) < 0)
    return 0;
  const char *v = dockerpod_env_state (env, len);
  *ret_state = v ? strdup (v) : NULL;
  return 1;
}

/* podshim's state directory for the daemon's podshim runtime: explicit,
 * else its runtimeArgs, else its containers' shims' environment. 0 and
 * *ret NULL when no container runs (then no pod does either). Owned. */
static int
find_state (struct api *a, const char *explicit, const char *path, yajl_val args, char **ret,
            struct podshim_error **err)
{
  *ret = NULL;
  if (explicit)
    *ret = strdup (explicit);
  else
    *ret = state_from_args (path, args);
  if (*ret)
    return 0;
  cleanup_json yajl_val list = NULL;
  if (api_get (a, "/containers/json", &list, err) < 0)
    return -1;
  if (list->type != yajl_t_array)
    return podshim_error_set (err, 0, "Docker API: /containers/json is not a list");
  size_t tried = 0;
  for (size_t i = 0; i < list->u.array.len && tried < PROBE_MAX; i++)
    {
      const char *id = json_get_string (list->u.array.values[i], "Id");
      cleanup_json yajl_val c = NULL;
      cleanup_error struct podshim_error *e = NULL;
      if (id == NULL || api_inspect (a, id, &c, &e) < 0)
        continue; /* gone meanwhile */
      tried++;
      yajl_val pid = json_get (json_get_object (c, "State"), "Pid");
      if (pid == NULL || pid->type != yajl_t_number || !YAJL_IS_INTEGER (pid)
          || pid->u.number.i <= 1)
        continue;
      char *s = NULL;
      if (shim_state ((pid_t)pid->u.number.i, &s) == 1)
        {
          *ret = s ? s : strdup (STATEDIR_DEFAULT);
          if (*ret == NULL)
            abort ();
          return 0;
        }
    }
  if (tried == 0)
    return 0;
  return podshim_error_set (err, 0,
                            "cannot tell podshim's state directory: the runtime's runtimeArgs "
                            "name no --podshim-state, and no running container's parent is a "
                            "containerd shim whose environment this process can read (as "
                            "root, in the host's PID namespace); give --podshim-state DIR");
}

/* Runs the daemon's podshim: PATH --podshim-state STATE pod ARGS...; *ret
 * its JSON output. */
static int
run_podshim (const char *path, const char *state, const char *const *args, yajl_val *ret,
             struct podshim_error **err)
{
  const char *argv[10];
  int n = 0;
  argv[n++] = path;
  argv[n++] = "--podshim-state";
  argv[n++] = state;
  argv[n++] = "pod";
  for (; *args && n < 9; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  cleanup_free char *out = NULL;
  size_t len;
  int status;
  if (spawn_capture ((char *const *)argv, POD_OUTPUT_MAX, &out, &len, &status, err) < 0)
    return -1;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return podshim_error_set (err, 0, "`%s pod %s` failed (exit status %d)", path, argv[4],
                              WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  if (json_parse (out, len, "podshim's pod list", ret, err) < 0)
    return -1;
  if ((*ret)->type != yajl_t_array)
    return podshim_error_set (err, 0, "`%s pod %s` printed no JSON list", path, argv[4]);
  return 0;
}

/* What the Engine API says of a member. */
struct member_view
{
  bool known; /* a container of this daemon */
  char *container, *image, *status, *health;
};

static void
member_view_free (struct member_view *v)
{
  free (v->container);
  free (v->image);
  free (v->status);
  free (v->health);
  memset (v, 0, sizeof (*v));
}

static int
member_view (struct api *a, const char *id, struct member_view *ret, struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  cleanup_json yajl_val c = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (api_inspect (a, id, &c, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0; /* not this daemon's, or removed */
      *err = steal_pointer (&e);
      return -1;
    }
  const char *name = json_get_string (c, "Name");
  yajl_val st = json_get_object (c, "State");
  ret->known = true;
  ret->container = xstrdup_or_null (name && name[0] == '/' ? name + 1 : name);
  ret->image = xstrdup_or_null (json_get_string (json_get_object (c, "Config"), "Image"));
  ret->status = xstrdup_or_null (json_get_string (st, "Status"));
  ret->health = xstrdup_or_null (json_get_string (json_get_object (st, "Health"), "Status"));
  return 0;
}

/* A pod as `docker pod` shows it: its members' views. */
struct pod_view
{
  yajl_val pod; /* borrowed: one element of podshim's list */
  size_t n;
  const char **ids;
  struct member_view *views;
  bool known; /* one member at least is this daemon's */
};

static void
pod_view_free (struct pod_view *p)
{
  for (size_t i = 0; i < p->n; i++)
    member_view_free (&p->views[i]);
  free (p->views);
  free (p->ids);
}

/* The members of pod: "members" (list) or "member_details" (inspect). */
static int
pod_view (struct api *a, yajl_val pod, struct pod_view *ret, struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  ret->pod = pod;
  yajl_val ids = json_get_array (pod, "members");
  yajl_val det = json_get_array (pod, "member_details");
  yajl_val src = det ? det : ids;
  size_t n = src ? src->u.array.len : 0;
  ret->ids = calloc (n + 1, sizeof (char *));
  ret->views = calloc (n + 1, sizeof (struct member_view));
  if (ret->ids == NULL || ret->views == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      yajl_val m = src->u.array.values[i];
      const char *id = det                        ? json_get_string (m, "id")
                       : m->type == yajl_t_string ? m->u.string
                                                  : NULL;
      if (id == NULL)
        continue;
      ret->ids[ret->n] = id;
      if (member_view (a, id, &ret->views[ret->n], err) < 0)
        return -1;
      ret->known |= ret->views[ret->n].known;
      ret->n++;
    }
  return 0;
}

static const struct member_view *
view_of (const struct pod_view *p, const char *id)
{
  for (size_t i = 0; id && i < p->n; i++)
    if (strcmp (p->ids[i], id) == 0)
      return &p->views[i];
  return NULL;
}

/* The companion entry of pod whose member is id, or NULL. */
static yajl_val
companion_of (yajl_val pod, const char *id)
{
  yajl_val cs = json_get_array (pod, "companions");
  for (size_t i = 0; cs && i < cs->u.array.len; i++)
    {
      const char *cid = json_get_string (cs->u.array.values[i], "id");
      if (cid && strcmp (cid, id) == 0)
        return cs->u.array.values[i];
    }
  return NULL;
}

/* "NAME of ANCHOR" for a companion entry (owned). */
static char *
companion_label (const struct pod_view *p, yajl_val comp)
{
  const char *anchor = json_get_string (comp, "anchor");
  const struct member_view *av = view_of (p, anchor);
  char *s = NULL;
  if (asprintf (&s, "%s of %.12s", json_get_string (comp, "name"),
                av && av->container ? av->container
                : anchor            ? anchor
                                    : "?")
      < 0)
    abort ();
  return s;
}

static void
gen_str (yajl_val obj, const char *key, const char *v)
{
  json_object_set (obj, key, v ? json_new_string (v) : json_new_null ());
}

static int
print_json (yajl_val doc, FILE *out, struct podshim_error **err)
{
  cleanup_free char *text = NULL;
  size_t len;
  if (json_emit_pretty (doc, &text, &len, err) < 0)
    return -1;
  fwrite (text, 1, len, out);
  return 0;
}

static int
print_ls (const struct pod_view *pods, size_t n, bool json, FILE *out, struct podshim_error **err)
{
  cleanup_table struct table t = { 0 };
  static const char *const header[]
      = { "POD", "SCOPE", "CONTAINER", "IMAGE", "STATUS", "HEALTH", "COMPANION" };
  table_init (&t, 7);
  table_add (&t, header);
  cleanup_json yajl_val doc = json_new_array ();
  for (size_t k = 0; k < n; k++)
    {
      const struct pod_view *p = &pods[k];
      const char *name = json_get_string (p->pod, "name");
      const char *scope = json_get_string (p->pod, "scope");
      yajl_val jp = json_new_object ();
      gen_str (jp, "name", name);
      gen_str (jp, "scope", scope);
      gen_str (jp, "key", json_get_string (p->pod, "key"));
      yajl_val jm = json_new_array ();
      json_object_set (jp, "members", jm);
      json_array_append (doc, jp);
      yajl_val states = json_get_object (p->pod, "member_states");
      for (size_t i = 0; i < p->n; i++)
        {
          const struct member_view *v = &p->views[i];
          yajl_val comp = companion_of (p->pod, p->ids[i]);
          cleanup_free char *cl = comp ? companion_label (p, comp) : NULL;
          const char *status = v->status ? v->status : json_get_string (states, p->ids[i]);
          char shortid[13];
          snprintf (shortid, sizeof (shortid), "%.12s", p->ids[i]);
          const char *row[]
              = { name,      scope, v->container ? v->container : shortid, v->image, status,
                  v->health, cl };
          table_add (&t, row);
          yajl_val m = json_new_object ();
          gen_str (m, "id", p->ids[i]);
          gen_str (m, "container", v->container);
          gen_str (m, "image", v->image);
          gen_str (m, "status", status);
          gen_str (m, "health", v->health);
          if (comp)
            {
              yajl_val c = json_new_object ();
              gen_str (c, "name", json_get_string (comp, "name"));
              gen_str (c, "anchor", json_get_string (comp, "anchor"));
              const struct member_view *av = view_of (p, json_get_string (comp, "anchor"));
              gen_str (c, "anchor_container", av ? av->container : NULL);
              json_object_set (m, "companion", c);
            }
          else
            json_object_set (m, "companion", json_new_null ());
          json_array_append (jm, m);
        }
      /* Companions their anchor declares that no member is. */
      yajl_val cs = json_get_array (p->pod, "companions");
      for (size_t i = 0; cs && i < cs->u.array.len; i++)
        {
          yajl_val comp = cs->u.array.values[i];
          const char *state = json_get_string (comp, "state");
          if (state == NULL || strcmp (state, "missing") != 0)
            continue;
          cleanup_free char *cl = companion_label (p, comp);
          const char *row[]
              = { name, scope, json_get_string (comp, "container"), NULL, "missing", NULL, cl };
          table_add (&t, row);
          yajl_val m = json_new_object ();
          gen_str (m, "id", NULL);
          gen_str (m, "container", json_get_string (comp, "container"));
          gen_str (m, "status", "missing");
          yajl_val c = json_new_object ();
          gen_str (c, "name", json_get_string (comp, "name"));
          gen_str (c, "anchor", json_get_string (comp, "anchor"));
          json_object_set (m, "companion", c);
          json_array_append (jm, m);
        }
    }
  if (!json)
    {
      table_print (&t, out);
      return 0;
    }
  return print_json (doc, out, err);
}

/* podshim's inspect output, each member_details entry given its container's
 * name, image, status and health; pods of other daemons dropped. */
static int
print_inspect (struct pod_view *pods, size_t n, yajl_val list, const char *name, FILE *out,
               struct podshim_error **err)
{
  cleanup_json yajl_val doc = json_new_array ();
  for (size_t k = 0; k < n; k++)
    {
      struct pod_view *p = &pods[k];
      if (!p->known)
        continue;
      yajl_val det = json_get_array (p->pod, "member_details");
      for (size_t i = 0; det && i < det->u.array.len; i++)
        {
          yajl_val m = det->u.array.values[i];
          const struct member_view *v = view_of (p, json_get_string (m, "id"));
          if (v == NULL)
            continue;
          gen_str (m, "container", v->container);
          gen_str (m, "image", v->image);
          gen_str (m, "status", v->status);
          gen_str (m, "health", v->health);
        }
      /* Moved into the output: the list keeps a null in its place. */
      for (size_t j = 0; j < list->u.array.len; j++)
        if (list->u.array.values[j] == p->pod)
          {
            list->u.array.values[j] = json_new_null ();
            break;
          }
      json_array_append (doc, p->pod);
      p->pod = NULL;
    }
  if (doc->u.array.len == 0)
    return podshim_error_set (err, 0, "no pod named `%s` on this daemon", name);
  return print_json (doc, out, err);
}

static int
print_metadata (const char *version, FILE *out, struct podshim_error **err)
{
  cleanup_json yajl_val m = json_new_object ();
  gen_str (m, "SchemaVersion", "0.1.0");
  gen_str (m, "Vendor", "podshim");
  gen_str (m, "Version", version);
  gen_str (m, "ShortDescription", "Pods podshim made for this daemon's containers");
  cleanup_free char *text = NULL;
  size_t len;
  if (json_emit (m, &text, &len, err) < 0)
    return -1;
  fprintf (out, "%s\n", text);
  return 0;
}

int
dockerpod_main (int argc, char **argv, const char *version, FILE *out, struct podshim_error **err)
{
  if (argc >= 2 && strcmp (argv[1], "docker-cli-plugin-metadata") == 0)
    return print_metadata (version, out, err) < 0 ? -1 : 0;
  struct docker_globals g;
  int i;
  if (docker_globals_parse (argc, argv, &g, &i, err) < 0)
    return -1;
  if (i < argc && strcmp (argv[i], "pod") == 0)
    i++;
  const char *sub = i < argc ? argv[i++] : "help";
  bool ls = strcmp (sub, "ls") == 0 || strcmp (sub, "list") == 0 || strcmp (sub, "ps") == 0;
  bool inspect = strcmp (sub, "inspect") == 0;
  if (!ls && !inspect)
    {
      fputs (help, out);
      if (strcmp (sub, "help") == 0 || strcmp (sub, "--help") == 0 || strcmp (sub, "-h") == 0)
        return 0;
      return podshim_error_set (err, 0, "unknown command `docker pod %.200s`", sub);
    }
  bool json = false;
  const char *state_opt = NULL, *name = NULL;
  for (; i < argc; i++)
    {
      const char *a = argv[i];
      const char *v = NULL;
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          fputs (help, out);
          return 0;
        }
      if ((strcmp (a, "--format") == 0 || strcmp (a, "--podshim-state") == 0) && i + 1 < argc)
        v = argv[++i];
      else if (strncmp (a, "--format=", 9) == 0 || strncmp (a, "--podshim-state=", 16) == 0)
        v = strchr (a, '=') + 1;
      if (v && strncmp (a, "--format", 8) == 0 && ls
          && (strcmp (v, "json") == 0 || strcmp (v, "table") == 0))
        json = strcmp (v, "json") == 0;
      else if (v && strncmp (a, "--podshim-state", 15) == 0 && *v)
        state_opt = v;
      else if (inspect && a[0] != '-' && name == NULL)
        name = a;
      else
        return podshim_error_set (err, 0, "docker pod %s: unexpected `%.200s`", sub, a);
    }
  if (inspect && name == NULL)
    return podshim_error_set (err, 0, "docker pod inspect needs a pod name");

  cleanup_free char *host = NULL;
  if (docker_host_resolve (&g, getenv ("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"), &host, err) < 0)
    return -1;
  cleanup_free char *sock = http_unix_path (host);
  if (sock == NULL)
    return podshim_error_set (err, 0,
                              "the daemon is at `%.200s`: docker pod reads this node's pods, "
                              "from a daemon on a unix socket (unix:///PATH)",
                              host);
  struct api a = { .api = { .sock = sock }, .host = host };
  cleanup_json yajl_val info = NULL;
  if (api_get (&a, "/info", &info, err) < 0)
    return -1;
  const char *rt = NULL, *path = NULL;
  yajl_val args = NULL;
  if (dockerpod_find_runtime (info, &rt, &path, &args) == 0)
    return podshim_error_set (err, 0,
                              "the daemon at %s has no podshim runtime (docker info: "
                              "Runtimes; see `podshim install docker`)",
                              host);
  cleanup_free char *state = NULL;
  if (find_state (&a, state_opt, path, args, &state, err) < 0)
    return -1;
  cleanup_json yajl_val list = NULL;
  if (state == NULL)
    list = json_new_array (); /* no container runs: no pod either */
  else
    {
      const char *const list_args[] = { "list", "--format", "json", NULL };
      const char *const inspect_args[] = { "inspect", name, NULL };
      if (run_podshim (path, state, inspect ? inspect_args : list_args, &list, err) < 0)
        return -1;
    }
  size_t n = list->u.array.len;
  struct pod_view *pods = calloc (n + 1, sizeof (*pods));
  if (pods == NULL)
    abort ();
  size_t kept = 0;
  int r = 0;
  for (size_t k = 0; k < n && r == 0; k++)
    {
      r = pod_view (&a, list->u.array.values[k], &pods[kept], err);
      if (r == 0 && pods[kept].known)
        kept++;
      else
        pod_view_free (&pods[kept]);
    }
  if (r == 0)
    r = inspect ? print_inspect (pods, kept, list, name, out, err)
                : print_ls (pods, kept, json, out, err);
  for (size_t k = 0; k < kept; k++)
    pod_view_free (&pods[k]);
  free (pods);
  return r < 0 ? -1 : 0;
}

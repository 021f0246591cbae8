#include "config.h"
#include "netowner.h"
#include "dockerapi.h"
#include "dockerfacts.h"
#include "http.h"
#include "log.h"
#include "podcfg.h"
#include "spec.h"

#include <stdio.h>
#include <string.h>

void
net_engine_free (struct net_engine *e)
{
  free (e->docker_mode);
  free (e->name);
  free (e->unknown);
  e->docker_mode = e->name = e->unknown = NULL;
}

static bool
is_podman (yajl_val spec)
{
  const char *m
      = json_get_string (json_get_object (spec, "annotations"), NETOWNER_PODMAN_ANNOTATION);
  return m && strcmp (m, NETOWNER_PODMAN_MANAGER) == 0;
}

/* The form of podman's own namespaces (libnetwork/netns: <run dir>/netns/
 * netns-<uuid>, /run/netns as root), not a path the user named
 * (`--network ns:PATH`) or another container's (/proc/PID/ns/net). */
static bool
is_engine_netns_path (const char *p)
{
  if (p == NULL || p[0] != '/' || strlen (p) > 4096)
    return false;
  const char *base = strrchr (p, '/') + 1;
  if (strncmp (base, "netns-", 6) != 0 || base[6] == '\0' || base - p < 7
      || strncmp (base - 7, "/netns/", 7) != 0)
    return false;
  for (const char *c = base + 6; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-'))
      return false;
  return strstr (p, "/../") == NULL && strstr (p, "/./") == NULL;
}

enum net_plumb
netowner_plumb (yajl_val spec, const struct net_engine *e)
{
  if (e->docker_mode == NULL && is_podman (spec))
    return is_engine_netns_path (spec_network_path (spec)) ? NET_PLUMB_ENGINE_NETNS
                                                           : NET_PLUMB_NONE;
  switch (spec_network_kind (spec, e->docker_mode))
    {
    case SPEC_NET_HOOK:
      return NET_PLUMB_HOOK;
    case SPEC_NET_AFTER_CREATE:
      /* Docker's default network on a daemon without its bridge: the
         container is NetworkDisabled, nothing is plumbed (daemon
         connectToNetwork); dockerd writes that down only after start. */
      return e->default_bridge && e->bridge == 0 ? NET_PLUMB_NONE : NET_PLUMB_AFTER_CREATE;
    case SPEC_NET_NO_INTERFACE:
      break;
    }
  return NET_PLUMB_NONE;
}

static const char *const networks_path[] = { "NetworkSettings", "Networks", NULL };

void
netowner_facts_from (yajl_val spec, const char *docker_mode, yajl_val labels_doc,
                     struct net_engine *e)
{
  if (is_podman (spec))
    {
      e->name = strdup ("podman");
      if (e->name == NULL)
        abort ();
      return;
    }
  if (docker_mode && (e->docker_mode = strdup (docker_mode)) == NULL)
    abort ();
  const char *m = e->docker_mode;
  if (m == NULL || (strcmp (m, "default") != 0 && strcmp (m, "bridge") != 0))
    return;
  /* The networks it was created with (docker create/run --network, a
     Swarm task's): none but the default bridge. */
  yajl_val nets = json_get_path (labels_doc, networks_path);
  if (nets && nets->type != yajl_t_object)
    return;
  for (size_t i = 0; nets && i < nets->u.object.len; i++)
    if (strcmp (nets->u.object.keys[i], "bridge") != 0)
      return;
  e->default_bridge = true;
}

void
netowner_facts (yajl_val spec, const char *id, yajl_val labels_doc, struct net_engine *e)
{
  cleanup_free char *mode = id && !is_podman (spec) ? docker_network_mode (spec, id) : NULL;
  netowner_facts_from (spec, mode, labels_doc, e);
}

int
netowner_docker_answers (const char *id, const char *list_body, int bridge_status,
                         const char *version_body, struct net_engine *e, struct podshim_error **err)
{
  cleanup_json yajl_val list = NULL, version = NULL;
  if (json_parse (list_body, strlen (list_body), "the Docker daemon's container list", &list, err)
      < 0)
    return -1;
  bool known = false;
  for (size_t i = 0; list && list->type == yajl_t_array && i < list->u.array.len && !known; i++)
    {
      const char *cid = json_get_string (list->u.array.values[i], "Id");
      known = cid && strcmp (cid, id) == 0;
    }
  if (!known)
    return podshim_error_set (err, 0,
                              "the daemon does not list container `%.12s`: it is not the one"
                              " that runs it",
                              id);
  int bridge = e->bridge;
  if (bridge_status == 200)
    bridge = 1;
  else if (bridge_status == 404)
    bridge = 0;
  else if (bridge_status != 0)
    return podshim_error_set (err, 0, "GET /networks/bridge answered HTTP %d", bridge_status);
  if (json_parse (version_body, strlen (version_body), "the Docker daemon's version", &version, err)
      < 0)
    return -1;
  const char *v = json_get_string (version, "Version");
  char *name = NULL;
  if (asprintf (&name, "dockerd %s", dockerd_version_valid (v) ? v : "(no version given)") < 0)
    abort ();
  free (e->name);
  e->name = name;
  e->bridge = bridge;
  return 0;
}

/* Records why the daemon could not be asked. */
static void
unknown (struct net_engine *e, const char *sock, const char *id, const char *why)
{
  free (e->unknown);
  if (asprintf (&e->unknown, "Docker API at `%.200s`: %s", sock, why) < 0)
    abort ();
  /* Not a warning: it decides nothing unless a refusal (which says so)
     or a bridge-less daemon's default network depends on it. */
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: cannot ask dockerd about `%.12s`: %s", id, e->unknown);
}

/* Asks as netowner_docker_answers reads: whether the daemon lists container
 * id, then its bridge (for a member on the default network) and version. */
static void
ask_listing (const char *sock, const char *id, int probe_ms, int timeout_ms, struct net_engine *e)
{
  struct docker_api a = { .sock = sock };
  cleanup_error struct podshim_error *err = NULL;
  cleanup_free char *list = NULL, *bridge = NULL, *version = NULL, *path = NULL, *filter = NULL;
  cleanup_free char *esc = NULL;
  int ls = 0, bs = 0, vs = 0;
  if (asprintf (&filter, "{\"id\":[\"%s\"]}", id) < 0)
    abort ();
  esc = docker_url_escape (filter);
  if (asprintf (&path, "/containers/json?all=1&filters=%s", esc) < 0)
    abort ();
  int r = docker_api_ping (&a, probe_ms, &err);
  if (r == 0)
    r = docker_api_get (&a, path, timeout_ms, &ls, &list, &err);
  if (r == 0 && ls != 200)
    r = podshim_error_set (&err, 0, "GET /containers/json answered HTTP %d", ls);
  if (r == 0 && e->default_bridge)
    r = docker_api_get (&a, "/networks/bridge", timeout_ms, &bs, &bridge, &err);
  if (r == 0)
    r = docker_api_get (&a, "/version", timeout_ms, &vs, &version, &err);
  if (r == 0 && vs != 200)
    r = podshim_error_set (&err, 0, "GET /version answered HTTP %d", vs);
  if (r == 0)
    r = netowner_docker_answers (id, list, bs, version, e, &err);
  if (r == 0)
    {
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%.12s` is a container of %s%s", id, e->name,
                   e->bridge == 0   ? ", which has no default bridge"
                   : e->bridge == 1 ? ", which has its default bridge"
                                    : "");
      return;
    }
  unknown (e, sock, id, err->msg);
}

void
netowner_ask_docker (const char *state_dir, const char *sock, const char *id, const char *dir,
                     int probe_ms, int timeout_ms, struct net_engine *e)
{
  cleanup_error struct podshim_error *err = NULL;
  cleanup_dockerd_facts struct dockerd_facts f = { 0 };
  bool cached = false;
  int r = dockerd_facts_get (state_dir, sock, probe_ms, timeout_ms, &f, &cached, &err);
  if (r < 0)
    {
      unknown (e, sock, id, err->msg);
      return;
    }
  if (r == 0 && dockerd_made_dir (f.root_dir, id, dir))
    {
      free (e->name);
      if (asprintf (&e->name, "dockerd %s", *f.version ? f.version : "(no version given)") < 0)
        abort ();
      if (e->default_bridge)
        e->bridge = f.bridge;
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%.12s` is a container of %s (%s), which has %s",
                   id, e->name, cached ? "known since it started" : "asked",
                   f.bridge ? "its default bridge" : "no default bridge");
      return;
    }
  /* Not its container as far as its data-root tells (another daemon's
     socket?), or who serves the socket cannot be told: asked as ever. */
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: asking dockerd whether it made `%.12s`: %s", id,
               r == 1 ? "who serves its socket is unknown"
                      : "its directory is not under the daemon's data-root");
  ask_listing (sock, id, probe_ms, timeout_ms, e);
}

/* "dockerd 28.5.2, which ...", or what podshim knows of a dockerd it could
 * not ask. Owned. */
static char *
hookless_engine (const struct net_engine *e)
{
  char *s = NULL;
  int n = e->name ? asprintf (&s, "%s, which gives a container no libnetwork-setkey hook", e->name)
                  : asprintf (&s,
                              "a dockerd that gives a container no libnetwork-setkey hook; its"
                              " version is unknown: %.300s",
                              e->unknown ? e->unknown : "its API was not asked");
  if (n < 0)
    abort ();
  return s;
}

int
netowner_decide (enum net_plumb p, const struct net_engine *e, const char *key, const char *owner,
                 bool fresh, const char *own_path, enum net_role *ret, struct podshim_error **err)
{
  const char *engine = e->name ? e->name : "the engine";
  switch (p)
    {
    case NET_PLUMB_NONE:
      *ret = NET_ROLE_JOIN;
      return 0;
    case NET_PLUMB_HOOK:
      *ret = owner ? NET_ROLE_JOIN : NET_ROLE_OWN;
      return 0;
    case NET_PLUMB_AFTER_CREATE:
      if (owner)
        {
          /* It would fail there, and leave its veth in the pod. */
          cleanup_free char *what = hookless_engine (e);
          return podshim_error_set (
              err, 0,
              "pod `%s` already has a networked member (`%.12s`, its network owner), and this"
              " engine (%s) would add a second interface named eth0 to the pod's network"
              " namespace. Start this member with `--network none` (a Swarm service: `--network"
              " host`): it shares the pod's network all the same",
              key, owner, what);
        }
      *ret = NET_ROLE_OWN;
      return 0;
    case NET_PLUMB_ENGINE_NETNS:
      if (owner)
        return podshim_error_set (
            err, 0,
            "pod `%s` already has a networked member (`%.12s`, its network owner), and %s made"
            " this container a network namespace of its own (`%.200s`) with its interface in"
            " it: a pod has one network. Start this member with `--network none`: it shares the"
            " pod's network all the same",
            key, owner, engine, own_path ? own_path : "?");
      if (!fresh)
        return podshim_error_set (
            err, 0,
            "pod `%s` has its network namespace already (its members keep it), and %s made this"
            " container one of its own (`%.200s`) with its interface in it: podshim adopts an"
            " engine's network namespace only for a new pod's first member. Start this member"
            " with `--network none`, or remove the pod's members and start this one first",
            key, engine, own_path ? own_path : "?");
      *ret = NET_ROLE_ADOPT;
      return 0;
    }
  return podshim_error_set (err, 0, "internal error: network plumbing %d", (int)p);
}

/* The Docker API's parsers of outside input: the input as an HTTP response
 * (framing, limits; its API-Version header and its body as /version's answer:
 * the version podshim speaks; its body as the container list and /version
 * answers that say what dockerd plumbs, and as /info's: what podshim keeps of
 * the daemon), as a companion's label value (the schema), and as the file
 * where podshim keeps what daemons answered (dockerd-facts.json). Checks: an
 * accepted response's status and body are within bounds, a header value holds
 * no line break, a picked version is one podshim knows, an engine's name is
 * short and printable; an accepted companion has an image and gives a plan
 * that parses back; an accepted facts file has valid entries that are written
 * back and parse again to the same. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "companion.h"
#include "dockerfacts.h"
#include "dockerapi.h"
#include "http.h"
#include "json.h"
#include "netowner.h"

#include "fuzz.h"

/* The body as the daemon's container list and /version answer. */
static void
as_engine (const char *body)
{
  struct net_engine e = NET_ENGINE_INIT;
  struct podshim_error *err = NULL;
  static const int status[] = { 0, 200, 404, 500 };
  int st = status[strlen (body) % 4];
  if (netowner_docker_answers ("abc", body, st, body, &e, &err) < 0)
    {
      CHECK (err && err->msg[0] && e.name == NULL && e.bridge == -1);
      podshim_error_free (err);
      return;
    }
  CHECK (e.name && strncmp (e.name, "dockerd ", 8) == 0 && strlen (e.name) <= 8 + 64);
  for (const char *c = e.name; *c; c++)
    CHECK (*c >= ' ' && *c < 0x7f);
  CHECK (e.bridge == (st == 200 ? 1 : st == 404 ? 0 : -1));
  net_engine_free (&e);
}

/* The body as GET /info's answer. */
static void
as_info (const char *body)
{
  struct dockerd_facts f = { 0 };
  struct podshim_error *err = NULL;
  int st = strlen (body) % 3 == 0 ? 500 : strlen (body) % 2 ? 200 : 404;
  if (dockerd_facts_from_answers (body, st, &f, &err) < 0)
    {
      CHECK (err && err->msg[0] && f.root_dir == NULL && f.version == NULL);
      podshim_error_free (err);
      return;
    }
  CHECK (dockerd_root_dir_valid (f.root_dir));
  CHECK (f.version && (f.version[0] == '\0' || dockerd_version_valid (f.version)));
  CHECK (f.bridge == (st == 200));
  dockerd_facts_free (&f);
}

static bool
str_same (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

/* The input as the facts file. */
static void
as_facts (const char *buf, size_t len)
{
  struct dockerd_facts *v = NULL, *w = NULL;
  size_t n = 0, m = 0, out_len = 0;
  struct podshim_error *err = NULL;
  if (dockerd_facts_parse (buf, len, &v, &n, &err) < 0)
    {
      CHECK (err && err->msg[0] && v == NULL && n == 0);
      podshim_error_free (err);
      return;
    }
  CHECK (n <= DOCKERD_FACTS_MAX && len <= DOCKERD_FACTS_FILE_MAX);
  for (size_t i = 0; i < n; i++)
    {
      CHECK (v[i].id.sock && v[i].id.sock[0] == '/' && strlen (v[i].id.sock) < 108);
      CHECK (v[i].id.pid > 0 && v[i].id.listener > 0);
      CHECK (dockerd_root_dir_valid (v[i].root_dir));
      CHECK (v[i].version[0] == '\0' || dockerd_version_valid (v[i].version));
    }
  char *out = dockerd_facts_format (v, n, &out_len);
  if (out)
    {
      CHECK (out_len <= DOCKERD_FACTS_FILE_MAX);
      CHECK (dockerd_facts_parse (out, out_len, &w, &m, &err) == 0 && m == n);
      for (size_t i = 0; i < n; i++)
        CHECK (str_same (w[i].id.sock, v[i].id.sock) && w[i].id.sock_dev == v[i].id.sock_dev
               && w[i].id.sock_ino == v[i].id.sock_ino && w[i].id.listener == v[i].id.listener
               && w[i].id.listener_start == v[i].id.listener_start && w[i].id.pid == v[i].id.pid
               && w[i].id.start == v[i].id.start && w[i].bridge == v[i].bridge
               && str_same (w[i].version, v[i].version) && str_same (w[i].root_dir, v[i].root_dir));
    }
  free (out);
  dockerd_facts_free_all (v, n);
  dockerd_facts_free_all (w, m);
}

static void
as_response (const char *buf, size_t len)
{
  struct http_response r = { 0 };
  struct podshim_error *err = NULL;
  if (http_response_parse (buf, len, &r, &err) < 0)
    {
      CHECK (err && err->msg[0] && r.body == NULL);
      podshim_error_free (err);
      return;
    }
  CHECK (r.status >= 100 && r.status <= 999);
  CHECK (r.body != NULL && r.body_len <= HTTP_BODY_MAX && r.body_len <= len);
  CHECK (r.body[r.body_len] == '\0');
  as_engine (r.body);
  as_info (r.body);
  char *hdr = http_response_header (&r, "API-Version");
  CHECK (hdr == NULL || (strchr (hdr, '\n') == NULL && strchr (hdr, '\r') == NULL));
  int minor = 0;
  int rc = docker_api_pick_version (hdr, NULL, &minor, &err);
  if (rc == 0)
    CHECK (minor >= DOCKER_API_MINOR_MIN && minor <= DOCKER_API_MINOR_MAX);
  else if (rc < 0)
    podshim_error_free (steal_pointer (&err));
  if (rc == 1 && docker_api_pick_version (hdr, r.body, &minor, &err) == 0)
    CHECK (minor >= DOCKER_API_MINOR_MIN && minor <= DOCKER_API_MINOR_MAX);
  podshim_error_free (err);
  free (hdr);
  http_response_free (&r);
}

static void
as_companion (const char *s)
{
  yajl_val v = NULL;
  struct podshim_error *err = NULL;
  if (companion_spec_parse ("side", s, &v, &err) < 0)
    {
      CHECK (v == NULL && err && strstr (err->msg, "companion `side`") != NULL);
      podshim_error_free (err);
      return;
    }
  CHECK (v && v->type == yajl_t_object && json_get_string (v, "image") != NULL);
  /* The plan of a document holding it parses back. */
  yajl_val doc = json_new_object ();
  yajl_val labels = json_new_object ();
  yajl_val cfg = json_new_object ();
  json_object_set (labels, "podshim.companion.side", json_new_string (s));
  json_object_set (cfg, "Labels", labels);
  json_object_set (doc, "Config", cfg);
  char *specs = NULL, *plan = NULL;
  CHECK (companion_specs_from_spec (NULL, doc, NULL, &specs, &err) == 1);
  CHECK (companion_plan (specs, "id", "anchor", "pod", "stack:s", &plan, &err) == 0);
  yajl_val back = NULL;
  CHECK (json_parse (plan, strlen (plan), "plan", &back, &err) == 0);
  CHECK (back->type == yajl_t_array && back->u.array.len == 1);
  yajl_val body = json_get_object (back->u.array.values[0], "body");
  const char *const net[] = { "HostConfig", "NetworkMode", NULL };
  yajl_val nm = json_get_path (body, net);
  CHECK (nm && nm->type == yajl_t_string && strcmp (nm->u.string, "none") == 0);
  /* Nothing but the schema's fields reaches the create document: limits
     only when the spec sets them, and within bounds. */
  yajl_val hc = json_get_object (body, "HostConfig");
  CHECK (hc && hc->u.object.len >= 2 && hc->u.object.len <= 5);
  static const char *const lim[] = { "Memory", "NanoCpus", "PidsLimit" };
  static const char *const key[] = { "memory", "cpus", "pids_limit" };
  static const long long lo[] = { COMPANION_MEMORY_MIN, COMPANION_NANO_CPUS_MIN, 1 };
  static const long long hi[]
      = { COMPANION_MEMORY_MAX, COMPANION_NANO_CPUS_MAX, COMPANION_PIDS_MAX };
  for (int i = 0; i < 3; i++)
    {
      yajl_val n = json_get (hc, lim[i]);
      CHECK ((n != NULL) == (json_get (v, key[i]) != NULL));
      CHECK (n == NULL
             || (n->type == yajl_t_number && (n->u.number.flags & YAJL_NUMBER_INT_VALID)
                 && n->u.number.i >= lo[i] && n->u.number.i <= hi[i]));
    }
  yajl_tree_free (back);
  free (specs);
  free (plan);
  yajl_tree_free (doc);
  yajl_tree_free (v);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  as_response ((const char *)data, size);
  as_facts ((const char *)data, size);
  char *s = malloc (size + 1);
  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  as_companion (s);
  free (s);
  return 0;
}

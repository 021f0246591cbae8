/* Pod requests: the input as config.json (and as the Docker labels document:
 * also what pod.json would record of the member's Swarm and companion
 * labels), and as the raw value of podshim.share / podshim.volumes / a name /
 * a pod key.
 * Checks: the fast path never skips a spec that names a pod; what is accepted
 * is valid; volume directory names are distinct plain file names; no volume is
 * under /proc, /sys or /dev or inside another; sizes are whole pages within
 * bounds; a scope is valid and a key splits back into its scope and name. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "companion.h"
#include "engine.h"
#include "json.h"
#include "pod.h"
#include "podcfg.h"

#include "fuzz.h"

static bool
plain_name (const char *n)
{
  return n[0] != '\0' && strchr (n, '/') == NULL && strcmp (n, ".") != 0 && strcmp (n, "..") != 0;
}

/* Accepted volumes are absolute, clean, distinct, at most POD_VOLUMES_MAX,
 * and their directory names are distinct file names. */
static void
check_volumes (char **v, size_t n)
{
  CHECK (n <= POD_VOLUMES_MAX);
  CHECK (v[n] == NULL);
  char **dn = calloc (n + 1, sizeof (char *));
  CHECK (dn != NULL);
  for (size_t i = 0; i < n; i++)
    {
      size_t len = strlen (v[i]);
      CHECK (len >= 2 && len <= POD_VOLUME_PATH_MAX && v[i][0] == '/' && v[i][len - 1] != '/');
      CHECK (strstr (v[i], "//") == NULL && strstr (v[i], "/./") == NULL
             && strstr (v[i], "/../") == NULL);
      CHECK (!(len >= 2 && strcmp (v[i] + len - 2, "/.") == 0));
      CHECK (!(len >= 3 && strcmp (v[i] + len - 3, "/..") == 0));
      CHECK (strchr (v[i], ':') == NULL);
      static const char *const refused[] = { "/proc", "/sys", "/dev", NULL };
      for (int r = 0; refused[r]; r++)
        {
          size_t rl = strlen (refused[r]);
          CHECK (!(strncmp (v[i], refused[r], rl) == 0 && (v[i][rl] == '\0' || v[i][rl] == '/')));
        }
      dn[i] = pod_volume_dirname (v[i]);
      CHECK (plain_name (dn[i]));
      for (size_t j = 0; j < i; j++)
        {
          CHECK (strcmp (v[i], v[j]) != 0);
          CHECK (strcmp (dn[i], dn[j]) != 0);
        }
      for (size_t j = 0; j < n; j++)
        {
          size_t lj = strlen (v[j]);
          CHECK (i == j || !(strncmp (v[i], v[j], lj) == 0 && v[i][lj] == '/')); /* not nested */
        }
    }
  for (size_t i = 0; i < n; i++)
    free (dn[i]);
  free (dn);
}

struct want_dir
{
  const char *dir;
  size_t len;
  bool found;
};

static bool
match_dir (const char *dir, size_t len, void *data)
{
  struct want_dir *w = data;
  if (len == w->len && memcmp (dir, w->dir, len) == 0)
    w->found = true;
  return false;
}

/* The byte scan of Docker's directory misses no /etc/hostname mount source
 * that docker_labels_load would follow (ID "c1"). */
static void
check_docker_scan (yajl_val spec, const char *buf, size_t len)
{
  yajl_val mounts = json_get_array (spec, "mounts");
  for (size_t i = 0; mounts && i < mounts->u.array.len; i++)
    {
      yajl_val m = mounts->u.array.values[i];
      const char *d = json_get_string (m, "destination");
      const char *src = json_get_string (m, "source");
      if (d == NULL || strcmp (d, "/etc/hostname") != 0 || src == NULL || src[0] != '/')
        continue;
      size_t n = strlen (src);
      if (n < 12 || strcmp (src + n - 12, "/c1/hostname") != 0)
        continue;
      struct want_dir w = { src, n - 9, false };
      if (spec_scan_docker_dirs (buf, len, "c1", match_dir, &w) == 0)
        CHECK (w.found);
    }
}

/* What pod.json records of a member from its labels (its Swarm task, its
 * companion labels): what is accepted is bounded, and a state holding it is
 * one pod_state_save writes. */
static void
check_member_labels (yajl_val labels)
{
  struct swarm_task t;
  struct podshim_error *err = NULL;
  if (swarm_task_from_labels (labels, &t, &err) < 0)
    {
      CHECK (err && err->msg[0] && t.service_id == NULL);
      podshim_error_free (err);
      return;
    }
  if (t.service_id)
    CHECK (strlen (t.service_id) <= SWARM_ID_MAX && strlen (t.service_name) <= SWARM_NAME_MAX
           && strlen (t.slot) < sizeof (t.slot));
  companion_labels (labels, labels, &t.companion_of, &t.companion_name);
  if (t.companion_of
      && (!companion_anchor_id_valid (t.companion_of)
          || (t.companion_name && !companion_name_valid (t.companion_name))))
    return; /* companion_check_anchor refuses it */
  struct pod_state p = { 0 };
  p.name = strdup ("web");
  CHECK (p.name != NULL);
  swarm_task_record (pod_state_add (&p, "c1"), &t);
  char *buf = NULL;
  size_t len;
  CHECK (pod_state_emit (&p, &buf, &len, &err) == 0);
  CHECK (pod_state_check_emitted ("web", buf, len, &err) == 0);
  CHECK (len < 4096);
  free (buf);
  pod_state_done (&p);
}

static void
as_spec (const char *buf, size_t len)
{
  struct podshim_error *err = NULL;
  yajl_val spec = NULL;
  if (json_parse (buf, len, "config.json", &spec, &err) < 0)
    {
      podshim_error_free (err);
      return;
    }
  bool may = spec_may_name_pod (buf, len);
  if (!may)
    check_docker_scan (spec, buf, len);
  /* The document is also tried as its own labels document (Config.Labels). */
  check_member_labels (spec);
  for (int as_labels = 0; as_labels < 2; as_labels++)
    {
      struct pod_request r = { 0 };
      int ret = pod_request_from_spec (spec, as_labels ? spec : NULL, &r, &err);
      if (!as_labels && !may)
        CHECK (ret == 0); /* the fast path must not skip a pod member */
      if (ret < 0)
        {
          CHECK (err && err->msg && err->msg[0]);
          CHECK (r.name == NULL);
          podshim_error_free (err);
          err = NULL;
          continue;
        }
      CHECK (err == NULL);
      if (ret == 0)
        {
          CHECK (r.name == NULL);
          continue;
        }
      CHECK (ret == 1);
      CHECK (pod_name_valid (r.name));
      CHECK (r.share != 0 && (r.share & ~0xfu) == 0);
      if (r.volumes)
        check_volumes (r.volumes, r.n_volumes);
      else
        CHECK (r.n_volumes == 0);
      pod_request_free (&r);

      char *scope = NULL;
      if (pod_scope_from_spec (spec, as_labels ? spec : NULL, &scope, &err) < 0)
        {
          CHECK (err && err->msg && err->msg[0] && scope == NULL);
          podshim_error_free (err);
          err = NULL;
        }
      else if (scope)
        {
          CHECK (pod_scope_valid (scope));
          char *key = pod_key (scope, "web");
          CHECK (strlen (key) <= POD_KEY_MAX && plain_name (key) && pod_key_valid (key));
          free (key);
          free (scope);
        }
    }
  yajl_tree_free (spec);
}

static void
as_string (const char *s)
{
  struct podshim_error *err = NULL;
  char **v = NULL;
  unsigned long long *sizes = NULL;
  size_t n = 0;
  if (pod_volumes_parse_sized (s, &v, &sizes, &n, &err) == 0)
    {
      check_volumes (v, n);
      for (size_t i = 0; i < n; i++)
        {
          CHECK (sizes[i] % 4096 == 0 && sizes[i] <= POD_VOLUME_SIZE_MAX);
          free (v[i]);
        }
      free (v);
      free (sizes);
    }
  else
    {
      CHECK (err && err->msg[0] && v == NULL);
      podshim_error_free (err);
      err = NULL;
    }

  unsigned mask = 0;
  if (pod_ns_parse_list (s, &mask, &err) == 0)
    CHECK (mask != 0 && (mask & ~0xfu) == 0);
  else
    {
      CHECK (err && err->msg[0]);
      podshim_error_free (err);
    }

  if (pod_name_valid (s))
    {
      size_t l = strlen (s);
      CHECK (l >= 1 && l <= POD_NAME_MAX && s[0] != '.' && plain_name (s));
    }
  if (container_id_valid (s))
    CHECK (strlen (s) <= 255 && plain_name (s));
  char *scope = NULL, *name = NULL;
  if (pod_key_parse (s, &scope, &name) == 0)
    {
      /* A key is a plain file name that its parts give back exactly. */
      CHECK (pod_key_valid (s) && plain_name (s) && strlen (s) <= POD_KEY_MAX);
      CHECK (pod_name_valid (name) && (scope == NULL || pod_scope_valid (scope)));
      char *k = pod_key (scope, name);
      CHECK (strcmp (k, s) == 0);
      free (k);
      free (scope);
      free (name);
    }
  else
    CHECK (!pod_key_valid (s));
  free (pod_volume_dirname (s));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  as_spec ((const char *)data, size);
  char *s = malloc (size + 1);
  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  as_string (s);
  free (s);
  return 0;
}

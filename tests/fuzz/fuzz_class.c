/* Runtime classes: the input as the operator's config file, as a container
 * record, and as a start-condition list. Checks: what is accepted is within
 * bounds and valid; a record survives emit + parse unchanged (written in
 * format version 1); a newer record keeps its routing fields only and is
 * never emitted. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "companion_policy.h"
#include "record.h"
#include "stateformat.h"
#include "startwait.h"

#include "fuzz.h"

static void
as_config (const char *buf, size_t len)
{
  struct class_config cfg = { 0 };
  struct podshim_error *err = NULL;
  if (class_config_parse (buf, len, "config", &cfg, &err) < 0)
    {
      CHECK (err && err->msg[0] && cfg.n == 0);
      podshim_error_free (err);
      return;
    }
  CHECK (cfg.n <= CLASS_MAX);
  for (size_t i = 0; i < cfg.n; i++)
    {
      const struct runtime_class *k = &cfg.classes[i];
      CHECK (class_name_valid (k->name));
      CHECK (k->path[0] != '\0' && (k->path[0] == '/' || strchr (k->path, '/') == NULL));
      CHECK (k->n_args <= CLASS_ARGS_MAX && k->args[k->n_args] == NULL);
      CHECK (class_config_find (&cfg, k->name) == k);
      char *root = class_root ("/run/runc", k->name);
      CHECK (strncmp (root, "/run/runc-podshim-class-", 24) == 0
             && strchr (root + 24, '/') == NULL);
      free (root);
    }
  const struct companion_policy *p = &cfg.companions;
  CHECK (p->n_allowed <= COMPANION_POLICY_IMAGES_MAX && (p->n_allowed == 0 || p->images_set));
  for (size_t i = 0; i < p->n_allowed; i++)
    CHECK (p->allowed_images[i][0]
           && strlen (p->allowed_images[i]) <= COMPANION_POLICY_PATTERN_MAX);
  CHECK (p->n_allowed == 0 || p->allowed_images[p->n_allowed] == NULL);
  unsigned max = companion_policy_max_per_pod (p);
  CHECK (max >= 1 && max <= COMPANION_PER_POD_MAX);
  const struct companion_limits *d = &p->defaults;
  CHECK (d->memory == 0
         || (d->memory >= COMPANION_MEMORY_MIN && d->memory <= COMPANION_MEMORY_MAX));
  CHECK (d->nano_cpus == 0
         || (d->nano_cpus >= COMPANION_NANO_CPUS_MIN && d->nano_cpus <= COMPANION_NANO_CPUS_MAX));
  CHECK (d->pids == 0 || (d->pids >= 1 && d->pids <= COMPANION_PIDS_MAX));
  /* The config's own patterns as images under its policy. */
  for (size_t i = 0; i < p->n_allowed && i < 8; i++)
    {
      const char *img = p->allowed_images[i];
      if (companion_image_check (p, "config", "a", img, &err) < 0)
        {
          CHECK (err && strstr (err->msg, "companion `a`") != NULL);
          podshim_error_free (steal_pointer (&err));
        }
    }
  free (class_config_names (&cfg));
  class_config_free (&cfg);
}

/* s as a companion's image under a policy that allows `nginx:*` and `3f2a`,
   and as its limits. */
static void
as_image (const char *s)
{
  char *pats[] = { (char *)"nginx:*", (char *)"3f2a", (char *)"localhost:5000/team/*", NULL };
  struct companion_policy p = { .images_set = true, .allowed_images = pats, .n_allowed = 3 };
  struct companion_policy none = { 0 };
  struct podshim_error *err = NULL;
  bool by_id = companion_image_by_id (s);
  char *reg = companion_image_loopback_registry (s);
  if (reg)
    {
      /* the registry is the reference's first component, as written */
      size_t n = strlen (reg);
      CHECK (strncmp (s, reg, n) == 0 && s[n] == '/');
    }
  int allowed = companion_image_check (&p, "config", "a", s, &err);
  if (allowed < 0)
    {
      CHECK (err && strstr (err->msg, "companion `a`: image `") != NULL);
      podshim_error_free (steal_pointer (&err));
    }
  else if (by_id)
    CHECK (strcmp (s, "3f2a") == 0);
  else if (reg)
    CHECK (strncmp (s, "localhost:5000/team/", 20) == 0);
  int any = companion_image_check (&none, "config", "a", s, &err);
  CHECK ((any == 0) == (!by_id && reg == NULL));
  podshim_error_free (err);
  free (reg);

  yajl_val v = json_new_string (s);
  long long n;
  const char *why;
  if (companion_memory_parse (v, &n, &why) == 0)
    {
      CHECK (n >= COMPANION_MEMORY_MIN && n <= COMPANION_MEMORY_MAX);
      free (companion_memory_str (n));
    }
  if (companion_cpus_parse (v, &n, &why) == 0)
    {
      CHECK (n >= COMPANION_NANO_CPUS_MIN && n <= COMPANION_NANO_CPUS_MAX);
      free (companion_cpus_str (n));
    }
  if (companion_pids_parse (v, &n, &why) == 0)
    CHECK (n >= 1 && n <= COMPANION_PIDS_MAX);
  yajl_tree_free (v);
}

static void
as_record (const char *buf, size_t len)
{
  struct container_record r = { 0 };
  struct podshim_error *err = NULL;
  if (container_record_parse (buf, len, &r, &err) < 0)
    {
      CHECK (err && err->msg[0]);
      podshim_error_free (err);
      return;
    }
  CHECK (r.version >= 1);
  char *text = NULL, *text2 = NULL;
  size_t tlen, tlen2;
  if (container_record_newer (&r))
    {
      /* A newer podshim's: its routing fields only, never written back. */
      CHECK (r.n_wait == 0 && r.n_vols == 0 && !r.essential && !r.network_owner && r.pid == 0);
      CHECK (r.companions == NULL);
      CHECK (container_record_emit (&r, &text, &tlen, &err) < 0 && text == NULL);
      CHECK (podshim_error_is (err, STATE_FORMAT_NEWER));
      podshim_error_free (err);
      container_record_free (&r);
      return;
    }
  CHECK (r.n_wait <= WAIT_MAX && r.wait_timeout >= 0 && r.wait_timeout <= WAIT_TIMEOUT_MAX);
  CHECK (container_record_emit (&r, &text, &tlen, &err) == 0);
  CHECK (strncmp (text, "{\"version\":1,", 12) == 0);
  struct container_record back = { 0 };
  CHECK (container_record_parse (text, tlen, &back, &err) == 0);
  CHECK (container_record_emit (&back, &text2, &tlen2, &err) == 0);
  CHECK (tlen == tlen2 && memcmp (text, text2, tlen) == 0);
  free (text);
  free (text2);
  container_record_free (&back);
  container_record_free (&r);
}

static void
as_string (const char *s)
{
  char **v = NULL;
  size_t n = 0;
  struct podshim_error *err = NULL;
  if (wait_list_parse (s, &v, &n, &err) == 0)
    {
      CHECK (n >= 1 && n <= WAIT_MAX && v[n] == NULL);
      for (size_t i = 0; i < n; i++)
        {
          CHECK (strncmp (v[i], "tcp:", 4) == 0 || strncmp (v[i], "file:/", 6) == 0);
          CHECK (strstr (v[i], "/../") == NULL && strstr (v[i], "//") == NULL);
          free (v[i]);
        }
      free (v);
    }
  else
    {
      CHECK (v == NULL && err && err->msg[0]);
      podshim_error_free (err);
      err = NULL;
    }
  int t;
  if (wait_timeout_parse (s, &t, &err) == 0)
    CHECK (t >= 1 && t <= WAIT_TIMEOUT_MAX);
  else
    podshim_error_free (err);
  if (class_name_valid (s))
    CHECK (strlen (s) <= CLASS_NAME_MAX && strchr (s, '/') == NULL && s[0] != '.');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  as_config ((const char *)data, size);
  as_record ((const char *)data, size);
  char *s = malloc (size + 1);
  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  as_string (s);
  as_image (s);
  free (s);
  return 0;
}

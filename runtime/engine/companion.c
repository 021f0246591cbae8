/* Companions: the schema of a companion's label value, and the plan (the
 * Engine API's create documents) an anchor's record keeps (companion.h). */
#include "config.h"
#include "companion.h"
#include "companion_policy.h"
#include "argv.h"
#include "http.h"
#include "pod.h"
#include "podcfg.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

static const char *const label_path[] = { "Config", "Labels", NULL };

bool
companion_name_valid (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > COMPANION_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = name[i];
      bool ok
          = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
      if (!ok)
        return false;
    }
  return true;
}

static int
want_string (const char *name, const char *key, yajl_val v, size_t max, struct podshim_error **err)
{
  if (v->type != yajl_t_string)
    return podshim_error_set (err, 0, "companion `%s`: `%s` must be a string", name, key);
  if (strlen (v->u.string) > max)
    return podshim_error_set (err, 0, "companion `%s`: `%s` is longer than %zu bytes", name, key,
                              max);
  return 0;
}

static int
want_strings (const char *name, const char *key, yajl_val v, size_t max_items,
              struct podshim_error **err)
{
  if (v->type != yajl_t_array)
    return podshim_error_set (err, 0, "companion `%s`: `%s` must be an array of strings", name,
                              key);
  if (v->u.array.len > max_items)
    return podshim_error_set (err, 0, "companion `%s`: `%s` has more than %zu items", name, key,
                              max_items);
  for (size_t i = 0; i < v->u.array.len; i++)
    if (v->u.array.values[i]->type != yajl_t_string)
      return podshim_error_set (err, 0, "companion `%s`: `%s` must be an array of strings", name,
                                key);
  return 0;
}

/* Image references as Docker writes them: [A-Za-z0-9._/:@-], no leading '-'. */
static bool
image_valid (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n > 512 || s[0] == '-' || s[0] == '/' || s[0] == ':' || s[0] == '@')
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
            || c == '_' || c == '/' || c == ':' || c == '@' || c == '-'))
        return false;
    }
  return true;
}

/* "a,b" from an array of strings (none may hold a comma). Owned, or NULL. */
static char *
join_list (yajl_val arr)
{
  size_t n = 1;
  for (size_t i = 0; i < arr->u.array.len; i++)
    {
      const char *s = arr->u.array.values[i]->u.string;
      if (strchr (s, ',') != NULL)
        return NULL;
      n += strlen (s) + 1;
    }
  char *out = calloc (1, n);
  if (out == NULL)
    abort ();
  for (size_t i = 0; i < arr->u.array.len; i++)
    {
      if (i)
        strcat (out, ",");
      strcat (out, arr->u.array.values[i]->u.string);
    }
  return out;
}

static int
check_key (const char *name, const char *key, yajl_val v, struct podshim_error **err)
{
  if (strcmp (key, "image") == 0)
    {
      if (want_string (name, key, v, 512, err) < 0)
        return -1;
      if (!image_valid (v->u.string))
        return podshim_error_set (err, 0,
                                  "companion `%s`: `image` `%.100s` is not an image reference",
                                  name, v->u.string);
      return 0;
    }
  if (strcmp (key, "command") == 0 || strcmp (key, "entrypoint") == 0)
    return want_strings (name, key, v, 256, err);
  if (strcmp (key, "env") == 0)
    {
      if (want_strings (name, key, v, 256, err) < 0)
        return -1;
      for (size_t i = 0; i < v->u.array.len; i++)
        {
          const char *s = v->u.array.values[i]->u.string;
          const char *eq = strchr (s, '=');
          if (eq == NULL || eq == s)
            return podshim_error_set (err, 0, "companion `%s`: `env` item `%.64s` is not K=V", name,
                                      s);
        }
      return 0;
    }
  if (strcmp (key, "user") == 0)
    return want_string (name, key, v, 256, err);
  if (strcmp (key, "workdir") == 0)
    {
      if (want_string (name, key, v, 4096, err) < 0)
        return -1;
      if (v->u.string[0] != '/')
        return podshim_error_set (err, 0, "companion `%s`: `workdir` must be an absolute path",
                                  name);
      return 0;
    }
  if (strcmp (key, "volumes") == 0)
    {
      if (want_strings (name, key, v, POD_VOLUMES_MAX, err) < 0)
        return -1;
      cleanup_free char *list = join_list (v);
      if (list == NULL)
        return podshim_error_set (err, 0, "companion `%s`: `volumes` items hold no comma", name);
      cleanup_strv char **vols = NULL;
      size_t n = 0;
      if (list[0] && pod_volumes_parse_sized (list, &vols, NULL, &n, err) < 0)
        return podshim_error_wrap (err, "companion `%s`: `volumes`", name);
      return 0;
    }
  if (strcmp (key, "share") == 0)
    {
      unsigned mask = 0;
      if (want_string (name, key, v, 64, err) < 0)
        return -1;
      if (pod_ns_parse_list (v->u.string, &mask, err) < 0)
        return podshim_error_wrap (err, "companion `%s`: `share`", name);
      return 0;
    }
  if (strcmp (key, "restart") == 0)
    {
      if (want_string (name, key, v, 32, err) < 0)
        return -1;
      const char *s = v->u.string;
      if (strcmp (s, "no") && strcmp (s, "always") && strcmp (s, "on-failure")
          && strcmp (s, "unless-stopped"))
        return podshim_error_set (err, 0,
                                  "companion `%s`: `restart` `%.32s`: want no, always, on-failure"
                                  " or unless-stopped",
                                  name, s);
      return 0;
    }
  if (strcmp (key, "wait") == 0)
    {
      if (want_string (name, key, v, 4096, err) < 0)
        return -1;
      cleanup_strv char **w = NULL;
      size_t n = 0;
      if (wait_list_parse (v->u.string, &w, &n, err) < 0)
        return podshim_error_wrap (err, "companion `%s`: `wait`", name);
      return 0;
    }
  if (strcmp (key, "memory") == 0 || strcmp (key, "cpus") == 0 || strcmp (key, "pids_limit") == 0)
    {
      long long n;
      const char *why;
      int r = key[0] == 'm'   ? companion_memory_parse (v, &n, &why)
              : key[0] == 'c' ? companion_cpus_parse (v, &n, &why)
                              : companion_pids_parse (v, &n, &why);
      if (r < 0)
        return podshim_error_set (err, 0, "companion `%s`: `%s` %s", name, key, why);
      return 0;
    }
  if (strcmp (key, "essential") == 0)
    {
      bool b;
      if (v->type == yajl_t_true || v->type == yajl_t_false)
        return 0;
      if (v->type != yajl_t_string || parse_go_bool (v->u.string, &b) < 0)
        return podshim_error_set (err, 0, "companion `%s`: `essential` must be true or false",
                                  name);
      return 0;
    }
  return podshim_error_set (err, 0,
                            "companion `%s`: unknown key `%.64s` (a companion has image, command,"
                            " entrypoint, env, user, workdir, volumes, share, restart, wait,"
                            " essential, memory, cpus, pids_limit)",
                            name, key);
}

int
companion_spec_parse (const char *name, const char *value, yajl_val *ret,
                      struct podshim_error **err)
{
  if (!companion_name_valid (name))
    return podshim_error_set (err, 0,
                              "invalid companion name `%.64s`: want 1-%d characters of"
                              " [a-z0-9_-] starting with a letter or digit",
                              name, COMPANION_NAME_MAX);
  size_t len = strlen (value);
  if (len > COMPANION_VALUE_MAX)
    return podshim_error_set (err, 0, "companion `%s`: its value is longer than %d bytes", name,
                              COMPANION_VALUE_MAX);
  cleanup_json yajl_val v = NULL;
  if (json_parse (value, len, "companion", &v, err) < 0)
    return podshim_error_wrap (err, "companion `%s`", name);
  if (v->type != yajl_t_object)
    return podshim_error_set (err, 0, "companion `%s`: its value must be a JSON object", name);
  bool image = false;
  for (size_t i = 0; i < v->u.object.len; i++)
    {
      const char *k = v->u.object.keys[i];
      for (size_t j = 0; j < i; j++)
        if (strcmp (k, v->u.object.keys[j]) == 0)
          return podshim_error_set (err, 0, "companion `%s`: key `%.64s` given twice", name, k);
      if (check_key (name, k, v->u.object.values[i], err) < 0)
        return -1;
      image |= strcmp (k, "image") == 0;
    }
  if (!image)
    return podshim_error_set (err, 0, "companion `%s`: `image` is required", name);
  if (ret)
    *ret = steal_pointer (&v);
  return 0;
}

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *)s, strlen (s));
}

static void
gen_kv (yajl_gen g, const char *k, const char *v)
{
  gen_str (g, k);
  gen_str (g, v);
}

/* Emits v (a parsed companion value: strings, arrays, objects, bools). */
static void
gen_val (yajl_gen g, yajl_val v)
{
  switch (v->type)
    {
    case yajl_t_string:
      gen_str (g, v->u.string);
      break;
    case yajl_t_array:
      yajl_gen_array_open (g);
      for (size_t i = 0; i < v->u.array.len; i++)
        gen_val (g, v->u.array.values[i]);
      yajl_gen_array_close (g);
      break;
    case yajl_t_object:
      yajl_gen_map_open (g);
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          gen_str (g, v->u.object.keys[i]);
          gen_val (g, v->u.object.values[i]);
        }
      yajl_gen_map_close (g);
      break;
    case yajl_t_true:
    case yajl_t_false:
      yajl_gen_bool (g, v->type == yajl_t_true);
      break;
    case yajl_t_number:
      yajl_gen_number (g, v->u.number.r, strlen (v->u.number.r));
      break;
    default:
      yajl_gen_null (g);
    }
}

static char *
gen_finish (yajl_gen g)
{
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  char *out = strndup ((const char *)buf, len);
  if (out == NULL)
    abort ();
  yajl_gen_free (g);
  return out;
}

static yajl_gen
gen_new (void)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    abort ();
  return g;
}

struct found
{
  const char *name;
  const char *value;
  const char *from;
};

static int
collect (yajl_val obj, const char *from, struct found *out, size_t *n, struct podshim_error **err)
{
  if (obj == NULL || obj->type != yajl_t_object)
    return 0;
  size_t pl = strlen (COMPANION_PREFIX);
  for (size_t i = 0; i < obj->u.object.len; i++)
    {
      const char *k = obj->u.object.keys[i];
      if (strncmp (k, COMPANION_PREFIX, pl) != 0)
        continue;
      const char *name = k + pl;
      yajl_val v = obj->u.object.values[i];
      if (v->type != yajl_t_string)
        continue;
      size_t j;
      for (j = 0; j < *n; j++)
        if (strcmp (out[j].name, name) == 0)
          break;
      if (j < *n)
        {
          /* Annotations come first and win; a later duplicate label wins over
             an earlier one (last key wins, as in Go). */
          if (strcmp (out[j].from, from) == 0)
            out[j].value = v->u.string;
          continue;
        }
      if (*n == COMPANION_MAX)
        return podshim_error_set (err, 0, "more than %d companions (%s%s...)", COMPANION_MAX,
                                  COMPANION_PREFIX, name);
      out[(*n)++] = (struct found){ name, v->u.string, from };
    }
  return 0;
}

void
companion_label_hash (const char *value, char out[17])
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)value; *p; p++)
    {
      h ^= *p;
      h *= 0x100000001b3ULL;
    }
  snprintf (out, 17, "%016llx", (unsigned long long)h);
}

bool
companion_declares_any (yajl_val spec, yajl_val labels_doc)
{
  yajl_val objs[2]
      = { json_get_object (spec, "annotations"), json_get_path (labels_doc, label_path) };
  size_t pl = strlen (COMPANION_PREFIX);
  for (size_t o = 0; o < 2; o++)
    for (size_t i = 0; objs[o] && objs[o]->type == yajl_t_object && i < objs[o]->u.object.len; i++)
      if (strncmp (objs[o]->u.object.keys[i], COMPANION_PREFIX, pl) == 0)
        return true;
  return false;
}

static void
gen_limit (yajl_gen g, const char *key, long long n)
{
  char buf[32];
  if (n <= 0)
    return;
  gen_str (g, key);
  int len = snprintf (buf, sizeof (buf), "%lld", n);
  yajl_gen_number (g, buf, (size_t)len);
}

int
companion_specs_from_spec (yajl_val spec, yajl_val labels_doc,
                           const struct companion_limits *defaults, char **ret_specs,
                           struct podshim_error **err)
{
  struct found f[COMPANION_MAX];
  size_t n = 0;
  if (collect (json_get_object (spec, "annotations"), "annotation", f, &n, err) < 0
      || collect (json_get_path (labels_doc, label_path), "label", f, &n, err) < 0)
    return -1;
  if (n == 0)
    return 0;
  static const struct companion_limits none = { 0 };
  struct companion_limits anchor;
  companion_limits_from_spec (spec, &anchor);
  const char *image = json_get_string (labels_doc, "Image");
  yajl_gen g = gen_new ();
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_json yajl_val v = NULL;
      struct companion_limits lim;
      if (companion_spec_parse (f[i].name, f[i].value, &v, err) < 0
          || companion_limits_resolve (f[i].name, v, &anchor, defaults ? defaults : &none, &lim,
                                       err)
                 < 0)
        {
          yajl_gen_free (g);
          return podshim_error_wrap (err, "%s %s%s", f[i].from, COMPANION_PREFIX,
                                     companion_name_valid (f[i].name) ? f[i].name : "...");
        }
      yajl_gen_map_open (g);
      gen_str (g, "name");
      gen_str (g, f[i].name);
      gen_str (g, "spec");
      gen_val (g, v);
      if (lim.memory || lim.nano_cpus || lim.pids)
        {
          gen_str (g, "limits");
          yajl_gen_map_open (g);
          gen_limit (g, "memory", lim.memory);
          gen_limit (g, "nanoCpus", lim.nano_cpus);
          gen_limit (g, "pids", lim.pids);
          yajl_gen_map_close (g);
        }
      if (strcmp (f[i].from, "label") == 0)
        {
          /* Whether it only repeats its image's label is asked at start,
             where the API is at hand (companion_start). */
          char h[17];
          companion_label_hash (f[i].value, h);
          gen_kv (g, "labelHash", h);
          if (image && image[0])
            gen_kv (g, "anchorImage", image);
        }
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  *ret_specs = gen_finish (g);
  return 1;
}

char *
companion_anchor_name (yajl_val labels_doc, const char *id)
{
  const char *n = json_get_string (labels_doc, "Name");
  if (n && n[0] == '/')
    n++;
  char *r = strdup (n && n[0] ? n : id);
  if (r == NULL)
    abort ();
  return r;
}

char *
companion_default_pod (yajl_val labels_doc, const char *id)
{
  char *r = companion_anchor_name (labels_doc, id);
  size_t n = strlen (r);
  if (n > POD_NAME_MAX)
    r[n = POD_NAME_MAX] = '\0';
  for (size_t i = 0; i < n; i++)
    {
      char c = r[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
            || c == '-' || c == '.'))
        r[i] = '-';
    }
  if (r[0] == '.')
    r[0] = '_';
  return r;
}

int
companion_plan (const char *specs, const char *anchor_id, const char *anchor_name,
                const char *pod_name, const char *scope, char **ret_plan,
                struct podshim_error **err)
{
  cleanup_json yajl_val arr = NULL;
  if (json_parse (specs, strlen (specs), "companions", &arr, err) < 0)
    return -1;
  yajl_gen g = gen_new ();
  yajl_gen_array_open (g);
  for (size_t i = 0; arr->type == yajl_t_array && i < arr->u.array.len; i++)
    {
      yajl_val e = arr->u.array.values[i];
      const char *name = json_get_string (e, "name");
      yajl_val s = json_get_object (e, "spec");
      const char *image = json_get_string (s, "image");
      if (name == NULL || s == NULL || image == NULL)
        continue;
      cleanup_free char *cname = NULL;
      if (asprintf (&cname, "%s.%s", anchor_name, name) < 0)
        abort ();
      yajl_gen_map_open (g);
      gen_kv (g, "name", name);
      gen_kv (g, "container", cname);
      gen_kv (g, "image", image);
      const char *lh = json_get_string (e, "labelHash");
      const char *ai = json_get_string (e, "anchorImage");
      if (lh)
        gen_kv (g, "labelHash", lh);
      if (lh && ai)
        gen_kv (g, "anchorImage", ai);
      gen_str (g, "deferred");
      yajl_gen_bool (g, json_get (s, "wait") != NULL);
      gen_str (g, "body");
      yajl_gen_map_open (g);
      gen_kv (g, "Image", image);
      static const char *const arrays[][2]
          = { { "command", "Cmd" }, { "entrypoint", "Entrypoint" }, { "env", "Env" } };
      for (size_t j = 0; j < 3; j++)
        {
          yajl_val a = json_get_array (s, arrays[j][0]);
          if (a)
            {
              gen_str (g, arrays[j][1]);
              gen_val (g, a);
            }
        }
      const char *u = json_get_string (s, "user");
      if (u)
        gen_kv (g, "User", u);
      const char *w = json_get_string (s, "workdir");
      if (w)
        gen_kv (g, "WorkingDir", w);
      gen_str (g, "Labels");
      yajl_gen_map_open (g);
      gen_kv (g, "podshim.pod", pod_name);
      if (scope && strncmp (scope, "stack:", 6) == 0)
        gen_kv (g, "com.docker.stack.namespace", scope + 6);
      else if (scope && strncmp (scope, "compose:", 8) == 0)
        gen_kv (g, "com.docker.compose.project", scope + 8);
      gen_kv (g, COMPANION_OF_LABEL, anchor_id);
      gen_kv (g, COMPANION_NAME_LABEL, name);
      yajl_val vols = json_get_array (s, "volumes");
      cleanup_free char *vl = vols ? join_list (vols) : NULL;
      if (vl && vl[0])
        gen_kv (g, "podshim.volumes", vl);
      const char *sh = json_get_string (s, "share");
      if (sh)
        gen_kv (g, "podshim.share", sh);
      const char *wt = json_get_string (s, "wait");
      if (wt)
        gen_kv (g, "podshim.wait", wt);
      yajl_val ess = json_get (s, "essential");
      if (ess)
        gen_kv (g, "podshim.essential",
                ess->type == yajl_t_string ? ess->u.string
                : ess->type == yajl_t_true ? "true"
                                           : "false");
      yajl_gen_map_close (g);
      gen_str (g, "HostConfig");
      yajl_gen_map_open (g);
      gen_kv (g, "NetworkMode", "none");
      gen_str (g, "RestartPolicy");
      yajl_gen_map_open (g);
      const char *rp = json_get_string (s, "restart");
      gen_kv (g, "Name", rp ? rp : "no");
      yajl_gen_map_close (g);
      yajl_val lim = json_get_object (e, "limits");
      static const char *const lk[3][2]
          = { { "memory", "Memory" }, { "nanoCpus", "NanoCpus" }, { "pids", "PidsLimit" } };
      for (size_t j = 0; j < 3; j++)
        {
          yajl_val x = json_get (lim, lk[j][0]);
          if (x && x->type == yajl_t_number && (x->u.number.flags & YAJL_NUMBER_INT_VALID)
              && x->u.number.i > 0)
            gen_limit (g, lk[j][1], x->u.number.i);
        }
      yajl_gen_map_close (g);
      yajl_gen_map_close (g);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  *ret_plan = gen_finish (g);
  return 0;
}

char *
companion_docker_socket (const struct shim_ctx *ctx, struct podshim_error **err)
{
  const char *h = ctx->cmd->shim_docker_host;
  if (h == NULL)
    h = getenv ("PODSHIM_DOCKER_HOST");
  if (h == NULL || *h == '\0')
    h = COMPANION_DOCKER_HOST_DEFAULT;
  char *p = http_unix_path (h);
  if (p == NULL)
    podshim_error_set (err, 0, "Docker host `%.200s` is not unix:///PATH", h);
  return p;
}

void
companion_labels (yajl_val spec, yajl_val labels_doc, const char **ret_of, const char **ret_name)
{
  yajl_val ann = json_get_object (spec, "annotations");
  yajl_val lab = json_get_path (labels_doc, label_path);
  *ret_of = json_get_string (ann, COMPANION_OF_LABEL);
  if (*ret_of == NULL)
    *ret_of = json_get_string (lab, COMPANION_OF_LABEL);
  *ret_name = json_get_string (ann, COMPANION_NAME_LABEL);
  if (*ret_name == NULL)
    *ret_name = json_get_string (lab, COMPANION_NAME_LABEL);
}

int
companion_pod_check (const char *key, const struct pod_state *pod, const char *companion_of,
                     unsigned max, const char *config, struct podshim_error **err)
{
  if (companion_of == NULL)
    return 0;
  unsigned n = 0;
  for (size_t i = 0; i < pod->n_members; i++)
    if (json_get_string (pod->members[i].raw, "companion_of"))
      n++;
  if (n < max)
    return 0;
  return podshim_error_set (err, 0,
                            "pod `%s` already has %u companions, the most it may have"
                            " (companions.maxPerPod in %s, default %d): a companion of `%.12s`"
                            " is refused",
                            key, n, config, COMPANION_PER_POD_DEFAULT, companion_of);
}

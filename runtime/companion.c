#include "config.h"
#include "companion.h"
#include "argv.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "pod.h"
#include "podcfg.h"
#include "procutil.h"
#include "startwait.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

/* Bounds of the calls made while dockerd waits for the anchor's start. */
#define API_TIMEOUT_MS (15 * 1000)
#define PING_TIMEOUT_MS (3 * 1000)
#define PULL_TIMEOUT_MS (180 * 1000)
/* How long a detached worker waits for the API (dockerd's boot-time restore). */
#define API_WAIT_S 600
/* How long the anchor's start waits for the removal of its old companions. */
#define LOCK_WAIT_S 60

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
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
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
                                  "companion `%s`: `image` `%.100s` is not an image reference", name,
                                  v->u.string);
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
            return podshim_error_set (err, 0, "companion `%s`: `env` item `%.64s` is not K=V",
                                      name, s);
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
                            " essential)",
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
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
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
  char *out = strndup ((const char *) buf, len);
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

int
companion_specs_from_spec (yajl_val spec, yajl_val labels_doc, char **ret_specs,
                           struct podshim_error **err)
{
  struct found f[COMPANION_MAX];
  size_t n = 0;
  if (collect (json_get_object (spec, "annotations"), "annotation", f, &n, err) < 0
      || collect (json_get_path (labels_doc, label_path), "label", f, &n, err) < 0)
    return -1;
  if (n == 0)
    return 0;
  yajl_gen g = gen_new ();
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_json yajl_val v = NULL;
      if (companion_spec_parse (f[i].name, f[i].value, &v, err) < 0)
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

static void
gen_kv (yajl_gen g, const char *k, const char *v)
{
  gen_str (g, k);
  gen_str (g, v);
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

/* --- the Engine API ---------------------------------------------------- */

struct api
{
  char *sock;
};

/* The API's own message ({"message": ...}) or the start of the body. Owned. */
static char *
api_message (const struct http_response *r)
{
  cleanup_json yajl_val doc = NULL;
  cleanup_error struct podshim_error *e = NULL;
  const char *m = NULL;
  if (r->body_len && json_parse (r->body, r->body_len, "API answer", &doc, &e) == 0)
    m = json_get_string (doc, "message");
  char *out = NULL;
  if (asprintf (&out, "%.400s", m ? m : r->body ? r->body : "") < 0)
    abort ();
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return out;
}

static int
api_call (const struct api *a, const char *method, const char *path, const char *body,
          int timeout_ms, struct http_response *ret, struct podshim_error **err)
{
  cleanup_free char *full = NULL;
  if (asprintf (&full, "/v1.41%s", path) < 0)
    abort ();
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: Docker API: %s %s", method, full);
  return http_request (a->sock, method, full, body, body ? strlen (body) : 0, timeout_ms, ret, err);
}

static void
url_escape (const char *s, char *out, size_t size)
{
  size_t o = 0;
  for (; *s && o + 4 < size; s++)
    {
      unsigned char c = (unsigned char) *s;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.' || c == '~')
        out[o++] = (char) c;
      else
        o += (size_t) snprintf (out + o, size - o, "%%%02X", c);
    }
  out[o] = '\0';
}

/* Pulls image when the node lacks it. */
static int
ensure_image (const struct api *a, const char *image, struct podshim_error **err)
{
  char esc[1600];
  url_escape (image, esc, sizeof (esc));
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/images/%s/json", esc) < 0)
    abort ();
  {
    cleanup_http_response struct http_response r = { 0 };
    if (api_call (a, "GET", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
      return -1;
    if (r.status == 200)
      return 0;
    if (r.status != 404)
      {
        cleanup_free char *m = api_message (&r);
        return podshim_error_set (err, 0, "image `%s`: %s (HTTP %d)", image, m, r.status);
      }
  }
  /* fromImage without a tag would pull every tag. */
  cleanup_free char *repo = strdup (image);
  if (repo == NULL)
    abort ();
  const char *tag = "latest";
  char *slash = strrchr (repo, '/');
  char *colon = strrchr (slash ? slash : repo, ':');
  if (strchr (repo, '@'))
    tag = NULL;
  else if (colon)
    {
      *colon = '\0';
      tag = colon + 1;
    }
  char resc[1600], tesc[300];
  url_escape (repo, resc, sizeof (resc));
  url_escape (tag ? tag : "", tesc, sizeof (tesc));
  cleanup_free char *pull = NULL;
  if (asprintf (&pull, "/images/create?fromImage=%s%s%s", resc, tag ? "&tag=" : "",
                tag ? tesc : "")
      < 0)
    abort ();
  podshim_log (PODSHIM_LOG_INFO, "podshim: pulling image `%s` for a companion", image);
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "POST", pull, "", PULL_TIMEOUT_MS, &r, err) < 0)
    return podshim_error_wrap (err, "cannot pull image `%s`", image);
  if (r.status != 200)
    {
      cleanup_free char *m = api_message (&r);
      return podshim_error_set (err, 0, "image `%s` is not on this node and cannot be pulled: %s",
                                image, m);
    }
  /* A 200 streams progress lines; a failure is a line with "error". */
  for (char *line = r.body; line && *line;)
    {
      char *nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      cleanup_json yajl_val d = NULL;
      cleanup_error struct podshim_error *e = NULL;
      if (json_parse (line, strlen (line), "pull progress", &d, &e) == 0)
        {
          const char *m = json_get_string (d, "error");
          if (m)
            return podshim_error_set (err, 0,
                                      "image `%s` is not on this node and cannot be pulled: %.400s",
                                      image, m);
        }
      line = nl ? nl + 1 : NULL;
    }
  return 0;
}

static int
api_remove (const struct api *a, const char *id, struct podshim_error **err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s?force=1&v=1", id) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "DELETE", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status != 204 && r.status != 404)
    {
      cleanup_free char *m = api_message (&r);
      return podshim_error_set (err, 0, "cannot remove container `%.64s`: %s", id, m);
    }
  return 0;
}

static int
api_start (const struct api *a, const char *id, struct podshim_error **err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/start", id) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "POST", path, NULL, API_TIMEOUT_MS * 4, &r, err) < 0)
    return -1;
  if (r.status != 204 && r.status != 304)
    {
      cleanup_free char *m = api_message (&r);
      return podshim_error_set (err, 0, "cannot start it: %s", m);
    }
  return 0;
}

/* Finds container `name`: 1 and *ret_id when it is a companion of anchor_id;
 * 0 when absent (a stale companion of another anchor is removed first). */
static int
find_companion (const struct api *a, const char *name, const char *anchor_id, char **ret_id,
                struct podshim_error **err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/json", name) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "GET", path, NULL, API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status == 404)
    return 0;
  cleanup_free char *m = api_message (&r);
  if (r.status != 200)
    return podshim_error_set (err, 0, "cannot inspect container `%s`: %s", name, m);
  cleanup_json yajl_val doc = NULL;
  if (json_parse (r.body, r.body_len, "container inspect", &doc, err) < 0)
    return -1;
  const char *id = json_get_string (doc, "Id");
  yajl_val labels = json_get_path (doc, label_path);
  const char *of = json_get_string (labels, COMPANION_OF_LABEL);
  if (id == NULL || of == NULL)
    return podshim_error_set (err, 0,
                              "the name `%s` is taken by a container that is not a companion", name);
  if (strcmp (of, anchor_id) == 0)
    {
      if ((*ret_id = strdup (id)) == NULL)
        abort ();
      return 1;
    }
  podshim_log (PODSHIM_LOG_INFO, "podshim: removing `%s`, a companion of the gone `%.12s`", name,
               of);
  if (api_remove (a, id, err) < 0)
    return -1;
  return 0;
}

static int
api_create (const struct api *a, const char *name, yajl_val body, char **ret_id,
            struct podshim_error **err)
{
  yajl_gen g = gen_new ();
  gen_val (g, body);
  cleanup_free char *doc = gen_finish (g);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/create?name=%s", name) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "POST", path, doc, API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status != 201)
    {
      cleanup_free char *m = api_message (&r);
      return podshim_error_set (err, 0, "cannot create it: %s", m);
    }
  cleanup_json yajl_val d = NULL;
  if (json_parse (r.body, r.body_len, "container create", &d, err) < 0)
    return -1;
  const char *id = json_get_string (d, "Id");
  if (id == NULL || !container_id_valid (id))
    return podshim_error_set (err, 0, "cannot create it: the API gave no container ID");
  if ((*ret_id = strdup (id)) == NULL)
    abort ();
  return 0;
}

/* Makes every companion of plan exist; starts the ones not deferred (all
 * when all is set). On failure removes what it created, and err names the
 * companion. ret_deferred: IDs left to start (NULL-terminated, owned). */
static int
reconcile (const struct api *a, const char *anchor_id, yajl_val plan, bool all,
           char ***ret_deferred, struct podshim_error **err)
{
  size_t n = plan->type == yajl_t_array ? plan->u.array.len : 0;
  cleanup_strv char **created = calloc (n + 1, sizeof (char *));
  cleanup_strv char **deferred = calloc (n + 1, sizeof (char *));
  if (created == NULL || deferred == NULL)
    abort ();
  size_t nc = 0, nd = 0;
  int ret = 0;
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      yajl_val e = plan->u.array.values[i];
      const char *name = json_get_string (e, "name");
      const char *cname = json_get_string (e, "container");
      const char *image = json_get_string (e, "image");
      yajl_val body = json_get_object (e, "body");
      if (name == NULL || cname == NULL || image == NULL || body == NULL)
        continue;
      cleanup_free char *id = NULL;
      int r = find_companion (a, cname, anchor_id, &id, err);
      if (r == 0 && (r = ensure_image (a, image, err)) == 0
          && (r = api_create (a, cname, body, &id, err)) == 0)
        {
          created[nc++] = strdup (id);
          podshim_log (PODSHIM_LOG_INFO, "podshim: created companion `%s` (%.12s) of `%.12s`",
                       cname, id, anchor_id);
        }
      yajl_val d = json_get (e, "deferred");
      if (r >= 0 && !all && d && d->type == yajl_t_true)
        deferred[nd++] = steal_pointer (&id);
      else if (r >= 0)
        r = api_start (a, id, err);
      if (r < 0)
        {
          podshim_error_wrap (err, "companion `%s` (container `%s`)", name, cname);
          ret = -1;
        }
    }
  if (ret < 0)
    {
      for (size_t i = 0; i < nc; i++)
        {
          cleanup_error struct podshim_error *e2 = NULL;
          if (api_remove (a, created[i], &e2) < 0)
            podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e2->msg);
        }
      return -1;
    }
  if (ret_deferred)
    *ret_deferred = steal_pointer (&deferred);
  return 0;
}

/* Forks a detached worker: returns true in it (stdio on /dev/null, its own
 * session, no descriptor of the caller's but keep), false in the caller. */
static bool
detach (int keep)
{
  pid_t pid = fork ();
  if (pid != 0)
    {
      if (pid > 0)
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
          ;
      return false;
    }
  setsid ();
  if (fork () != 0)
    _exit (0);
  int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0)
    {
      dup2 (fd, 0);
      dup2 (fd, 1);
      dup2 (fd, 2);
    }
  if (keep >= 0 && keep != 3)
    {
      dup2 (keep, 3);
      keep = 3;
    }
  close_range (keep >= 0 ? 4 : 3, ~0U, 0);
  return true;
}

/* Waits until the API answers /_ping (up to API_WAIT_S). */
static bool
wait_api (const struct api *a)
{
  for (int i = 0; i < API_WAIT_S; i++)
    {
      cleanup_http_response struct http_response r = { 0 };
      cleanup_error struct podshim_error *e = NULL;
      if (api_call (a, "GET", "/_ping", NULL, PING_TIMEOUT_MS, &r, &e) == 0 && r.status == 200)
        return true;
      sleep (1);
    }
  return false;
}

/* The lock of anchor_id's companions: <state>/<rootkey>/companions/<id>,
 * held by a removal until it is done, taken by a start before it looks;
 * the holder removes the file before it lets go (a waiter that locked the
 * removed file sees it and retries). -1 when it cannot be had within wait_s. */
static int
anchor_lock (const struct shim_ctx *ctx, const char *anchor_id, int wait_s)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int rootfd
      = shim_open_root_state (ctx->state_dir, ctx->rootkey, ctx->root, true, NULL, &e);
  if (rootfd < 0)
    return -1;
  cleanup_close int dfd = ensure_dir_at (rootfd, "companions", 0700, &e);
  if (dfd < 0)
    return -1;
  for (int t = 0; t <= wait_s * 10; t++)
    {
      cleanup_close int fd
          = openat (dfd, anchor_id, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return -1;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        {
          struct stat a, b;
          /* Removed by its last holder meanwhile: take the new one. */
          if (fstat (fd, &a) == 0 && fstatat (dfd, anchor_id, &b, AT_SYMLINK_NOFOLLOW) == 0
              && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return steal_fd (&fd);
          continue;
        }
      usleep (100 * 1000);
    }
  return -1;
}

static void
anchor_unlock_remove (const struct shim_ctx *ctx, const char *anchor_id, int fd)
{
  cleanup_free char *p = NULL;
  if (asprintf (&p, "%s/%s/companions/%s", ctx->state_dir, ctx->rootkey, anchor_id) >= 0)
    unlink (p);
  close (fd);
}

int
companion_start (const struct shim_ctx *ctx, const char *anchor_id, const char *plan,
                 struct podshim_error **err)
{
  struct api a = { 0 };
  cleanup_free char *sock = a.sock = companion_docker_socket (ctx, err);
  if (sock == NULL)
    return -1;
  cleanup_json yajl_val doc = NULL;
  if (json_parse (plan, strlen (plan), "companion plan", &doc, err) < 0)
    return -1;
  cleanup_http_response struct http_response r = { 0 };
  cleanup_error struct podshim_error *pe = NULL;
  if (api_call (&a, "GET", "/_ping", NULL, PING_TIMEOUT_MS, &r, &pe) < 0)
    {
      /* dockerd restores containers before it serves the API: never wait
         for it here. */
      podshim_log (PODSHIM_LOG_INFO,
                   "podshim: companions of `%.12s` are made in the background: the Docker API"
                   " does not answer yet (%s)",
                   anchor_id, pe->msg);
      if (detach (-1))
        {
          cleanup_error struct podshim_error *e = NULL;
          /* After any removal still pending from the anchor's last delete
             (it waits for the API too). */
          cleanup_close int wlk = anchor_lock (ctx, anchor_id, API_WAIT_S);
          if (!wait_api (&a))
            podshim_log (PODSHIM_LOG_ERROR, "podshim: companions of `%.12s`: no Docker API at"
                                            " `%s` after %d s",
                         anchor_id, sock, API_WAIT_S);
          else if (reconcile (&a, anchor_id, doc, true, NULL, &e) < 0)
            podshim_log (PODSHIM_LOG_ERROR, "podshim: companions of `%.12s`: %s", anchor_id,
                         e->msg);
          if (wlk >= 0)
            anchor_unlock_remove (ctx, anchor_id, steal_fd (&wlk));
          _exit (0);
        }
      return 0;
    }
  cleanup_close int lk = anchor_lock (ctx, anchor_id, LOCK_WAIT_S);
  if (lk < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: companions of `%.12s`: no lock, going on",
                 anchor_id);
  cleanup_strv char **deferred = NULL;
  int rc = reconcile (&a, anchor_id, doc, false, &deferred, err);
  /* The lock file exists only while held. */
  if (lk >= 0)
    anchor_unlock_remove (ctx, anchor_id, steal_fd (&lk));
  if (rc < 0)
    return -1;
  if (deferred && deferred[0] && detach (-1))
    {
      /* They wait for conditions the anchor may fulfil once it runs. */
      for (char **d = deferred; *d; d++)
        {
          cleanup_error struct podshim_error *e = NULL;
          if (api_start (&a, *d, &e) < 0)
            podshim_log (PODSHIM_LOG_ERROR, "podshim: companion %.12s of `%.12s`: %s", *d,
                         anchor_id, e->msg);
        }
      _exit (0);
    }
  return 0;
}

void
companion_remove_detached (const struct shim_ctx *ctx, const char *anchor_id)
{
  cleanup_error struct podshim_error *e = NULL;
  struct api a = { 0 };
  cleanup_free char *sock = a.sock = companion_docker_socket (ctx, &e);
  if (sock == NULL)
    return;
  /* Held by the worker until it is done: a start of the anchor waits. */
  cleanup_close int lk = anchor_lock (ctx, anchor_id, 5);
  if (!detach (lk))
    return;
  if (!wait_api (&a))
    _exit (1);
  char filt[512], q[300];
  snprintf (q, sizeof (q), "{\"label\":[\"%s=%s\"]}", COMPANION_OF_LABEL, anchor_id);
  url_escape (q, filt, sizeof (filt));
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/json?all=1&filters=%s", filt) < 0)
    _exit (1);
  cleanup_http_response struct http_response r = { 0 };
  cleanup_json yajl_val list = NULL;
  if (api_call (&a, "GET", path, NULL, API_TIMEOUT_MS, &r, &e) < 0 || r.status != 200
      || json_parse (r.body, r.body_len, "container list", &list, &e) < 0
      || list->type != yajl_t_array)
    {
      podshim_log (PODSHIM_LOG_ERROR, "podshim: cannot list the companions of `%.12s`: %s",
                   anchor_id, e ? e->msg : "bad answer");
      _exit (1);
    }
  for (size_t i = 0; i < list->u.array.len; i++)
    {
      const char *id = json_get_string (list->u.array.values[i], "Id");
      cleanup_error struct podshim_error *e2 = NULL;
      if (id == NULL)
        continue;
      podshim_log (PODSHIM_LOG_INFO, "podshim: removing companion %.12s of deleted `%.12s`", id,
                   anchor_id);
      if (api_remove (&a, id, &e2) < 0)
        podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e2->msg);
    }
  if (lk >= 0)
    anchor_unlock_remove (ctx, anchor_id, 3);
  _exit (0);
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
companion_check_anchor (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels_doc,
                        const char *key, const char *id, struct podshim_error **err)
{
  const char *of, *name;
  companion_labels (spec, labels_doc, &of, &name);
  if (of == NULL)
    return 0;
  if (!container_id_valid (of))
    return podshim_error_set (err, 0, "invalid %s `%.80s`", COMPANION_OF_LABEL, of);
  cleanup_free char *dir = NULL;
  if (asprintf (&dir, "%s/%s/pods/%s", ctx->state_dir, ctx->rootkey, key) < 0)
    abort ();
  cleanup_close int poddir = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_pod_state struct pod_state pod = { 0 };
  cleanup_error struct podshim_error *e = NULL;
  if (poddir >= 0 && pod_state_load (poddir, key, &pod, &e) == 0)
    {
      struct pod_member *m = pod_state_find (&pod, of);
      if (m && !m->creating && m->pid > 0 && proc_is_alive (m->pid, m->start))
        return 0;
    }
  podshim_error_set (err, 0,
                     "companion `%s` of `%.12s` refused: its anchor is not running in pod `%s`"
                     " (a companion never runs without its anchor); it is being removed",
                     name ? name : "?", of, key);
  struct api a = { 0 };
  cleanup_free char *sock = a.sock = companion_docker_socket (ctx, &e);
  if (sock == NULL || !detach (-1))
    return -1;
  cleanup_error struct podshim_error *e2 = NULL;
  /* Serialised with the anchor's own reconciliation: if the anchor has
     started meanwhile and started this very container, it stays. */
  cleanup_close int lk = anchor_lock (ctx, of, API_WAIT_S);
  /* Give dockerd time to record the failed start before the removal. */
  sleep (1);
  if (!wait_api (&a))
    _exit (1);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/json", id) < 0)
    _exit (1);
  cleanup_http_response struct http_response r = { 0 };
  cleanup_json yajl_val doc = NULL;
  if (api_call (&a, "GET", path, NULL, API_TIMEOUT_MS, &r, &e2) == 0 && r.status == 200
      && json_parse (r.body, r.body_len, "container inspect", &doc, &e2) == 0)
    {
      const char *const running[] = { "State", "Running", NULL };
      yajl_val v = json_get_path (doc, running);
      if (v && v->type == yajl_t_true)
        {
          podshim_log (PODSHIM_LOG_INFO,
                       "podshim: companion %.12s runs again (its anchor `%.12s` is back): kept",
                       id, of);
          _exit (0);
        }
    }
  if (api_remove (&a, id, &e2) < 0)
    podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", e2->msg);
  else
    podshim_log (PODSHIM_LOG_INFO, "podshim: removed companion %.12s of gone `%.12s`", id, of);
  if (lk >= 0)
    anchor_unlock_remove (ctx, of, steal_fd (&lk));
  _exit (0);
}

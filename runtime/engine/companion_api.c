/* Companions through the Docker Engine API: the calls that make, start,
 * inspect and remove them (companion_api.h). */
#include "config.h"
#include "companion_api.h"
#include "companion.h"
#include "http.h"
#include "log.h"

#include <string.h>

#define PULL_TIMEOUT_MS (180 * 1000)

static const char *const label_path[] = { "Config", "Labels", NULL };

/* METHOD /WHAT/<obj, escaped>SUFFIX (WHAT: containers or images; obj may
   follow a query's `name=`) with body (or NULL): *r the answer, -1 with err
   when the API does not give one. */
static int
api_call (struct docker_api *a, const char *method, const char *what, const char *obj,
          const char *suffix, const char *body, int timeout_ms, struct http_response *r,
          struct podshim_error **err)
{
  cleanup_free char *esc = docker_url_escape (obj);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/%s%s%s", what, esc, suffix) < 0)
    abort ();
  return docker_api_call (a, method, path, body, timeout_ms, r, err);
}

/* Pulls image when the node lacks it. */
static int
ensure_image (struct docker_api *a, const char *image, struct podshim_error **err)
{
  {
    cleanup_http_response struct http_response r = { 0 };
    if (api_call (a, "GET", "images/", image, "/json", NULL, COMPANION_API_TIMEOUT_MS, &r, err) < 0)
      return -1;
    if (r.status == 200)
      return 0;
    if (r.status != 404)
      {
        cleanup_free char *m = docker_api_message (&r);
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
  cleanup_free char *resc = docker_url_escape (repo);
  cleanup_free char *tesc = docker_url_escape (tag ? tag : "");
  cleanup_free char *pull = NULL;
  if (asprintf (&pull, "/images/create?fromImage=%s%s%s", resc, tag ? "&tag=" : "", tag ? tesc : "")
      < 0)
    abort ();
  podshim_log (PODSHIM_LOG_INFO, "podshim: pulling image `%s` for a companion", image);
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "POST", pull, "", PULL_TIMEOUT_MS, &r, err) < 0)
    return podshim_error_wrap (err, "cannot pull image `%s`", image);
  if (r.status != 200)
    {
      cleanup_free char *m = docker_api_message (&r);
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
            return podshim_error_set (
                err, 0, "image `%s` is not on this node and cannot be pulled: %.400s", image, m);
        }
      line = nl ? nl + 1 : NULL;
    }
  return 0;
}

int
companion_api_remove (struct docker_api *a, const char *id, struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "DELETE", "containers/", id, "?force=1&v=1", NULL, COMPANION_API_TIMEOUT_MS, &r,
                err)
      < 0)
    return -1;
  if (r.status != 204 && r.status != 404)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot remove container `%.64s`: %s", id, m);
    }
  return 0;
}

int
companion_api_start (struct docker_api *a, const char *id, struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "POST", "containers/", id, "/start", NULL, COMPANION_API_TIMEOUT_MS * 4, &r, err)
      < 0)
    return -1;
  if (r.status != 204 && r.status != 304)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot start it: %s", m);
    }
  return 0;
}

/* GET /containers/ID/json: 200 and *ret (may be NULL) the document, 404
   (*ret NULL), or -1 with err. */
int
companion_api_inspect (struct docker_api *a, const char *id, yajl_val *ret,
                       struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (ret)
    *ret = NULL;
  if (api_call (a, "GET", "containers/", id, "/json", NULL, COMPANION_API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status == 404)
    return 404;
  if (r.status != 200)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot inspect container `%.64s`: %s", id, m);
    }
  if (ret && json_parse (r.body, r.body_len, "container inspect", ret, err) < 0)
    return -1;
  return 200;
}

/* 1 when container id runs, 0 when it does not or does not exist, -1. */
static int
api_running (struct docker_api *a, const char *id, struct podshim_error **err)
{
  cleanup_json yajl_val doc = NULL;
  int r = companion_api_inspect (a, id, &doc, err);
  if (r < 0)
    return -1;
  static const char *const running[] = { "State", "Running", NULL };
  yajl_val v = json_get_path (doc, running);
  return v && v->type == yajl_t_true;
}

/* Finds container `name`: 1 and *ret_id when it is a companion of anchor_id;
 * 0 when absent (a stale companion of another anchor is removed first). */
static int
find_companion (struct docker_api *a, const char *name, const char *anchor_id, char **ret_id,
                struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "GET", "containers/", name, "/json", NULL, COMPANION_API_TIMEOUT_MS, &r, err)
      < 0)
    return -1;
  if (r.status == 404)
    return 0;
  cleanup_free char *m = docker_api_message (&r);
  if (r.status != 200)
    return podshim_error_set (err, 0, "cannot inspect container `%s`: %s", name, m);
  cleanup_json yajl_val doc = NULL;
  if (json_parse (r.body, r.body_len, "container inspect", &doc, err) < 0)
    return -1;
  const char *id = json_get_string (doc, "Id");
  yajl_val labels = json_get_path (doc, label_path);
  const char *of = json_get_string (labels, COMPANION_OF_LABEL);
  if (id == NULL || of == NULL)
    return podshim_error_set (
        err, 0, "the name `%s` is taken by a container that is not a companion", name);
  if (strcmp (of, anchor_id) == 0)
    {
      if ((*ret_id = strdup (id)) == NULL)
        abort ();
      return 1;
    }
  /* Another anchor's: removed only when that anchor does not run (a late
     worker of a gone anchor must never take a live one's companion). */
  if (!container_id_valid (of) || api_running (a, of, err) != 0)
    return podshim_error_set (err, 0,
                              "the name `%s` is taken by a companion of `%.12s`, which is not"
                              " known to be gone",
                              name, of);
  podshim_log (PODSHIM_LOG_INFO, "podshim: removing `%s`, a companion of the gone `%.12s`", name,
               of);
  if (companion_api_remove (a, id, err) < 0)
    return -1;
  return 0;
}

static int
api_create (struct docker_api *a, const char *name, yajl_val body, char **ret_id,
            struct podshim_error **err)
{
  cleanup_free char *doc = NULL;
  size_t dlen;
  if (json_emit (body, &doc, &dlen, err) < 0)
    return -1;
  cleanup_http_response struct http_response r = { 0 };
  if (api_call (a, "POST", "containers/create?name=", name, "", doc, COMPANION_API_TIMEOUT_MS, &r,
                err)
      < 0)
    return -1;
  if (r.status != 201)
    {
      cleanup_free char *m = docker_api_message (&r);
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
int
companion_api_reconcile (struct docker_api *a, const char *anchor_id, yajl_val plan,
                         const bool *skip, bool all, char ***ret_deferred,
                         struct podshim_error **err)
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
      yajl_val ign = json_get (e, "ignored");
      if (skip[i] || (ign && ign->type == yajl_t_true))
        continue;
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
        r = companion_api_start (a, id, err);
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
          if (companion_api_remove (a, created[i], &e2) < 0)
            podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e2->msg);
        }
      return -1;
    }
  if (ret_deferred)
    *ret_deferred = steal_pointer (&deferred);
  return 0;
}

/* The companions of plan whose label only repeats the anchor's image's own
   (same key, same value: the image declares them, not the container's
   creator) get skip[i], unless the operator allows image labels. */
int
companion_api_skip_image_labels (struct docker_api *a, const char *anchor_id, yajl_val plan,
                                 const struct companion_policy *p, const char *config, bool *skip,
                                 struct podshim_error **err)
{
  if (p->from_image_labels)
    return 0;
  cleanup_json yajl_val img = NULL;
  yajl_val labels = NULL;
  static const char *const lpath[] = { "Config", "Labels", NULL };
  for (size_t i = 0; i < plan->u.array.len; i++)
    {
      yajl_val e = plan->u.array.values[i];
      const char *hash = json_get_string (e, "labelHash");
      const char *name = json_get_string (e, "name");
      const char *image = json_get_string (e, "anchorImage");
      if (hash == NULL || name == NULL)
        continue;
      if (image == NULL)
        return podshim_error_set (err, 0,
                                  "companion `%s`: declared by a label of a container whose image"
                                  " is unknown: cannot tell it from one of its image's labels",
                                  name);
      if (img == NULL)
        {
          cleanup_http_response struct http_response r = { 0 };
          if (api_call (a, "GET", "images/", image, "/json", NULL, COMPANION_API_TIMEOUT_MS, &r,
                        err)
              < 0)
            return podshim_error_wrap (err, "companion `%s`", name);
          if (r.status != 200)
            {
              cleanup_free char *m = docker_api_message (&r);
              return podshim_error_set (err, 0,
                                        "companion `%s`: cannot read the labels of the anchor's"
                                        " image `%.80s` (to tell a label of the container's"
                                        " creator from one of its image): %s",
                                        name, image, m);
            }
          if (json_parse (r.body, r.body_len, "image inspect", &img, err) < 0)
            return -1;
          labels = json_get_path (img, lpath);
        }
      cleanup_free char *key = NULL;
      if (asprintf (&key, "%s%s", COMPANION_PREFIX, name) < 0)
        abort ();
      const char *v = json_get_string (labels, key);
      char h[17];
      if (v == NULL)
        continue;
      companion_label_hash (v, h);
      if (strcmp (h, hash) != 0)
        continue;
      skip[i] = true;
      podshim_log (PODSHIM_LOG_DEBUG,
                   "podshim: companion `%s` of `%.12s` ignored: label %s comes from its image"
                   " (companions.fromImageLabels in %s allows image labels)",
                   name, anchor_id, key, config);
    }
  return 0;
}

/* The operator's image policy over the companions not skipped; with
   certain_only, only over those whose origin needs no API to know (declared
   by an annotation, or image labels allowed). */
int
companion_api_check_images (yajl_val plan, const bool *skip, const struct companion_policy *p,
                            const char *config, bool certain_only, struct podshim_error **err)
{
  for (size_t i = 0; i < plan->u.array.len; i++)
    {
      yajl_val e = plan->u.array.values[i];
      const char *name = json_get_string (e, "name");
      const char *image = json_get_string (e, "image");
      if (skip[i] || name == NULL || image == NULL)
        continue;
      if (certain_only && json_get (e, "labelHash") && !p->from_image_labels)
        continue;
      if (companion_image_check (p, config, name, image, err) < 0)
        return -1;
    }
  return 0;
}

int
companion_api_list_of (struct docker_api *a, const char *anchor_id, yajl_val *ret,
                       struct podshim_error **err)
{
  cleanup_free char *q = NULL;
  if (asprintf (&q, "{\"label\":[\"%s=%s\"]}", COMPANION_OF_LABEL, anchor_id) < 0)
    abort ();
  cleanup_free char *filt = docker_url_escape (q);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/json?all=1&filters=%s", filt) < 0)
    abort ();
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "GET", path, NULL, COMPANION_API_TIMEOUT_MS, &r, err) < 0)
    return -1;
  if (r.status != 200)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "cannot list the companions of `%.12s`: %s", anchor_id, m);
    }
  cleanup_json yajl_val list = NULL;
  if (json_parse (r.body, r.body_len, "container list", &list, err) < 0)
    return -1;
  if (list->type != yajl_t_array)
    return podshim_error_set (err, 0, "cannot list the companions of `%.12s`: not a list",
                              anchor_id);
  *ret = steal_pointer (&list);
  return 0;
}

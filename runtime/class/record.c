#include "config.h"
#include "record.h"
#include "companion.h"
#include "delegate.h"
#include "fsutil.h"
#include "log.h"
#include "spawn.h"
#include "statedir.h"
#include "stateformat.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
strv_free_n (char **v, size_t n)
{
  if (v)
    for (size_t i = 0; i < n; i++)
      free (v[i]);
  free (v);
}

void
container_record_free (struct container_record *r)
{
  runtime_class_free (&r->cls);
  strv_free_n (r->wait, r->n_wait);
  strv_free_n (r->vol_dest, r->n_vols);
  strv_free_n (r->vol_src, r->n_vols);
  free (r->pod);
  free (r->companions);
  free (r->companion_specs);
  free (r->anchor_name);
  memset (r, 0, sizeof (*r));
}

/* A string array of at most max strings of at most CLASS_ARG_MAX bytes. */
static int
strv_from_json (yajl_val v, size_t max, char ***ret, size_t *ret_n)
{
  *ret = NULL;
  *ret_n = 0;
  if (v == NULL || v->type == yajl_t_null)
    return 0;
  if (v->type != yajl_t_array || v->u.array.len > max)
    return -1;
  char **out = calloc (v->u.array.len + 1, sizeof (char *));
  if (out == NULL)
    abort ();
  for (size_t i = 0; i < v->u.array.len; i++)
    {
      yajl_val s = v->u.array.values[i];
      if (s->type != yajl_t_string || strlen (s->u.string) > CLASS_ARG_MAX)
        {
          strv_free_n (out, i);
          return -1;
        }
      out[i] = strdup (s->u.string);
      if (out[i] == NULL)
        abort ();
    }
  *ret = out;
  *ret_n = v->u.array.len;
  return 0;
}

int
container_record_parse (const char *buf, size_t len, struct container_record *ret,
                        struct podshim_error **err)
{
  cleanup_json yajl_val doc = NULL;
  if (json_parse (buf, len, "container record", &doc, err) < 0)
    return -1;
  cleanup_container_record struct container_record r = { 0 };
  if (doc->type != yajl_t_object)
    return podshim_error_set (err, 0, "corrupted container record");
  r.version = 1;
  yajl_val ver = json_get (doc, "version");
  if (ver
      && (ver->type != yajl_t_number || !(ver->u.number.flags & YAJL_NUMBER_INT_VALID)
          || ver->u.number.i < 1))
    return podshim_error_set (err, 0, "corrupted container record: bad `version`");
  if (ver)
    r.version = (unsigned long long)ver->u.number.i;
  const char *cls = json_get_string (doc, "class");
  if (cls)
    {
      if (!class_name_valid (cls)
          || class_from_json (cls, doc, "container record", &r.cls, err) < 0)
        return podshim_error_set (err, 0, "corrupted container record");
    }
  const char *pod = json_get_string (doc, "pod");
  if (pod && (r.pod = strdup (pod)) == NULL)
    abort ();
  if (container_record_newer (&r))
    {
      /* What routes its commands, and nothing else. */
      *ret = r;
      memset (&r, 0, sizeof (r));
      return 0;
    }
  size_t nsrc = 0;
  if (strv_from_json (json_get (doc, "wait"), WAIT_MAX, &r.wait, &r.n_wait) < 0
      || strv_from_json (json_get (doc, "volumes"), 256, &r.vol_dest, &r.n_vols) < 0
      || strv_from_json (json_get (doc, "sources"), 256, &r.vol_src, &nsrc) < 0)
    return podshim_error_set (err, 0, "corrupted container record");
  if (nsrc != r.n_vols)
    {
      strv_free_n (r.vol_src, nsrc);
      r.vol_src = NULL;
      return podshim_error_set (err, 0, "corrupted container record");
    }
  yajl_val own = json_get (doc, "networkOwner");
  r.network_owner = own && own->type == yajl_t_true;
  r.wait_timeout = WAIT_TIMEOUT_DEFAULT;
  yajl_val t = json_get (doc, "waitTimeout");
  if (t && t->type == yajl_t_number && (t->u.number.flags & YAJL_NUMBER_INT_VALID)
      && t->u.number.i >= 0 && t->u.number.i <= WAIT_TIMEOUT_MAX)
    r.wait_timeout = (int)t->u.number.i;
  yajl_val p = json_get (doc, "pid");
  if (p && p->type == yajl_t_number && (p->u.number.flags & YAJL_NUMBER_INT_VALID)
      && p->u.number.i > 0 && p->u.number.i <= INT32_MAX)
    r.pid = (pid_t)p->u.number.i;
  yajl_val e = json_get (doc, "essential");
  r.essential = e && e->type == yajl_t_true;
  yajl_val comp = json_get_array (doc, "companions");
  size_t clen;
  if (comp && json_emit (comp, &r.companions, &clen, err) < 0)
    return -1;
  *ret = r;
  memset (&r, 0, sizeof (r));
  return 0;
}

static yajl_val
strv_to_json (char **v, size_t n)
{
  yajl_val a = json_new_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append (a, json_new_string (v[i]));
  return a;
}

int
container_record_emit (const struct container_record *r, char **ret, size_t *ret_len,
                       struct podshim_error **err)
{
  if (container_record_newer (r))
    return state_format_newer (r->version, RECORD_VERSION, err);
  cleanup_json yajl_val doc = json_new_object ();
  json_object_set (doc, "version", json_new_number (RECORD_VERSION));
  if (r->cls.name)
    {
      json_object_set (doc, "class", json_new_string (r->cls.name));
      json_object_set (doc, "path", json_new_string (r->cls.path));
      json_object_set (doc, "runtimeArgs", strv_to_json (r->cls.args, r->cls.n_args));
    }
  if (r->network_owner)
    json_object_set (doc, "networkOwner", json_new_bool (true));
  if (r->n_wait)
    {
      json_object_set (doc, "wait", strv_to_json (r->wait, r->n_wait));
      json_object_set (doc, "waitTimeout", json_new_number (r->wait_timeout));
    }
  if (r->n_vols)
    {
      json_object_set (doc, "volumes", strv_to_json (r->vol_dest, r->n_vols));
      json_object_set (doc, "sources", strv_to_json (r->vol_src, r->n_vols));
    }
  if (r->pid > 0)
    json_object_set (doc, "pid", json_new_number (r->pid));
  if (r->essential)
    json_object_set (doc, "essential", json_new_bool (true));
  if (r->pod)
    json_object_set (doc, "pod", json_new_string (r->pod));
  if (r->companions)
    {
      yajl_val comp = NULL;
      if (json_parse (r->companions, strlen (r->companions), "companions", &comp, err) < 0)
        return -1;
      json_object_set (doc, "companions", comp);
    }
  return json_emit (doc, ret, ret_len, err);
}

int
container_record_load (int rootfd, const char *id, struct container_record *ret,
                       struct podshim_error **err)
{
  cleanup_close int dfd = statedir_open_sub (rootfd, STATEDIR_RECORDS, false, err);
  if (dfd < 0)
    return podshim_error_wrap (err, "container records");
  cleanup_free char *buf = NULL;
  size_t len;
  if (read_file_at (dfd, id, O_NOFOLLOW, RECORD_MAX, &buf, &len, err) < 0)
    return -1;
  if (container_record_parse (buf, len, ret, err) < 0)
    return podshim_error_wrap (err, "container `%s`", id);
  return 0;
}

int
container_record_save (int rootfd, const char *id, const struct container_record *r,
                       struct podshim_error **err)
{
  cleanup_close int dfd = statedir_open_sub (rootfd, STATEDIR_RECORDS, true, err);
  if (dfd < 0)
    return -1;
  cleanup_free char *buf = NULL;
  size_t len;
  if (container_record_emit (r, &buf, &len, err) < 0)
    return -1;
  return write_file_atomic_at (dfd, id, buf, len, 0600, err);
}

void
container_record_remove (int rootfd, const char *id)
{
  cleanup_close int dfd = statedir_open_sub (rootfd, STATEDIR_RECORDS, false, NULL);
  if (dfd >= 0)
    (void)unlinkat (dfd, id, 0);
}

int
record_from_spec (const struct shim_ctx *ctx, yajl_val spec, yajl_val labels,
                  struct container_record *rec, struct podshim_error **err)
{
  int any = 0;
  char from[64];
  rec->wait_timeout = WAIT_TIMEOUT_DEFAULT;
  const char *name = podcfg_lookup (spec, labels, "podshim.runtime", "PODSHIM_RUNTIME", from);
  if (name && name[0] != '\0')
    {
      if (!class_name_valid (name))
        return podshim_error_set (err, 0,
                                  "invalid runtime class `%.100s` (from %s): a runtime class is"
                                  " the name of one of the podshim config's runtimes",
                                  name, from);
      cleanup_class_config struct class_config cfg = { 0 };
      if (class_config_load (ctx->cmd, &cfg, err) < 0)
        return -1;
      const struct runtime_class *k = class_config_find (&cfg, name);
      if (k == NULL)
        {
          cleanup_free char *names = class_config_names (&cfg);
          return podshim_error_set (err, 0,
                                    "unknown runtime class `%s` (from %s); the runtime classes of"
                                    " %s are: %s",
                                    name, from, class_config_path (ctx->cmd), names);
        }
      runtime_class_copy (k, &rec->cls);
      any = 1;
    }
  const char *w = podcfg_lookup (spec, labels, "podshim.wait", "PODSHIM_WAIT", from);
  if (w && w[0] != '\0')
    {
      if (wait_list_parse (w, &rec->wait, &rec->n_wait, err) < 0)
        return podshim_error_wrap (err, "invalid %s", from);
      any = 1;
    }
  const char *ess = podcfg_lookup (spec, labels, "podshim.essential", "PODSHIM_ESSENTIAL", from);
  if (ess && ess[0] != '\0')
    {
      if (parse_go_bool (ess, &rec->essential) < 0)
        return podshim_error_set (err, 0, "invalid %s `%.64s`: want true or false", from, ess);
      any |= rec->essential;
    }
  const char *t
      = podcfg_lookup (spec, labels, "podshim.wait-timeout", "PODSHIM_WAIT_TIMEOUT", from);
  if (t && t[0] != '\0' && wait_timeout_parse (t, &rec->wait_timeout, err) < 0)
    return podshim_error_wrap (err, "invalid %s", from);
  const char *of, *cname;
  companion_labels (spec, labels, &of, &cname);
  int nc = 0;
  if (of && companion_declares_any (spec, labels))
    /* Companions of companions are how one label becomes a chain. */
    podshim_log (PODSHIM_LOG_INFO,
                 "podshim: `%s` is a companion (of `%.12s`): its own %s* labels are ignored (a"
                 " companion declares no companions)",
                 ctx->cmd->id ? ctx->cmd->id : "", of, COMPANION_PREFIX);
  else if (companion_declares_any (spec, labels))
    {
      cleanup_class_config struct class_config cfg = { 0 };
      if (class_config_load (ctx->cmd, &cfg, err) < 0)
        return -1;
      nc = companion_specs_from_spec (spec, labels, &cfg.companions.defaults, &rec->companion_specs,
                                      err);
      if (nc < 0)
        return -1;
    }
  if (nc > 0)
    {
      rec->anchor_name = companion_anchor_name (labels, ctx->cmd->id ? ctx->cmd->id : "");
      any = 1;
    }
  return any;
}

/* The backing directory of pod volume dest: where rewrite_config points the
   member's bind mount. The one place to change if pod volumes move. */
static char *
volume_source (const struct shim_ctx *ctx, const char *key, const char *dest)
{
  cleanup_free char *dn = pod_volume_dirname (dest);
  cleanup_free char *data = pod_data_path (ctx, key);
  char *p = NULL;
  if (asprintf (&p, "%s/%s", data, dn) < 0)
    abort ();
  return p;
}

static int
open_root_state (const struct shim_ctx *ctx, bool create, int *ret_statefd,
                 struct podshim_error **err)
{
  return statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, create, ret_statefd, err);
}

int
record_create_begin (struct shim_ctx *ctx, struct container_record *rec,
                     const struct pod_request *req, char **ret_root, struct podshim_error **err)
{
  cleanup_free char *key = req ? pod_key (req->scope, req->name) : NULL;
  if (rec->n_wait)
    {
      if (req == NULL)
        return podshim_error_set (err, 0,
                                  "start conditions (podshim.wait) need a pod"
                                  " (podshim.pod)");
      rec->vol_dest = calloc (req->n_volumes + 1, sizeof (char *));
      rec->vol_src = calloc (req->n_volumes + 1, sizeof (char *));
      if (rec->vol_dest == NULL || rec->vol_src == NULL)
        abort ();
      for (size_t i = 0; i < req->n_volumes; i++)
        {
          if ((rec->vol_dest[i] = strdup (req->volumes[i])) == NULL)
            abort ();
          rec->vol_src[i] = volume_source (ctx, key, req->volumes[i]);
          rec->n_vols = i + 1;
        }
      struct start_wait w = container_record_wait (rec);
      if (wait_check (&w, (req->share & POD_NS_NET) != 0, err) < 0)
        return -1;
    }
  if (rec->essential && req == NULL)
    return podshim_error_set (err, 0,
                              "an essential member (podshim.essential) needs a pod"
                              " (podshim.pod)");
  if (rec->companion_specs)
    {
      if (req == NULL)
        return podshim_error_set (err, 0, "companions need a pod");
      free (rec->companions);
      rec->companions = NULL;
      if (companion_plan (rec->companion_specs, ctx->cmd->id, rec->anchor_name, req->name,
                          req->scope, &rec->companions, err)
          < 0)
        return -1;
    }
  if (req)
    rec->pod = steal_pointer (&key);
  if (rec->cls.name)
    {
      *ret_root = class_root (ctx->root, rec->cls.name);
      class_apply (ctx->cmd, &rec->cls, *ret_root);
      ctx->class_root = *ret_root;
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` runs with runtime class `%s` (%s)",
                   ctx->cmd->id, rec->cls.name, rec->cls.path);
    }
  /* The state dir's shared lock keeps `pod gc` from removing the root meanwhile. */
  cleanup_close int statefd = -1;
  cleanup_close int rootfd = open_root_state (ctx, true, &statefd, err);
  if (rootfd < 0)
    return -1;
  return container_record_save (rootfd, ctx->cmd->id, rec, err);
}

void
record_create_end (struct shim_ctx *ctx, struct container_record *rec, bool ok)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int rootfd = open_root_state (ctx, false, NULL, &e);
  if (rootfd < 0)
    return;
  if (!ok)
    {
      container_record_remove (rootfd, ctx->cmd->id);
      return;
    }
  rec->pid = delegate_init_pid (ctx->cmd, ctx->class_root ? ctx->class_root : ctx->root);
  if (container_record_save (rootfd, ctx->cmd->id, rec, &e) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e->msg);
}

int
record_create_nopod (struct shim_ctx *ctx, struct container_record *rec, int *ret_status,
                     struct podshim_error **err)
{
  cleanup_free char *root = NULL;
  if (record_create_begin (ctx, rec, NULL, &root, err) < 0)
    return -1;
  int status;
  if (delegate_run (ctx->cmd, &status, err) < 0)
    {
      record_create_end (ctx, rec, false);
      return -1;
    }
  /* A foreground run has deleted its container when it returns. */
  bool fg_run = strcmp (ctx->cmd->command, "run") == 0 && !ctx->cmd->detach;
  record_create_end (ctx, rec, status == 0 && !fg_run);
  ctx->class_root = NULL;
  *ret_status = status;
  return 0;
}

void
record_runtime_argv (const struct container_record *r, const char *dlg, const char *root,
                     const char *cmd, const char *id, const char *arg, char **av, char **ret_root)
{
  size_t n = 0;
  *ret_root = NULL;
  if (r->cls.name)
    {
      *ret_root = class_root (root, r->cls.name);
      av[n++] = r->cls.path;
      for (size_t i = 0; i < r->cls.n_args; i++)
        av[n++] = r->cls.args[i];
    }
  else
    av[n++] = (char *)dlg;
  av[n++] = (char *)"--root";
  av[n++] = *ret_root ? *ret_root : (char *)root;
  av[n++] = (char *)cmd;
  av[n++] = (char *)id;
  if (arg)
    av[n++] = (char *)arg;
  av[n] = NULL;
}

void
record_gc (const struct shim_ctx *ctx, int rootfd, const char *root)
{
  cleanup_close int dfd = statedir_open_sub (rootfd, STATEDIR_RECORDS, false, NULL);
  int lfd = dfd >= 0 ? dup (dfd) : -1;
  cleanup_dir DIR *d = lfd >= 0 ? fdopendir (lfd) : NULL;
  struct dirent *de;
  time_t now = time (NULL);
  while (d && (de = readdir (d)) != NULL)
    {
      struct stat st;
      if (!container_id_valid (de->d_name)
          || fstatat (dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
          || now - st.st_mtime < RECORD_GC_AGE_S)
        continue;
      cleanup_container_record struct container_record r = { 0 };
      cleanup_error struct podshim_error *e = NULL;
      cleanup_free char *croot = NULL;
      /* A newer podshim's record is its own to drop. */
      if (container_record_load (rootfd, de->d_name, &r, &e) < 0 || container_record_newer (&r))
        continue;
      char *av[RECORD_ARGV_MAX];
      record_runtime_argv (&r, delegate_runtime (ctx->cmd), root, "state", de->d_name, NULL, av,
                           &croot);
      int s = spawn_run_quiet (av);
      if (s > 0 && s != 127)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: gc: dropping the record of `%s`", de->d_name);
          (void)unlinkat (dfd, de->d_name, 0);
        }
    }
}

#include "config.h"
#include "pod.h"
#include "strlist.h"
#include "fsutil.h"
#include "stateformat.h"

#include <fcntl.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>

/* pod.json's format: the newest read, the one written (docs/upgrades.md).
 * Fields a reader ignores safely come without a new version. */
#define POD_STATE_VERSION 1
#define POD_STATE_MAX (16 * 1024 * 1024)

static const struct
{
  unsigned bit;
  const char *name;
  const char *oci;
} ns_table[POD_NS_COUNT] = {
  { POD_NS_NET, "net", "network" },
  { POD_NS_IPC, "ipc", "ipc" },
  { POD_NS_UTS, "uts", "uts" },
  { POD_NS_PID, "pid", "pid" },
};

const char *
pod_ns_name (unsigned bit)
{
  for (int i = 0; i < POD_NS_COUNT; i++)
    if (ns_table[i].bit == bit)
      return ns_table[i].name;
  return NULL;
}

const char *
pod_ns_oci_type (unsigned bit)
{
  for (int i = 0; i < POD_NS_COUNT; i++)
    if (ns_table[i].bit == bit)
      return ns_table[i].oci;
  return NULL;
}

static unsigned
ns_from_name (const char *s, size_t len)
{
  for (int i = 0; i < POD_NS_COUNT; i++)
    if (strlen (ns_table[i].name) == len && strncmp (ns_table[i].name, s, len) == 0)
      return ns_table[i].bit;
  return 0;
}

int
pod_ns_parse_list (const char *list, unsigned *ret, struct podshim_error **err)
{
  unsigned mask = 0;
  const char *cur = list, *s;
  size_t len;
  /* Tolerates spaces around items: "net, ipc". */
  while (strlist_next (&cur, &s, &len))
    {
      unsigned bit = ns_from_name (s, len);
      if (bit == 0)
        return podshim_error_set (
            err, 0, "unknown namespace `%.*s` in `%.200s` (expected net, ipc, uts, pid)",
            (int)(len > 64 ? 64 : len), s, list);
      mask |= bit;
    }
  *ret = mask;
  return 0;
}

bool
pod_name_valid (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > POD_NAME_MAX || name[0] == '.')
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
            || c == '.' || c == '-'))
        return false;
    }
  return true;
}

static bool
scope_value_valid (const char *v, size_t n)
{
  if (n == 0 || n > POD_SCOPE_VALUE_MAX || v[0] == '.')
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = v[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
            || c == '.' || c == '-'))
        return false;
    }
  return true;
}

bool
pod_scope_valid (const char *scope)
{
  const char *colon = strchr (scope, ':');
  if (colon == NULL)
    return false;
  size_t kind = (size_t)(colon - scope);
  if (!((kind == 7 && strncmp (scope, "compose", 7) == 0)
        || (kind == 5 && strncmp (scope, "stack", 5) == 0)))
    return false;
  return scope_value_valid (colon + 1, strlen (colon + 1));
}

char *
pod_key (const char *scope, const char *name)
{
  char *k = NULL;
  if (scope == NULL)
    k = strdup (name);
  else if (asprintf (&k, "%s:%s", scope, name) < 0)
    k = NULL;
  if (k == NULL)
    abort ();
  return k;
}

int
pod_key_parse (const char *key, char **ret_scope, char **ret_name)
{
  const char *last = strrchr (key, ':');
  if (last == NULL)
    {
      if (!pod_name_valid (key))
        return -1;
      *ret_scope = NULL;
      *ret_name = strdup (key);
      if (*ret_name == NULL)
        abort ();
      return 0;
    }
  cleanup_free char *scope = strndup (key, (size_t)(last - key));
  if (scope == NULL)
    abort ();
  if (!pod_scope_valid (scope) || !pod_name_valid (last + 1))
    return -1;
  *ret_name = strdup (last + 1);
  if (*ret_name == NULL)
    abort ();
  *ret_scope = steal_pointer (&scope);
  return 0;
}

bool
pod_key_valid (const char *key)
{
  cleanup_free char *scope = NULL, *name = NULL;
  return pod_key_parse (key, &scope, &name) == 0;
}

bool
container_id_valid (const char *id)
{
  size_t n = strlen (id);
  if (n == 0 || n > 1024 || strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = id[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
            || c == '.' || c == '-' || c == '+'))
        return false;
    }
  /* It becomes a file name. */
  return n <= 255;
}

static void
member_done (struct pod_member *m)
{
  free (m->id);
  if (m->raw)
    yajl_tree_free (m->raw);
}

void
pod_state_done (struct pod_state *p)
{
  if (p == NULL)
    return;
  free (p->name);
  free (p->scope);
  free (p->root);
  free (p->network_owner);
  for (size_t i = 0; i < p->n_members; i++)
    member_done (&p->members[i]);
  free (p->members);
  if (p->raw)
    yajl_tree_free (p->raw);
  memset (p, 0, sizeof (*p));
}

static int
get_uint (yajl_val obj, const char *key, unsigned long long max, unsigned long long *ret)
{
  yajl_val v = json_get (obj, key);
  if (v == NULL)
    {
      *ret = 0;
      return 0;
    }
  /* From the raw text: what number_u writes (up to UINT64_MAX) reads back. */
  if (v->type != yajl_t_number || v->u.number.r[0] < '0' || v->u.number.r[0] > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long long n = strtoull (v->u.number.r, &end, 10);
  if (errno != 0 || *end != '\0' || n > max)
    return -1;
  *ret = n;
  return 0;
}

static int
ns_list_from_json (yajl_val arr, unsigned *ret)
{
  unsigned mask = 0;
  if (arr == NULL)
    return (*ret = 0), 0;
  if (arr->type != yajl_t_array)
    return -1;
  for (size_t i = 0; i < arr->u.array.len; i++)
    {
      yajl_val s = arr->u.array.values[i];
      if (s->type != yajl_t_string)
        return -1;
      /* A namespace a newer version knows is ignored, not an error. */
      mask |= ns_from_name (s->u.string, strlen (s->u.string));
    }
  *ret = mask;
  return 0;
}

static yajl_val
ns_list_to_json (unsigned mask)
{
  yajl_val arr = json_new_array ();
  for (int i = 0; i < POD_NS_COUNT; i++)
    if (mask & ns_table[i].bit)
      json_array_append (arr, json_new_string (ns_table[i].name));
  return arr;
}

static yajl_val
copy_tree (yajl_val v)
{
  /* Cheap deep copy through emit/parse; state files are small. */
  cleanup_free char *buf = NULL;
  size_t len;
  yajl_val out = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (json_emit (v, &buf, &len, &e) < 0 || json_parse (buf, len, "state", &out, &e) < 0)
    abort ();
  return out;
}

int
pod_state_parse (const char *buf, size_t len, struct pod_state *ret, struct podshim_error **err)
{
  cleanup_pod_state struct pod_state p = { 0 };
  if (json_parse (buf, len, "pod state", &p.raw, err) < 0)
    return -1;
  if (p.raw->type != yajl_t_object)
    return podshim_error_set (err, 0, "invalid pod state: not a JSON object");
  unsigned long long version, pid, start;
  if (get_uint (p.raw, "version", UINT64_MAX, &version) < 0 || version < 1)
    return podshim_error_set (err, 0, "invalid pod state: bad `version`");
  if (version > POD_STATE_VERSION)
    return state_format_newer (version, POD_STATE_VERSION, err);
  const char *name = json_get_string (p.raw, "name");
  if (name == NULL || !pod_name_valid (name))
    return podshim_error_set (err, 0, "invalid pod state: bad `name`");
  p.name = xstrdup_or_null (name);
  yajl_val sv = json_get (p.raw, "scope");
  const char *scope = json_get_string (p.raw, "scope");
  if (sv && sv->type != yajl_t_null && (scope == NULL || !pod_scope_valid (scope)))
    return podshim_error_set (err, 0, "invalid pod state: bad `scope`");
  p.scope = xstrdup_or_null (scope);
  p.root = xstrdup_or_null (json_get_string (p.raw, "root"));
  p.network_owner = xstrdup_or_null (json_get_string (p.raw, "network_owner"));
  if (ns_list_from_json (json_get (p.raw, "pinned"), &p.pinned) < 0)
    return podshim_error_set (err, 0, "invalid pod state: bad `pinned`");
  yajl_val pause = json_get_object (p.raw, "pause");
  if (get_uint (pause, "pid", INT32_MAX, &pid) < 0
      || get_uint (pause, "start", UINT64_MAX, &start) < 0)
    return podshim_error_set (err, 0, "invalid pod state: bad `pause`");
  p.pause_pid = (pid_t)pid;
  p.pause_start = start;
  yajl_val holder = json_get_object (p.raw, "holder");
  if (get_uint (holder, "pid", INT32_MAX, &pid) < 0
      || get_uint (holder, "start", UINT64_MAX, &start) < 0)
    return podshim_error_set (err, 0, "invalid pod state: bad `holder`");
  p.holder_pid = (pid_t)pid;
  p.holder_start = start;
  yajl_val uns = json_get (p.raw, "userns");
  if (uns && uns->type != yajl_t_null)
    {
      if (uns->type != yajl_t_object)
        return podshim_error_set (err, 0, "invalid pod state: `userns` is not an object");
      if (idmap_from_json (json_get (uns, "uidMappings"), "userns.uidMappings", &p.userns.uid, err)
              < 0
          || idmap_from_json (json_get (uns, "gidMappings"), "userns.gidMappings", &p.userns.gid,
                              err)
                 < 0
          || idmap_check (&p.userns.uid, "userns.uidMappings", err) < 0
          || idmap_check (&p.userns.gid, "userns.gidMappings", err) < 0)
        return podshim_error_wrap (err, "invalid pod state: bad `userns`");
      p.userns.on = true;
    }

  yajl_val members = json_get (p.raw, "members");
  if (members && members->type != yajl_t_array)
    return podshim_error_set (err, 0, "invalid pod state: `members` is not an array");
  size_t n = members ? members->u.array.len : 0;
  p.members = calloc (n ? n : 1, sizeof (struct pod_member));
  if (p.members == NULL)
    return podshim_error_set (err, ENOMEM, "cannot load pod state");
  for (size_t i = 0; i < n; i++)
    {
      yajl_val m = members->u.array.values[i];
      const char *id = json_get_string (m, "id");
      if (id == NULL || !container_id_valid (id))
        return podshim_error_set (err, 0, "invalid pod state: member %zu has a bad `id`", i);
      struct pod_member *pm = &p.members[p.n_members++];
      pm->id = xstrdup_or_null (id);
      pm->raw = copy_tree (m);
      if (get_uint (m, "pid", INT32_MAX, &pid) < 0 || get_uint (m, "start", UINT64_MAX, &start) < 0)
        return podshim_error_set (err, 0, "invalid pod state: member `%s` has a bad pid", id);
      pm->pid = (pid_t)pid;
      pm->start = start;
      yajl_val c = json_get (m, "creating");
      pm->creating = c && c->type == yajl_t_true;
      if (ns_list_from_json (json_get (m, "share"), &pm->share) < 0)
        return podshim_error_set (err, 0, "invalid pod state: member `%s` has a bad `share`", id);
    }
  *ret = p;
  memset (&p, 0, sizeof (p));
  return 0;
}

static yajl_val number_u (unsigned long long v);

/* Sets root[key] = {pid, start} keeping the unknown fields of the object read,
 * or removes it when pid is 0. */
static void
set_process (yajl_val root, const char *key, pid_t pid, unsigned long long start)
{
  if (pid <= 0)
    {
      json_object_remove (root, key);
      return;
    }
  yajl_val old = json_get_object (root, key);
  yajl_val o = old ? copy_tree (old) : json_new_object ();
  json_object_set (o, "pid", json_new_number (pid));
  json_object_set (o, "start", number_u (start));
  json_object_set (root, key, o);
}

static yajl_val
number_u (unsigned long long v)
{
  yajl_val n = json_new_number (0);
  free (n->u.number.r);
  if (asprintf (&n->u.number.r, "%llu", v) < 0)
    abort ();
  n->u.number.i = (long long)v;
  return n;
}

int
pod_state_emit (const struct pod_state *p, char **ret, size_t *ret_len, struct podshim_error **err)
{
  cleanup_json yajl_val root = p->raw ? copy_tree (p->raw) : json_new_object ();
  json_object_set (root, "version", json_new_number (POD_STATE_VERSION));
  json_object_set (root, "name", json_new_string (p->name));
  if (p->scope)
    json_object_set (root, "scope", json_new_string (p->scope));
  else
    json_object_remove (root, "scope");
  if (p->root)
    json_object_set (root, "root", json_new_string (p->root));
  json_object_set (root, "pinned", ns_list_to_json (p->pinned));
  /* Start from the objects read, if any: their unknown fields survive too. */
  set_process (root, "holder", p->holder_pid, p->holder_start);
  set_process (root, "pause", p->pause_pid, p->pause_start);
  if (p->network_owner)
    json_object_set (root, "network_owner", json_new_string (p->network_owner));
  else
    json_object_remove (root, "network_owner");
  if (p->userns.on)
    {
      yajl_val uns = json_new_object ();
      json_object_set (uns, "uidMappings", idmap_to_json (&p->userns.uid));
      json_object_set (uns, "gidMappings", idmap_to_json (&p->userns.gid));
      json_object_set (root, "userns", uns);
    }
  else
    json_object_remove (root, "userns");
  yajl_val members = json_new_array ();
  for (size_t i = 0; i < p->n_members; i++)
    {
      const struct pod_member *m = &p->members[i];
      yajl_val o = m->raw ? copy_tree (m->raw) : json_new_object ();
      json_object_set (o, "id", json_new_string (m->id));
      json_object_set (o, "pid", json_new_number (m->pid));
      json_object_set (o, "start", number_u (m->start));
      json_object_set (o, "creating", json_new_bool (m->creating));
      json_object_set (o, "share", ns_list_to_json (m->share));
      json_array_append (members, o);
    }
  json_object_set (root, "members", members);
  return json_emit (root, ret, ret_len, err);
}

int
pod_state_load (int poddir_fd, const char *pod_name, struct pod_state *ret,
                struct podshim_error **err)
{
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (poddir_fd, POD_STATE_FILE, O_NOFOLLOW, POD_STATE_MAX, &buf, &len, &e) < 0)
    {
      bool missing = podshim_error_is (e, ENOENT);
      *err = steal_pointer (&e);
      (void)podshim_error_wrap (err, "pod `%s`", pod_name);
      return missing ? -ENOENT : -1;
    }
  if (pod_state_parse (buf, len, ret, err) == 0)
    return 0;
  if (podshim_error_is (*err, STATE_FORMAT_NEWER))
    {
      state_format_wrap_path (err, poddir_fd, POD_STATE_FILE);
      return podshim_error_wrap (err, "pod `%s`", pod_name);
    }
  return podshim_error_wrap (err,
                             "pod `%s`: corrupted state file " POD_STATE_FILE
                             " (inspect it, or remove the pod's directory after its"
                             " members are gone)",
                             pod_name);
}

int
pod_state_save (int poddir_fd, const struct pod_state *p, struct podshim_error **err)
{
  cleanup_free char *buf = NULL;
  size_t len;
  if (pod_state_emit (p, &buf, &len, err) < 0)
    return -1;
  if (write_file_atomic_at (poddir_fd, POD_STATE_FILE, buf, len, 0600, err) < 0)
    return podshim_error_wrap (err, "cannot save the state of pod `%s`", p->name);
  return 0;
}

struct pod_member *
pod_state_find (struct pod_state *p, const char *id)
{
  for (size_t i = 0; i < p->n_members; i++)
    if (strcmp (p->members[i].id, id) == 0)
      return &p->members[i];
  return NULL;
}

struct pod_member *
pod_state_add (struct pod_state *p, const char *id)
{
  struct pod_member *n = reallocarray (p->members, p->n_members + 1, sizeof (*n));
  if (n == NULL)
    abort ();
  p->members = n;
  struct pod_member *m = &p->members[p->n_members++];
  memset (m, 0, sizeof (*m));
  m->id = xstrdup_or_null (id);
  return m;
}

void
pod_state_remove (struct pod_state *p, const char *id)
{
  size_t out = 0;
  for (size_t i = 0; i < p->n_members; i++)
    {
      if (strcmp (p->members[i].id, id) == 0)
        {
          member_done (&p->members[i]);
          continue;
        }
      p->members[out++] = p->members[i];
    }
  p->n_members = out;
}

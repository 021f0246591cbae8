#include "config.h"
#include "install.h"
#include "fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bound on every string of a memory file. */
#define PATH_KEY "runtimes." INSTALL_RUNTIME_NAME ".path"
#define MEMORY_STRING_MAX 4096

void
install_memory_free (struct install_memory *m)
{
  free (m->path);
  free (m->previous_path);
  free (m->previous_default);
  memset (m, 0, sizeof (*m));
}

void
install_changes_free (struct install_changes *ch)
{
  for (size_t i = 0; i < ch->n; i++)
    {
      free (ch->c[i].before);
      free (ch->c[i].after);
    }
  memset (ch, 0, sizeof (*ch));
}

/* A string (or absent/null: NULL) member of a memory file. */
static int
memory_string (yajl_val doc, const char *key, const char *what, bool required, char **ret,
               struct podshim_error **err)
{
  yajl_val v = json_get (doc, key);
  if ((v == NULL || v->type == yajl_t_null) && !required)
    {
      *ret = NULL;
      return 0;
    }
  if (v == NULL || v->type != yajl_t_string || v->u.string[0] == '\0'
      || strlen (v->u.string) > MEMORY_STRING_MAX)
    return podshim_error_set (err, 0, "invalid %s: `%s` is not a string of 1 to %d bytes", what,
                              key, MEMORY_STRING_MAX);
  *ret = xstrdup_or_null (v->u.string);
  return 0;
}

static int
memory_bool (yajl_val doc, const char *key, const char *what, bool *ret, struct podshim_error **err)
{
  yajl_val v = json_get (doc, key);
  if (v == NULL || (v->type != yajl_t_true && v->type != yajl_t_false))
    return podshim_error_set (err, 0, "invalid %s: `%s` is not a boolean", what, key);
  *ret = v->type == yajl_t_true;
  return 0;
}

int
install_memory_parse (const char *buf, size_t len, const char *what, struct install_memory *ret,
                      struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  cleanup_json yajl_val doc = NULL;
  if (json_parse (buf, len, what, &doc, err) < 0)
    return -1;
  if (doc->type != yajl_t_object)
    return podshim_error_set (err, 0, "invalid %s: not a JSON object", what);
  cleanup_install_memory struct install_memory m = { 0 };
  if (memory_string (doc, "path", what, true, &m.path, err) < 0
      || memory_string (doc, "previous_path", what, false, &m.previous_path, err) < 0
      || memory_string (doc, "previous_default", what, false, &m.previous_default, err) < 0
      || memory_bool (doc, "created_runtimes", what, &m.created_runtimes, err) < 0
      || memory_bool (doc, "created_entry", what, &m.created_entry, err) < 0
      || memory_bool (doc, "set_default", what, &m.set_default, err) < 0)
    return -1;
  *ret = m;
  memset (&m, 0, sizeof (m));
  return 0;
}

static yajl_val
string_or_null (const char *s)
{
  return s ? json_new_string (s) : json_new_null ();
}

int
install_memory_emit (const struct install_memory *m, char **ret, size_t *ret_len,
                     struct podshim_error **err)
{
  cleanup_json yajl_val doc = json_new_object ();
  json_object_set (doc, "path", json_new_string (m->path));
  json_object_set (doc, "created_runtimes", json_new_bool (m->created_runtimes));
  json_object_set (doc, "created_entry", json_new_bool (m->created_entry));
  json_object_set (doc, "previous_path", string_or_null (m->previous_path));
  json_object_set (doc, "set_default", json_new_bool (m->set_default));
  json_object_set (doc, "previous_default", string_or_null (m->previous_default));
  return json_emit_pretty (doc, ret, ret_len, err);
}

/* Records a change of key from before to after (either may be NULL). */
static int
add_change (struct install_changes *ch, const char *key, yajl_val before, yajl_val after,
            struct podshim_error **err)
{
  if (ch->n == INSTALL_CHANGES_MAX)
    abort (); /* a bug: the transformations touch at most three keys */
  char *b = NULL, *a = NULL;
  size_t len;
  if (before && json_emit (before, &b, &len, err) < 0)
    return -1;
  if (after && json_emit (after, &a, &len, err) < 0)
    {
      free (b);
      return -1;
    }
  ch->c[ch->n].key = key;
  ch->c[ch->n].before = b;
  ch->c[ch->n].after = a;
  ch->n++;
  return 0;
}

/* Sets obj[name] to the string value, or removes it (value NULL), recording
 * the change under key. */
static int
set_string (struct install_changes *ch, const char *key, yajl_val obj, const char *name,
            const char *value, struct podshim_error **err)
{
  yajl_val v = value ? json_new_string (value) : NULL;
  if (add_change (ch, key, json_get (obj, name), v, err) < 0)
    {
      if (v)
        yajl_tree_free (v);
      return -1;
    }
  if (v)
    json_object_set (obj, name, v);
  else
    json_object_remove (obj, name);
  return 0;
}

int
install_docker_parse (const char *buf, size_t len, const char *what, yajl_val *ret,
                      struct podshim_error **err)
{
  size_t i = 0;
  while (i < len && strchr (" \t\r\n", buf[i]) && buf[i] != '\0')
    i++;
  if (i == len)
    {
      *ret = json_new_object ();
      return 0;
    }
  yajl_val doc = NULL;
  if (json_parse (buf, len, what, &doc, err) < 0)
    return -1;
  if (doc->type != yajl_t_object)
    {
      yajl_tree_free (doc);
      return podshim_error_set (err, 0, "invalid %s: not a JSON object", what);
    }
  *ret = doc;
  return 0;
}

/* daemon.json's runtimes, runtimes.podshim and default-runtime, checked for
 * their types (each may be absent: NULL). */
static int
docker_keys (yajl_val doc, yajl_val *ret_runtimes, yajl_val *ret_entry, yajl_val *ret_default,
             struct podshim_error **err)
{
  yajl_val runtimes = json_get (doc, "runtimes");
  if (runtimes && runtimes->type != yajl_t_object)
    return podshim_error_set (err, 0, "`runtimes` is not a JSON object");
  yajl_val entry = runtimes ? json_get (runtimes, INSTALL_RUNTIME_NAME) : NULL;
  if (entry && entry->type != yajl_t_object)
    return podshim_error_set (err, 0, "`runtimes.%s` is not a JSON object", INSTALL_RUNTIME_NAME);
  yajl_val path = entry ? json_get (entry, "path") : NULL;
  if (path && path->type != yajl_t_string)
    return podshim_error_set (err, 0, "`runtimes.%s.path` is not a string", INSTALL_RUNTIME_NAME);
  yajl_val dflt = json_get (doc, "default-runtime");
  if (dflt && dflt->type != yajl_t_string)
    return podshim_error_set (err, 0, "`default-runtime` is not a string");
  *ret_runtimes = runtimes;
  *ret_entry = entry;
  *ret_default = dflt;
  return 0;
}

int
install_docker_apply (yajl_val doc, const char *path, bool set_default,
                      const struct install_memory *old, struct install_memory *ret_mem,
                      struct install_changes *ch, struct podshim_error **err)
{
  memset (ret_mem, 0, sizeof (*ret_mem));
  memset (ch, 0, sizeof (*ch));
  yajl_val runtimes, entry, dflt;
  if (docker_keys (doc, &runtimes, &entry, &dflt, err) < 0)
    return -1;
  const char *cur_path = entry ? json_get_string (entry, "path") : NULL;
  const char *cur_default = dflt ? dflt->u.string : NULL;
  /* An earlier install's memory holds while the entry is the one it wrote. */
  bool ours = old && cur_path && strcmp (cur_path, old->path) == 0;

  cleanup_install_memory struct install_memory m = { 0 };
  m.path = xstrdup_or_null (path);
  if (ours)
    {
      m.created_runtimes = old->created_runtimes;
      m.created_entry = old->created_entry;
      m.previous_path = xstrdup_or_null (old->previous_path);
      m.set_default = old->set_default;
      m.previous_default = xstrdup_or_null (old->previous_default);
    }
  else
    {
      m.created_runtimes = runtimes == NULL;
      m.created_entry = entry == NULL;
      m.previous_path = xstrdup_or_null (cur_path);
    }
  bool is_default = cur_default && strcmp (cur_default, INSTALL_RUNTIME_NAME) == 0;
  if (set_default && !(is_default && ours && old->set_default))
    {
      /* A default of podshim set by hand has nothing earlier to restore. */
      free (m.previous_default);
      m.previous_default = is_default ? NULL : xstrdup_or_null (cur_default);
      m.set_default = true;
    }

  if (runtimes == NULL)
    {
      runtimes = json_new_object ();
      entry = json_new_object ();
      json_object_set (entry, "path", json_new_string (path));
      json_object_set (runtimes, INSTALL_RUNTIME_NAME, entry);
      json_object_set (doc, "runtimes", runtimes);
      if (add_change (ch, "runtimes", NULL, runtimes, err) < 0)
        return -1;
    }
  else if (entry == NULL)
    {
      entry = json_new_object ();
      json_object_set (entry, "path", json_new_string (path));
      json_object_set (runtimes, INSTALL_RUNTIME_NAME, entry);
      if (add_change (ch, "runtimes." INSTALL_RUNTIME_NAME, NULL, entry, err) < 0)
        return -1;
    }
  else if ((cur_path == NULL || strcmp (cur_path, path) != 0)
           && set_string (ch, PATH_KEY, entry, "path", path, err) < 0)
    return -1;
  if (set_default && !is_default
      && set_string (ch, "default-runtime", doc, "default-runtime", INSTALL_RUNTIME_NAME, err) < 0)
    return -1;
  *ret_mem = m;
  memset (&m, 0, sizeof (m));
  return 0;
}

/* Keys of obj other than name. */
static size_t
other_keys (yajl_val obj, const char *name)
{
  size_t n = 0;
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (strcmp (obj->u.object.keys[i], name) != 0)
      n++;
  return n;
}

int
install_docker_revert (yajl_val doc, const struct install_memory *mem, struct install_changes *ch,
                       struct podshim_error **err)
{
  memset (ch, 0, sizeof (*ch));
  yajl_val runtimes, entry, dflt;
  if (docker_keys (doc, &runtimes, &entry, &dflt, err) < 0)
    return -1;
  const char *cur_path = entry ? json_get_string (entry, "path") : NULL;
  bool ours = mem && cur_path && strcmp (cur_path, mem->path) == 0;
  if (entry && ours && !mem->created_entry)
    {
      /* The entry was there before install: its path goes back. */
      if ((mem->previous_path == NULL || strcmp (mem->previous_path, cur_path) != 0)
          && set_string (ch, PATH_KEY, entry, "path", mem->previous_path, err) < 0)
        return -1;
    }
  else if (entry && ours && mem->created_runtimes
           && other_keys (runtimes, INSTALL_RUNTIME_NAME) == 0)
    {
      if (add_change (ch, "runtimes", runtimes, NULL, err) < 0)
        return -1;
      json_object_remove (doc, "runtimes");
      ch->runtimes_removed = true;
    }
  else if (entry)
    {
      if (add_change (ch, "runtimes." INSTALL_RUNTIME_NAME, entry, NULL, err) < 0)
        return -1;
      json_object_remove (runtimes, INSTALL_RUNTIME_NAME);
    }

  if (dflt && strcmp (dflt->u.string, INSTALL_RUNTIME_NAME) == 0)
    {
      const char *back = mem && mem->set_default ? mem->previous_default : NULL;
      if (set_string (ch, "default-runtime", doc, "default-runtime", back, err) < 0)
        return -1;
      ch->needs_restart = back == NULL;
    }
  return 0;
}

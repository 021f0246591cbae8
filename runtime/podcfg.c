#include "config.h"
#include "podcfg.h"
#include "fsutil.h"
#include "pod.h"

#include <ctype.h>
#include <fcntl.h>
#include <string.h>

#define LABELS_DOC_MAX (32 * 1024 * 1024)

static const char *const label_path[] = { "Config", "Labels", NULL };

void
pod_request_free (struct pod_request *r)
{
  free (r->name);
  if (r->volumes)
    for (size_t i = 0; i < r->n_volumes; i++)
      free (r->volumes[i]);
  free (r->volumes);
  memset (r, 0, sizeof (*r));
}

/* A \u00XX escape of a letter, '_', '.' or '/': the characters of the words
 * spec_may_name_pod looks for. Go writes \u only for <, >, &, controls and
 * U+2028/9, none of them. */
static bool
has_word_escape (const char *buf, size_t len)
{
  const char *end = buf + len;
  for (const char *p = buf; (p = memmem (p, (size_t) (end - p), "\\u00", 4)) != NULL; p += 4)
    {
      if (end - p < 6 || !isxdigit ((unsigned char) p[4]) || !isxdigit ((unsigned char) p[5]))
        continue;
      char hex[3] = { p[4], p[5], '\0' };
      int c = (int) strtol (hex, NULL, 16);
      if (isalpha (c) || c == '_' || c == '.' || c == '/')
        return true;
    }
  return false;
}

bool
spec_may_name_pod (const char *buf, size_t len)
{
  /* JSON may spell the words with escapes: \u00XX, or \/ (Go writes neither). */
  return memmem (buf, len, "podshim", 7) != NULL || memmem (buf, len, "PODSHIM_", 8) != NULL
         || memmem (buf, len, "\"/etc/hostname\"", 15) != NULL || memmem (buf, len, "\\/", 2) != NULL
         || has_word_escape (buf, len);
}

static const char *
hostname_mount_source (yajl_val spec)
{
  yajl_val mounts = json_get_array (spec, "mounts");
  if (mounts == NULL)
    return NULL;
  for (size_t i = 0; i < mounts->u.array.len; i++)
    {
      yajl_val m = mounts->u.array.values[i];
      const char *dest = json_get_string (m, "destination");
      if (dest && strcmp (dest, "/etc/hostname") == 0)
        return json_get_string (m, "source");
    }
  return NULL;
}

/* Docker's directory of container id: the directory of the /etc/hostname
 * mount's source, whose basename is id. Its length, or 0 when there is none. */
static size_t
docker_container_dir (yajl_val spec, const char *id, const char **ret)
{
  const char *src = hostname_mount_source (spec);
  if (src == NULL || src[0] != '/')
    return 0;
  const char *slash = strrchr (src, '/');
  size_t dir_len = (size_t) (slash - src);
  size_t id_len = strlen (id);
  if (dir_len <= id_len || src[dir_len - id_len - 1] != '/'
      || strncmp (src + dir_len - id_len, id, id_len) != 0)
    return 0;
  *ret = src;
  return dir_len;
}

bool
docker_network_none (yajl_val spec, const char *id)
{
  const char *dir;
  size_t dir_len = docker_container_dir (spec, id, &dir);
  if (dir_len == 0)
    return false;
  cleanup_free char *path = NULL, *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_json yajl_val doc = NULL;
  if (asprintf (&path, "%.*s/hostconfig.json", (int) dir_len, dir) < 0
      || read_file_at (AT_FDCWD, path, O_NOFOLLOW, LABELS_DOC_MAX, &buf, &len, &e) < 0
      || json_parse (buf, len, path, &doc, &e) < 0)
    return false;
  const char *mode = json_get_string (doc, "NetworkMode");
  return mode && strcmp (mode, "none") == 0;
}

int
docker_labels_load (yajl_val spec, const char *id, yajl_val *ret, struct podshim_error **err)
{
  *ret = NULL;
  const char *src;
  size_t dir_len = docker_container_dir (spec, id, &src);
  if (dir_len == 0)
    return 0;
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%.*s/config.v2.json", (int) dir_len, src) < 0)
    return podshim_error_set (err, ENOMEM, "cannot read Docker labels");
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (AT_FDCWD, path, O_NOFOLLOW, LABELS_DOC_MAX, &buf, &len, &e) < 0)
    {
      if (e->errno_ == ENOENT)
        return 0; /* not Docker after all */
      *err = steal_pointer (&e);
      return -1;
    }
  if (memmem (buf, len, "podshim.", 8) == NULL)
    return 0;
  yajl_val doc = NULL;
  if (json_parse (buf, len, path, &doc, err) < 0)
    return -1;
  *ret = doc;
  return 0;
}

/* Looks key up in annotations, then labels, then env (as ENVKEY=...). Sets
 * *from to where it was found, naming the key as given there. */
static const char *
lookup (yajl_val spec, yajl_val labels_doc, const char *key, const char *envkey, char from[64])
{
  const char *v = json_get_string (json_get_object (spec, "annotations"), key);
  if (v)
    {
      snprintf (from, 64, "annotation %s", key);
      return v;
    }
  v = json_get_string (json_get_path (labels_doc, label_path), key);
  if (v)
    {
      snprintf (from, 64, "label %s", key);
      return v;
    }
  yajl_val env = json_get_array (json_get_object (spec, "process"), "env");
  size_t klen = strlen (envkey);
  for (size_t i = env ? env->u.array.len : 0; i > 0; i--)
    {
      yajl_val e = env->u.array.values[i - 1];
      if (e->type == yajl_t_string && strncmp (e->u.string, envkey, klen) == 0
          && e->u.string[klen] == '=')
        {
          snprintf (from, 64, "environment variable %s", envkey);
          return e->u.string + klen + 1;
        }
    }
  return NULL;
}

static int
volume_path_valid (const char *p, size_t len)
{
  if (len == 0 || p[0] != '/' || len > POD_VOLUME_PATH_MAX || (len == 1))
    return 0;
  /* Reject empty, "." and ".." components, and control characters. */
  size_t i = 1;
  while (i <= len)
    {
      size_t j = i;
      while (j < len && p[j] != '/')
        {
          if ((unsigned char) p[j] < 0x20 || p[j] == 0x7f)
            return 0;
          j++;
        }
      size_t c = j - i;
      if (c == 0 && j < len)
        return 0;
      if ((c == 1 && p[i] == '.') || (c == 2 && p[i] == '.' && p[i + 1] == '.'))
        return 0;
      if (c == 0 && j == len && j != 1)
        return 0; /* trailing slash */
      i = j + 1;
    }
  return 1;
}

int
pod_volumes_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err)
{
  cleanup_strv char **vols = calloc (POD_VOLUMES_MAX + 1, sizeof (char *));
  if (vols == NULL)
    return podshim_error_set (err, ENOMEM, "cannot parse volumes");
  size_t n = 0;
  const char *p = list;
  for (;;)
    {
      const char *end = strchr (p, ',');
      size_t len = end ? (size_t) (end - p) : strlen (p);
      while (len > 0 && *p == ' ')
        p++, len--;
      while (len > 0 && p[len - 1] == ' ')
        len--;
      if (!volume_path_valid (p, len))
        return podshim_error_set (err, 0,
                                  "invalid pod volume `%.*s` in `%s`: must be an absolute path"
                                  " without `.`, `..` or empty components",
                                  (int) (len > 256 ? 256 : len), p, list);
      bool dup = false;
      for (size_t i = 0; i < n; i++)
        if (strlen (vols[i]) == len && strncmp (vols[i], p, len) == 0)
          dup = true;
      if (!dup)
        {
          if (n == POD_VOLUMES_MAX)
            return podshim_error_set (err, 0, "too many pod volumes in `%.64s...` (at most %d)",
                                      list, POD_VOLUMES_MAX);
          vols[n] = strndup (p, len);
          if (vols[n++] == NULL)
            return podshim_error_set (err, ENOMEM, "cannot parse volumes");
        }
      if (end == NULL)
        break;
      p = end + 1;
    }
  *ret = steal_pointer (&vols);
  *ret_n = n;
  return 0;
}

int
pod_request_from_spec (yajl_val spec, yajl_val labels_doc, struct pod_request *ret,
                       struct podshim_error **err)
{
  cleanup_pod_request struct pod_request r = { 0 };
  char from[64];
  const char *name = lookup (spec, labels_doc, "podshim.pod", "PODSHIM_POD", from);
  if (name == NULL)
    return 0;
  if (!pod_name_valid (name))
    return podshim_error_set (err, 0,
                              "invalid pod name `%.200s` (from %s): a pod name is 1-%d"
                              " characters of [A-Za-z0-9_.-] not starting with `.`",
                              name, from, POD_NAME_MAX);
  r.name = strdup (name);
  if (r.name == NULL)
    return podshim_error_set (err, ENOMEM, "cannot read the pod name");

  r.share = POD_NS_DEFAULT;
  const char *share = lookup (spec, labels_doc, "podshim.share", "PODSHIM_SHARE", from);
  if (share && pod_ns_parse_list (share, &r.share, err) < 0)
    return podshim_error_wrap (err, "invalid %s", from);

  const char *vols = lookup (spec, labels_doc, "podshim.volumes", "PODSHIM_VOLUMES", from);
  if (vols && vols[0] != '\0' && pod_volumes_parse (vols, &r.volumes, &r.n_volumes, err) < 0)
    return podshim_error_wrap (err, "invalid %s", from);

  *ret = r;
  memset (&r, 0, sizeof (r));
  return 1;
}

char *
pod_volume_dirname (const char *path)
{
  size_t n = strlen (path);
  char *out = malloc (n * 4 + 1);
  if (out == NULL)
    abort ();
  char *o = out;
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) path[i];
      if (c == '/')
        *o++ = '-';
      else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '_' || (c == '.' && i > 1))
        *o++ = (char) c;
      else
        o += sprintf (o, "\\x%02x", c);
    }
  *o = '\0';
  return out;
}

const char *
podcfg_lookup (yajl_val spec, yajl_val labels_doc, const char *key, const char *envkey,
               char from[64])
{
  return lookup (spec, labels_doc, key, envkey, from);
}

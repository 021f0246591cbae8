#include "config.h"
#include "podcfg.h"
#include "fsutil.h"
#include "pod.h"
#include "strlist.h"

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
  free (r->volume_sizes);
  free (r->scope);
  memset (r, 0, sizeof (*r));
}

/* A \u00XX escape of a letter, '_', '.' or '/': the characters of the words
 * spec_may_name_pod looks for. Go writes \u only for <, >, &, controls and
 * U+2028/9, none of them. */
static bool
has_word_escape (const char *buf, size_t len)
{
  const char *end = buf + len;
  for (const char *p = buf; (p = memmem (p, (size_t)(end - p), "\\u00", 4)) != NULL; p += 4)
    {
      if (end - p < 6 || !isxdigit ((unsigned char)p[4]) || !isxdigit ((unsigned char)p[5]))
        continue;
      char hex[3] = { p[4], p[5], '\0' };
      int c = (int)strtol (hex, NULL, 16);
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
         || memmem (buf, len, "\\/", 2) != NULL || has_word_escape (buf, len);
}

int
spec_scan_docker_dirs (const char *buf, size_t len, const char *id, docker_dir_fn fn, void *data)
{
  size_t id_len = strlen (id);
  cleanup_free char *needle = malloc (id_len + 12);
  if (needle == NULL)
    return 1;
  int n = snprintf (needle, id_len + 12, "/%s/hostname\"", id);
  const char *end = buf + len;
  for (const char *p = buf; (p = memmem (p, (size_t)(end - p), needle, (size_t)n)) != NULL; p += n)
    {
      /* Back to the string's opening quote; an escape inside makes the bytes
         differ from the string: let the parser decide. */
      const char *q = p;
      while (q > buf && q[-1] != '"')
        if (*--q == '\\')
          return 1;
      if (q == buf || (q - 1 > buf && q[-2] == '\\'))
        return 1;
      if (*q != '/')
        continue;
      size_t dir_len = (size_t)(p - q) + 1 + id_len;
      if (fn (q, dir_len, data))
        return 1;
    }
  return 0;
}

static bool
labels_file_names_podshim (const char *dir, size_t dir_len, void *data)
{
  (void)data;
  cleanup_free char *path = NULL, *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (asprintf (&path, "%.*s/config.v2.json", (int)dir_len, dir) < 0)
    return true;
  /* Unreadable: no label can be found, the container is no member. */
  if (read_file_at (AT_FDCWD, path, O_NOFOLLOW, LABELS_DOC_MAX, &buf, &len, &e) < 0)
    return false;
  return memmem (buf, len, "podshim", 7) != NULL;
}

bool
docker_labels_may_name_pod (const char *buf, size_t len, const char *id)
{
  return container_id_valid (id)
         && spec_scan_docker_dirs (buf, len, id, labels_file_names_podshim, NULL) != 0;
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
  size_t dir_len = (size_t)(slash - src);
  size_t id_len = strlen (id);
  if (dir_len <= id_len || src[dir_len - id_len - 1] != '/'
      || strncmp (src + dir_len - id_len, id, id_len) != 0)
    return 0;
  *ret = src;
  return dir_len;
}

char *
docker_container_dir_of (yajl_val spec, const char *id)
{
  const char *src;
  size_t len = docker_container_dir (spec, id, &src);
  char *r = len ? strndup (src, len) : NULL;
  if (len && r == NULL)
    abort ();
  return r;
}

char *
docker_network_mode (yajl_val spec, const char *id)
{
  const char *dir;
  size_t dir_len = docker_container_dir (spec, id, &dir);
  if (dir_len == 0)
    return NULL;
  cleanup_free char *path = NULL, *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_json yajl_val doc = NULL;
  if (asprintf (&path, "%.*s/hostconfig.json", (int)dir_len, dir) < 0
      || read_file_at (AT_FDCWD, path, O_NOFOLLOW, LABELS_DOC_MAX, &buf, &len, &e) < 0
      || json_parse (buf, len, path, &doc, &e) < 0)
    return NULL;
  const char *mode = json_get_string (doc, "NetworkMode");
  char *ret = mode ? strdup (mode) : NULL;
  if (mode && ret == NULL)
    abort ();
  return ret;
}

bool
docker_network_none (yajl_val spec, const char *id)
{
  cleanup_free char *mode = docker_network_mode (spec, id);
  return mode && strcmp (mode, "none") == 0;
}

static int
labels_load (yajl_val spec, const char *id, bool all, yajl_val *ret, struct podshim_error **err)
{
  *ret = NULL;
  const char *src;
  size_t dir_len = docker_container_dir (spec, id, &src);
  if (dir_len == 0)
    return 0;
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%.*s/config.v2.json", (int)dir_len, src) < 0)
    return podshim_error_set (err, ENOMEM, "cannot read Docker labels");
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (AT_FDCWD, path, O_NOFOLLOW, LABELS_DOC_MAX, &buf, &len, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0; /* not Docker after all */
      *err = steal_pointer (&e);
      return -1;
    }
  if (!all && memmem (buf, len, "podshim.", 8) == NULL)
    return 0;
  yajl_val doc = NULL;
  if (json_parse (buf, len, path, &doc, err) < 0)
    return -1;
  *ret = doc;
  return 0;
}

int
docker_labels_load (yajl_val spec, const char *id, yajl_val *ret, struct podshim_error **err)
{
  return labels_load (spec, id, false, ret, err);
}

int
docker_labels_load_all (yajl_val spec, const char *id, yajl_val *ret, struct podshim_error **err)
{
  return labels_load (spec, id, true, ret, err);
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
  /* Reject empty, "." and ".." components, control characters and ':' (it
     starts a size). */
  size_t i = 1;
  while (i <= len)
    {
      size_t j = i;
      while (j < len && p[j] != '/')
        {
          if ((unsigned char)p[j] < 0x20 || p[j] == 0x7f || p[j] == ':')
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

/* Parses SIZE of `/path:SIZE`: digits, then k, m or g (case-insensitive). */
static int
volume_size_parse (const char *p, size_t len, unsigned long long *ret)
{
  unsigned long long v = 0, mult = 1;
  size_t i = 0;
  for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
    {
      if (v > POD_VOLUME_SIZE_MAX)
        return -1;
      v = v * 10 + (unsigned long long)(p[i] - '0');
    }
  if (i == 0)
    return -1;
  if (i + 1 == len)
    {
      switch (p[i] | 0x20)
        {
        case 'k':
          mult = 1ULL << 10;
          break;
        case 'm':
          mult = 1ULL << 20;
          break;
        case 'g':
          mult = 1ULL << 30;
          break;
        default:
          return -1;
        }
    }
  else if (i != len)
    return -1;
  if (v == 0 || v > POD_VOLUME_SIZE_MAX / mult)
    return -1;
  v *= mult;
  *ret = (v + 4095) & ~4095ULL;
  return 0;
}

/* a is b or a parent of b, component by component (both valid volume paths). */
static bool
path_within (const char *b, const char *a)
{
  size_t la = strlen (a);
  return strncmp (a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

static const char *const refused_roots[] = { "/proc", "/sys", "/dev", NULL };

int
pod_volumes_parse_sized (const char *list, char ***ret, unsigned long long **ret_sizes,
                         size_t *ret_n, struct podshim_error **err)
{
  cleanup_strv char **vols = calloc (POD_VOLUMES_MAX + 1, sizeof (char *));
  cleanup_free unsigned long long *sizes = calloc (POD_VOLUMES_MAX + 1, sizeof (*sizes));
  if (vols == NULL || sizes == NULL)
    return podshim_error_set (err, ENOMEM, "cannot parse volumes");
  size_t n = 0;
  const char *cur = list, *p;
  size_t len;
  while (strlist_next (&cur, &p, &len))
    {
      unsigned long long size = 0;
      const char *colon = memrchr (p, ':', len);
      if (colon)
        {
          size_t slen = len - (size_t)(colon - p) - 1;
          if (volume_size_parse (colon + 1, slen, &size) < 0)
            return podshim_error_set (err, 0,
                                      "invalid size `%.*s` of pod volume `%.*s` in `%.200s`:"
                                      " a size is a number with k, m or g, at most 1t",
                                      (int)(slen > 64 ? 64 : slen), colon + 1,
                                      (int)((size_t)(colon - p) > 256 ? 256 : colon - p), p, list);
          len = (size_t)(colon - p);
        }
      if (!volume_path_valid (p, len))
        return podshim_error_set (err, 0,
                                  "invalid pod volume `%.*s` in `%.200s`: must be an absolute path"
                                  " without `.`, `..`, `:` or empty components",
                                  (int)(len > 200 ? 200 : len), p, list);
      for (int i = 0; refused_roots[i]; i++)
        {
          size_t rl = strlen (refused_roots[i]);
          if (len >= rl && strncmp (p, refused_roots[i], rl) == 0 && (len == rl || p[rl] == '/'))
            return podshim_error_set (err, 0,
                                      "pod volume `%.*s` is refused: a pod volume may not be at"
                                      " `/` or under /proc, /sys or /dev",
                                      (int)(len > 200 ? 200 : len), p);
        }
      bool dup = false;
      for (size_t i = 0; i < n; i++)
        if (strlen (vols[i]) == len && strncmp (vols[i], p, len) == 0)
          {
            if (sizes[i] != size)
              return podshim_error_set (err, 0, "pod volume `%s` is given two sizes in `%.200s`",
                                        vols[i], list);
            dup = true;
          }
      if (!dup)
        {
          if (n == POD_VOLUMES_MAX)
            return podshim_error_set (err, 0, "too many pod volumes in `%.64s...` (at most %d)",
                                      list, POD_VOLUMES_MAX);
          vols[n] = strndup (p, len);
          if (vols[n] == NULL)
            return podshim_error_set (err, ENOMEM, "cannot parse volumes");
          sizes[n++] = size;
        }
    }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      if (i != j && path_within (vols[j], vols[i]))
        return podshim_error_set (err, 0,
                                  "pod volume `%.256s` is inside pod volume `%.256s`: nested pod"
                                  " volumes are refused (a symlink in the outer one, which other"
                                  " members can write, could redirect the inner mount)",
                                  vols[j], vols[i]);
  *ret = steal_pointer (&vols);
  if (ret_sizes)
    *ret_sizes = steal_pointer (&sizes);
  *ret_n = n;
  return 0;
}

int
pod_volumes_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err)
{
  return pod_volumes_parse_sized (list, ret, NULL, ret_n, err);
}

static const char *const scope_labels[][2] = {
  { "com.docker.stack.namespace", "stack" },
  { "com.docker.compose.project", "compose" },
};

int
pod_scope_from_spec (yajl_val spec, yajl_val labels_doc, char **ret, struct podshim_error **err)
{
  *ret = NULL;
  for (size_t i = 0; i < sizeof (scope_labels) / sizeof (scope_labels[0]); i++)
    {
      const char *key = scope_labels[i][0];
      const char *v = json_get_string (json_get_object (spec, "annotations"), key);
      const char *from = "annotation";
      if (v == NULL)
        {
          v = json_get_string (json_get_path (labels_doc, label_path), key);
          from = "label";
        }
      if (v == NULL)
        continue;
      cleanup_free char *scope = NULL;
      if (asprintf (&scope, "%s:%s", scope_labels[i][1], v) < 0)
        return podshim_error_set (err, ENOMEM, "cannot read the pod's scope");
      if (!pod_scope_valid (scope))
        return podshim_error_set (err, 0,
                                  "invalid %s %s `%.200s`: a pod member's %s name must be 1-%d"
                                  " characters of [A-Za-z0-9_.-] not starting with `.`",
                                  from, key, v, scope_labels[i][1], POD_SCOPE_VALUE_MAX);
      *ret = steal_pointer (&scope);
      return 0;
    }
  return 0;
}

int
pod_request_from_spec (yajl_val spec, yajl_val labels_doc, struct pod_request *ret,
                       struct podshim_error **err)
{
  char from[64];
  const char *name = lookup (spec, labels_doc, "podshim.pod", "PODSHIM_POD", from);
  if (name == NULL)
    return 0;
  return pod_request_for_name (spec, labels_doc, name, from, ret, err);
}

int
pod_request_for_name (yajl_val spec, yajl_val labels_doc, const char *name, const char *name_from,
                      struct pod_request *ret, struct podshim_error **err)
{
  cleanup_pod_request struct pod_request r = { 0 };
  char from[64];
  if (!pod_name_valid (name))
    return podshim_error_set (err, 0,
                              "invalid pod name `%.200s` (from %s): a pod name is 1-%d"
                              " characters of [A-Za-z0-9_.-] not starting with `.`",
                              name, name_from, POD_NAME_MAX);
  r.name = strdup (name);
  if (r.name == NULL)
    return podshim_error_set (err, ENOMEM, "cannot read the pod name");

  r.share = POD_NS_DEFAULT;
  const char *share = lookup (spec, labels_doc, "podshim.share", "PODSHIM_SHARE", from);
  if (share && pod_ns_parse_list (share, &r.share, err) < 0)
    return podshim_error_wrap (err, "invalid %s", from);

  const char *vols = lookup (spec, labels_doc, "podshim.volumes", "PODSHIM_VOLUMES", from);
  if (vols && vols[0] != '\0'
      && pod_volumes_parse_sized (vols, &r.volumes, &r.volume_sizes, &r.n_volumes, err) < 0)
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
      unsigned char c = (unsigned char)path[i];
      if (c == '/')
        *o++ = '-';
      else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '_' || (c == '.' && i > 1))
        *o++ = (char)c;
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

/* --- start conditions (podshim.wait, podshim.wait-timeout) ---------------- */

#define COND_MAX 4096

/* An absolute path without empty, `.` or `..` components or control characters. */
static bool
clean_abs_path (const char *p)
{
  size_t len = strlen (p);
  if (len < 2 || len > COND_MAX || p[0] != '/' || p[len - 1] == '/')
    return false;
  for (const char *c = p; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      return false;
  return strstr (p, "//") == NULL && strstr (p, "/./") == NULL && strstr (p, "/../") == NULL
         && !(len >= 2 && strcmp (p + len - 2, "/.") == 0)
         && !(len >= 3 && strcmp (p + len - 3, "/..") == 0);
}

int
wait_tcp_port (const char *cond)
{
  if (strncmp (cond, "tcp:", 4) != 0)
    return -1;
  const char *s = cond + 4;
  if (*s < '1' || *s > '9' || strlen (s) > 5)
    return -1;
  long v = 0;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9')
        return -1;
      v = v * 10 + (*s - '0');
    }
  return v >= 1 && v <= 65535 ? (int)v : -1;
}

int
wait_list_parse (const char *list, char ***ret, size_t *ret_n, struct podshim_error **err)
{
  cleanup_strv char **v = calloc (WAIT_MAX + 1, sizeof (char *));
  if (v == NULL)
    abort ();
  size_t n = 0;
  const char *cur = list, *p;
  size_t len;
  while (strlist_next (&cur, &p, &len))
    {
      cleanup_free char *c = strndup (p, len > COND_MAX ? COND_MAX + 1 : len);
      if (c == NULL)
        abort ();
      bool valid
          = wait_tcp_port (c) > 0 || (strncmp (c, "file:", 5) == 0 && clean_abs_path (c + 5));
      if (!valid)
        return podshim_error_set (err, 0,
                                  "invalid start condition `%.200s`: want `tcp:PORT` (1-65535) or"
                                  " `file:/ABSOLUTE/PATH` without `.`, `..` or empty components",
                                  c);
      if (n == WAIT_MAX)
        return podshim_error_set (err, 0, "too many start conditions (at most %d)", WAIT_MAX);
      v[n++] = steal_pointer (&c);
    }
  *ret = steal_pointer (&v);
  *ret_n = n;
  return 0;
}

int
wait_timeout_parse (const char *s, int *ret, struct podshim_error **err)
{
  long v = 0;
  const char *c = s;
  for (; *c >= '0' && *c <= '9' && v <= WAIT_TIMEOUT_MAX; c++)
    v = v * 10 + (*c - '0');
  if (c == s || *c != '\0' || v < 1 || v > WAIT_TIMEOUT_MAX)
    return podshim_error_set (err, 0, "invalid start timeout `%.64s`: want 1-%d seconds", s,
                              WAIT_TIMEOUT_MAX);
  *ret = (int)v;
  return 0;
}

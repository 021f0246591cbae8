#include "config.h"
#include "stateformat.h"
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
state_format_newer (unsigned long long version, unsigned newest, struct podshim_error **err)
{
  podshim_error_set (err, 0,
                     "format version %llu, newer than %u, the newest this podshim reads: a newer"
                     " podshim wrote it (docs/upgrades.md)",
                     version, newest);
  if (err && *err)
    (*err)->errno_ = STATE_FORMAT_NEWER;
  return -1;
}

int
state_format_text (const char *buf, size_t len, unsigned newest, struct podshim_error **err)
{
  /* No version-1 value (a pod key, an absolute path, digits) starts so. */
  if (len == 0 || buf[0] != '{')
    return 0;
  cleanup_json yajl_val doc = NULL;
  cleanup_error struct podshim_error *e = NULL;
  if (json_parse (buf, len, "state file", &doc, &e) < 0 || doc->type != yajl_t_object)
    return 0;
  yajl_val v = json_get (doc, "version");
  if (v == NULL || v->type != yajl_t_number || v->u.number.r[0] < '0' || v->u.number.r[0] > '9')
    return 0;
  char *end;
  errno = 0;
  unsigned long long n = strtoull (v->u.number.r, &end, 10);
  if (*end != '\0' || (n <= newest && errno == 0))
    return 0;
  /* Past ULLONG_MAX: newer all the same. */
  return state_format_newer (errno ? ULLONG_MAX : n, newest, err);
}

int
state_format_wrap_path (struct podshim_error **err, int dirfd, const char *name)
{
  char link[64], dir[PATH_MAX];
  snprintf (link, sizeof (link), "/proc/self/fd/%d", dirfd);
  ssize_t n = dirfd >= 0 ? readlink (link, dir, sizeof (dir) - 1) : -1;
  if (n <= 0 || dir[0] != '/')
    return podshim_error_wrap (err, "`%s`", name);
  dir[n] = '\0';
  return podshim_error_wrap (err, "`%s/%s`", strcmp (dir, "/") == 0 ? "" : dir, name);
}

/* Comma-separated lists as labels give them ("net, ipc", "/a,/b:64m"). */
#ifndef PODSHIM_STRLIST_H
#define PODSHIM_STRLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Walks a list: each call sets *ret / *ret_len to the next item, spaces
 * around it trimmed (not NUL-terminated; possibly empty), and advances
 * *cursor; false after the last item. An empty list has one empty item. */
static inline bool
strlist_next (const char **cursor, const char **ret, size_t *ret_len)
{
  const char *p = *cursor;
  if (p == NULL)
    return false;
  const char *end = strchr (p, ',');
  size_t len = end ? (size_t)(end - p) : strlen (p);
  while (len > 0 && *p == ' ')
    p++, len--;
  while (len > 0 && p[len - 1] == ' ')
    len--;
  *ret = p;
  *ret_len = len;
  *cursor = end ? end + 1 : NULL;
  return true;
}

#endif

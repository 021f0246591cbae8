#include "config.h"
#include "idmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
get_u32 (yajl_val obj, const char *key, uint32_t *ret)
{
  yajl_val v = json_get (obj, key);
  /* From the raw text: uint32 does not always fit what yajl parsed. */
  if (v == NULL || v->type != yajl_t_number || v->u.number.r[0] < '0' || v->u.number.r[0] > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long long n = strtoull (v->u.number.r, &end, 10);
  if (errno != 0 || *end != '\0' || n > UINT32_MAX)
    return -1;
  *ret = (uint32_t)n;
  return 0;
}

int
idmap_from_json (yajl_val arr, const char *what, struct idmap *ret, struct podshim_error **err)
{
  ret->n = 0;
  if (arr == NULL || arr->type == yajl_t_null)
    return 0;
  if (arr->type != yajl_t_array)
    return podshim_error_set (err, 0, "invalid `%s`: not an array", what);
  if (arr->u.array.len > IDMAP_MAX)
    return podshim_error_set (err, 0, "`%s` has %zu ranges: the kernel takes at most %d", what,
                              arr->u.array.len, IDMAP_MAX);
  for (size_t i = 0; i < arr->u.array.len; i++)
    {
      yajl_val o = arr->u.array.values[i];
      struct idmap_range *r = &ret->r[i];
      if (o->type != yajl_t_object || get_u32 (o, "containerID", &r->inner) < 0
          || get_u32 (o, "hostID", &r->outer) < 0 || get_u32 (o, "size", &r->count) < 0)
        return podshim_error_set (err, 0,
                                  "invalid `%s[%zu]`: expected {containerID, hostID, size},"
                                  " numbers from 0 to 4294967295",
                                  what, i);
    }
  ret->n = arr->u.array.len;
  return 0;
}

static yajl_val
number_u32 (uint32_t v)
{
  return json_new_number ((long long)v);
}

yajl_val
idmap_to_json (const struct idmap *m)
{
  yajl_val arr = json_new_array ();
  for (size_t i = 0; i < m->n; i++)
    {
      yajl_val o = json_new_object ();
      json_object_set (o, "containerID", number_u32 (m->r[i].inner));
      json_object_set (o, "hostID", number_u32 (m->r[i].outer));
      json_object_set (o, "size", number_u32 (m->r[i].count));
      json_array_append (arr, o);
    }
  return arr;
}

static bool
overlap (uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
  return a < b + bn && b < a + an;
}

int
idmap_check (const struct idmap *m, const char *what, struct podshim_error **err)
{
  if (m->n == 0)
    return podshim_error_set (err, 0, "`%s` maps nothing", what);
  for (size_t i = 0; i < m->n; i++)
    {
      const struct idmap_range *r = &m->r[i];
      if (r->count == 0)
        return podshim_error_set (err, 0, "`%s[%zu]` has a size of 0", what, i);
      if ((uint64_t)r->inner + r->count > (1ULL << 32) - 1
          || (uint64_t)r->outer + r->count > (1ULL << 32) - 1)
        return podshim_error_set (err, 0, "`%s[%zu]` (%u:%u:%u) runs past the last ID", what, i,
                                  r->inner, r->outer, r->count);
      for (size_t j = 0; j < i; j++)
        {
          const struct idmap_range *q = &m->r[j];
          if (overlap (r->inner, r->count, q->inner, q->count))
            return podshim_error_set (err, 0, "`%s[%zu]` and `%s[%zu]` map the same container IDs",
                                      what, j, what, i);
          if (overlap (r->outer, r->count, q->outer, q->count))
            return podshim_error_set (err, 0, "`%s[%zu]` and `%s[%zu]` map the same host IDs", what,
                                      j, what, i);
        }
    }
  if (idmap_outer (m, 0) < 0)
    return podshim_error_set (err, 0, "`%s` maps no ID 0 (root)", what);
  char buf[IDMAP_TEXT_MAX];
  if (idmap_format (m, buf, sizeof (buf)) < 0)
    return podshim_error_set (err, 0,
                              "`%s` is longer than the kernel takes in one write (%d bytes)", what,
                              IDMAP_TEXT_MAX);
  return 0;
}

static int
cmp_range (const void *a, const void *b)
{
  const struct idmap_range *x = a, *y = b;
  return x->inner < y->inner ? -1 : x->inner > y->inner;
}

bool
idmap_equal (const struct idmap *a, const struct idmap *b)
{
  if (a->n != b->n)
    return false;
  struct idmap_range x[IDMAP_MAX], y[IDMAP_MAX];
  memcpy (x, a->r, a->n * sizeof (x[0]));
  memcpy (y, b->r, b->n * sizeof (y[0]));
  qsort (x, a->n, sizeof (x[0]), cmp_range);
  qsort (y, b->n, sizeof (y[0]), cmp_range);
  return memcmp (x, y, a->n * sizeof (x[0])) == 0;
}

long long
idmap_outer (const struct idmap *m, uint32_t id)
{
  for (size_t i = 0; i < m->n; i++)
    if (id >= m->r[i].inner && (uint64_t)id < (uint64_t)m->r[i].inner + m->r[i].count)
      return (long long)m->r[i].outer + (id - m->r[i].inner);
  return -1;
}

bool
pod_userns_root (const struct pod_userns *u, unsigned *ret_uid, unsigned *ret_gid)
{
  long long uid = u->on ? idmap_outer (&u->uid, 0) : -1;
  long long gid = u->on ? idmap_outer (&u->gid, 0) : -1;
  if (uid < 0 || gid < 0)
    return false;
  *ret_uid = (unsigned)uid;
  *ret_gid = (unsigned)gid;
  return true;
}

int
idmap_format (const struct idmap *m, char *buf, size_t len)
{
  size_t off = 0;
  for (size_t i = 0; i < m->n; i++)
    {
      int w = snprintf (buf + off, len - off, "%u %u %u\n", m->r[i].inner, m->r[i].outer,
                        m->r[i].count);
      if (w < 0 || (size_t)w >= len - off)
        return -1;
      off += (size_t)w;
    }
  return (int)off;
}

char *
idmap_describe (const struct idmap *m)
{
  char buf[8 * 34 + 8];
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < m->n && i < 8; i++)
    off += (size_t)snprintf (buf + off, sizeof (buf) - off, "%s%u:%u:%u", i ? "," : "",
                             m->r[i].inner, m->r[i].outer, m->r[i].count);
  if (m->n > 8)
    snprintf (buf + off, sizeof (buf) - off, ",...");
  if (m->n == 0)
    snprintf (buf, sizeof (buf), "none");
  char *r = strdup (buf);
  if (r == NULL)
    abort ();
  return r;
}

/* The operator's companion policy and companions' resource limits
 * (companion_policy.h). */
#include "config.h"
#include "companion_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
companion_policy_free (struct companion_policy *p)
{
  for (size_t i = 0; i < p->n_allowed; i++)
    free (p->allowed_images[i]);
  free (p->allowed_images);
  memset (p, 0, sizeof (*p));
}

unsigned
companion_policy_max_per_pod (const struct companion_policy *p)
{
  return p->max_per_pod ? p->max_per_pod : COMPANION_PER_POD_DEFAULT;
}

/* Digits (at most 18) to *ret; the end in *ret_end. */
static bool
digits (const char *s, long long *ret, const char **ret_end)
{
  long long n = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++)
    {
      if (p - s >= 18)
        return false;
      n = n * 10 + (*p - '0');
    }
  *ret = n;
  *ret_end = p;
  return p != s;
}

/* The text of a string, or of an integer/decimal number as written. */
static const char *
scalar_text (yajl_val v)
{
  if (v == NULL)
    return NULL;
  if (v->type == yajl_t_string)
    return v->u.string;
  if (v->type == yajl_t_number)
    return v->u.number.r;
  return NULL;
}

int
companion_memory_parse (yajl_val v, long long *ret, const char **ret_why)
{
  const char *s = scalar_text (v);
  long long n;
  const char *end;
  *ret_why = "must be bytes (a number) or a string like \"64m\" (k, m, g, t: powers of 1024)";
  if (s == NULL || !digits (s, &n, &end))
    return -1;
  int shift = 0;
  if (v->type == yajl_t_string && *end)
    {
      const char *units = "kmgt";
      const char *u = strchr (units, tolower ((unsigned char)*end));
      if (u && *u)
        {
          shift = 10 * (int)(u - units + 1);
          end++;
        }
      if (*end == 'b' || *end == 'B')
        end++;
    }
  if (*end)
    return -1;
  *ret_why = "must be at least 6m (dockerd's minimum) and at most 1024t";
  if (n > (COMPANION_MEMORY_MAX >> shift))
    return -1;
  n <<= shift;
  if (n < COMPANION_MEMORY_MIN)
    return -1;
  *ret = n;
  return 0;
}

int
companion_cpus_parse (yajl_val v, long long *ret, const char **ret_why)
{
  const char *s = scalar_text (v);
  long long whole, frac = 0;
  const char *end;
  *ret_why = "must be a number of CPUs, like \"0.5\" (at most 9 decimals)";
  if (s == NULL || !digits (s, &whole, &end) || whole > 4096)
    return -1;
  if (*end == '.')
    {
      const char *f = end + 1;
      int n = 0;
      for (; *f >= '0' && *f <= '9'; f++, n++)
        {
          if (n == 9)
            return -1;
          frac = frac * 10 + (*f - '0');
        }
      if (n == 0)
        return -1;
      for (; n < 9; n++)
        frac *= 10;
      end = f;
    }
  if (*end)
    return -1;
  long long nano = whole * 1000000000LL + frac;
  *ret_why = "must be at least 0.01 and at most 4096";
  if (nano < COMPANION_NANO_CPUS_MIN || nano > COMPANION_NANO_CPUS_MAX)
    return -1;
  *ret = nano;
  return 0;
}

int
companion_pids_parse (yajl_val v, long long *ret, const char **ret_why)
{
  const char *s = scalar_text (v);
  long long n;
  const char *end;
  *ret_why = "must be a whole number of processes, at least 1 and at most 4194304";
  if (s == NULL || !digits (s, &n, &end) || *end || n < 1 || n > COMPANION_PIDS_MAX)
    return -1;
  *ret = n;
  return 0;
}

char *
companion_memory_str (long long bytes)
{
  int u = -1;
  while (u < 3 && bytes > 0 && (bytes & 1023) == 0)
    {
      bytes >>= 10;
      u++;
    }
  char *out = NULL;
  if ((u < 0 ? asprintf (&out, "%lld", bytes) : asprintf (&out, "%lld%c", bytes, "kmgt"[u])) < 0)
    abort ();
  return out;
}

char *
companion_cpus_str (long long nano)
{
  char *out = NULL;
  long long frac = nano % 1000000000LL;
  int w = 9;
  while (w > 0 && frac % 10 == 0 && frac)
    {
      frac /= 10;
      w--;
    }
  if (frac == 0 ? asprintf (&out, "%lld", nano / 1000000000LL) < 0
                : asprintf (&out, "%lld.%0*lld", nano / 1000000000LL, w, frac) < 0)
    abort ();
  return out;
}

/* An integer number, else 0. */
static long long
int_at (yajl_val obj, const char *const *path)
{
  yajl_val v = json_get_path (obj, path);
  if (v && v->type == yajl_t_number && (v->u.number.flags & YAJL_NUMBER_INT_VALID))
    return v->u.number.i;
  return 0;
}

void
companion_limits_from_spec (yajl_val spec, struct companion_limits *ret)
{
  static const char *const mem[] = { "linux", "resources", "memory", "limit", NULL };
  static const char *const quota[] = { "linux", "resources", "cpu", "quota", NULL };
  static const char *const period[] = { "linux", "resources", "cpu", "period", NULL };
  static const char *const pids[] = { "linux", "resources", "pids", "limit", NULL };
  memset (ret, 0, sizeof (*ret));
  long long m = int_at (spec, mem);
  ret->memory = m > 0 ? m : 0;
  long long q = int_at (spec, quota), p = int_at (spec, period);
  /* quota/period CPUs; dockerd's NanoCpus N gives period 100000, quota N/1e4. */
  if (q > 0 && p > 0 && q <= INT64_MAX / 1000000000LL)
    ret->nano_cpus = q * 1000000000LL / p;
  long long n = int_at (spec, pids);
  ret->pids = n > 0 ? n : 0;
}

static long long
lower_set (long long a, long long b)
{
  if (a <= 0)
    return b > 0 ? b : 0;
  return b > 0 && b < a ? b : a;
}

int
companion_limits_resolve (const char *name, yajl_val cs, const struct companion_limits *anchor,
                          const struct companion_limits *defaults, struct companion_limits *ret,
                          struct podshim_error **err)
{
  static const char *const keys[3] = { "memory", "cpus", "pids_limit" };
  const long long an[3] = { anchor->memory, anchor->nano_cpus, anchor->pids };
  const long long df[3] = { defaults->memory, defaults->nano_cpus, defaults->pids };
  long long out[3];
  for (int i = 0; i < 3; i++)
    {
      yajl_val v = json_get (cs, keys[i]);
      out[i] = lower_set (an[i], df[i]);
      if (v == NULL)
        continue;
      const char *why;
      int r = i == 0   ? companion_memory_parse (v, &out[i], &why)
              : i == 1 ? companion_cpus_parse (v, &out[i], &why)
                       : companion_pids_parse (v, &out[i], &why);
      if (r < 0)
        return podshim_error_set (err, 0, "companion `%s`: `%s` %s", name, keys[i], why);
      if (an[i] > 0 && out[i] > an[i])
        {
          cleanup_free char *want = i == 0   ? companion_memory_str (out[i])
                                    : i == 1 ? companion_cpus_str (out[i])
                                             : NULL;
          cleanup_free char *has = i == 0   ? companion_memory_str (an[i])
                                   : i == 1 ? companion_cpus_str (an[i])
                                            : NULL;
          if (i == 2
              && (asprintf (&want, "%lld", out[i]) < 0 || asprintf (&has, "%lld", an[i]) < 0))
            abort ();
          return podshim_error_set (err, 0,
                                    "companion `%s`: `%s` %s is more than its anchor's own limit"
                                    " (%s): a companion may have lower limits, never higher",
                                    name, keys[i], want, has);
        }
    }
  *ret = (struct companion_limits){ out[0], out[1], out[2] };
  return 0;
}

static bool
all_hex (const char *s)
{
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!isxdigit ((unsigned char)*s))
      return false;
  return true;
}

bool
companion_image_by_id (const char *image)
{
  if (all_hex (image))
    return true;
  /* sha256:3f2a... (whole or a prefix: dockerd's digest set looks it up). */
  const char *colon = strchr (image, ':');
  if (colon == NULL || strchr (image, '/') != NULL)
    return false;
  size_t n = (size_t)(colon - image);
  static const char *const algs[] = { "sha256", "sha384", "sha512" };
  for (size_t i = 0; i < 3; i++)
    if (n == strlen (algs[i]) && strncasecmp (image, algs[i], n) == 0)
      return colon[1] == '\0' || all_hex (colon + 1);
  return false;
}

static bool
host_is_loopback (char *host, bool bracketed)
{
  size_t n = strlen (host);
  while (n > 0 && host[n - 1] == '.')
    host[--n] = '\0'; /* "localhost." is localhost */
  for (char *p = host; *p; p++)
    *p = (char)tolower ((unsigned char)*p);
  if (bracketed)
    {
      struct in6_addr a6;
      if (inet_pton (AF_INET6, host, &a6) != 1)
        return false;
      static const unsigned char zero[12] = { 0 };
      static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
      if (IN6_IS_ADDR_LOOPBACK (&a6) || IN6_IS_ADDR_UNSPECIFIED (&a6))
        return true;
      if (memcmp (a6.s6_addr, mapped, 12) == 0 || memcmp (a6.s6_addr, zero, 12) == 0)
        return a6.s6_addr[12] == 127
               || (a6.s6_addr[12] | a6.s6_addr[13] | a6.s6_addr[14] | a6.s6_addr[15]) == 0;
      return false;
    }
  if (strcmp (host, "localhost") == 0 || (n > 10 && strcmp (host + n - 10, ".localhost") == 0))
    return true;
  struct in_addr a4;
  /* inet_aton, as the C library's resolver: 127.1, 0x7f000001, 0177.1... */
  if (inet_aton (host, &a4) == 0)
    return false;
  uint32_t h = ntohl (a4.s_addr);
  return (h >> 24) == 127 || h == 0;
}

char *
companion_image_loopback_registry (const char *image)
{
  const char *slash = strchr (image, '/');
  if (slash == NULL)
    return NULL;
  size_t n = (size_t)(slash - image);
  char *dom = strndup (image, n);
  if (dom == NULL)
    abort ();
  /* As Docker's reference parser: the first component is a registry when it
     has a '.' or ':', is `localhost`, or has an upper-case letter. */
  bool upper = false;
  for (char *p = dom; *p; p++)
    upper |= *p >= 'A' && *p <= 'Z';
  if (!(strpbrk (dom, ".:") || strcmp (dom, "localhost") == 0 || upper))
    {
      free (dom);
      return NULL;
    }
  cleanup_free char *host = strdup (dom);
  if (host == NULL)
    abort ();
  bool bracketed = host[0] == '[';
  if (bracketed)
    {
      char *close = strchr (host, ']');
      if (close == NULL)
        {
          free (dom);
          return NULL;
        }
      *close = '\0';
      memmove (host, host + 1, strlen (host + 1) + 1);
    }
  else
    {
      char *colon = strchr (host, ':');
      if (colon)
        *colon = '\0';
    }
  if (!host_is_loopback (host, bracketed))
    {
      free (dom);
      return NULL;
    }
  return dom;
}

/* Up to about 200 bytes of the patterns, for messages. Owned. */
static char *
patterns_str (const struct companion_policy *p)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    abort ();
  if (p->n_allowed == 0)
    fputs ("none", f);
  for (size_t i = 0; i < p->n_allowed; i++)
    {
      if (ftell (f) > 200)
        {
          fputs (", ...", f);
          break;
        }
      fprintf (f, "%s`%.100s`", i ? ", " : "", p->allowed_images[i]);
    }
  fclose (f);
  return buf;
}

/* Does a pattern name registry `reg` literally (no wildcard before its first
   '/') and match image? */
static bool
names_registry (const char *pattern, const char *reg, const char *image)
{
  const char *slash = strchr (pattern, '/');
  size_t n = strlen (reg);
  if (slash == NULL || (size_t)(slash - pattern) != n || strncasecmp (pattern, reg, n) != 0)
    return false;
  if (strpbrk (pattern, "*?[\\") != NULL && strpbrk (pattern, "*?[\\") < slash)
    return false;
  return fnmatch (pattern, image, 0) == 0;
}

int
companion_image_check (const struct companion_policy *p, const char *config, const char *name,
                       const char *image, struct podshim_error **err)
{
  if (companion_image_by_id (image))
    {
      for (size_t i = 0; i < p->n_allowed; i++)
        if (strcmp (p->allowed_images[i], image) == 0)
          return 0;
      return podshim_error_set (err, 0,
                                "companion `%s`: image `%s` would be looked up by image ID (or"
                                " an ID's prefix), not by name: refused unless"
                                " companions.allowedImages in %s names it exactly",
                                name, image, config);
    }
  cleanup_free char *reg = companion_image_loopback_registry (image);
  if (reg)
    {
      for (size_t i = 0; i < p->n_allowed; i++)
        if (names_registry (p->allowed_images[i], reg, image))
          return 0;
      return podshim_error_set (err, 0,
                                "companion `%s`: image `%s` is on a registry on this host's"
                                " loopback (`%s`), which dockerd would reach from the host's"
                                " network: refused unless a pattern of companions.allowedImages"
                                " in %s names that registry",
                                name, image, reg, config);
    }
  if (!p->images_set)
    return 0;
  for (size_t i = 0; i < p->n_allowed; i++)
    if (fnmatch (p->allowed_images[i], image, 0) == 0)
      return 0;
  cleanup_free char *pats = patterns_str (p);
  return podshim_error_set (err, 0,
                            "companion `%s`: image `%s` is not allowed: it matches none of"
                            " companions.allowedImages in %s (%s)",
                            name, image, config, pats);
}

static int
parse_defaults (yajl_val v, const char *what, struct companion_limits *ret,
                struct podshim_error **err)
{
  if (v == NULL || v->type == yajl_t_null)
    return 0;
  if (v->type != yajl_t_object)
    return podshim_error_set (err, 0, "%s: `companions.defaults` is not an object", what);
  for (size_t i = 0; i < v->u.object.len; i++)
    {
      const char *k = v->u.object.keys[i];
      yajl_val x = v->u.object.values[i];
      const char *why = NULL;
      int r;
      if (strcmp (k, "memory") == 0)
        r = companion_memory_parse (x, &ret->memory, &why);
      else if (strcmp (k, "cpus") == 0)
        r = companion_cpus_parse (x, &ret->nano_cpus, &why);
      else if (strcmp (k, "pidsLimit") == 0)
        r = companion_pids_parse (x, &ret->pids, &why);
      else
        return podshim_error_set (err, 0,
                                  "%s: unknown key `companions.defaults.%.64s` (it has memory,"
                                  " cpus, pidsLimit)",
                                  what, k);
      if (r < 0)
        return podshim_error_set (err, 0, "%s: `companions.defaults.%s` %s", what, k, why);
    }
  return 0;
}

static int
parse_images (yajl_val v, const char *what, struct companion_policy *p, struct podshim_error **err)
{
  if (v->type != yajl_t_array)
    return podshim_error_set (err, 0, "%s: `companions.allowedImages` is not an array of strings",
                              what);
  size_t n = v->u.array.len;
  if (n > COMPANION_POLICY_IMAGES_MAX)
    return podshim_error_set (err, 0, "%s: `companions.allowedImages` has more than %d patterns",
                              what, COMPANION_POLICY_IMAGES_MAX);
  p->allowed_images = calloc (n + 1, sizeof (char *));
  if (p->allowed_images == NULL)
    abort ();
  p->images_set = true;
  for (size_t i = 0; i < n; i++)
    {
      yajl_val s = v->u.array.values[i];
      if (s->type != yajl_t_string || s->u.string[0] == '\0'
          || strlen (s->u.string) > COMPANION_POLICY_PATTERN_MAX)
        return podshim_error_set (err, 0,
                                  "%s: `companions.allowedImages[%zu]` is not a pattern of 1-%d"
                                  " bytes",
                                  what, i, COMPANION_POLICY_PATTERN_MAX);
      if ((p->allowed_images[i] = strdup (s->u.string)) == NULL)
        abort ();
      p->n_allowed = i + 1;
    }
  return 0;
}

int
companion_policy_parse (yajl_val v, const char *what, struct companion_policy *ret,
                        struct podshim_error **err)
{
  memset (ret, 0, sizeof (*ret));
  if (v == NULL || v->type == yajl_t_null)
    return 0;
  if (v->type != yajl_t_object)
    return podshim_error_set (err, 0, "%s: `companions` is not an object", what);
  struct companion_policy p = { 0 };
  int r = 0;
  for (size_t i = 0; i < v->u.object.len && r == 0; i++)
    {
      const char *k = v->u.object.keys[i];
      yajl_val x = v->u.object.values[i];
      for (size_t j = 0; j < i && r == 0; j++)
        if (strcmp (k, v->u.object.keys[j]) == 0)
          r = podshim_error_set (err, 0, "%s: `companions.%.64s` is given twice", what, k);
      if (r < 0)
        break;
      if (strcmp (k, "fromImageLabels") == 0)
        {
          if (x->type != yajl_t_true && x->type != yajl_t_false)
            r = podshim_error_set (err, 0, "%s: `companions.fromImageLabels` is not true or false",
                                   what);
          p.from_image_labels = x->type == yajl_t_true;
        }
      else if (strcmp (k, "allowedImages") == 0)
        r = parse_images (x, what, &p, err);
      else if (strcmp (k, "maxPerPod") == 0)
        {
          if (x->type != yajl_t_number || !(x->u.number.flags & YAJL_NUMBER_INT_VALID)
              || x->u.number.i < 1 || x->u.number.i > COMPANION_PER_POD_MAX)
            r = podshim_error_set (err, 0,
                                   "%s: `companions.maxPerPod` is not a whole number from 1 to %d",
                                   what, COMPANION_PER_POD_MAX);
          else
            p.max_per_pod = (unsigned)x->u.number.i;
        }
      else if (strcmp (k, "defaults") == 0)
        r = parse_defaults (x, what, &p.defaults, err);
      else
        r = podshim_error_set (err, 0,
                               "%s: unknown key `companions.%.64s` (it has fromImageLabels,"
                               " allowedImages, maxPerPod, defaults)",
                               what, k);
    }
  if (r < 0)
    {
      companion_policy_free (&p);
      return -1;
    }
  *ret = p;
  return 0;
}

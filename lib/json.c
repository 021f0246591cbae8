#include "config.h"
#include "json.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

/* yajl's tree free and our emitter recurse: bound nesting before parsing.
 * yajl_tree_parse accepts comments, so they are skipped here too: a quote in
 * one must not hide the brackets after it. A \u0000 escape would silently cut
 * the C string yajl makes of it, so it is refused like a NUL byte. */
static int
check_depth (const char *buf, size_t len, const char *what, struct podshim_error **err)
{
  const char *nul = memchr (buf, '\0', len);
  if (nul)
    return podshim_error_set (err, 0, "invalid %s: NUL byte at offset %zu", what,
                              (size_t)(nul - buf));
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++)
    {
      char c = buf[i];
      if (in_string)
        {
          if (c == '\\')
            {
              if (len - i >= 6 && memcmp (buf + i + 1, "u0000", 5) == 0)
                return podshim_error_set (err, 0, "invalid %s: \\u0000 (NUL) at offset %zu", what,
                                          i);
              i++;
            }
          else if (c == '"')
            in_string = false;
          continue;
        }
      if (c == '/' && i + 1 < len && (buf[i + 1] == '/' || buf[i + 1] == '*'))
        {
          bool line = buf[i + 1] == '/';
          const char *end = line ? memchr (buf + i + 2, '\n', len - i - 2)
                                 : memmem (buf + i + 2, len - i - 2, "*/", 2);
          if (end == NULL)
            break; /* the rest is an unterminated comment */
          i = (size_t)(end - buf) + (line ? 0 : 1);
          continue;
        }
      if (c == '"')
        in_string = true;
      else if (c == '[' || c == '{')
        {
          if (++depth > PODSHIM_JSON_MAX_DEPTH)
            return podshim_error_set (err, 0, "invalid %s: nested deeper than %d levels", what,
                                      PODSHIM_JSON_MAX_DEPTH);
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return 0;
}

int
json_parse (const char *buf, size_t len, const char *what, yajl_val *ret,
            struct podshim_error **err)
{
  if (check_depth (buf, len, what, err) < 0)
    return -1;
  cleanup_free char *copy = malloc (len + 1);
  if (copy == NULL)
    return podshim_error_set (err, ENOMEM, "cannot parse %s", what);
  memcpy (copy, buf, len);
  copy[len] = '\0';
  char ebuf[512] = "";
  yajl_val v = yajl_tree_parse (copy, ebuf, sizeof (ebuf));
  if (v == NULL)
    {
      /* yajl's message may span lines; keep the first for the log. */
      char *nl = strchr (ebuf, '\n');
      if (nl)
        *nl = '\0';
      return podshim_error_set (err, 0, "invalid %s: %s", what, ebuf[0] ? ebuf : "malformed JSON");
    }
  *ret = v;
  return 0;
}

static yajl_gen_status
emit (yajl_gen g, yajl_val v)
{
  yajl_gen_status s = yajl_gen_status_ok;
  switch (v->type)
    {
    case yajl_t_string:
      return yajl_gen_string (g, (const unsigned char *)v->u.string, strlen (v->u.string));
    case yajl_t_number:
      return yajl_gen_number (g, v->u.number.r, strlen (v->u.number.r));
    case yajl_t_true:
      return yajl_gen_bool (g, 1);
    case yajl_t_false:
      return yajl_gen_bool (g, 0);
    case yajl_t_null:
      return yajl_gen_null (g);
    case yajl_t_object:
      s = yajl_gen_map_open (g);
      for (size_t i = 0; s == yajl_gen_status_ok && i < v->u.object.len; i++)
        {
          const char *k = v->u.object.keys[i];
          s = yajl_gen_string (g, (const unsigned char *)k, strlen (k));
          if (s == yajl_gen_status_ok)
            s = emit (g, v->u.object.values[i]);
        }
      return s == yajl_gen_status_ok ? yajl_gen_map_close (g) : s;
    case yajl_t_array:
      s = yajl_gen_array_open (g);
      for (size_t i = 0; s == yajl_gen_status_ok && i < v->u.array.len; i++)
        s = emit (g, v->u.array.values[i]);
      return s == yajl_gen_status_ok ? yajl_gen_array_close (g) : s;
    case yajl_t_any:
      break;
    }
  return yajl_gen_invalid_string;
}

static void
cleanup_genp (yajl_gen *g)
{
  if (*g)
    yajl_gen_free (*g);
}

/* Indents compact JSON (yajl's, so no whitespace outside strings) two
 * spaces a level, `{}` and `[]` kept on one line (yajl's own beautifier puts
 * a blank line in them), and ends it with a newline. */
static int
reindent (const char *in, size_t len, char **ret, size_t *ret_len, struct podshim_error **err)
{
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream (&buf, &n);
  if (f == NULL)
    return podshim_error_set (err, errno, "cannot generate JSON");
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++)
    {
      char c = in[i];
      if (in_string)
        {
          fputc (c, f);
          if (c == '\\' && i + 1 < len)
            fputc (in[++i], f);
          else if (c == '"')
            in_string = false;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = true;
          fputc (c, f);
          break;
        case '{':
        case '[':
          fputc (c, f);
          if (i + 1 < len && (in[i + 1] == '}' || in[i + 1] == ']'))
            fputc (in[++i], f);
          else
            fprintf (f, "\n%*s", (int)(2 * ++depth), "");
          break;
        case '}':
        case ']':
          depth = depth ? depth - 1 : 0;
          fprintf (f, "\n%*s%c", (int)(2 * depth), "", c);
          break;
        case ',':
          fprintf (f, ",\n%*s", (int)(2 * depth), "");
          break;
        case ':':
          fputs (": ", f);
          break;
        default:
          fputc (c, f);
        }
    }
  fputc ('\n', f);
  if (fclose (f) != 0)
    {
      free (buf);
      return podshim_error_set (err, ENOMEM, "cannot generate JSON");
    }
  *ret = buf;
  *ret_len = n;
  return 0;
}

static int
emit_doc (yajl_val v, bool pretty, char **ret, size_t *ret_len, struct podshim_error **err)
{
  __attribute__ ((cleanup (cleanup_genp))) yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    return podshim_error_set (err, ENOMEM, "cannot allocate JSON generator");
  /* yajl_gen's own depth limit is 128; the tree was bounded at parse time. */
  yajl_gen_status s = emit (g, v);
  if (s != yajl_gen_status_ok)
    return podshim_error_set (err, 0, "cannot generate JSON (yajl status %d)", (int)s);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  if (pretty)
    return reindent ((const char *)buf, len, ret, ret_len, err);
  char *out = malloc (len + 1);
  if (out == NULL)
    return podshim_error_set (err, ENOMEM, "cannot generate JSON");
  memcpy (out, buf, len);
  out[len] = '\0';
  *ret = out;
  *ret_len = len;
  return 0;
}

int
json_emit (yajl_val v, char **ret, size_t *ret_len, struct podshim_error **err)
{
  return emit_doc (v, false, ret, ret_len, err);
}

int
json_emit_pretty (yajl_val v, char **ret, size_t *ret_len, struct podshim_error **err)
{
  return emit_doc (v, true, ret, ret_len, err);
}

yajl_val
json_get (yajl_val obj, const char *key)
{
  if (obj == NULL || obj->type != yajl_t_object)
    return NULL;
  for (size_t i = obj->u.object.len; i > 0; i--)
    if (strcmp (obj->u.object.keys[i - 1], key) == 0)
      return obj->u.object.values[i - 1];
  return NULL;
}

yajl_val
json_get_object (yajl_val obj, const char *key)
{
  yajl_val v = json_get (obj, key);
  return v && v->type == yajl_t_object ? v : NULL;
}

yajl_val
json_get_array (yajl_val obj, const char *key)
{
  yajl_val v = json_get (obj, key);
  return v && v->type == yajl_t_array ? v : NULL;
}

const char *
json_get_string (yajl_val obj, const char *key)
{
  yajl_val v = json_get (obj, key);
  return v && v->type == yajl_t_string ? v->u.string : NULL;
}

yajl_val
json_get_path (yajl_val obj, const char *const *path)
{
  for (; obj && *path; path++)
    obj = json_get (obj, *path);
  return obj;
}

static yajl_val
new_node (yajl_type t)
{
  yajl_val v = calloc (1, sizeof (*v));
  if (v == NULL)
    abort ();
  v->type = t;
  return v;
}

static char *
xstrdup (const char *s)
{
  char *r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

yajl_val
json_new_string (const char *s)
{
  yajl_val v = new_node (yajl_t_string);
  v->u.string = xstrdup (s);
  return v;
}

yajl_val
json_new_object (void)
{
  return new_node (yajl_t_object);
}

yajl_val
json_new_array (void)
{
  return new_node (yajl_t_array);
}

yajl_val
json_new_number (long long n)
{
  yajl_val v = new_node (yajl_t_number);
  if (asprintf (&v->u.number.r, "%lld", n) < 0)
    abort ();
  v->u.number.i = n;
  v->u.number.d = (double)n;
  v->u.number.flags = YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID;
  return v;
}

yajl_val
json_new_bool (bool b)
{
  return new_node (b ? yajl_t_true : yajl_t_false);
}

yajl_val
json_new_null (void)
{
  return new_node (yajl_t_null);
}

yajl_val
json_object_ensure (yajl_val obj, const char *key, yajl_type type)
{
  if (obj == NULL || obj->type != yajl_t_object)
    return NULL;
  yajl_val v = json_get (obj, key);
  if (v)
    return v->type == type ? v : NULL;
  v = new_node (type);
  json_object_set (obj, key, v);
  return v;
}

static void *
xreallocarray (void *p, size_t n, size_t size)
{
  void *r = reallocarray (p, n, size);
  if (r == NULL)
    abort ();
  return r;
}

void
json_object_set (yajl_val obj, const char *key, yajl_val v)
{
  size_t n = obj->u.object.len;
  for (size_t i = 0; i < n; i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      {
        yajl_tree_free (obj->u.object.values[i]);
        obj->u.object.values[i] = v;
        /* Drop later duplicates so the value set is the one a reader sees. */
        for (size_t j = n; j > i + 1; j--)
          if (strcmp (obj->u.object.keys[j - 1], key) == 0)
            {
              free ((char *)obj->u.object.keys[j - 1]);
              yajl_tree_free (obj->u.object.values[j - 1]);
              memmove (&obj->u.object.keys[j - 1], &obj->u.object.keys[j],
                       (obj->u.object.len - j) * sizeof (char *));
              memmove (&obj->u.object.values[j - 1], &obj->u.object.values[j],
                       (obj->u.object.len - j) * sizeof (yajl_val));
              obj->u.object.len--;
            }
        return;
      }
  obj->u.object.keys = xreallocarray (obj->u.object.keys, n + 1, sizeof (char *));
  obj->u.object.values = xreallocarray (obj->u.object.values, n + 1, sizeof (yajl_val));
  obj->u.object.keys[n] = xstrdup (key);
  obj->u.object.values[n] = v;
  obj->u.object.len = n + 1;
}

size_t
json_object_remove (yajl_val obj, const char *key)
{
  size_t removed = 0, out = 0;
  for (size_t i = 0; i < obj->u.object.len; i++)
    {
      if (strcmp (obj->u.object.keys[i], key) == 0)
        {
          free ((char *)obj->u.object.keys[i]);
          yajl_tree_free (obj->u.object.values[i]);
          removed++;
          continue;
        }
      obj->u.object.keys[out] = obj->u.object.keys[i];
      obj->u.object.values[out] = obj->u.object.values[i];
      out++;
    }
  obj->u.object.len = out;
  return removed;
}

void
json_array_append (yajl_val arr, yajl_val v)
{
  size_t n = arr->u.array.len;
  arr->u.array.values = xreallocarray (arr->u.array.values, n + 1, sizeof (yajl_val));
  arr->u.array.values[n] = v;
  arr->u.array.len = n + 1;
}

void
json_array_remove (yajl_val arr, size_t i)
{
  yajl_tree_free (arr->u.array.values[i]);
  memmove (&arr->u.array.values[i], &arr->u.array.values[i + 1],
           (arr->u.array.len - i - 1) * sizeof (yajl_val));
  arr->u.array.len--;
}

/* JSON trees (yajl) that are edited in place and re-emitted whole, so every
 * field podshim does not know survives; numbers keep their original text. */
#ifndef PODSHIM_JSON_H
#define PODSHIM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "error.h"

#define PODSHIM_JSON_MAX_DEPTH 120 /* yajl_gen stops at 128 */

/* Parses buf[0..len) (need not be NUL-terminated). Refuses nesting deeper than
 * PODSHIM_JSON_MAX_DEPTH and embedded NUL bytes. `what` names the document. */
int json_parse (const char *buf, size_t len, const char *what, yajl_val *ret,
                struct podshim_error **err);

/* Emits v compactly; *ret is NUL-terminated and owned by the caller. */
int json_emit (yajl_val v, char **ret, size_t *ret_len, struct podshim_error **err);

/* As json_emit, indented by two spaces a level and ending in a newline: for
 * files people read and edit (daemon.json). */
int json_emit_pretty (yajl_val v, char **ret, size_t *ret_len, struct podshim_error **err);

static inline void
cleanup_jsonp (yajl_val *v)
{
  if (*v)
    yajl_tree_free (*v);
}
#define cleanup_json __attribute__ ((cleanup (cleanup_jsonp)))

/* Getters return NULL when absent or of another type. Last key wins, as in Go. */
yajl_val json_get (yajl_val obj, const char *key);
yajl_val json_get_object (yajl_val obj, const char *key);
yajl_val json_get_array (yajl_val obj, const char *key);
const char *json_get_string (yajl_val obj, const char *key);
/* Follows a NULL-terminated key path of objects. */
yajl_val json_get_path (yajl_val obj, const char *const *path);

/* Constructors; abort on OOM like the rest of podshim's allocations. */
yajl_val json_new_string (const char *s);
yajl_val json_new_object (void);
yajl_val json_new_array (void);
yajl_val json_new_number (long long n);
yajl_val json_new_bool (bool b);
yajl_val json_new_null (void);

/* The child of obj at key when it has the given type (yajl_t_object or
 * yajl_t_array), else a new empty one set there when key is absent; NULL when
 * key holds another type or obj is not an object (obj is left as it was). */
yajl_val json_object_ensure (yajl_val obj, const char *key, yajl_type type);
/* Takes ownership of v: replaces every existing value of key (the first in
 * place, later duplicates dropped) or appends it. */
void json_object_set (yajl_val obj, const char *key, yajl_val v);
/* Removes every entry named key; returns how many. */
size_t json_object_remove (yajl_val obj, const char *key);
/* Takes ownership of v. */
void json_array_append (yajl_val arr, yajl_val v);
/* Removes and frees element i. */
void json_array_remove (yajl_val arr, size_t i);

#endif

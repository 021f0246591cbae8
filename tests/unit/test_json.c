/* json_parse / json_emit round trips and the tree editors. */
#include "config.h"
#include "testutil.h"

static void
assert_roundtrip (const char *text)
{
  char *out = t_canon (text);
  assert_string_equal (out, text);
  free (out);
}

static int
parse_err (const char *buf, size_t len, struct podshim_error **err)
{
  yajl_val v = NULL;
  int r = json_parse (buf, len, "doc.json", &v, err);
  if (r == 0)
    yajl_tree_free (v);
  return r;
}

static void
test_unknown_fields_survive (void **state)
{
  (void)state;
  assert_roundtrip (
      "{\"ociVersion\":\"1.0.2\",\"x-future\":{\"a\":[1,{\"b\":null,\"c\":[true,false]}],"
      "\"d\":\"e\"},\"process\":{\"args\":[\"sh\"],\"newField\":{\"deep\":{\"er\":[[]]}}}}");
  assert_roundtrip ("[]");
  assert_roundtrip ("\"top-level string\"");
  assert_roundtrip ("42");
  assert_roundtrip ("null");
  /* whitespace goes, nothing else */
  char *out = t_canon (" {\n \"a\" : [ 1 , 2 ] ,\t\"b\" : { } }\n");
  assert_string_equal (out, "{\"a\":[1,2],\"b\":{}}");
  free (out);
}

static void
test_numbers_keep_their_text (void **state)
{
  (void)state;
  /* uint64 max does not fit long long; floats and exponents are not reformatted. */
  assert_roundtrip ("[18446744073709551615,-9223372036854775808,-9223372036854775809,"
                    "123456789012345678901234567890123,1.50,-0.0,0,-0,1e400,1E+2,-2.5e-3,"
                    "3.141592653589793238462643383279]");
  yajl_val v = t_parse ("{\"hard\":18446744073709551615,\"soft\":1024,\"f\":1.50}");
  yajl_val hard = json_get (v, "hard");
  assert_non_null (hard);
  assert_int_equal (hard->type, yajl_t_number);
  assert_string_equal (hard->u.number.r, "18446744073709551615");
  assert_false (hard->u.number.flags & YAJL_NUMBER_INT_VALID);
  yajl_val soft = json_get (v, "soft");
  assert_true (soft->u.number.flags & YAJL_NUMBER_INT_VALID);
  assert_int_equal (soft->u.number.i, 1024);
  char *out = t_emit (v);
  assert_string_equal (out, "{\"hard\":18446744073709551615,\"soft\":1024,\"f\":1.50}");
  free (out);
  yajl_tree_free (v);

  yajl_val n = json_new_number (-42);
  out = t_emit (n);
  assert_string_equal (out, "-42");
  free (out);
  yajl_tree_free (n);
}

static void
test_unicode (void **state)
{
  (void)state;
  /* Raw UTF-8 passes through; \u escapes come out as UTF-8. */
  assert_roundtrip ("{\"caf\xc3\xa9\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\"}");
  char *out = t_canon ("[\"\\u00e9\",\"\\ud83d\\ude00\",\"\\u20ac\",\"\\u0041\"]");
  assert_string_equal (out, "[\"\xc3\xa9\",\"\xf0\x9f\x98\x80\",\"\xe2\x82\xac\",\"A\"]");
  free (out);
  /* Invalid UTF-8 is refused, not passed on. */
  struct podshim_error *err = NULL;
  const char bad[] = "[\"\xc3\x28\"]";
  assert_true (parse_err (bad, sizeof (bad) - 1, &err) < 0);
  assert_error_contains (&err, "invalid doc.json");
}

static void
test_control_char_escapes (void **state)
{
  (void)state;
  char *out = t_canon ("[\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\fu\\u0001\\u001f\\u007f\"]");
  /* yajl_gen: short escapes where JSON has them, \u00XX for the rest, '/' and
   * DEL unescaped. */
  assert_string_equal (out, "[\"q\\\"b\\\\s/n\\nt\\tr\\rb\\bf\\fu\\u0001\\u001F\x7f\"]");
  /* and it parses back to the same string */
  yajl_val v = t_parse (out);
  assert_string_equal (v->u.array.values[0]->u.string, "q\"b\\s/n\nt\tr\rb\bf\fu\x01\x1f\x7f");
  yajl_tree_free (v);
  free (out);
}

static void
test_empty_containers (void **state)
{
  (void)state;
  assert_roundtrip ("{\"a\":[],\"b\":{},\"c\":[[]],\"d\":[{}],\"e\":{\"f\":{}}}");
  assert_roundtrip ("{}");
  assert_roundtrip ("{\"\":\"\"}");
}

static void
test_duplicate_keys (void **state)
{
  (void)state;
  const char *text = "{\"k\":1,\"x\":0,\"k\":2,\"k\":3}";
  assert_roundtrip (text); /* all kept, in order */
  yajl_val v = t_parse (text);
  assert_string_equal (json_get (v, "k")->u.number.r, "3"); /* last wins, as in Go */

  json_object_set (v, "k", json_new_string ("new"));
  char *out = t_emit (v);
  assert_string_equal (out, "{\"k\":\"new\",\"x\":0}");
  free (out);
  assert_string_equal (json_get_string (v, "k"), "new");
  yajl_tree_free (v);

  v = t_parse ("{\"a\":1,\"b\":2,\"a\":3,\"c\":4,\"a\":5}");
  assert_int_equal (json_object_remove (v, "a"), 3);
  assert_int_equal (json_object_remove (v, "a"), 0);
  out = t_emit (v);
  assert_string_equal (out, "{\"b\":2,\"c\":4}");
  free (out);
  yajl_tree_free (v);
}

static char *
nested (const char *open, const char *close, int depth, const char *prefix)
{
  size_t pl = strlen (prefix);
  char *s = malloc (pl + (size_t)depth * (strlen (open) + strlen (close)) + 1);
  assert_non_null (s);
  char *p = stpcpy (s, prefix);
  for (int i = 0; i < depth; i++)
    p = stpcpy (p, open);
  for (int i = 0; i < depth; i++)
    p = stpcpy (p, close);
  return s;
}

static void
test_depth_limit (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  char *ok = nested ("[", "]", PODSHIM_JSON_MAX_DEPTH, "");
  char *out = t_canon (ok);
  assert_string_equal (out, ok);
  free (out);
  free (ok);

  char *deep = nested ("[", "]", PODSHIM_JSON_MAX_DEPTH + 1, "");
  assert_true (parse_err (deep, strlen (deep), &err) < 0);
  assert_error_contains (&err, "nested deeper than 120 levels");
  free (deep);

  deep = nested ("{\"a\":", "}", PODSHIM_JSON_MAX_DEPTH + 1, "");
  assert_true (parse_err (deep, strlen (deep), &err) < 0);
  assert_error_contains (&err, "invalid doc.json: nested deeper");
  free (deep);

  /* Brackets in strings do not count... */
  char *in_string = nested ("[", "]", 200, "");
  char *doc = t_printf ("[\"%s\\\"[[[[\"]", in_string);
  assert_int_equal (parse_err (doc, strlen (doc), &err), 0);
  assert_null (err);
  free (doc);
  free (in_string);

  /* ...nor can a quote in a comment (yajl_tree_parse allows comments) hide
   * brackets from the limit. */
  const char *prefixes[] = { "/* \" */", "// \"\n", "/* \\ */ /**/" };
  for (size_t i = 0; i < 3; i++)
    {
      deep = nested ("[", "]", PODSHIM_JSON_MAX_DEPTH + 1, prefixes[i]);
      assert_true (parse_err (deep, strlen (deep), &err) < 0);
      assert_error_contains (&err, "nested deeper");
      free (deep);
    }
  /* and a commented document within the limit still parses */
  ok = nested ("[", "]", 10, "/* [[[[[[ \" */ // {{{{ \n");
  assert_int_equal (parse_err (ok, strlen (ok), &err), 0);
  free (ok);
}

static void
test_nul_bytes (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  const char raw[] = "{\"a\":\"x\0y\"}";
  assert_true (parse_err (raw, sizeof (raw) - 1, &err) < 0);
  assert_error_contains (&err, "invalid doc.json: NUL byte at offset 7");

  /* An escaped NUL would be cut off at the C string's end: refused too. */
  const char *esc = "{\"args\":[\"sh\\u0000-c\"]}";
  assert_true (parse_err (esc, strlen (esc), &err) < 0);
  assert_error_contains (&err, "NUL");
  esc = "{\"a\\u0000b\":1}";
  assert_true (parse_err (esc, strlen (esc), &err) < 0);
  assert_error_contains (&err, "NUL");
  /* \\u0000 is a backslash then text, which is fine */
  esc = "[\"\\\\u0000\"]";
  assert_int_equal (parse_err (esc, strlen (esc), &err), 0);
  assert_null (err);
}

static void
test_malformed (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  const char *bad[]
      = { "", "{", "{\"a\":}", "[1,]", "{} x", "{'a':1}", "[01]", "nul", "{\"a\" 1}" };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      assert_true (parse_err (bad[i], strlen (bad[i]), &err) < 0);
      assert_non_null (err);
      assert_int_equal (strncmp (err->msg, "invalid doc.json: ", 18), 0);
      assert_true (strlen (err->msg) > 18);
      assert_null (strchr (err->msg, '\n')); /* one line for the log */
      podshim_error_free (err);
      err = NULL;
    }
  /* need not be NUL-terminated: only len bytes are read */
  const char buf[] = { '[', '1', ']', 'x', 'x' };
  yajl_val v = NULL;
  assert_int_equal (json_parse (buf, 3, "b", &v, &err), 0);
  assert_int_equal (v->type, yajl_t_array);
  yajl_tree_free (v);
}

static void
test_object_set_remove (void **state)
{
  (void)state;
  yajl_val v = t_parse ("{\"a\":1,\"b\":{\"c\":2}}");
  json_object_set (v, "z", json_new_bool (true));
  json_object_set (v, "a", json_new_array ());
  json_object_set (json_get_object (v, "b"), "c", json_new_string ("s"));
  char *out = t_emit (v);
  assert_string_equal (out, "{\"a\":[],\"b\":{\"c\":\"s\"},\"z\":true}");
  free (out);
  assert_int_equal (json_object_remove (v, "b"), 1);
  assert_int_equal (json_object_remove (v, "nope"), 0);
  out = t_emit (v);
  assert_string_equal (out, "{\"a\":[],\"z\":true}");
  free (out);
  yajl_tree_free (v);

  v = json_new_object ();
  json_object_set (v, "k", json_new_bool (false));
  out = t_emit (v);
  assert_string_equal (out, "{\"k\":false}");
  free (out);
  yajl_tree_free (v);
}

static void
test_array_append_remove (void **state)
{
  (void)state;
  yajl_val v = t_parse ("[0,1,2,3]");
  json_array_remove (v, 1);
  json_array_append (v, json_new_string ("x"));
  char *out = t_emit (v);
  assert_string_equal (out, "[0,2,3,\"x\"]");
  free (out);
  json_array_remove (v, 3);
  json_array_remove (v, 0);
  out = t_emit (v);
  assert_string_equal (out, "[2,3]");
  free (out);
  json_array_remove (v, 0);
  json_array_remove (v, 0);
  out = t_emit (v);
  assert_string_equal (out, "[]");
  free (out);
  json_array_append (v, json_new_object ());
  out = t_emit (v);
  assert_string_equal (out, "[{}]");
  free (out);
  yajl_tree_free (v);

  v = json_new_array ();
  json_array_append (v, json_new_number (7));
  out = t_emit (v);
  assert_string_equal (out, "[7]");
  free (out);
  yajl_tree_free (v);
}

static void
test_getters (void **state)
{
  (void)state;
  yajl_val v = t_parse ("{\"o\":{\"p\":{\"q\":\"deep\"}},\"a\":[1],\"s\":\"str\",\"n\":5}");
  assert_non_null (json_get_object (v, "o"));
  assert_null (json_get_object (v, "a"));
  assert_non_null (json_get_array (v, "a"));
  assert_null (json_get_array (v, "s"));
  assert_string_equal (json_get_string (v, "s"), "str");
  assert_null (json_get_string (v, "n"));
  assert_null (json_get (v, "missing"));
  assert_null (json_get (json_get (v, "a"), "x")); /* not an object */
  assert_null (json_get (NULL, "x"));
  const char *const path[] = { "o", "p", "q", NULL };
  yajl_val q = json_get_path (v, path);
  assert_non_null (q);
  assert_string_equal (q->u.string, "deep");
  const char *const bad[] = { "o", "x", "q", NULL };
  assert_null (json_get_path (v, bad));
  assert_null (json_get_path (NULL, path));
  yajl_tree_free (v);
}

static void
test_object_ensure (void **state)
{
  (void)state;
  yajl_val v
      = t_parse ("{\"o\":{\"k\":1},\"a\":[1],\"s\":\"str\",\"d\":{\"x\":1},\"d\":{\"y\":2}}");
  /* Present with the type asked: that very node, untouched. */
  yajl_val o = json_object_ensure (v, "o", yajl_t_object);
  assert_ptr_equal (o, json_get (v, "o"));
  assert_ptr_equal (json_object_ensure (v, "a", yajl_t_array), json_get (v, "a"));
  /* Last key wins, as for the getters. */
  assert_ptr_equal (json_object_ensure (v, "d", yajl_t_object), json_get (v, "d"));
  assert_non_null (json_get (json_object_ensure (v, "d", yajl_t_object), "y"));
  /* Another type: NULL, nothing replaced. */
  assert_null (json_object_ensure (v, "s", yajl_t_object));
  assert_null (json_object_ensure (v, "o", yajl_t_array));
  assert_null (json_object_ensure (NULL, "x", yajl_t_array));
  /* Absent: created empty, and set. */
  yajl_val na = json_object_ensure (v, "na", yajl_t_array);
  assert_non_null (na);
  json_array_append (na, json_new_number (2));
  yajl_val no = json_object_ensure (v, "no", yajl_t_object);
  json_object_set (no, "z", json_new_bool (true));
  char *out = t_emit (v);
  assert_string_equal (out, "{\"o\":{\"k\":1},\"a\":[1],\"s\":\"str\",\"d\":{\"x\":1},"
                            "\"d\":{\"y\":2},\"na\":[2],\"no\":{\"z\":true}}");
  free (out);
  yajl_tree_free (v);
}

/* json_emit_pretty: two spaces a level, punctuation inside strings left
 * alone, `{}` / `[]` on one line, a final newline; it parses back to the
 * same tree. */
static void
test_emit_pretty (void **state)
{
  const char *text = "{\"a\":\"x,{:}[\\\"]\\\\\",\"b\":[1,{\"c\":{},\"d\":[]}],\"e\":1e400}";
  yajl_val v = NULL;
  struct podshim_error *err = NULL;
  assert_int_equal (json_parse (text, strlen (text), "doc", &v, &err), 0);
  char *out = NULL;
  size_t len;
  assert_int_equal (json_emit_pretty (v, &out, &len, &err), 0);
  assert_string_equal (out, "{\n"
                            "  \"a\": \"x,{:}[\\\"]\\\\\",\n"
                            "  \"b\": [\n"
                            "    1,\n"
                            "    {\n"
                            "      \"c\": {},\n"
                            "      \"d\": []\n"
                            "    }\n"
                            "  ],\n"
                            "  \"e\": 1e400\n"
                            "}\n");
  assert_int_equal (len, strlen (out));
  yajl_val back = NULL;
  assert_int_equal (json_parse (out, len, "doc", &back, &err), 0);
  char *a = NULL, *b = NULL;
  size_t la, lb;
  assert_int_equal (json_emit (v, &a, &la, &err), 0);
  assert_int_equal (json_emit (back, &b, &lb, &err), 0);
  assert_string_equal (a, b);
  free (a);
  free (b);
  free (out);
  yajl_tree_free (back);
  yajl_tree_free (v);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_unknown_fields_survive),
    cmocka_unit_test (test_numbers_keep_their_text),
    cmocka_unit_test (test_unicode),
    cmocka_unit_test (test_emit_pretty),
    cmocka_unit_test (test_control_char_escapes),
    cmocka_unit_test (test_empty_containers),
    cmocka_unit_test (test_duplicate_keys),
    cmocka_unit_test (test_depth_limit),
    cmocka_unit_test (test_nul_bytes),
    cmocka_unit_test (test_malformed),
    cmocka_unit_test (test_object_set_remove),
    cmocka_unit_test (test_array_append_remove),
    cmocka_unit_test (test_getters),
    cmocka_unit_test (test_object_ensure),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

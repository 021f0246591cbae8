/* `podshim install docker` / `uninstall docker`: the input as daemon.json
 * and as the memory file kept beside it. Checks: install is idempotent (its
 * output installed again changes nothing, byte for byte) and keeps
 * runtimes.podshim and default-runtime as asked; uninstall after install
 * leaves no podshim behind; an accepted memory survives emit + parse. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "install.h"

#include "fuzz.h"

#define EXE "/usr/sbin/podshim"

static char *
emit (yajl_val doc)
{
  char *out = NULL;
  size_t len;
  struct podshim_error *err = NULL;
  CHECK (json_emit_pretty (doc, &out, &len, &err) == 0);
  CHECK (strlen (out) == len);
  return out;
}

static void
as_daemon_json (const char *buf, size_t len, bool set_default)
{
  yajl_val doc = NULL;
  struct podshim_error *err = NULL;
  if (install_docker_parse (buf, len, "daemon.json", &doc, &err) < 0)
    {
      CHECK (err && err->msg[0] && doc == NULL);
      podshim_error_free (err);
      return;
    }
  CHECK (doc->type == yajl_t_object);
  struct install_memory m = { 0 };
  struct install_changes ch = { 0 };
  if (install_docker_apply (doc, EXE, set_default, NULL, &m, &ch, &err) < 0)
    {
      CHECK (err && err->msg[0]);
      podshim_error_free (err);
      err = NULL;
      /* Refused: uninstall is refused the same way. */
      CHECK (install_docker_revert (doc, NULL, &ch, &err) < 0);
      podshim_error_free (err);
      yajl_tree_free (doc);
      return;
    }
  CHECK (ch.n <= 2 && m.path && strcmp (m.path, EXE) == 0);
  const char *const path[] = { "runtimes", INSTALL_RUNTIME_NAME, "path", NULL };
  yajl_val p = json_get_path (doc, path);
  CHECK (p && p->type == yajl_t_string && strcmp (p->u.string, EXE) == 0);
  if (set_default)
    CHECK (strcmp (json_get_string (doc, "default-runtime"), INSTALL_RUNTIME_NAME) == 0);
  install_changes_free (&ch);
  char *first = emit (doc);

  /* Installed again from the written file, with the memory: no change. */
  yajl_val doc2 = NULL;
  CHECK (install_docker_parse (first, strlen (first), "daemon.json", &doc2, &err) == 0);
  struct install_memory m2 = { 0 };
  CHECK (install_docker_apply (doc2, EXE, set_default, &m, &m2, &ch, &err) == 0);
  CHECK (ch.n == 0);
  char *second = emit (doc2);
  CHECK (strcmp (first, second) == 0);
  CHECK (m2.created_entry == m.created_entry && m2.created_runtimes == m.created_runtimes);

  /* Uninstalled: the entry gone (or its earlier path back), no podshim
     default. */
  install_changes_free (&ch);
  CHECK (install_docker_revert (doc2, &m2, &ch, &err) == 0);
  p = json_get_path (doc2, path);
  if (m.created_entry || m.previous_path == NULL)
    CHECK (p == NULL);
  else
    CHECK (p && p->type == yajl_t_string && strcmp (p->u.string, m.previous_path) == 0);
  const char *d = json_get_string (doc2, "default-runtime");
  CHECK (d == NULL || strcmp (d, INSTALL_RUNTIME_NAME) != 0);
  /* Uninstall without a memory (the first one removed it) removes any
     podshim entry; once more, it changes nothing. */
  install_changes_free (&ch);
  CHECK (install_docker_revert (doc2, NULL, &ch, &err) == 0);
  CHECK (json_get_path (doc2, path) == NULL
         || json_get (json_get (doc2, "runtimes"), "podshim") == NULL);
  install_changes_free (&ch);
  CHECK (install_docker_revert (doc2, NULL, &ch, &err) == 0 && ch.n == 0);

  free (first);
  free (second);
  install_memory_free (&m);
  install_memory_free (&m2);
  yajl_tree_free (doc);
  yajl_tree_free (doc2);
}

static void
as_memory (const char *buf, size_t len)
{
  struct install_memory m = { 0 };
  struct podshim_error *err = NULL;
  if (install_memory_parse (buf, len, "memory", &m, &err) < 0)
    {
      CHECK (err && err->msg[0] && m.path == NULL);
      podshim_error_free (err);
      return;
    }
  char *text = NULL;
  size_t tlen;
  CHECK (install_memory_emit (&m, &text, &tlen, &err) == 0);
  struct install_memory r = { 0 };
  CHECK (install_memory_parse (text, tlen, "memory", &r, &err) == 0);
  CHECK (strcmp (r.path, m.path) == 0 && r.set_default == m.set_default
         && r.created_entry == m.created_entry && r.created_runtimes == m.created_runtimes);
  CHECK ((r.previous_default == NULL) == (m.previous_default == NULL));
  CHECK ((r.previous_path == NULL) == (m.previous_path == NULL));
  free (text);
  install_memory_free (&r);
  install_memory_free (&m);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *buf = (const char *)data;
  as_daemon_json (buf, size, true);
  as_daemon_json (buf, size, false);
  as_memory (buf, size);
  return 0;
}

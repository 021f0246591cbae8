/* pod.json: parse, emit, parse again. Checks: what parses emits, the emitted
 * text parses to the same state and re-emits to the same text, and edits a
 * podshim makes (add, remove, pause gone) keep it so; only format version 1
 * parses, a newer one is refused as such. The input also as a one-value state
 * file (an index entry, `data`, `root`): a newer version is a JSON object. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod.h"
#include "stateformat.h"

#include "fuzz.h"

static bool
str_eq (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

static void
check_same (const struct pod_state *a, const struct pod_state *b)
{
  CHECK (str_eq (a->name, b->name));
  CHECK (str_eq (a->scope, b->scope));
  CHECK (str_eq (a->root, b->root));
  CHECK (str_eq (a->network_owner, b->network_owner));
  CHECK (a->pinned == b->pinned);
  CHECK (a->pause_pid == b->pause_pid);
  CHECK (a->pause_pid == 0 || a->pause_start == b->pause_start);
  CHECK (a->userns.on == b->userns.on);
  CHECK (!a->userns.on
         || (idmap_equal (&a->userns.uid, &b->userns.uid)
             && idmap_equal (&a->userns.gid, &b->userns.gid)));
  CHECK (a->n_members == b->n_members);
  for (size_t i = 0; i < a->n_members; i++)
    {
      const struct pod_member *x = &a->members[i], *y = &b->members[i];
      CHECK (str_eq (x->id, y->id));
      CHECK (x->pid == y->pid && x->start == y->start && x->creating == y->creating);
      CHECK (x->share == y->share);
    }
}

/* emit(p) parses to a state equal to p that re-emits to the same text. */
static void
check_roundtrip (const struct pod_state *p)
{
  struct podshim_error *err = NULL;
  char *e1 = NULL, *e2 = NULL;
  size_t l1, l2;
  if (pod_state_emit (p, &e1, &l1, &err) < 0)
    {
      fprintf (stderr, "emit failed: %s\n", err->msg);
      abort ();
    }
  struct pod_state q = { 0 };
  if (pod_state_parse (e1, l1, &q, &err) < 0)
    {
      fprintf (stderr, "emitted state does not parse: %s\n%s\n", err->msg, e1);
      abort ();
    }
  check_same (p, &q);
  CHECK (pod_state_emit (&q, &e2, &l2, &err) == 0);
  CHECK (l1 == l2 && memcmp (e1, e2, l1) == 0);
  pod_state_done (&q);
  free (e1);
  free (e2);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct podshim_error *err = NULL;
  if (state_format_text ((const char *)data, size, 1, &err) < 0)
    {
      CHECK (size > 0 && data[0] == '{');
      CHECK (podshim_error_is (err, STATE_FORMAT_NEWER) && strstr (err->msg, "format version"));
      podshim_error_free (err);
      err = NULL;
    }
  else
    CHECK (err == NULL);

  struct pod_state p = { 0 };
  if (pod_state_parse ((const char *)data, size, &p, &err) < 0)
    {
      CHECK (err && err->msg && err->msg[0]);
      /* Refused as newer: it says so. */
      CHECK (!podshim_error_is (err, STATE_FORMAT_NEWER) || strstr (err->msg, "newer than 1"));
      CHECK (p.name == NULL && p.members == NULL && p.raw == NULL);
      podshim_error_free (err);
      return 0;
    }
  /* Only the version this podshim reads. */
  yajl_val v = json_get (p.raw, "version");
  CHECK (v && v->type == yajl_t_number && strtoull (v->u.number.r, NULL, 10) == 1);
  CHECK (pod_name_valid (p.name));
  CHECK (p.scope == NULL || pod_scope_valid (p.scope));
  for (size_t i = 0; i < p.n_members; i++)
    CHECK (container_id_valid (p.members[i].id) && p.members[i].pid >= 0);
  check_roundtrip (&p);

  /* What a create and a prune do to it. */
  struct pod_member *m = pod_state_add (&p, "fuzz-new");
  m->pid = 4242;
  m->start = UINT64_MAX;
  m->creating = true;
  m->share = POD_NS_NET | POD_NS_PID;
  check_roundtrip (&p);
  if (p.n_members > 1)
    {
      char *id = strdup (p.members[0].id);
      CHECK (id != NULL);
      pod_state_remove (&p, id);
      CHECK (pod_state_find (&p, id) == NULL);
      free (id);
    }
  p.pause_pid = 0;
  p.pinned = POD_NS_DEFAULT;
  free (p.network_owner);
  p.network_owner = NULL;
  check_roundtrip (&p);
  pod_state_done (&p);
  return 0;
}

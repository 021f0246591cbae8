/* The config.json rewrite, and who brings the pod its network. Input: 4 plan
 * bytes, then the document.
 *   byte 0: share mask (low 4 bits: net, ipc, uts, pid)
 *   byte 1: bit 0 keeps the network hook, bit 1 adopts the member's own
 *           network namespace; for the ownership decision: bits 2-3 the
 *           daemon's default bridge (0 none, 1 there, else unknown), bit 4 the
 *           pod has an owner, bit 5 it is fresh
 *   byte 2: number of volumes (mod 3); bits 4-6 Docker's NetworkMode
 *   byte 3: which volumes
 * Checks: the decision is one the rules allow; the rewrite fails cleanly or
 * its output parses, re-emits to the same text, carries out the plan, and
 * joining again changes nothing. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "netowner.h"
#include "spec.h"

#include "fuzz.h"

static const char *const ns_paths[POD_NS_COUNT] = {
  "/run/podshim/k/pods/p/ns/net",
  "/run/podshim/k/pods/p/ns/ipc",
  "/run/podshim/k/pods/p/ns/uts",
  "/run/podshim/k/pods/p/ns/pid",
};

/* Includes paths a spec may already mount, in odd spellings. */
static const struct join_volume volume_table[8] = {
  { "/data", "/run/podshim/k/pods/p/volumes/-data" },
  { "/var/cache/nginx", "/run/podshim/k/pods/p/volumes/-var-cache-nginx" },
  { "/proc", "/run/podshim/k/pods/p/volumes/-proc" },
  { "/etc/hostname", "/run/podshim/k/pods/p/volumes/-etc-hostname" },
  { "/tmp", "/run/podshim/k/pods/p/volumes/-tmp" },
  { "/dev/shm", "/run/podshim/k/pods/p/volumes/-dev-shm" },
  { "/a", "/run/podshim/k/pods/p/volumes/-a" },
  { "/x y", "/run/podshim/k/pods/p/volumes/-x\\x20y" },
};

static char *
emit_or_die (yajl_val v, size_t *len)
{
  struct podshim_error *err = NULL;
  char *out = NULL;
  if (json_emit (v, &out, len, &err) < 0)
    {
      fprintf (stderr, "emit failed: %s\n", err->msg);
      abort ();
    }
  return out;
}

static yajl_val
parse_or_die (const char *buf, size_t len)
{
  struct podshim_error *err = NULL;
  yajl_val v = NULL;
  if (json_parse (buf, len, "emitted config.json", &v, &err) < 0)
    {
      fprintf (stderr, "re-parse failed: %s\n", err->msg);
      abort ();
    }
  return v;
}

/* The plan was carried out on the rewritten spec. */
static void
check_plan (yajl_val spec, const struct join_plan *plan)
{
  yajl_val lx = json_get_object (spec, "linux");
  CHECK (lx != NULL);
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    {
      if (!(plan->share & bit))
        continue;
      yajl_val nss = json_get_array (lx, "namespaces");
      CHECK (nss != NULL);
      size_t found = 0;
      bool adopted = bit == POD_NS_NET && plan->adopt_network;
      for (size_t i = 0; i < nss->u.array.len; i++)
        {
          const char *t = json_get_string (nss->u.array.values[i], "type");
          if (t && strcmp (t, pod_ns_oci_type (bit)) == 0)
            {
              found++;
              const char *p = json_get_string (nss->u.array.values[i], "path");
              /* Adopted: the member's own path stays. */
              CHECK (
                  p
                  && (adopted ? p[0] != '\0' : strcmp (p, plan->ns_path[pod_ns_index (bit)]) == 0));
            }
        }
      CHECK (found == 1);
    }
  if (plan->share & POD_NS_UTS)
    CHECK (json_get (spec, "hostname") == NULL && json_get (spec, "domainname") == NULL);
  yajl_val sysctl = json_get_object (lx, "sysctl");
  for (size_t i = 0; sysctl && i < sysctl->u.object.len; i++)
    CHECK (!sysctl_in_namespaces (sysctl->u.object.keys[i], plan->share));
  if ((plan->share & POD_NS_NET) && !plan->keep_network_hook)
    CHECK (!spec_has_network_hook (spec));
  yajl_val mounts = json_get_array (spec, "mounts");
  for (size_t v = 0; v < plan->n_volumes; v++)
    {
      bool found = false;
      for (size_t i = 0; mounts && i < mounts->u.array.len && !found; i++)
        {
          yajl_val m = mounts->u.array.values[i];
          const char *d = json_get_string (m, "destination");
          const char *s = json_get_string (m, "source");
          found = d && s && strcmp (d, plan->volumes[v].destination) == 0
                  && strcmp (s, plan->volumes[v].source) == 0;
        }
      CHECK (found);
    }
}

static const char *const modes[8] = {
  NULL, "default", "bridge", "none", "host", "podnet", "container:0123abcd", "",
};

/* The ownership decision for spec under the facts the bytes give. */
static void
check_decision (yajl_val spec, uint8_t b1, uint8_t b2)
{
  struct net_engine e = NET_ENGINE_INIT;
  yajl_val labels = json_new_object ();
  netowner_facts_from (spec, modes[(b2 >> 4) & 7], (b2 & 0x80) ? labels : NULL, &e);
  e.bridge = ((b1 >> 2) & 3) == 0 ? 0 : ((b1 >> 2) & 3) == 1 ? 1 : -1;
  const char *owner = (b1 & 0x10) ? "0123456789abcdef" : NULL;
  bool fresh = (b1 & 0x20) != 0;
  enum net_plumb p = netowner_plumb (spec, &e);
  CHECK (p == NET_PLUMB_NONE || p == NET_PLUMB_HOOK || p == NET_PLUMB_AFTER_CREATE
         || p == NET_PLUMB_ENGINE_NETNS);
  /* The default network of a daemon without its bridge brings nothing. */
  if (e.default_bridge && e.bridge == 0)
    CHECK (p != NET_PLUMB_AFTER_CREATE);
  if (p == NET_PLUMB_ENGINE_NETNS)
    CHECK (spec_network_path (spec) != NULL && e.docker_mode == NULL);
  enum net_role role = NET_ROLE_JOIN;
  struct podshim_error *err = NULL;
  if (netowner_decide (p, &e, "web", owner, fresh, spec_network_path (spec), &role, &err) < 0)
    {
      CHECK (err && strstr (err->msg, "pod `web`") != NULL);
      CHECK (p == NET_PLUMB_ENGINE_NETNS || (p == NET_PLUMB_AFTER_CREATE && owner));
      podshim_error_free (err);
    }
  else
    {
      CHECK (err == NULL);
      CHECK (p != NET_PLUMB_NONE || role == NET_ROLE_JOIN);
      CHECK (role != NET_ROLE_ADOPT || (p == NET_PLUMB_ENGINE_NETNS && fresh && owner == NULL));
      CHECK (role != NET_ROLE_OWN || owner == NULL);
    }
  net_engine_free (&e);
  yajl_tree_free (labels);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 4)
    return 0;
  struct join_volume vols[2];
  struct join_plan plan = { .share = data[0] & 0xf,
                            .keep_network_hook = data[1] & 1,
                            .adopt_network = (data[1] & 2) != 0 };
  memcpy (plan.ns_path, ns_paths, sizeof (ns_paths));
  size_t nv = data[2] % 3;
  for (size_t i = 0; i < nv; i++)
    vols[i] = volume_table[(data[3] >> (3 * i)) & 7];
  if (nv == 2 && strcmp (vols[0].destination, vols[1].destination) == 0)
    nv = 1; /* pod_volumes_parse never gives duplicates */
  plan.volumes = vols;
  plan.n_volumes = nv;
  const char *doc = (const char *)data + 4;
  size_t len = size - 4;

  struct podshim_error *err = NULL;
  yajl_val spec = NULL;
  if (json_parse (doc, len, "config.json", &spec, &err) < 0)
    {
      CHECK (err && err->msg && err->msg[0]);
      podshim_error_free (err);
      return 0;
    }
  /* The JSON layer alone: emit, parse, emit gives the same text. */
  size_t l0, l1;
  char *e0 = emit_or_die (spec, &l0);
  yajl_val reparsed = parse_or_die (e0, l0);
  char *e1 = emit_or_die (reparsed, &l1);
  CHECK (l0 == l1 && memcmp (e0, e1, l0) == 0);
  yajl_tree_free (reparsed);
  free (e1);
  free (e0);

  (void)spec_has_network_hook (spec);
  check_decision (spec, data[1], data[2]);
  /* The member's own user namespace: one with valid mappings joins the
     pod's (and keeps them); the rest are refused before the join. */
  struct pod_userns *uns = calloc (1, sizeof (*uns));
  int ur = spec_userns (spec, uns, &err);
  if (ur < 0)
    {
      CHECK (err && err->msg && err->msg[0]);
      podshim_error_free (err);
      err = NULL;
    }
  else
    CHECK (err == NULL && uns->on == (ur == 1));
  if (ur == 1)
    plan.userns_path = "/proc/4242/fd/17";
  size_t dropped = 0;
  if (spec_join_pod (spec, &plan, &dropped, &err) < 0)
    {
      CHECK (err && err->msg && err->msg[0]);
      podshim_error_free (err);
      yajl_tree_free (spec);
      free (uns);
      return 0;
    }
  CHECK (err == NULL);
  size_t len1;
  char *out1 = emit_or_die (spec, &len1);
  yajl_val back = parse_or_die (out1, len1);
  check_plan (back, &plan);
  if (ur == 1)
    {
      /* Joined by path, its mappings intact. */
      struct pod_userns *again = calloc (1, sizeof (*again));
      CHECK (spec_userns (back, again, &err) == 1);
      CHECK (idmap_equal (&again->uid, &uns->uid) && idmap_equal (&again->gid, &uns->gid));
      free (again);
    }
  size_t len2;
  char *out2 = emit_or_die (back, &len2);
  CHECK (len1 == len2 && memcmp (out1, out2, len1) == 0);

  /* Joining again (volumes now mounted) is a no-op. */
  plan.n_volumes = 0;
  size_t dropped2 = 1;
  CHECK (spec_join_pod (back, &plan, &dropped2, &err) == 0);
  CHECK (dropped2 == 0);
  size_t len3;
  char *out3 = emit_or_die (back, &len3);
  CHECK (len1 == len3 && memcmp (out1, out3, len1) == 0);

  free (out3);
  free (out2);
  free (out1);
  yajl_tree_free (back);
  yajl_tree_free (spec);
  free (uns);
  return 0;
}

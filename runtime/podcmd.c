#include "config.h"
#include "podcmd.h"
#include "record.h"
#include "lifecycle.h"
#include "fsutil.h"
#include "procutil.h"
#include "statedir.h"
#include "stateformat.h"
#include "table.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

typedef int (*pod_visit_fn) (struct shim_ctx *ctx, const char *root, int rootfd, int podsfd,
                             const char *name, void *data, struct podshim_error **err);
typedef int (*root_visit_fn) (struct shim_ctx *ctx, int statefd, const char *key, int rootfd,
                              const char *root, void *data, struct podshim_error **err);

/* Calls fn for every <state>/<rootkey> directory that records its root; one
 * a newer podshim made is left alone (and named on diag, if not NULL). */
static int
for_each_root (struct shim_ctx *ctx, FILE *diag, root_visit_fn fn, void *data,
               struct podshim_error **err)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int sfd = statedir_open (ctx->state_dir, false, &e);
  if (sfd < 0 && podshim_error_is (e, ENOENT))
    return 0;
  if (sfd < 0)
    {
      *err = steal_pointer (&e);
      return -1;
    }
  int dfd = dup (sfd);
  cleanup_dir DIR *d = dfd >= 0 ? fdopendir (dfd) : NULL;
  if (d == NULL)
    return podshim_error_set (err, errno, "cannot list `%s`", ctx->state_dir);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (!statedir_rootkey_valid (de->d_name))
        continue;
      cleanup_error struct podshim_error *re = NULL;
      cleanup_close int rootfd = open_dir_at (sfd, de->d_name, &re);
      if (rootfd < 0 && podshim_error_is (re, ENOENT))
        continue;
      if (rootfd < 0)
        {
          *err = steal_pointer (&re);
          return -1;
        }
      cleanup_free char *root = NULL;
      if (statedir_root_read (rootfd, &root, &re) < 0)
        {
          if (diag && podshim_error_is (re, STATE_FORMAT_NEWER))
            fprintf (diag, "podshim: %s (skipped)\n", re->msg);
          continue;
        }
      if (fn (ctx, sfd, de->d_name, rootfd, root, data, err) < 0)
        return -1;
    }
  return 0;
}

struct pods_visit
{
  bool with_locks;
  pod_visit_fn fn;
  void *data;
};

static int
pods_of_root (struct shim_ctx *ctx, int statefd, const char *key, int rootfd, const char *root,
              void *data, struct podshim_error **err)
{
  struct pods_visit *pv = data;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int podsfd = statedir_open_sub (rootfd, STATEDIR_PODS, false, &e);
  if (podsfd < 0 && podshim_error_is (e, ENOENT))
    return 0;
  if (podsfd < 0)
    {
      *err = steal_pointer (&e);
      return -1;
    }
  int pdfd = dup (podsfd);
  cleanup_dir DIR *pd = pdfd >= 0 ? fdopendir (pdfd) : NULL;
  if (pd == NULL)
    return podshim_error_set (err, errno, "cannot list pods");
  struct dirent *pe;
  while ((pe = readdir (pd)) != NULL)
    {
      if (pe->d_type != DT_DIR && pe->d_type != DT_UNKNOWN)
        continue; /* only directories are pods */
      if (!pod_key_valid (pe->d_name))
        continue;
      if (pv->fn (ctx, root, rootfd, podsfd, pe->d_name, pv->data, err) < 0)
        return -1;
    }
  if (!pv->with_locks)
    return 0;
  /* A lone lock names a pod too: gc removes it. */
  cleanup_close int locksfd = statedir_open_sub (rootfd, STATEDIR_LOCKS, false, NULL);
  int ldfd = locksfd >= 0 ? dup (locksfd) : -1;
  cleanup_dir DIR *ld = ldfd >= 0 ? fdopendir (ldfd) : NULL;
  while (ld && (pe = readdir (ld)) != NULL)
    {
      char name[POD_KEY_MAX + 1];
      if (!statedir_lock_key (pe->d_name, name)
          || faccessat (podsfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        continue; /* visited through its directory */
      if (pv->fn (ctx, root, rootfd, podsfd, name, pv->data, err) < 0)
        return -1;
    }
  return 0;
}

/* Calls fn for every pod of every root. with_locks: also for lone lock files. */
static int
for_each_pod (struct shim_ctx *ctx, FILE *diag, bool with_locks, pod_visit_fn fn, void *data,
              struct podshim_error **err)
{
  struct pods_visit pv = { with_locks, fn, data };
  return for_each_root (ctx, diag, pods_of_root, &pv, err);
}

struct list_data
{
  FILE *out;
  FILE *diag;
  yajl_gen g;
  struct table table; /* the table's rows, printed once all are known */
  const char *only;   /* inspect: pods of this name, or this key */
  bool json;
  bool full;
  int found;
};

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *)s, strlen (s));
}

static void
gen_ns_list (yajl_gen g, unsigned mask)
{
  yajl_gen_array_open (g);
  for (unsigned b = 1; b < (1u << POD_NS_COUNT); b <<= 1)
    if (mask & b)
      gen_str (g, pod_ns_name (b));
  yajl_gen_array_close (g);
}

/* What `pod list` says of a member: "running" while its init lives,
 * "creating" while the podshim creating it lives, else "gone" (its process
 * exited or was killed; the record stays until the member is deleted). */
static const char *
member_state (const struct pod_member *m)
{
  if (m->creating)
    return m->pid > 0 && proc_is_alive (m->pid, m->start) ? "creating" : "gone";
  return m->pid > 0 && proc_is_alive (m->pid, m->start) ? "running" : "gone";
}

static void
gen_companion (yajl_gen g, const struct pod_member *m)
{
  const char *of = json_get_string (m->raw, "companion_of");
  if (of == NULL)
    return;
  gen_str (g, "companion_of");
  gen_str (g, of);
  gen_str (g, "companion");
  const char *n = json_get_string (m->raw, "companion");
  gen_str (g, n ? n : "");
}

/* "companions": every companion the pod's anchors declare (their records),
 * with the member that is it and its state, "missing" when none is,
 * "ignored" when the anchor's start left it out (its image's label). */
static void
gen_companions (yajl_gen g, int rootfd, const struct pod_state *pod)
{
  gen_str (g, "companions");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < pod->n_members; i++)
    {
      const struct pod_member *a = &pod->members[i];
      cleanup_container_record struct container_record rec = { 0 };
      cleanup_error struct podshim_error *e = NULL;
      cleanup_json yajl_val plan = NULL;
      if (container_record_load (rootfd, a->id, &rec, &e) < 0 || rec.companions == NULL
          || json_parse (rec.companions, strlen (rec.companions), "companions", &plan, &e) < 0
          || plan->type != yajl_t_array)
        continue;
      for (size_t j = 0; j < plan->u.array.len; j++)
        {
          const char *name = json_get_string (plan->u.array.values[j], "name");
          const char *cont = json_get_string (plan->u.array.values[j], "container");
          if (name == NULL || cont == NULL)
            continue;
          yajl_val ign = json_get (plan->u.array.values[j], "ignored");
          bool ignored = ign && ign->type == yajl_t_true;
          const struct pod_member *c = NULL;
          for (size_t k = 0; k < pod->n_members && c == NULL; k++)
            {
              const char *of = json_get_string (pod->members[k].raw, "companion_of");
              const char *cn = json_get_string (pod->members[k].raw, "companion");
              if (of && cn && strcmp (of, a->id) == 0 && strcmp (cn, name) == 0)
                c = &pod->members[k];
            }
          yajl_gen_map_open (g);
          gen_str (g, "name");
          gen_str (g, name);
          gen_str (g, "container");
          gen_str (g, cont);
          gen_str (g, "anchor");
          gen_str (g, a->id);
          gen_str (g, "id");
          if (c)
            gen_str (g, c->id);
          else
            yajl_gen_null (g);
          gen_str (g, "state");
          gen_str (g, c ? member_state (c) : ignored ? "ignored" : "missing");
          yajl_gen_map_close (g);
        }
    }
  yajl_gen_array_close (g);
}

static int
list_visit (struct shim_ctx *ctx, const char *root, int rootfd, int podsfd, const char *name,
            void *data, struct podshim_error **err)
{
  struct list_data *ld = data;
  cleanup_free char *scope = NULL, *pname = NULL;
  if (pod_key_parse (name, &scope, &pname) < 0)
    return 0;
  if (ld->only && strcmp (ld->only, name) != 0 && strcmp (ld->only, pname) != 0)
    return 0;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int poddir = open_dir_at (podsfd, name, &e);
  cleanup_pod_state struct pod_state pod = { 0 };
  if (poddir < 0 || pod_state_load (poddir, name, &pod, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0; /* gone meanwhile, or not saved yet */
      if (ld->only)
        {
          *err = steal_pointer (&e);
          return -1;
        }
      /* One unreadable pod does not hide the others from `pod list`. */
      fprintf (ld->diag, "podshim: %s\n", e->msg);
      return 0;
    }
  ld->found++;
  unsigned shared = 0;
  for (size_t i = 0; i < pod.n_members; i++)
    shared |= pod.members[i].share;
  bool pause_alive = pod.pause_pid > 0 && proc_is_alive (pod.pause_pid, pod.pause_start);
  bool holder_alive = pod.holder_pid > 0 && proc_is_alive (pod.holder_pid, pod.holder_start);
  if (!ld->json)
    {
      char sh[32] = "";
      for (unsigned b = 1; b < (1u << POD_NS_COUNT); b <<= 1)
        if (shared & b)
          {
            if (sh[0])
              strcat (sh, ",");
            strcat (sh, pod_ns_name (b));
          }
      char holder[16], pause[16];
      snprintf (holder, sizeof (holder), "%d", holder_alive ? (int)pod.holder_pid : 0);
      snprintf (pause, sizeof (pause), "%d", pause_alive ? (int)pod.pause_pid : 0);
      cleanup_free char *members = NULL;
      size_t mlen = 0;
      FILE *mf = open_memstream (&members, &mlen);
      if (mf == NULL)
        abort ();
      for (size_t i = 0; i < pod.n_members; i++)
        {
          const char *st = member_state (&pod.members[i]);
          bool running = strcmp (st, "running") == 0;
          fprintf (mf, "%s%.12s%s%s%s", i ? "," : "", pod.members[i].id, running ? "" : "(",
                   running ? "" : st, running ? "" : ")");
        }
      fclose (mf);
      const char *row[] = { pname, scope, root, sh[0] ? sh : NULL, holder, pause, members };
      table_add (&ld->table, row);
      return 0;
    }
  yajl_gen g = ld->g;
  yajl_gen_map_open (g);
  gen_str (g, "name");
  gen_str (g, pname);
  gen_str (g, "scope");
  if (scope)
    gen_str (g, scope);
  else
    yajl_gen_null (g);
  gen_str (g, "key");
  gen_str (g, name);
  gen_str (g, "root");
  gen_str (g, root);
  gen_str (g, "shared");
  gen_ns_list (g, shared);
  gen_str (g, "pinned");
  gen_ns_list (g, pod.pinned);
  gen_str (g, "pause_pid");
  yajl_gen_integer (g, pause_alive ? pod.pause_pid : 0);
  gen_str (g, "holder_pid");
  yajl_gen_integer (g, holder_alive ? pod.holder_pid : 0);
  if (pod.network_owner)
    {
      gen_str (g, "network_owner");
      gen_str (g, pod.network_owner);
    }
  if (pod.userns.on)
    {
      /* "0:100000:65536,...", as a refused member's message names them. */
      cleanup_free char *u = idmap_describe (&pod.userns.uid);
      cleanup_free char *gm = idmap_describe (&pod.userns.gid);
      gen_str (g, "uid_map");
      gen_str (g, u);
      gen_str (g, "gid_map");
      gen_str (g, gm);
    }
  gen_str (g, "members");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < pod.n_members; i++)
    gen_str (g, pod.members[i].id);
  yajl_gen_array_close (g);
  gen_str (g, "member_states");
  yajl_gen_map_open (g);
  for (size_t i = 0; i < pod.n_members; i++)
    {
      gen_str (g, pod.members[i].id);
      gen_str (g, member_state (&pod.members[i]));
    }
  yajl_gen_map_close (g);
  gen_companions (g, rootfd, &pod);
  if (ld->full)
    {
      gen_str (g, "state_dir");
      char key[STATEDIR_ROOTKEY_LEN + 1];
      statedir_rootkey (root, key);
      cleanup_free char *pd = statedir_pod_path (ctx->state_dir, key, name, NULL);
      gen_str (g, pd);
      cleanup_free char *data_dir = NULL;
      cleanup_error struct podshim_error *de = NULL;
      if (statedir_data_read (poddir, &data_dir, &de) == 0)
        {
          gen_str (g, "data_dir");
          gen_str (g, data_dir);
        }
      gen_str (g, "member_details");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < pod.n_members; i++)
        {
          const struct pod_member *m = &pod.members[i];
          yajl_gen_map_open (g);
          gen_str (g, "id");
          gen_str (g, m->id);
          gen_str (g, "pid");
          yajl_gen_integer (g, m->pid);
          gen_str (g, "creating");
          yajl_gen_bool (g, m->creating);
          gen_str (g, "alive");
          yajl_gen_bool (g, m->pid > 0 ? proc_is_alive (m->pid, m->start) : true);
          gen_str (g, "state");
          gen_str (g, member_state (m));
          const char *svc = json_get_string (m->raw, "swarm_service_name");
          if (svc)
            {
              gen_str (g, "swarm_service");
              gen_str (g, svc);
            }
          gen_companion (g, m);
          gen_str (g, "share");
          gen_ns_list (g, m->share);
          yajl_gen_map_close (g);
        }
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
  return 0;
}

static void
print_gen (FILE *out, yajl_gen g)
{
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  fwrite (buf, 1, len, out);
  fputc ('\n', out);
}

static int
pod_list (struct shim_ctx *ctx, FILE *out, FILE *diag, bool json, const char *only,
          struct podshim_error **err)
{
  struct list_data ld
      = { .out = out, .diag = diag, .json = json, .only = only, .full = only != NULL };
  if (json)
    {
      ld.g = yajl_gen_alloc (NULL);
      if (ld.g == NULL)
        abort ();
      yajl_gen_config (ld.g, yajl_gen_beautify, 1);
      yajl_gen_array_open (ld.g);
    }
  else
    {
      static const char *const header[]
          = { "POD", "SCOPE", "ROOT", "SHARED", "HOLDER", "PAUSE", "MEMBERS" };
      table_init (&ld.table, 7);
      table_add (&ld.table, header);
    }
  int r = for_each_pod (ctx, diag, false, list_visit, &ld, err);
  if (json)
    {
      yajl_gen_array_close (ld.g);
      if (r == 0)
        print_gen (out, ld.g);
      yajl_gen_free (ld.g);
    }
  else
    {
      if (r == 0)
        table_print (&ld.table, out);
      table_free (&ld.table);
    }
  if (r < 0)
    return -1;
  if (only && ld.found == 0)
    return podshim_error_set (err, 0, "no pod named `%s`", only);
  return 0;
}

static int
gc_pod (const char *root, int rootfd, int podsfd, const char *name, int *count,
        struct podshim_error **err)
{
  /* The same lock as create and delete take. */
  cleanup_close int locksfd = statedir_open_sub (rootfd, STATEDIR_LOCKS, true, err);
  if (locksfd < 0)
    return -1;
  cleanup_close int lockfd = statedir_lock_pod (locksfd, name, err);
  if (lockfd < 0)
    return -1;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int poddir = open_dir_at (podsfd, name, &e);
  if (poddir < 0 && podshim_error_is (e, ENOENT))
    {
      /* A lock without a pod: a leftover. */
      statedir_unlink_lock (locksfd, name);
      return 0;
    }
  if (poddir < 0)
    {
      *err = steal_pointer (&e);
      return -1;
    }
  cleanup_pod_state struct pod_state pod = { 0 };
  if (pod_state_load (poddir, name, &pod, &e) < 0)
    {
      if (!podshim_error_is (e, ENOENT))
        {
          *err = steal_pointer (&e);
          return -1;
        }
      /* Killed before its first save: nothing can be a member. */
      if (pod_key_parse (name, &pod.scope, &pod.name) < 0)
        return podshim_error_set (err, 0, "invalid pod key `%s`", name);
    }
  bool gone;
  if (pod_prune_locked (rootfd, podsfd, poddir, root, &pod, POD_PRUNE_TEARDOWN, false, &gone, err)
      < 0)
    return -1;
  if (gone)
    (*count)++;
  return 0;
}

struct gc_data
{
  FILE *diag;
  int removed;
};

static int
gc_visit (struct shim_ctx *ctx, const char *root, int rootfd, int podsfd, const char *name,
          void *data, struct podshim_error **err)
{
  struct gc_data *gd = data;
  cleanup_error struct podshim_error *e = NULL;
  if (gc_pod (root, rootfd, podsfd, name, &gd->removed, &e) < 0)
    /* One bad pod does not keep gc from the others. */
    fprintf (gd->diag, "podshim: pod `%s`: %s (skipped)\n", name, e->msg);
  return 0;
}

/* Drops containers/<id> entries whose pod no longer lists them, and a root
 * directory left with nothing in it. */
static int
gc_root (struct shim_ctx *ctx, int statefd, const char *key, int rootfd, const char *root,
         void *data, struct podshim_error **err)
{
  record_gc (ctx, rootfd, root);
  cleanup_close int cfd = statedir_open_sub (rootfd, STATEDIR_CONTAINERS, false, NULL);
  cleanup_close int podsfd = statedir_open_sub (rootfd, STATEDIR_PODS, false, NULL);
  int cdfd = cfd >= 0 ? dup (cfd) : -1;
  cleanup_dir DIR *cd = cdfd >= 0 ? fdopendir (cdfd) : NULL;
  struct dirent *ce;
  while (cd && (ce = readdir (cd)) != NULL)
    {
      /* Dot files are the temporary files of atomic writes in progress. */
      if (ce->d_name[0] == '.' || !container_id_valid (ce->d_name))
        continue;
      cleanup_free char *pod = NULL;
      cleanup_error struct podshim_error *e = NULL;
      if (statedir_index_read (rootfd, ce->d_name, &pod, &e) < 0 || pod == NULL)
        continue;
      /* Under the pod's lock, as create and delete write the index. */
      cleanup_close int locksfd = -1, lockfd = -1;
      if (podsfd >= 0 && faccessat (podsfd, pod, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        {
          locksfd = statedir_open_sub (rootfd, STATEDIR_LOCKS, false, NULL);
          lockfd = locksfd >= 0 ? statedir_lock_pod (locksfd, pod, &e) : -1;
          if (lockfd < 0)
            continue;
        }
      cleanup_close int poddir = podsfd >= 0 ? open_dir_at (podsfd, pod, NULL) : -1;
      cleanup_pod_state struct pod_state st = { 0 };
      if (poddir >= 0 && pod_state_load (poddir, pod, &st, &e) == 0
          && pod_state_find (&st, ce->d_name))
        continue;
      if (lockfd >= 0 && poddir == -ENOENT)
        {
          /* Torn down while we waited: the lock we made is a leftover. */
          statedir_unlink_lock (locksfd, pod);
        }
      if (e == NULL || podshim_error_is (e, ENOENT))
        (void)unlinkat (cfd, ce->d_name, 0);
    }
  /* Nothing is removed while a create or delete holds the state dir
     (shared): it may be about to make its pod here. */
  statedir_remove_root_if_empty (statefd, key, rootfd);
  return 0;
}

static const char usage[] = "usage: podshim pod list [--format json|table]\n"
                            "       podshim pod inspect NAME|SCOPE:NAME\n"
                            "       podshim pod gc\n";

static const char help[]
    = "Usage: podshim [PODSHIM OPTIONS] pod COMMAND\n"
      "\n"
      "The pods of podshim's state directory (--podshim-state, PODSHIM_STATE, "
      "default " STATEDIR_DEFAULT "):\n"
      "\n"
      "  list [--format table|json]  every pod: name, scope, the runtime root it belongs to,\n"
      "                              shared namespaces, holder and pause PIDs, members\n"
      "                              (`ls` works too; JSON adds states and companions)\n"
      "  inspect NAME|SCOPE:NAME     the pods of that name in any scope, or that one pod\n"
      "                              (e.g. compose:shop:web), in JSON with each member\n"
      "  gc                          prune dead members, tear down empty pods, remove\n"
      "                              leftover locks and records\n"
      "  help                        this help (also --help, -h)\n";

static bool
is_help (const char *a)
{
  return strcmp (a, "help") == 0 || strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0;
}

int
podcmd_main (struct shim_ctx *ctx, int argc, char **argv, FILE *out, FILE *diag,
             struct podshim_error **err)
{
  if (argc < 1)
    {
      fputs (usage, diag);
      return 2;
    }
  const char *sub = argv[0];
  for (int i = 0; i < argc; i++)
    if (is_help (argv[i]) && (i == 0 || strcmp (argv[i], "help") != 0))
      {
        fputs (help, out);
        return 0;
      }
  if (strcmp (sub, "list") == 0 || strcmp (sub, "ls") == 0)
    {
      bool json = false;
      for (int i = 1; i < argc; i++)
        {
          const char *f = NULL;
          if (strcmp (argv[i], "--format") == 0 && i + 1 < argc)
            f = argv[++i];
          else if (strncmp (argv[i], "--format=", 9) == 0)
            f = argv[i] + 9;
          else if (strcmp (argv[i], "--json") == 0)
            f = "json";
          if (f == NULL || (strcmp (f, "json") != 0 && strcmp (f, "table") != 0))
            return podshim_error_set (err, 0, "pod list: unknown option `%s`", argv[i]);
          json = strcmp (f, "json") == 0;
        }
      return pod_list (ctx, out, diag, json, NULL, err) < 0 ? -1 : 0;
    }
  if (strcmp (sub, "inspect") == 0)
    {
      if (argc != 2)
        return podshim_error_set (err, 0, "pod inspect needs exactly one pod name");
      if (!pod_key_valid (argv[1]))
        return podshim_error_set (err, 0, "invalid pod name `%.200s`", argv[1]);
      return pod_list (ctx, out, diag, true, argv[1], err) < 0 ? -1 : 0;
    }
  if (strcmp (sub, "gc") == 0)
    {
      struct gc_data gd = { .diag = diag };
      if (for_each_pod (ctx, diag, true, gc_visit, &gd, err) < 0
          || for_each_root (ctx, NULL, gc_root, NULL, err) < 0)
        return -1;
      fprintf (out, "removed %d pod(s)\n", gd.removed);
      return 0;
    }
  fputs (usage, diag);
  return podshim_error_set (err, 0, "unknown pod command `%s`", sub);
}

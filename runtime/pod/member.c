#include "config.h"
#include "member.h"
#include "companion_run.h"
#include "delegate.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "lifecycle.h"
#include "log.h"
#include "netowner.h"
#include "podcfg.h"
#include "procutil.h"
#include "record.h"
#include "sandbox.h"
#include "spec.h"
#include "podshm.h"
#include "pausewire.h"
#include "statedir.h"
#include "stateformat.h"
#include "volumes.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX (64 * 1024 * 1024)
/* Each Docker API call that decides a member's network, while dockerd waits;
 * the first one (a daemon that accepts and does not answer: restoring its
 * containers at boot) gets the short one. */
#define NETOWNER_API_TIMEOUT_MS (3 * 1000)
#define NETOWNER_API_PROBE_MS 1000

struct join_result
{
  bool keep_network_hook;
  bool adopt_network; /* its engine-made network namespace became the pod's */
  bool recorded;      /* the member is in pod.json */
  bool net_files[2];  /* mount the pod's copy of net_files[i] */
  bool docker_host_network;
  int nsfd[POD_NS_COUNT];       /* the pod's namespaces this member joins, or -1 */
  char **new_volumes;           /* volume dirnames this create made (NULL-terminated) */
  struct sandbox_proc holder;   /* a holder this create started, "ready" still to read */
  bool shm;                     /* mount the pod's /dev/shm */
  int shm_fd;                   /* its clone to stage for the delegate, or -1: on the host */
  int userns_fd;                /* the pod's user namespace, for a member with its own, or -1 */
  struct sandbox_anchor anchor; /* a child of ours in it, for the member's config */
};

static void
join_result_close (struct join_result *r)
{
  for (size_t i = 0; i < POD_NS_COUNT; i++)
    cleanup_closep (&r->nsfd[i]);
  cleanup_closep (&r->shm_fd);
  cleanup_closep (&r->userns_fd);
  sandbox_anchor_stop (&r->anchor);
  cleanup_strvp (&r->new_volumes);
  sandbox_proc_close (&r->holder);
}
#define JOIN_RESULT_INIT                                                                           \
  {                                                                                                \
    .nsfd = { -1, -1, -1, -1 }, .holder = SANDBOX_PROC_INIT, .shm_fd = -1, .userns_fd = -1,        \
    .anchor = SANDBOX_ANCHOR_INIT                                                                  \
  }

/* Hands the holder this create started the pod's /dev/shm (a clone of the
 * one staged for the delegate). If that fails, the holder goes without, and
 * the pod's next member's create takes it from a live member (podshm_open). */
static void
holder_take_shm (const char *pod, struct join_result *res)
{
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int fd = podshm_clone (res->shm_fd, &e);
  if (fd < 0 || sandbox_send_shm (&res->holder, fd, &e) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: the holder has no /dev/shm: %s", pod,
                 e->msg);
}

/* The holder this create started has isolated itself by now, or it died
 * (then the pod's next call starts another): a warning. */
static void
holder_ready (const char *pod, struct join_result *res)
{
  if (res->holder.report_fd < 0)
    return;
  cleanup_free char *pause = sandbox_pause_path ();
  cleanup_error struct podshim_error *e = NULL;
  if (sandbox_ready (&res->holder, pause, &e) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: pod `%s`: the holder failed: %s", pod, e->msg);
}

void
member_start (struct shim_ctx *ctx)
{
  struct runc_cmdline *c = ctx->cmd;
  if (c->id == NULL || c->n_positional != 1 || !container_id_valid (c->id))
    return;
  cleanup_error struct podshim_error *err = NULL;
  cleanup_close int rootfd
      = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &err);
  if (rootfd < 0)
    return;
  cleanup_free char *name = NULL;
  if (statedir_index_read (rootfd, c->id, &name, &err) < 0 || name == NULL)
    return; /* not a member */
  cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
  cleanup_pod_state struct pod_state pod = { 0 };
  if (pod_open_locked (ctx, name, false, &h, &err) < 0
      || pod_state_load (h.poddir, name, &pod, &err) < 0 || pod.network_owner == NULL
      || strcmp (pod.network_owner, c->id) != 0)
    return;
  engine_refresh_net_files (h.poddir, name);
}

/* A member joining pod (not its first): with a user namespace of its own,
 * it needs the pod's, with the same mappings. One without (the host's, as
 * `--userns=host` has on a userns-remap daemon) may join a remapped pod: it
 * is root of the host and may enter what it owns. */
static int
userns_check (const char *key, const struct pod_state *pod, const struct pod_userns *uns,
              struct podshim_error **err)
{
  if (!uns->on)
    return 0;
  cleanup_free char *mu = idmap_describe (&uns->uid), *mg = idmap_describe (&uns->gid);
  if (!pod->userns.on)
    return podshim_error_set (
        err, 0,
        "pod `%s` has no user namespace (its first member had none): its namespaces belong to"
        " the host's, which a member with its own (uid map %s, gid map %s) cannot use. Give"
        " every member of a pod the same user namespace mode (one daemon's userns-remap)",
        key, mu, mg);
  if (idmap_equal (&pod->userns.uid, &uns->uid) && idmap_equal (&pod->userns.gid, &uns->gid))
    return 0;
  cleanup_free char *pu = idmap_describe (&pod->userns.uid),
                    *pg = idmap_describe (&pod->userns.gid);
  return podshim_error_set (err, 0,
                            "pod `%s` runs in a user namespace with uid map %s and gid map %s;"
                            " this member's are uid map %s and gid map %s: every member of a pod"
                            " needs the pod's mappings (containers of one userns-remap daemon)",
                            key, pu, pg, mu, mg);
}

/* With the pod locked: makes sure the sandbox (and pause, and volumes) exist
 * for this member and records it as creating. */
static int
join_locked (const struct shim_ctx *ctx, struct pod_handles *h, const char *key,
             const struct pod_request *req, yajl_val spec, enum net_plumb plumb,
             const struct net_engine *eng, const struct pod_userns *uns,
             const struct swarm_task *task, struct join_result *res, struct podshim_error **err)
{
  const char *id = ctx->cmd->id;
  cleanup_pod_state struct pod_state pod = { 0 };
  cleanup_error struct podshim_error *e = NULL;
  if (pod_state_load (h->poddir, key, &pod, &e) < 0)
    {
      if (!podshim_error_is (e, ENOENT))
        {
          *err = steal_pointer (&e);
          return -1;
        }
      pod.name = strdup (req->name);
      pod.scope = req->scope ? strdup (req->scope) : NULL;
      pod.root = strdup (ctx->root);
      if (pod.name == NULL || pod.root == NULL || (req->scope && pod.scope == NULL))
        abort ();
    }
  else
    {
      /* Without tearing down: a stale sandbox whose members all died is
         rebuilt below. */
      bool gone;
      if (pod_prune_locked (h->rootfd, h->podsfd, h->poddir, ctx->root, &pod, POD_PRUNE_KEEP, false,
                            &gone, err)
          < 0)
        return -1;
      if (pod_state_find (&pod, id))
        return podshim_error_set (err, 0, "container `%s` is already a member of pod `%s`", id,
                                  key);
      if (swarm_guard (key, &pod, task, err) < 0)
        return -1;
    }
  if (task && task->companion_of
      && companion_pod_check (key, &pod, task->companion_of, task->companion_max, task->config, err)
             < 0)
    return -1;

  bool first = pod.n_members == 0;
  /* The first member's user namespace is the pod's (its sandbox is new). */
  if (first)
    pod.userns = *uns;
  else if (userns_check (key, &pod, uns, err) < 0)
    return -1;
  if ((req->share & POD_NS_PID) && pod.userns.on
      && (idmap_outer (&pod.userns.uid, PAUSE_UID) < 0
          || idmap_outer (&pod.userns.gid, PAUSE_GID) < 0))
    return podshim_error_set (err, 0,
                              "pod `%s` shares PIDs: its pause runs as uid and gid %d of the pod's"
                              " user namespace, which its mappings leave unmapped (map IDs 0-65535,"
                              " as userns-remap does)",
                              key, PAUSE_UID);
  /* Who brings the pod its network. Refused before the engine plumbs
     anything: a hook-less dockerd would move a second interface into the
     pod's namespace after create, as eth0 again (it fails there and the veth
     stays); podman has plumbed a namespace of its own. */
  enum net_role role = NET_ROLE_JOIN;
  const char *own_path = spec_network_path (spec);
  if ((req->share & POD_NS_NET)
      && netowner_decide (plumb, eng, key, pod.network_owner, first, own_path, &role, err) < 0)
    return -1;
  /* An engine-made namespace the pod adopts: its holder joins it. */
  cleanup_close int adopt_fd
      = role == NET_ROLE_ADOPT ? sandbox_open_ns_path (own_path, POD_NS_NET, err) : -1;
  if (role == NET_ROLE_ADOPT && adopt_fd < 0)
    return podshim_error_wrap (err, "pod `%s`", req->name);

  /* A shared IPC namespace needs a shared /dev/shm for POSIX shared memory.
     A new pod's holder takes it from us (sandbox_send_shm) while the
     delegate works: nobody waits for the holder. */
  unsigned long long shm_size = (req->share & POD_NS_IPC) ? spec_shm_size (spec) : 0;
  if (pod_ensure_holder_locked (h->rootfd, h->poddir, &pod, adopt_fd, first ? &res->holder : NULL,
                                first && shm_size, err)
      < 0)
    return podshim_error_wrap (err, "pod `%s`", req->name);
  if ((req->share & POD_NS_PID) && pod_ensure_pause_locked (h->rootfd, h->poddir, &pod, err) < 0)
    return podshim_error_wrap (err, "pod `%s`", req->name);
  /* Held open until the delegate has joined them: a PID reused meanwhile
     cannot redirect the member. */
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    if (req->share & bit)
      {
        bool pid = bit == POD_NS_PID;
        int fd = sandbox_open_ns (pid ? pod.pause_pid : pod.holder_pid,
                                  pid ? pod.pause_start : pod.holder_start, bit, err);
        if (fd == -ESRCH)
          return podshim_error_set (err, ESRCH, "pod `%s`: its %s died", req->name,
                                    pid ? "pause" : "holder");
        if (fd < 0)
          return -1;
        res->nsfd[pod_ns_index (bit)] = fd;
      }
  if (uns->on)
    {
      /* Members join the pod's user namespace by path, then its others. */
      cleanup_close int hnet = sandbox_open_ns (pod.holder_pid, pod.holder_start, POD_NS_NET, err);
      if (hnet == -ESRCH)
        return podshim_error_set (err, ESRCH, "pod `%s`: its holder died", req->name);
      if (hnet < 0 || (res->userns_fd = sandbox_userns_of (hnet, err)) < 0
          || sandbox_anchor_start (res->userns_fd, &res->anchor, err) < 0)
        return podshim_error_wrap (err, "pod `%s`", key);
    }
  if (fault_point ("ns-opened", err) < 0)
    return -1;
  res->new_volumes = calloc (req->n_volumes + 1, sizeof (char *));
  if (res->new_volumes == NULL)
    abort ();
  cleanup_json yajl_val used = json_new_array ();
  int host_shm = shm_size ? pod_shm_setup (ctx, h->poddir, key, &pod, shm_size,
                                           first ? &res->holder : NULL, &res->shm_fd, err)
                          : 0;
  if (host_shm < 0)
    return podshim_error_wrap (err, "pod `%s`", key);
  if (req->n_volumes > 0 || host_shm)
    {
      if (volumes_setup (ctx, h->poddir, key, req, &pod.userns, host_shm ? shm_size : 0,
                         res->new_volumes, used, err)
          < 0)
        return podshim_error_wrap (err, "pod `%s`", key);
      if (fault_point ("after-volumes", err) < 0)
        return -1;
    }
  res->shm = shm_size != 0;
  res->keep_network_hook = false;
  res->adopt_network = role == NET_ROLE_ADOPT;
  if ((req->share & POD_NS_NET) && role != NET_ROLE_JOIN)
    {
      pod.network_owner = strdup (id);
      res->keep_network_hook = true;
    }
  if ((req->share & POD_NS_NET)
      && engine_share_net_files (h->poddir, spec, res->keep_network_hook, res->net_files, err) < 0)
    return -1;
  struct pod_member *m = pod_state_add (&pod, id);
  m->raw = json_new_object ();
  json_object_set (m->raw, "volumes", steal_pointer (&used));
  m->pid = getpid ();
  if (proc_start_time (m->pid, &m->start) < 0)
    return podshim_error_set (err, errno, "cannot read our own start time");
  m->creating = true;
  m->share = req->share;
  swarm_task_record (m, task);
  if (pod_state_save (h->poddir, &pod, err) < 0)
    return -1;
  res->recorded = true;
  if (fault_point ("after-state", err) < 0)
    return -1;

  if (statedir_index_write (h->rootfd, id, key, err) < 0)
    return -1;
  return fault_point ("after-index", err);
}

/* Marks the member created with its init PID. */
static int
confirm_member (const struct shim_ctx *ctx, const char *name, pid_t pid, struct podshim_error **err)
{
  cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
  cleanup_pod_state struct pod_state pod = { 0 };
  cleanup_error struct podshim_error *e = NULL;
  if (pod_open_locked (ctx, name, false, &h, &e) < 0
      || pod_state_load (h.poddir, name, &pod, &e) < 0)
    return podshim_error_set (err, ENOENT, "pod `%s` vanished during create", name);
  struct pod_member *m = pod_state_find (&pod, ctx->cmd->id);
  if (m == NULL)
    return podshim_error_set (err, 0, "container `%s` was removed from pod `%s` during create",
                              ctx->cmd->id, name);
  m->creating = false;
  m->pid = pid;
  m->start = 0;
  if (pid > 0 && proc_start_time (pid, &m->start) < 0)
    m->pid = 0; /* exited already: fall back to the delegate's state */
  return pod_state_save (h.poddir, &pod, err);
}

static int
rewrite_config (const struct shim_ctx *ctx, int bundle_fd, yajl_val spec, const char *key,
                const struct pod_request *req, const struct join_result *res,
                struct podshim_error **err)
{
  bool keep_hook = res->keep_network_hook;
  cleanup_free char *resolv
      = res->net_files[0]
            ? statedir_pod_path (ctx->state_dir, ctx->rootkey, key, STATEDIR_POD_NET "/resolv.conf")
            : NULL;
  cleanup_free char *hosts = res->net_files[1] ? statedir_pod_path (ctx->state_dir, ctx->rootkey,
                                                                    key, STATEDIR_POD_NET "/hosts")
                                               : NULL;
  cleanup_strv char **paths = calloc (POD_NS_COUNT + 2 * req->n_volumes + 1, sizeof (char *));
  struct join_volume *vols = calloc (req->n_volumes + 1, sizeof (*vols));
  if (paths == NULL || vols == NULL)
    abort ();
  struct join_plan plan = { .share = req->share,
                            .keep_network_hook = keep_hook,
                            .docker_host_network = res->docker_host_network,
                            .adopt_network = res->adopt_network,
                            .resolv_conf = resolv,
                            .hosts = hosts,
                            .volumes = vols,
                            .n_volumes = req->n_volumes };
  cleanup_free char *data = pod_data_path (ctx, key);
  cleanup_free char *shm = NULL;
  if (res->shm && res->shm_fd >= 0)
    shm = pod_shm_stage_path (ctx, key);
  else if (res->shm && asprintf (&shm, "%s/shm", data) < 0)
    abort ();
  plan.shm = shm;
  cleanup_free char *userns_path = NULL;
  if (res->anchor.pid > 0 && asprintf (&userns_path, "/proc/%d/ns/user", (int)res->anchor.pid) < 0)
    abort ();
  plan.userns_path = userns_path;
  size_t np = 0;
  for (unsigned bit = 1; bit < (1u << POD_NS_COUNT); bit <<= 1)
    if (req->share & bit)
      {
        /* Our fd of the namespace: valid while we wait for the delegate. */
        if (asprintf (&paths[np], "/proc/%d/fd/%d", (int)getpid (), res->nsfd[pod_ns_index (bit)])
            < 0)
          abort ();
        plan.ns_path[pod_ns_index (bit)] = paths[np++];
      }
  for (size_t i = 0; i < req->n_volumes; i++)
    {
      paths[np] = pod_volume_dirname (req->volumes[i]);
      char *src = NULL;
      if (asprintf (&src, "%s/%s", data, paths[np++]) < 0)
        abort ();
      paths[np++] = src;
      vols[i].destination = req->volumes[i];
      vols[i].source = src;
    }
  size_t dropped = 0;
  int r = spec_join_pod (spec, &plan, &dropped, err);
  free (vols);
  if (r < 0)
    return -1;
  if (dropped)
    podshim_log (PODSHIM_LOG_DEBUG,
                 "podshim: dropped %zu libnetwork-setkey hook(s) of `%s`: pod `%s` already has"
                 " its network",
                 dropped, ctx->cmd->id, key);
  cleanup_free char *out = NULL;
  size_t len;
  if (json_emit (spec, &out, &len, err) < 0)
    return -1;
  if (write_file_atomic_at (bundle_fd, "config.json", out, len, 0644, err) < 0)
    return -1;
  return fault_point ("after-config", err);
}

/* One create's undo log: what it did that a failure takes back. */
struct member_txn
{
  struct shim_ctx *ctx;
  const char *key;
  struct container_record *rec; /* saved before the delegate's create; NULL: none */
  int bundle_fd;
  const char *orig; /* config.json as read */
  size_t orig_len;
  bool config_written;
  struct join_result res;
};

static void
member_txn_close (struct member_txn *t)
{
  join_result_close (&t->res);
}
#define cleanup_member_txn __attribute__ ((cleanup (member_txn_close)))

/* Takes back what this create did, in one place: the container's record,
 * its entry in the pod and in the index (once recorded), the volumes it made
 * (when failed: a foreground run that finished keeps them) and the bundle's
 * config.json. The prune that follows stops a holder or pause this call
 * started that no member is left to use (the pod's teardown, or a pause no
 * member shares). h: the pod's lock when the caller holds it, else NULL. */
static void
rollback (struct member_txn *t, struct pod_handles *h, bool failed)
{
  const char *id = t->res.recorded ? t->ctx->cmd->id : NULL;
  char **made = failed ? t->res.new_volumes : NULL;
  if (t->rec)
    record_create_end (t->ctx, t->rec, false);
  cleanup_error struct podshim_error *e = NULL;
  if ((h ? pod_leave_locked (t->ctx, h, t->key, id, made, &e)
         : pod_leave (t->ctx, t->key, id, made, &e))
      < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", e->msg);
  cleanup_error struct podshim_error *e2 = NULL;
  if (t->config_written
      && write_file_atomic_at (t->bundle_fd, "config.json", t->orig, t->orig_len, 0644, &e2) < 0)
    podshim_log (PODSHIM_LOG_WARNING, "podshim: cannot restore config.json: %s", e2->msg);
}

int
member_create (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err)
{
  struct runc_cmdline *c = ctx->cmd;
  const char *bundle = c->bundle ? c->bundle : ".";
  cleanup_close int bundle_fd = open (bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bundle_fd < 0)
    return SHIM_PASS_THROUGH; /* the delegate reports it */
  cleanup_free char *orig = NULL;
  size_t orig_len;
  cleanup_error struct podshim_error *rerr = NULL;
  /* crun's --config names the file it reads instead of config.json. */
  const char *config = c->config ? c->config : "config.json";
  if (read_file_at (bundle_fd, config, 0, CONFIG_MAX, &orig, &orig_len, &rerr) < 0)
    return SHIM_PASS_THROUGH;
  /* Bytes first: most containers never get parsed. */
  if (!spec_may_name_pod (orig, orig_len)
      && !(c->id && docker_labels_may_name_pod (orig, orig_len, c->id)))
    return SHIM_PASS_THROUGH;

  /* Until a pod key is found, trouble of ours is no reason to fail a
     container: the delegate runs it untouched (and judges config.json). */
  cleanup_json yajl_val spec = NULL;
  cleanup_error struct podshim_error *perr = NULL;
  if (json_parse (orig, orig_len, "config.json", &spec, &perr) < 0)
    {
      if (memmem (orig, orig_len, "\"podshim.pod\"", 13) == NULL
          && memmem (orig, orig_len, "\"PODSHIM_POD=", 13) == NULL)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` names no pod we can read: %s",
                       c->id ? c->id : "", perr->msg);
          return SHIM_PASS_THROUGH;
        }
      *err = steal_pointer (&perr);
      return -1;
    }
  cleanup_json yajl_val labels = NULL;
  if (c->id && container_id_valid (c->id) && docker_labels_load (spec, c->id, &labels, &perr) < 0)
    {
      /* Unreadable labels: only a container whose own spec asks for nothing
         of podshim's runs untouched. */
      cleanup_pod_request struct pod_request own = { 0 };
      cleanup_container_record struct container_record own_rec = { 0 };
      cleanup_error struct podshim_error *e2 = NULL;
      if (pod_request_from_spec (spec, NULL, &own, &e2) == 0
          && record_from_spec (ctx, spec, NULL, &own_rec, &e2) == 0)
        {
          podshim_log (PODSHIM_LOG_DEBUG, "podshim: ignoring Docker labels of `%s`: %s", c->id,
                       perr->msg);
          return SHIM_PASS_THROUGH;
        }
      *err = steal_pointer (&perr);
      return -1;
    }
  cleanup_container_record struct container_record rec = { 0 };
  int has_rec = record_from_spec (ctx, spec, labels, &rec, err);
  if (has_rec < 0)
    return -1;
  if (rec.companion_specs && labels == NULL && c->id && container_id_valid (c->id))
    {
      /* Companions by annotation: the anchor's Docker name is in its labels
         document all the same. */
      if (docker_labels_load_all (spec, c->id, &labels, err) < 0)
        return -1;
      free (rec.anchor_name);
      rec.anchor_name = companion_anchor_name (labels, c->id);
    }
  if (rec.companion_specs && labels == NULL)
    /* Companions are made through the node's Docker API: only for Docker's
       own containers, never at a containerd, CRI or podman caller's say. */
    return podshim_error_set (err, 0,
                              "companions (%s*) are made through the Docker API, for containers"
                              " Docker made; this one was not (it has no config.v2.json): refused",
                              COMPANION_PREFIX);
  cleanup_pod_request struct pod_request req = { 0 };
  int r = pod_request_from_spec (spec, labels, &req, err);
  if (r == 0 && rec.companion_specs && c->id)
    {
      /* An anchor that names no pod gets one of its own. */
      cleanup_free char *own = companion_default_pod (labels, c->id);
      r = pod_request_for_name (spec, labels, own, "the anchor's container name", &req, err);
    }
  if (r < 0)
    return -1;
  if (r == 0 && !has_rec)
    return SHIM_PASS_THROUGH;
  if (r == 0)
    {
      /* A runtime class and no pod. */
      if (c->id == NULL || !container_id_valid (c->id))
        return podshim_error_set (err, 0, "invalid container ID `%.200s`", c->id ? c->id : "");
      return record_create_nopod (ctx, &rec, ret_status, err) < 0 ? -1 : SHIM_HANDLED;
    }
  /* A member outside its pod is worse than a refused one. */
  if (c->uncertain)
    return podshim_error_set (err, 0,
                              "cannot be sure what `%.64s` means in this command line (podshim"
                              " knows the options of runc 1.1-1.3 and crun): refusing to %s"
                              " a member of pod `%s`",
                              c->uncertain, c->command, req.name);
  if (c->config)
    return podshim_error_set (err, 0, "pod `%s`: a member cannot use --config (`%.64s`)", req.name,
                              c->config);
  if (c->id == NULL || c->n_positional != 1)
    return podshim_error_set (err, 0,
                              "pod `%s`: expected exactly one container ID on the command line,"
                              " got %d",
                              req.name, c->n_positional);
  if (!container_id_valid (c->id))
    return podshim_error_set (err, 0, "invalid container ID `%.200s` for pod `%s`", c->id,
                              req.name);
  /* The pod's scope: a named pod is found under the container's compose
     project or stack (labels a pod named by environment has not loaded yet). */
  if (labels == NULL && docker_labels_load_all (spec, c->id, &labels, err) < 0)
    return -1;
  if (pod_scope_from_spec (spec, labels, &req.scope, err) < 0)
    return -1;
  cleanup_free char *key = pod_key (req.scope, req.name);
  /* Its own user namespace (userns-remap), checked before anything is made. */
  cleanup_free struct pod_userns *uns = calloc (1, sizeof (*uns));
  if (uns == NULL)
    abort ();
  if (spec_userns (spec, uns, err) < 0)
    return podshim_error_wrap (err, "pod `%s`", key);
  if (companion_check_anchor (ctx, spec, labels, key, c->id, err) < 0)
    return -1;
  cleanup_free char *class_root = NULL;
  if (has_rec && record_create_begin (ctx, &rec, &req, &class_root, err) < 0)
    {
      record_create_end (ctx, &rec, false);
      return -1;
    }
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: `%s` joins pod `%s`", c->id, key);

  cleanup_member_txn struct member_txn t = { .ctx = ctx,
                                             .key = key,
                                             .rec = has_rec ? &rec : NULL,
                                             .bundle_fd = bundle_fd,
                                             .orig = orig,
                                             .orig_len = orig_len,
                                             .res = JOIN_RESULT_INIT };
  struct join_result *res = &t.res;
  /* What the engine will plumb into the member's network namespace (the
     pod's): an interface through Docker's setkey hook at start, or by a
     hook-less dockerd after create, or podman's namespace made before; a
     `--network none` one carries the hook (dockerd < 28) but no interface.
     Asked of the daemon (before the pod's lock) where Docker's records
     leave it open. */
  cleanup_net_engine struct net_engine eng = NET_ENGINE_INIT;
  enum net_plumb plumb = NET_PLUMB_NONE;
  if (req.share & POD_NS_NET)
    {
      netowner_facts (spec, c->id, labels, &eng);
      res->docker_host_network = engine_host_network (spec, eng.docker_mode);
      plumb = netowner_plumb (spec, &eng);
      if (plumb == NET_PLUMB_AFTER_CREATE)
        {
          cleanup_error struct podshim_error *se = NULL;
          cleanup_free char *sock = companion_docker_socket (ctx, &se);
          cleanup_free char *dir = docker_container_dir_of (spec, c->id);
          if (sock)
            netowner_ask_docker (ctx->state_dir, sock, c->id, dir, NETOWNER_API_PROBE_MS,
                                 NETOWNER_API_TIMEOUT_MS, &eng);
          else if ((eng.unknown = strdup (se->msg)) == NULL)
            abort ();
          plumb = netowner_plumb (spec, &eng);
        }
    }
  {
    cleanup_pod_handles struct pod_handles h = POD_HANDLES_INIT;
    if (pod_open_locked (ctx, key, true, &h, err) < 0)
      return -1;
    struct swarm_task task;
    swarm_task_from_labels (labels, &task);
    companion_labels (spec, labels, &task.companion_of, &task.companion_name);
    cleanup_class_config struct class_config cfg = { 0 };
    if (task.companion_of)
      {
        if (class_config_load (ctx->cmd, &cfg, err) < 0)
          return -1;
        task.companion_max = companion_policy_max_per_pod (&cfg.companions);
        task.config = class_config_path (ctx->cmd);
      }
    if (join_locked (ctx, &h, key, &req, spec, plumb, &eng, uns, &task, res, err) < 0)
      {
        rollback (&t, &h, true);
        return -1;
      }
  }
  if (res->keep_network_hook)
    {
      /* Its start refreshes the pod's copies of its files: the record that
         start reads anyway says so (no second lookup for other containers). */
      rec.network_owner = true;
      if (rec.pod == NULL && (rec.pod = strdup (key)) == NULL)
        abort ();
      has_rec = true;
      t.rec = &rec;
    }

  /* It may be written even if this fails. */
  t.config_written = true;
  if (rewrite_config (ctx, bundle_fd, spec, key, &req, res, err) < 0)
    {
      rollback (&t, NULL, true);
      return -1;
    }

  int status = -1;
  cleanup_podshm_home struct podshm_home home = PODSHM_HOME_INIT;
  cleanup_free char *stage = res->shm_fd >= 0 ? pod_shm_stage_path (ctx, key) : NULL;
  if (stage == NULL || podshm_enter (res->shm_fd, stage, &home, err) == 0)
    {
      if (res->holder.shm_fd >= 0)
        holder_take_shm (req.name, res);
      if (delegate_run (c, &status, err) < 0)
        status = -1;
    }
  podshm_leave (&home);
  holder_ready (req.name, res);
  bool is_run = strcmp (c->command, "run") == 0;
  bool ok = status == 0;
  if (ok && !(is_run && !c->detach))
    {
      if (fault_point ("before-confirm", err) < 0)
        return -1;
      if (confirm_member (
              ctx, key, delegate_init_pid (ctx->cmd, ctx->class_root ? ctx->class_root : ctx->root),
              err)
          < 0)
        return -1;
      if (has_rec)
        record_create_end (ctx, &rec, true);
      *ret_status = 0;
      return SHIM_HANDLED;
    }
  /* Failed, or a foreground run that has finished (its volumes stay). */
  rollback (&t, NULL, status != 0);
  if (status == -1)
    return -1;
  *ret_status = status;
  return SHIM_HANDLED;
}

int
member_delete (struct shim_ctx *ctx, int *ret_status, struct podshim_error **err)
{
  struct runc_cmdline *c = ctx->cmd;
  if (c->id == NULL || c->n_positional != 1 || !container_id_valid (c->id))
    return SHIM_PASS_THROUGH;
  cleanup_error struct podshim_error *serr = NULL;
  cleanup_close int rootfd
      = statedir_open_root (ctx->state_dir, ctx->rootkey, ctx->root, false, NULL, &serr);
  if (rootfd < 0 && podshim_error_is (serr, ENOENT))
    return SHIM_PASS_THROUGH;
  if (rootfd < 0)
    {
      /* No member can have been made there: never block a delete. */
      podshim_log (PODSHIM_LOG_WARNING, "podshim: %s", serr->msg);
      return SHIM_PASS_THROUGH;
    }
  /* An index podshim cannot open is an error; a damaged entry is not. */
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int cfd = statedir_open_sub (rootfd, STATEDIR_CONTAINERS, false, &e);
  if (cfd < 0 && podshim_error_is (e, ENOENT))
    return SHIM_PASS_THROUGH;
  if (cfd < 0)
    {
      *err = steal_pointer (&e);
      return -1;
    }
  cleanup_free char *pod = NULL;
  if (statedir_index_read (rootfd, c->id, &pod, &e) < 0)
    {
      /* A damaged entry names no pod we could act on: never block the
         delete; drop the entry (a member is pruned when its pod is touched).
         A newer podshim's stays for it: its pod is its to prune. */
      bool newer = podshim_error_is (e, STATE_FORMAT_NEWER);
      podshim_log (PODSHIM_LOG_WARNING, "podshim: %s the index entry of `%s`: %s",
                   newer ? "leaving its pod to a podshim that reads" : "dropping the damaged",
                   c->id, e->msg);
      if (!newer)
        statedir_index_remove (rootfd, c->id, NULL);
      return SHIM_PASS_THROUGH;
    }
  if (pod == NULL)
    return SHIM_PASS_THROUGH;
  if (c->uncertain)
    return podshim_error_set (err, 0,
                              "cannot be sure what `%.64s` means in this command line (podshim"
                              " knows the options of runc 1.1-1.3 and crun): refusing to delete"
                              " `%s`, a member of pod `%s`",
                              c->uncertain, c->id, pod);

  int status;
  if (delegate_run (c, &status, err) < 0)
    return -1;
  if (status == 0 || !delegate_knows (ctx->class_root ? ctx->class_root : ctx->root, c->id))
    {
      cleanup_error struct podshim_error *fe = NULL;
      (void)fault_point ("before-leave", &fe);
      if (pod_leave (ctx, pod, c->id, NULL, err) < 0)
        {
          /* The container is gone; report the pod trouble but keep its status.
             A newer podshim's pod is left as it is: that podshim prunes
             the member (pod gc). */
          podshim_log (PODSHIM_LOG_WARNING, "podshim: %s%s", (*err)->msg,
                       podshim_error_is (*err, STATE_FORMAT_NEWER)
                           ? " (the member's container is deleted; the pod keeps it listed)"
                           : "");
          podshim_error_free (*err);
          *err = NULL;
        }
    }
  *ret_status = status;
  return SHIM_HANDLED;
}

/* What the container engine (dockerd) does around a pod member that podshim
 * must follow: its host network, its Swarm task, and the network owner's
 * resolver files that the pod's other members share. */
#ifndef PODSHIM_ENGINE_H
#define PODSHIM_ENGINE_H

#include <stdbool.h>

#include "error.h"
#include "json.h"
#include "pod.h"

/* dockerd (20.10) gives a `--network host` container its own network
 * namespace as a path (<exec-root>/netns/default): the namespace podshim runs
 * in. True for a `--network host` container (mode: its Docker network mode)
 * whose network path, if any, is podshim's own namespace: a host-network
 * member of a pod joins the pod's network. */
bool engine_host_network (yajl_val spec, const char *mode);

/* The Swarm task a member is, from its Docker labels: two live tasks of one
 * service in one pod are a mistake (a fixed pod name on a replicated service
 * whose replicas share a node). The slot is the middle of the task name
 * (SERVICE.SLOT.TASKID; the node ID in global mode): a task replacing one of
 * the same slot (`--update-order start-first`) is not refused. */
struct swarm_task
{
  const char *service_id; /* NULL: not a Swarm task */
  const char *service_name;
  char slot[128];
  const char *companion_of; /* a companion's anchor (companion.h), or NULL */
  const char *companion_name;
  unsigned companion_max; /* a companion's pod cap (companions.maxPerPod) */
  const char *config;     /* the config file that says so, for messages */
};

/* From the container's Docker labels (its config.v2.json document). */
void swarm_task_from_labels (yajl_val labels_doc, struct swarm_task *ret);

/* Refuses a second live task of t's service in pod (all its members alive). */
int swarm_guard (const char *key, struct pod_state *pod, const struct swarm_task *t,
                 struct podshim_error **err);

/* Records the task in the member's entry (m->raw: pod.json keeps fields it
 * does not know). */
void swarm_task_record (struct pod_member *m, const struct swarm_task *t);

/* At a member's create, in the pod directory poddir: the network owner's
 * (owner) /etc/resolv.conf and /etc/hosts become the pod's copies; another
 * member seeds them if none exists. ret_mount[i]: the member mounts the pod's
 * copy of file i (0 resolv.conf, 1 hosts). */
int engine_share_net_files (int poddir, yajl_val spec, bool owner, bool ret_mount[2],
                            struct podshim_error **err);

/* At the network owner's start: copies its files (final by now) over the
 * pod's again. Best effort: warnings only. */
void engine_refresh_net_files (int poddir, const char *key);

#endif

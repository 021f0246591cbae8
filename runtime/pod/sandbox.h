/* A pod's sandbox: its network, IPC and UTS namespaces, held by a holder
 * process (podshim-pause, isolated: see cmd/pause.c), and, for pods that share
 * PIDs, a PID namespace whose init is another podshim-pause. Nothing is
 * mounted in the host's mount namespace. Pods made by an older podshim pinned
 * their namespaces as bind mounts under the pod's ns/ directory: those are
 * still unpinned at teardown. */
#ifndef PODSHIM_SANDBOX_H
#define PODSHIM_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "pod.h"

/* proc_open_ns() of one of our namespace bits. */
int sandbox_open_ns (pid_t pid, unsigned long long start, unsigned bit, struct podshim_error **err);

/* The net, ipc or uts namespace bound at path (an engine's, e.g. podman's
 * /run/netns/netns-...), checked to be one of that type: an O_CLOEXEC fd. */
int sandbox_open_ns_path (const char *path, unsigned bit, struct podshim_error **err);

/* A podshim-pause being started. */
struct sandbox_proc
{
  pid_t pid;
  unsigned long long start;
  int go_fd;     /* it exits when this closes before sandbox_release() */
  int report_fd; /* its "ready" is still to be read (>= 0) */
  int shm_fd;    /* it waits here for the pod's /dev/shm (sandbox_send_shm), or -1 */
};
#define SANDBOX_PROC_INIT                                                                          \
  {                                                                                                \
    .go_fd = -1, .report_fd = -1, .shm_fd = -1                                                     \
  }

/* The user namespace that a pod's fresh namespaces (net, ipc, uts, pid)
 * belong to, when not the host's: an existing one to join (fd >= 0), or a
 * new one with maps. A short-lived child of the helper makes them there
 * (a new user namespace gets its mappings, written from the host's user
 * namespace, before that child becomes its root and makes anything else); the
 * helper, and so the holder, join them from the host's user namespace: a
 * holder stays nobody of the host, as without one. A PID namespace cannot be
 * joined before its init is in it: a pause is made in the pod's user
 * namespace (fd), where it becomes nobody of the pod. */
struct sandbox_userns
{
  int fd;
  const struct pod_userns *maps;
};

/* The user namespace that owns namespace fd nsfd (NS_GET_USERNS): an
 * O_CLOEXEC fd. The host's own (ours) is refused: a pod's user namespace
 * is never the host's. */
int sandbox_userns_of (int nsfd, struct podshim_error **err);

/* A child of ours in the user namespace userns_fd, alive until
 * sandbox_anchor_stop(), so that a member's config can name that namespace
 * as /proc/PID/ns/user: the one form from which runc >= 1.2 reads its
 * mappings (from any other path it spawns a reader that gets the host's
 * here: 1.3.6 and 1.4.3 then refuse matching mappings as non-matching).
 * Not dumpable, no fd but a pipe; unreaped, its PID is never another's. */
struct sandbox_anchor
{
  pid_t pid; /* 0: none */
  int fd;    /* it exits when this closes */
};
#define SANDBOX_ANCHOR_INIT                                                                        \
  {                                                                                                \
    .pid = 0, .fd = -1                                                                             \
  }
int sandbox_anchor_start (int userns_fd, struct sandbox_anchor *ret, struct podshim_error **err);
void sandbox_anchor_stop (struct sandbox_anchor *a);

/* Starts podshim-pause, detached (own session, stdio on /dev/null, no
 * inherited fd), in the pod's net, ipc and uts namespaces: join_fd[i] (i =
 * 0 net, 1 ipc, 2 uts) where >= 0, a fresh namespace where -1 (a fresh uts
 * gets hostname, a fresh net its loopback up). new_pid: as PID 1 of a new PID
 * namespace. Returns once the process exists in its namespaces; wait_ready:
 * also once it has isolated itself and said so (else sandbox_ready() does
 * that). Until sandbox_release(), the process exits when we die or call
 * sandbox_proc_close(). shm_later (a holder, not with wait_ready): once
 * isolated, it waits for the pod's /dev/shm from sandbox_send_shm(), or for
 * ret->shm_fd to close (then it has none), before it gets ready.
 * template_fd (or -1): a holder's mount namespace, whose root is an empty
 * read-only tmpfs (sandbox_template_open); the new process copies it
 * (unshare) and detaches the copy's /shm: no pivot_root, which walks every thread on the node under
 * a lock that every fork and exit on the node waits for. Without one it makes its own root
 * (cmd/pause.c). userns (or NULL: the host's): whose fresh namespaces
 * are made in. */
int sandbox_start (const int join_fd[3], bool new_pid, const char *hostname, const char *pause_path,
                   bool wait_ready, bool shm_later, int template_fd,
                   const struct sandbox_userns *userns, struct sandbox_proc *ret,
                   struct podshim_error **err);

/* Hands a holder started with shm_later the pod's /dev/shm, a detached mount
 * (mnt_fd stays ours), and closes sp->shm_fd. */
int sandbox_send_shm (struct sandbox_proc *sp, int mnt_fd, struct podshim_error **err);

/* Waits for its "ready" (a no-op if read already); a /dev/shm not sent by now
 * it goes without. */
int sandbox_ready (struct sandbox_proc *sp, const char *pause_path, struct podshim_error **err);

/* The mount namespace of the holder whose "PID START" the root's
 * STATEDIR_HOLDER_TEMPLATE names, if it is alive, has isolated itself and
 * has no mount but its root and its /shm: an O_CLOEXEC fd, or -1. */
int sandbox_template_open (int rootfd);

/* The parts of sandbox_template_open, apart: the template file's "PID
 * START\n"; a mountinfo (modified) whose first line is a read-only tmpfs at
 * "/" and whose only other line, if any, a tmpfs at "/shm". */
bool sandbox_template_parse (const char *buf, pid_t *ret_pid, unsigned long long *ret_start);
bool sandbox_template_mounts_ok (char *mountinfo);

/* Names (pid, start), a holder that made its own root, as that template. */
void sandbox_template_save (int rootfd, pid_t pid, unsigned long long start);

/* Waits until the holder recorded as (pid, start) has isolated itself (its
 * mount namespace set up, its /dev/shm mounted if one was sent: it then runs
 * as nobody), for a holder another podshim is still starting. -ESRCH without
 * err when it is gone. */
int sandbox_wait_isolated (pid_t pid, unsigned long long start, struct podshim_error **err);

/* Lets it live on past us (call once it is recorded); its "ready" may still
 * be read. */
void sandbox_release (struct sandbox_proc *sp);

/* Closes what we hold of it: before sandbox_release(), it exits. */
void sandbox_proc_close (struct sandbox_proc *sp);

/* SIGKILLs (pidfd) the process recorded as (pid, start) if it still is that
 * process, and waits until it is gone. */
void sandbox_stop (pid_t pid, unsigned long long start);

/* Unpins one namespace an older podshim pinned (MNT_DETACH) and removes its
 * file. Missing is fine. */
int sandbox_unpin (int poddir_fd, unsigned ns_bit, struct podshim_error **err);

/* Stops the pause and the holder, unpins whatever an older podshim pinned. */
int sandbox_destroy (int poddir_fd, const struct pod_state *pod, struct podshim_error **err);

/* The path of podshim-pause: $PODSHIM_PAUSE, else beside our executable, else
 * the installed libexec path. Owned. */
char *sandbox_pause_path (void);

#endif

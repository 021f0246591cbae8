/* What podshim keeps of a Docker daemon while it runs: whether it has its
 * default bridge, its version and its data-root (DockerRootDir). None of
 * them changes while the daemon runs ("bridge" and data-root take a
 * restart), so each run of a daemon is asked once (GET /info, GET
 * /networks/bridge) and its answers are kept in the state dir
 * (STATEDIR_DOCKERD_FACTS), keyed by who serves the socket — seen without
 * asking it: the socket file, the process that made its listener
 * (SO_PEERCRED) and the daemon's process, each PID with its start time. A
 * restarted daemon is another process: its facts are asked again. */
#ifndef PODSHIM_DOCKERFACTS_H
#define PODSHIM_DOCKERFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

#define DOCKERD_FACTS_FORMAT 1
#define DOCKERD_FACTS_MAX 8                /* daemons (sockets) remembered */
#define DOCKERD_FACTS_FILE_MAX (64 * 1024) /* bytes: 8 entries of 4 KiB paths fit */
#define DOCKERD_ROOT_DIR_MAX 4095          /* bytes of a DockerRootDir kept */
#define DOCKERD_VERSION_MAX 64
/* The daemon's process name: a listener made by another process (systemd's
 * docker.socket) is served by the one process of this name holding it. */
#define DOCKERD_COMM "dockerd"

/* Who serves a Docker API socket, as seen without asking it. */
struct dockerd_id
{
  char *sock;                            /* the socket's path */
  unsigned long long sock_dev, sock_ino; /* stat(2) of it: one bind(2) */
  pid_t listener;                        /* made its listener (SO_PEERCRED) */
  unsigned long long listener_start;
  pid_t pid; /* the daemon: the listener's maker when that is dockerd, else the
                dockerd that holds the listener (socket activation); 0 unknown */
  unsigned long long start;
};

struct dockerd_facts
{
  struct dockerd_id id;
  bool bridge;    /* has its default bridge (GET /networks/bridge: 200, not 404) */
  char *version;  /* its version (GET /info ServerVersion), "" when it gave none */
  char *root_dir; /* its data-root (GET /info DockerRootDir) */
};

void dockerd_facts_free (struct dockerd_facts *f);
void dockerd_facts_free_all (struct dockerd_facts *v, size_t n);
#define cleanup_dockerd_facts __attribute__ ((cleanup (dockerd_facts_free)))

/* A version string as a daemon gives it: 1-64 characters of [0-9A-Za-z.+~-]. */
bool dockerd_version_valid (const char *v);

/* An absolute path of at most DOCKERD_ROOT_DIR_MAX bytes without empty, "."
 * or ".." components, control characters or a trailing slash. */
bool dockerd_root_dir_valid (const char *p);

/* Pure: true when dir (a container's directory: the dirname of its
 * /etc/hostname mount's source) is <root_dir>/containers/<id>: the daemon
 * whose data-root that is made the container. */
bool dockerd_made_dir (const char *root_dir, const char *id, const char *dir);

/* Pure: the cache file's entries, each valid (sizes, PIDs, paths, version)
 * or the whole file an error. *ret (NULL when none) for
 * dockerd_facts_free_all. */
int dockerd_facts_parse (const char *buf, size_t len, struct dockerd_facts **ret, size_t *ret_n,
                         struct podshim_error **err);

/* Pure: the cache file for entries v[0..n), at most DOCKERD_FACTS_MAX; NULL
 * when an entry cannot be written (a string that is not UTF-8). Owned. */
char *dockerd_facts_format (const struct dockerd_facts *v, size_t n, size_t *ret_len);

/* Pure: GET /info's body and GET /networks/bridge's HTTP status into f's
 * bridge, version and root_dir (f->id untouched). An error when they are no
 * answers of a daemon podshim can use (no DockerRootDir, another status). */
int dockerd_facts_from_answers (const char *info_body, int bridge_status, struct dockerd_facts *f,
                                struct podshim_error **err);

/* True when a cached entry's id names the run of the daemon that serves the
 * socket as now seen: the same socket file and listener's maker (PIDs with
 * their start times), and the same daemon; when now has no daemon (its
 * listener's maker is not dockerd), the cached daemon while it runs. Reads
 * /proc. */
bool dockerd_facts_match (const struct dockerd_id *cached, const struct dockerd_id *now);

/* The entries of the cache file in the state dir statefd; none when it is
 * missing, damaged, larger than DOCKERD_FACTS_FILE_MAX or not podshim's own
 * (not a regular file, another owner, writable by others): ignored, and
 * rewritten by the next store. */
void dockerd_facts_load (int statefd, struct dockerd_facts **ret, size_t *ret_n);

/* Keeps f first, then the entries of other sockets' daemons still running
 * (at most DOCKERD_FACTS_MAX in all): written atomically, 0600; a file that
 * is not podshim's own is replaced, never written through. Best effort: a
 * cache that cannot be written is asked again next time. */
void dockerd_facts_store (int statefd, const struct dockerd_facts *f);

/* Who serves the socket at sock now: connects once (a full backlog retried
 * until probe_ms), no request. 0 with *ret filled (ret->pid 0 when the
 * listener's maker is not dockerd: the caller looks for the daemon, below); 1
 * when it cannot tell (no PID for the listener's maker); -1 with err when
 * nobody listens there (err's errno_: ECONNREFUSED, ENOENT...). */
int dockerd_identify (const char *sock, int probe_ms, struct dockerd_id *ret,
                      struct podshim_error **err);

/* For an id whose listener's maker is not dockerd: the dockerd that holds the
 * listener (sock_diag and /proc/PID/fd). 0 with id->pid set, or 1 when there
 * is not exactly one. */
int dockerd_identify_holder (struct dockerd_id *id);

/* The daemon at sock, as the cache in the state dir (may be NULL: no cache)
 * has it when it names the daemon now serving sock, else asked: GET /_ping
 * within probe_ms (the one attempt at a daemon that accepts and does not
 * answer, as while it restores its containers at boot), then GET /info and
 * GET /networks/bridge within timeout_ms each, and cached. 0 with *ret
 * (*ret_cached true when nothing was asked); 1 when who serves sock cannot be
 * told (nothing asked: the caller asks otherwise); -1 with err when nobody
 * listens, it does not answer or its answers are unusable. */
int dockerd_facts_get (const char *state_dir, const char *sock, int probe_ms, int timeout_ms,
                       struct dockerd_facts *ret, bool *ret_cached, struct podshim_error **err);

#endif

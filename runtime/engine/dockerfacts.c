#include "config.h"
#include "dockerfacts.h"
#include "dockerapi.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "procutil.h"
#include "sockpeer.h"
#include "statedir.h"
#include "stateformat.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_gen.h>

/* The kernel's PID_MAX_LIMIT on 64-bit. */
#define PID_LIMIT (4 * 1024 * 1024)
#define SOCK_PATH_MAX 107

void
dockerd_facts_free (struct dockerd_facts *f)
{
  if (f == NULL)
    return;
  free (f->id.sock);
  free (f->version);
  free (f->root_dir);
  f->id.sock = f->version = f->root_dir = NULL;
}

void
dockerd_facts_free_all (struct dockerd_facts *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    dockerd_facts_free (&v[i]);
  free (v);
}

bool
dockerd_version_valid (const char *v)
{
  size_t n = 0;
  for (; v && v[n]; n++)
    if (n >= DOCKERD_VERSION_MAX
        || !((v[n] >= '0' && v[n] <= '9') || (v[n] >= 'a' && v[n] <= 'z')
             || (v[n] >= 'A' && v[n] <= 'Z') || v[n] == '.' || v[n] == '+' || v[n] == '~'
             || v[n] == '-'))
      return false;
  return n > 0;
}

/* Absolute, clean (no empty, "." or ".." component, no trailing slash), no
 * control character, at most max bytes; "/" itself only if root_ok. */
static bool
path_clean (const char *p, size_t max, bool root_ok)
{
  size_t n = p ? strlen (p) : 0;
  if (n == 0 || n > max || p[0] != '/')
    return false;
  if (n == 1)
    return root_ok;
  if (p[n - 1] == '/')
    return false;
  for (const char *c = p; *c; c++)
    {
      if ((unsigned char)*c < 0x20 || *c == 0x7f)
        return false;
      if (*c != '/')
        continue;
      const char *e = c + 1;
      size_t len = strcspn (e, "/");
      if (len == 0 || (len == 1 && e[0] == '.') || (len == 2 && e[0] == '.' && e[1] == '.'))
        return false;
    }
  return true;
}

bool
dockerd_root_dir_valid (const char *p)
{
  return path_clean (p, DOCKERD_ROOT_DIR_MAX, false);
}

bool
dockerd_made_dir (const char *root_dir, const char *id, const char *dir)
{
  if (!dockerd_root_dir_valid (root_dir) || id == NULL || *id == '\0' || strchr (id, '/')
      || dir == NULL)
    return false;
  size_t rl = strlen (root_dir);
  static const char mid[] = "/containers/";
  return strncmp (dir, root_dir, rl) == 0 && strncmp (dir + rl, mid, sizeof (mid) - 1) == 0
         && strcmp (dir + rl + sizeof (mid) - 1, id) == 0;
}

/* A JSON number that is a whole decimal in 0..max, from its text. */
static bool
get_u64 (yajl_val v, unsigned long long max, unsigned long long *ret)
{
  if (v == NULL || v->type != yajl_t_number || v->u.number.r == NULL)
    return false;
  const char *r = v->u.number.r;
  size_t n = strlen (r);
  if (n == 0 || n > 20 || strspn (r, "0123456789") != n || (r[0] == '0' && n > 1))
    return false;
  errno = 0;
  unsigned long long x = strtoull (r, NULL, 10);
  if (errno != 0 || x > max)
    return false;
  *ret = x;
  return true;
}

/* [a, b]: two whole numbers. */
static bool
get_pair (yajl_val obj, const char *key, unsigned long long max_a, unsigned long long *a,
          unsigned long long *b)
{
  yajl_val v = json_get_array (obj, key);
  return v && v->u.array.len == 2 && get_u64 (v->u.array.values[0], max_a, a)
         && get_u64 (v->u.array.values[1], UINT64_MAX, b);
}

static int
entry_parse (yajl_val o, size_t i, struct dockerd_facts *f, struct podshim_error **err)
{
  if (o == NULL || o->type != yajl_t_object)
    return podshim_error_set (err, 0, "entry %zu is not an object", i);
  const char *sock = json_get_string (o, "socket");
  const char *version = json_get_string (o, "version");
  const char *root = json_get_string (o, "rootDir");
  yajl_val bridge = json_get (o, "bridge");
  unsigned long long lpid, dpid;
  if (!path_clean (sock, SOCK_PATH_MAX, false))
    return podshim_error_set (err, 0, "entry %zu: no socket path", i);
  if (!get_pair (o, "socketFile", UINT64_MAX, &f->id.sock_dev, &f->id.sock_ino)
      || !get_pair (o, "listener", PID_LIMIT, &lpid, &f->id.listener_start)
      || !get_pair (o, "daemon", PID_LIMIT, &dpid, &f->id.start) || lpid == 0 || dpid == 0)
    return podshim_error_set (err, 0, "entry %zu: no socketFile, listener or daemon", i);
  if (bridge == NULL || (bridge->type != yajl_t_true && bridge->type != yajl_t_false))
    return podshim_error_set (err, 0, "entry %zu: no bridge", i);
  if (version == NULL || (*version && !dockerd_version_valid (version)))
    return podshim_error_set (err, 0, "entry %zu: bad version", i);
  if (!dockerd_root_dir_valid (root))
    return podshim_error_set (err, 0, "entry %zu: bad rootDir", i);
  f->id.listener = (pid_t)lpid;
  f->id.pid = (pid_t)dpid;
  f->bridge = bridge->type == yajl_t_true;
  f->id.sock = xstrdup_or_null (sock);
  f->version = xstrdup_or_null (version);
  f->root_dir = xstrdup_or_null (root);
  return 0;
}

int
dockerd_facts_parse (const char *buf, size_t len, struct dockerd_facts **ret, size_t *ret_n,
                     struct podshim_error **err)
{
  *ret = NULL;
  *ret_n = 0;
  if (len > DOCKERD_FACTS_FILE_MAX)
    return podshim_error_set (err, 0, "larger than %d bytes", DOCKERD_FACTS_FILE_MAX);
  cleanup_json yajl_val doc = NULL;
  if (json_parse (buf, len, STATEDIR_DOCKERD_FACTS, &doc, err) < 0)
    return -1;
  yajl_val format = json_get (doc, "format");
  unsigned long long fv = 0;
  /* A cache: a newer podshim's is not used (and ours replaces it). */
  if (get_u64 (format, UINT64_MAX, &fv) && fv > DOCKERD_FACTS_FORMAT)
    return state_format_newer (fv, DOCKERD_FACTS_FORMAT, err);
  if (!get_u64 (format, UINT64_MAX, &fv) || fv != DOCKERD_FACTS_FORMAT)
    return podshim_error_set (err, 0, "not format %d", DOCKERD_FACTS_FORMAT);
  yajl_val daemons = json_get_array (doc, "daemons");
  if (daemons == NULL || daemons->u.array.len > DOCKERD_FACTS_MAX)
    return podshim_error_set (err, 0, "no daemons, or more than %d", DOCKERD_FACTS_MAX);
  size_t n = daemons->u.array.len;
  struct dockerd_facts *v = calloc (n ? n : 1, sizeof (*v));
  if (v == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    if (entry_parse (daemons->u.array.values[i], i, &v[i], err) < 0)
      {
        dockerd_facts_free_all (v, n);
        return -1;
      }
  *ret = v;
  *ret_n = n;
  return 0;
}

static void
cleanup_genp (yajl_gen *g)
{
  if (*g)
    yajl_gen_free (*g);
}

static yajl_gen_status
gen_str (yajl_gen g, const char *s)
{
  return yajl_gen_string (g, (const unsigned char *)s, strlen (s));
}

static yajl_gen_status
gen_pair (yajl_gen g, const char *key, unsigned long long a, unsigned long long b)
{
  char t[2][24];
  int la = snprintf (t[0], sizeof (t[0]), "%llu", a),
      lb = snprintf (t[1], sizeof (t[1]), "%llu", b);
  yajl_gen_status s = gen_str (g, key);
  if (s == yajl_gen_status_ok)
    s = yajl_gen_array_open (g);
  if (s == yajl_gen_status_ok)
    s = yajl_gen_number (g, t[0], (size_t)la);
  if (s == yajl_gen_status_ok)
    s = yajl_gen_number (g, t[1], (size_t)lb);
  if (s == yajl_gen_status_ok)
    s = yajl_gen_array_close (g);
  return s;
}

static yajl_gen_status
gen_entry (yajl_gen g, const struct dockerd_facts *f)
{
  yajl_gen_status s = yajl_gen_map_open (g);
  const char *strs[][2] = { { "socket", f->id.sock },
                            { "version", f->version ? f->version : "" },
                            { "rootDir", f->root_dir } };
  for (size_t i = 0; i < 3 && s == yajl_gen_status_ok; i++)
    if ((s = gen_str (g, strs[i][0])) == yajl_gen_status_ok)
      s = gen_str (g, strs[i][1]);
  if (s == yajl_gen_status_ok)
    s = gen_pair (g, "socketFile", f->id.sock_dev, f->id.sock_ino);
  if (s == yajl_gen_status_ok)
    s = gen_pair (g, "listener", (unsigned long long)f->id.listener, f->id.listener_start);
  if (s == yajl_gen_status_ok)
    s = gen_pair (g, "daemon", (unsigned long long)f->id.pid, f->id.start);
  if (s == yajl_gen_status_ok && (s = gen_str (g, "bridge")) == yajl_gen_status_ok)
    s = yajl_gen_bool (g, f->bridge);
  if (s == yajl_gen_status_ok)
    s = yajl_gen_map_close (g);
  return s;
}

char *
dockerd_facts_format (const struct dockerd_facts *v, size_t n, size_t *ret_len)
{
  __attribute__ ((cleanup (cleanup_genp))) yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    abort ();
  yajl_gen_config (g, yajl_gen_validate_utf8, 1);
  yajl_gen_status s = yajl_gen_map_open (g);
  if (s == yajl_gen_status_ok && (s = gen_str (g, "format")) == yajl_gen_status_ok)
    s = yajl_gen_integer (g, DOCKERD_FACTS_FORMAT);
  if (s == yajl_gen_status_ok && (s = gen_str (g, "daemons")) == yajl_gen_status_ok)
    s = yajl_gen_array_open (g);
  for (size_t i = 0; i < n && i < DOCKERD_FACTS_MAX && s == yajl_gen_status_ok; i++)
    {
      if (v[i].id.sock == NULL || v[i].root_dir == NULL)
        return NULL;
      s = gen_entry (g, &v[i]);
    }
  if (s == yajl_gen_status_ok)
    s = yajl_gen_array_close (g);
  if (s == yajl_gen_status_ok)
    s = yajl_gen_map_close (g);
  if (s != yajl_gen_status_ok)
    return NULL;
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  char *out = malloc (len + 2);
  if (out == NULL)
    abort ();
  memcpy (out, buf, len);
  out[len++] = '\n';
  out[len] = '\0';
  *ret_len = len;
  return out;
}

int
dockerd_facts_from_answers (const char *info_body, int bridge_status, struct dockerd_facts *f,
                            struct podshim_error **err)
{
  if (bridge_status != 200 && bridge_status != 404)
    return podshim_error_set (err, 0, "GET /networks/bridge answered HTTP %d", bridge_status);
  cleanup_json yajl_val info = NULL;
  if (json_parse (info_body, strlen (info_body), "the Docker daemon's /info", &info, err) < 0)
    return -1;
  const char *root = json_get_string (info, "DockerRootDir");
  const char *v = json_get_string (info, "ServerVersion");
  if (!dockerd_root_dir_valid (root))
    return podshim_error_set (err, 0, "GET /info gave no DockerRootDir podshim can use");
  free (f->root_dir);
  free (f->version);
  f->root_dir = xstrdup_or_null (root);
  f->version = xstrdup_or_null (dockerd_version_valid (v) ? v : "");
  f->bridge = bridge_status == 200;
  return 0;
}

bool
dockerd_facts_match (const struct dockerd_id *cached, const struct dockerd_id *now)
{
  if (cached->sock == NULL || now->sock == NULL || strcmp (cached->sock, now->sock) != 0
      || cached->sock_dev != now->sock_dev || cached->sock_ino != now->sock_ino
      || cached->listener != now->listener || cached->listener_start != now->listener_start)
    return false;
  if (now->pid != 0)
    return cached->pid == now->pid && cached->start == now->start;
  /* A listener made for the daemon (socket activation) outlives it: the
     daemon that held it then, while it runs. */
  return cached->pid != cached->listener && proc_is_alive (cached->pid, cached->start);
}

int
dockerd_identify (const char *sock, int probe_ms, struct dockerd_id *ret,
                  struct podshim_error **err)
{
  struct dockerd_id id = { 0 };
  pid_t listener = 0;
  {
    cleanup_close int fd = unix_connect (sock, sockpeer_now_ms () + probe_ms, err);
    if (fd < 0)
      return -1;
    cleanup_error struct podshim_error *e = NULL;
    if (unix_peer_pid (fd, &listener, &e) < 0 || listener == 0)
      return 1;
  }
  /* After the connection: a socket file replaced meanwhile is another bind,
     and matches no entry. */
  struct stat st;
  char comm[16];
  if (strlen (sock) > SOCK_PATH_MAX || stat (sock, &st) < 0 || !S_ISSOCK (st.st_mode)
      || proc_comm_start (listener, comm, &id.listener_start) < 0)
    return 1;
  id.sock_dev = (unsigned long long)st.st_dev;
  id.sock_ino = (unsigned long long)st.st_ino;
  id.listener = listener;
  if (strcmp (comm, DOCKERD_COMM) == 0)
    {
      id.pid = listener;
      id.start = id.listener_start;
    }
  id.sock = xstrdup_or_null (sock);
  *ret = id;
  return 0;
}

int
dockerd_identify_holder (struct dockerd_id *id)
{
  unsigned long long ino = 0;
  if (id->pid != 0)
    return 0;
  if (unix_listener_inode (id->sock_dev, id->sock_ino, &ino) < 0)
    return 1;
  pid_t d = proc_socket_holder (DOCKERD_COMM, ino);
  if (d <= 0 || proc_start_time (d, &id->start) < 0)
    return 1;
  id->pid = d;
  return 0;
}

void
dockerd_facts_load (int statefd, struct dockerd_facts **ret, size_t *ret_n)
{
  *ret = NULL;
  *ret_n = 0;
  cleanup_close int fd = openat (statefd, STATEDIR_DOCKERD_FACTS,
                                 O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    return;
  cleanup_error struct podshim_error *e = NULL;
  char buf[DOCKERD_FACTS_FILE_MAX + 1];
  size_t len = 0;
  if (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 022))
    podshim_error_set (&e, 0, "not a regular file of ours that only we may write");
  else
    {
      ssize_t r;
      while (len < sizeof (buf)
             && ((r = read (fd, buf + len, sizeof (buf) - len)) > 0 || (r < 0 && errno == EINTR)))
        len += r > 0 ? (size_t)r : 0;
      dockerd_facts_parse (buf, len, ret, ret_n, &e);
    }
  if (e)
    podshim_log (PODSHIM_LOG_DEBUG, "podshim: ignoring %s (rewritten when a daemon is asked): %s",
                 STATEDIR_DOCKERD_FACTS, e->msg);
}

void
dockerd_facts_store (int statefd, const struct dockerd_facts *f)
{
  struct dockerd_facts *old = NULL;
  size_t n_old = 0;
  dockerd_facts_load (statefd, &old, &n_old);
  struct dockerd_facts keep[DOCKERD_FACTS_MAX];
  size_t n = 0;
  keep[n++] = *f;
  for (size_t i = 0; i < n_old && n < DOCKERD_FACTS_MAX; i++)
    if (strcmp (old[i].id.sock, f->id.sock) != 0 && proc_is_alive (old[i].id.pid, old[i].id.start))
      keep[n++] = old[i];
  size_t len = 0;
  cleanup_free char *buf = dockerd_facts_format (keep, n, &len);
  dockerd_facts_free_all (old, n_old);
  cleanup_error struct podshim_error *e = NULL;
  struct stat st;
  /* A file that is not ours is replaced, never written through. */
  if (fstatat (statefd, STATEDIR_DOCKERD_FACTS, &st, AT_SYMLINK_NOFOLLOW) == 0
      && (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 077)))
    (void)unlinkat (statefd, STATEDIR_DOCKERD_FACTS, 0);
  if (buf == NULL)
    podshim_error_set (&e, 0, "an entry is not UTF-8");
  else
    write_file_atomic_at (statefd, STATEDIR_DOCKERD_FACTS, buf, len, 0600, &e);
  if (e)
    podshim_log (PODSHIM_LOG_DEBUG, "podshim: cannot keep what the Docker daemon said: %s", e->msg);
}

int
dockerd_facts_get (const char *state_dir, const char *sock, int probe_ms, int timeout_ms,
                   struct dockerd_facts *ret, bool *ret_cached, struct podshim_error **err)
{
  cleanup_dockerd_facts struct dockerd_facts f = { 0 };
  int r = dockerd_identify (sock, probe_ms, &f.id, err);
  if (r != 0)
    return r;
  cleanup_error struct podshim_error *se = NULL;
  cleanup_close int statefd = state_dir ? statedir_open (state_dir, true, &se) : -1;
  if (statefd >= 0)
    {
      struct dockerd_facts *v = NULL;
      size_t n = 0;
      dockerd_facts_load (statefd, &v, &n);
      for (size_t i = 0; i < n; i++)
        if (dockerd_facts_match (&v[i].id, &f.id))
          {
            *ret = v[i];
            memset (&v[i], 0, sizeof (v[i]));
            dockerd_facts_free_all (v, n);
            *ret_cached = true;
            return 0;
          }
      dockerd_facts_free_all (v, n);
    }
  else
    podshim_log (PODSHIM_LOG_DEBUG, "podshim: no cache of Docker daemons: %s", se->msg);
  if (dockerd_identify_holder (&f.id) != 0)
    return 1;
  struct docker_api a = { .sock = sock };
  cleanup_free char *info = NULL, *bridge = NULL;
  int is = 0, bs = 0;
  if (docker_api_ping (&a, probe_ms, err) < 0
      || docker_api_get (&a, "/info", timeout_ms, &is, &info, err) < 0)
    return -1;
  if (is != 200)
    return podshim_error_set (err, 0, "GET /info answered HTTP %d", is);
  if (docker_api_get (&a, "/networks/bridge", timeout_ms, &bs, &bridge, err) < 0
      || dockerd_facts_from_answers (info, bs, &f, err) < 0)
    return -1;
  if (statefd >= 0)
    dockerd_facts_store (statefd, &f);
  *ret = f;
  memset (&f, 0, sizeof (f));
  *ret_cached = false;
  return 0;
}

#include "config.h"
#include "startwait.h"
#include "procutil.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The volume of r holding container path p: index, and p's rest relative to it. */
static int
volume_of (const struct start_wait *r, const char *p, const char **ret_rest)
{
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < r->n_vols; i++)
    {
      size_t l = strlen (r->vol_dest[i]);
      if (strncmp (p, r->vol_dest[i], l) == 0 && (p[l] == '/' || p[l] == '\0') && l > best_len)
        {
          best = (int)i;
          best_len = l;
        }
    }
  if (best >= 0)
    *ret_rest = p[best_len] == '/' ? p + best_len + 1 : ".";
  return best;
}

int
wait_check (const struct start_wait *r, bool shares_net, struct podshim_error **err)
{
  for (size_t i = 0; i < r->n_wait; i++)
    {
      const char *c = r->wait[i];
      const char *rest;
      if (wait_tcp_port (c) > 0 && !shares_net)
        return podshim_error_set (err, 0,
                                  "start condition `%s` needs a member that shares the pod's"
                                  " network namespace (podshim.share with `net`)",
                                  c);
      if (strncmp (c, "file:", 5) == 0 && volume_of (r, c + 5, &rest) < 0)
        return podshim_error_set (err, 0,
                                  "start condition `%s`: the path is in none of this member's"
                                  " pod volumes (podshim.volumes)",
                                  c);
    }
  return 0;
}

int
wait_tcp_table_listens (int fd, int port)
{
  char buf[4096];
  size_t have = 0, total = 0;
  bool header = true;
  for (;;)
    {
      ssize_t n = read (fd, buf + have, sizeof (buf) - 1 - have);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return 0;
      have += (size_t)n;
      total += (size_t)n;
      buf[have] = '\0';
      char *line = buf, *nl;
      while ((nl = memchr (line, '\n', (size_t)(buf + have - line))) != NULL)
        {
          *nl = '\0';
          unsigned lport, st;
          /* "  0: 0100007F:1F90 00000000:0000 0A ..." (tcp6: 32 hex digits) */
          if (!header
              && sscanf (line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &lport, &st) == 2)
            {
              if (st != 0x0A)
                return 0; /* past the listening sockets */
              if ((int)lport == port)
                return 1;
            }
          header = false;
          line = nl + 1;
        }
      size_t rest = (size_t)(buf + have - line);
      /* A line longer than a table's, or enough read. */
      if (rest == sizeof (buf) - 1 || total >= WAIT_TCP_READ_MAX)
        return 0;
      memmove (buf, line, rest);
      have = rest;
    }
}

/* Is something listening on port in the network namespace of the process of
   procfd (the member's init, already in the pod's)? -1 when it is gone. */
static int
tcp_listening (int procfd, unsigned long long start, int port)
{
  static const char *const files[] = { "net/tcp", "net/tcp6" };
  if (!proc_is_alive_at (procfd, start))
    return -1;
  bool any = false;
  for (int f = 0; f < 2; f++)
    {
      cleanup_close int fd = openat (procfd, files[f], O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      any = true;
      if (wait_tcp_table_listens (fd, port) == 1)
        return 1;
    }
  return any ? 0 : -1;
}

/* The member's init, checked for its start time (read now when the record
   has none): -1 when it is gone. */
static int
open_init (const struct start_wait *r, unsigned long long *ret_start)
{
  unsigned long long start = r->start;
  if (r->pid <= 0 || (start == 0 && proc_start_time (r->pid, &start) < 0))
    return -1;
  *ret_start = start;
  int fd = proc_open_at_start (r->pid, start);
  return fd < 0 ? -1 : fd;
}

/* Does rest exist under the directory src, resolved as if src were / ? */
static int
file_exists_in (const char *src, const char *rest)
{
  cleanup_close int root = open (src, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0)
    return -1;
  struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
  int fd = (int)syscall (SYS_openat2, root, rest, &how, sizeof (how));
  if (fd >= 0)
    {
      close (fd);
      return 1;
    }
  if (errno != ENOSYS)
    return 0;
  /* No openat2: walk the components without following any symlink. */
  cleanup_free char *copy = strdup (rest);
  if (copy == NULL)
    abort ();
  cleanup_close int cur = dup (root);
  char *save = NULL;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      int next = openat (cur, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        return 0;
      close (cur);
      cur = next;
      struct stat st;
      /* O_PATH|O_NOFOLLOW opens a symlink itself: it is not followed, and
         does not count as the file. */
      if (fstat (cur, &st) < 0 || S_ISLNK (st.st_mode))
        return 0;
    }
  return 1;
}

static int
condition_holds (const struct start_wait *r, int procfd, unsigned long long start, const char *cond,
                 struct podshim_error **err)
{
  int port = wait_tcp_port (cond);
  if (port > 0)
    {
      int l = procfd >= 0 ? tcp_listening (procfd, start, port) : -1;
      if (l < 0)
        return podshim_error_set (err, 0, "start condition `%s`: the container's process is gone",
                                  cond);
      return l;
    }
  const char *rest;
  int v = strncmp (cond, "file:", 5) == 0 ? volume_of (r, cond + 5, &rest) : -1;
  if (v < 0)
    return podshim_error_set (err, 0, "start condition `%s` cannot be evaluated", cond);
  int e = file_exists_in (r->vol_src[v], rest);
  if (e < 0)
    return podshim_error_set (err, errno, "start condition `%s`: cannot open the pod volume", cond);
  return e;
}

int
wait_condition_holds (const struct start_wait *r, const char *cond, struct podshim_error **err)
{
  unsigned long long start = 0;
  cleanup_close int procfd = wait_tcp_port (cond) > 0 ? open_init (r, &start) : -1;
  return condition_holds (r, procfd, start, cond, err);
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
wait_conditions (const struct start_wait *r, const char *id, struct podshim_error **err)
{
  int64_t begin = now_ms ();
  int64_t deadline = begin + (int64_t)r->wait_timeout * 1000;
  /* Opened once: every poll reads that process's tables, or fails. */
  unsigned long long start = 0;
  cleanup_close int procfd = -1;
  for (size_t i = 0; procfd < 0 && i < r->n_wait; i++)
    if (wait_tcp_port (r->wait[i]) > 0)
      procfd = open_init (r, &start);
  long poll_ms = WAIT_POLL_MS;
  size_t i = 0; /* conditions before i hold (and are not re-checked) */
  for (;;)
    {
      for (; i < r->n_wait; i++)
        {
          int h = condition_holds (r, procfd, start, r->wait[i], err);
          if (h < 0)
            return podshim_error_wrap (err, "start of `%s`", id);
          if (h == 0)
            break;
        }
      if (i == r->n_wait)
        return 0;
      int64_t now = now_ms ();
      if (now >= deadline)
        return podshim_error_set (err, 0,
                                  "start of `%s`: start condition `%s` not met after %d s"
                                  " (podshim.wait)",
                                  id, r->wait[i], r->wait_timeout);
      /* After the first second, less often: a wait may last an hour. */
      if (now - begin >= 1000 && poll_ms < WAIT_POLL_MAX_MS)
        poll_ms = poll_ms * 3 / 2 > WAIT_POLL_MAX_MS ? WAIT_POLL_MAX_MS : poll_ms * 3 / 2;
      int64_t nap = deadline - now < poll_ms ? deadline - now : poll_ms;
      struct timespec ts = { nap / 1000, (nap % 1000) * 1000000L };
      while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
        ;
    }
}

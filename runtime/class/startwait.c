#include "config.h"
#include "startwait.h"

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

/* A process in the pod's network namespace: the member's own init (created,
   so already in it). The one place to change if the pod gets a holder. */
static pid_t
netns_pid (const struct start_wait *r)
{
  return r->pid;
}

/* Is something listening on port in /proc/pid/net/{tcp,tcp6}? -1 when the
   process is gone. */
static int
tcp_listening (pid_t pid, int port)
{
  static const char *const files[] = { "tcp", "tcp6" };
  bool any = false;
  for (int f = 0; f < 2; f++)
    {
      char path[64];
      snprintf (path, sizeof (path), "/proc/%d/net/%s", (int)pid, files[f]);
      cleanup_fclose FILE *fp = fopen (path, "re");
      if (fp == NULL)
        continue;
      any = true;
      char line[512];
      if (fgets (line, sizeof (line), fp) == NULL)
        continue; /* the header */
      while (fgets (line, sizeof (line), fp))
        {
          unsigned lport, st;
          /* "  0: 0100007F:1F90 00000000:0000 0A ..." (tcp6: 32 hex digits) */
          if (sscanf (line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &lport, &st) == 2
              && st == 0x0A && (int)lport == port)
            return 1;
        }
    }
  return any ? 0 : -1;
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

int
wait_condition_holds (const struct start_wait *r, const char *cond, struct podshim_error **err)
{
  int port = wait_tcp_port (cond);
  if (port > 0)
    {
      pid_t pid = netns_pid (r);
      int l = pid > 0 ? tcp_listening (pid, port) : -1;
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
  int64_t deadline = now_ms () + (int64_t)r->wait_timeout * 1000;
  size_t i = 0; /* conditions before i hold (and are not re-checked) */
  for (;;)
    {
      for (; i < r->n_wait; i++)
        {
          int h = wait_condition_holds (r, r->wait[i], err);
          if (h < 0)
            return podshim_error_wrap (err, "start of `%s`", id);
          if (h == 0)
            break;
        }
      if (i == r->n_wait)
        return 0;
      if (now_ms () >= deadline)
        return podshim_error_set (err, 0,
                                  "start of `%s`: start condition `%s` not met after %d s"
                                  " (podshim.wait)",
                                  id, r->wait[i], r->wait_timeout);
      struct timespec ts = { 0, WAIT_POLL_MS * 1000000L };
      while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
        ;
    }
}

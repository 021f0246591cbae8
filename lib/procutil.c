#include "config.h"
#include "procutil.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
read_stat_at (int dirfd, const char *path, char *buf, size_t size)
{
  cleanup_close int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = read (fd, buf, size - 1);
  if (n < 0)
    return -errno;
  buf[n] = '\0';
  return 0;
}

static int
read_stat (pid_t pid, char *buf, size_t size)
{
  char path[64];
  snprintf (path, sizeof (path), "/proc/%d/stat", (int)pid);
  return read_stat_at (AT_FDCWD, path, buf, size);
}

/* Fields after the command (which may contain spaces and parens). */
static const char *
after_comm (const char *buf)
{
  const char *p = strrchr (buf, ')');
  return p ? p + 2 : NULL;
}

static int
parse_start_time (const char *buf, unsigned long long *ret)
{
  const char *p = after_comm (buf);
  if (p == NULL)
    return -EIO;
  /* p starts at field 3 (state); start time is field 22. */
  for (int field = 3; field < 22; field++)
    {
      p = strchr (p, ' ');
      if (p == NULL)
        return -EIO;
      p++;
    }
  char *end;
  errno = 0;
  unsigned long long v = strtoull (p, &end, 10);
  if (errno != 0 || end == p)
    return -EIO;
  *ret = v;
  return 0;
}

int
proc_comm_start (pid_t pid, char comm[16], unsigned long long *ret_start)
{
  if (pid <= 0)
    return -EINVAL;
  char buf[1024];
  int r = read_stat (pid, buf, sizeof (buf));
  if (r < 0)
    return r;
  const char *open_ = strchr (buf, '('), *close_ = strrchr (buf, ')');
  if (open_ == NULL || close_ == NULL || close_ < open_ || close_ - open_ - 1 > 15)
    return -EIO;
  r = parse_start_time (buf, ret_start);
  if (r < 0)
    return r;
  memcpy (comm, open_ + 1, (size_t)(close_ - open_ - 1));
  comm[close_ - open_ - 1] = '\0';
  return 0;
}

int
proc_start_time (pid_t pid, unsigned long long *ret)
{
  char comm[16];
  return proc_comm_start (pid, comm, ret);
}

static bool
stat_is_alive (const char *buf, unsigned long long start_time)
{
  const char *p = after_comm (buf);
  if (p == NULL || *p == 'Z' || *p == 'X')
    return false;
  /* Field 9, flags: PF_EXITING (0x4) means it is dying (a killed PID 1 waits
     in the kernel for its namespace to empty): dead to us. */
  const char *f = p;
  for (int field = 3; f && field < 9; field++)
    {
      f = strchr (f, ' ');
      if (f)
        f++;
    }
  if (f && (strtoul (f, NULL, 10) & 0x4))
    return false;
  unsigned long long st;
  return parse_start_time (buf, &st) == 0 && st == start_time;
}

bool
proc_is_alive (pid_t pid, unsigned long long start_time)
{
  char buf[1024];
  return pid > 0 && read_stat (pid, buf, sizeof (buf)) == 0 && stat_is_alive (buf, start_time);
}

bool
proc_is_alive_at (int procfd, unsigned long long start_time)
{
  char buf[1024];
  return read_stat_at (procfd, "stat", buf, sizeof (buf)) == 0 && stat_is_alive (buf, start_time);
}

int
proc_open_at_start (pid_t pid, unsigned long long start)
{
  if (pid <= 0)
    return -ESRCH;
  char path[64];
  snprintf (path, sizeof (path), "/proc/%d", (int)pid);
  int procfd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (procfd >= 0 && !proc_is_alive_at (procfd, start))
    cleanup_closep (&procfd);
  return procfd < 0 ? -ESRCH : procfd;
}

int
proc_open_ns (pid_t pid, unsigned long long start, const char *name, struct podshim_error **err)
{
  cleanup_close int procfd = proc_open_at_start (pid, start);
  if (procfd < 0)
    return -ESRCH;
  char path[64];
  snprintf (path, sizeof (path), "ns/%s", name);
  int fd = openat (procfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      /* It may have exited meanwhile (an exiting process's links fail
         with other errors than ENOENT). */
      if (errno == ENOENT || errno == ESRCH || !proc_is_alive_at (procfd, start))
        return -ESRCH;
      return podshim_error_set (err, errno, "cannot open `/proc/%d/%s`", (int)pid, path);
    }
  return fd;
}

pid_t
proc_parent_at (int procfd)
{
  char buf[1024];
  if (read_stat_at (procfd, "stat", buf, sizeof (buf)) < 0)
    return 0;
  const char *p = after_comm (buf);
  /* "S PPID ...": the state, then the parent. */
  if (p == NULL || p[0] == '\0' || p[1] != ' ')
    return 0;
  long v = strtol (p + 2, NULL, 10);
  return v > 0 && v <= INT_MAX ? (pid_t)v : 0;
}

int
proc_uid_at (int procfd)
{
  cleanup_close int fd = openat (procfd, "status", O_RDONLY | O_CLOEXEC);
  char buf[4096];
  ssize_t n = fd >= 0 ? read (fd, buf, sizeof (buf) - 1) : -1;
  if (n <= 0)
    return -ESRCH;
  buf[n] = '\0';
  const char *uid = strstr (buf, "\nUid:");
  if (uid == NULL)
    return -ESRCH;
  long v = strtol (uid + 5, NULL, 10);
  return v >= 0 && v <= INT_MAX ? (int)v : -ESRCH;
}

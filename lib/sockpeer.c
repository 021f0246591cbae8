#include "config.h"
#include "sockpeer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>

#define TCP_LISTEN_STATE 10 /* the kernel's TCP_LISTEN, as unix sockets use it */

long long
sockpeer_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
unix_connect (const char *path, long long deadline_ms, struct podshim_error **err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof (sa.sun_path))
    return podshim_error_set (err, ENAMETOOLONG, "cannot connect to `%.200s`", path);
  strcpy (sa.sun_path, path);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot make a socket");
  while (connect (fd, (struct sockaddr *)&sa, sizeof (sa)) < 0)
    {
      /* AF_UNIX: EAGAIN is a full backlog, not a connection in progress. */
      if (errno == EAGAIN && sockpeer_now_ms () < deadline_ms)
        {
          struct timespec d = { 0, 10 * 1000 * 1000 };
          nanosleep (&d, NULL);
          continue;
        }
      if (errno == EINTR)
        continue;
      return podshim_error_set (err, errno == EAGAIN ? ETIMEDOUT : errno, "cannot connect to `%s`",
                                path);
    }
  return steal_fd (&fd);
}

int
unix_peer_pid (int fd, pid_t *ret, struct podshim_error **err)
{
  struct ucred cred = { 0 };
  socklen_t len = sizeof (cred);
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return podshim_error_set (err, errno, "cannot get the socket's peer (SO_PEERCRED)");
  *ret = cred.pid > 0 ? cred.pid : 0;
  return 0;
}

/* The listeners' (dev, ino) attribute of one sock_diag answer, if it is the
 * one wanted: its socket inode, else 0. */
static unsigned long long
diag_match (const struct nlmsghdr *h, uint32_t kdev, uint32_t ino)
{
  if (h->nlmsg_len < NLMSG_LENGTH (sizeof (struct unix_diag_msg)))
    return 0;
  const struct unix_diag_msg *m = NLMSG_DATA (h);
  size_t off = NLMSG_ALIGN (sizeof (*m));
  size_t len = h->nlmsg_len - NLMSG_LENGTH (0);
  while (off + sizeof (struct nlattr) <= len)
    {
      const struct nlattr *a = (const struct nlattr *)((const char *)m + off);
      if (a->nla_len < sizeof (*a) || off + a->nla_len > len)
        return 0;
      if ((a->nla_type & NLA_TYPE_MASK) == UNIX_DIAG_VFS
          && a->nla_len >= NLA_HDRLEN + sizeof (struct unix_diag_vfs))
        {
          struct unix_diag_vfs v;
          memcpy (&v, (const char *)a + NLA_HDRLEN, sizeof (v));
          return v.udiag_vfs_dev == kdev && v.udiag_vfs_ino == ino ? m->udiag_ino : 0;
        }
      off += NLA_ALIGN (a->nla_len);
    }
  return 0;
}

int
unix_listener_inode (unsigned long long dev, unsigned long long ino, unsigned long long *ret)
{
  /* sock_diag gives the bound file's device as the kernel encodes it
     (major << 20 | minor) and both inodes in 32 bits. */
  uint32_t kdev = (uint32_t)((major ((dev_t)dev) << 20) | (minor ((dev_t)dev) & 0xfffff));
  cleanup_close int nl = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0)
    return -errno;
  struct
  {
    struct nlmsghdr h;
    struct unix_diag_req r;
  } req = {
    .h = { .nlmsg_len = sizeof (req),
           .nlmsg_type = SOCK_DIAG_BY_FAMILY,
           .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
           .nlmsg_seq = 1 },
    .r = { .sdiag_family = AF_UNIX,
           .udiag_states = 1U << TCP_LISTEN_STATE,
           .udiag_show = UDIAG_SHOW_VFS },
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto (nl, &req, sizeof (req), 0, (struct sockaddr *)&kernel, sizeof (kernel)) < 0)
    return -errno;
  unsigned long long found = 0;
  /* A listener per host daemon: a few dozen answers, in a few datagrams. */
  for (int round = 0; round < 4096; round++)
    {
      long buf[8192 / sizeof (long)];
      ssize_t n = recv (nl, buf, sizeof (buf), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK (h, (size_t)n);
           h = NLMSG_NEXT (h, n))
        {
          if (h->nlmsg_type == NLMSG_DONE)
            {
              if (found == 0)
                return -ENOENT;
              *ret = found;
              return 0;
            }
          if (h->nlmsg_type == NLMSG_ERROR)
            {
              const struct nlmsgerr *e = NLMSG_DATA (h);
              return h->nlmsg_len >= NLMSG_LENGTH (sizeof (*e)) && e->error < 0 ? e->error : -EIO;
            }
          if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && found == 0)
            found = diag_match (h, kdev, (uint32_t)ino);
        }
    }
  return -EIO;
}

bool
proc_holds_socket (pid_t pid, unsigned long long sock_ino)
{
  char path[64], want[64];
  snprintf (path, sizeof (path), "/proc/%d/fd", (int)pid);
  int n = snprintf (want, sizeof (want), "socket:[%llu]", sock_ino);
  int dfd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = dfd >= 0 ? fdopendir (dfd) : NULL;
  if (d == NULL)
    {
      if (dfd >= 0)
        (void)close (dfd);
      return false;
    }
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      char link[64];
      if (de->d_name[0] == '.')
        continue;
      ssize_t l = readlinkat (dirfd (d), de->d_name, link, sizeof (link));
      if (l == n && memcmp (link, want, (size_t)n) == 0)
        return true;
    }
  return false;
}

pid_t
proc_socket_holder (const char *comm, unsigned long long sock_ino)
{
  cleanup_dir DIR *d = opendir ("/proc");
  if (d == NULL)
    return 0;
  size_t cl = strlen (comm);
  pid_t found = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      char *end;
      long pid = strtol (de->d_name, &end, 10);
      if (*end != '\0' || pid <= 0 || pid > INT32_MAX)
        continue;
      char path[64], name[32];
      snprintf (path, sizeof (path), "%ld/comm", pid);
      cleanup_close int fd = openat (dirfd (d), path, O_RDONLY | O_CLOEXEC);
      ssize_t r = fd >= 0 ? read (fd, name, sizeof (name)) : -1;
      if (r != (ssize_t)cl + 1 || memcmp (name, comm, cl) != 0 || name[cl] != '\n'
          || !proc_holds_socket ((pid_t)pid, sock_ino))
        continue;
      if (found)
        return -1;
      found = (pid_t)pid;
    }
  return found;
}

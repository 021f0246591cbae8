#include "config.h"
#include "sandbox.h"
#include "fsutil.h"
#include "log.h"
#include "procutil.h"
#include "pausewire.h"
#include "statedir.h"
#include "stateformat.h"
#include "spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS_DIR STATEDIR_POD_NS

/* Index 0 (net), 1 (ipc), 2 (uts) of join_fd. */
static const int sandbox_clone[] = { CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS };

/* /proc/PID/ns names for our bits. */
static const char *
proc_ns_name (unsigned bit)
{
  return bit == POD_NS_NET ? "net" : pod_ns_name (bit);
}

static void
child_fail (int fd, const char *step)
{
  struct pause_report r = { .errno_ = errno ? errno : EIO };
  snprintf (r.step, sizeof (r.step), "%s", step);
  ssize_t w = write (fd, &r, sizeof (r));
  (void)w;
  _exit (1);
}

static int
loopback_up (void)
{
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  struct ifreq ifr;
  memset (&ifr, 0, sizeof (ifr));
  strcpy (ifr.ifr_name, "lo");
  int r = ioctl (s, SIOCGIFFLAGS, &ifr);
  if (r == 0)
    {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      r = ioctl (s, SIOCSIFFLAGS, &ifr);
    }
  int e = errno;
  close (s);
  errno = e;
  return r;
}

static int
pidfd_open_ (pid_t pid)
{
  return (int)syscall (SYS_pidfd_open, pid, 0);
}

int
sandbox_open_ns (pid_t pid, unsigned long long start, unsigned bit, struct podshim_error **err)
{
  return proc_open_ns (pid, start, proc_ns_name (bit), err);
}

int
sandbox_open_ns_path (const char *path, unsigned bit, struct podshim_error **err)
{
  int idx = bit == POD_NS_NET ? 0 : bit == POD_NS_IPC ? 1 : bit == POD_NS_UTS ? 2 : -1;
  if (idx < 0)
    return podshim_error_set (err, EINVAL, "internal error: namespace %u by path", bit);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot open the namespace `%.200s`", path);
  struct statfs sf;
  if (fstatfs (fd, &sf) < 0 || sf.f_type != NSFS_MAGIC
      || ioctl (fd, NS_GET_NSTYPE) != sandbox_clone[idx])
    return podshim_error_set (err, 0, "`%.200s` is not a %s namespace", path, proc_ns_name (bit));
  return steal_fd (&fd);
}

int
sandbox_userns_of (int nsfd, struct podshim_error **err)
{
  int fd = ioctl (nsfd, NS_GET_USERNS);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot find the pod's user namespace");
  struct stat a, b;
  if (fstat (fd, &a) < 0 || stat ("/proc/self/ns/user", &b) < 0)
    {
      int e = errno;
      close (fd);
      return podshim_error_set (err, e, "cannot find the pod's user namespace");
    }
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    {
      close (fd);
      return podshim_error_set (err, 0,
                                "the pod's namespaces belong to the host's user namespace, not"
                                " to the pod's");
    }
  return fd;
}

static int
anchor_fn (void *data)
{
  const int *fds = data; /* userns, the pipe's read and write ends */
  (void)prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (setns (fds[0], CLONE_NEWUSER) < 0)
    return 1;
  /* stdio on /dev/null (a shim waits for EOF on ours), the pipe as 3,
     nothing else: not the pod's lock. */
  int keep = fcntl (fds[1], F_DUPFD, 3);
  int null = open ("/dev/null", O_RDWR);
  if (keep < 0 || null < 0 || dup2 (keep, 3) < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0
      || dup2 (null, 2) < 0)
    return 1;
  syscall (SYS_close_range, 4, ~0U, 0);
  ssize_t w = write (3, "r", 1); /* in it: the parent may name it */
  (void)w;
  char c;
  while (read (3, &c, 1) > 0)
    ;
  return 0;
}

int
sandbox_anchor_start (int userns_fd, struct sandbox_anchor *ret, struct podshim_error **err)
{
  int sp[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return podshim_error_set (err, errno, "cannot enter the pod's user namespace");
  cleanup_close int mine = sp[0];
  int fds[3] = { userns_fd, sp[1], sp[0] };
  struct spawn_proc child;
  int r = spawn_call (anchor_fn, fds, "the pod's user namespace", &child, err);
  close (sp[1]);
  if (r < 0)
    return -1;
  char c;
  ssize_t n;
  do
    n = read (mine, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    {
      int status;
      (void)spawn_wait (&child, "the pod's user namespace", &status, NULL);
      return podshim_error_set (err, 0, "cannot enter the pod's user namespace");
    }
  ret->pid = child.pid;
  ret->fd = steal_fd (&mine);
  return 0;
}

void
sandbox_anchor_stop (struct sandbox_anchor *a)
{
  if (a->pid <= 0)
    return;
  cleanup_closep (&a->fd);
  a->fd = -1;
  int status;
  while (waitpid (a->pid, &status, 0) < 0 && errno == EINTR)
    ;
  a->pid = 0;
}

/* What the maker (below) tells the helper: a pause_report whose step says
 * how far it got ("userns": in its new user namespace, mappings wanted;
 * "made": its namespaces exist), or what failed (errno_ != 0). */
static void
maker_say (int fd, const char *step, int errno_)
{
  struct pause_report r = { .errno_ = errno_ };
  snprintf (r.step, sizeof (r.step), "%s", step);
  ssize_t w = send (fd, &r, sizeof (r), MSG_NOSIGNAL);
  (void)w;
}

static void
maker_fail (int fd, const char *step)
{
  maker_say (fd, step, errno ? errno : EIO);
  _exit (1);
}

/* The maker: in the pod's user namespace (a new one, whose mappings the
 * helper writes before we go on, or userns_fd's) as its root, makes the
 * namespaces of flags, says "made" and waits for the helper to be done. */
static void
maker (int fd, int userns_fd, int flags)
{
  char go;
  if (userns_fd >= 0)
    {
      if (setns (userns_fd, CLONE_NEWUSER) < 0)
        maker_fail (fd, "join the pod's user namespace");
    }
  else
    {
      if (unshare (CLONE_NEWUSER) < 0)
        maker_fail (fd, "create a user namespace");
      maker_say (fd, "userns", 0);
      if (recv (fd, &go, 1, 0) != 1)
        _exit (1);
    }
  /* Its root from here: what it makes is the pod root's, as the pod's
     members see it (the root of the IPC namespace's mqueue, ...). */
  if (setresgid (0, 0, 0) < 0 || setgroups (0, NULL) < 0 || setresuid (0, 0, 0) < 0)
    maker_fail (fd, "become root of the pod's user namespace");
  if (unshare (flags) < 0)
    maker_fail (fd, "create namespaces in the pod's user namespace");
  maker_say (fd, "made", 0);
  ssize_t n = recv (fd, &go, 1, 0); /* EOF: the helper has joined them */
  (void)n;
  _exit (0);
}

static int
write_map (pid_t pid, const char *file, const char *text)
{
  char path[64];
  snprintf (path, sizeof (path), "/proc/%d/%s", (int)pid, file);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t len = strlen (text);
  ssize_t w = write (fd, text, len);
  int e = errno;
  close (fd);
  errno = w == (ssize_t)len ? 0 : w < 0 ? e : EIO;
  return errno ? -1 : 0;
}

/* In the helper: the namespaces of flags (net, ipc, uts), made in the pod's
 * user namespace by a maker child, joined. */
static void
make_in_userns (int report_fd, int userns_fd, const char *uid_map, const char *gid_map, int flags)
{
  int sp[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    child_fail (report_fd, "make the maker's socket");
  pid_t c = fork ();
  if (c < 0)
    child_fail (report_fd, "fork the maker");
  if (c == 0)
    {
      close (sp[0]);
      maker (sp[1], userns_fd, flags);
    }
  close (sp[1]);
  struct pause_report r;
  ssize_t n = recv (sp[0], &r, sizeof (r), 0);
  if (n == (ssize_t)sizeof (r) && r.errno_ == 0 && strcmp (r.step, "userns") == 0)
    {
      /* The mappings, written from the host's user namespace, before the
         maker makes anything else. */
      if (write_map (c, "uid_map", uid_map) < 0 || write_map (c, "gid_map", gid_map) < 0)
        child_fail (report_fd, "write the user namespace's mappings");
      if (send (sp[0], "m", 1, MSG_NOSIGNAL) != 1)
        child_fail (report_fd, "wake the maker");
      n = recv (sp[0], &r, sizeof (r), 0);
    }
  if (n != (ssize_t)sizeof (r))
    {
      errno = EIO;
      child_fail (report_fd, "make namespaces in the pod's user namespace (the maker died)");
    }
  if (r.errno_ != 0)
    {
      r.step[sizeof (r.step) - 1] = '\0';
      errno = r.errno_;
      child_fail (report_fd, r.step);
    }
  static const struct
  {
    int flag;
    const char *name;
  } ns[] = { { CLONE_NEWNET, "net" }, { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" } };
  for (size_t i = 0; i < sizeof (ns) / sizeof (ns[0]); i++)
    {
      if (!(flags & ns[i].flag))
        continue;
      char path[64];
      snprintf (path, sizeof (path), "/proc/%d/ns/%s", (int)c, ns[i].name);
      int fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns (fd, ns[i].flag) < 0)
        child_fail (report_fd, "join the namespaces made in the pod's user namespace");
      close (fd);
    }
  close (sp[0]);
  int status;
  while (waitpid (c, &status, 0) < 0 && errno == EINTR)
    ;
}

/* Forked twice: the helper joins or creates the namespaces (and a PID
 * namespace), forks podshim-pause and reports its PID; podshim-pause reports
 * "ready" (or what failed) on the same pipe, as fd 3, and waits for a byte on
 * go_fd, as fd 4. */
struct start_args
{
  int report_fd, go_fd, shm_fd, template_fd, parent_fd[3]; /* parent_fd: the parent's ends */
  const int *join_fd;
  bool new_pid;
  const char *hostname, *pause_path;
  bool userns;   /* fresh namespaces in the pod's user namespace: */
  int userns_fd; /* this one, or a new one with these mappings */
  char uid_map[IDMAP_TEXT_MAX], gid_map[IDMAP_TEXT_MAX];
};

static void
start_child (const struct start_args *a)
{
  int report_fd = a->report_fd, go_fd = a->go_fd, shm_fd = a->shm_fd, template_fd = a->template_fd;
  const int *join_fd = a->join_fd;
  bool new_pid = a->new_pid;
  const char *hostname = a->hostname, *pause_path = a->pause_path;
  setsid ();
  int flags = 0;
  for (size_t i = 0; i < 3; i++)
    {
      if (join_fd[i] < 0)
        flags |= sandbox_clone[i];
      else if (setns (join_fd[i], sandbox_clone[i]) < 0)
        child_fail (report_fd, "join the pod's namespaces");
    }
  if (a->userns && flags)
    make_in_userns (report_fd, a->userns_fd, a->uid_map, a->gid_map, flags);
  else if (flags && unshare (flags) < 0)
    child_fail (report_fd, "create namespaces");
  if (flags & CLONE_NEWUTS)
    {
      size_t hl = strlen (hostname);
      if (sethostname (hostname, hl > 64 ? 64 : hl) < 0)
        child_fail (report_fd, "set the hostname");
    }
  if ((flags & CLONE_NEWNET) && loopback_up () < 0)
    child_fail (report_fd, "bring up the loopback interface");
  /* A PID namespace needs its init in it before anyone can join it: a
     remapped pod's pause is made in the pod's user namespace (nobody of it,
     cmd/pause.c). */
  char exe[32];
  if (new_pid && a->userns)
    {
      /* Opened first: the pod's root may not walk to it. Above the fds
         spawn_exec() moves into place. */
      int fd = open (pause_path, O_PATH | O_CLOEXEC);
      int hi = fd >= 0 ? fcntl (fd, F_DUPFD_CLOEXEC, 10) : -1;
      if (hi < 0)
        child_fail (report_fd, "open podshim-pause");
      snprintf (exe, sizeof (exe), "/proc/self/fd/%d", hi);
      pause_path = exe;
      /* Its root (kept across exec, unlike the host's root there), until
         podshim-pause makes itself nobody. */
      if (setns (a->userns_fd, CLONE_NEWUSER) < 0)
        child_fail (report_fd, "join the pod's user namespace");
      if (setresgid (0, 0, 0) < 0 || setgroups (0, NULL) < 0 || setresuid (0, 0, 0) < 0)
        child_fail (report_fd, "become root of the pod's user namespace");
    }
  if (new_pid && unshare (CLONE_NEWPID) < 0)
    child_fail (report_fd, "create a PID namespace");
  pid_t child = fork ();
  if (child < 0)
    child_fail (report_fd, "fork podshim-pause");
  if (child > 0)
    {
      struct pause_report r = { .pid = child };
      ssize_t w = write (report_fd, &r, sizeof (r));
      (void)w;
      _exit (0);
    }
  /* podshim-pause: stdio on /dev/null, the report pipe as fd 3, the go pipe
     as fd 4, the /dev/shm socket (if any, else /dev/null and "-") as fd 5,
     the template mount namespace (if any) as fd 6, no other fd crosses exec;
     failures go to rf, out of their way. */
  int rf = fcntl (report_fd, F_DUPFD_CLOEXEC, 10);
  if (rf < 0)
    child_fail (report_fd, "set up the report pipe");
  sigset_t none;
  sigemptyset (&none);
  char *const argv[] = { (char *)"podshim-pause",
                         (char *)"3",
                         (char *)"4",
                         shm_fd >= 0 ? (char *)"5" : (char *)"-",
                         template_fd >= 0 ? (char *)"6" : NULL,
                         NULL };
  char *const envp[] = { NULL };
  struct spawn_opts o = { .file = pause_path,
                          .argv = argv,
                          .envp = envp,
                          .n_fds = template_fd >= 0 ? 7 : 6,
                          .fds = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL, rf, go_fd,
                                   shm_fd >= 0 ? shm_fd : SPAWN_NULL, template_fd },
                          .close_fds = true,
                          .sigmask = &none };
  if (spawn_exec (&o) == SPAWN_FAILED_SETUP)
    child_fail (rf, "set up podshim-pause's fds");
  child_fail (rf, "execute podshim-pause");
}

static int
start_child_fn (void *data)
{
  const struct start_args *a = data;
  for (size_t i = 0; i < 3; i++)
    if (a->parent_fd[i] >= 0)
      close (a->parent_fd[i]);
  start_child (a);
  return 1;
}

static ssize_t
read_report (int fd, struct pause_report *r)
{
  ssize_t n;
  do
    n = read (fd, r, sizeof (*r));
  while (n < 0 && errno == EINTR);
  return n;
}

int
sandbox_start (const int join_fd[3], bool new_pid, const char *hostname, const char *pause_path,
               bool wait_ready, bool shm_later, int template_fd,
               const struct sandbox_userns *userns, struct sandbox_proc *ret,
               struct podshim_error **err)
{
  /* On the heap: two pages of mapping text. */
  cleanup_free struct start_args *a = calloc (1, sizeof (*a));
  if (a == NULL)
    abort ();
  if (userns && userns->fd < 0
      && (userns->maps == NULL
          || idmap_format (&userns->maps->uid, a->uid_map, sizeof (a->uid_map)) < 0
          || idmap_format (&userns->maps->gid, a->gid_map, sizeof (a->gid_map)) < 0))
    return podshim_error_set (err, 0, "cannot start podshim-pause: no user namespace mappings");
  int p[2], g[2] = { -1, -1 }, s[2] = { -1, -1 };
  if (pipe2 (p, O_CLOEXEC) < 0)
    return podshim_error_set (err, errno, "cannot start podshim-pause");
  if (pipe2 (g, O_CLOEXEC) < 0
      || (shm_later && socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) < 0))
    {
      int e = errno;
      int fds[] = { p[0], p[1], g[0], g[1] };
      for (size_t i = 0; i < 4; i++)
        if (fds[i] >= 0)
          close (fds[i]);
      return podshim_error_set (err, e, "cannot start podshim-pause");
    }
  cleanup_close int go_w = g[1];
  cleanup_close int shm_w = s[0];
  a->report_fd = p[1];
  a->go_fd = g[0];
  a->shm_fd = s[1];
  a->template_fd = template_fd;
  a->parent_fd[0] = p[0];
  a->parent_fd[1] = g[1];
  a->parent_fd[2] = s[0];
  a->join_fd = join_fd;
  a->new_pid = new_pid;
  a->hostname = hostname;
  a->pause_path = pause_path;
  a->userns = userns != NULL;
  a->userns_fd = userns ? userns->fd : -1;
  struct spawn_proc child;
  int sr = spawn_call (start_child_fn, a, "podshim-pause", &child, err);
  close (p[1]);
  close (g[0]);
  if (s[1] >= 0)
    close (s[1]);
  cleanup_close int rfd = p[0];
  if (sr < 0)
    return -1;
  struct pause_report r;
  ssize_t n = read_report (rfd, &r);
  int status = 0;
  (void)spawn_wait (&child, "podshim-pause", &status, NULL);
  if (n != (ssize_t)sizeof (r))
    return podshim_error_set (err, 0, "cannot start podshim-pause (status %d)", status);
  if (r.errno_ != 0)
    return podshim_error_set (err, r.errno_, "cannot start podshim-pause: cannot %s", r.step);
  /* It exists, in its namespaces, before or after its exec. */
  unsigned long long start;
  int e = proc_start_time (r.pid, &start);
  if (e < 0)
    return podshim_error_set (err, -e, "podshim-pause %d is gone", (int)r.pid);
  struct sandbox_proc sp = { .pid = r.pid,
                             .start = start,
                             .go_fd = steal_fd (&go_w),
                             .report_fd = steal_fd (&rfd),
                             .shm_fd = steal_fd (&shm_w) };
  if (wait_ready && sandbox_ready (&sp, pause_path, err) < 0)
    {
      sandbox_proc_close (&sp);
      return -1;
    }
  *ret = sp;
  return 0;
}

int
sandbox_ready (struct sandbox_proc *sp, const char *pause_path, struct podshim_error **err)
{
  cleanup_closep (&sp->shm_fd);
  if (sp->report_fd < 0)
    return 0;
  struct pause_report r;
  ssize_t n = read_report (sp->report_fd, &r);
  cleanup_closep (&sp->report_fd);
  if (n != (ssize_t)sizeof (r))
    return podshim_error_set (err, 0, "podshim-pause `%s` exited before it was ready", pause_path);
  r.step[sizeof (r.step) - 1] = '\0';
  if (r.errno_ != 0 || strcmp (r.step, "ready") != 0)
    return podshim_error_set (err, r.errno_, "podshim-pause `%s`: cannot %s", pause_path, r.step);
  return 0;
}

void
sandbox_release (struct sandbox_proc *sp)
{
  if (sp->go_fd >= 0)
    {
      /* A holder that already died (its pause could not be exec'd) must not
         take podshim with it by SIGPIPE: its failure is read from report_fd.
         Blocked, not ignored: an ignored signal would reach the delegate. */
      sigset_t pipe, old, pending;
      sigemptyset (&pipe);
      sigaddset (&pipe, SIGPIPE);
      bool was_pending = sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE);
      (void)sigprocmask (SIG_BLOCK, &pipe, &old);
      ssize_t w = write (sp->go_fd, "g", 1);
      if (w < 0 && errno == EPIPE && !was_pending)
        {
          const struct timespec zero = { 0, 0 };
          (void)sigtimedwait (&pipe, NULL, &zero);
        }
      (void)sigprocmask (SIG_SETMASK, &old, NULL);
    }
  cleanup_closep (&sp->go_fd);
}

void
sandbox_proc_close (struct sandbox_proc *sp)
{
  cleanup_closep (&sp->report_fd);
  cleanup_closep (&sp->go_fd);
  cleanup_closep (&sp->shm_fd);
}

int
sandbox_send_shm (struct sandbox_proc *sp, int mnt_fd, struct podshim_error **err)
{
  cleanup_close int s = steal_fd (&sp->shm_fd);
  if (s < 0)
    return podshim_error_set (err, EBADF, "the holder takes no /dev/shm");
  char byte = 's';
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } u;
  memset (&u, 0, sizeof (u));
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf)
  };
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &mnt_fd, sizeof (int));
  ssize_t n;
  do
    n = sendmsg (s, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    return podshim_error_set (err, n < 0 ? errno : EIO, "cannot hand the holder its /dev/shm");
  return 0;
}

/* One line of mountinfo: its root is "/", its mount point mp, its type tmpfs,
 * and it is mounted read-only if ro. */
static bool
mountinfo_line_is (char *line, const char *mp, bool ro)
{
  char *f[7] = { NULL };
  char *save = NULL;
  char *tok = strtok_r (line, " ", &save);
  size_t n = 0;
  for (; tok && n < 6; n++, tok = strtok_r (NULL, " ", &save))
    f[n] = tok;
  /* Optional fields up to "-", then the type. */
  while (tok && strcmp (tok, "-") != 0)
    tok = strtok_r (NULL, " ", &save);
  f[6] = tok ? strtok_r (NULL, " ", &save) : NULL;
  if (n < 6 || f[6] == NULL || strcmp (f[3], "/") != 0 || strcmp (f[4], mp) != 0
      || strcmp (f[6], "tmpfs") != 0)
    return false;
  return !ro || strncmp (f[5], "ro,", 3) == 0 || strcmp (f[5], "ro") == 0;
}

bool
sandbox_template_parse (const char *buf, pid_t *ret_pid, unsigned long long *ret_start)
{
  /* Exactly "PID START\n", decimal, as sandbox_template_save writes it. */
  const char *p = buf;
  unsigned long long v[2];
  for (size_t i = 0; i < 2; i++)
    {
      /* Digits, no leading zero: the one way to write each number. */
      if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
      v[i] = 0;
      for (; *p >= '0' && *p <= '9'; p++)
        {
          if (v[i] > (ULLONG_MAX - 9) / 10)
            return false;
          v[i] = v[i] * 10 + (unsigned)(*p - '0');
        }
      if (*p++ != (i == 0 ? ' ' : '\n'))
        return false;
    }
  if (*p != '\0' || v[0] == 0 || v[0] > INT_MAX)
    return false;
  *ret_pid = (pid_t)v[0];
  *ret_start = v[1];
  return true;
}

bool
sandbox_template_mounts_ok (char *mountinfo)
{
  char *save = NULL;
  char *first = strtok_r (mountinfo, "\n", &save);
  char *second = first ? strtok_r (NULL, "\n", &save) : NULL;
  return first && mountinfo_line_is (first, "/", true)
         && (second == NULL || mountinfo_line_is (second, "/shm", false))
         && strtok_r (NULL, "\n", &save) == NULL;
}

int
sandbox_template_open (int rootfd)
{
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (rootfd, STATEDIR_HOLDER_TEMPLATE, O_NOFOLLOW, 4096, &buf, &len, &e) < 0)
    return -1;
  /* A cache: a newer podshim's is not used (and ours may replace it). */
  if (state_format_text (buf, len, STATEDIR_HOLDER_TEMPLATE_VERSION, &e) < 0)
    {
      state_format_wrap_path (&e, rootfd, STATEDIR_HOLDER_TEMPLATE);
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: no template: %s", e->msg);
      return -1;
    }
  pid_t pid;
  unsigned long long start;
  if (!sandbox_template_parse (buf, &pid, &start))
    return -1;
  cleanup_close int procfd = proc_open_at_start (pid, start);
  /* A holder that has isolated itself (it runs as nobody once it has)... */
  if (procfd < 0 || proc_uid_at (procfd) != PAUSE_UID)
    return -1;
  /* ...and whose mount namespace has its empty read-only root and at most
     its /shm: nothing else gets into a new holder's. */
  cleanup_free char *mi = NULL;
  if (read_file_at (procfd, "mountinfo", 0, 4096, &mi, NULL, &e) < 0)
    return -1;
  if (!sandbox_template_mounts_ok (mi))
    {
      podshim_log (PODSHIM_LOG_DEBUG, "podshim: holder %d is no template: its mounts differ",
                   (int)pid);
      return -1;
    }
  int fd = openat (procfd, "ns/mnt", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && !proc_is_alive_at (procfd, start))
    cleanup_closep (&fd);
  return fd;
}

void
sandbox_template_save (int rootfd, pid_t pid, unsigned long long start)
{
  char buf[64];
  int n = snprintf (buf, sizeof (buf), "%d %llu\n", (int)pid, start);
  cleanup_error struct podshim_error *e = NULL;
  if (write_file_atomic_at (rootfd, STATEDIR_HOLDER_TEMPLATE, buf, (size_t)n, 0600, &e) < 0)
    podshim_log (PODSHIM_LOG_DEBUG, "podshim: %s", e->msg);
}

int
sandbox_wait_isolated (pid_t pid, unsigned long long start, struct podshim_error **err)
{
  /* Up to 10 s: it is isolated within milliseconds unless the node is
     overloaded. */
  struct timespec nap = { 0, 100 * 1000 };
  cleanup_close int procfd = proc_open_at_start (pid, start);
  if (procfd < 0)
    return -ESRCH;
  for (long waited_us = 0;;)
    {
      /* The fd stays bound to that process; a zombie still has a status. */
      if (!proc_is_alive_at (procfd, start))
        return -ESRCH;
      int uid = proc_uid_at (procfd);
      if (uid == -ESRCH)
        return -ESRCH;
      if (uid == PAUSE_UID)
        return 0;
      if (waited_us >= 10L * 1000 * 1000)
        return podshim_error_set (err, ETIMEDOUT, "holder %d has not isolated itself within 10 s",
                                  (int)pid);
      (void)nanosleep (&nap, NULL);
      waited_us += nap.tv_nsec / 1000;
      if (nap.tv_nsec < 5 * 1000 * 1000)
        nap.tv_nsec *= 2;
    }
}

void
sandbox_stop (pid_t pid, unsigned long long start)
{
  if (pid <= 0)
    return;
  int pidfd = pidfd_open_ (pid);
  /* No pidfds (kernel < 5.3, valgrind): kill(2) right after the identity check. */
  bool no_pidfd = pidfd < 0 && errno != ESRCH;
  /* Check identity after taking the pidfd, so the kill cannot hit a reused PID. */
  if ((pidfd >= 0 || no_pidfd) && proc_is_alive (pid, start))
    {
      if (pidfd >= 0)
        syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      else
        kill (pid, SIGKILL);
      /* Not our child: wait until it has left (its reaper collects it). */
      for (int i = 0; i < 2000 && proc_is_alive (pid, start); i++)
        {
          struct timespec ts = { 0, 1000000 };
          nanosleep (&ts, NULL);
        }
    }
  if (pidfd >= 0)
    close (pidfd);
}

int
sandbox_unpin (int poddir_fd, unsigned bit, struct podshim_error **err)
{
  char path[64];
  snprintf (path, sizeof (path), "/proc/self/fd/%d/" NS_DIR "/%s", poddir_fd, pod_ns_name (bit));
  if (umount2 (path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot unmount the pinned %s namespace",
                              pod_ns_name (bit));
  char rel[32];
  snprintf (rel, sizeof (rel), NS_DIR "/%s", pod_ns_name (bit));
  if (unlinkat (poddir_fd, rel, 0) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove `%s`", rel);
  return 0;
}

int
sandbox_destroy (int poddir_fd, const struct pod_state *pod, struct podshim_error **err)
{
  sandbox_stop (pod->pause_pid, pod->pause_start);
  sandbox_stop (pod->holder_pid, pod->holder_start);
  if (faccessat (poddir_fd, NS_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  static const unsigned all[] = { POD_NS_PID, POD_NS_NET, POD_NS_IPC, POD_NS_UTS };
  for (size_t i = 0; i < sizeof (all) / sizeof (all[0]); i++)
    if (sandbox_unpin (poddir_fd, all[i], err) < 0)
      return -1;
  if (unlinkat (poddir_fd, NS_DIR, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove `" NS_DIR "`");
  return 0;
}

char *
sandbox_pause_path (void)
{
  char *r = NULL;
  const char *e = getenv ("PODSHIM_PAUSE");
  if (e && *e)
    r = strdup (e);
  else
    {
      char self[4096];
      ssize_t n = readlink ("/proc/self/exe", self, sizeof (self) - 1);
      if (n > 0)
        {
          self[n] = '\0';
          char *slash = strrchr (self, '/');
          if (slash)
            {
              *slash = '\0';
              if (asprintf (&r, "%s/podshim-pause", self) >= 0 && access (r, X_OK) != 0)
                {
                  free (r);
                  r = NULL;
                }
            }
        }
      if (r == NULL)
        r = strdup (PODSHIM_LIBEXECDIR "/podshim-pause");
    }
  if (r == NULL)
    abort ();
  return r;
}

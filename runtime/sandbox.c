#include "config.h"
#include "sandbox.h"
#include "fsutil.h"
#include "procutil.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS_DIR "ns"

static const unsigned sandbox_ns[] = { POD_NS_NET, POD_NS_IPC, POD_NS_UTS };

/* /proc/self/ns names for our bits. */
static const char *
proc_ns_name (unsigned bit)
{
  return bit == POD_NS_NET ? "net" : pod_ns_name (bit);
}

/* What a forked helper tells its parent: errno_ != 0 for a failed step, or the
 * PID of the pause it forked. */
struct child_report
{
  int errno_;
  pid_t pid;
  char step[64];
};

static void
child_fail (int fd, const char *step)
{
  struct child_report r = { .errno_ = errno ? errno : EIO };
  snprintf (r.step, sizeof (r.step), "%s", step);
  ssize_t w = write (fd, &r, sizeof (r));
  (void) w;
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

/* Waits for a child and reads its report: 0 when it succeeded. */
static int
wait_child (pid_t pid, int report_fd, const char *what, struct podshim_error **err)
{
  struct child_report r;
  ssize_t n;
  do
    n = read (report_fd, &r, sizeof (r));
  while (n < 0 && errno == EINTR);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return podshim_error_set (err, errno, "cannot wait for %s", what);
  if (n == (ssize_t) sizeof (r))
    return podshim_error_set (err, r.errno_, "%s: cannot %s", what, r.step);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return podshim_error_set (err, 0, "%s failed (status %d)", what, status);
  return 0;
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

static int
make_pin_target (int nsdir_fd, unsigned bit, struct podshim_error **err)
{
  const char *name = pod_ns_name (bit);
  int fd = openat (nsdir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot create `" NS_DIR "/%s`", name);
  close (fd);
  return 0;
}

int
sandbox_create (int poddir_fd, const char *hostname, struct podshim_error **err)
{
  cleanup_close int nsdir = ensure_dir_at (poddir_fd, NS_DIR, 0700, err);
  if (nsdir < 0)
    return -1;
  for (size_t i = 0; i < sizeof (sandbox_ns) / sizeof (sandbox_ns[0]); i++)
    {
      /* A leftover of a killed create: unpin and start again. */
      if (sandbox_unpin (poddir_fd, sandbox_ns[i], err) < 0)
        return -1;
      if (make_pin_target (nsdir, sandbox_ns[i], err) < 0)
        return -1;
    }

  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return podshim_error_set (err, errno, "cannot create the sandbox");
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (p[0]);
      close (p[1]);
      return podshim_error_set (err, e, "cannot create the sandbox");
    }
  if (pid == 0)
    {
      close (p[0]);
      if (unshare (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
        child_fail (p[1], "create namespaces");
      size_t hl = strlen (hostname);
      if (sethostname (hostname, hl > 64 ? 64 : hl) < 0)
        child_fail (p[1], "set the hostname");
      if (loopback_up () < 0)
        child_fail (p[1], "bring up the loopback interface");
      for (size_t i = 0; i < sizeof (sandbox_ns) / sizeof (sandbox_ns[0]); i++)
        {
          char src[64], dst[64];
          snprintf (src, sizeof (src), "/proc/self/ns/%s", proc_ns_name (sandbox_ns[i]));
          snprintf (dst, sizeof (dst), "/proc/self/fd/%d/%s", nsdir, pod_ns_name (sandbox_ns[i]));
          if (mount (src, dst, NULL, MS_BIND, NULL) < 0)
            child_fail (p[1], "pin a namespace");
        }
      _exit (0);
    }
  close (p[1]);
  int r = wait_child (pid, p[0], "sandbox creation", err);
  close (p[0]);
  if (r < 0)
    {
      for (size_t i = 0; i < sizeof (sandbox_ns) / sizeof (sandbox_ns[0]); i++)
        {
          cleanup_error struct podshim_error *ignored = NULL;
          sandbox_unpin (poddir_fd, sandbox_ns[i], &ignored);
        }
      return -1;
    }
  return 0;
}

static void
pause_child (int report_fd, int nsdir, const char *pause_path)
{
  /* Intermediate child: own session, join the pod, new PID namespace, fork init. */
  setsid ();
  for (size_t i = 0; i < sizeof (sandbox_ns) / sizeof (sandbox_ns[0]); i++)
    {
      int fd = openat (nsdir, pod_ns_name (sandbox_ns[i]), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns (fd, 0) < 0)
        child_fail (report_fd, "join the pod's namespaces");
      close (fd);
    }
  if (unshare (CLONE_NEWPID) < 0)
    child_fail (report_fd, "create a PID namespace");
  pid_t init = fork ();
  if (init < 0)
    child_fail (report_fd, "fork the pause process");
  if (init > 0)
    {
      /* Tell the parent the pause's PID (as seen from outside). */
      struct child_report r = { .pid = init };
      ssize_t w = write (report_fd, &r, sizeof (r));
      (void) w;
      _exit (0);
    }
  /* PID 1: stdio on /dev/null, no fd but the report pipe (CLOEXEC) crosses exec. */
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0)
    child_fail (report_fd, "open /dev/null");
  if (syscall (SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    {
      for (int fd = 3; fd < 1024; fd++)
        if (fd != report_fd)
          close (fd);
    }
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  char *const argv[] = { (char *) "podshim-pause", NULL };
  char *const envp[] = { NULL };
  execve (pause_path, argv, envp);
  child_fail (report_fd, "execute podshim-pause");
}

int
sandbox_start_pause (int poddir_fd, const char *pause_path, pid_t *ret_pid,
                     unsigned long long *ret_start, struct podshim_error **err)
{
  cleanup_close int nsdir = open_dir_at (poddir_fd, NS_DIR, err);
  if (nsdir < 0)
    return nsdir == -ENOENT ? podshim_error_set (err, ENOENT, "no sandbox to start a pause in")
                            : -1;
  if (sandbox_unpin (poddir_fd, POD_NS_PID, err) < 0 || make_pin_target (nsdir, POD_NS_PID, err) < 0)
    return -1;
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return podshim_error_set (err, errno, "cannot start the pause process");
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (p[0]);
      close (p[1]);
      return podshim_error_set (err, e, "cannot start the pause process");
    }
  if (pid == 0)
    {
      close (p[0]);
      pause_child (p[1], nsdir, pause_path);
      _exit (1);
    }
  close (p[1]);
  cleanup_close int rfd = p[0];
  struct child_report r;
  ssize_t n;
  do
    n = read (rfd, &r, sizeof (r));
  while (n < 0 && errno == EINTR);
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (n != (ssize_t) sizeof (r))
    return podshim_error_set (err, 0, "cannot start the pause process (status %d)", status);
  if (r.errno_ != 0)
    return podshim_error_set (err, r.errno_, "cannot start the pause process: cannot %s", r.step);
  pid_t init = r.pid;
  /* The pause itself: EOF when its exec succeeded, else a report. */
  do
    n = read (rfd, &r, sizeof (r));
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t) sizeof (r))
    return podshim_error_set (err, r.errno_, "cannot start the pause process: cannot %s `%s`",
                              r.step, pause_path);
  unsigned long long start;
  int e = proc_start_time (init, &start);
  if (e < 0)
    return podshim_error_set (err, -e, "pause process %d is gone", (int) init);

  char src[64], dst[64];
  snprintf (src, sizeof (src), "/proc/%d/ns/pid", (int) init);
  snprintf (dst, sizeof (dst), "/proc/self/fd/%d/pid", nsdir);
  if (mount (src, dst, NULL, MS_BIND, NULL) < 0)
    {
      e = errno;
      kill (init, SIGKILL);
      return podshim_error_set (err, e, "cannot pin the pod's PID namespace");
    }
  *ret_pid = init;
  *ret_start = start;
  return 0;
}

static void
signal_pause (int pidfd, pid_t pid, int sig)
{
  if (pidfd >= 0)
    syscall (SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
  else
    kill (pid, sig);
}

int
sandbox_destroy (int poddir_fd, pid_t pause_pid, unsigned long long pause_start,
                 struct podshim_error **err)
{
  if (pause_pid > 0)
    {
      int pidfd = (int) syscall (SYS_pidfd_open, pause_pid, 0);
      /* No pidfds (kernel < 5.3, valgrind): kill(2) right after the identity check. */
      bool no_pidfd = pidfd < 0 && errno != ESRCH;
      /* Check identity after taking the pidfd, so the kill cannot hit a reused PID. */
      if ((pidfd >= 0 || no_pidfd) && proc_is_alive (pause_pid, pause_start))
        {
          /* SIGTERM: the pause exits cleanly; SIGKILL after 200 ms. Not our
             child: wait until it has left (its reaper collects it). */
          signal_pause (pidfd, pause_pid, SIGTERM);
          for (int i = 0; i < 2000 && proc_is_alive (pause_pid, pause_start); i++)
            {
              if (i == 200)
                signal_pause (pidfd, pause_pid, SIGKILL);
              struct timespec ts = { 0, 1000000 };
              nanosleep (&ts, NULL);
            }
        }
      if (pidfd >= 0)
        close (pidfd);
    }
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

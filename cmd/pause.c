/* podshim-pause: the process that holds a pod's namespaces, and PID 1 of a
 * pod that shares PIDs. It reaps zombies and does nothing else.
 *
 * Started as root by podshim (runtime/sandbox.c), inside the pod's
 * namespaces, as `podshim-pause REPORT_FD GO_FD [SHM_FD|- [TEMPLATE_FD]]`.
 * With TEMPLATE_FD, another holder's mount namespace (its root an empty
 * read-only tmpfs), it copies that and detaches the copy's /shm; without, it
 * makes that
 * root itself with pivot_root(2), which walks every thread on the node (under
 * the lock every fork and exit waits for: 2 ms at 6,000 threads, 0.16 ms for
 * the copy). With SHM_FD (a
 * holder of a new pod), once isolated it waits there for one message that
 * carries the pod's /dev/shm (a detached tmpfs mount, SCM_RIGHTS) and mounts
 * it at its /shm, or for EOF (none: podshim mounts one there later), so that
 * podshim need not wait for it. Before it says "ready" on
 * REPORT_FD it leaves nothing of the host reachable through it: its
 * own mount namespace whose root is an empty read-only tmpfs (the host's root
 * detached), cwd "/", uid and gid nobody, no capabilities in any set,
 * no_new_privs, not dumpable, no fd but the two pipes, then a seccomp
 * allow-list of what the loop calls. Then it waits for one byte on GO_FD,
 * which podshim writes once it has recorded the process: if podshim dies
 * before (EOF), it exits, so that no process is left that no state names. It
 * installs no signal handler: as PID 1
 * of a PID namespace it then gets no signal from inside the pod (the kernel
 * drops them), and podshim stops it from outside with SIGKILL. Static, no
 * allocation after start-up. */
#include "pausewire.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd = -1;
static int go_fd = -1;
static int shm_fd = -1;
static int template_fd = -1;

static void
fail (const char *step)
{
  struct pause_report r = { .errno_ = errno ? errno : EIO };
  snprintf (r.step, sizeof (r.step), "%s", step);
  if (report_fd >= 0)
    {
      ssize_t w = write (report_fd, &r, sizeof (r));
      (void)w;
    }
  _exit (1);
}

/* An empty read-only tmpfs as "/" of a mount namespace of our own; the host's
 * root is detached from it. */
static void
isolate_mounts (void)
{
  if (unshare (CLONE_NEWNS) < 0)
    fail ("create a mount namespace");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    fail ("make the mounts private");
  int oldroot = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (oldroot < 0)
    fail ("open /");
  /* Any existing directory serves as the mount point: /proc always exists. */
  if (mount ("podshim-pause", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
             "size=4k,nr_inodes=16,mode=0555")
      < 0)
    fail ("mount the empty root");
  /* A holder (not a PID 1): an empty mount point for the pod's /dev/shm,
     which podshim mounts there from outside (runtime/podshm.c). */
  if (getpid () != 1 && mkdir ("/proc/shm", 0) < 0)
    fail ("make the mount point of the pod's /dev/shm");
  if (mount (NULL, "/proc", NULL,
             MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)
      < 0)
    fail ("make the empty root read-only");
  if (chdir ("/proc") < 0)
    fail ("enter the empty root");
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    fail ("pivot_root");
  if (fchdir (oldroot) < 0)
    fail ("enter the old root");
  if (umount2 (".", MNT_DETACH) < 0)
    fail ("detach the old root");
  close (oldroot);
  if (chdir ("/") < 0)
    fail ("chdir /");
}

/* The pod's /dev/shm from SHM_FD, mounted at /shm; EOF: none. */
static void
receive_shm (void)
{
  char byte;
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } u;
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf)
  };
  ssize_t n;
  do
    n = recvmsg (shm_fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    fail ("receive the pod's /dev/shm");
  int fd = -1;
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
  if (n == 1 && c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
      && c->cmsg_len == CMSG_LEN (sizeof (int)))
    memcpy (&fd, CMSG_DATA (c), sizeof (int));
  close (shm_fd);
  shm_fd = -1;
  if (n == 0)
    return; /* none */
  struct statfs sf;
  errno = EINVAL;
  if (fd < 0 || (msg.msg_flags & MSG_CTRUNC) || fstatfs (fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
    fail ("receive the pod's /dev/shm (not a tmpfs)");
  if (syscall (SYS_move_mount, fd, "", AT_FDCWD, "/shm", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    fail ("mount the pod's /dev/shm");
  close (fd);
}

/* Our own copy of template_fd's mount namespace, without the /shm mounted
 * there. */
static void
enter_template (void)
{
  if (setns (template_fd, CLONE_NEWNS) < 0)
    fail ("enter the template mount namespace");
  close (template_fd);
  template_fd = -1;
  if (unshare (CLONE_NEWNS) < 0)
    fail ("create a mount namespace");
  struct stat root, shm;
  if (stat ("/", &root) < 0 || stat ("/shm", &shm) < 0)
    fail ("find the template's /shm");
  if (shm.st_dev != root.st_dev && umount2 ("/shm", MNT_DETACH) < 0)
    fail ("detach the template's /shm");
  if (stat ("/shm", &shm) < 0)
    fail ("find the template's /shm");
  errno = EINVAL;
  if (shm.st_dev != root.st_dev)
    fail ("detach the template's /shm (still a mount)");
  struct statfs sf;
  if (statfs ("/", &sf) < 0)
    fail ("check the template's root");
  errno = EINVAL;
  if (sf.f_type != TMPFS_MAGIC || !(sf.f_flags & ST_RDONLY))
    fail ("check the template's root (not a read-only tmpfs)");
  if (chdir ("/") < 0)
    fail ("chdir /");
}

static void
drop_privileges (void)
{
  for (int c = 0; c <= CAP_LAST_CAP; c++)
    if (prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      fail ("drop the bounding set");
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    fail ("clear the ambient set");
  if (setgroups (0, NULL) < 0)
    fail ("drop supplementary groups");
  if (setresgid (PAUSE_GID, PAUSE_GID, PAUSE_GID) < 0)
    fail ("set the gid");
  if (setresuid (PAUSE_UID, PAUSE_UID, PAUSE_UID) < 0)
    fail ("set the uid");
  cap_t none = cap_init ();
  if (none == NULL || cap_set_proc (none) < 0)
    fail ("clear the capabilities");
  cap_free (none);
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    fail ("become non-dumpable");
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    fail ("set no_new_privs");
}

/* What the loop calls, plus a write and close of the report pipe and a read
 * and close of the go pipe. */
static void
install_seccomp (void)
{
  static const int allowed[] = {
    SCMP_SYS (rt_sigtimedwait), SCMP_SYS (wait4),           SCMP_SYS (exit),
    SCMP_SYS (exit_group),      SCMP_SYS (restart_syscall),
  };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
  if (ctx == NULL)
    fail ("set up seccomp");
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof (allowed) / sizeof (allowed[0]); i++)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, allowed[i], 0);
  if (r == 0 && report_fd >= 0)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (write), 1,
                          SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t)report_fd));
  if (r == 0 && report_fd >= 0)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (close), 1,
                          SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t)report_fd));
  if (r == 0 && go_fd >= 0)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (read), 1,
                          SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t)go_fd));
  if (r == 0 && go_fd >= 0)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (close), 1,
                          SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t)go_fd));
  if (r == 0)
    r = seccomp_load (ctx);
  seccomp_release (ctx);
  if (r < 0)
    {
      errno = -r;
      fail ("load the seccomp filter");
    }
}

static int
fd_arg (const char *s)
{
  char *end;
  long fd = strtol (s, &end, 10);
  if (*end == '\0' && fd > 2 && fd < 1024 && fcntl ((int)fd, F_GETFD) >= 0)
    return (int)fd;
  return -1;
}

int
main (int argc, char **argv)
{
  /* Its name, whatever path it was executed by (a remapped pod's pause: an
     fd, "/proc/self/fd/N"). */
  (void)prctl (PR_SET_NAME, "podshim-pause", 0, 0, 0);
  if (argc > 1)
    report_fd = fd_arg (argv[1]);
  if (argc > 2)
    go_fd = fd_arg (argv[2]);
  if (argc > 3)
    shm_fd = fd_arg (argv[3]);
  if (argc > 4)
    template_fd = fd_arg (argv[4]);
  /* Every signal at its default (none ignored, none handled): from inside a
     PID namespace, its init then receives none. SIGCHLD is blocked and
     waited for. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
  sigset_t set, mask;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  /* SIGPIPE too: a podshim that died after it recorded us (and so let us
     live) must not take us with it when we report "ready". */
  mask = set;
  sigaddset (&mask, SIGPIPE);
  if (sigprocmask (SIG_SETMASK, &mask, NULL) < 0)
    fail ("block SIGCHLD and SIGPIPE");

  if (template_fd >= 0)
    enter_template ();
  else
    isolate_mounts ();
  if (shm_fd >= 0)
    {
      if (getpid () == 1)
        fail ("take a /dev/shm (PID 1 of a pod has none)");
      receive_shm ();
    }
  drop_privileges ();
  /* No fd but the two pipes; stdio is /dev/null (podshim set it up). */
  int hi = report_fd > go_fd ? report_fd : go_fd;
  for (int fd = 3; fd < hi; fd++)
    if (fd != report_fd && fd != go_fd)
      close (fd);
  syscall (SYS_close_range, hi < 3 ? 3 : hi + 1, ~0U, 0);
  install_seccomp ();

  if (report_fd >= 0)
    {
      struct pause_report r = { .errno_ = 0 };
      snprintf (r.step, sizeof (r.step), "ready");
      ssize_t w = write (report_fd, &r, sizeof (r));
      (void)w;
      close (report_fd);
    }
  if (go_fd >= 0)
    {
      char go;
      ssize_t n;
      do
        n = read (go_fd, &go, 1);
      while (n < 0 && errno == EINTR);
      if (n != 1)
        _exit (1); /* podshim died before it recorded us */
      close (go_fd);
    }
  for (;;)
    {
      int sig = sigwaitinfo (&set, NULL);
      (void)sig;
      /* SIGCHLD (or EINTR): reap every orphan that has exited. */
      while (waitpid (-1, NULL, WNOHANG) > 0)
        ;
    }
}

#include "config.h"
#include "spawn.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where spawn_exec() parks fds before moving them into place: above every
 * target, so that no dup2() clobbers a source. */
#define SPAWN_HIGH_FD 10

int
spawn_exec (const struct spawn_opts *o)
{
  int high[SPAWN_FDS_MAX];
  int null = -1;
  if (o->n_fds < 0 || o->n_fds > SPAWN_FDS_MAX)
    {
      errno = EINVAL;
      return SPAWN_FAILED_SETUP;
    }
  for (int i = 0; i < o->n_fds; i++)
    {
      high[i] = -1;
      int src = o->fds[i];
      if (src == SPAWN_KEEP)
        continue;
      if (src == SPAWN_NULL)
        {
          if (null < 0 && (null = open ("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
            return SPAWN_FAILED_SETUP;
          src = null;
        }
      high[i] = fcntl (src, F_DUPFD_CLOEXEC, SPAWN_HIGH_FD);
      if (high[i] < 0)
        return SPAWN_FAILED_SETUP;
    }
  for (int i = 0; i < o->n_fds; i++)
    if (high[i] >= 0 && dup2 (high[i], i) < 0)
      return SPAWN_FAILED_SETUP;
  /* CLOEXEC rather than closed: a failure can still be written somewhere. */
  if (o->close_fds && syscall (SYS_close_range, (unsigned)o->n_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    for (int fd = o->n_fds; fd < 1024; fd++)
      (void)fcntl (fd, F_SETFD, FD_CLOEXEC);
  if (o->sigmask && sigprocmask (SIG_SETMASK, o->sigmask, NULL) < 0)
    return SPAWN_FAILED_SETUP;
  const char *file = o->file ? o->file : o->argv[0];
  if (o->envp)
    execve (file, o->argv, o->envp);
  else
    execvp (file, o->argv);
  return SPAWN_FAILED_EXEC;
}

int
spawn_start (const struct spawn_opts *o, const char *what, struct spawn_proc *ret,
             struct podshim_error **err)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return podshim_error_set (err, errno, "cannot start %s", what);
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (p[0]);
      close (p[1]);
      return podshim_error_set (err, e, "cannot start %s", what);
    }
  if (pid == 0)
    {
      close (p[0]);
      int efd = p[1];
      if (efd < o->n_fds)
        efd = fcntl (efd, F_DUPFD_CLOEXEC, SPAWN_HIGH_FD);
      (void)spawn_exec (o);
      int e = errno;
      ssize_t w = write (efd, &e, sizeof (e));
      (void)w;
      _exit (127);
    }
  close (p[1]);
  *ret = (struct spawn_proc){ .pid = pid, .exec_fd = p[0] };
  return 0;
}

int
spawn_call (int (*fn) (void *data), void *data, const char *what, struct spawn_proc *ret,
            struct podshim_error **err)
{
  pid_t pid = fork ();
  if (pid < 0)
    return podshim_error_set (err, errno, "cannot start %s", what);
  if (pid == 0)
    _exit (fn (data));
  *ret = (struct spawn_proc){ .pid = pid, .exec_fd = -1 };
  return 0;
}

int
spawn_wait (struct spawn_proc *sp, const char *what, int *ret_status, struct podshim_error **err)
{
  int child_errno = 0;
  ssize_t n = 0;
  if (sp->exec_fd >= 0)
    {
      do
        n = read (sp->exec_fd, &child_errno, sizeof (child_errno));
      while (n < 0 && errno == EINTR);
      close (sp->exec_fd);
      sp->exec_fd = -1;
    }
  int status;
  pid_t w;
  do
    w = waitpid (sp->pid, &status, 0);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return podshim_error_set (err, errno, "cannot wait for %s", what);
  if (n == (ssize_t)sizeof (child_errno))
    return podshim_error_set (err, child_errno, "cannot execute %s", what);
  *ret_status = status;
  return 0;
}

int
spawn_run (const struct spawn_opts *o, const char *what, int *ret_status,
           struct podshim_error **err)
{
  struct spawn_proc sp;
  if (spawn_start (o, what, &sp, err) < 0)
    return -1;
  return spawn_wait (&sp, what, ret_status, err);
}

/* A child that could not exec argv exits 127, as a shell's would. */
static int
exec_or_127 (void *opts)
{
  (void)spawn_exec (opts);
  return 127;
}

int
spawn_capture (char *const *argv, size_t max, char **ret, size_t *ret_len, int *ret_status,
               struct podshim_error **err)
{
  cleanup_free char *what = NULL;
  if (asprintf (&what, "`%s`", argv[0]) < 0)
    abort ();
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return podshim_error_set (err, errno, "cannot run %s", what);
  struct spawn_opts o = { .argv = argv, .n_fds = 3, .fds = { SPAWN_KEEP, p[1], SPAWN_KEEP } };
  struct spawn_proc sp;
  int r = spawn_call (exec_or_127, &o, what, &sp, err);
  close (p[1]);
  cleanup_close int rfd = p[0];
  if (r < 0)
    return -1;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    abort ();
  char chunk[8192];
  ssize_t n;
  size_t total = 0;
  while ((n = read (rfd, chunk, sizeof (chunk))) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      total += (size_t)n;
      if (total <= max)
        fwrite (chunk, 1, (size_t)n, f);
    }
  fclose (f);
  int status;
  if (spawn_wait (&sp, what, &status, err) < 0)
    {
      free (buf);
      return -1;
    }
  if (total > max)
    {
      free (buf);
      podshim_error_set (err, 0, "%s printed more than %zu bytes", what, max);
      if (err && *err)
        (*err)->errno_ = EFBIG; /* the cause, kept out of the message */
      return -1;
    }
  *ret = buf;
  *ret_len = len;
  *ret_status = status;
  return 0;
}

int
spawn_run_quiet (char *const *argv)
{
  struct spawn_opts o = { .argv = argv, .n_fds = 3, .fds = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL } };
  int status;
  if (spawn_run (&o, argv[0], &status, NULL) < 0)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

int
spawn_detach (int keep)
{
  pid_t pid = fork ();
  if (pid < 0)
    return -1;
  if (pid > 0)
    {
      int status = 0;
      while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
      if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
      errno = EAGAIN;
      return -1;
    }
  (void)setsid ();
  pid_t w = fork ();
  if (w != 0)
    _exit (w < 0);
  if (chdir ("/") < 0)
    _exit (1);
  int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0)
    {
      (void)dup2 (fd, 0);
      (void)dup2 (fd, 1);
      (void)dup2 (fd, 2);
    }
  if (keep >= 0 && keep != 3)
    {
      (void)dup2 (keep, 3);
      keep = 3;
    }
  (void)syscall (SYS_close_range, keep >= 0 ? 4U : 3U, ~0U, 0U);
  return 1;
}

int
spawn_drop_privileges (bool keep_dac)
{
  /* The bounding set needs CAP_SETPCAP: first, and only when we have it
     (without it, the empty permitted set below is what counts). */
  for (int c = 0; c <= 63; c++)
    if ((!keep_dac || c != CAP_DAC_OVERRIDE) && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
      {
        if (errno == EINVAL || errno == EPERM)
          break;
        return -errno;
      }
  (void)prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct d[2] = { { 0 } };
  if (keep_dac)
    d[0].effective = d[0].permitted = 1U << CAP_DAC_OVERRIDE;
  if (syscall (SYS_capset, &h, d) < 0)
    return -errno;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -errno;
  return 0;
}

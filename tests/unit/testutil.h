/* Helpers shared by the unit tests: temp directories, whole-file I/O, and
 * asserting on podshim errors. Header-only: each test is one executable. */
#ifndef PODSHIM_TESTUTIL_H
#define PODSHIM_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "json.h"

static inline char *
t_strdup (const char *s)
{
  char *r = strdup (s);
  assert_non_null (r);
  return r;
}

static inline char *t_printf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static inline char *
t_printf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = NULL;
  int r = vasprintf (&s, fmt, ap);
  va_end (ap);
  assert_true (r >= 0);
  return s;
}

static inline int
t_rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  if (flag == FTW_DP)
    return rmdir (path);
  return unlink (path);
}

/* rm -rf that never follows symlinks (FTW_PHYS). */
static inline void
t_rmtree (const char *path)
{
  if (path)
    nftw (path, t_rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Every directory t_mkdtemp made, removed again at the test program's exit
 * (a failed assertion skips the rest of its test, and its t_rmtree). */
#define T_MAX_TMPDIRS 256
static char t_tmpdirs[T_MAX_TMPDIRS][4096];
static size_t t_n_tmpdirs;
static pid_t t_tmpdirs_owner;

static inline void
t_rm_tmpdirs (void)
{
  if (getpid () != t_tmpdirs_owner)
    return; /* a forked child's exit */
  for (size_t i = 0; i < t_n_tmpdirs; i++)
    if (access (t_tmpdirs[i], F_OK) == 0)
      t_rmtree (t_tmpdirs[i]);
}

/* A fresh directory under $TMPDIR (or /tmp); remove it with t_rmtree (at
 * the latest, it goes at exit). */
static inline char *
t_mkdtemp (void)
{
  const char *tmp = getenv ("TMPDIR");
  char *p = t_printf ("%s/podshim-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null (mkdtemp (p));
  if (t_n_tmpdirs == 0)
    {
      t_tmpdirs_owner = getpid ();
      atexit (t_rm_tmpdirs);
    }
  if (t_n_tmpdirs < T_MAX_TMPDIRS && strlen (p) < sizeof (t_tmpdirs[0]))
    strcpy (t_tmpdirs[t_n_tmpdirs++], p);
  return p;
}

/* A listening unix socket at path, for a fake server's child to accept on;
 * the child is forked after it: returns the child's PID to the parent (which
 * closes the socket), 0 to the child. */
static inline pid_t
t_fork_server (const char *path, int *ret_fd)
{
  int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true (s >= 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  assert_true (strlen (path) < sizeof (sa.sun_path));
  strcpy (sa.sun_path, path);
  assert_int_equal (bind (s, (struct sockaddr *)&sa, sizeof (sa)), 0);
  assert_int_equal (listen (s, 8), 0);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid > 0)
    close (s);
  else
    prctl (PR_SET_PDEATHSIG, SIGKILL); /* gone with a test that fails */
  *ret_fd = s;
  return pid;
}

/* A fake server's read of one request's head from c (up to its blank line,
 * the end of the connection, or size - 1 bytes) into req, NUL-terminated:
 * the bytes read. */
static inline size_t
t_read_head (int c, char *req, size_t size)
{
  size_t got = 0;
  req[0] = '\0';
  while (got < size - 1)
    {
      ssize_t r = read (c, req + got, size - 1 - got);
      if (r <= 0)
        break;
      got += (size_t)r;
      req[got] = '\0';
      if (strstr (req, "\r\n\r\n"))
        break;
    }
  return got;
}

static inline void
t_write (const char *path, const char *content)
{
  FILE *f = fopen (path, "we");
  assert_non_null (f);
  assert_int_equal (fwrite (content, 1, strlen (content), f), strlen (content));
  assert_int_equal (fclose (f), 0);
}

/* The whole file, NUL-terminated; NULL when it cannot be opened. */
static inline char *
t_read (const char *path, size_t *ret_len)
{
  FILE *f = fopen (path, "re");
  if (f == NULL)
    return NULL;
  char *buf = NULL;
  size_t cap = 0, len = 0;
  for (;;)
    {
      if (len + 4096 + 1 > cap)
        {
          cap = (cap + 4096) * 2;
          buf = realloc (buf, cap);
          assert_non_null (buf);
        }
      size_t n = fread (buf + len, 1, cap - len - 1, f);
      len += n;
      if (n == 0)
        break;
    }
  fclose (f);
  buf[len] = '\0';
  if (ret_len)
    *ret_len = len;
  return buf;
}

/* Asserts err is set and its message contains needle; frees it. */
#define assert_error_contains(errp, needle)                                                        \
  do                                                                                               \
    {                                                                                              \
      struct podshim_error **ep_ = (errp);                                                         \
      assert_non_null (*ep_);                                                                      \
      assert_non_null ((*ep_)->msg);                                                               \
      if (strstr ((*ep_)->msg, (needle)) == NULL)                                                  \
        fail_msg ("error `%s` does not contain `%s`", (*ep_)->msg, (needle));                      \
      podshim_error_free (*ep_);                                                                   \
      *ep_ = NULL;                                                                                 \
    }                                                                                              \
  while (0)

/* Fails the test with the message of an unexpected error. */
#define assert_no_error(r, err)                                                                    \
  do                                                                                               \
    {                                                                                              \
      if ((r) < 0)                                                                                 \
        fail_msg ("unexpected error: %s", (err) ? (err)->msg : "(no message)");                    \
      assert_null (err);                                                                           \
    }                                                                                              \
  while (0)

/* Parses text (which must be valid) into a tree. */
static inline yajl_val
t_parse (const char *text)
{
  struct podshim_error *err = NULL;
  yajl_val v = NULL;
  int r = json_parse (text, strlen (text), "test input", &v, &err);
  assert_no_error (r, err);
  return v;
}

/* The canonical (compact) form of v. */
static inline char *
t_emit (yajl_val v)
{
  struct podshim_error *err = NULL;
  char *out = NULL;
  size_t len = 0;
  int r = json_emit (v, &out, &len, &err);
  assert_no_error (r, err);
  assert_int_equal (strlen (out), len);
  return out;
}

/* The canonical form of JSON text. */
static inline char *
t_canon (const char *text)
{
  yajl_val v = t_parse (text);
  char *out = t_emit (v);
  yajl_tree_free (v);
  return out;
}

#endif

#include "config.h"
#include "fsutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t w = write (fd, p, len);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += w;
      len -= (size_t)w;
    }
  return 0;
}

int
read_file_at (int dirfd, const char *name, int open_flags, size_t max, char **ret, size_t *ret_len,
              struct podshim_error **err)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | open_flags);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot open `%s`", name);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return podshim_error_set (err, errno, "cannot stat `%s`", name);
  if (!S_ISREG (st.st_mode))
    return podshim_error_set (err, 0, "`%s` is not a regular file", name);
  if ((size_t)st.st_size > max)
    return podshim_error_set (err, 0, "`%s` is larger than %zu bytes", name, max);
  size_t cap = (size_t)st.st_size + 1, len = 0;
  cleanup_free char *buf = malloc (cap + 1);
  if (buf == NULL)
    return podshim_error_set (err, ENOMEM, "cannot read `%s`", name);
  for (;;)
    {
      if (len == cap)
        {
          /* The file grew while we read it. */
          if (cap > max)
            return podshim_error_set (err, 0, "`%s` is larger than %zu bytes", name, max);
          cap *= 2;
          char *n = realloc (buf, cap + 1);
          if (n == NULL)
            return podshim_error_set (err, ENOMEM, "cannot read `%s`", name);
          buf = n;
        }
      ssize_t r = read (fd, buf + len, cap - len);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          return podshim_error_set (err, errno, "cannot read `%s`", name);
        }
      if (r == 0)
        break;
      len += (size_t)r;
    }
  if (len > max)
    return podshim_error_set (err, 0, "`%s` is larger than %zu bytes", name, max);
  buf[len] = '\0';
  *ret = steal_pointer (&buf);
  if (ret_len)
    *ret_len = len;
  return 0;
}

int
write_file_atomic_at (int dirfd, const char *name, const char *buf, size_t len, mode_t mode,
                      struct podshim_error **err)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (!S_ISREG (st.st_mode))
        return podshim_error_set (err, 0, "cannot replace `%s`: not a regular file", name);
      mode = st.st_mode & 07777;
    }
  else if (errno != ENOENT)
    return podshim_error_set (err, errno, "cannot stat `%s`", name);

  const char *base = strrchr (name, '/');
  cleanup_free char *tmp = NULL;
  if (asprintf (&tmp, "%.*s.%s.podshim-tmp-%d", base ? (int)(base - name + 1) : 0, name,
                base ? base + 1 : name, (int)getpid ())
      < 0)
    return podshim_error_set (err, ENOMEM, "cannot write `%s`", name);

  cleanup_close int fd
      = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST)
    {
      /* A leftover of a killed podshim with our pid: it is ours to replace. */
      unlinkat (dirfd, tmp, 0);
      fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    }
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot create `%s`", tmp);
  if (fchmod (fd, mode) < 0 || write_all (fd, buf, len) < 0 || fsync (fd) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return podshim_error_set (err, e, "cannot write `%s`", tmp);
    }
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return podshim_error_set (err, e, "cannot rename `%s` to `%s`", tmp, name);
    }
  return 0;
}

int
open_dir_at (int dirfd, const char *name, struct podshim_error **err)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int e = errno;
      podshim_error_set (err, e, "cannot open directory `%s`", name);
      return e == ENOENT ? -ENOENT : -1;
    }
  return fd;
}

int
ensure_dir_at (int dirfd, const char *name, mode_t mode, struct podshim_error **err)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT)
    return podshim_error_set (err, errno, "cannot open directory `%s`", name);
  if (mkdirat (dirfd, name, mode) < 0 && errno != EEXIST)
    return podshim_error_set (err, errno, "cannot create directory `%s`", name);
  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return podshim_error_set (err, errno, "cannot open directory `%s`", name);
  return fd;
}

int
ensure_dir_path (const char *path, mode_t mode, struct podshim_error **err)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  if (path[0] != '/')
    return podshim_error_set (err, 0, "state directory `%s` is not an absolute path", path);
  cleanup_close int cur = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return podshim_error_set (err, errno, "cannot open `/`");
  cleanup_free char *copy = strdup (path);
  if (copy == NULL)
    return podshim_error_set (err, ENOMEM, "cannot open `%s`", path);
  char *save = NULL;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      /* Leading components may be symlinks (/var/run); the state dir itself is ours. */
      int next = openat (cur, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (next < 0 && errno == ENOENT)
        {
          if (mkdirat (cur, c, mode) < 0 && errno != EEXIST)
            return podshim_error_set (err, errno, "cannot create directory `%s` in `%s`", c, path);
          next = openat (cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (next < 0)
        return podshim_error_set (err, errno, "cannot open `%s` in `%s`", c, path);
      close (cur);
      cur = next;
    }
  return steal_fd (&cur);
}

static int rm_rf_depth (int dirfd, const char *name, int depth, struct podshim_error **err);

static int
rm_rf_children (int fd, const char *name, int depth, struct podshim_error **err)
{
  if (depth > 256)
    return podshim_error_set (err, 0, "cannot remove `%s`: too deep", name);
  int dup_fd = dup (fd);
  if (dup_fd < 0)
    return podshim_error_set (err, errno, "cannot remove `%s`", name);
  cleanup_dir DIR *d = fdopendir (dup_fd);
  if (d == NULL)
    {
      close (dup_fd);
      return podshim_error_set (err, errno, "cannot list `%s`", name);
    }
  struct dirent *de;
  while ((errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (unlinkat (fd, de->d_name, 0) == 0 || errno == ENOENT)
        continue;
      if (errno != EISDIR && errno != EPERM)
        return podshim_error_set (err, errno, "cannot remove `%s/%s`", name, de->d_name);
      if (rm_rf_depth (fd, de->d_name, depth + 1, err) < 0)
        return -1;
    }
  if (errno != 0)
    return podshim_error_set (err, errno, "cannot list `%s`", name);
  return 0;
}

/* depth bounds the recursion (two fds and a frame per level): a pod volume's
 * tree is made by its members. */
static int
rm_rf_depth (int dirfd, const char *name, int depth, struct podshim_error **err)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      if (errno == ENOTDIR || errno == ELOOP)
        {
          if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
            return podshim_error_set (err, errno, "cannot remove `%s`", name);
          return 0;
        }
      return podshim_error_set (err, errno, "cannot open `%s`", name);
    }
  if (rm_rf_children (fd, name, depth, err) < 0)
    return -1;
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove directory `%s`", name);
  return 0;
}

int
rm_rf_at (int dirfd, const char *name, struct podshim_error **err)
{
  return rm_rf_depth (dirfd, name, 0, err);
}

int
open_private_dir_path (const char *path, bool create, struct podshim_error **err)
{
  if (path[0] != '/')
    return podshim_error_set (err, 0, "state directory `%s` is not an absolute path", path);
  cleanup_close int cur = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return podshim_error_set (err, errno, "cannot open `/`");
  const char *p = path;
  while (*p)
    {
      while (*p == '/')
        p++;
      size_t n = strcspn (p, "/");
      if (n == 0)
        break;
      char comp[NAME_MAX + 1];
      if (n > NAME_MAX)
        return podshim_error_set (err, ENAMETOOLONG, "cannot open state directory `%s`", path);
      memcpy (comp, p, n);
      comp[n] = '\0';
      int next = openat (cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT && create)
        {
          if (mkdirat (cur, comp, 0700) < 0 && errno != EEXIST)
            return podshim_error_set (err, errno, "cannot create directory `%.*s`",
                                      (int)(p + n - path), path);
          next = openat (cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (next < 0)
        {
          int e = errno;
          struct stat st;
          if ((e == ELOOP || e == ENOTDIR) && fstatat (cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0
              && S_ISLNK (st.st_mode))
            return podshim_error_set (err, 0,
                                      "state directory `%s`: `%.*s` is a symbolic link (give"
                                      " podshim the real path)",
                                      path, (int)(p + n - path), path);
          podshim_error_set (err, e, "cannot open `%.*s`", (int)(p + n - path), path);
          return e == ENOENT ? -ENOENT : -1;
        }
      close (cur);
      cur = next;
      p += n;
    }
  struct stat st;
  if (fstat (cur, &st) < 0)
    return podshim_error_set (err, errno, "cannot stat state directory `%s`", path);
  if (st.st_uid != geteuid () || (st.st_mode & 022) != 0)
    return podshim_error_set (err, 0,
                              "state directory `%s` is unsafe: owned by uid %u with mode %04o"
                              " (it must be owned by uid %u and writable by no one else)",
                              path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                              (unsigned)geteuid ());
  return steal_fd (&cur);
}

/* Does st's mode grant `want` (4 r, 2 w, 1 x) to us without capabilities? */
static bool
mode_allows (const struct stat *st, unsigned want)
{
  unsigned bits = st->st_mode & 7;
  if (st->st_uid == geteuid ())
    bits = (st->st_mode >> 6) & 7;
  else
    {
      gid_t groups[256];
      int n = getgroups (256, groups);
      bool in = st->st_gid == getegid ();
      for (int i = 0; !in && i < n; i++)
        in = groups[i] == st->st_gid;
      if (in)
        bits = (st->st_mode >> 3) & 7;
    }
  return (bits & want) == want;
}

/* Every directory above path searchable, path itself (when it exists)
   readable and writable. */
static bool
walk_ok (const char *path)
{
  size_t n = strlen (path);
  if (n == 0 || path[0] != '/' || n >= 4096)
    return false;
  char buf[4096];
  memcpy (buf, path, n + 1);
  struct stat st;
  for (size_t i = 1; i <= n; i++)
    {
      if (buf[i] != '/' && buf[i] != '\0')
        continue;
      char c = buf[i];
      buf[i] = '\0';
      bool last = c == '\0';
      if (stat (i == 0 ? "/" : buf, &st) < 0)
        return last && errno == ENOENT;
      if (!mode_allows (&st, last ? 6 : 1))
        return false;
      buf[i] = c;
    }
  return stat ("/", &st) == 0 && mode_allows (&st, 1);
}

bool
path_reachable_without_caps (const char *path)
{
  if (!walk_ok (path))
    return false;
  char *real = realpath (path, NULL);
  if (real == NULL)
    return errno == ENOENT;
  bool ok = walk_ok (real);
  free (real);
  return ok;
}

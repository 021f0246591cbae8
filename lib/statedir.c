#include "config.h"
#include "statedir.h"
#include "fsutil.h"
#include "stateformat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAX 4096
#define LOCK_SUFFIX ".lock"

void
statedir_rootkey (const char *root, char out[STATEDIR_ROOTKEY_LEN + 1])
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)root; *p; p++)
    {
      h ^= *p;
      h *= 0x100000001b3ULL;
    }
  snprintf (out, STATEDIR_ROOTKEY_LEN + 1, "%016llx", (unsigned long long)h);
}

bool
statedir_rootkey_valid (const char *name)
{
  size_t n = strspn (name, "0123456789abcdef");
  return n == STATEDIR_ROOTKEY_LEN && name[n] == '\0';
}

int
statedir_open (const char *state_dir, bool create, struct podshim_error **err)
{
  return open_private_dir_path (state_dir, create, err);
}

static int
flock_retry (int fd, int op)
{
  int r;
  while ((r = flock (fd, op)) < 0 && errno == EINTR)
    ;
  return r;
}

int
statedir_open_root (const char *state_dir, const char *rootkey, const char *root, bool create,
                    int *ret_statefd, struct podshim_error **err)
{
  cleanup_close int sfd = statedir_open (state_dir, create, err);
  if (sfd < 0)
    return sfd;
  if (ret_statefd && flock_retry (sfd, LOCK_SH) < 0)
    return podshim_error_set (err, errno, "cannot lock `%s`", state_dir);
  int rfd = create ? ensure_dir_at (sfd, rootkey, 0700, err) : open_dir_at (sfd, rootkey, err);
  if (rfd < 0)
    return rfd;
  cleanup_close int rootfd = rfd;
  if (create && faccessat (rootfd, STATEDIR_ROOT_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0
      && write_file_atomic_at (rootfd, STATEDIR_ROOT_FILE, root, strlen (root), 0600, err) < 0)
    return -1;
  if (ret_statefd)
    *ret_statefd = steal_fd (&sfd);
  return steal_fd (&rootfd);
}

/* Reads the one-value file name of dirfd, checked for its version. */
static int
read_value (int dirfd, const char *name, size_t max, unsigned newest, char **ret,
            struct podshim_error **err)
{
  cleanup_free char *buf = NULL;
  size_t len;
  if (read_file_at (dirfd, name, O_NOFOLLOW, max, &buf, &len, err) < 0)
    return -1;
  if (state_format_text (buf, len, newest, err) < 0)
    return state_format_wrap_path (err, dirfd, name);
  *ret = steal_pointer (&buf);
  return 0;
}

int
statedir_root_read (int rootfd, char **ret, struct podshim_error **err)
{
  return read_value (rootfd, STATEDIR_ROOT_FILE, INDEX_MAX, STATEDIR_ROOT_FILE_VERSION, ret, err);
}

int
statedir_data_read (int poddir, char **ret, struct podshim_error **err)
{
  return read_value (poddir, STATEDIR_POD_DATA, PATH_MAX, STATEDIR_POD_DATA_VERSION, ret, err);
}

int
statedir_open_sub (int rootfd, const char *sub, bool create, struct podshim_error **err)
{
  return create ? ensure_dir_at (rootfd, sub, 0700, err) : open_dir_at (rootfd, sub, err);
}

void
statedir_remove_root_if_empty (int statefd, const char *rootkey, int rootfd)
{
  cleanup_close int sfd = dup (statefd);
  if (sfd < 0 || flock (sfd, LOCK_EX | LOCK_NB) < 0)
    return;
  /* rmdir fails (ENOTEMPTY) while anything is recorded. */
  static const char *const subs[] = { STATEDIR_PODS, STATEDIR_CONTAINERS, STATEDIR_RECORDS,
                                      STATEDIR_COMPANIONS, STATEDIR_LOCKS };
  bool empty = true;
  for (size_t i = 0; empty && i < sizeof (subs) / sizeof (subs[0]); i++)
    empty = unlinkat (rootfd, subs[i], AT_REMOVEDIR) == 0 || errno == ENOENT;
  if (empty)
    {
      (void)unlinkat (rootfd, STATEDIR_HOLDER_TEMPLATE, 0);
      (void)unlinkat (rootfd, STATEDIR_ROOT_FILE, 0);
      (void)unlinkat (statefd, rootkey, AT_REMOVEDIR);
    }
  (void)flock (sfd, LOCK_UN);
}

/* `<key>.lock`; false when key does not fit (never for a valid key). */
static bool
lock_name (const char *key, char ret[POD_KEY_MAX + sizeof (LOCK_SUFFIX)])
{
  int n = snprintf (ret, POD_KEY_MAX + sizeof (LOCK_SUFFIX), "%s" LOCK_SUFFIX, key);
  return n > 0 && (size_t)n < POD_KEY_MAX + sizeof (LOCK_SUFFIX);
}

int
statedir_lock_pod (int locksfd, const char *key, struct podshim_error **err)
{
  char name[POD_KEY_MAX + sizeof (LOCK_SUFFIX)];
  if (!lock_name (key, name))
    return podshim_error_set (err, ENAMETOOLONG, "cannot lock pod `%.64s...`", key);
  for (int attempt = 0; attempt < 1000; attempt++)
    {
      cleanup_close int fd
          = openat (locksfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
        return podshim_error_set (err, errno, "cannot open lock `%s`", name);
      if (flock_retry (fd, LOCK_EX) < 0)
        return podshim_error_set (err, errno, "cannot lock `%s`", name);
      struct stat a, b;
      if (fstat (fd, &a) < 0)
        return podshim_error_set (err, errno, "cannot stat lock `%s`", name);
      if (fstatat (locksfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino
          && a.st_dev == b.st_dev)
        return steal_fd (&fd);
      /* The pod was torn down while we waited: take the new lock file. */
    }
  return podshim_error_set (err, 0, "cannot lock `%s`: it keeps being replaced", name);
}

void
statedir_unlink_lock (int locksfd, const char *key)
{
  char name[POD_KEY_MAX + sizeof (LOCK_SUFFIX)];
  if (locksfd >= 0 && lock_name (key, name))
    (void)unlinkat (locksfd, name, 0);
}

bool
statedir_lock_key (const char *file, char ret[POD_KEY_MAX + 1])
{
  size_t n = strlen (file), s = strlen (LOCK_SUFFIX);
  if (n <= s || n - s > POD_KEY_MAX || strcmp (file + n - s, LOCK_SUFFIX) != 0)
    return false;
  memcpy (ret, file, n - s);
  ret[n - s] = '\0';
  return pod_key_valid (ret);
}

int
statedir_index_read (int rootfd, const char *id, char **ret_key, struct podshim_error **err)
{
  *ret_key = NULL;
  cleanup_error struct podshim_error *e = NULL;
  cleanup_close int cfd = statedir_open_sub (rootfd, STATEDIR_CONTAINERS, false, &e);
  if (cfd < 0 && podshim_error_is (e, ENOENT))
    return 0;
  if (cfd < 0)
    {
      *err = steal_pointer (&e);
      return -1;
    }
  cleanup_free char *key = NULL;
  if (read_value (cfd, id, INDEX_MAX, STATEDIR_INDEX_VERSION, &key, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0;
      *err = steal_pointer (&e);
      return -1;
    }
  if (!pod_key_valid (key))
    return podshim_error_set (err, 0, "the index entry of `%s` names no pod", id);
  *ret_key = steal_pointer (&key);
  return 0;
}

int
statedir_index_write (int rootfd, const char *id, const char *key, struct podshim_error **err)
{
  cleanup_close int cfd = statedir_open_sub (rootfd, STATEDIR_CONTAINERS, true, err);
  if (cfd < 0)
    return -1;
  return write_file_atomic_at (cfd, id, key, strlen (key), 0600, err);
}

void
statedir_index_remove (int rootfd, const char *id, const char *key)
{
  cleanup_close int cfd = statedir_open_sub (rootfd, STATEDIR_CONTAINERS, false, NULL);
  if (cfd < 0)
    return;
  if (key != NULL)
    {
      cleanup_free char *buf = NULL;
      cleanup_error struct podshim_error *e = NULL;
      if (read_file_at (cfd, id, O_NOFOLLOW, INDEX_MAX, &buf, NULL, &e) < 0
          || strcmp (buf, key) != 0)
        return;
    }
  if (unlinkat (cfd, id, 0) < 0 && errno != ENOENT)
    (void)unlinkat (cfd, id, AT_REMOVEDIR);
}

char *
statedir_pod_path (const char *state_dir, const char *rootkey, const char *key, const char *leaf)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/" STATEDIR_PODS "/%s%s%s", state_dir, rootkey, key, leaf ? "/" : "",
                leaf ? leaf : "")
      < 0)
    abort ();
  return p;
}

char *
statedir_record_path (const char *state_dir, const char *rootkey, const char *id)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/" STATEDIR_RECORDS "/%s", state_dir, rootkey, id) < 0)
    abort ();
  return p;
}

char *
statedir_data_path (const char *data_dir, const char *rootkey, const char *key)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/%s", data_dir, rootkey, key) < 0)
    abort ();
  return p;
}

/* File helpers: bounded reads, atomic replace, directories opened without
 * following symlinks. All take a directory fd first (openat style). */
#ifndef PODSHIM_FSUTIL_H
#define PODSHIM_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Reads name (relative to dirfd, or absolute) up to max bytes; more is an error.
 * open_flags are or-ed in (e.g. O_NOFOLLOW). *ret is NUL-terminated. */
int read_file_at (int dirfd, const char *name, int open_flags, size_t max, char **ret,
                  size_t *ret_len, struct podshim_error **err);

/* Replaces name in dirfd atomically: temp file in the same directory, full
 * write, fsync, renameat. Keeps the mode of an existing file, else uses mode. */
int write_file_atomic_at (int dirfd, const char *name, const char *buf, size_t len, mode_t mode,
                          struct podshim_error **err);

/* Opens (creating with mode if missing) the directory name under dirfd without
 * following a symlink in its last component. Returns the O_DIRECTORY fd. */
int ensure_dir_at (int dirfd, const char *name, mode_t mode, struct podshim_error **err);

/* As ensure_dir_at, for an absolute path, creating missing components. */
int ensure_dir_path (const char *path, mode_t mode, struct podshim_error **err);

/* Opens the absolute directory path (creating missing components 0700 if
 * create) without following any symbolic link on the way, and checks that
 * it is owned by the effective uid and writable by no one else. A missing
 * one without create: -ENOENT, err set (podshim_error_is (e, ENOENT)). */
int open_private_dir_path (const char *path, bool create, struct podshim_error **err);

/* Opens an existing directory under dirfd without following symlinks. Returns
 * < 0 with err on failure: -ENOENT when it is missing (err's errno_ ENOENT). */
int open_dir_at (int dirfd, const char *name, struct podshim_error **err);

/* Removes name under dirfd recursively, never following symlinks. Missing is fine. */
int rm_rf_at (int dirfd, const char *name, struct podshim_error **err);

/* True when uid 0 without capabilities could reach path: every directory on
 * it (as written, and symlinks resolved) searchable by its owner, group or
 * other bits as they apply to uid/gid 0, and path itself, when it exists,
 * readable and writable so (a unix socket to connect to). */
bool path_reachable_without_caps (const char *path);

/* Writes all of buf to fd, retrying on EINTR and short writes. Sets errno. */
int write_all (int fd, const void *buf, size_t len);

#endif

/* The one error type. A fallible function takes `struct podshim_error **err`
 * last, returns < 0 on failure and sets *err; only cmd/ prints it. */
#ifndef PODSHIM_ERROR_H
#define PODSHIM_ERROR_H

#include <stdbool.h>

#include "cleanup.h"

struct podshim_error
{
  int errno_; /* 0 when the cause is not a system call */
  char *msg;  /* full message, cause included */
};

/* Sets *err (if err and *err is NULL) to a formatted message; when errno_ != 0
 * ": strerror(errno_)" is appended. Always returns -1. */
int podshim_error_set (struct podshim_error **err, int errno_, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prefixes the message of an existing error with context ("ctx: old"). Returns -1. */
int podshim_error_wrap (struct podshim_error **err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

void podshim_error_free (struct podshim_error *err);

/* True when err is set and its cause is errno_ (e.g. ENOENT: "not found"). */
static inline bool
podshim_error_is (const struct podshim_error *err, int errno_)
{
  return err != NULL && err->errno_ == errno_;
}

static inline void
cleanup_errorp (struct podshim_error **e)
{
  podshim_error_free (*e);
  *e = NULL;
}
#define cleanup_error __attribute__ ((cleanup (cleanup_errorp)))

#endif

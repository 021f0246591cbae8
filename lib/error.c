#include "config.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *vformat (const char *fmt, va_list ap) __attribute__ ((format (printf, 1, 0)));

/* No message grows past this (values from labels are quoted in it). */
#define ERROR_MSG_MAX 2048

static void
cap_message (char *s)
{
  if (s && strlen (s) > ERROR_MSG_MAX)
    strcpy (s + ERROR_MSG_MAX - 15, "... (truncated)");
}

static char *
vformat (const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf (&s, fmt, ap) < 0)
    return NULL;
  cap_message (s);
  return s;
}

int
podshim_error_set (struct podshim_error **err, int errno_, const char *fmt, ...)
{
  if (err == NULL || *err != NULL)
    return -1;
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *base = vformat (fmt, ap);
  va_end (ap);

  struct podshim_error *e = calloc (1, sizeof (*e));
  if (e == NULL)
    abort ();
  e->errno_ = errno_;
  if (base == NULL)
    e->msg = strdup ("out of memory");
  else if (errno_ != 0)
    {
      if (asprintf (&e->msg, "%s: %s", base, strerror (errno_)) < 0)
        e->msg = NULL;
    }
  else
    e->msg = steal_pointer (&base);
  if (e->msg == NULL)
    abort ();
  cap_message (e->msg);
  *err = e;
  return -1;
}

int
podshim_error_wrap (struct podshim_error **err, const char *fmt, ...)
{
  if (err == NULL || *err == NULL)
    return -1;
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *ctx = vformat (fmt, ap);
  va_end (ap);
  char *m = NULL;
  if (ctx && asprintf (&m, "%s: %s", ctx, (*err)->msg) >= 0)
    {
      free ((*err)->msg);
      cap_message (m);
      (*err)->msg = m;
    }
  return -1;
}

void
podshim_error_free (struct podshim_error *err)
{
  if (err == NULL)
    return;
  free (err->msg);
  free (err);
}

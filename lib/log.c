#include "config.h"
#include "log.h"
#include "cleanup.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct
{
  const char *path;
  bool json;
  bool debug;
} log_cfg;

void
podshim_log_init (const char *path, bool json, bool debug)
{
  log_cfg.path = path;
  log_cfg.json = json;
  log_cfg.debug = debug;
}

void
podshim_log_pin_path (void)
{
  static char *pinned;
  if (log_cfg.path == NULL || log_cfg.path[0] == '/' || pinned)
    return;
  cleanup_free char *cwd = getcwd (NULL, 0);
  if (cwd && asprintf (&pinned, "%s/%s", cwd, log_cfg.path) > 0)
    log_cfg.path = pinned;
}

bool
podshim_log_debug_enabled (void)
{
  return log_cfg.debug;
}

static const char *
level_name (enum podshim_log_level level)
{
  switch (level)
    {
    case PODSHIM_LOG_ERROR:
      return "error";
    case PODSHIM_LOG_WARNING:
      return "warning";
    case PODSHIM_LOG_INFO:
      return "info";
    case PODSHIM_LOG_DEBUG:
      return "debug";
    }
  return "info";
}

/* Appends s quoted as a JSON string (also valid for logrus text values). */
static void
put_quoted (FILE *f, const char *s)
{
  fputc ('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    {
      switch (*p)
        {
        case '"':
          fputs ("\\\"", f);
          break;
        case '\\':
          fputs ("\\\\", f);
          break;
        case '\n':
          fputs ("\\n", f);
          break;
        case '\t':
          fputs ("\\t", f);
          break;
        case '\r':
          fputs ("\\r", f);
          break;
        default:
          if (*p < 0x20 || *p == 0x7f)
            fprintf (f, "\\u%04x", *p);
          else
            fputc (*p, f);
        }
    }
  fputc ('"', f);
}

char *
podshim_log_format_line (bool json, enum podshim_log_level level, const char *msg,
                         const struct timespec *ts)
{
  char tbuf[64];
  struct tm tm;
  time_t sec = ts->tv_sec;
  if (gmtime_r (&sec, &tm) == NULL)
    return NULL;
  size_t n = strftime (tbuf, sizeof (tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (tbuf + n, sizeof (tbuf) - n, ".%09ldZ", (long)ts->tv_nsec);

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return NULL;
  if (json)
    {
      fprintf (f, "{\"level\":\"%s\",\"msg\":", level_name (level));
      put_quoted (f, msg);
      fprintf (f, ",\"time\":\"%s\"}\n", tbuf);
    }
  else
    {
      fprintf (f, "time=\"%s\" level=%s msg=", tbuf, level_name (level));
      put_quoted (f, msg);
      fputc ('\n', f);
    }
  if (fclose (f) != 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

void
podshim_log (enum podshim_log_level level, const char *fmt, ...)
{
  if (log_cfg.path == NULL || (level == PODSHIM_LOG_DEBUG && !log_cfg.debug))
    return;
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *msg = NULL;
  int r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    return;
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  cleanup_free char *line = podshim_log_format_line (log_cfg.json, level, msg, &ts);
  if (line == NULL)
    return;
  cleanup_close int fd
      = open (log_cfg.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0)
    return;
  /* One write(2) of one line: O_APPEND keeps it whole among the delegate's lines. */
  size_t len = strlen (line);
  ssize_t w = write (fd, line, len);
  (void)w;
}

/* Log lines for the caller's --log file, in its --log-format (text or json),
 * where containerd and dockerd read a runtime's errors. */
#ifndef PODSHIM_LOG_H
#define PODSHIM_LOG_H

#include <stdbool.h>
#include <time.h>

enum podshim_log_level
{
  PODSHIM_LOG_ERROR,
  PODSHIM_LOG_WARNING,
  PODSHIM_LOG_INFO,
  PODSHIM_LOG_DEBUG,
};

/* path may be NULL (no log file). Not thread-safe; called once from main. */
void podshim_log_init (const char *path, bool json, bool debug);

/* Makes a relative log path absolute (from the current directory), for a
 * process about to change its directory. */
void podshim_log_pin_path (void);

/* Appends one line to the log file, if any. Debug lines only with --debug. */
void podshim_log (enum podshim_log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

bool podshim_log_debug_enabled (void);

/* Formats one line (with trailing newline) in logrus style. Returns NULL on OOM. */
char *podshim_log_format_line (bool json, enum podshim_log_level level, const char *msg,
                               const struct timespec *ts);

#endif

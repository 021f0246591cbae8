/* Fault points for crash and rollback tests. */
#ifndef PODSHIM_FAULT_H
#define PODSHIM_FAULT_H

#include "config.h"
#include "error.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#if PODSHIM_FAULT_INJECTION
/* Test builds: PODSHIM_FAULT=<point> kills podshim there, as a crash would;
 * PODSHIM_FAULT=fail:<point> makes the step fail there (an error, rolled
 * back). */
static inline int
fault_point (const char *name, struct podshim_error **err)
{
  const char *f = getenv ("PODSHIM_FAULT");
  if (f && strcmp (f, name) == 0)
    raise (SIGKILL);
  if (f && strncmp (f, "fail:", 5) == 0 && strcmp (f + 5, name) == 0)
    return podshim_error_set (err, EIO, "fault injected at %s", name);
  return 0;
}
#else
static inline int
fault_point (const char *name, struct podshim_error **err)
{
  (void)name;
  (void)err;
  return 0;
}
#endif

#endif

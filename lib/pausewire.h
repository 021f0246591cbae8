/* What podshim-pause (and the helper that forks it) tell podshim over the
 * report pipe: errno_ != 0 with the step that failed, or errno_ == 0 with a
 * PID (from the helper) or with step "ready" (from podshim-pause, once it has
 * isolated itself). */
#ifndef PODSHIM_PAUSEWIRE_H
#define PODSHIM_PAUSEWIRE_H

#include <sys/types.h>

struct pause_report
{
  int errno_;
  pid_t pid;
  char step[64];
};

/* The uid and gid podshim-pause runs as: nobody. */
#define PAUSE_UID 65534
#define PAUSE_GID 65534

#endif

/* docker-pod: the docker CLI plugin behind `docker pod ls|inspect`. */
#include "config.h"
#include "version.h"

#include <stdio.h>

#include "dockerpod.h"
#include "error.h"

int
main (int argc, char **argv)
{
  struct podshim_error *err = NULL;
  int r = dockerpod_main (argc, argv, PODSHIM_VERSION, stdout, &err);
  if (r < 0)
    {
      fprintf (stderr, "docker pod: %s\n", err->msg);
      podshim_error_free (err);
      return 1;
    }
  return r;
}

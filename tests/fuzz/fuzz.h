/* Shared by the libFuzzer targets: the entry point and an invariant check
 * that aborts (libFuzzer reports it as a crash with the input). */
#ifndef PODSHIM_FUZZ_H
#define PODSHIM_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

#endif

/* The holder template's checks (runtime/sandbox.c): the template file's
 * version and "PID START\n", and the template holder's mountinfo. Checks: whatever parses
 * names a positive PID and prints back to the same text; a mountinfo that
 * passes has one or two non-empty lines, the first with a field "/". */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"
#include "stateformat.h"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 8192)
    return 0;
  char *buf = malloc (size + 1);
  CHECK (buf != NULL);
  memcpy (buf, data, size);
  buf[size] = '\0';

  /* A newer podshim's template is not read as one (sandbox_template_open). */
  struct podshim_error *err = NULL;
  bool newer = state_format_text (buf, size, 1, &err) < 0;
  CHECK (!newer || (buf[0] == '{' && podshim_error_is (err, STATE_FORMAT_NEWER)));
  podshim_error_free (err);
  pid_t pid;
  unsigned long long start;
  if (sandbox_template_parse (buf, &pid, &start))
    {
      CHECK (!newer);
      CHECK (pid > 0);
      char back[64];
      snprintf (back, sizeof (back), "%d %llu\n", (int)pid, start);
      CHECK (strcmp (back, buf) == 0);
    }

  /* Counted before the check, which cuts buf into lines. */
  size_t lines = 0;
  const char *first = NULL;
  for (const char *p = buf; *p;)
    {
      size_t n = strcspn (p, "\n");
      if (n > 0)
        {
          if (first == NULL)
            first = p;
          lines++;
        }
      p += n + (p[n] == '\n');
    }
  bool first_at_root = first && strncmp (first, "", 0) == 0 && strstr (first, " / ") != NULL;
  if (sandbox_template_mounts_ok (buf))
    CHECK (first_at_root && lines >= 1 && lines <= 2);
  free (buf);
  return 0;
}

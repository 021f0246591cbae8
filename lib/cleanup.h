/* Cleanup attributes for every resource kind podshim holds. All are NULL/-1 safe. */
#ifndef PODSHIM_CLEANUP_H
#define PODSHIM_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <string.h>

static inline void
cleanup_freep (void *p)
{
  free (*(void **)p);
}

static inline void
cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

static inline void
cleanup_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}

static inline void
cleanup_closedirp (DIR **d)
{
  if (*d)
    closedir (*d);
}

static inline void
cleanup_strvp (char ***v)
{
  if (*v)
    {
      for (char **p = *v; *p; p++)
        free (*p);
      free (*v);
    }
}

#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_fclose __attribute__ ((cleanup (cleanup_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (cleanup_closedirp)))
#define cleanup_strv __attribute__ ((cleanup (cleanup_strvp)))

/* strdup that aborts on OOM, as podshim's other allocations do; NULL stays
 * NULL. */
static inline char *
xstrdup_or_null (const char *s)
{
  if (s == NULL)
    return NULL;
  char *r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

/* Hands ownership out of a cleanup-attributed variable. */
static inline void *
steal_pointer_impl (void *pp)
{
  void **p = pp;
  void *r = *p;
  *p = NULL;
  return r;
}
/* Keeps the type: `char *s = steal_pointer (&yajl_val)` does not compile. */
#define steal_pointer(pp) ((__typeof__ (*(pp)))steal_pointer_impl (pp))

static inline int
steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

#endif

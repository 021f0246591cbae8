/* Text tables whose columns are as wide as their widest cell (`pod list`,
 * `docker pod ls`): rows are kept until printed. */
#ifndef PODSHIM_TABLE_H
#define PODSHIM_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table
{
  size_t ncols;
  size_t nrows;
  char **cells; /* nrows * ncols, owned */
};

void table_init (struct table *t, size_t ncols);
void table_free (struct table *t);
static inline void
cleanup_tablep (struct table *t)
{
  table_free (t);
}
#define cleanup_table __attribute__ ((cleanup (cleanup_tablep)))

/* Appends a row of ncols cells (copied; NULL prints as "-"). */
void table_add (struct table *t, const char *const *cells);

/* Prints every row, columns separated by three spaces, each but the last
 * padded to its widest cell. */
void table_print (const struct table *t, FILE *out);

#endif

#include "config.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>

void
table_init (struct table *t, size_t ncols)
{
  memset (t, 0, sizeof (*t));
  t->ncols = ncols;
}

void
table_free (struct table *t)
{
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free (t->cells[i]);
  free (t->cells);
  t->cells = NULL;
  t->nrows = 0;
}

void
table_add (struct table *t, const char *const *cells)
{
  char **c = reallocarray (t->cells, (t->nrows + 1) * t->ncols, sizeof (char *));
  if (c == NULL)
    abort ();
  t->cells = c;
  for (size_t j = 0; j < t->ncols; j++)
    {
      char *s = strdup (cells[j] ? cells[j] : "-");
      if (s == NULL)
        abort ();
      t->cells[t->nrows * t->ncols + j] = s;
    }
  t->nrows++;
}

void
table_print (const struct table *t, FILE *out)
{
  size_t *w = calloc (t->ncols ? t->ncols : 1, sizeof (size_t));
  if (w == NULL)
    abort ();
  for (size_t i = 0; i < t->nrows; i++)
    for (size_t j = 0; j < t->ncols; j++)
      {
        size_t l = strlen (t->cells[i * t->ncols + j]);
        if (l > w[j])
          w[j] = l;
      }
  for (size_t i = 0; i < t->nrows; i++)
    {
      for (size_t j = 0; j < t->ncols; j++)
        {
          const char *s = t->cells[i * t->ncols + j];
          if (j + 1 == t->ncols)
            fprintf (out, "%s\n", s);
          else
            fprintf (out, "%-*s   ", (int)w[j], s);
        }
    }
  free (w);
}

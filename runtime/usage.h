/* `podshim --podshim-help`: podshim's own options and commands (`--help`
 * is the delegate's, passed through). */
#ifndef PODSHIM_USAGE_H
#define PODSHIM_USAGE_H

#include <stdio.h>

void podshim_usage (FILE *out);

#endif

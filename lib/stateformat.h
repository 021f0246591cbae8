/* Format versions of the files podshim keeps in its state and data
 * directories, and the one refusal of a newer one (docs/upgrades.md).
 *
 * A JSON state file (pod.json, a container record) says its version in
 * "version". A file of one value (an index entry, a pod's `data`, the
 * `holder-template`, a root's `root`) is version 1 in that value's own
 * spelling, the one podshim 0.1.0 wrote and this one still writes (so that
 * 0.1.0 reads it after a rollback); a later version of such a file is a JSON
 * object with a "version". A podshim reads every version up to its newest and
 * refuses a newer one, naming the file, its version and the newest it reads;
 * it never writes or removes a file it refused. */
#ifndef PODSHIM_STATEFORMAT_H
#define PODSHIM_STATEFORMAT_H

#include <stddef.h>

#include "error.h"

/* The errno_ of a refusal (podshim_error_is): a newer podshim wrote the
 * file. No errno is this large. */
#define STATE_FORMAT_NEWER 4096

/* Sets err (errno_ STATE_FORMAT_NEWER): "format version V, newer than the
 * NEWEST this podshim reads ...". Returns -1. */
int state_format_newer (unsigned long long version, unsigned newest, struct podshim_error **err);

/* The version of a one-value file's text buf[0..len): 1 unless it is a JSON
 * object with an unsigned "version" (a later format); then err as
 * state_format_newer when that is above newest, and -1. A value that is
 * neither is the caller's to judge (version 1). */
int state_format_text (const char *buf, size_t len, unsigned newest, struct podshim_error **err);

/* Prefixes err with the path of name in dirfd ("`/run/podshim/.../pod.json`:
 * ..."), found through /proc/self/fd (name alone if it cannot be). Returns -1. */
int state_format_wrap_path (struct podshim_error **err, int dirfd, const char *name);

#endif

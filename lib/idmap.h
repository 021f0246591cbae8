/* A user namespace's ID mappings (OCI `linux.uidMappings`/`gidMappings`,
 * the kernel's /proc/PID/uid_map): read from JSON, checked as the kernel and
 * runc would take them, compared and written. Knows nothing about runc. */
#ifndef PODSHIM_IDMAP_H
#define PODSHIM_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json.h"

/* The kernel's limit on lines of one uid_map (UID_GID_MAP_MAX_EXTENTS). */
#define IDMAP_MAX 340
/* What one write of a uid_map may hold (less than a page). */
#define IDMAP_TEXT_MAX 4096

struct idmap_range
{
  uint32_t inner; /* containerID */
  uint32_t outer; /* hostID */
  uint32_t count; /* size */
};

struct idmap
{
  size_t n;
  struct idmap_range r[IDMAP_MAX];
};

/* A pod's user namespace: on, with these mappings, or off (the host's). */
struct pod_userns
{
  bool on;
  struct idmap uid, gid;
};

/* Reads an array of {containerID, hostID, size} (what names it: `what`, for
 * messages) into ret. NULL or an empty array: n = 0. Refuses what is not
 * such an array, numbers out of uint32, more than IDMAP_MAX entries. */
int idmap_from_json (yajl_val arr, const char *what, struct idmap *ret, struct podshim_error **err);
/* The same array, new. */
yajl_val idmap_to_json (const struct idmap *m);

/* Refuses a mapping the kernel would (none, a size of 0, a range past
 * 2^32, overlapping ranges inside or outside, text too long for one write)
 * or runc would (no root: inner 0 unmapped). */
int idmap_check (const struct idmap *m, const char *what, struct podshim_error **err);

/* The same ranges, in any order. */
bool idmap_equal (const struct idmap *a, const struct idmap *b);

/* The host ID of inner ID id, or -1 when unmapped. */
long long idmap_outer (const struct idmap *m, uint32_t id);

/* The host uid and gid of u's root (the pod's files are its): false when
 * u is off (the host's root then). */
bool pod_userns_root (const struct pod_userns *u, unsigned *ret_uid, unsigned *ret_gid);

/* The kernel's text ("inner outer count\n" a line) into buf (IDMAP_TEXT_MAX):
 * its length, or -1 when it does not fit. */
int idmap_format (const struct idmap *m, char *buf, size_t len);

/* "0:100000:65536,..." for messages (the first 8 ranges, then ",..."); owned. */
char *idmap_describe (const struct idmap *m);

#endif

/* The operator's say over companions (the "companions" object of the podshim
 * config file, beside its runtime classes): whether an image's own labels may
 * declare them, which images they may run, how many a pod may have, and the
 * resource limits they get; and the limits themselves, as a companion's spec
 * and its anchor give them. */
#ifndef PODSHIM_COMPANION_POLICY_H
#define PODSHIM_COMPANION_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "json.h"

#define COMPANION_POLICY_IMAGES_MAX 256
#define COMPANION_POLICY_PATTERN_MAX 512
/* Companions one pod may have (companions.maxPerPod): by default two anchors'
 * worth of COMPANION_MAX. */
#define COMPANION_PER_POD_DEFAULT 16
#define COMPANION_PER_POD_MAX 1024
/* dockerd refuses less memory than this (its linuxMinMemory). */
#define COMPANION_MEMORY_MIN (6LL * 1024 * 1024)
#define COMPANION_MEMORY_MAX (1LL << 50)
#define COMPANION_NANO_CPUS_MIN 10000000LL /* 0.01 CPU, dockerd's floor */
#define COMPANION_NANO_CPUS_MAX (4096LL * 1000000000LL)
#define COMPANION_PIDS_MAX (1LL << 22) /* the kernel's pid_max ceiling */

/* Resource limits; 0 means none. */
struct companion_limits
{
  long long memory;    /* bytes (HostConfig.Memory) */
  long long nano_cpus; /* 1e-9 CPUs (HostConfig.NanoCpus) */
  long long pids;      /* HostConfig.PidsLimit */
};

struct companion_policy
{
  bool from_image_labels; /* companions.fromImageLabels */
  bool images_set;        /* companions.allowedImages was given (maybe empty) */
  char **allowed_images;  /* shell patterns, NULL-terminated */
  size_t n_allowed;
  unsigned max_per_pod; /* 0: COMPANION_PER_POD_DEFAULT */
  struct companion_limits defaults;
};

void companion_policy_free (struct companion_policy *p);

/* Parses v, the config file's "companions" value (NULL or null: the
 * defaults). Unknown keys are refused: a misspelt policy must not be a
 * silent no-policy. `what` names the file in errors. */
int companion_policy_parse (yajl_val v, const char *what, struct companion_policy *ret,
                            struct podshim_error **err);

/* The pod cap in force. */
unsigned companion_policy_max_per_pod (const struct companion_policy *p);

/* A limit as a companion spec or the config gives it: memory as bytes (a
 * number) or a string with a k, m, g or t suffix (powers of 1024); cpus as a
 * number or decimal string ("0.5"); pids as a positive integer (or a string
 * of digits). Bounds: the COMPANION_*_MIN/MAX above. On error *ret_why
 * (static) says what is wrong. */
int companion_memory_parse (yajl_val v, long long *ret, const char **ret_why);
int companion_cpus_parse (yajl_val v, long long *ret, const char **ret_why);
int companion_pids_parse (yajl_val v, long long *ret, const char **ret_why);

/* "64m", "1.5", "100": a limit as a person reads it. Owned. */
char *companion_memory_str (long long bytes);
char *companion_cpus_str (long long nano_cpus);

/* The anchor's own limits, from its config.json (linux.resources: memory
 * limit, cpu quota/period, pids limit: what its runtime applies). */
void companion_limits_from_spec (yajl_val spec, struct companion_limits *ret);

/* Companion `name`'s limits: the spec's keys (memory, cpus, pids_limit) when
 * set, never above the anchor's (an error naming the key otherwise); else the
 * lower of the anchor's and the operator's default, whichever are set. */
int companion_limits_resolve (const char *name, yajl_val companion_spec,
                              const struct companion_limits *anchor,
                              const struct companion_limits *defaults, struct companion_limits *ret,
                              struct podshim_error **err);

/* A reference dockerd may resolve as an image ID or ID prefix: hex digits
 * alone ("3f2a"), or ALGORITHM:HEX (sha256, sha384, sha512). */
bool companion_image_by_id (const char *image);

/* The registry of a reference when it is on this host's loopback (localhost,
 * *.localhost, 127.0.0.0/8 in any form inet_aton reads, 0.0.0.0, ::1, ::,
 * IPv4-mapped loopback; any port), as written (up to the first '/'); else
 * NULL. Owned. */
char *companion_image_loopback_registry (const char *image);

/* May a companion run image under policy p? 0 when it may, else an error
 * naming the image and the setting (`config` names the config file). */
int companion_image_check (const struct companion_policy *p, const char *config, const char *name,
                           const char *image, struct podshim_error **err);

#endif

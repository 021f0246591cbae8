/* The Docker Engine API over its unix socket, spoken at the version the
 * daemon serves: the newest both it and podshim know. Every call is bounded
 * in time (its timeout) and size (lib/http.h). */
#ifndef PODSHIM_DOCKERAPI_H
#define PODSHIM_DOCKERAPI_H

#include "error.h"
#include "http.h"

/* The API versions podshim is written against: 1.41 (Docker 20.10) to 1.51
 * (Docker 28.5), both tested. A daemon serving newer ones is spoken to at
 * 1.51 while it still serves that (Docker 29.0 serves 1.44-1.52). */
#define DOCKER_API_MINOR_MIN 41
#define DOCKER_API_MINOR_MAX 51

struct docker_api
{
  const char *sock; /* the socket's path (borrowed) */
  int minor;        /* the version spoken, 1.<minor>; 0 until docker_api_ping */
};

/* From /_ping's API-Version header (the newest version the daemon serves;
 * /version's ApiVersion when the header is missing) and, when that is newer
 * than DOCKER_API_MINOR_MAX, /version's MinAPIVersion: the version to speak,
 * 1.<*ret_minor>. Pure, for tests: the answers as the daemon gave them
 * (version_body NULL when not asked for). Returns 1 when version_body is
 * needed and was not given. */
int docker_api_pick_version (const char *ping_header, const char *version_body, int *ret_minor,
                             struct podshim_error **err);

/* GET /_ping, and the version to speak from its answer (a->minor, asking
 * /version too when the ping does not settle it). 0 when the API answers
 * 200 and speaks a version podshim knows. */
int docker_api_ping (struct docker_api *a, int timeout_ms, struct podshim_error **err);

/* METHOD /v1.<minor><path> (body: JSON or NULL), pinging first when no
 * version is known yet. */
int docker_api_call (struct docker_api *a, const char *method, const char *path, const char *body,
                     int timeout_ms, struct http_response *ret, struct podshim_error **err);

/* GET path as docker_api_call: its HTTP status and body (owned, NUL-terminated). */
int docker_api_get (struct docker_api *a, const char *path, int timeout_ms, int *ret_status,
                    char **ret_body, struct podshim_error **err);

/* The API's own message ({"message": ...}) or the start of the body, on one
 * line, at most 400 bytes. Owned. */
char *docker_api_message (const struct http_response *r);

/* s %-escaped for a URL's path segment or query value. Owned. */
char *docker_url_escape (const char *s);

#endif

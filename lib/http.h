/* A small HTTP/1.1 client over AF_UNIX, for the Docker Engine API: one
 * request per connection (`Connection: close`), bounded in time and size.
 * Knows nothing about Docker. */
#ifndef PODSHIM_HTTP_H
#define PODSHIM_HTTP_H

#include <stddef.h>

#include "error.h"

#define HTTP_STATUS_LINE_MAX 1024
#define HTTP_HEADERS_MAX (64 * 1024) /* the whole header block */
#define HTTP_HEADER_COUNT_MAX 100
#define HTTP_BODY_MAX (4 * 1024 * 1024)
/* Everything read from the socket: head, body and chunk framing. */
#define HTTP_RESPONSE_MAX (HTTP_HEADERS_MAX + 2 * HTTP_BODY_MAX)

struct http_response
{
  int status;
  char *body; /* NUL-terminated (the NUL is not counted) */
  size_t body_len;
  char *head; /* the final response's header lines, NUL-terminated */
};

void http_response_free (struct http_response *r);
static inline void
cleanup_http_responsep (struct http_response *r)
{
  http_response_free (r);
}
#define cleanup_http_response __attribute__ ((cleanup (cleanup_http_responsep)))

/* Parses a complete response (the bytes up to the server's EOF): status line,
 * headers, then a body framed by `Transfer-Encoding: chunked`, by
 * `Content-Length`, or by the end of the bytes. Pure, for tests and fuzzing. */
int http_response_parse (const char *buf, size_t len, struct http_response *ret,
                         struct podshim_error **err);

/* The value of r's first header `name` (case-insensitive), without
 * surrounding blanks; NULL when r has none, or when that value holds a
 * control byte other than a tab (a stray CR). Owned. */
char *http_response_header (const struct http_response *r, const char *name);

/* "unix:///path" (or "/path") to the socket path; NULL when it is not a unix
 * address. Owned. */
char *http_unix_path (const char *addr);

/* Sends METHOD path (body: JSON, may be NULL) to the socket and reads the
 * response until EOF, giving up after timeout_ms in all. A connection that
 * cannot be made fails with errno_ set (ENOENT, ECONNREFUSED...). */
int http_request (const char *sock_path, const char *method, const char *path, const char *body,
                  size_t body_len, int timeout_ms, struct http_response *ret,
                  struct podshim_error **err);

#endif

/* The HTTP/1.1 client: response parsing (framing, limits, refusals) and a
 * request against a unix-socket server in a child process. */
#include "config.h"
#include "testutil.h"

#include "http.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

static void
parse_ok (const char *text, size_t len, int status, const char *body, size_t body_len)
{
  struct http_response r = { 0 };
  struct podshim_error *err = NULL;
  int rc = http_response_parse (text, len, &r, &err);
  assert_no_error (rc, err);
  assert_int_equal (r.status, status);
  assert_int_equal (r.body_len, body_len);
  assert_memory_equal (r.body, body, body_len);
  assert_int_equal (r.body[r.body_len], '\0');
  http_response_free (&r);
}
#define PARSE_OK(t, s, b) parse_ok (t, sizeof (t) - 1, s, b, sizeof (b) - 1)

static void
parse_bad (const char *text, size_t len, const char *needle)
{
  struct http_response r = { 0 };
  struct podshim_error *err = NULL;
  assert_int_equal (http_response_parse (text, len, &r, &err), -1);
  assert_null (r.body);
  assert_error_contains (&err, needle);
}
#define PARSE_BAD(t, n) parse_bad (t, sizeof (t) - 1, n)

static void
test_framing (void **state)
{
  (void)state;
  PARSE_OK ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello");
  /* Content-Length wins over bytes after it */
  PARSE_OK ("HTTP/1.1 200 OK\r\ncontent-length:  2 \r\n\r\nhello", 200, "he");
  /* chunked, with an extension and a trailer; case-insensitive names */
  PARSE_OK ("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5;x=y\r\nhello\r\n1A\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\nX-T: 1\r\n\r\n",
            201, "hello abcdefghijklmnopqrstuvwxy");
  PARSE_OK ("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n0\r\n\r\n", 200, "");
  /* no length: the body runs to EOF; bare LF lines */
  PARSE_OK ("HTTP/1.0 404 Not Found\nServer: x\n\n{\"message\":\"no\"}", 404,
            "{\"message\":\"no\"}");
  /* no body for 204 and 304 */
  PARSE_OK ("HTTP/1.1 204 No Content\r\nServer: Docker\r\n\r\n", 204, "");
  PARSE_OK ("HTTP/1.1 304 Not Modified\r\n\r\njunk", 304, "");
  /* an interim 100 Continue first */
  PARSE_OK ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x");
  /* a status line without reason */
  PARSE_OK ("HTTP/1.1 200\r\n\r\n", 200, "");
  /* embedded NULs survive in the body */
  parse_ok ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\0b", 41, 200, "a\0b", 3);
}

static void
test_refusals (void **state)
{
  (void)state;
  PARSE_BAD ("", "empty (connection closed)");
  PARSE_BAD ("HTTP/1.1 200 OK", "no status line");
  PARSE_BAD ("HTTP/2 200 OK\r\n\r\n", "bad status line");
  PARSE_BAD ("HTTP/1.1 2x0 OK\r\n\r\n", "bad status line");
  PARSE_BAD ("HTTP/1.1 200OK\r\n\r\n", "bad status line");
  PARSE_BAD ("HTTP/1.1 099 x\r\n\r\n", "bad status 99");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "bad header line");
  PARSE_BAD ("HTTP/1.1 200 OK\r\n: v\r\n\r\n", "bad header line");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nA: b\r\n", "headers truncated");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad or too large Content-Length");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "empty Content-Length");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
             "conflicting Content-Length");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
             "bad or too large Content-Length");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nContent-Length: 4194305\r\n\r\n",
             "body larger than 4194304 bytes");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello", "body truncated (5 of 6 bytes)");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "truncated chunk");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n",
             "chunk not followed by CRLF");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
             "bad or truncated chunk size");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400001\r\n",
             "body larger than 4194304 bytes");
  PARSE_BAD ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n",
             "body larger than");

  /* a status line longer than its limit */
  char *big = malloc (HTTP_STATUS_LINE_MAX + 64);
  assert_non_null (big);
  memset (big, 'a', HTTP_STATUS_LINE_MAX + 63);
  memcpy (big, "HTTP/1.1 200 ", 13);
  big[HTTP_STATUS_LINE_MAX + 62] = '\n';
  parse_bad (big, HTTP_STATUS_LINE_MAX + 63, "no status line");
  free (big);
  /* headers over their limits: count and size */
  size_t cap = HTTP_HEADERS_MAX * 2;
  char *h = malloc (cap);
  assert_non_null (h);
  size_t n = (size_t)snprintf (h, cap, "HTTP/1.1 200 OK\r\n");
  for (int i = 0; i < HTTP_HEADER_COUNT_MAX + 2; i++)
    n += (size_t)snprintf (h + n, cap - n, "X-%d: v\r\n", i);
  n += (size_t)snprintf (h + n, cap - n, "\r\n");
  parse_bad (h, n, "more than 100 headers");
  n = (size_t)snprintf (h, cap, "HTTP/1.1 200 OK\r\nX: ");
  memset (h + n, 'v', HTTP_HEADERS_MAX);
  n += HTTP_HEADERS_MAX;
  memcpy (h + n, "\r\n\r\n", 4);
  parse_bad (h, n + 4, "headers truncated or larger than");
  free (h);
  /* a chunked body over the limit in small chunks */
  size_t bl = HTTP_BODY_MAX + 4096 * 8;
  char *cb = malloc (bl + 256);
  assert_non_null (cb);
  n = (size_t)snprintf (cb, 256, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  while (n + 4096 + 16 < bl)
    {
      n += (size_t)snprintf (cb + n, 16, "1000\r\n");
      memset (cb + n, 'b', 4096);
      n += 4096;
      memcpy (cb + n, "\r\n", 2);
      n += 2;
    }
  parse_bad (cb, n, "body larger than 4194304 bytes");
  free (cb);
}

/* Header values: trimmed, case-insensitive names; a header line with a stray
 * CR (found by fuzz_http) makes the response bad. The response bytes need
 * not end in a NUL. */
static void
test_headers (void **state)
{
  (void)state;
  static const char text[] = "HTTP/1.1 200 OK\r\nAPI-Version:  1.41 \r\n"
                             "X-Tab: a\tb\r\nContent-Length: 2\r\n\r\nOKjunk";
  char *buf = malloc (sizeof (text) - 5);
  assert_non_null (buf);
  memcpy (buf, text, sizeof (text) - 5); /* no NUL, no "junk" */
  struct http_response r = { 0 };
  struct podshim_error *err = NULL;
  assert_no_error (http_response_parse (buf, sizeof (text) - 5, &r, &err), err);
  free (buf);
  char *v = http_response_header (&r, "api-version");
  assert_string_equal (v, "1.41");
  free (v);
  v = http_response_header (&r, "X-Tab");
  assert_string_equal (v, "a\tb");
  free (v);
  assert_null (http_response_header (&r, "X-None"));
  http_response_free (&r);
  static const char cr[] = "HTTP/1.1 200 OK\r\nX-Bad: 1\r2\r\nContent-Length: 0\r\n\r\n";
  assert_int_equal (http_response_parse (cr, sizeof (cr) - 1, &r, &err), -1);
  assert_error_contains (&err, "bad header line");
}

static void
test_unix_path (void **state)
{
  (void)state;
  char *p = http_unix_path ("unix:///var/run/docker.sock");
  assert_string_equal (p, "/var/run/docker.sock");
  free (p);
  p = http_unix_path ("/x.sock");
  assert_string_equal (p, "/x.sock");
  free (p);
  assert_null (http_unix_path ("tcp://127.0.0.1:2375"));
  assert_null (http_unix_path ("unix://rel.sock"));
  char longp[200] = "unix:///";
  memset (longp + 8, 'a', 150);
  longp[158] = '\0';
  assert_null (http_unix_path (longp));
}

/* A server: accepts one connection per answer, reads the request, answers
 * with its request line as the body (CL: Content-Length, CHUNKED: chunked;
 * HANG: never answers), closes. */
static pid_t
serve (const char *path, const char *const *answers, int ready_fd)
{
  int s;
  pid_t pid = t_fork_server (path, &s);
  if (pid > 0)
    return pid;
  (void)ready_fd;
  for (const char *const *a = answers; *a; a++)
    {
      int c = accept (s, NULL, NULL);
      if (c < 0)
        _exit (1);
      char req[8192];
      size_t got = 0;
      /* Until the end of the head and the body its Content-Length names. */
      for (;;)
        {
          ssize_t r = read (c, req + got, sizeof (req) - 1 - got);
          if (r <= 0)
            break;
          got += (size_t)r;
          req[got] = '\0';
          char *end = strstr (req, "\r\n\r\n");
          char *cl = strstr (req, "Content-Length: ");
          if (end && cl && got >= (size_t)(end + 4 - req) + strtoul (cl + 16, NULL, 10))
            break;
        }
      if (strcmp (*a, "HANG") == 0)
        {
          pause ();
          _exit (0);
        }
      /* echo the request line into the answer's body where %s is */
      char line[256] = "";
      sscanf (req, "%255[^\r]", line);
      char out[1024];
      int n = strcmp (*a, "CL") == 0
                  ? snprintf (out, sizeof (out), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s",
                              (int)strlen (line), line)
                  : snprintf (out, sizeof (out),
                              "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "%x\r\n%s\r\n0\r\n\r\n",
                              (unsigned)strlen (line), line);
      if (write (c, out, (size_t)n) != n)
        _exit (1);
      close (c);
    }
  _exit (0);
}

static void
test_request (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  char path[256];
  snprintf (path, sizeof (path), "%s/api.sock", dir);
  static const char *const answers[] = {
    "CL",
    "CHUNKED",
    "HANG",
    NULL,
  };
  pid_t pid = serve (path, answers, -1);
  struct podshim_error *err = NULL;
  struct http_response r = { 0 };
  assert_no_error (http_request (path, "GET", "/v1.41/_ping", NULL, 0, 5000, &r, &err), err);
  assert_int_equal (r.status, 200);
  assert_string_equal (r.body, "GET /v1.41/_ping HTTP/1.1");
  http_response_free (&r);
  assert_no_error (
      http_request (path, "POST", "/v1.41/containers/create?name=a", "{}", 2, 5000, &r, &err), err);
  assert_int_equal (r.status, 201);
  assert_string_equal (r.body, "POST /v1.41/containers/create?name=a HTTP/1.1");
  http_response_free (&r);
  /* a server that never answers: the timeout bounds the call */
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  assert_int_equal (http_request (path, "GET", "/x", NULL, 0, 300, &r, &err), -1);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  assert_int_equal (err->errno_, ETIMEDOUT);
  assert_error_contains (&err, "GET /x: no answer from");
  assert_true (t1.tv_sec - t0.tv_sec < 60); /* generous: a bound, not a timing */
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  /* nobody listening: ECONNREFUSED; no socket: ENOENT */
  assert_int_equal (http_request (path, "GET", "/x", NULL, 0, 1000, &r, &err), -1);
  assert_int_equal (err->errno_, ECONNREFUSED);
  assert_error_contains (&err, "cannot connect to");
  unlink (path);
  assert_int_equal (http_request (path, "GET", "/x", NULL, 0, 1000, &r, &err), -1);
  assert_int_equal (err->errno_, ENOENT);
  podshim_error_free (err);
  err = NULL;
  /* a path with a space or control character is refused before sending */
  assert_int_equal (http_request (path, "GET", "/x y", NULL, 0, 1000, &r, &err), -1);
  assert_error_contains (&err, "bad path");
  t_rmtree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_framing), cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_headers), cmocka_unit_test (test_unix_path),
    cmocka_unit_test (test_request),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

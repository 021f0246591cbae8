#include "config.h"
#include "http.h"
#include "sockpeer.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

void
http_response_free (struct http_response *r)
{
  if (r == NULL)
    return;
  free (r->body);
  free (r->head);
  r->body = NULL;
  r->head = NULL;
  r->body_len = 0;
}

/* The line starting at p (up to end), without its CRLF (a bare LF is taken
 * too, as Go's reader does). Returns the length and sets *next, or -1 when no
 * line ends within max bytes. */
static ssize_t
get_line (const char *p, const char *end, size_t max, const char **next)
{
  size_t avail = (size_t)(end - p);
  const char *nl = memchr (p, '\n', avail < max ? avail : max);
  if (nl == NULL)
    return -1;
  *next = nl + 1;
  size_t n = (size_t)(nl - p);
  if (n > 0 && p[n - 1] == '\r')
    n--;
  return (ssize_t)n;
}

static bool
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Does header value v (n bytes) name token tok among its comma list? */
static bool
value_has_token (const char *v, size_t n, const char *tok)
{
  size_t tl = strlen (tok);
  size_t i = 0;
  while (i < n)
    {
      while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
        i++;
      size_t s = i;
      while (i < n && v[i] != ',')
        i++;
      size_t e = i;
      while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
      if (e - s == tl && strncasecmp (v + s, tok, tl) == 0)
        return true;
    }
  return false;
}

static int
decode_chunked (const char *p, const char *end, char *out, size_t *ret_len,
                struct podshim_error **err)
{
  size_t len = 0;
  for (;;)
    {
      const char *next;
      ssize_t n = get_line (p, end, 256, &next);
      if (n <= 0)
        return podshim_error_set (err, 0, "HTTP response: bad or truncated chunk size");
      size_t size = 0;
      ssize_t i = 0;
      /* Saturates: every digit is read, the value stops growing past the limit. */
      for (; i < n && hexval (p[i]) >= 0; i++)
        if (size <= HTTP_BODY_MAX)
          size = size * 16 + (size_t)hexval (p[i]);
      if (i == 0 || (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
        return podshim_error_set (err, 0, "HTTP response: bad chunk size");
      if (size > HTTP_BODY_MAX || len + size > HTTP_BODY_MAX)
        return podshim_error_set (err, 0, "HTTP response: body larger than %d bytes",
                                  HTTP_BODY_MAX);
      p = next;
      if (size == 0)
        break;
      if ((size_t)(end - p) < size + 2)
        return podshim_error_set (err, 0, "HTTP response: truncated chunk");
      memcpy (out + len, p, size);
      len += size;
      p += size;
      if (p[0] == '\r' && p[1] == '\n')
        p += 2;
      else if (p[0] == '\n')
        p += 1;
      else
        return podshim_error_set (err, 0, "HTTP response: chunk not followed by CRLF");
    }
  /* Trailers, up to an empty line (or the end: servers that close early). */
  for (int t = 0; p < end; t++)
    {
      const char *next;
      ssize_t n = get_line (p, end, HTTP_HEADERS_MAX, &next);
      if (n < 0 || t > HTTP_HEADER_COUNT_MAX)
        return podshim_error_set (err, 0, "HTTP response: bad chunked trailer");
      if (n == 0)
        break;
      p = next;
    }
  *ret_len = len;
  return 0;
}

int
http_response_parse (const char *buf, size_t len, struct http_response *ret,
                     struct podshim_error **err)
{
  const char *p = buf, *end = buf + len, *next;
  int status = 0;
  /* Interim 1xx responses come before the final one. */
  for (int round = 0;; round++)
    {
      ssize_t n = get_line (p, end, HTTP_STATUS_LINE_MAX, &next);
      if (n < 0)
        return podshim_error_set (err, 0,
                                  len == 0 ? "HTTP response: empty (connection closed)"
                                           : "HTTP response: no status line");
      if (n < 12 || memcmp (p, "HTTP/1.", 7) != 0 || !is_digit (p[7]) || p[8] != ' '
          || !is_digit (p[9]) || !is_digit (p[10]) || !is_digit (p[11]) || (n > 12 && p[12] != ' '))
        return podshim_error_set (err, 0, "HTTP response: bad status line `%.*s`",
                                  (int)(n < 80 ? n : 80), p);
      status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
      if (status < 100)
        return podshim_error_set (err, 0, "HTTP response: bad status %d", status);
      p = next;
      const char *head = p;
      bool chunked = false, have_cl = false;
      size_t cl = 0;
      for (int h = 0;; h++)
        {
          if (h > HTTP_HEADER_COUNT_MAX)
            return podshim_error_set (err, 0, "HTTP response: more than %d headers",
                                      HTTP_HEADER_COUNT_MAX);
          size_t used = (size_t)(p - head);
          n = get_line (p, end, HTTP_HEADERS_MAX - used, &next);
          if (n < 0)
            return podshim_error_set (err, 0,
                                      "HTTP response: headers truncated or larger than"
                                      " %d bytes",
                                      HTTP_HEADERS_MAX);
          if (n == 0)
            {
              p = next;
              break;
            }
          const char *colon = memchr (p, ':', (size_t)n);
          /* A bare CR (or a NUL) inside a line is no header of HTTP's. */
          if (colon == NULL || colon == p || memchr (p, '\r', (size_t)n) != NULL
              || memchr (p, '\0', (size_t)n) != NULL)
            return podshim_error_set (err, 0, "HTTP response: bad header line");
          size_t kl = (size_t)(colon - p);
          const char *v = colon + 1;
          size_t vl = (size_t)(p + n - v);
          while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
          while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
          if (kl == 17 && strncasecmp (p, "Transfer-Encoding", 17) == 0)
            {
              if (!value_has_token (v, vl, "chunked"))
                return podshim_error_set (err, 0,
                                          "HTTP response: unsupported Transfer-Encoding"
                                          " `%.*s`",
                                          (int)(vl < 40 ? vl : 40), v);
              chunked = true;
            }
          else if (kl == 14 && strncasecmp (p, "Content-Length", 14) == 0)
            {
              size_t x = 0;
              if (vl == 0)
                return podshim_error_set (err, 0, "HTTP response: empty Content-Length");
              for (size_t i = 0; i < vl; i++)
                {
                  if (!is_digit (v[i]) || x > HTTP_BODY_MAX)
                    return podshim_error_set (err, 0,
                                              "HTTP response: bad or too large"
                                              " Content-Length");
                  x = x * 10 + (size_t)(v[i] - '0');
                }
              if (x > HTTP_BODY_MAX)
                return podshim_error_set (err, 0, "HTTP response: body larger than %d bytes",
                                          HTTP_BODY_MAX);
              if (have_cl && x != cl)
                return podshim_error_set (err, 0, "HTTP response: conflicting Content-Length");
              have_cl = true;
              cl = x;
            }
          p = next;
        }
      if (status >= 100 && status < 200 && status != 101 && round < 8)
        continue;
      /* memcpy, not strndup: buf need not be NUL-terminated (the sanitizers'
         strndup reads on to a NUL). */
      size_t hl = (size_t)(p - head);
      cleanup_free char *head_copy = malloc (hl + 1);
      if (head_copy == NULL)
        abort ();
      memcpy (head_copy, head, hl);
      head_copy[hl] = '\0';
      size_t avail = (size_t)(end - p);
      char *body = malloc ((avail < HTTP_BODY_MAX ? avail : HTTP_BODY_MAX) + 1);
      if (body == NULL)
        abort ();
      size_t blen = 0;
      /* No body for 204, 304 or a 1xx. */
      if (status == 204 || status == 304 || status < 200)
        blen = 0;
      else if (chunked)
        {
          if (decode_chunked (p, end, body, &blen, err) < 0)
            {
              free (body);
              return -1;
            }
        }
      else if (have_cl)
        {
          if (avail < cl)
            {
              free (body);
              return podshim_error_set (err, 0,
                                        "HTTP response: body truncated (%zu of %zu"
                                        " bytes)",
                                        avail, cl);
            }
          memcpy (body, p, cl);
          blen = cl;
        }
      else
        {
          if (avail > HTTP_BODY_MAX)
            {
              free (body);
              return podshim_error_set (err, 0, "HTTP response: body larger than %d bytes",
                                        HTTP_BODY_MAX);
            }
          memcpy (body, p, avail);
          blen = avail;
        }
      body[blen] = '\0';
      ret->status = status;
      ret->body = body;
      ret->body_len = blen;
      ret->head = steal_pointer (&head_copy);
      return 0;
    }
}

char *
http_response_header (const struct http_response *r, const char *name)
{
  size_t nl = strlen (name);
  const char *p = r->head, *end = p ? p + strlen (p) : NULL, *next;
  ssize_t n;
  while (p && (n = get_line (p, end, HTTP_HEADERS_MAX, &next)) > 0)
    {
      const char *colon = memchr (p, ':', (size_t)n);
      if (colon && (size_t)(colon - p) == nl && strncasecmp (p, name, nl) == 0)
        {
          const char *v = colon + 1, *ve = p + n;
          while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
          while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
          /* A stray CR (or another control byte) inside: no such header. */
          for (const char *c = v; c < ve; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
              return NULL;
          char *out = strndup (v, (size_t)(ve - v));
          if (out == NULL)
            abort ();
          return out;
        }
      p = next;
    }
  return NULL;
}

char *
http_unix_path (const char *addr)
{
  const char *p = NULL;
  if (strncmp (addr, "unix://", 7) == 0)
    p = addr + 7;
  else if (addr[0] == '/')
    p = addr;
  if (p == NULL || p[0] != '/' || strlen (p) >= sizeof (((struct sockaddr_un *)0)->sun_path))
    return NULL;
  char *r = strdup (p);
  if (r == NULL)
    abort ();
  return r;
}

/* Waits for fd to be ready for events until deadline; 0, or -1 with errno. */
static int
wait_fd (int fd, short events, long long deadline)
{
  for (;;)
    {
      long long left = deadline - sockpeer_now_ms ();
      if (left <= 0)
        {
          errno = ETIMEDOUT;
          return -1;
        }
      struct pollfd pfd = { .fd = fd, .events = events };
      int r = poll (&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
      if (r > 0)
        return 0;
      if (r < 0 && errno != EINTR)
        return -1;
    }
}

static bool
path_safe (const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f)
      return false;
  return true;
}

int
http_request (const char *sock_path, const char *method, const char *path, const char *body,
              size_t body_len, int timeout_ms, struct http_response *ret,
              struct podshim_error **err)
{
  long long deadline = sockpeer_now_ms () + timeout_ms;
  if (!path_safe (path) || !path_safe (method))
    return podshim_error_set (err, 0, "HTTP request: bad path `%.200s`", path);
  cleanup_close int fd = unix_connect (sock_path, deadline, err);
  if (fd < 0)
    return -1;
  cleanup_free char *head = NULL;
  int hl = asprintf (&head,
                     "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: podshim\r\n"
                     "Connection: close\r\n%s%s%zu\r\n\r\n",
                     method, path, body ? "Content-Type: application/json\r\n" : "",
                     "Content-Length: ", body ? body_len : 0);
  if (hl < 0)
    abort ();
  const char *parts[2] = { head, body };
  size_t lens[2] = { (size_t)hl, body ? body_len : 0 };
  for (int i = 0; i < 2; i++)
    for (size_t off = 0; off < lens[i];)
      {
        ssize_t w = send (fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
        if (w > 0)
          {
            off += (size_t)w;
            continue;
          }
        if (w < 0 && errno == EINTR)
          continue;
        if (w < 0 && errno == EAGAIN && wait_fd (fd, POLLOUT, deadline) == 0)
          continue;
        return podshim_error_set (err, errno, "%s %s: cannot send to `%s`", method, path,
                                  sock_path);
      }
  size_t cap = 64 * 1024, len = 0;
  cleanup_free char *buf = malloc (cap);
  if (buf == NULL)
    abort ();
  for (;;)
    {
      if (len == cap)
        {
          if (cap >= HTTP_RESPONSE_MAX)
            return podshim_error_set (err, 0, "%s %s: response larger than %d bytes", method, path,
                                      HTTP_RESPONSE_MAX);
          cap = cap * 2 > HTTP_RESPONSE_MAX ? HTTP_RESPONSE_MAX : cap * 2;
          char *nb = realloc (buf, cap);
          if (nb == NULL)
            abort ();
          buf = nb;
        }
      ssize_t r = recv (fd, buf + len, cap - len, 0);
      if (r > 0)
        {
          len += (size_t)r;
          continue;
        }
      if (r == 0)
        break;
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN && wait_fd (fd, POLLIN, deadline) == 0)
        continue;
      return podshim_error_set (err, errno, "%s %s: no answer from `%s`", method, path, sock_path);
    }
  if (http_response_parse (buf, len, ret, err) < 0)
    return podshim_error_wrap (err, "%s %s", method, path);
  return 0;
}

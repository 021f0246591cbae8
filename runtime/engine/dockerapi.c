#include "config.h"
#include "dockerapi.h"
#include "json.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

/* "1.N" (a daemon's version string) to N; -1 when it is not one. */
static int
parse_minor (const char *v)
{
  if (v == NULL || strncmp (v, "1.", 2) != 0)
    return -1;
  int n = 0;
  const char *p = v + 2;
  for (; *p >= '0' && *p <= '9' && n < 10000; p++)
    n = n * 10 + (*p - '0');
  return p == v + 2 || *p != '\0' || n >= 10000 ? -1 : n;
}

int
docker_api_pick_version (const char *ping_header, const char *version_body, int *ret_minor,
                         struct podshim_error **err)
{
  cleanup_json yajl_val doc = NULL;
  if (version_body
      && json_parse (version_body, strlen (version_body), "Docker API /version", &doc, err) < 0)
    return -1;
  int max = parse_minor (ping_header);
  if (max < 0 && doc)
    max = parse_minor (json_get_string (doc, "ApiVersion"));
  if (max < 0)
    {
      if (version_body == NULL)
        return 1;
      return podshim_error_set (err, 0,
                                "the Docker daemon names no API version it serves (no API-Version"
                                " header at /_ping, no ApiVersion at /version)");
    }
  if (max < DOCKER_API_MINOR_MIN)
    return podshim_error_set (err, 0,
                              "the Docker daemon serves API versions up to 1.%d; podshim needs"
                              " 1.%d (Docker 20.10) or newer",
                              max, DOCKER_API_MINOR_MIN);
  if (max <= DOCKER_API_MINOR_MAX)
    {
      *ret_minor = max;
      return 0;
    }
  if (version_body == NULL)
    return 1;
  /* Newer than podshim knows: it must still serve the newest podshim does. */
  const char *minv = json_get_string (doc, "MinAPIVersion");
  int min = parse_minor (minv);
  if (minv && min < 0)
    return podshim_error_set (err, 0, "the Docker daemon's MinAPIVersion `%.32s` is not 1.N", minv);
  if (min > DOCKER_API_MINOR_MAX)
    return podshim_error_set (err, 0,
                              "the Docker daemon serves API versions 1.%d to 1.%d; podshim speaks"
                              " 1.%d to 1.%d: a newer podshim is needed",
                              min, max, DOCKER_API_MINOR_MIN, DOCKER_API_MINOR_MAX);
  *ret_minor = DOCKER_API_MINOR_MAX;
  return 0;
}

int
docker_api_ping (struct docker_api *a, int timeout_ms, struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (http_request (a->sock, "GET", "/_ping", NULL, 0, timeout_ms, &r, err) < 0)
    return -1;
  if (r.status != 200)
    {
      cleanup_free char *m = docker_api_message (&r);
      return podshim_error_set (err, 0, "Docker API at `%s`: /_ping: %s (HTTP %d)", a->sock, m,
                                r.status);
    }
  cleanup_free char *hdr = http_response_header (&r, "API-Version");
  int minor = 0;
  int rc = docker_api_pick_version (hdr, NULL, &minor, err);
  if (rc == 1)
    {
      cleanup_http_response struct http_response v = { 0 };
      if (http_request (a->sock, "GET", "/version", NULL, 0, timeout_ms, &v, err) < 0)
        return -1;
      if (v.status != 200)
        {
          cleanup_free char *m = docker_api_message (&v);
          return podshim_error_set (err, 0, "Docker API at `%s`: /version: %s (HTTP %d)", a->sock,
                                    m, v.status);
        }
      rc = docker_api_pick_version (hdr, v.body, &minor, err);
    }
  if (rc < 0)
    return podshim_error_wrap (err, "Docker API at `%s`", a->sock);
  if (a->minor != minor)
    podshim_log (PODSHIM_LOG_DEBUG, "podshim: Docker API at `%s`: speaking 1.%d (it serves %s)",
                 a->sock, minor, hdr ? hdr : "?");
  a->minor = minor;
  return 0;
}

int
docker_api_call (struct docker_api *a, const char *method, const char *path, const char *body,
                 int timeout_ms, struct http_response *ret, struct podshim_error **err)
{
  if (a->minor == 0 && docker_api_ping (a, timeout_ms, err) < 0)
    return -1;
  cleanup_free char *full = NULL;
  if (asprintf (&full, "/v1.%d%s", a->minor, path) < 0)
    abort ();
  podshim_log (PODSHIM_LOG_DEBUG, "podshim: Docker API: %s %s", method, full);
  return http_request (a->sock, method, full, body, body ? strlen (body) : 0, timeout_ms, ret, err);
}

int
docker_api_get (struct docker_api *a, const char *path, int timeout_ms, int *ret_status,
                char **ret_body, struct podshim_error **err)
{
  cleanup_http_response struct http_response r = { 0 };
  if (docker_api_call (a, "GET", path, NULL, timeout_ms, &r, err) < 0)
    return -1;
  *ret_status = r.status;
  *ret_body = steal_pointer (&r.body);
  return 0;
}

char *
docker_api_message (const struct http_response *r)
{
  cleanup_json yajl_val doc = NULL;
  cleanup_error struct podshim_error *e = NULL;
  const char *m = NULL;
  if (r->body_len && json_parse (r->body, r->body_len, "API answer", &doc, &e) == 0)
    m = json_get_string (doc, "message");
  char *out = NULL;
  if (asprintf (&out, "%.400s", m ? m : r->body ? r->body : "") < 0)
    abort ();
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return out;
}

char *
docker_url_escape (const char *s)
{
  char *out = malloc (strlen (s) * 3 + 1);
  if (out == NULL)
    abort ();
  size_t o = 0;
  for (; *s; s++)
    {
      unsigned char c = (unsigned char)*s;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.' || c == '~')
        out[o++] = (char)c;
      else
        o += (size_t)sprintf (out + o, "%%%02X", c);
    }
  out[o] = '\0';
  return out;
}

/* runtime/engine/dockerapi: the Engine API version podshim speaks is the one
 * the daemon serves (capped at what podshim knows), never a fixed prefix:
 * the pure choice, and calls against fake daemons that refuse old versions
 * the way Docker 29 does (HTTP 400). */
#include "config.h"
#include "testutil.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "dockerapi.h"

static void
test_pick (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  int minor = 0;
  /* Docker 20.10: its newest, 1.41. */
  assert_no_error (docker_api_pick_version ("1.41", NULL, &minor, &err), err);
  assert_int_equal (minor, 41);
  assert_no_error (docker_api_pick_version ("1.51", NULL, &minor, &err), err);
  assert_int_equal (minor, 51);
  /* Newer than podshim knows: /version decides. */
  assert_int_equal (docker_api_pick_version ("1.52", NULL, &minor, &err), 1);
  assert_no_error (docker_api_pick_version ("1.52",
                                            "{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.44\"}",
                                            &minor, &err),
                   err);
  assert_int_equal (minor, 51);
  assert_int_equal (docker_api_pick_version ("1.60", "{\"MinAPIVersion\":\"1.52\"}", &minor, &err),
                    -1);
  assert_error_contains (&err, "serves API versions 1.52 to 1.60; podshim speaks 1.41 to 1.51");
  /* No header: /version's ApiVersion. */
  assert_int_equal (docker_api_pick_version (NULL, NULL, &minor, &err), 1);
  assert_no_error (docker_api_pick_version (NULL, "{\"ApiVersion\":\"1.43\"}", &minor, &err), err);
  assert_int_equal (minor, 43);
  assert_int_equal (docker_api_pick_version (NULL, "{}", &minor, &err), -1);
  assert_error_contains (&err, "names no API version");
  /* Too old, or not a version. */
  assert_int_equal (docker_api_pick_version ("1.40", NULL, &minor, &err), -1);
  assert_error_contains (&err, "up to 1.40; podshim needs 1.41");
  static const char *const bad[] = { "2.0", "1.", "1.x", "1.41a", "", " 1.41", "1.99999", NULL };
  for (int i = 0; bad[i]; i++)
    {
      assert_int_equal (docker_api_pick_version (bad[i], NULL, &minor, &err), 1);
      assert_int_equal (docker_api_pick_version (bad[i], "{}", &minor, &err), -1);
      podshim_error_free (err);
      err = NULL;
    }
  assert_int_equal (docker_api_pick_version ("1.52", "{\"MinAPIVersion\":\"x\"}", &minor, &err),
                    -1);
  assert_error_contains (&err, "MinAPIVersion `x`");
  assert_int_equal (docker_api_pick_version ("1.41", "not json", &minor, &err), -1);
  podshim_error_free (err);
}

/* A fake daemon serving API 1.<min>..1.<max> (ping_header: its /_ping
 * API-Version header, NULL for none), one connection per request, up to n
 * requests: /_ping and /version unversioned; /v1.N/... refused with 400 and
 * Docker's message when N < min, else answered with the request line. */
struct fake
{
  const char *ping_header;
  int min, max;
  int n;
};

static pid_t
serve (const char *path, const struct fake *f)
{
  int s;
  pid_t pid = t_fork_server (path, &s);
  if (pid > 0)
    return pid;
  for (int i = 0; i < f->n; i++)
    {
      int c = accept (s, NULL, NULL);
      if (c < 0)
        _exit (1);
      char req[4096];
      t_read_head (c, req, sizeof (req));
      char line[256] = "", path_[200] = "";
      sscanf (req, "%255[^\r]", line);
      sscanf (req, "%*s %199s", path_);
      char body[512], out[1024], hdr[64] = "";
      int status = 200;
      int v = -1;
      if (strcmp (path_, "/_ping") == 0)
        {
          snprintf (body, sizeof (body), "OK");
          if (f->ping_header)
            snprintf (hdr, sizeof (hdr), "Api-Version: %s\r\n", f->ping_header);
        }
      else if (strcmp (path_, "/version") == 0)
        snprintf (body, sizeof (body), "{\"ApiVersion\":\"1.%d\",\"MinAPIVersion\":\"1.%d\"}",
                  f->max, f->min);
      else if (sscanf (path_, "/v1.%d/", &v) == 1 && v < f->min)
        {
          status = 400;
          snprintf (body, sizeof (body),
                    "{\"message\":\"client version 1.%d is too old. Minimum supported API version"
                    " is 1.%d, please upgrade your client to a newer version\"}",
                    v, f->min);
        }
      else
        snprintf (body, sizeof (body), "%s", line);
      int n = snprintf (out, sizeof (out), "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\n\r\n%s",
                        status, hdr, strlen (body), body);
      if (write (c, out, (size_t)n) != n)
        _exit (1);
      close (c);
    }
  _exit (0);
}

static void
call_against (const struct fake *f, const char *want_line, const char *want_error)
{
  char *dir = t_mkdtemp ();
  char *path = t_printf ("%s/docker.sock", dir);
  pid_t pid = serve (path, f);
  struct podshim_error *err = NULL;
  struct docker_api a = { .sock = path };
  struct http_response r = { 0 };
  int rc = docker_api_call (&a, "GET", "/containers/json?all=1", NULL, 5000, &r, &err);
  if (want_error)
    {
      assert_int_equal (rc, -1);
      assert_error_contains (&err, want_error);
    }
  else
    {
      assert_no_error (rc, err);
      assert_int_equal (r.status, 200);
      assert_string_equal (r.body, want_line);
      http_response_free (&r);
      /* The version is kept: the next call asks no /_ping. */
      assert_no_error (docker_api_call (&a, "DELETE", "/containers/x", NULL, 5000, &r, &err), err);
      assert_int_equal (r.status, 200);
      http_response_free (&r);
    }
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  t_rmtree (dir);
  free (path);
  free (dir);
}

static void
test_calls (void **state)
{
  (void)state;
  /* Docker 29: serves 1.44-1.52, refuses 1.41. */
  const struct fake d29 = { "1.52", 44, 52, 4 };
  call_against (&d29, "GET /v1.51/containers/json?all=1 HTTP/1.1", NULL);
  /* dockerd 28.5 with DOCKER_MIN_API_VERSION=1.44: serves 1.44-1.51. */
  const struct fake d28 = { "1.51", 44, 51, 3 };
  call_against (&d28, "GET /v1.51/containers/json?all=1 HTTP/1.1", NULL);
  /* dockerd 20.10: 1.12-1.41. */
  const struct fake d20 = { "1.41", 12, 41, 3 };
  call_against (&d20, "GET /v1.41/containers/json?all=1 HTTP/1.1", NULL);
  /* No header: /version says. */
  const struct fake quiet = { NULL, 24, 43, 4 };
  call_against (&quiet, "GET /v1.43/containers/json?all=1 HTTP/1.1", NULL);
  /* A future daemon that no longer serves 1.51. */
  const struct fake future = { "1.60", 52, 60, 2 };
  call_against (&future, NULL, "podshim speaks 1.41 to 1.51: a newer podshim is needed");
  const struct fake old = { "1.40", 12, 40, 1 };
  call_against (&old, NULL, "podshim needs 1.41 (Docker 20.10) or newer");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_pick),
    cmocka_unit_test (test_calls),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

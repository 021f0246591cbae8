/* runtime/engine/dockerfacts: what podshim keeps of a Docker daemon's run.
 * The cache file's validation (damaged, oversized, foreign files ignored and
 * replaced), an entry naming a reused PID is stale, the data-root tie, the
 * daemon's answers, and who serves a socket (lib/sockpeer). */
#include "config.h"
#include "testutil.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "dockerfacts.h"
#include "procutil.h"
#include "sockpeer.h"
#include "statedir.h"
#include "stateformat.h"

#define ID "0c8b58c583b4d305063c2d56b52bb244e2e5d3d091e952091f431c4529afff47"

static const char ENTRY[]
    = "{\"socket\":\"/run/docker.sock\",\"version\":\"28.5.2\",\"rootDir\":\"/var/lib/docker\","
      "\"socketFile\":[64769,1234],\"listener\":[1,7],\"daemon\":[4321,98765],\"bridge\":true}";

static char *
file_with (const char *entries)
{
  return t_printf ("{\"format\":1,\"daemons\":[%s]}", entries);
}

static int
parse (const char *text, size_t *n, struct podshim_error **err)
{
  struct dockerd_facts *v = NULL;
  int r = dockerd_facts_parse (text, strlen (text), &v, n, err);
  dockerd_facts_free_all (v, *n);
  return r;
}

/* An entry as ENTRY with field `key` replaced by `value` (JSON). */
static char *
entry_with (const char *key, const char *value)
{
  yajl_val v = t_parse (ENTRY);
  json_object_set (v, key, t_parse (value));
  char *s = t_emit (v);
  yajl_tree_free (v);
  return s;
}

static void
test_parse_format (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  char *text = file_with (ENTRY);
  struct dockerd_facts *v = NULL;
  size_t n = 0;
  assert_no_error (dockerd_facts_parse (text, strlen (text), &v, &n, &err), err);
  assert_int_equal (n, 1);
  assert_string_equal (v[0].id.sock, "/run/docker.sock");
  assert_int_equal (v[0].id.sock_dev, 64769);
  assert_int_equal (v[0].id.sock_ino, 1234);
  assert_int_equal (v[0].id.listener, 1);
  assert_int_equal (v[0].id.listener_start, 7);
  assert_int_equal (v[0].id.pid, 4321);
  assert_int_equal (v[0].id.start, 98765);
  assert_true (v[0].bridge);
  assert_string_equal (v[0].version, "28.5.2");
  assert_string_equal (v[0].root_dir, "/var/lib/docker");
  /* Written back the same; 64-bit values whole. */
  v[0].id.sock_ino = 18446744073709551615ULL;
  size_t len = 0;
  char *out = dockerd_facts_format (v, n, &len);
  assert_non_null (out);
  assert_int_equal (strlen (out), len);
  assert_non_null (strstr (out, "[64769,18446744073709551615]"));
  struct dockerd_facts *w = NULL;
  size_t m = 0;
  assert_no_error (dockerd_facts_parse (out, len, &w, &m, &err), err);
  assert_int_equal (m, 1);
  assert_int_equal (w[0].id.sock_ino, 18446744073709551615ULL);
  assert_string_equal (w[0].root_dir, "/var/lib/docker");
  dockerd_facts_free_all (w, m);
  free (out);
  /* Not UTF-8: not written. */
  free (v[0].root_dir);
  v[0].root_dir = t_strdup ("/var/lib/\xff");
  assert_null (dockerd_facts_format (v, n, &len));
  dockerd_facts_free_all (v, n);
  free (text);
  /* No daemon yet. */
  assert_no_error (parse ("{\"format\":1,\"daemons\":[]}", &n, &err), err);
  assert_int_equal (n, 0);
}

/* Whatever is wrong, the whole file is refused (and then ignored). */
static void
test_parse_damaged (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  size_t n = 0;
  static const char *const docs[] = {
    "",
    "{",
    "[]",
    "{\"daemons\":[]}",
    "{\"format\":2,\"daemons\":[]}",
    "{\"format\":\"1\",\"daemons\":[]}",
    "{\"format\":1.0,\"daemons\":[]}",
    "{\"format\":1,\"daemons\":{}}",
    "{\"format\":1,\"daemons\":[1]}",
    "{\"format\":1}",
  };
  for (size_t i = 0; i < sizeof (docs) / sizeof (docs[0]); i++)
    {
      assert_int_equal (parse (docs[i], &n, &err), -1);
      assert_non_null (err);
      podshim_error_free (steal_pointer (&err));
      assert_int_equal (n, 0);
    }
  /* A newer podshim's: named as such (docs/upgrades.md), not used. */
  assert_int_equal (parse ("{\"format\":2,\"daemons\":[]}", &n, &err), -1);
  assert_true (podshim_error_is (err, STATE_FORMAT_NEWER));
  assert_error_contains (&err, "format version 2, newer than 1");
  static const char *const bad[][2] = {
    { "socket", "\"run/docker.sock\"" },
    { "socket", "\"/run/../docker.sock\"" },
    { "socket",
      "\"/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaa\"" },
    { "socket", "7" },
    { "rootDir", "\"/var/lib/docker/\"" },
    { "rootDir", "\"/var//lib\"" },
    { "rootDir", "\"/var/lib/./docker\"" },
    { "rootDir", "\"/\"" },
    { "rootDir", "\"/var/lib\\ndocker\"" },
    { "version", "\"28.5.2 (evil)\"" },
    { "version", "null" },
    { "bridge", "1" },
    { "listener", "[0,7]" },
    { "listener", "[1]" },
    { "listener", "[1,7,8]" },
    { "daemon", "[4194305,1]" },
    { "daemon", "[-1,1]" },
    { "daemon", "[1,1.5]" },
    { "daemon", "[1,18446744073709551616]" },
    { "daemon", "[1,\"1\"]" },
    { "socketFile", "[1,-0]" },
    { "socketFile", "[1,1e3]" },
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      char *e = entry_with (bad[i][0], bad[i][1]);
      char *doc = file_with (e);
      if (parse (doc, &n, &err) != -1)
        fail_msg ("accepted %s", doc);
      podshim_error_free (steal_pointer (&err));
      free (doc);
      free (e);
    }
  /* A version the daemon did not give is kept as such. */
  char *e = entry_with ("version", "\"\"");
  char *doc = file_with (e);
  assert_no_error (parse (doc, &n, &err), err);
  free (doc);
  free (e);
  /* More daemons than kept, and more bytes than read. */
  char *many = t_printf ("%s,%s,%s,%s,%s,%s,%s,%s,%s", ENTRY, ENTRY, ENTRY, ENTRY, ENTRY, ENTRY,
                         ENTRY, ENTRY, ENTRY);
  doc = file_with (many);
  assert_int_equal (parse (doc, &n, &err), -1);
  assert_error_contains (&err, "more than 8");
  free (doc);
  free (many);
  size_t big = DOCKERD_FACTS_FILE_MAX + 1;
  char *pad = malloc (big + 1);
  assert_non_null (pad);
  memset (pad, ' ', big);
  pad[big] = '\0';
  memcpy (pad, "{\"format\":1,\"daemons\":[]}", 25);
  assert_int_equal (parse (pad, &n, &err), -1);
  assert_error_contains (&err, "larger than");
  free (pad);
}

static struct dockerd_facts
facts (const char *sock, pid_t pid, unsigned long long start, bool bridge)
{
  struct dockerd_facts f = { .id = { .sock = t_strdup (sock),
                                     .sock_dev = 1,
                                     .sock_ino = 2,
                                     .listener = pid,
                                     .listener_start = start,
                                     .pid = pid,
                                     .start = start },
                             .bridge = bridge,
                             .version = t_strdup ("20.10.24"),
                             .root_dir = t_strdup ("/var/lib/docker") };
  return f;
}

/* The cache file in a state dir: a damaged, oversized or foreign one is
 * ignored and replaced; entries of dead daemons and of the same socket are
 * dropped when one is stored. */
static void
test_load_store (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  char *path = t_printf ("%s/%s", dir, STATEDIR_DOCKERD_FACTS);
  struct dockerd_facts *v = NULL;
  size_t n = 9;
  dockerd_facts_load (fd, &v, &n);
  assert_null (v);
  assert_int_equal (n, 0);
  unsigned long long me_start = 0;
  assert_int_equal (proc_start_time (getpid (), &me_start), 0);
  struct dockerd_facts me = facts ("/run/a.sock", getpid (), me_start, true);
  dockerd_facts_store (fd, &me);
  struct stat st;
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 1);
  assert_string_equal (v[0].id.sock, "/run/a.sock");
  dockerd_facts_free_all (v, n);
  /* Another socket's daemon joins it; a dead daemon's entry goes; the same
     socket's is replaced. */
  struct dockerd_facts dead = facts ("/run/dead.sock", getpid (), me_start + 1, false);
  dockerd_facts_store (fd, &dead);
  struct dockerd_facts b = facts ("/run/b.sock", getpid (), me_start, false);
  dockerd_facts_store (fd, &b);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 2);
  assert_string_equal (v[0].id.sock, "/run/b.sock");
  assert_string_equal (v[1].id.sock, "/run/a.sock");
  dockerd_facts_free_all (v, n);
  b.bridge = true;
  dockerd_facts_store (fd, &b);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 2);
  assert_true (v[0].bridge);
  dockerd_facts_free_all (v, n);
  /* At most DOCKERD_FACTS_MAX. */
  for (int i = 0; i < DOCKERD_FACTS_MAX + 3; i++)
    {
      char *s = t_printf ("/run/%d.sock", i);
      struct dockerd_facts x = facts (s, getpid (), me_start, false);
      dockerd_facts_store (fd, &x);
      dockerd_facts_free (&x);
      free (s);
    }
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, DOCKERD_FACTS_MAX);
  assert_string_equal (v[0].id.sock, "/run/10.sock");
  dockerd_facts_free_all (v, n);
  /* Damaged: ignored, and replaced by the next store. */
  t_write (path, "{\"format\":1,\"daemons\":[");
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 0);
  dockerd_facts_store (fd, &me);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 1);
  dockerd_facts_free_all (v, n);
  /* Oversized (a valid start, then padding). */
  char *good = t_read (path, NULL);
  FILE *f = fopen (path, "ae");
  for (int i = 0; i < DOCKERD_FACTS_FILE_MAX; i++)
    fputc (' ', f);
  fclose (f);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 0);
  /* Not ours: writable by others, another owner, not a regular file, a
     symlink. Ignored, and replaced, not written through. */
  t_write (path, good);
  assert_int_equal (chmod (path, 0666), 0);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 0);
  dockerd_facts_store (fd, &me);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (chown (path, 1, 1), 0);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 0);
  dockerd_facts_store (fd, &me);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_uid, geteuid ());
  unlink (path);
  assert_int_equal (mkfifo (path, 0600), 0);
  dockerd_facts_load (fd, &v, &n); /* no wait for a writer */
  assert_int_equal (n, 0);
  dockerd_facts_store (fd, &me);
  assert_int_equal (lstat (path, &st), 0);
  assert_true (S_ISREG (st.st_mode));
  char *elsewhere = t_printf ("%s/elsewhere", dir);
  t_write (elsewhere, good);
  unlink (path);
  assert_int_equal (symlink (elsewhere, path), 0);
  dockerd_facts_load (fd, &v, &n);
  assert_int_equal (n, 0);
  dockerd_facts_store (fd, &me);
  assert_int_equal (lstat (path, &st), 0);
  assert_true (S_ISREG (st.st_mode));
  char *kept = t_read (elsewhere, NULL);
  assert_string_equal (kept, good);
  free (kept);
  free (elsewhere);
  free (good);
  dockerd_facts_free (&me);
  dockerd_facts_free (&dead);
  dockerd_facts_free (&b);
  close (fd);
  t_rmtree (dir);
  free (path);
  free (dir);
}

/* An entry names one run of a daemon: a PID with another start time (reused)
 * is another process. */
static void
test_match (void **state)
{
  (void)state;
  unsigned long long start = 0;
  assert_int_equal (proc_start_time (getpid (), &start), 0);
  struct dockerd_facts c = facts ("/run/docker.sock", getpid (), start, true);
  struct dockerd_id now = c.id;
  assert_true (dockerd_facts_match (&c.id, &now));
  now.start = start + 1;
  now.listener_start = start + 1;
  assert_false (dockerd_facts_match (&c.id, &now));
  now = c.id;
  now.sock_ino = 3; /* the socket bound again */
  assert_false (dockerd_facts_match (&c.id, &now));
  now = c.id;
  now.sock = (char *)"/run/other.sock";
  assert_false (dockerd_facts_match (&c.id, &now));
  /* Socket activation: the listener (PID 1 here) outlives the daemon; the
     cached daemon counts while it runs, as itself. */
  c.id.listener = 1;
  c.id.listener_start = 0;
  now = c.id;
  now.pid = 0;
  now.start = 0;
  unsigned long long one = 0;
  if (proc_start_time (1, &one) == 0)
    {
      c.id.listener_start = now.listener_start = one;
      assert_true (dockerd_facts_match (&c.id, &now));
      c.id.start = start + 1; /* its PID, reused */
      assert_false (dockerd_facts_match (&c.id, &now));
    }
  dockerd_facts_free (&c);
}

static void
test_made_dir (void **state)
{
  (void)state;
  assert_true (dockerd_made_dir ("/var/lib/docker", ID, "/var/lib/docker/containers/" ID));
  assert_false (dockerd_made_dir ("/var/lib/docker", ID, "/srv/docker/containers/" ID));
  assert_false (dockerd_made_dir ("/var/lib/docker", ID, "/var/lib/docker/containers/" ID "/"));
  assert_false (dockerd_made_dir ("/var/lib/docker", ID, "/var/lib/docker/containers/0c8b58c5"));
  assert_false (dockerd_made_dir ("/var/lib/docker", ID, "/var/lib/docker2/containers/" ID));
  assert_false (dockerd_made_dir ("/var/lib/docker", ID, "/var/lib/docker/x/containers/" ID));
  assert_false (dockerd_made_dir ("/var/lib", ID, "/var/lib/docker/containers/" ID));
  assert_false (dockerd_made_dir ("/var/lib/docker", ID, NULL));
  assert_false (dockerd_made_dir (NULL, ID, "/var/lib/docker/containers/" ID));
  assert_false (dockerd_made_dir ("/var/lib/docker", "../x", "/var/lib/docker/containers/../x"));
  assert_false (
      dockerd_made_dir ("/var/lib/../lib/docker", ID, "/var/lib/../lib/docker/containers/" ID));
}

static void
test_answers (void **state)
{
  (void)state;
  struct podshim_error *err = NULL;
  struct dockerd_facts f = { 0 };
  assert_no_error (
      dockerd_facts_from_answers (
          "{\"ServerVersion\":\"28.5.2+dfsg4\",\"DockerRootDir\":\"/srv/d\"}", 404, &f, &err),
      err);
  assert_false (f.bridge);
  assert_string_equal (f.version, "28.5.2+dfsg4");
  assert_string_equal (f.root_dir, "/srv/d");
  assert_no_error (dockerd_facts_from_answers (
                       "{\"ServerVersion\":\"a b\",\"DockerRootDir\":\"/d\"}", 200, &f, &err),
                   err);
  assert_true (f.bridge);
  assert_string_equal (f.version, "");
  dockerd_facts_free (&f);
  assert_int_equal (dockerd_facts_from_answers ("{\"DockerRootDir\":\"/d\"}", 500, &f, &err), -1);
  assert_error_contains (&err, "HTTP 500");
  assert_int_equal (dockerd_facts_from_answers ("{}", 200, &f, &err), -1);
  assert_error_contains (&err, "DockerRootDir");
  assert_int_equal (dockerd_facts_from_answers ("{\"DockerRootDir\":\"d\"}", 200, &f, &err), -1);
  assert_error_contains (&err, "DockerRootDir");
  assert_int_equal (dockerd_facts_from_answers ("[", 200, &f, &err), -1);
  podshim_error_free (steal_pointer (&err));
  assert_null (f.root_dir);
}

/* Who serves a socket: the listener's maker (SO_PEERCRED), the listener's
 * inode (sock_diag), the dockerd that holds it. */
static void
test_identify (void **state)
{
  (void)state;
  char *dir = t_mkdtemp ();
  char *sock = t_printf ("%s/d.sock", dir);
  struct podshim_error *err = NULL;
  struct dockerd_id id = { 0 };
  assert_int_equal (dockerd_identify (sock, 1000, &id, &err), -1);
  assert_true (podshim_error_is (err, ENOENT));
  podshim_error_free (steal_pointer (&err));
  int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  strcpy (sa.sun_path, sock);
  assert_int_equal (bind (s, (struct sockaddr *)&sa, sizeof (sa)), 0);
  assert_int_equal (listen (s, 8), 0);
  assert_int_equal (dockerd_identify (sock, 1000, &id, &err), 0);
  assert_int_equal (id.listener, getpid ());
  assert_int_equal (id.pid, 0); /* not dockerd */
  struct stat st;
  assert_int_equal (stat (sock, &st), 0);
  assert_int_equal (id.sock_ino, st.st_ino);
  unsigned long long ino = 0;
  assert_int_equal (unix_listener_inode (st.st_dev, st.st_ino, &ino), 0);
  assert_true (proc_holds_socket (getpid (), ino));
  assert_false (proc_holds_socket (getpid (), ino + 1));
  assert_int_equal (unix_listener_inode (st.st_dev, st.st_ino + 1, &ino), -ENOENT);
  /* Nobody named dockerd holds it; then a child of that name does. */
  assert_int_equal (dockerd_identify_holder (&id), 1);
  int ready[2];
  assert_int_equal (pipe2 (ready, O_CLOEXEC), 0);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* Gone with the test, even when it fails. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      prctl (PR_SET_NAME, "dockerd");
      close (ready[1]);
      pause ();
      _exit (0);
    }
  close (ready[1]);
  char b;
  assert_int_equal (read (ready[0], &b, 1), 0);
  close (ready[0]);
  assert_int_equal (dockerd_identify_holder (&id), 0);
  assert_int_equal (id.pid, pid);
  unsigned long long start = 0;
  assert_int_equal (proc_start_time (pid, &start), 0);
  assert_int_equal (id.start, start);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  free (id.sock);
  close (s);
  /* Bound, nobody listening. */
  assert_int_equal (dockerd_identify (sock, 1000, &id, &err), -1);
  assert_true (podshim_error_is (err, ECONNREFUSED));
  podshim_error_free (steal_pointer (&err));
  t_rmtree (dir);
  free (sock);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_format), cmocka_unit_test (test_parse_damaged),
    cmocka_unit_test (test_load_store),   cmocka_unit_test (test_match),
    cmocka_unit_test (test_made_dir),     cmocka_unit_test (test_answers),
    cmocka_unit_test (test_identify),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

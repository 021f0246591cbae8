/* `podshim install|uninstall ENGINE`: the files and the command line around
 * install.c's transformations. */
#include "config.h"
#include "install.h"
#include "fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[]
    = "usage: podshim install docker [--default] [--daemon-json PATH] [--dry-run]\n"
      "       podshim uninstall docker [--daemon-json PATH] [--dry-run]\n"
      "       podshim install podman|containerd [--default]\n"
      "       podshim uninstall podman|containerd\n";

/* The running binary's absolute path: what the engine is to run. Owned. */
static int
self_path (char **ret, struct podshim_error **err)
{
  char buf[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", buf, sizeof (buf) - 1);
  if (n < 0)
    return podshim_error_set (err, errno, "cannot read `/proc/self/exe`");
  buf[n] = '\0';
  static const char deleted[] = " (deleted)";
  size_t dl = sizeof (deleted) - 1;
  if (buf[0] != '/' || ((size_t)n > dl && strcmp (buf + n - dl, deleted) == 0))
    return podshim_error_set (err, 0, "this podshim binary (`%s`) is not on the file system", buf);
  *ret = strdup (buf);
  if (*ret == NULL)
    abort ();
  return 0;
}

/* name made absolute against the working directory. Owned. */
static char *
absolute (const char *name)
{
  char *r = NULL;
  if (name[0] == '/')
    r = strdup (name);
  else
    {
      char cwd[PATH_MAX];
      if (getcwd (cwd, sizeof (cwd)) == NULL || asprintf (&r, "%s/%s", cwd, name) < 0)
        r = NULL;
    }
  if (r == NULL)
    abort ();
  return r;
}

static bool
read_cmdline (pid_t pid, char *buf, size_t size, size_t *ret_len)
{
  char p[64];
  snprintf (p, sizeof (p), "/proc/%d/cmdline", (int)pid);
  cleanup_close int fd = open (p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read (fd, buf, size - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  *ret_len = (size_t)n;
  return true;
}

/* The daemon.json a dockerd's command line names (--config-file), else the
 * default. Points into buf. */
static const char *
dockerd_config_file (const char *buf, size_t len)
{
  static const char opt[] = "--config-file";
  for (const char *a = buf; a < buf + len; a += strlen (a) + 1)
    {
      if (strcmp (a, opt) == 0)
        {
          const char *v = a + strlen (a) + 1;
          return v < buf + len ? v : INSTALL_DAEMON_JSON_DEFAULT;
        }
      if (strncmp (a, opt, sizeof (opt) - 1) == 0 && a[sizeof (opt) - 1] == '=')
        return a + sizeof (opt);
    }
  return INSTALL_DAEMON_JSON_DEFAULT;
}

/* The dockerd that reads file: its PID when exactly one does, 0 when none,
 * -1 when several. */
static pid_t
dockerd_of (const char *file)
{
  cleanup_dir DIR *d = opendir ("/proc");
  if (d == NULL)
    return 0;
  pid_t found = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      char *end;
      long pid = strtol (de->d_name, &end, 10);
      if (*end != '\0' || pid <= 0)
        continue;
      char p[64];
      snprintf (p, sizeof (p), "/proc/%ld/comm", pid);
      cleanup_free char *c = NULL;
      if (read_file_at (AT_FDCWD, p, 0, 64, &c, NULL, NULL) < 0 || strcmp (c, "dockerd\n") != 0)
        continue;
      char cmd[16384];
      size_t len;
      if (!read_cmdline ((pid_t)pid, cmd, sizeof (cmd), &len))
        continue;
      cleanup_free char *cfg = absolute (dockerd_config_file (cmd, len));
      char a[PATH_MAX], b[PATH_MAX];
      /* A dockerd in another mount namespace may name a path we resolve
         differently: compare what resolves, else the text. */
      bool same
          = realpath (cfg, a) && realpath (file, b) ? strcmp (a, b) == 0 : strcmp (cfg, file) == 0;
      if (!same)
        continue;
      if (found)
        return -1;
      found = (pid_t)pid;
    }
  return found;
}

/* The one command that makes dockerd read file again. */
static void
print_apply (FILE *out, const char *file, const struct install_changes *ch)
{
  bool restart = ch->needs_restart;
  bool systemd = access ("/run/systemd/system", F_OK) == 0;
  bool default_file = strcmp (file, INSTALL_DAEMON_JSON_DEFAULT) == 0;
  pid_t pid = dockerd_of (file);
  const char *why = restart ? "restart dockerd (a reload keeps the default runtime it has when "
                              "daemon.json names none)"
                            : "reload dockerd";
  if (systemd && default_file)
    fprintf (out, "to apply, %s: systemctl %s docker\n", why, restart ? "restart" : "reload");
  else if (pid > 0 && !restart)
    fprintf (out, "to apply, %s: kill -HUP %d\n", why, (int)pid);
  else if (pid > 0)
    fprintf (out, "to apply, %s: dockerd is pid %d\n", why, (int)pid);
  else if (default_file && !restart)
    fprintf (out, "to apply, %s: kill -HUP $(pidof dockerd)\n", why);
  else if (!restart)
    fprintf (out, "to apply, %s: kill -HUP <PID of the dockerd started with --config-file %s>\n",
             why, file);
  else
    fprintf (out, "to apply, %s: the dockerd started with --config-file %s\n", why, file);
  if (ch->runtimes_removed && !restart)
    fprintf (out, "(a reload keeps the runtimes dockerd has when daemon.json names none: podshim "
                  "stays registered, unused, until dockerd restarts)\n");
}

static void
print_changes (FILE *out, const char *file, const struct install_changes *ch, bool dry_run)
{
  fprintf (out, "%s%s:\n", file, dry_run ? " (dry run: nothing written)" : "");
  for (size_t i = 0; i < ch->n; i++)
    fprintf (out, "  %s: %s -> %s\n", ch->c[i].key, ch->c[i].before ? ch->c[i].before : "(absent)",
             ch->c[i].after ? ch->c[i].after : "(absent)");
}

/* Reads an optional file: 0 and *ret (NULL when missing). */
static int
read_optional (const char *path, size_t max, char **ret, size_t *ret_len, mode_t *ret_mode,
               struct podshim_error **err)
{
  *ret = NULL;
  *ret_len = 0;
  cleanup_error struct podshim_error *e = NULL;
  if (read_file_at (AT_FDCWD, path, O_NOFOLLOW, max, ret, ret_len, &e) < 0)
    {
      if (podshim_error_is (e, ENOENT))
        return 0;
      if (podshim_error_is (e, ELOOP))
        return podshim_error_set (err, 0, "`%s` is a symbolic link: give the file it points to",
                                  path);
      *err = steal_pointer (&e);
      return -1;
    }
  struct stat st;
  if (ret_mode)
    *ret_mode = stat (path, &st) == 0 ? st.st_mode & 07777 : 0644;
  return 0;
}

static int
docker_run (bool uninstall, const char *file, bool set_default, bool dry_run, FILE *out,
            struct podshim_error **err)
{
  cleanup_free char *mem_path = NULL, *bak_path = NULL;
  if (asprintf (&mem_path, "%s" INSTALL_MEMORY_SUFFIX, file) < 0
      || asprintf (&bak_path, "%s" INSTALL_BACKUP_SUFFIX, file) < 0)
    abort ();
  cleanup_free char *buf = NULL;
  size_t len;
  mode_t mode = 0644;
  if (read_optional (file, INSTALL_FILE_MAX, &buf, &len, &mode, err) < 0)
    return -1;
  bool existed = buf != NULL;
  cleanup_json yajl_val doc = NULL;
  if (install_docker_parse (buf ? buf : "", len, file, &doc, err) < 0)
    return -1;

  cleanup_free char *mbuf = NULL;
  size_t mlen;
  if (read_optional (mem_path, INSTALL_MEMORY_MAX, &mbuf, &mlen, NULL, err) < 0)
    return -1;
  cleanup_install_memory struct install_memory old = { 0 };
  cleanup_error struct podshim_error *me = NULL;
  if (mbuf && install_memory_parse (mbuf, mlen, mem_path, &old, &me) < 0)
    return podshim_error_set (err, 0,
                              "%s (what install docker keeps beside %s; remove it, and install "
                              "or uninstall again)",
                              me->msg, file);

  cleanup_install_changes struct install_changes ch = { 0 };
  cleanup_install_memory struct install_memory m = { 0 };
  if (uninstall)
    {
      if (install_docker_revert (doc, mbuf ? &old : NULL, &ch, err) < 0)
        return podshim_error_wrap (err, "%s", file);
    }
  else
    {
      cleanup_free char *self = NULL;
      if (self_path (&self, err) < 0
          || install_docker_apply (doc, self, set_default, mbuf ? &old : NULL, &m, &ch, err) < 0)
        return podshim_error_wrap (err, "%s", file);
    }

  if (ch.n == 0)
    {
      fprintf (out, "%s: nothing to change\n", file);
      /* A memory left by a hand-made uninstall goes with the next one. */
      if (uninstall && mbuf && !dry_run && unlink (mem_path) < 0 && errno != ENOENT)
        return podshim_error_set (err, errno, "cannot remove `%s`", mem_path);
      return 0;
    }
  print_changes (out, file, &ch, dry_run);
  if (dry_run)
    {
      print_apply (out, file, &ch);
      return 0;
    }

  cleanup_free char *text = NULL, *mtext = NULL;
  size_t tlen, mtlen;
  if (json_emit_pretty (doc, &text, &tlen, err) < 0
      || (!uninstall && install_memory_emit (&m, &mtext, &mtlen, err) < 0))
    return -1;
  cleanup_free char *dir = strdup (file);
  if (dir == NULL)
    abort ();
  char *slash = strrchr (dir, '/');
  const char *base = slash + 1;
  *slash = '\0';
  cleanup_close int dfd = -1;
  if (existed)
    dfd = open (dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  else
    /* A node may get podshim before Docker: /etc/docker is made as
       Docker's package makes it. */
    dfd = ensure_dir_path (dir[0] ? dir : "/", 0755, err);
  if (dfd < 0)
    return podshim_error_set (err, errno, "cannot open directory `%s`", dir);
  cleanup_free char *mem_base = NULL, *bak_base = NULL;
  if (asprintf (&mem_base, "%s" INSTALL_MEMORY_SUFFIX, base) < 0
      || asprintf (&bak_base, "%s" INSTALL_BACKUP_SUFFIX, base) < 0)
    abort ();
  /* The backup first, then what undoes install, then the file itself: a
     crash in between leaves the old file, or a new one that can be undone. */
  if (existed && write_file_atomic_at (dfd, bak_base, buf, len, mode, err) < 0)
    return podshim_error_wrap (err, "backup of %s", file);
  if (!uninstall && write_file_atomic_at (dfd, mem_base, mtext, mtlen, 0644, err) < 0)
    return -1;
  if (write_file_atomic_at (dfd, base, text, tlen, 0644, err) < 0)
    return podshim_error_wrap (err, "%s", file);
  if (uninstall && unlinkat (dfd, mem_base, 0) < 0 && errno != ENOENT)
    return podshim_error_set (err, errno, "cannot remove `%s`", mem_path);
  if (existed)
    fprintf (out, "written; the previous content is in %s\n", bak_path);
  else
    fprintf (out, "written\n");
  print_apply (out, file, &ch);
  return 0;
}

/* s as a TOML basic string (control characters refused). Owned. */
static int
toml_quote (const char *s, char **ret, struct podshim_error **err)
{
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream (&buf, &n);
  if (f == NULL)
    abort ();
  fputc ('"', f);
  for (const char *p = s; *p; p++)
    {
      if ((unsigned char)*p < 0x20 || *p == 0x7f)
        {
          fclose (f);
          free (buf);
          return podshim_error_set (err, 0, "path `%s` has a control character", s);
        }
      if (*p == '"' || *p == '\\')
        fputc ('\\', f);
      fputc (*p, f);
    }
  fputc ('"', f);
  fclose (f);
  *ret = buf;
  return 0;
}

static int
print_podman (FILE *out, bool uninstall, bool set_default, const char *q)
{
  fprintf (out,
           "podman reads its runtimes from containers.conf(5), which podshim does not edit.\n"
           "%s /etc/containers/containers.conf.d/podshim.conf (or in "
           "/etc/containers/containers.conf):\n\n",
           uninstall ? "Remove what install printed, from" : "Put this in");
  if (set_default)
    fprintf (out, "[engine]\nruntime = \"podshim\"\n\n");
  fprintf (out, "[engine.runtimes]\npodshim = [%s]\n\n", q);
  if (!uninstall && !set_default)
    fprintf (out, "and run containers with `podman --runtime podshim run ...` (or give "
                  "`--default` to make it podman's runtime).\n");
  return 0;
}

static int
print_containerd (FILE *out, bool uninstall, bool set_default, const char *q)
{
  static const char *const plugins[] = {
    "containerd 2.x (config version 3)",
    "io.containerd.cri.v1.runtime",
    "containerd 1.x (config version 2)",
    "io.containerd.grpc.v1.cri",
  };
  fprintf (out,
           "containerd reads its CRI runtimes from /etc/containerd/config.toml, which podshim "
           "does not edit.\n%s:\n",
           uninstall ? "Remove what install printed" : "Add, for your containerd");
  for (size_t i = 0; i < 4; i += 2)
    {
      const char *p = plugins[i + 1];
      fprintf (out, "\n# %s\n", plugins[i]);
      if (set_default)
        fprintf (out, "[plugins.\"%s\".containerd]\n  default_runtime_name = \"podshim\"\n", p);
      fprintf (out,
               "[plugins.\"%s\".containerd.runtimes.podshim]\n"
               "  runtime_type = \"io.containerd.runc.v2\"\n"
               "  [plugins.\"%s\".containerd.runtimes.podshim.options]\n"
               "    BinaryName = %s\n",
               p, p, q);
    }
  fprintf (out, "\nthen restart containerd (systemctl restart containerd). Without CRI: "
                "ctr run --runc-binary PODSHIM ... (see podshim(8)).\n");
  return 0;
}

int
install_main (bool uninstall, int argc, char **argv, FILE *out, struct podshim_error **err)
{
  const char *cmd = uninstall ? "uninstall" : "install";
  if (argc < 1)
    {
      fputs (usage, out);
      return podshim_error_set (err, 0, "%s: which engine? docker, podman or containerd", cmd);
    }
  const char *engine = argv[0];
  if (strcmp (engine, "--help") == 0 || strcmp (engine, "-h") == 0 || strcmp (engine, "help") == 0)
    {
      fputs (usage, out);
      return 0;
    }
  bool set_default = false, dry_run = false;
  const char *daemon_json = NULL;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--default") == 0 && !uninstall)
        set_default = true;
      else if (strcmp (a, "--dry-run") == 0)
        dry_run = true;
      else if (strcmp (a, "--daemon-json") == 0 && i + 1 < argc)
        daemon_json = argv[++i];
      else if (strncmp (a, "--daemon-json=", 14) == 0)
        daemon_json = a + 14;
      else if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          fputs (usage, out);
          return 0;
        }
      else
        return podshim_error_set (err, 0, "%s %s: unknown option `%.200s`", cmd, engine, a);
    }
  if (daemon_json && *daemon_json == '\0')
    return podshim_error_set (err, 0, "%s: --daemon-json needs a path", cmd);

  if (strcmp (engine, "docker") == 0)
    {
      cleanup_free char *file = absolute (daemon_json ? daemon_json : INSTALL_DAEMON_JSON_DEFAULT);
      return docker_run (uninstall, file, set_default, dry_run, out, err) < 0 ? -1 : 0;
    }
  if (daemon_json)
    return podshim_error_set (err, 0, "%s %s: --daemon-json is for docker", cmd, engine);
  bool podman = strcmp (engine, "podman") == 0;
  if (!podman && strcmp (engine, "containerd") != 0)
    return podshim_error_set (err, 0, "%s: unknown engine `%.200s` (docker, podman or containerd)",
                              cmd, engine);
  cleanup_free char *self = NULL, *q = NULL;
  if (self_path (&self, err) < 0 || toml_quote (self, &q, err) < 0)
    return -1;
  return podman ? print_podman (out, uninstall, set_default, q)
                : print_containerd (out, uninstall, set_default, q);
}

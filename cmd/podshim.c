/* podshim: an OCI runtime with runc's command line. Every command but
 * create/run/delete of a pod member is exec'd to the delegate untouched. */
#include "config.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

#include "argv.h"
#include "class.h"
#include "delegate.h"
#include "error.h"
#include "install.h"
#include "log.h"
#include "member.h"
#include "podcmd.h"
#include "route.h"
#include "usage.h"

static int
fail (struct podshim_error *err)
{
  fprintf (stderr, "podshim: %s\n", err->msg);
  podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", err->msg);
  podshim_error_free (err);
  return 1;
}

/* --version: the delegate's lines first, byte for byte (tools parse its
 * first line), then podshim's; the delegate's exit status. */
static int
version (struct runc_cmdline *c)
{
  struct podshim_error *err = NULL;
  int status = 0;
  fflush (stdout);
  int r = delegate_run (c, &status, &err);
  printf ("podshim version %s%s\n", PODSHIM_VERSION,
          PODSHIM_FAULT_INJECTION ? " (fault injection)" : "");
  fflush (stdout);
  if (r < 0)
    {
      (void)fail (err);
      return 127;
    }
  exit_like (status);
}

int
main (int argc, char **argv)
{
  struct podshim_error *err = NULL;
  __attribute__ ((cleanup (runc_cmdline_free))) struct runc_cmdline c = { 0 };
  if (runc_cmdline_parse (argc, argv, &c, &err) < 0)
    return fail (err);
  podshim_log_init (c.log, c.log_format && strcmp (c.log_format, "json") == 0, c.debug);

  if (c.shim_help)
    {
      podshim_usage (stdout);
      return 0;
    }
  if (c.version && c.command == NULL)
    return version (&c);
  const char *cmd = c.help || c.command == NULL ? "" : c.command;
  bool is_install = strcmp (cmd, "install") == 0;
  if (is_install || strcmp (cmd, "uninstall") == 0)
    {
      int r = install_main (!is_install, c.argc - c.command_index - 1, c.argv + c.command_index + 1,
                            stdout, &err);
      return r < 0 ? fail (err) : r;
    }
  bool is_create = strcmp (cmd, "create") == 0 || strcmp (cmd, "run") == 0;
  bool is_delete = strcmp (cmd, "delete") == 0;
  bool is_pod = strcmp (cmd, "pod") == 0;

  bool is_list = strcmp (cmd, "list") == 0;
  const char *cid = class_command_id (&c);
  /* Borrowed by c.argv once a runtime class rewrote it: live until the exec. */
  cleanup_container_record struct container_record rec = { 0 };
  cleanup_free char *class_root = NULL;
  if (is_list || (cid && !is_delete))
    {
      struct shim_ctx ctx;
      cleanup_error struct podshim_error *e = NULL;
      /* A state dir podshim cannot use holds no record: pass through. */
      if (shim_ctx_init (&ctx, &c, &e) == 0)
        {
          int status = 0;
          enum shim_outcome done = SHIM_PASS_THROUGH;
          int r = is_list ? class_list (&c, ctx.root, &status, &err)
                          : route_command (&ctx, cid, &rec, &class_root, &done, &status, &err);
          shim_ctx_free (&ctx);
          if (r < 0)
            return fail (err);
          if (is_list ? r == 0 : done == SHIM_HANDLED)
            exit_like (status);
        }
    }
  if (is_create || is_delete || is_pod)
    {
      struct shim_ctx ctx;
      if (shim_ctx_init (&ctx, &c, &err) < 0)
        return fail (err);
      int status = 0, r;
      enum shim_outcome done = SHIM_PASS_THROUGH;
      if (is_pod)
        {
          r = podcmd_main (&ctx, c.argc - c.command_index - 1, c.argv + c.command_index + 1, stdout,
                           stderr, &err);
          shim_ctx_free (&ctx);
          return r < 0 ? fail (err) : r;
        }
      if (is_create || cid == NULL)
        {
          /* They return their enum shim_outcome. */
          r = is_create ? member_create (&ctx, &status, &err) : member_delete (&ctx, &status, &err);
          if (r >= 0)
            done = (enum shim_outcome)r;
        }
      else
        r = route_command (&ctx, cid, &rec, &class_root, &done, &status, &err);
      shim_ctx_free (&ctx);
      if (r < 0)
        return fail (err);
      if (done == SHIM_HANDLED)
        exit_like (status);
    }
  /* Only returns when the delegate could not be run: 127, as a shell says. */
  delegate_exec (&c, &err);
  (void)fail (err);
  return 127;
}

/* podshim: an OCI runtime with runc's command line. Every command but
 * create/run/delete of a pod member is exec'd to the delegate untouched. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "argv.h"
#include "class.h"
#include "delegate.h"
#include "error.h"
#include "log.h"
#include "member.h"
#include "podcmd.h"
#include "route.h"

static int
fail (struct podshim_error *err)
{
  fprintf (stderr, "podshim: %s\n", err->msg);
  podshim_log (PODSHIM_LOG_ERROR, "podshim: %s", err->msg);
  podshim_error_free (err);
  return 1;
}

int
main (int argc, char **argv)
{
  struct podshim_error *err = NULL;
  __attribute__ ((cleanup (runc_cmdline_free))) struct runc_cmdline c = { 0 };
  if (runc_cmdline_parse (argc, argv, &c, &err) < 0)
    return fail (err);
  podshim_log_init (c.log, c.log_format && strcmp (c.log_format, "json") == 0, c.debug);

  if (c.version && c.command == NULL)
    {
      printf ("podshim version %s%s\n", PODSHIM_VERSION,
              PODSHIM_FAULT_INJECTION ? " (fault injection)" : "");
      fflush (stdout);
    }
  const char *cmd = c.help || c.command == NULL ? "" : c.command;
  bool is_create = strcmp (cmd, "create") == 0 || strcmp (cmd, "run") == 0;
  bool is_delete = strcmp (cmd, "delete") == 0;
  bool is_pod = strcmp (cmd, "pod") == 0;

  if (strcmp (cmd, "start") == 0)
    {
      struct shim_ctx ctx;
      cleanup_error struct podshim_error *serr = NULL;
      if (shim_ctx_init (&ctx, &c, &serr) == 0)
        {
          member_start (&ctx);
          shim_ctx_free (&ctx);
        }
    }

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
          int r = is_list ? class_list (&c, ctx.root, &status, &err)
                          : route_command (&ctx, cid, &rec, &class_root, &status, &err);
          shim_ctx_free (&ctx);
          if (r < 0)
            return fail (err);
          if (r == 0)
            exit_like (status);
        }
    }
  if (is_create || is_delete || is_pod)
    {
      struct shim_ctx ctx;
      if (shim_ctx_init (&ctx, &c, &err) < 0)
        return fail (err);
      int status = 0, r;
      if (is_pod)
        {
          r = podcmd_main (&ctx, c.argc - c.command_index - 1, c.argv + c.command_index + 1, &err);
          shim_ctx_free (&ctx);
          return r < 0 ? fail (err) : r;
        }
      if (is_create)
        r = member_create (&ctx, &status, &err);
      else if (cid)
        r = route_command (&ctx, cid, &rec, &class_root, &status, &err);
      else
        r = member_delete (&ctx, &status, &err);
      shim_ctx_free (&ctx);
      if (r < 0)
        return fail (err);
      if (r == 0)
        exit_like (status);
    }
  delegate_exec (&c, &err);
  return fail (err) == 1 ? 127 : 127;
}

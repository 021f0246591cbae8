#include "config.h"
#include "usage.h"
#include "class.h"
#include "companion.h"
#include "ctx.h"
#include "statedir.h"

void
podshim_usage (FILE *out)
{
  fprintf (out,
           "Usage: podshim [PODSHIM OPTIONS] [RUNTIME GLOBAL OPTIONS] COMMAND [ARGS...]\n"
           "\n"
           "podshim is an OCI runtime with runc's command line. Every command goes to the\n"
           "delegate runtime (runc by default) unchanged, except that a container naming a\n"
           "pod (label or annotation podshim.pod, or env PODSHIM_POD) joins that pod's\n"
           "namespaces. `podshim --help` is the delegate's help.\n"
           "\n"
           "Options (consumed, never passed to the delegate; the environment variable\n"
           "is used when the option is absent):\n"
           "  --podshim-runtime PATH      the delegate runtime (PODSHIM_DELEGATE; runc on PATH)\n"
           "  --podshim-config FILE       runtime classes (%s when it exists)\n"
           "  --podshim-state DIR         pods, locks, records (PODSHIM_STATE; %s)\n"
           "  --podshim-data DIR          pod volumes (PODSHIM_DATA; %s)\n"
           "  --podshim-docker-host URL   Docker Engine API for companions\n"
           "                              (PODSHIM_DOCKER_HOST; %s)\n"
           "  --podshim-max-pods N        most pods per --root (PODSHIM_MAX_PODS; %d)\n"
           "  --podshim-help              this help\n"
           "\n"
           "Commands of podshim's own:\n"
           "  pod list [--format table|json]  the pods: namespaces, holder, pause, members\n"
           "  pod inspect NAME|SCOPE:NAME     one pod, in JSON\n"
           "  pod gc                          prune dead members, remove empty pods\n"
           "  install docker [--default] [--daemon-json PATH] [--dry-run]\n"
           "                                  register this binary in dockerd's daemon.json\n"
           "  uninstall docker [--daemon-json PATH] [--dry-run]\n"
           "                                  undo install docker\n"
           "  install podman|containerd [--default]\n"
           "                                  print the configuration to add\n"
           "  --version                       the delegate's version, then podshim's\n"
           "\n"
           "See podshim(8) and podshim-labels(7).\n",
           CLASS_CONFIG_DEFAULT, STATEDIR_DEFAULT, DATADIR_DEFAULT, COMPANION_DOCKER_HOST_DEFAULT,
           POD_MAX_PODS_DEFAULT);
}

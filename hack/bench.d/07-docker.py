# hack/bench.d/07-docker.py — section 7 of hack/bench: docker run.
"""7. Only with BENCH_ONLY naming it: `docker run --rm` of busybox `true`
   (--network none) through a private dockerd (hack/dockerd) of each
   engine in BENCH_ENGINES (default debian12,sid): --runtime runc,
   --runtime podshim (not a member), and the 1st member of a new pod
   (label podshim.pod); and runc and a new pod's 1st member on the default
   network (no --network: podshim decides its network from what it
   knows of the daemon, asked through its API), paired; BENCH_DOCKER_N
   rounds (default 100).
   The daemon's directories are on a tmpfs, as /run is on a node."""

import os
import shutil
import subprocess
import tempfile
import time

from host import REPO, in_private_ns
from lib import (CmdError, QUICK, WARMUP, env_int, interleave, log, med, met_ci, ms, pair_ratios,
                 ratio_ci, spread)

SECTION = 7
ORDER = 70
BY_DEFAULT = False  # only when BENCH_ONLY names it: it starts two dockerds


def measure(b):
    """`docker run --rm` through a private dockerd (hack/dockerd) per engine:
    runc, podshim with a non-member, podshim with the 1st member of a new pod
    (label podshim.pod); runc and a new pod's 1st member on the default
    network, paired.  Only with BENCH_ONLY naming 7."""
    engines = [e for e in os.environ.get("BENCH_ENGINES", "debian12,sid").split(",") if e]
    n = env_int("BENCH_DOCKER_N", 3 if QUICK else 100)
    rows = []
    hack = os.path.join(REPO, "hack")
    for eng in engines:
        log(f"7. docker run --rm on engine {eng} ({n} rounds)")
        d = tempfile.mkdtemp(prefix="pb7-", dir="/tmp")
        # The daemon's directories on a tmpfs, as /run is on a node (podshim's
        # state, dockerd's exec-root, the runtime's --root): on a disk every
        # fsync of podshim's atomic writes costs 0.4-1 ms.  Our private mount
        # namespace keeps the tmpfs from the host and takes it away with us.
        tmpfs = in_private_ns()
        if tmpfs:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=0700", "pbench-dockerd", d],
                           check=True)
        # PODSHIM_DOCKERD_API: podshim reaches the daemon's API, as on a node
        # (/var/run/docker.sock), to decide a default-network member's network.
        env = dict(os.environ, PODSHIM=b.podshim, PODSHIM_ENGINE=eng, PODSHIM_DEFAULT_RUNTIME="0",
                   PODSHIM_DOCKERD_API="1")
        env.pop("PODSHIM_DATA", None)
        env["DOCKER_HOST"] = f"unix://{d}/docker.sock"
        try:
            for cmd in ([os.path.join(hack, "dockerd"), "start", d],
                        [os.path.join(hack, "images"), d, "busybox"]):
                p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
                if p.returncode != 0:
                    raise CmdError(f"section 7: {' '.join(cmd)}: "
                                   f"{p.stderr.decode(errors='replace')[-800:]}")

            def drun(i, *args, network=("--network", "none")):
                t0 = time.monotonic_ns()
                p = subprocess.run(["docker", "run", "--rm", *network, *args,
                                    "podshim/busybox", "true"], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=120)
                t1 = time.monotonic_ns()
                if p.returncode != 0:
                    raise CmdError(f"section 7: docker run {' '.join(args)}: "
                                   f"{p.stderr.decode(errors='replace')[-800:]}")
                return (t1 - t0) / 1e6

            seq = [0]

            def new_pod(i):
                seq[0] += 1
                return drun(i, "--runtime", "podshim", "--label", f"podshim.pod=b7-{seq[0]}")

            def new_pod_default_net(i):
                seq[0] += 1
                return drun(i, "--runtime", "podshim", "--label", f"podshim.pod=b7-{seq[0]}",
                            network=())

            variants = [("runc", lambda i: drun(i, "--runtime", "runc")),
                        ("podshim, not a member", lambda i: drun(i, "--runtime", "podshim")),
                        ("podshim, 1st member of a new pod", new_pod),
                        ("runc, default network", lambda i: drun(i, "--runtime", "runc",
                                                                 network=())),
                        ("podshim, 1st member of a new pod, default network",
                         new_pod_default_net)]
            res = interleave(variants, n, WARMUP)
            for name, _ in variants:
                xs = res[name]
                base = res["runc, default network" if "default network" in name else "runc"]
                goal, ok, ci_s = "", "", ""
                if not name.startswith("runc"):
                    ci = ratio_ci(xs, base, paired=True)
                    ci_s = f"; 95 % CI {ci[0]:.3f}–{ci[1]:.3f}"
                # The default network's row has no goal of its own: it shows
                # what deciding that member's network costs end to end.
                if not name.startswith("runc") and "default network" not in name:
                    g = 1.03 if name == "podshim, not a member" else 1.00
                    goal, ok = f"≤ {g:.2f}", met_ci(med(xs) / med(base), ci, g)
                rows.append(["7", f"`docker run --rm` ({eng}), {name}", len(xs), ms(med(xs)),
                             spread(xs), f"{med(xs) / med(base):.3f} / "
                             f"{med(pair_ratios(xs, base)):.3f}{ci_s}", goal, ok])
        finally:
            subprocess.run([os.path.join(hack, "dockerd"), "stop", d], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600)
            if tmpfs:
                subprocess.run(["umount", "-l", d], stderr=subprocess.DEVNULL)
            shutil.rmtree(d, ignore_errors=True)
    b.rows[7] = rows

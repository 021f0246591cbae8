# hack/bench.d/04-config.py — section 4 of hack/bench: a 1 MiB config.json.
"""4. podshim's own cost for a 1 MiB config.json with 10,000 env entries,
   with `--podshim-runtime /bin/true` (which does nothing) minus running
   `/bin/true` directly: (a) not a pod member (the fast path), (b) a pod
   member (a fresh pod each time, so it includes making a sandbox; the
   same with a small config shows what is due to the size), (c) a
   Docker-shaped non-member (an /etc/hostname mount from the container's
   directory, whose config.v2.json names no podshim label)."""

import json
import os

from lib import (BASELINE, CmdError, MIB, N, WARMUP, interleave, log, med, met, ms, pair_diffs,
                 pair_ratios, run, settle, spread, timed)
from work import write_json

SECTION = 4
ORDER = 40


def big_env(spec, target, n_env=10000):
    """n_env env entries that make config.json (as written) at least `target`
    bytes."""
    pad = 1
    while True:
        env = [f"BENCH_ENV_{i:05d}=" + ("x" * pad) for i in range(n_env)]
        s = json.loads(json.dumps(spec))
        s["process"]["env"] = s["process"].get("env", []) + env
        size = len(json.dumps(s).encode())
        if size >= target:
            return env
        pad += (target - size + n_env - 1) // n_env


def measure(b):
    log(f"4. 1 MiB config.json, delegate /bin/true ({N} rounds)")
    env = big_env(b.spec, MIB)
    plain_big = b.bundle("big-plain", env=env)
    size = os.path.getsize(os.path.join(plain_big, "config.json"))
    plain_small = b.bundle("small-plain")
    pod_big = os.path.join(b.tmp, "bundles", "big-pod")
    pod_small = os.path.join(b.tmp, "bundles", "small-pod")
    os.makedirs(pod_big)
    os.makedirs(pod_small)

    def T(bun):
        return lambda i: timed(["/bin/true"] + b.PT()[5:] + ["create", "--bundle", bun,
                                                            b.fresh_id("t")])

    def P(bun):
        return lambda i: timed(b.PT() + ["create", "--bundle", bun, b.fresh_id("p")])

    def PB(bun):  # the baseline podshim (BENCH_BASELINE), same arguments
        return lambda i: timed([BASELINE] + b.PT()[1:] + ["create", "--bundle", bun,
                                                          b.fresh_id("o")])

    # (a) not a pod member
    va = [("true", T(plain_big)), ("big", P(plain_big)), ("small", P(plain_small))]
    if BASELINE:
        va.append(("old-big", PB(plain_big)))
    ra = interleave(va, N, WARMUP)

    # (c) not a pod member, as dockerd makes it: an /etc/hostname bind mount
    # from <containers>/<id>/, whose config.v2.json (labels, and the env
    # again) names no podshim label. Fixed IDs: /bin/true creates nothing.
    def docker_bundle(name, env_):
        cid = b.cid(name)
        cdir = os.path.join(b.tmp, "docker", "containers", cid)
        os.makedirs(cdir, exist_ok=True)
        with open(os.path.join(cdir, "hostname"), "w") as f:
            f.write(cid[:12] + "\n")
        v2 = {"ID": cid, "Config": {"Hostname": cid[:12], "Env": env_ or [],
                                    "Labels": {"com.docker.compose.service": "web"}},
              "State": {"Running": False}}
        v2_size = write_json(os.path.join(cdir, "config.v2.json"), v2)
        spec = json.loads(json.dumps(b.spec))
        spec["mounts"] = spec.get("mounts", []) + [
            {"destination": "/etc/hostname", "type": "bind",
             "source": os.path.join(cdir, "hostname"), "options": ["rbind", "rprivate"]}]
        return b.bundle(name, env=env_, spec=spec), cid, v2_size

    def D(bun, cid, podshim=None):
        return lambda i: timed([podshim or b.podshim] + b.PT()[1:]
                               + ["create", "--bundle", bun, cid])

    def DT(bun, cid):
        return lambda i: timed(["/bin/true"] + b.PT()[5:] + ["create", "--bundle", bun, cid])

    dock_big, dock_big_id, v2_size = docker_bundle("dock-big", env)
    dock_small, dock_small_id, _ = docker_bundle("dock-small", None)
    vc = [("true", DT(dock_big, dock_big_id)), ("big", D(dock_big, dock_big_id)),
          ("small", D(dock_small, dock_small_id))]
    if BASELINE:
        vc.append(("old-big", D(dock_big, dock_big_id, BASELINE)))
        vc.append(("old-small", D(dock_small, dock_small_id, BASELINE)))
    rc = interleave(vc, N, WARMUP)

    # (b) a pod member of a fresh pod each round; `pod gc` after (pruned: /bin/true
    # leaves no container behind)
    def before(i):
        b.write_config(pod_big, pod=f"big{i}", env=env)
        b.write_config(pod_small, pod=f"small{i}")

    def after(i):
        run([b.podshim, "--podshim-state", b.true_state, "pod", "gc"])
        settle()
        left = b.pods(b.true_state)
        if left:
            raise CmdError(f"section 4: pod gc left {left}")

    rb = interleave([("true", T(pod_big)), ("big", P(pod_big)), ("small", P(pod_small))],
                    N, WARMUP, before=before, after=after)
    rows = []
    for tag, res, label in (("a", ra, "not a pod member (fast path)"),
                            ("b", rb, "pod member, new pod each time"),
                            ("c", rc, "Docker-shaped non-member (hostname mount, "
                                      f"{v2_size / MIB:.2f} MiB config.v2.json without a "
                                      "podshim label)")):
        d_big = pair_diffs(res["big"], res["true"])
        d_small = pair_diffs(res["small"], res["true"])
        size_part = med(pair_diffs(res["big"], res["small"]))
        extra = ""
        for old in ("old-big", "old-small"):
            if old in res:
                d_old = pair_diffs(res[old], res["true"])
                new = "big" if old == "old-big" else "small"
                extra += (f"; {old} (BENCH_BASELINE): {ms(med(d_old))}, "
                          f"new/old pairs {med(pair_ratios(res[new], res[old])):.3f}")
        rows.append([f"4{tag}", f"podshim's own time, {size / MIB:.2f} MiB config.json with "
                     f"10,000 env entries, {label}: `podshim --podshim-runtime /bin/true create`"
                     " − `/bin/true`",
                     len(d_big), ms(med(d_big)), spread(d_big),
                     f"small config: {ms(med(d_small))}; due to the size: {size_part:+.2f} ms"
                     + extra,
                     "≤ 10 ms", met(med(d_big) <= 10.0)])
    b.rows[4] = rows

# hack/bench.d/09-userns.py — section 9 of hack/bench: the pod's user namespace.
"""9. The pod's user namespace: `podshim create` of a new pod's first member
   with a user namespace of its own (userns-remap) against one without,
   paired (net,ipc,uts, and with pid; and podshim alone, delegate /bin/true);
   and plain `runc create` with and without a user namespace, for scale."""

import json
import os

from lib import (CmdError, N, WARMUP, interleave, log, med, ms, pair_diffs, pair_ratios, run,
                 settle, spread, timed)

SECTION = 9
ORDER = 65  # after 6, before 7 and 5 (as in the monolithic bench)

USERNS_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def with_userns(spec):
    """spec with a user namespace of its own, as a userns-remap dockerd gives
    every container (uids and gids 0-65535 -> 100000-165535)."""
    s = json.loads(json.dumps(spec))
    lx = s.setdefault("linux", {})
    lx["namespaces"] = lx.get("namespaces", []) + [{"type": "user"}]
    lx["uidMappings"] = USERNS_MAP
    lx["gidMappings"] = USERNS_MAP
    return s


def measure(b):
    log(f"9. the pod's user namespace: a new pod's 1st member create, remapped or not ({N} rounds)")
    # Remapped members walk the work dir as uid 100000 to their rootfs.
    os.chmod(b.tmp, 0o755)
    uspec = with_userns(b.spec)
    dirs = {}
    for x in ("def", "def-u", "pid", "pid-u", "own", "own-u", "runc", "runc-u"):
        dirs[x] = os.path.join(b.tmp, "bundles", "us-" + x)
        os.makedirs(dirs[x])
    b.write_config(dirs["runc"])
    b.write_config(dirs["runc-u"], spec=uspec)

    def pod_create(kind, share, userns):
        def fn(i):
            d = dirs[kind]
            pod = f"us{i}-{kind}"
            b.write_config(d, pod=pod, share=share, spec=uspec if userns else None)
            ida = b.fresh_id("ua")
            t = timed(b.PR() + ["create", "--bundle", d, ida])
            pods = [p for p in b.pods() if p["name"] == pod]
            if len(pods) != 1 or bool(pods[0].get("uid_map")) != userns:
                raise CmdError(f"section 9: pod {pod} looks wrong: {pods}")
            run(b.PR() + ["delete", "--force", ida])
            settle()
            return t
        return fn

    def own_create(kind, userns):
        # podshim alone (delegate /bin/true): the new pod's sandbox and
        # podshim's own work, no runc
        def fn(i):
            d = dirs[kind]
            b.write_config(d, pod=f"uo{i}-{kind}", spec=uspec if userns else None)
            pt = [b.podshim, "--podshim-runtime", "/bin/true", "--podshim-state", b.state,
                  "--root", b.runc_root]
            t = timed(pt + ["create", "--bundle", d, b.fresh_id("uo")])
            run([b.podshim, "--podshim-state", b.state, "pod", "gc"])  # its member never lived
            settle()
            return t
        return fn

    def runc_create(kind):
        def fn(i):
            idr = b.fresh_id("ur")
            t = timed(b.R() + ["create", "--bundle", dirs[kind], idr])
            run(b.R() + ["delete", "--force", idr])
            settle()
            return t
        return fn

    res = interleave([("def", pod_create("def", None, False)),
                      ("def-u", pod_create("def-u", None, True)),
                      ("pid", pod_create("pid", "net,ipc,uts,pid", False)),
                      ("pid-u", pod_create("pid-u", "net,ipc,uts,pid", True)),
                      ("own", own_create("own", False)),
                      ("own-u", own_create("own-u", True)),
                      ("runc", runc_create("runc")),
                      ("runc-u", runc_create("runc-u"))], N, WARMUP)
    b.expect_clean("section 9")
    rows = []
    for kind, what in (("def", "net,ipc,uts"), ("pid", "net,ipc,uts,pid")):
        a, u = res[kind], res[kind + "-u"]
        d = pair_diffs(u, a)
        rows.append(["9", f"the pod's user namespace ({what}): `podshim create` of a new pod's 1st "
                     "member, remapped − not", len(d), ms(med(d)), spread(d),
                     f"remapped {ms(med(u))}, not {ms(med(a))}; ratio of medians "
                     f"{med(u) / med(a):.3f}, median of ratios {med(pair_ratios(u, a)):.3f}", "", ""])
    a, u = res["own"], res["own-u"]
    d = pair_diffs(u, a)
    rows.append(["9", "↳ podshim's own part: `podshim --podshim-runtime /bin/true create` of a new "
                 "pod's 1st member, remapped − not", len(d), ms(med(d)), spread(d),
                 f"remapped {ms(med(u))}, not {ms(med(a))}; ratio of medians "
                 f"{med(u) / med(a):.3f}, median of ratios {med(pair_ratios(u, a)):.3f}", "", ""])
    r, ru = res["runc"], res["runc-u"]
    d = pair_diffs(ru, r)
    rows.append(["9", "↳ for scale: plain `runc create` with a user namespace of its own − without",
                 len(d), ms(med(d)), spread(d),
                 f"with {ms(med(ru))}, without {ms(med(r))}; ratio {med(ru) / med(r):.3f}", "", ""])
    b.rows[9] = rows

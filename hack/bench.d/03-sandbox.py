# hack/bench.d/03-sandbox.py — section 3 of hack/bench: sandbox creation.
"""3. Sandbox creation: `podshim create` of the first member of a fresh pod
   minus `podshim create` of a second member of that pod (both then
   deleted).  Default sharing (net,ipc,uts), and with pid (pause process)."""

import json
import os

from lib import (CmdError, N, WARMUP, interleave, log, med, met, ms, pair_diffs, run, settle,
                 spread, timed)

SECTION = 3
ORDER = 30


def measure(b):
    log(f"3. sandbox creation: first vs second member create ({N} rounds)")
    ba, bb, bc = (os.path.join(b.tmp, "bundles", x) for x in ("sb-a", "sb-b", "sb-c"))
    for d in (ba, bb, bc):
        os.makedirs(d)
    kinds = [("net,ipc,uts", None), ("net,ipc,uts,pid", "net,ipc,uts,pid")]
    cur = {}

    def one(kind, share):
        def fn(i):
            tag = "pid" if share else "def"
            # podshim->runc: 1st member (makes the sandbox), 2nd member (joins it)
            pod = f"sb{i}-{tag}"
            b.write_config(ba, pod=pod, share=share)
            b.write_config(bb, pod=pod, share=share)
            ida, idb = b.fresh_id("sa"), b.fresh_id("sb")
            ta = timed(b.PR() + ["create", "--bundle", ba, ida])
            tb = timed(b.PR() + ["create", "--bundle", bb, idb])
            pods = [p for p in b.pods() if p["name"] == pod]
            if len(pods) != 1 or sorted(pods[0]["members"]) != sorted([ida, idb]):
                raise CmdError(f"section 3: pod {pod} looks wrong: {pods}")
            if share and not pods[0]["pause_pid"]:
                raise CmdError(f"section 3: pod {pod} has no pause")
            run(b.PR() + ["delete", "--force", ida])
            run(b.PR() + ["delete", "--force", idb])
            settle()
            # podshim alone (delegate /bin/true) making the sandbox of a new pod,
            # then runc alone, twice, on the config podshim wrote (joins it)
            pod = f"sbt{i}-{tag}"
            b.write_config(bc, pod=pod, share=share)
            own = b.own_time(bc, "st", b.state, b.runc_root)
            with open(os.path.join(bc, "config.json")) as f:
                joined = json.load(f)
            joined.pop("annotations", None)
            b.via_holder(joined, pod)
            with open(os.path.join(bc, "config.json"), "w") as f:
                json.dump(joined, f)
            idc, idd = b.fresh_id("sc"), b.fresh_id("sd")
            tc = timed(b.R() + ["create", "--bundle", bc, idc])
            td = timed(b.R() + ["create", "--bundle", bc, idd])
            run(b.R() + ["delete", "--force", idc])
            run(b.R() + ["delete", "--force", idd])
            run([b.podshim, "--podshim-state", b.state, "pod", "gc"])  # its member never lived
            settle()
            cur.setdefault(kind, []).append((ta, tb, own, tc - td))
            return 0.0
        return fn

    interleave([(k, one(k, s)) for k, s in kinds], N, WARMUP)
    b.expect_clean("section 3")
    rows = []
    for kind, _ in kinds:
        r = cur[kind][WARMUP:]
        a, c, own, first = ([x[j] for x in r] for j in range(4))
        d = pair_diffs(a, c)
        rows.append(["3", f"sandbox creation ({kind}): `podshim create` 1st member − 2nd member",
                     len(d), ms(med(d)), spread(d),
                     f"1st {ms(med(a))}, 2nd {ms(med(c))}; Δ of medians "
                     f"{med(a) - med(c):+.2f} ms", "≤ 5 ms", met(med(d) <= 5.0)])
        rows.append(["3", "↳ podshim's own part: `podshim --podshim-runtime /bin/true create` of "
                     "a new pod's 1st member − `/bin/true`", len(own), ms(med(own)), spread(own),
                     "", "", ""])
        rows.append(["3", "↳ runc's part: plain `runc create` on the config podshim wrote, 1st "
                     "into the new sandbox − 2nd", len(first), ms(med(first)), spread(first),
                     "", "", ""])
    b.rows[3] = rows

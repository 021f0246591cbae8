# hack/bench.d/02-member.py — section 2 of hack/bench: a pod member's run.
"""2. `run` of a pod member (`true`) of an existing pod (one long-running
   member created once) through podshim, against a plain `runc run`.
   Also: runc running the very config podshim would hand it (pod
   namespaces already joined), to split podshim's own cost from the cost
   of joining namespaces instead of creating them."""

import json
import os

from lib import (CmdError, N, WARMUP, interleave, log, med, met, ms, pair_diffs, pair_ratios, run,
                 spread, timed)

SECTION = 2
ORDER = 20


def measure(b):
    log(f"2. pod member run vs plain runc run ({N} rounds)")
    sleeper = b.bundle("pod-sleeper", args=("/bin/sleep", "1000"), pod="bench")
    run(b.PR() + ["create", "--bundle", sleeper, b.cid("sleeper")])
    try:
        # The config podshim hands runc for a member (namespaces joined).
        with open(os.path.join(sleeper, "config.json")) as f:
            joined_spec = json.load(f)
        joined_spec.pop("annotations", None)
        b.via_holder(joined_spec, "bench")
        joined = b.bundle("pod-joined", spec=joined_spec)
        with open(os.path.join(joined, "config.json"), "rb") as f:
            if b"podshim." in f.read():
                raise CmdError("the joined config still names a pod")
        plain = b.bundle("plain")
        member = b.bundle("pod-member", pod="bench")
        with open(os.path.join(member, "config.json"), "rb") as f:
            member_orig = f.read()
        variants = [
            ("runc", lambda i: timed(b.R() + ["run", "--bundle", plain, b.fresh_id("r")])),
            ("member", lambda i: timed(b.PR() + ["run", "--bundle", member, b.fresh_id("m")])),
            ("joined", lambda i: timed(b.R() + ["run", "--bundle", joined, b.fresh_id("j")])),
        ]
        res = interleave(variants, N, WARMUP)
        pods = b.pods()
        if [p["members"] for p in pods] != [[b.cid("sleeper")]]:
            raise CmdError(f"section 2: pod state is off: {pods}")
        with open(os.path.join(member, "config.json"), "rb") as f:
            if f.read() != member_orig:
                b.notes.append("2: podshim did not restore the member's config.json after "
                               "a foreground `run`.")
    finally:
        run(b.PR() + ["delete", "--force", b.cid("sleeper")], check=False)
    b.expect_clean("section 2")
    base, xs, js = res["runc"], res["member"], res["joined"]
    r_med, r_pair = med(xs) / med(base), med(pair_ratios(xs, base))
    own = med(pair_diffs(xs, js))
    b.rows[2] = [
        ["2", "`run` of a pod member (podshim→runc, pod exists) vs plain `runc run`", len(xs),
         ms(med(xs)), spread(xs), f"{r_med:.3f} / {r_pair:.3f}", "≤ 1.10",
         met(r_med <= 1.10 and r_pair <= 1.10)],
        ["2", "↳ runc alone on the member's rewritten config (namespaces joined, no podshim)",
         len(js), ms(med(js)), spread(js),
         f"{med(js) / med(base):.3f} / {med(pair_ratios(js, base)):.3f}; "
         f"podshim's own share: {own:+.2f} ms", "", ""],
    ]

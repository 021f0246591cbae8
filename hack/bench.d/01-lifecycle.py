# hack/bench.d/01-lifecycle.py — section 1 of hack/bench: run lifecycle.
"""1. `run` of a trivial busybox container (`true`, a fresh ID each time):
   runc, crun, podshim->runc, podshim->crun.  Ratio of medians against
   runc, and the median of the per-iteration ratios."""

from lib import N, WARMUP, interleave, log, med, met, ms, pair_ratios, spread, timed

SECTION = 1
ORDER = 10


def measure(b):
    log(f"1. run lifecycle: runc, crun, podshim->runc, podshim->crun ({N} rounds)")
    bun = b.bundle("plain")
    variants = [("runc", lambda i: timed(b.R() + ["run", "--bundle", bun, b.fresh_id("r")]))]
    if b.crun:
        variants.append(("crun", lambda i: timed(b.C() + ["run", "--bundle", bun,
                                                          b.fresh_id("c")])))
    variants.append(("podshim→runc",
                     lambda i: timed(b.PR() + ["run", "--bundle", bun, b.fresh_id("pr")])))
    if b.crun:
        variants.append(("podshim→crun",
                         lambda i: timed(b.PC() + ["run", "--bundle", bun, b.fresh_id("pc")])))
    res = interleave(variants, N, WARMUP)
    b.expect_clean("section 1")
    base = res["runc"]
    rows = []
    for name, _ in variants:
        xs = res[name]
        r_med = med(xs) / med(base)
        r_pair = med(pair_ratios(xs, base))
        goal, ok = "", ""
        extra = ""
        if name == "podshim→runc":
            goal, ok = "≤ 1.03", met(r_med <= 1.03 and r_pair <= 1.03)
        if name == "podshim→crun":
            extra = (f"; vs crun {med(xs) / med(res['crun']):.3f} "
                     f"(pairs {med(pair_ratios(xs, res['crun'])):.3f})")
        rows.append(["1", f"`run` lifecycle, {name}", len(xs), ms(med(xs)), spread(xs),
                     f"{r_med:.3f} / {r_pair:.3f}{extra}", goal, ok])
    b.rows[1] = rows

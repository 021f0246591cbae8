# hack/bench.d/05-scale.py — section 5 of hack/bench: scale.
"""5. Scale: BENCH_PODS pods x 2 members (`podshim create` of busybox
   `sleep`, each member started: live pods), per-create cost of the last
   10 pods against the first 10, and the same for as many plain
   containers without pods (the control), and a plain `runc create`
   after each of the first and the last 10 pods (the same moments); with
   none and with all pods there: plain `runc create`, and `podshim
   create` of a new pod's first member against it; RSS and PSS of the
   pods' holder processes.  Then
   all of it again with the members only created, not started (5n): each
   a `runc init` with several threads waiting for `start`, a heavier node."""

import os
import time

from host import count_mounts, count_threads, meminfo, smaps_rollup
from lib import (CmdError, PODS, QUICK, SCALE_MAX_S, log, med, met, met_ci, ms, quiesce, ratio_ci,
                 run, settle, timed)

SECTION = 5
# Last: the kernel frees its 1,500 network namespaces in a work queue long
# after they are deleted, which slowed the section run after it by a third.
ORDER = 90


def measure(b):
    """Section 5 twice: with live pods (the members started, `sleep` running:
    the goal rows), then with members only created (each a `runc init`
    waiting for `start`, several threads each), a heavier node."""
    s5_scale_one(b, live=True, key=5)
    quiesce("between the two halves of section 5")
    s5_scale_one(b, live=False, key=5.5)


def s5_scale_one(b, live, key):
    tag = "5" if live else "5n"
    state = "started (sleep running)" if live else "created, not started (runc init waiting)"
    log(f"{tag}. scale: {PODS} pods x 2 members (podshim create, runc; {state})")
    bun = os.path.join(b.tmp, "bundles", f"scale{tag}")
    os.makedirs(bun)
    probe_bun = os.path.join(b.tmp, "bundles", f"scale-probe{tag}")
    os.makedirs(probe_bun)
    plain = b.bundle(f"scale-plain{tag}", args=("/bin/sleep", "1000"))
    kp = 3 if QUICK else 24

    def probe(ptag):
        """kp rounds of: plain `runc create` (no pod) + delete, `podshim create`
        of the 1st member of a new pod (podshim→runc) + delete, and podshim's
        own time (delegate /bin/true) for the 1st member of a new pod, in the
        same state dir as the scale pods.  Returns (runc ms, new-pod member
        ms, podshim own ms)."""
        rc, nm, own = [], [], []
        for j in range(kp):
            cid = b.fresh_id("sp")
            rc.append(timed(b.R() + ["create", "--bundle", plain, cid]))
            run(b.R() + ["delete", "--force", cid])
            b.write_config(probe_bun, args=("/bin/sleep", "1000"), pod=f"probe-m{tag}{ptag}{j}")
            cid = b.fresh_id("sm")
            nm.append(timed(b.PR() + ["create", "--bundle", probe_bun, cid]))
            run(b.PR() + ["delete", "--force", cid])
            settle()
            b.write_config(probe_bun, pod=f"probe-{tag}{ptag}{j}")
            tt = timed(["/bin/true", "--root", b.runc_root, "create", "--bundle", probe_bun, "x"])
            tp = timed([b.podshim, "--podshim-runtime", "/bin/true", "--podshim-state", b.state,
                        "--root", b.runc_root, "create", "--bundle", probe_bun,
                        b.fresh_id("sq")])
            own.append(tp - tt)
            run([b.podshim, "--podshim-state", b.state, "pod", "gc"])  # never lived: pruned
            settle()
        return rc, nm, own

    rc0, nm0, own0 = probe("a")
    times = []  # (pod, member, ms)
    # At the same moments as the first and the last pods' creates: a plain
    # `runc create` (+ delete), so that how a member's create grows as pods
    # accumulate can be told apart from how any create on the node grows and
    # from the machine's drift over the section.
    k = min(10, PODS // 2) or 1
    moment = []  # (pod, after one of the last pods, ms)
    t0 = time.monotonic()
    avail0 = meminfo("MemAvailable")
    stopped = None
    for p in range(PODS):
        if time.monotonic() - t0 > SCALE_MAX_S:
            stopped = p
            break
        for m in range(2):
            b.write_config(bun, args=("/bin/sleep", "1000"), pod=f"s{tag}-{p}")
            cid = b.cid(f"s{tag}-{p}-{m}")
            times.append((p, m, timed(b.PR() + ["create", "--bundle", bun, cid])))
            if live:
                run(b.PR() + ["start", cid])
        if p < k or p >= PODS - k:
            cid = b.fresh_id("sn")
            moment.append((p, p >= PODS - k, timed(b.R() + ["create", "--bundle", plain, cid])))
            run(b.R() + ["delete", "--force", cid])
        if (p + 1) % 50 == 0:
            log(f"   {p + 1} pods, {time.monotonic() - t0:.0f} s")
    made = stopped if stopped is not None else PODS
    create_s = time.monotonic() - t0
    if stopped is not None:  # the last pods' moments never came: right after them
        for j in range(min(k, made // 2) or 1):
            cid = b.fresh_id("sn")
            moment.append((made - 1, True, timed(b.R() + ["create", "--bundle", plain, cid])))
            run(b.R() + ["delete", "--force", cid])
    avail1 = meminfo("MemAvailable")
    pods = b.pods()
    n_cont = len(b.containers(b.runc_root))
    mounts = count_mounts()
    threads = count_threads()
    # What the pods' holders cost: RSS and PSS (smaps_rollup) summed over all.
    holders = [p.get("holder_pid", 0) for p in pods]
    h_rss = h_pss = h_n = 0
    for pid in holders:
        r = smaps_rollup(pid) if pid else None
        if r:
            h_rss, h_pss, h_n = h_rss + r["Rss"], h_pss + r["Pss"], h_n + 1
    log(f"   {made} pods, {n_cont} containers in {create_s:.0f} s; probing, then deleting")
    rc1, nm1, own1 = probe("b")
    t1 = time.monotonic()
    ids = [b.cid(f"s{tag}-{p}-{m}") for p in range(made) for m in range(2)]
    for cid in ids:
        run(b.PR() + ["delete", "--force", cid])
    delete_s = time.monotonic() - t1
    run([b.podshim, "--podshim-state", b.state, "pod", "gc"])
    b.expect_clean(f"section {tag}")
    # The empty node again: "none" is both empty rounds, before and after, so
    # that a drift of the machine's load over the run cancels out.
    rc2, nm2, own2 = probe("c")
    rc0, nm0, own0 = rc0 + rc2, nm0 + nm2, own0 + own2
    # Control: as many plain containers (no pod, plain runc, started or not
    # as the members were) as the pods had members, each create timed, so
    # that what the containers themselves cost the node (their processes,
    # cgroups, memory) is told apart from what the pods add.
    log(f"   control: {2 * made} plain containers, no pods")
    ctl_ids = [b.cid(f"ctl{tag}-{j}") for j in range(2 * made)]
    ctl_times = []
    for cid in ctl_ids:
        ctl_times.append(timed(b.R() + ["create", "--bundle", plain, cid]))
        if live:
            run(b.R() + ["start", cid])
    ctl_threads = count_threads()
    rc_ctl = []
    for j in range(kp):
        cid = b.fresh_id("sk")
        rc_ctl.append(timed(b.R() + ["create", "--bundle", plain, cid]))
        run(b.R() + ["delete", "--force", cid])
        settle()
    for cid in ctl_ids:
        run(b.R() + ["delete", "--force", cid])
    b.expect_clean(f"section {tag} (control)")
    if len(pods) != made or n_cont != 2 * made:
        raise CmdError(f"section {tag}: {len(pods)} pods and {n_cont} containers, expected "
                       f"{made} and {2 * made}")
    b.notes.append(f"{tag}: the empty-node rounds (before the pods and after) are "
                   f"{ms(med(rc0[:kp]))} and {ms(med(rc0[kp:]))} for plain `runc create`: the "
                   f"load of the machine moved by "
                   f"{abs(med(rc0[kp:]) / med(rc0[:kp]) - 1) * 100:.0f} % over the run.")
    k = min(k, made // 2) or 1
    mom_first = [t for p, last_, t in moment if not last_ and p < k]
    mom_last = [t for p, last_, t in moment if last_]
    first = [t for p, m, t in times if p < k]
    last = [t for p, m, t in times if p >= made - k]
    ctl_first, ctl_last = ctl_times[:2 * k], ctl_times[-2 * k:]
    ctl_ratio = med(ctl_last) / med(ctl_first)

    def sel(which, member):
        return [t for p, m, t in times
                if m == member and (p < k if which == "first" else p >= made - k)]

    ratio = med(last) / med(first)
    note = (f"{made} pods / {2 * made} containers made in {create_s:.0f} s "
            f"(deleted in {delete_s:.0f} s); 1st members (make the sandbox) "
            f"{ms(med(sel('first', 0)))} → {ms(med(sel('last', 0)))}, 2nd members "
            f"{ms(med(sel('first', 1)))} → {ms(med(sel('last', 1)))}; "
            f"{mounts} mounts and {threads} threads on the node at the peak; "
            f"MemAvailable −{(avail0 - avail1) / 1024:.0f} MiB")
    if stopped is not None:
        b.notes.append(f"{tag}: stopped after {stopped} of {PODS} pods: BENCH_SCALE_MAX_S="
                       f"{SCALE_MAX_S} s was reached.")
    ci_rc = ratio_ci(rc1, rc0, paired=False)
    ci_nm0 = ratio_ci(nm0, rc0, paired=True)
    ci_nm1 = ratio_ci(nm1, rc1, paired=True)
    what = "live pods" if live else "pods (members not started)"
    b.rows[key] = [
        [tag, f"{made} {what} × 2 members: per-create time (`podshim create`), last {k} pods vs "
         f"first {k}", f"{len(last)} / {len(first)}", f"{ms(med(last))} vs {ms(med(first))}",
         "", f"{ratio:.3f}; {note}", "≤ 1.10", met(ratio <= 1.10)],
        [tag, f"↳ plain `runc create` at the same moments (one after each of the first {k} "
         f"and the last {k} pods)", f"{len(mom_last)} / {len(mom_first)}",
         f"{ms(med(mom_last))} vs {ms(med(mom_first))}", "",
         f"{med(mom_last) / med(mom_first):.3f}; member / plain at those moments: first "
         f"{med(first) / med(mom_first):.3f}, last {med(last) / med(mom_last):.3f}; what the pods "
         f"add as they accumulate (last / first of that): "
         f"{(med(last) / med(mom_last)) / (med(first) / med(mom_first)):.3f}", "", ""],
        [tag, f"↳ the same for {2 * made} plain containers and no pod (plain `runc create`"
         f"{', each started' if live else ''}): last {2 * k} creates vs first {2 * k}",
         f"{len(ctl_last)} / {len(ctl_first)}", f"{ms(med(ctl_last))} vs {ms(med(ctl_first))}",
         "", f"{ctl_ratio:.3f}; pods' ratio / this: {ratio / ctl_ratio:.3f}; "
         f"{ctl_threads} threads on the node at the peak", "", ""],
        [tag, f"↳ plain `runc create` (no pod), with all {made} {what} there vs none",
         f"{kp} / {2 * kp}", f"{ms(med(rc1))} vs {ms(med(rc0))}", "",
         f"{med(rc1) / med(rc0):.3f}; 95 % CI {ci_rc[0]:.3f}–{ci_rc[1]:.3f}", "≤ 1.05",
         met_ci(med(rc1) / med(rc0), ci_rc, 1.05)],
        [tag, f"↳ plain `runc create`, with all {made} {what} there vs {2 * made} plain "
         "containers and no pod (what the pods add beyond their members' containers)",
         f"{kp} / {kp}", f"{ms(med(rc1))} vs {ms(med(rc_ctl))}", "",
         f"{med(rc1) / med(rc_ctl):.3f}; the plain containers alone vs none: "
         f"{med(rc_ctl) / med(rc0):.3f}", "≤ 1.05", met(med(rc1) / med(rc_ctl) <= 1.05)],
        [tag, "↳ `podshim create` of a new pod's 1st member vs plain `runc create`, none / "
         f"all {made} {what} there", f"{kp} / {2 * kp}",
         f"{ms(med(nm0))} vs {ms(med(rc0))}; {ms(med(nm1))} vs {ms(med(rc1))}", "",
         f"{med(nm0) / med(rc0):.3f} (95 % CI {ci_nm0[0]:.3f}–{ci_nm0[1]:.3f}); "
         f"{med(nm1) / med(rc1):.3f} (95 % CI {ci_nm1[0]:.3f}–{ci_nm1[1]:.3f})", "≤ 1.05",
         met_ci(med(nm0) / med(rc0), ci_nm0, 1.05) + " / "
         + met_ci(med(nm1) / med(rc1), ci_nm1, 1.05)],
        [tag, f"↳ memory per pod (net,ipc,uts): its holder process, mean over {h_n} holders",
         h_n, f"Pss {h_pss / max(h_n, 1):.0f} KiB", "",
         f"Rss {h_rss / max(h_n, 1):.0f} KiB", "Pss ≤ 100 KiB",
         met(h_n == made and h_pss / max(h_n, 1) <= 100)],
        [tag, "↳ podshim's own part (delegate /bin/true, 1st member of a new pod − /bin/true), "
         f"with all {made} {what} there vs none", f"{kp} / {2 * kp}",
         f"{ms(med(own1))} vs {ms(med(own0))}", "", f"{med(own1) / med(own0):.3f}", "", ""],
    ]

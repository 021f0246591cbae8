# hack/bench.d/05-scale.py — section 5 of hack/bench: scale, against controls.
"""5. Scale, against controls at the same moments: BENCH_PODS pods x 2
   members (`podshim create` of busybox `sleep`, each member started: live
   pods).  As they accumulate: each member create of the first and the
   last 20 pods alternates with a plain `runc create`; goal: the member's
   create grows (last / first) ≤ 1.10 × the plain create at the same
   moments.  With all pods there: plain `runc create` against the same
   create beside as many plain containers and no pod (the control, built
   before and after the pods, so that the machine's drift cancels), goal
   ≤ 1.05; `podshim create` of a new pod's first member against a plain
   create at the same moments (also on the empty node), goal ≤ 1.05; RSS
   and PSS of the pods' holder processes.  Then all of it again with the
   members only created, not started (5n): each a `runc init` with several
   threads waiting for `start`, a heavier node.  How plain `runc create`
   slows beside 1,000 containers, with or without pods, is runc's own
   (shown, no goal)."""

import os
import time

from host import count_mounts, count_threads, meminfo, smaps_rollup
from lib import (CmdError, PODS, QUICK, SCALE_MAX_S, goal_ratio, growth, growth_ci, log, med, met,
                 met_ci, ms, quiesce, ratio_ci, run, settle, timed)

SECTION = 5
# Last: the kernel frees its 1,500 network namespaces in a work queue long
# after they are deleted, which slowed the section run after it by a third.
ORDER = 90

WINDOW = 20  # pods at each end whose member creates alternate with plain ones
SLEEP = ("/bin/sleep", "1000")


def measure(b):
    """Section 5 twice: with live pods (the members started, `sleep` running),
    then with members only created (each a `runc init` waiting for `start`,
    several threads each), a heavier node."""
    Scale(b, live=True).measure(5)
    quiesce("between the two halves of section 5")
    Scale(b, live=False).measure(5.5)


class Scale:
    """One half of section 5: the empty node, the control, the pods, the
    control again, the empty node again."""

    def __init__(self, b, live):
        self.b, self.live = b, live
        self.tag = "5" if live else "5n"
        self.what = "live pods" if live else "pods (members not started)"
        self.bun = os.path.join(b.tmp, "bundles", f"scale{self.tag}")
        self.probe_bun = os.path.join(b.tmp, "bundles", f"scale-probe{self.tag}")
        for d in (self.bun, self.probe_bun):
            os.makedirs(d)
        self.plain = b.bundle(f"scale-plain{self.tag}", args=SLEEP)
        self.kp = 3 if QUICK else 24

    def plain_create(self, tag):
        """A plain `runc create` (timed) and its delete; then settle."""
        t = self.b.create_delete(self.b.R(), self.plain, tag)
        settle()
        return t

    def probe(self, ptag, pods=True):
        """kp rounds of: plain `runc create`, and (pods) `podshim create` of
        the 1st member of a new pod (podshim→runc) and podshim's own time
        (delegate /bin/true) for the 1st member of a new pod, in the same
        state dir as the scale pods.  Returns [(runc ms, new-pod member ms,
        podshim own ms)] (only runc ms without pods)."""
        b, rounds = self.b, []
        for j in range(self.kp):
            rc = self.plain_create("sp")
            if not pods:
                rounds.append((rc,))
                continue
            b.write_config(self.probe_bun, args=SLEEP, pod=f"probe-m{self.tag}{ptag}{j}")
            nm = b.create_delete(b.PR(), self.probe_bun, "sm")
            settle()
            b.write_config(self.probe_bun, pod=f"probe-{self.tag}{ptag}{j}")
            own = b.own_time(self.probe_bun, "sq", b.state, b.runc_root)
            run([b.podshim, "--podshim-state", b.state, "pod", "gc"])  # never lived: pruned
            settle()
            rounds.append((rc, nm, own))
        return rounds

    def control(self, count, ctag):
        """count plain containers and no pod (plain runc, started or not as
        the members are), each create timed; kp plain creates beside them.
        Returns (create ms in order, threads at the peak, probe ms)."""
        b = self.b
        log(f"   control: {count} plain containers, no pods")
        ids = [b.cid(f"ctl{self.tag}{ctag}-{j}") for j in range(count)]
        times = []
        for cid in ids:
            times.append(timed(b.R() + ["create", "--bundle", self.plain, cid]))
            if self.live:
                run(b.R() + ["start", cid])
        threads = count_threads()
        rc = [r[0] for r in self.probe(ctag, pods=False)]
        for cid in ids:
            run(b.R() + ["delete", "--force", cid])
        b.expect_clean(f"section {self.tag} (control)")
        return times, threads, rc

    def pod(self, p, window):
        """Pod p's two members (podshim create, then start when live); in a
        window, each alternates with a plain `runc create` at the same
        moment, plain first in even pods.  Returns (member ms, plain ms)."""
        b = self.b
        b.write_config(self.bun, args=SLEEP, pod=f"s{self.tag}-{p}")
        mem, pl = [], []
        for m in range(2):
            if window and p % 2 == 0:
                pl.append(self.plain_create("sn"))
            cid = b.cid(f"s{self.tag}-{p}-{m}")
            mem.append(timed(b.PR() + ["create", "--bundle", self.bun, cid]))
            if self.live:
                run(b.PR() + ["start", cid])
            if window and p % 2 == 1:
                pl.append(self.plain_create("sn"))
        return mem, pl

    def build(self):
        """The pods, as many as SCALE_MAX_S allows.  Returns (pods made,
        seconds, [(member ms, plain ms)] of the first and of the last window
        pods, every member ms as (pod, member, ms))."""
        k = min(WINDOW, PODS // 2) or 1
        first, last, times = [], [], []
        t0 = time.monotonic()
        made = PODS
        for p in range(PODS):
            if time.monotonic() - t0 > SCALE_MAX_S:
                made = p
                break
            window = p < k or p >= PODS - k
            mem, pl = self.pod(p, window)
            times += [(p, m, t) for m, t in enumerate(mem)]
            if window:
                (first if p < k else last).append((mem, pl))
            if (p + 1) % 50 == 0:
                log(f"   {p + 1} pods, {time.monotonic() - t0:.0f} s")
        if made < PODS:  # the last window never came: plain creates right after
            self.b.notes.append(f"{self.tag}: stopped after {made} of {PODS} pods: "
                                f"BENCH_SCALE_MAX_S={SCALE_MAX_S} s was reached.")
            k = min(k, made // 2) or 1
            first = first[:k]
            last = [([t for q, _, t in times if q == p], [self.plain_create("sn")
                                                           for _ in range(2)])
                    for p in range(made - k, made)]
        return made, time.monotonic() - t0, first, last, times

    def peak(self, made):
        """What the node holds with all pods there."""
        b = self.b
        pods = b.pods()
        n_cont = len(b.containers(b.runc_root))
        if len(pods) != made or n_cont != 2 * made:
            raise CmdError(f"section {self.tag}: {len(pods)} pods and {n_cont} containers, "
                           f"expected {made} and {2 * made}")
        # What the pods' holders cost: RSS and PSS (smaps_rollup) summed over all.
        h = [smaps_rollup(p["holder_pid"]) for p in pods if p.get("holder_pid")]
        h = [r for r in h if r]
        return {"mounts": count_mounts(), "threads": count_threads(), "holders": len(h),
                "rss": sum(r["Rss"] for r in h), "pss": sum(r["Pss"] for r in h)}

    def pods_block(self):
        b = self.b
        avail0 = meminfo("MemAvailable")
        made, create_s, first, last, times = self.build()
        avail1 = meminfo("MemAvailable")
        peak = self.peak(made)
        log(f"   {made} pods, {2 * made} containers in {create_s:.0f} s; probing, then deleting")
        probes = self.probe("b")
        t1 = time.monotonic()
        for p in range(made):
            for m in range(2):
                run(b.PR() + ["delete", "--force", b.cid(f"s{self.tag}-{p}-{m}")])
        delete_s = time.monotonic() - t1
        run([b.podshim, "--podshim-state", b.state, "pod", "gc"])
        b.expect_clean(f"section {self.tag}")
        k = len(first)

        def sel(which, member):
            return [t for p, m, t in times
                    if m == member and (p < k if which == "first" else p >= made - len(last))]

        mem = f"{(avail1 - avail0) / 1024:+.0f}".replace("-", "−")
        peak["note"] = (f"{made} pods / {2 * made} containers made in {create_s:.0f} s "
                        f"(deleted in {delete_s:.0f} s); 1st members (make the sandbox) "
                        f"{ms(med(sel('first', 0)))} → {ms(med(sel('last', 0)))}, 2nd members "
                        f"{ms(med(sel('first', 1)))} → {ms(med(sel('last', 1)))}; "
                        f"{peak['mounts']} mounts and {peak['threads']} threads on the node at "
                        f"the peak; MemAvailable {mem} MiB")
        return made, first, last, probes, peak

    def measure(self, key):
        log(f"{self.tag}. scale: {PODS} pods x 2 members (podshim create, runc; "
            f"{'started (sleep running)' if self.live else 'created, not started'}), "
            "the control before and after")
        empty = self.probe("a")
        ctl1 = self.control(2 * PODS, "c1")
        quiesce(f"{self.tag}: after the control")
        made, first, last, probes, peak = self.pods_block()
        quiesce(f"{self.tag}: after the pods")
        ctl2 = self.control(2 * made, "c2")
        if made < PODS:
            self.b.notes.append(f"{self.tag}: the control built before the pods had "
                                f"{2 * PODS} containers, the one after {2 * made}.")
        quiesce(f"{self.tag}: after the control")
        empty += self.probe("c")
        before, after = (med([r[0] for r in x]) for x in (empty[:self.kp], empty[self.kp:]))
        self.b.notes.append(f"{self.tag}: the empty-node rounds (before and after) are "
                            f"{ms(before)} and {ms(after)} for plain `runc create`: the load of "
                            f"the machine moved by {abs(after / before - 1) * 100:.0f} % over "
                            "the half.")
        self.b.rows[key] = self.rows(made, first, last, probes, peak, empty, (ctl1, ctl2))

    def rows(self, made, first, last, probes, peak, empty, ctls):
        tag, what, kp = self.tag, self.what, self.kp
        k, kl = len(first), len(last)
        mf, ml = [t for m, _ in first for t in m], [t for m, _ in last for t in m]
        pf, pl = [t for _, p in first for t in p], [t for _, p in last for t in p]
        g = growth(first, last)
        g_detail, g_goal, g_ok = goal_ratio(g, growth_ci(first, last, paired=False), 1.10)
        ctl_first = [t for c in ctls for t in c[0][:2 * k]]
        ctl_last = [t for c in ctls for t in c[0][-2 * k:]]
        ctl_ratio = med(ctl_last) / med(ctl_first)
        rc0, nm0, own0 = ([r[j] for r in empty] for j in range(3))
        rc1, nm1, own1 = ([r[j] for r in probes] for j in range(3))
        rc_ctl = [t for c in ctls for t in c[2]]
        c_detail, c_goal, c_ok = goal_ratio(med(rc1) / med(rc_ctl),
                                            ratio_ci(rc1, rc_ctl, paired=False), 1.05)
        ci_rc = ratio_ci(rc1, rc0, paired=False)
        ci_nm0 = ratio_ci(nm0, rc0, paired=True)
        ci_nm1 = ratio_ci(nm1, rc1, paired=True)
        h_n = max(peak["holders"], 1)
        return [
            [tag, f"{made} {what} × 2 members: a member's `podshim create` as the pods "
             f"accumulate, over a plain `runc create` at the same moments (last {kl} pods / "
             f"first {k})", f"{len(ml)} / {len(mf)}", f"{ms(med(ml))} vs {ms(med(mf))}", "",
             f"{g_detail}; the member's create alone: {med(ml) / med(mf):.3f}; {peak['note']}",
             g_goal, g_ok],
            [tag, f"↳ plain `runc create` at the same moments (each member create of the first "
             f"{k} and the last {kl} pods next to one, in turn before and after)",
             f"{len(pl)} / {len(pf)}", f"{ms(med(pl))} vs {ms(med(pf))}", "",
             f"{med(pl) / med(pf):.3f}; member / plain at those moments: first "
             f"{med(mf) / med(pf):.3f}, last {med(ml) / med(pl):.3f}", "", ""],
            [tag, f"↳ the control: {2 * made} plain containers and no pod (plain `runc create`"
             f"{', each started' if self.live else ''}), built before and after the pods: "
             f"last {2 * k} creates vs first {2 * k} of each", f"{len(ctl_last)} / "
             f"{len(ctl_first)}", f"{ms(med(ctl_last))} vs {ms(med(ctl_first))}", "",
             f"{ctl_ratio:.3f}; the members' own growth / this: "
             f"{(med(ml) / med(mf)) / ctl_ratio:.3f} (not at the same moments); "
             f"{max(c[1] for c in ctls)} threads on the node at the peak", "", ""],
            [tag, f"↳ plain `runc create` with all {made} {what} there vs beside the control "
             "(what the pods add beyond their members' containers)", f"{kp} / {len(rc_ctl)}",
             f"{ms(med(rc1))} vs {ms(med(rc_ctl))}", "", c_detail, c_goal, c_ok],
            [tag, f"↳ runc's own build-up: plain `runc create` with all {made} {what} there / "
             "beside the control, each vs the empty node (before and after)",
             f"{kp} / {len(rc_ctl)} / {len(rc0)}",
             f"{ms(med(rc1))} / {ms(med(rc_ctl))} vs {ms(med(rc0))}", "",
             f"{med(rc1) / med(rc0):.3f} (95 % CI {ci_rc[0]:.3f}–{ci_rc[1]:.3f}) / "
             f"{med(rc_ctl) / med(rc0):.3f}", "", ""],
            [tag, "↳ `podshim create` of a new pod's 1st member vs plain `runc create` at the "
             f"same moments, empty node / all {made} {what} there", f"{len(rc0)} / {kp}",
             f"{ms(med(nm0))} vs {ms(med(rc0))}; {ms(med(nm1))} vs {ms(med(rc1))}", "",
             f"{med(nm0) / med(rc0):.3f} (95 % CI {ci_nm0[0]:.3f}–{ci_nm0[1]:.3f}); "
             f"{med(nm1) / med(rc1):.3f} (95 % CI {ci_nm1[0]:.3f}–{ci_nm1[1]:.3f})", "≤ 1.05",
             met_ci(med(nm0) / med(rc0), ci_nm0, 1.05) + " / "
             + met_ci(med(nm1) / med(rc1), ci_nm1, 1.05)],
            [tag, f"↳ memory per pod (net,ipc,uts): its holder process, mean over "
             f"{peak['holders']} holders", peak["holders"], f"Pss {peak['pss'] / h_n:.0f} KiB",
             "", f"Rss {peak['rss'] / h_n:.0f} KiB", "Pss ≤ 100 KiB",
             met(peak["holders"] == made and peak["pss"] / h_n <= 100)],
            [tag, "↳ podshim's own part (delegate /bin/true, 1st member of a new pod − "
             f"/bin/true), with all {made} {what} there vs the empty node", f"{kp} / {len(own0)}",
             f"{ms(med(own1))} vs {ms(med(own0))}", "", f"{med(own1) / med(own0):.3f}", "", ""],
        ]

# hack/bench.d/08-mounts.py — section 8 of hack/bench: the host's mount table.
"""8. The host's mount table: a pod member's create against a plain `runc
   create` with BENCH_MOUNTS (default 1,500) extra tmpfs mounts on the node
   and without them.  The mounts are in a mount namespace of the
   benchmark's own, which it enters (setns) for half of each round: every
   round times both, in turn (the order rotating), each a plain `runc
   create`, the 1st member of a new pod (makes the sandbox) and a 2nd
   member (net,ipc,uts: the `ipc` stage copies the caller's mount table,
   as runc does), and podshim's own part of a 2nd member (delegate
   /bin/true).  Goal: member / plain with the mounts over member / plain
   without, ≤ 1.03."""

import ctypes
import os

from host import count_mounts
from lib import (CmdError, N, WARMUP, env_int, goal_ratio, growth, growth_ci, log, med, ms, run,
                 settle, timed, trow)

SECTION = 8
ORDER = 80

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
LIBC = ctypes.CDLL(None, use_errno=True)


def _check(r, what):
    if r != 0:
        e = ctypes.get_errno()
        raise CmdError(f"section 8: {what}: {os.strerror(e)}")


class MountNamespaces:
    """The benchmark's own mount namespace and a copy of it with n extra
    tmpfs mounts (under dir), entered in turn by this (single-threaded)
    process, so that every command it runs sees one table or the other.
    The copy is private: none of its mounts reaches the host, and they all
    go with it when close() drops the last reference."""

    def __init__(self, d, n):
        self.base = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        self.cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.loaded = -1
        try:
            _check(LIBC.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
            _check(LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None),
                   "making the copy's mounts private")
            os.makedirs(d)
            for i in range(n):
                p = os.path.join(d, str(i)).encode()
                os.mkdir(p)
                _check(LIBC.mount(b"pbench-m", p, b"tmpfs", 0, b"size=4k"), f"mount {p}")
            self.loaded = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            self.enter(False)  # the copy lives on, held by self.loaded

    def enter(self, loaded):
        _check(LIBC.setns(self.loaded if loaded else self.base, CLONE_NEWNS), "setns")
        os.fchdir(self.cwd)

    def close(self):
        self.enter(False)
        for fd in (self.loaded, self.base, self.cwd):
            if fd >= 0:
                os.close(fd)


def measure(b):
    n_mounts = env_int("BENCH_MOUNTS", 1500)
    log(f"8. host mount table: member vs plain create, {n_mounts} extra mounts or none "
        f"({N} rounds)")
    plain = b.bundle("mnt-plain")
    first = os.path.join(b.tmp, "bundles", "mnt-1st")
    second = os.path.join(b.tmp, "bundles", "mnt-2nd")
    for d in (first, second):
        os.makedirs(d)
    ns = MountNamespaces(os.path.join(b.tmp, "mounts"), n_mounts)
    res = {False: [], True: []}  # loaded -> [(plain, 1st, 2nd, own) per round]
    try:
        ns.enter(True)
        table = count_mounts()
        ns.enter(False)
        base_table = count_mounts()
        for r in range(WARMUP + N):
            for loaded in ((False, True) if r % 2 == 0 else (True, False)):
                ns.enter(loaded)
                t = one_round(b, r, loaded, plain, first, second)
                ns.enter(False)
                if r >= WARMUP:
                    res[loaded].append(t)
    finally:
        ns.close()
    b.expect_clean("section 8")

    def col(loaded, j):
        return [x[j] for x in res[loaded]]

    def pairs(loaded, j):  # (member ms, plain ms) rounds
        return [([x[j]], [x[0]]) for x in res[loaded]]

    rows = []
    for j, what in ((2, f"a 2nd member's `podshim create` (pod net,ipc,uts) vs plain `runc "
                        f"create`, with {n_mounts:,} extra host mounts vs none"),
                    (1, "↳ the same for a new pod's 1st member (makes the sandbox)")):
        before, after = pairs(False, j), pairs(True, j)
        detail, goal, ok = goal_ratio(growth(before, after),
                                      growth_ci(before, after, paired=True), 1.03)
        rows.append(trow("8", what, col(True, j),
                         f"{detail}; member / plain: {med(col(False, j)) / med(col(False, 0)):.3f}"
                         f" → {med(col(True, j)) / med(col(True, 0)):.3f}; member "
                         f"{ms(med(col(False, j)))} → {ms(med(col(True, j)))}", goal, ok))
    rows.append(trow("8", f"↳ plain `runc create`, with {n_mounts:,} extra host mounts vs none",
                     col(True, 0), f"{med(col(True, 0)) / med(col(False, 0)):.3f} "
                     f"({ms(med(col(False, 0)))} without); {table} mounts in the table vs "
                     f"{base_table}"))
    rows.append(trow("8", "↳ podshim's own part of a 2nd member (delegate /bin/true), with "
                     f"{n_mounts:,} extra host mounts vs none", col(True, 3),
                     f"{ms(med(col(False, 3)))} without"))
    b.rows[8] = rows


def one_round(b, r, loaded, plain, first, second):
    """In the mount namespace entered: a plain `runc create`, a new pod's
    1st and 2nd member (podshim→runc), the plain one's place among them
    rotating with r, then podshim's own part of one more member (delegate
    /bin/true); all deleted.  Returns (plain, 1st, 2nd, own) in ms."""
    pod = f"mnt{r}{'m' if loaded else 'z'}"
    b.write_config(first, pod=pod)
    b.write_config(second, pod=pod)
    ids, times = [], {}
    order = ["1st", "2nd"]
    order.insert(r % 3, "plain")
    for what in order:
        if what == "plain":
            times[what] = b.create_delete(b.R(), plain, "mp")
        else:
            cid = b.fresh_id("m" + what[0])
            ids.append(cid)
            times[what] = timed(b.PR() + ["create", "--bundle",
                                          first if what == "1st" else second, cid])
    own = b.own_time(second, "mo", b.state, b.runc_root)
    for cid in ids:
        run(b.PR() + ["delete", "--force", cid])
    run([b.podshim, "--podshim-state", b.state, "pod", "gc"])  # the /bin/true member
    settle()
    return times["plain"], times["1st"], times["2nd"], own

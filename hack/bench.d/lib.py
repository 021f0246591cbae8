# hack/bench.d/lib.py — what every section of hack/bench shares: the knobs
# (BENCH_* environment), running and timing a command, paired runs
# (interleave), medians, IQR, bootstrap intervals, and the table printer.
# Only the Python standard library.

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1024 * 1024


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"error: {msg}")
    sys.exit(1)


def env_int(name, default):
    v = os.environ.get(name, "")
    if not v:
        return default
    try:
        return int(v)
    except ValueError:
        die(f"{name}={v!r} is not an integer")


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
N = env_int("BENCH_N", 3 if QUICK else 30)
WARMUP = env_int("BENCH_WARMUP", 1 if QUICK else 3)
PODS = env_int("BENCH_PODS", 20 if QUICK else 500)
SCALE_MAX_S = env_int("BENCH_SCALE_MAX_S", 900)
ONLY = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
if N < 1 or PODS < 1:
    die("BENCH_N and BENCH_PODS must be at least 1")


SETTLE_MS = env_int("BENCH_SETTLE_MS", 200)
QUIESCE_MAX_S = env_int("BENCH_QUIESCE_MAX_S", 20 if QUICK else 240)
BASELINE = os.environ.get("BENCH_BASELINE", "")  # another podshim for section 4's "old" rows


def settle():
    """After tearing sandboxes down: the kernel frees a network namespace
    later, in a work queue (RCU grace periods and all); let that finish
    instead of billing it to whatever runs next."""
    if SETTLE_MS > 0:
        time.sleep(SETTLE_MS / 1000)


def want(section):
    return not ONLY or str(section) in ONLY


# --- running commands -------------------------------------------------------


class CmdError(Exception):
    pass


_popen_kw = {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}


class _Alarm(Exception):
    pass


def _on_alarm(sig, frame):
    raise _Alarm


def run(cmd, check=True, capture=False, timeout=120):
    """Runs cmd in its own process group (so Ctrl-C reaches only us and a
    runtime is not killed half-way: we stop after it and clean up).  stderr
    goes to a file, not a pipe: a created container inherits it and keeps it
    open.  The wait is a blocking waitpid (Popen.wait(timeout) would poll with
    growing sleeps and quantize the times); SIGALRM guards against a hang.
    Returns (wall ms, returncode, stdout or None)."""
    with tempfile.TemporaryFile() as errf:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(timeout)
        interrupted = None
        out = b""
        try:
            t0 = time.perf_counter_ns()
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                                 stderr=errf, **_popen_kw)
            try:
                if capture:
                    out = p.communicate()[0]
                else:
                    p.wait()
            except KeyboardInterrupt as e:
                interrupted = e
            t1 = time.perf_counter_ns()
            signal.alarm(0)
            if interrupted:
                # give the command a moment to finish, so that its state is sane
                signal.alarm(30)
                try:
                    p.wait()
                except (_Alarm, KeyboardInterrupt):
                    p.kill()
                    p.wait()
                raise interrupted
        except _Alarm:
            p.kill()
            p.wait()
            raise CmdError(f"timed out after {timeout} s: {' '.join(cmd)}")
        finally:
            signal.alarm(0)
        if check and p.returncode != 0:
            errf.seek(0)
            err = errf.read(4000).decode(errors="replace").strip()
            raise CmdError(f"exit {p.returncode}: {' '.join(cmd)}\n{err}")
    return (t1 - t0) / 1e6, p.returncode, (out.decode(errors="replace") if capture else None)


def timed(cmd):
    return run(cmd)[0]


def output(cmd):
    return run(cmd, capture=True)[2]


def interleave(variants, n, warmup, before=None, after=None):
    """variants: list of (name, fn(i) -> ms).  Runs warmup + n rounds; in
    each round every variant once, the order rotated by one each round.
    before(i)/after(i) run untimed around each round.  Returns {name: [ms]}
    (warmup rounds dropped), each list in round order (so index i pairs)."""
    res = {name: [] for name, _ in variants}
    k = len(variants)
    for r in range(warmup + n):
        if before:
            before(r)
        order = variants[r % k:] + variants[:r % k]
        for name, fn in order:
            t = fn(r)
            if r >= warmup:
                res[name].append(t)
        if after:
            after(r)
    return res


# --- statistics ---------------------------------------------------------------


def med(xs):
    return statistics.median(xs)


def quart(xs):
    if len(xs) < 4:
        return min(xs), max(xs)
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def pair_ratios(xs, base):
    return [a / b for a, b in zip(xs, base)]


def pair_diffs(xs, base):
    return [a - b for a, b in zip(xs, base)]


def ms(x):
    return f"{x:.2f} ms" if abs(x) < 100 else f"{x:.1f} ms"


def spread(xs):
    lo, hi = quart(xs)
    return f"{lo:.2f}–{hi:.2f}"


def trow(sec, what, xs, detail="", goal="", ok=""):
    """A table row of the times xs: n, median and IQR, then the rest."""
    return [sec, what, len(xs), ms(med(xs)), spread(xs), detail, goal, ok]


def met(ok):
    return "yes" if ok else "**NO**"


def boot_ci(groups, stat, reps=2000):
    """95 % bootstrap interval of stat(*groups): each group, a list of rounds
    (a round: a time, or what was measured together), resampled with
    replacement on its own.  A goal inside it is closer than this machine's
    noise resolves."""
    rnd = random.Random(1)
    rs = sorted(stat(*[[g[rnd.randrange(len(g))] for _ in g] for g in groups])
                for _ in range(reps))
    return rs[int(0.025 * reps)], rs[int(0.975 * reps) - 1]


def ratio_ci(xs, base, paired):
    """The interval of med(xs) / med(base); paired: a round's two times
    resampled together."""
    if paired:
        return boot_ci([list(zip(xs, base))],
                       lambda r: med([a for a, _ in r]) / med([c for _, c in r]))
    return boot_ci([xs, base], lambda a, c: med(a) / med(c))


def growth(before, after):
    """How much more X grew than its control, measured beside it: rounds
    are (X times, control times); (med X / med control) after over the same
    before."""
    def rel(rounds):
        return med([t for r in rounds for t in r[0]]) / med([t for r in rounds for t in r[1]])
    return rel(after) / rel(before)


def growth_ci(before, after, paired):
    """The interval of growth(before, after); paired: before[i] and after[i]
    were measured together (resampled together)."""
    if paired:
        return boot_ci([list(zip(before, after))],
                       lambda r: growth([a for a, _ in r], [c for _, c in r]))
    return boot_ci([before, after], growth)


def goal_ratio(ratio, ci, goal):
    """The detail, goal and met cells of a ratio with its interval."""
    return (f"{ratio:.3f}; 95 % CI {ci[0]:.3f}–{ci[1]:.3f}", f"≤ {goal:.2f}",
            met_ci(ratio, ci, goal))


def met_ci(ratio, ci, goal):
    """met(ratio <= goal), and whether the goal lies inside the interval."""
    s = met(ratio <= goal)
    if ci[0] <= goal <= ci[1]:
        s += " (goal inside the 95 % CI)"
    return s



def quiesce(what, idle=0.9, need_s=3, max_s=None):
    """Waits until the CPUs have been at least `idle` idle for need_s seconds
    in a row (at most max_s): the kernel frees deleted network namespaces in
    a work queue, and that work would land on what runs next.  (After the
    first half of section 5 this has taken 3 s: the creates right after
    deleting 1,000 containers were no slower than before, in a separate
    check.)  Returns the seconds waited."""
    def cpu():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # idle + iowait
    max_s = QUIESCE_MAX_S if max_s is None else max_s
    t0 = time.monotonic()
    ok = 0
    tot0, idle0 = cpu()
    while time.monotonic() - t0 < max_s and ok < need_s:
        time.sleep(1)
        tot1, idle1 = cpu()
        frac = (idle1 - idle0) / max(tot1 - tot0, 1)
        tot0, idle0 = tot1, idle1
        ok = ok + 1 if frac >= idle else 0
    waited = time.monotonic() - t0
    log(f"   {what}: waited {waited:.0f} s for an idle machine"
        + ("" if ok >= need_s else " (gave up)"))
    return waited


# --- the table ---------------------------------------------------------------------------


def report(env_text, rows, notes, elapsed):
    """The report: env_text (the machine), then one table of rows ({section:
    [row]}, in section order), then the notes."""
    out = []
    out.append("## podshim benchmark\n")
    out.append(env_text)
    out.append("")
    out.append("Wall-clock time of one CLI call as seen by its caller.  Paired: the variants "
               "of a row group run alternately in one process (order rotated every round); "
               "medians; IQR is p25–p75 of the times (or of the per-round differences).  "
               "Ratios are *median(X) / median(runc)* / *median of per-round X/runc*.")
    out.append("")
    hdr = ["#", "Measurement", "n", "Median", "IQR (ms)", "Ratio vs runc / detail", "Goal",
           "Met"]
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|" + "|".join(["---", "---", "--:", "--:", "--:", "---", "---", "---"]) + "|")
    for sec in sorted(rows):
        for r in rows[sec]:
            out.append("| " + " | ".join(str(c) for c in r) + " |")
    out.append("")
    for n in notes:
        out.append(f"- Note {n}")
    out.append(f"\nTotal benchmark time: {elapsed / 60:.1f} min.")
    return "\n".join(out)

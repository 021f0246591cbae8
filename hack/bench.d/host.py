# hack/bench.d/host.py — the machine hack/bench measures on: the podshim
# binary (built when stale), the private mount namespace, crun and the
# cgroup2 mask, what /proc says (memory, threads, mounts), the report's
# description of the environment, and the last-resort sweep at exit.

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

import lib
from lib import CmdError, die, log, output

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
ENTRY = os.path.join(REPO, "hack", "bench")


# --- setup ---------------------------------------------------------------------


def first_line(cmd):
    try:
        return output(cmd).strip().splitlines()[0]
    except (CmdError, OSError, IndexError):
        return "?"


def own_version(podshim):
    """podshim's own --version line: the last one, after the delegate's
    (whose first line comes first, byte for byte, for the tools that parse
    it)."""
    try:
        lines = output([podshim, "--version"]).strip().splitlines()
    except (CmdError, OSError):
        return "?"
    own = [line for line in lines if line.startswith("podshim version")]
    return own[-1] if own else "?"


def newest_source():
    t = 0.0
    for d in ("cmd", "lib", "runtime"):
        for dp, _, fs in os.walk(os.path.join(REPO, d)):
            for f in fs:
                if f.endswith((".c", ".h", "meson.build")):
                    t = max(t, os.path.getmtime(os.path.join(dp, f)))
    return t


BUILD_NOTE = []
ID_PREFIX = f"pbench{os.getpid()}-"
LOAD_START = ["?"]
MASKED = [False]


def find_podshim():
    """$PODSHIM, else build/cmd/podshim, (re)built with ninja when it is
    missing or older than a source file.  A failed rebuild falls back to the
    existing binary (noted in the report)."""
    p = os.environ.get("PODSHIM")
    if p:
        if not os.access(p, os.X_OK):
            die(f"PODSHIM={p} is not executable")
        return os.path.realpath(p)
    build = os.path.join(REPO, "build")
    p = os.path.join(build, "cmd", "podshim")
    pause = os.path.join(build, "cmd", "podshim-pause")
    fresh = all(os.access(x, os.X_OK) and os.path.getmtime(x) >= newest_source()
                for x in (p, pause))
    if fresh:
        return p
    if os.path.exists(os.path.join(build, "build.ninja")):
        cmds = [["ninja", "-C", build, "cmd/podshim", "cmd/podshim-pause"]]
    else:
        cmds = [["meson", "setup", build, REPO],
                ["ninja", "-C", build, "cmd/podshim", "cmd/podshim-pause"]]
    for c in cmds:
        log(" ".join(c))
        r = subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            sys.stderr.write(r.stdout.decode(errors="replace")[-3000:])
            if os.access(p, os.X_OK) and os.access(pause, os.X_OK):
                log("warning: the build failed; using the existing (maybe stale) binaries")
                BUILD_NOTE.append("the build failed (`" + " ".join(c) + "`), so the "
                                  "existing build/cmd/podshim was measured; it may be "
                                  "older than the sources.")
                return p
            die("build failed and there is no podshim binary")
    if not os.access(p, os.X_OK):
        die(f"no podshim binary at {p}")
    return p


CGROUP_ERR = "hybrid mode not supported"


def crun_probe(crun, tmp, bundle):
    """Runs `true` with crun once; returns None if it works, else its error."""
    p = subprocess.run([crun, "--root", os.path.join(tmp, "probe"), "run", "--bundle", bundle,
                        ID_PREFIX + "probe"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if p.returncode == 0:
        return None
    return p.stderr.decode(errors="replace").strip() or f"exit {p.returncode}"


def reexec_in_private_mount_ns():
    """Everything runs in a private mount namespace: the tmpfs for our work
    dir, the masked cgroup2 mount (if any) and podshim's pinned namespaces are
    seen by nothing else, and vanish with us."""
    if os.environ.get("BENCH_NS", "1") == "0" or os.environ.get("BENCH_IN_NS") == "1":
        return
    unshare = shutil.which("unshare") or die("no unshare(1) (or set BENCH_NS=0)")
    env = dict(os.environ, BENCH_IN_NS="1")
    os.execve(unshare, ["unshare", "--mount", "--propagation", "private", "--",
                        sys.executable, ENTRY] + sys.argv[1:], env)


def in_private_ns():
    return os.environ.get("BENCH_IN_NS") == "1"


def mask_cgroup2(crun, tmp, bundle):
    """crun 1.8 refuses cgroup "hybrid" mode when the cgroup2 mount has any
    controller.  In our private mount namespace, unmount /sys/fs/cgroup/unified
    (so every runtime sees plain cgroup v1).  Returns (masked, crun_error)."""
    mode = os.environ.get("BENCH_CGROUP_MASK", "auto")
    masked = False
    if mode == "1" or (mode == "auto" and crun):
        err = crun_probe(crun, tmp, bundle) if crun and mode == "auto" else CGROUP_ERR
        if err and CGROUP_ERR in err:
            if not in_private_ns():
                return False, err
            if crun and mode == "auto":
                log(f"crun: {err.splitlines()[-1]}")
            log("unmounting /sys/fs/cgroup/unified in our private mount namespace "
                "(cgroup v1 only, for every runtime alike)")
            if subprocess.run(["umount", "/sys/fs/cgroup/unified"]).returncode != 0:
                die("cannot unmount /sys/fs/cgroup/unified")
            # crun then takes every directory there for a v1 hierarchy and
            # makes its cgroup dir (and a cgroup.procs file) in "unified" too:
            # give it a private tmpfs, not the host's /sys/fs/cgroup tmpfs.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "pbench-cgroup",
                            "/sys/fs/cgroup/unified"], check=True)
            masked = True
    err = crun_probe(crun, tmp, bundle) if crun else None
    return masked, err



def proc_status(pid):
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.strip()
    return d


def smaps_rollup(pid):
    """Rss and Pss (KiB) of a process, or None."""
    d = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss"):
                    d[k] = int(v.split()[0])
    except OSError:
        return None
    return d if len(d) == 2 else None


def smaps_pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def count_threads():
    """Threads on the node (what runc's pivot_root walks)."""
    n = 0
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                n += len(os.listdir(f"/proc/{e}/task"))
            except OSError:
                pass
    return n


def count_mounts():
    with open("/proc/self/mountinfo") as f:
        return sum(1 for _ in f)


def environment(b, masked, fs_desc):
    uname = platform.uname()
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    git = "?"
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--", "cmd",
                                "lib", "runtime", "meson.build"]).returncode != 0
        git = head + (" + uncommitted changes" if dirty else "")
    except OSError:
        pass
    buildtype = "?"
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(b.podshim_src)), "meson-info",
                               "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o["name"] == "buildtype":
                    buildtype = o["value"]
    except (OSError, ValueError, KeyError):
        pass
    runc_v = output([b.runc, "--version"]).splitlines()
    crun_v = output([b.crun, "--version"]).splitlines() if b.crun else ["(not found)"]
    cg = ("cgroup v1 (the host is hybrid; the cgroup2 mount `/sys/fs/cgroup/unified` is "
          "replaced by an empty tmpfs in the benchmark's private mount namespace, for crun "
          "1.8: see BENCH_CGROUP_MASK)"
          if masked else cgroup_mode())
    lines = [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Kernel: {uname.system} {uname.release} ({uname.machine}), {distro}",
        f"- CPU: {os.cpu_count()} × {cpu}; memory {meminfo('MemTotal') / lib.MIB:.1f} GiB",
        f"- cgroups: {cg}",
        f"- Work dir (runtime roots, podshim state, bundles, rootfs): {fs_desc}",
        f"- Load average (1/5/15 min) at the start: {LOAD_START[0]}, at the end: {loadavg()} "
        "(other work on the machine adds noise)",
        f"- runc: {runc_v[0]} ({', '.join(l for l in runc_v[1:] if l.startswith('commit'))})",
        f"- crun: {crun_v[0]}",
        f"- podshim: {own_version(b.podshim)}, git {git}, "
        f"buildtype {buildtype}, binary sha256 {sha256(b.podshim)[:12]} (copied from "
        f"{os.path.relpath(b.podshim_src, REPO) if b.podshim_src.startswith(REPO) else b.podshim_src}"
        " at the start)",
        f"- Python {platform.python_version()}; BENCH_N={lib.N}, BENCH_WARMUP={lib.WARMUP}, "
        f"BENCH_PODS={lib.PODS}{', BENCH_QUICK=1' if lib.QUICK else ''}",
    ]
    return "\n".join(lines)


def sha256(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def fs_description(tmp, fs):
    if fs == "tmpfs":
        return "a private tmpfs (as /run is on a real host)"
    try:
        out = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", tmp],
                             capture_output=True, text=True).stdout.split()
        return f"{tmp} on {' '.join(out)}"
    except OSError:
        return tmp


def cgroup_mode():
    try:
        with open("/proc/self/mountinfo") as f:
            mi = f.read()
    except OSError:
        return "?"
    if " /sys/fs/cgroup " in mi and "cgroup2" in mi.split(" /sys/fs/cgroup ", 1)[1].split("\n")[0]:
        return "cgroup v2 (unified)"
    if "/sys/fs/cgroup/unified" in mi:
        return "hybrid (cgroup v1 + cgroup2 at /sys/fs/cgroup/unified)"
    return "cgroup v1"


def final_sweep(tmp, private_ns):
    """Last resort, for what cleanup() could not delete: kill the processes in
    cgroups named after our container IDs (runc/crun name them so) and, in our
    private mount namespace, every other process (only our descendants can be
    there: pause processes, runtimes); remove those cgroups; unmount what is
    left under tmp."""
    me = os.getpid()
    my_mnt = os.readlink("/proc/self/ns/mnt") if private_ns else None
    victims = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                ours = any(("/" + ID_PREFIX) in line for line in f)
            if not ours and my_mnt:
                ours = os.readlink(f"/proc/{pid}/ns/mnt") == my_mnt
        except OSError:
            continue
        if ours:
            victims.append(int(pid))
    if victims:
        log(f"killing {len(victims)} leftover process(es): " + ", ".join(
            f"{pid} {first_line(['cat', f'/proc/{pid}/comm'])}" for pid in victims))
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if victims:
        time.sleep(1)
    cgroups = []
    for dp, dirs, _ in os.walk("/sys/fs/cgroup"):
        if dp == "/sys/fs/cgroup" and MASKED[0]:
            dirs[:] = [d for d in dirs if d != "unified"]  # our private tmpfs: goes with us
        for d in dirs:
            if d.startswith(ID_PREFIX):
                cgroups.append(os.path.join(dp, d))
        dirs[:] = [d for d in dirs if d.startswith(ID_PREFIX) or dp == "/sys/fs/cgroup"]
    if cgroups:
        log(f"removing {len(cgroups)} leftover cgroup(s)")
    for cg in sorted(cgroups, key=len, reverse=True):
        try:
            os.rmdir(cg)
        except OSError as e:
            log(f"warning: cannot remove {cg}: {e}")
    mounts = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp.startswith(tmp + "/"):
                    mounts.append(mp)
    except OSError:
        pass
    if mounts:
        log(f"unmounting {len(mounts)} leftover mount(s) under {tmp}")
    for mp in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)

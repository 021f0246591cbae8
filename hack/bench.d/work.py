# hack/bench.d/work.py — the benchmark's work dir: a busybox rootfs, the base
# config.json, bundles, the runtimes' command lines on private roots, the
# pods podshim lists, and deleting whatever is left.

import json
import os
import shutil
import subprocess

from host import ID_PREFIX
from lib import CmdError, log, output, run, timed


def make_rootfs(path):
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(path, d))
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    for a in ("sh", "true", "sleep"):
        os.symlink("busybox", os.path.join(path, "bin", a))


def base_spec(tmp, runc="runc"):
    d = os.path.join(tmp, "spec")
    os.makedirs(d)
    subprocess.run([runc, "spec"], cwd=d, check=True)
    with open(os.path.join(d, "config.json")) as f:
        spec = json.load(f)
    shutil.rmtree(d)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    return spec


def write_json(path, obj, indent=None):
    data = json.dumps(obj, indent=indent).encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)
    return len(data)


class Bench:
    def __init__(self, podshim, runc, crun, tmp):
        self.podshim, self.runc, self.crun, self.tmp = podshim, runc, crun, tmp
        self.podshim_src = podshim
        self.crun_bin = crun or "crun"  # for cleanup, even when crun rows are off
        self.rootfs = os.path.join(tmp, "rootfs")
        self.runc_root = os.path.join(tmp, "runc")
        self.crun_root = os.path.join(tmp, "crun")
        self.state = os.path.join(tmp, "state")
        self.true_root = os.path.join(tmp, "true-root")  # never created: /bin/true ignores it
        self.true_state = os.path.join(tmp, "true-state")
        os.environ["PODSHIM_DATA"] = os.path.join(tmp, "data")  # pod volumes: never /var/lib/podshim
        for d in (self.runc_root, self.crun_root):
            os.makedirs(d, mode=0o700)
        make_rootfs(self.rootfs)
        self.spec = base_spec(tmp, runc)
        self.spec["root"] = {"path": self.rootfs, "readonly": True}
        self.seq = 0
        # Container IDs are global (runc names the cgroups after them): ours
        # all start with this, which also lets the last-resort sweep find them.
        self.prefix = ID_PREFIX
        self.rows = {}  # section -> [row]
        self.notes = []

    # commands
    def R(self):
        return [self.runc, "--root", self.runc_root]

    def C(self):
        return [self.crun, "--root", self.crun_root]

    def PR(self, state=None):  # podshim -> runc (the default delegate)
        return [self.podshim, "--podshim-state", state or self.state, "--root", self.runc_root]

    def PC(self, crun=None):
        return [self.podshim, "--podshim-runtime", crun or self.crun, "--podshim-state", self.state,
                "--root", self.crun_root]

    def PT(self, state=None, root=None):  # podshim -> /bin/true
        return [self.podshim, "--podshim-runtime", "/bin/true", "--podshim-state",
                state or self.true_state, "--root", root or self.true_root]

    def create_delete(self, cmd, bundle, tag):
        """ms of `cmd create` of bundle under a fresh ID, then deleted
        (untimed)."""
        cid = self.fresh_id(tag)
        t = timed(cmd + ["create", "--bundle", bundle, cid])
        run(cmd + ["delete", "--force", cid])
        return t

    def own_time(self, bundle, tag, state=None, root=None):
        """podshim's own ms for a create of bundle: `podshim --podshim-runtime
        /bin/true create` minus `/bin/true` alone with the same arguments.  A
        pod member's record stays (its container never lived: `pod gc`)."""
        root = root or self.true_root
        tt = timed(["/bin/true", "--root", root, "create", "--bundle", bundle, "x"])
        tp = timed(self.PT(state, root) + ["create", "--bundle", bundle, self.fresh_id(tag)])
        return tp - tt

    def fresh_id(self, tag):
        self.seq += 1
        return f"{self.prefix}{self.seq}{tag}"

    def cid(self, name):
        return self.prefix + name

    def bundle(self, name, args=("/bin/true",), pod=None, share=None, env=None, spec=None):
        d = os.path.join(self.tmp, "bundles", name)
        os.makedirs(d, exist_ok=True)
        self.write_config(d, args, pod, share, env, spec)
        return d

    def write_config(self, d, args=("/bin/true",), pod=None, share=None, env=None, spec=None):
        s = json.loads(json.dumps(spec or self.spec))
        s["process"]["args"] = list(args)
        if env:
            s["process"]["env"] = s["process"].get("env", []) + env
        ann = {}
        if pod:
            ann["podshim.pod"] = pod
        if share:
            ann["podshim.share"] = share
        if ann:
            s["annotations"] = ann
        return write_json(os.path.join(d, "config.json"), s)

    def pods(self, state=None):
        out = output([self.podshim, "--podshim-state", state or self.state, "pod", "list",
                      "--format", "json"])
        return json.loads(out)

    def via_holder(self, spec, pod_name):
        """podshim names its own fds in a member's config (/proc/PID/fd/N,
        valid while it runs): for runc alone, the same namespaces through the
        pod's holder (and pause) instead."""
        pod = [p for p in self.pods() if p["name"] == pod_name]
        holder = pod[0].get("holder_pid", 0) if pod else 0
        pause = pod[0].get("pause_pid", 0) if pod else 0
        if not holder:
            raise CmdError(f"pod {pod_name} has no holder: {pod}")
        nsname = {"network": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns.get("path") and ns.get("type") in nsname:
                pid = pause if ns["type"] == "pid" else holder
                ns["path"] = f"/proc/{pid}/ns/{nsname[ns['type']]}"

    def containers(self, root):
        try:
            return sorted(e for e in os.listdir(root) if os.path.isdir(os.path.join(root, e)))
        except FileNotFoundError:
            return []

    def expect_clean(self, what):
        left = self.containers(self.runc_root) + self.containers(self.crun_root)
        pods = self.pods()
        if left or pods:
            raise CmdError(f"{what}: left behind containers {left} pods "
                           f"{[p['name'] for p in pods]}")

    def cleanup(self):
        """Deletes every container and pod we may have made: through podshim
        (so pods are left properly), else with the runtime itself, else by
        killing its init.  Never raises."""
        for root, rt, via in ((self.runc_root, self.runc, self.PR()),
                              (self.crun_root, self.crun_bin, self.PC(self.crun_bin))):
            for cid in self.containers(root):
                for cmd in (via, [rt, "--root", root]):
                    try:
                        run(cmd + ["delete", "--force", cid], check=False, timeout=60)
                    except Exception as e:
                        log(f"cleanup: {e}")
                    if not os.path.isdir(os.path.join(root, cid)):
                        break
                else:
                    log(f"cleanup: cannot delete container {cid}")
        for st in (self.state, self.true_state):
            if os.path.isdir(st):
                try:
                    run([self.podshim, "--podshim-state", st, "pod", "gc"], check=False,
                        timeout=120)
                except Exception as e:
                    log(f"cleanup: {e}")


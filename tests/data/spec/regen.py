#!/usr/bin/env python3
"""Writes tests/data/spec/<case>.out.json from <case>.in.json + <case>.plan.json.

An independent model of spec_join_pod (runtime/spec.h, README "How it works"
step 3), written from the documented behaviour, not from spec.c. Review the
diff of every regenerated file before committing it: the golden files, not
this script, are what test_spec checks against.

Plan fields:
  share              list of net, ipc, uts, pid
  ns_path            {short name: path}; default /run/podshim/<key>/pods/web/ns/<name>
  keep_network_hook  bool (default false)
  docker_host_network bool (default false): Docker `--network host`; its
                     network path (the engine's own namespace) is replaced
  adopt_network      bool (default false): the member's own network path (an
                     engine-made namespace the pod adopts: podman) stays
  resolv_conf, hosts with net: new source of the /etc/resolv.conf, /etc/hosts
                     mounts (the pod's copies of its network owner's files)
  volumes            [{destination, source}]
  shm                with ipc: the pod's /dev/shm directory; the member's own
                     /dev/shm mount becomes a bind mount of it (rbind, rprivate,
                     rw, nosuid, nodev, noexec), in place
  userns_path        the pod's user namespace: the member's own `user` entry
                     gets it as its path (mappings kept)
  dropped_hooks      expected count of dropped hooks (checked by test_spec)
  error              a substring of the expected error; no .out.json then
                     (a namespace joined by a path other than the pod's, or an
                     own user namespace, is refused)
  netowner           the ownership decision that gives this plan
                     (tests/unit/test_netowner.c): what the engine is seen to
                     be, the pod's owner, and the role; with "refused", the
                     member is refused before any rewrite: no .out.json

Numbers keep their text, duplicate keys and key order are kept, as in
podshim's own JSON layer.
"""
import json
import re
import os
import sys

DEFAULT_NS_DIR = "/run/podshim/8c0f7e1b2a3d4c5e/pods/web/ns/"
ORDER = [("net", "network"), ("ipc", "ipc"), ("uts", "uts"), ("pid", "pid")]
IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
               "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


class Raw(str):
    """A number, kept as its text."""


class Obj(list):
    """An object as its [key, value] pairs, in order, duplicates included."""

    def get(self, key):
        for k, v in reversed(self):
            if k == key:
                return v
        return None

    def set(self, key, value):
        for i, (k, _) in enumerate(self):
            if k == key:
                self[i] = [key, value]
                self[:] = self[:i + 1] + [p for p in self[i + 1:] if p[0] != key]
                return
        self.append([key, value])

    def remove(self, key):
        self[:] = [p for p in self if p[0] != key]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=lambda pairs: Obj([list(p) for p in pairs]),
                         parse_int=Raw, parse_float=Raw)


def dump(v, indent=0):
    pad = "  " * (indent + 1)
    end = "  " * indent
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, Obj):
        if not v:
            return "{}"
        items = [pad + json.dumps(k, ensure_ascii=False) + ": " + dump(x, indent + 1) for k, x in v]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        if all(not isinstance(x, (list, Obj)) for x in v):
            return "[" + ", ".join(dump(x) for x in v) + "]"
        return "[\n" + ",\n".join(pad + dump(x, indent + 1) for x in v) + "\n" + end + "]"
    return json.dumps(v, ensure_ascii=False)


def sysctl_dotted(key):
    # runc accepts '/' as the separator when it comes first; '.' and '/' swap.
    i = min([p for p in (key.find("."), key.find("/")) if p >= 0], default=-1)
    if i < 0 or key[i] == ".":
        return key
    return key.translate(str.maketrans("./", "/."))


def sysctl_shared(key, share):
    k = sysctl_dotted(key)
    if "net" in share and k.startswith("net."):
        return True
    if "ipc" in share and (k in IPC_SYSCTLS or k.startswith("fs.mqueue.")):
        return True
    if "uts" in share and k in ("kernel.hostname", "kernel.domainname"):
        return True
    return False


def is_setkey(hook):
    args = hook.get("args") if isinstance(hook, Obj) else None
    return isinstance(args, list) and not isinstance(args, Obj) and "libnetwork-setkey" in [
        a for a in args[:3] if isinstance(a, str)]


def components(path):
    return [c for c in path.split("/") if c not in ("", ".")]


def join(spec, plan):
    share = plan["share"]
    paths = plan.get("ns_path") or {n: DEFAULT_NS_DIR + n for n, _ in ORDER}
    linux = spec.get("linux")
    if linux is None:
        linux = Obj()
        spec.set("linux", linux)
    nss = linux.get("namespaces")
    if nss is None:
        nss = []
        linux.set("namespaces", nss)
    users = [ns for ns in nss if ns.get("type") == "user"]
    # A member with its own user namespace joins the pod's (userns_path),
    # keeping its mappings; without a pod's, it is refused.
    assert not users or plan.get("userns_path"), "own user namespace"
    for ns in users:
        ns.set("path", plan["userns_path"])
    for short, oci in ORDER:
        if short not in share:
            continue
        entries = [ns for ns in nss if ns.get("type") == oci]
        assert len(entries) <= 1, "namespace listed twice"
        # A path of the member's own (other than the pod's) is refused.
        # A path of the member's own is refused; one podshim wrote before
        # (.../pods/<pod>/ns/<short>) is replaced.
        own = entries[0].get("path") if entries else None
        if short == "net" and plan.get("adopt_network", False):
            assert own, "adopting a namespace the container does not name"
            continue
        host = short == "net" and plan.get("docker_host_network", False)
        assert host or own in (None, "") or re.fullmatch(r"/proc/[0-9]{1,10}/fd/[0-9]{1,10}", own) \
            or re.search(r"/pods/[A-Za-z0-9_:-][A-Za-z0-9_.:-]*/ns/" + short + "$", own), \
            "namespace already joined by path"
        if entries:
            entries[0].set("path", paths[short])
        else:
            nss.append(Obj([["type", oci], ["path", paths[short]]]))
    if "uts" in share:
        spec.remove("hostname")
        spec.remove("domainname")
    sysctl = linux.get("sysctl")
    if sysctl is not None:
        sysctl[:] = [p for p in sysctl if not sysctl_shared(p[0], share)]
    if "net" in share and not plan.get("keep_network_hook", False):
        hooks = spec.get("hooks")
        for kind in ("prestart", "createRuntime"):
            arr = hooks.get(kind) if hooks is not None else None
            if isinstance(arr, list) and not isinstance(arr, Obj):
                arr[:] = [h for h in arr if not is_setkey(h)]
    if "net" in share:
        for key, dest in (("resolv_conf", "/etc/resolv.conf"), ("hosts", "/etc/hosts")):
            for m in spec.get("mounts") or []:
                d = m.get("destination") if isinstance(m, Obj) else None
                if key in plan and isinstance(d, str) and components(d) == components(dest):
                    m.set("source", plan[key])
    if "ipc" in share and "shm" in plan:
        for m in spec.get("mounts") or []:
            d = m.get("destination") if isinstance(m, Obj) else None
            if isinstance(d, str) and components(d) == components("/dev/shm"):
                m.set("type", "bind")
                m.set("source", plan["shm"])
                m.set("options", ["rbind", "rprivate", "rw", "nosuid", "nodev", "noexec"])
    vols = plan.get("volumes", [])
    if vols:
        mounts = spec.get("mounts")
        if mounts is None:
            mounts = []
            spec.set("mounts", mounts)
        for v in vols:
            for m in mounts:
                d = m.get("destination") if isinstance(m, Obj) else None
                assert not (isinstance(d, str) and components(d) == components(v["destination"])), \
                    "volume conflict"
                assert not (isinstance(d, str) and len(components(d)) > len(components(v["destination"]))
                            and components(d)[:len(components(v["destination"]))]
                            == components(v["destination"])), "volume hides a mount"
            mounts.append(Obj([["destination", v["destination"]], ["type", "bind"],
                               ["source", v["source"]], ["options", ["rbind", "rw", "nosuid", "nodev"]]]))
    return spec


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    cases = sys.argv[1:] or sorted(f[:-len(".in.json")] for f in os.listdir(here)
                                   if f.endswith(".in.json"))
    for case in cases:
        with open(os.path.join(here, case + ".plan.json"), encoding="utf-8") as f:
            plan = json.load(f)
        out = os.path.join(here, case + ".out.json")
        if "error" in plan or "refused" in plan.get("netowner", {}):
            if os.path.exists(out):
                os.unlink(out)
            continue
        spec = join(load(os.path.join(here, case + ".in.json")), plan)
        with open(out, "w", encoding="utf-8") as f:
            f.write(dump(spec) + "\n")
        print("wrote", out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Regenerates the seed corpora tests/fuzz/corpus/<target>/ from tests/data
and a few hand-picked inputs. hack/fuzz copies them to a temporary directory,
so a fuzzing run never modifies the repository.

Files named regress-* are inputs a fuzzer once failed on: they are kept as
they are, never regenerated or removed.

  gen-corpus.py           rewrite tests/fuzz/corpus
  gen-corpus.py --check   rewrite nothing; exit 1, naming the files, when
                          tests/fuzz/corpus is not what this script writes
                          (a meson test in the 'unit' suite runs this)"""
import filecmp
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = [os.path.join(HERE, "corpus")]
DATA = os.path.join(HERE, "..", "data", "spec")
BITS = {"net": 1, "ipc": 2, "uts": 4, "pid": 8}
VOLUMES = ["/data", "/var/cache/nginx", "/proc", "/etc/hostname", "/tmp", "/dev/shm", "/a", "/x y"]


def write(target, name, data):
    d = os.path.join(OUT[0], target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def specs():
    for f in sorted(os.listdir(DATA)):
        if f.endswith(".in.json"):
            case = f[: -len(".in.json")]
            with open(os.path.join(DATA, f), "rb") as fh:
                text = fh.read()
            with open(os.path.join(DATA, case + ".plan.json")) as fh:
                plan = json.load(fh)
            yield case, text, plan


def generate():
    for case, text, plan in specs():
        share = sum(BITS[s] for s in plan["share"])
        vols = [v["destination"] for v in plan.get("volumes", [])]
        idx = [VOLUMES.index(v) for v in vols if v in VOLUMES][:2]
        which = sum(i << (3 * n) for n, i in enumerate(idx))
        flags = int(plan.get("keep_network_hook", False)) | int(plan.get("adopt_network", False)) << 1
        head = bytes([share, flags, len(idx), which])
        write("fuzz_spec", case, head + text)
        write("fuzz_podcfg", case, text)

    # Regressions: brackets hidden from the depth limit behind a quote in a comment.
    write("fuzz_spec", "depth-behind-comment", b"\x07\x00\x00\x00" + b'/* " */' + b"[" * 130 + b"]" * 130)
    write("fuzz_spec", "depth-behind-line-comment", b"\x01\x00\x00\x00" + b'{"a":1 // "\n,"b":' + b"[" * 130
          + b"]" * 130 + b"}")

    for i, s in enumerate([
        '{"annotations":{"podshim.pod":"web","podshim.share":"net,ipc,uts,pid","podshim.volumes":"/data,/var/cache/nginx"}}',
        '{"process":{"env":["PATH=/bin","PODSHIM_POD=db","PODSHIM_SHARE=ipc","PODSHIM_VOLUMES= /a , /b "]}}',
        '{"Config":{"Labels":{"podshim.pod":"lab","podshim.share":"pid"}},"annotations":{"podshim.share":"net"}}',
        '{"annotations":{"\\u0070odshim.pod":"esc"},"mounts":[{"destination":"\\/etc\\/hostname","source":"/d/c1/hostname"}]}',
        "net,ipc,uts", " net , pid ", "bogus", "net,,ipc", "/data,/var/cache/nginx,/data",
        "/a/../b", "//a", "/a/", "web-1.slot_2", "x" * 129, ".hidden", "a/b",
        '{"mounts":[{"destination":"/etc/hostname","source":"/var/lib/docker/containers/c1/hostname"}]}',
        '{"x":"/c1/hostname","mounts":[{"destination":"/etc/hostname","source":"/d\\u0041/c1/hostname"}]}',
        '{"annotations":{"podshim.pod":"web","podshim.volumes":"/cache:64m,/data"},'
        '"Config":{"Labels":{"com.docker.compose.project":"shop","com.docker.stack.namespace":"st"}}}',
        "/cache:64m,/data:1G,/x:4096", "/data,/data/sub", "/proc/x", "/a:b:1k",
        "compose:shop:web", "stack:st.1:web-1", "compose::web",
    ]):
        write("fuzz_podcfg", "seed-%02d" % i, s)

    for i, argv in enumerate([
        ["podshim", "--root", "/run/docker/runtime-runc/moby", "--log", "/l/log.json", "--log-format", "json",
         "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "id"],
        ["podshim", "--podshim-runtime", "crun", "--podshim-state=/s", "run", "-d", "id"],
        ["podshim", "-podshim-runtime=/usr/bin/runc", "--rootless", "true", "--", "delete", "-f", "id"],
        ["podshim", "--debug=false", "-root=/r", "create", "id", "-b", "/b", "--console-socket", "/s"],
        ["podshim", "--podshim-state"],
        ["podshim", "--version"],
        ["podshim", "pod", "list", "--format", "json"],
        ["podshim", "", "--root", ""],
        ["podshim", "--podshim-max-pods", "2", "create", "--pidfd-socket", "/s", "--no-subreaper",
         "-f", "c.json", "--preserve-fds", "2", "id"],
        ["podshim", "--new-global", "X", "create", "--bundle", "/b", "--unknown", "id"],
        ["podshim", "--cgroup-manager=systemd", "delete", "-f", "--regex", "i.*"],
        ["podshim", "run", "--keep", "id", "--pid-file"],
    ]):
        write("fuzz_argv", "seed-%02d" % i, "\0".join(argv))

    for i, s in enumerate([
        '{"version":1,"name":"web","root":"/run/runc","pinned":["net","ipc","uts","pid"],'
        '"pause":{"pid":123,"start":456},"network_owner":"c1","members":[{"id":"c1","pid":10,"start":20,'
        '"creating":false,"share":["net","ipc"],"x":{"y":[1.50]}},{"id":"c2","pid":0,"start":0,"creating":true,'
        '"share":["pid","net"]}],"future":{"n":18446744073709551615}}',
        '{"version":1,"name":"a"}',
        '{"version":2,"name":"b","members":[{"id":"x","start":18446744073709551615}],"pinned":["cgroup"]}',
        '{"version":1,"name":"c","name":"d","members":[],"pause":{"pid":0}}',
        '{"version":1,"name":"web","scope":"compose:shop","members":[]}',
        '{"version":1,"name":"u","userns":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],'
        '"gidMappings":[{"containerID":0,"hostID":100000,"size":1},{"containerID":1,"hostID":4294967000,'
        '"size":294}]},"members":[]}',
        '{"version":1,"name":"u","userns":{"uidMappings":[{"containerID":0,"hostID":1,"size":0}]}}',
    ]):
        write("fuzz_podstate", "seed-%02d" % i, s)
    # Format versions (docs/upgrades.md): pod.json of a newer podshim, and the
    # one-value files (index entry, data, root) in 0.1.0's spelling and newer.
    for i, s in enumerate([
        '{"version":1000001,"name":"a","members":[]}',
        '{"version":18446744073709551616,"name":"a"}',
        '{"version":2,"pod":"web"}',
        "compose:shop:web",
        "/var/lib/podshim/0123456789abcdef/web",
        '{"version":1,"pod":"web"}',
    ]):
        write("fuzz_podstate", "seed-versions-%02d" % i, s)

    for i, s in enumerate([
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 404 Not Found\nServer: x\n\n{\"message\":\"No such container: a\"}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        b'{"image":"podshim/busybox","command":["sh","-c","x"],"env":["A=1"],"restart":"always",'
        b'"volumes":["/logs","/c:1m"],"share":"net,pid","wait":"tcp:80","essential":true,"user":"1","workdir":"/w"}',
        b'{"image":"x","privileged":true}',
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.52\r\nContent-Length: 44\r\n\r\n"
        b'{"ApiVersion":"1.52","MinAPIVersion":"1.44"}',
        b"HTTP/1.1 200 OK\r\nAPI-Version:  1.41 \r\nContent-Length: 2\r\n\r\nOK",
        b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n{\"ApiVersion\":\"1.40\"}",
        b'{"image":"x","memory":"64m","cpus":"0.5","pids_limit":100}',
        b'{"image":"x","memory":1,"cpus":"1.0000000001","pids_limit":"1k"}',
        b"HTTP/1.1 200 OK\r\nContent-Length: 41\r\n\r\n[{\"Id\":\"abc\",\"Version\":\"20.10.24+dfsg1\"}]",
        b"HTTP/1.1 200 OK\r\nContent-Length: 36\r\n\r\n[{\"Id\":\"abc\"},{\"Version\":\"28.5.2\"}] ",
    ]):
        write("fuzz_http", "seed-%02d" % i, s)
    # GET /info's answer, and the file where podshim keeps what daemons said.
    info = json.dumps({"ServerVersion": "28.5.2+dfsg4", "DockerRootDir": "/var/lib/docker",
                       "Driver": "overlay2"}, separators=(",", ":"))
    write("fuzz_http", "info-00", "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(info), info))
    entry = {"socket": "/run/docker.sock", "version": "28.5.2+dfsg4", "rootDir": "/var/lib/docker",
             "socketFile": [64769, 1234], "listener": [1, 7], "daemon": [4321, 98765], "bridge": False}
    for i, doc in enumerate([
        {"format": 1, "daemons": [entry]},
        {"format": 1, "daemons": [dict(entry, socket="/srv/d.sock", listener=[99, 5], daemon=[99, 5],
                                       bridge=True, version=""), entry]},
        {"format": 1, "daemons": []},
        {"format": 2, "daemons": [entry]},
        {"format": 1, "daemons": [dict(entry, rootDir="/var/lib/../docker")]},
    ]):
        write("fuzz_http", "facts-%02d" % i, json.dumps(doc, separators=(",", ":")))

    # fuzz_class: the operator's runtime classes file, a container record,
    # a start-condition list, a timeout and a class name (each input is tried
    # as all of them).
    for i, s in enumerate([
        '{"runtimes":{"gvisor":{"path":"/usr/bin/runsc","runtimeArgs":["--platform=ptrace",'
        '"--network=none"]},"crun":{"path":"/usr/bin/crun"}},"default-runtime":"podshim"}',
        '{"runtimes":{"../x":{"path":"/x"},"a":{"path":"rel/x"},"b":{"runtimeArgs":"no"}}}',
        '{"class":"gvisor","path":"/usr/bin/runsc","runtimeArgs":["--network=none"],'
        '"networkOwner":true,"wait":["tcp:80","file:/etc/x"],"waitTimeout":7,'
        '"volumes":["/data"],"sources":["/run/podshim/v/data"],"pid":1234,"essential":true,'
        '"pod":"web","companions":[{"name":"log","image":"x"}]}',
        '{"volumes":["/a"],"sources":["/a","/b"]}',
        "tcp:80,file:/etc/ready", "file:/a/../b,tcp:0", "tcp:65536", "30", "0", "601",
        "gvisor", ".x", "a" * 65,
    ]):
        write("fuzz_class", "seed-%02d" % i, s)
    # The config's "companions" policy, and strings as a companion's image
    # reference (by ID, on loopback) and limits.
    for i, s in enumerate([
        '{"companions":{"fromImageLabels":true,"allowedImages":["nginx:*","registry.example.com/team/*",'
        '"3f2a","localhost:5000/team/*"],"maxPerPod":4,"defaults":{"memory":"64m","cpus":"0.5","pidsLimit":100}}}',
        '{"companions":{"allowedImages":[],"defaults":{"memory":6291456,"cpus":2}}}',
        '{"companions":{"allowedImage":["x"],"maxPerPod":0,"defaults":{"pids_limit":1}}}',
        '{"companions":{"maxPerPod":1,"maxPerPod":2},"runtimes":{"crun":{"path":"/usr/bin/crun"}}}',
        '{"companions":{"fromImageLabels":"yes","allowedImages":"nginx:*"}}',
        "3f2a", "sha256:3f2a", "127.0.0.1:5000/x", "localhost:5000/team/a", "LOCALHOST/x",
        "0x7f.1/x", "[::1]:5000/x", "registry.localhost/x", "nginx:1.25",
        "64m", "6291455", "1.5", "0.009", "4194304", "1t",
    ]):
        write("fuzz_class", "seed-companions-%02d" % i, s)
    # Records' format versions: none (0.1.0's), 1, a newer one (routing fields
    # only), a bad one.
    for i, s in enumerate([
        '{"version":1,"class":"crun","path":"/usr/bin/crun","runtimeArgs":[],"pod":"web","pid":7}',
        '{"version":2,"class":"crun","path":"/usr/bin/crun","runtimeArgs":["-x"],"pod":"web",'
        '"wait":{"new":"shape"},"essential":"yes","companions":7}',
        '{"version":0,"pod":"web"}',
    ]):
        write("fuzz_class", "seed-versions-%02d" % i, s)

    # fuzz_template: the holder-template file and a holder's mountinfo.
    write("fuzz_template", "seed-00", "1234 987654321\n")
    write("fuzz_template", "seed-01",
          "68 45 0:41 / / ro,nosuid,nodev,noexec,relatime - tmpfs podshim-pause "
          "rw,size=4k,nr_inodes=16,mode=555\n"
          "69 68 0:42 / /shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k\n")
    for i, s in enumerate([
        "01234 5\n", "1 2", "-1 2\n", "2147483648 1\n", "1 18446744073709551616\n",
        "68 45 0:41 / / rw,relatime - tmpfs podshim-pause rw\n",
        "68 45 0:41 / / ro,relatime - tmpfs podshim-pause ro\n"
        "69 68 0:42 / /shm rw - tmpfs shm rw\n70 68 0:43 / /x rw - tmpfs x rw\n",
        "68 45 0:41 / /\n",
        '{"version":2,"pid":1234,"start":987654321}',
    ]):
        write("fuzz_template", "seed-%02d" % (i + 2), s)

    # fuzz_install: daemon.json as install and uninstall read it, and the
    # memory install keeps beside it (each input is tried as both).
    for i, s in enumerate([
        "", " \n",
        '{"debug":true,"log-opts":{"max-size":"10m"},"big":123456789012345678901234567890,'
        '"default-runtime":"runc","runtimes":{"crun":{"path":"/usr/bin/crun","runtimeArgs":["--x"]}}}',
        '{"runtimes":{"podshim":{"path":"/opt/podshim","runtimeArgs":["--podshim-state","/s"]}},'
        '"default-runtime":"podshim"}',
        '{"runtimes":{"podshim":{"path":"/a"},"podshim":{"path":"/b"}},"runtimes":{}}',
        '{"runtimes":[]}', '{"runtimes":{"podshim":"x"}}', '{"default-runtime":null}', "[1]",
        '{"a": /* c */ 1}',
        '{"path":"/usr/sbin/podshim","created_runtimes":true,"created_entry":true,'
        '"previous_path":null,"set_default":true,"previous_default":"runc"}',
        '{"path":"/x","created_runtimes":false,"created_entry":false,"previous_path":"/y",'
        '"set_default":false,"previous_default":null}',
    ]):
        write("fuzz_install", "seed-%02d" % i, s)

    # fuzz_dockerpod: a daemon's /info, a shim's environ, the docker CLI's
    # argv (NUL-separated) (each input is tried as all).
    for i, s in enumerate([
        '{"DefaultRuntime":"podshim","Runtimes":{"runc":{"path":"runc"},"podshim":{"path":'
        '"/usr/sbin/podshim","runtimeArgs":["--podshim-state","/srv/ps"]}}}',
        '{"Runtimes":{"x":{"path":"/opt/podshim"},"podshim":{"path":3}}}',
        "PATH=/bin\0PODSHIM_STATE=/run/ps\0PODSHIM_DATA=/d\0",
        "PODSHIM_STATE=", "PODSHIM_STATE=/cut",
        "docker-pod\0-H\0unix:///d.sock\0--context=x\0-D\0pod\0ls\0--format\0json",
        "docker-pod\0-Hunix:///a\0--tlsverify\0pod", "docker-pod\0--host", "docker-pod\0-host\0x",
    ]):
        write("fuzz_dockerpod", "seed-%02d" % i, s)


def files(top):
    out = {}
    for d, _, names in os.walk(top):
        for n in names:
            out[os.path.relpath(os.path.join(d, n), top)] = os.path.join(d, n)
    return out


def main():
    real = os.path.join(HERE, "corpus")
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        sys.exit("usage: gen-corpus.py [--check]")
    if not check:
        for rel, path in files(real).items():
            if not os.path.basename(rel).startswith("regress-"):
                os.unlink(path)
        generate()
        return
    with tempfile.TemporaryDirectory(prefix="gen-corpus-") as tmp:
        OUT[0] = tmp
        generate()
        want = files(tmp)
        have = {r: p for r, p in files(real).items()
                if not os.path.basename(r).startswith("regress-")}
        bad = sorted(set(want) ^ set(have))
        bad += sorted(r for r in set(want) & set(have)
                      if not filecmp.cmp(want[r], have[r], shallow=False))
        if bad:
            print("tests/fuzz/corpus differs from what tests/fuzz/gen-corpus.py writes "
                  "(run it, and commit the result): " + ", ".join(bad))
            sys.exit(1)
        print(f"tests/fuzz/corpus: {len(want)} seeds as gen-corpus.py writes them")


if __name__ == "__main__":
    main()

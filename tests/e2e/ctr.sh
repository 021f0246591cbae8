#!/usr/bin/env bash
# e2e-ctr — podshim under containerd alone: `ctr run --runc-binary podshim`,
# with the engine's containerd (PODSHIM_ENGINE=debian12: 1.6; sid: 2.1), a
# private daemon (own root, state, socket) and a busybox rootfs directory
# (`ctr run --rootfs`, no image, no registry).  The pod is named by the env
# (PODSHIM_POD); ctr gives each container a fresh network namespace with
# loopback only, so the only traffic is over the pod's 127.0.0.1.
#
#   join      two containers of pod c1 share one netns (same inode) and the
#             second reaches the first's httpd on 127.0.0.1
#   other     a container of another pod, and one without a pod, do not
#   delete    deleting the members removes the pod
set -euo pipefail
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
ENGINE=${PODSHIM_ENGINE:-debian12}
[[ -x $PODSHIM ]] || bail "no podshim binary at $PODSHIM (build first)"
BINDIR=$("$E2E_REPO/hack/engine" fetch "$ENGINE" >&2 && "$E2E_REPO/hack/engine" bindir "$ENGINE") ||
	bail "engine $ENGINE not available"
export PATH="${BINDIR:+$BINDIR:}$PATH"

D=$(mktemp -d /tmp/ctr.XXXXXX)
SOCK=$D/containerd.sock
# containerd's namespace, which is also the parent of its tasks' cgroups
# (/NS/ID): the test's own, removed at exit.
NS=podshim-e2e-${D##*.}
export PODSHIM_STATE=$D/podshim-state
CPID=

c() { bounded -t 60 ctr -a "$SOCK" -n "$NS" "$@"; }

# ctr_cleanup: tasks and containers, the daemon and its shims (found by the
# socket path in their command lines), mounts, DIR.
ctr_cleanup() {
	local id p pids=()
	if [[ -S $SOCK ]]; then
		for id in $(c containers ls -q 2>/dev/null); do
			c tasks kill -s KILL "$id" >/dev/null 2>&1 || true
			c tasks delete -f "$id" >/dev/null 2>&1 || true
			c containers delete "$id" >/dev/null 2>&1 || true
		done
	fi
	[[ -z $CPID ]] || kill -TERM "$CPID" 2>/dev/null || true
	local -a args
	for p in /proc/[0-9]*; do # (builtins only: no fork per process)
		mapfile -d '' -t args 2>/dev/null <"$p/cmdline" || continue
		[[ ${args[*]} == *"$D/"* ]] && pids+=("${p#/proc/}")
	done
	((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
	[[ -z $CPID ]] || wait "$CPID" 2>/dev/null || true
	"$PODSHIM" --podshim-state "$PODSHIM_STATE" pod gc >/dev/null 2>&1 || true
	grep -F " $D/" /proc/self/mountinfo | awk '{ print $5 }' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf --one-file-system -- "$D"
	rmdir /run/containerd/s /run/containerd 2>/dev/null || true
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -depth -type d -path "*/$NS*" -exec rmdir {} + 2>/dev/null || true
}
at_exit ctr_cleanup

# --- rootfs and daemon ------------------------------------------------------------

mkdir -p "$D"/rootfs/{bin,etc,tmp,proc,sys,dev,www} "$PODSHIM_STATE"
cp /bin/busybox "$D/rootfs/bin/busybox"
chroot "$D/rootfs" /bin/busybox --install -s /bin
echo "root:x:0:0:root:/:/bin/sh" >"$D/rootfs/etc/passwd"
echo pod-c1 >"$D/rootfs/www/index.html"
cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
EOF
# the shim inherits containerd's environment: PODSHIM_STATE reaches podshim
setsid containerd -c "$D/config.toml" </dev/null >"$D/containerd.log" 2>&1 &
CPID=$!
wait_for -n 100 -s 0.1 c version >/dev/null || { tail -20 "$D/containerd.log" | sed 's/^/# /'; echo "Bail out! containerd did not start"; exit 1; }
diag "containerd $(c version | awk '/Version:/ { print $2; exit }') ($ENGINE)"

run() { # NAME ENV CMD...: a detached task from the rootfs, podshim as runc
	local name=$1 env=$2
	shift 2
	bounded -t 60 ctr -a "$SOCK" -n "$NS" run -d --runc-binary "$PODSHIM" --rootfs --env PATH=/bin \
		${env:+--env "$env"} "$D/rootfs" "$name" "$@"
}
pid_of() { c tasks ls | awk -v n="$1" '$1 == n { print $2 }'; }
netns() {
	local pid
	pid=$(pid_of "$1") && [[ -n $pid ]] || { echo "no task $1" >&2; return 1; }
	stat -L -c %i "/proc/$pid/ns/net"
}
same_netns() {
	local a b
	a=$(netns "$1") && b=$(netns "$2") || return 1
	[[ $a == "$b" ]] || { echo "$1: $a, $2: $b"; return 1; }
}
other_netns() {
	local a b
	a=$(netns "$1") && b=$(netns "$2") || return 1
	[[ $a != "$b" ]] || { echo "$1 and $2 share net:[$a]"; return 1; }
}
all_apart() { other_netns c2-a c1-a && other_netns plain c1-a && other_netns plain c2-a; }
pod_names() { podshim_cli pod list --format json | jq -r '.[].name' | sort | paste -sd' '; }
pods_are() { local got; got=$(pod_names); [[ $got == "$1" ]] || { echo "pods: '$got', want '$1'"; return 1; }; }
fetch() {
	local out
	out=$(c tasks exec --exec-id "f$RANDOM" "$1" wget -qO- http://127.0.0.1:8080/ 2>&1) || { echo "$out"; return 1; }
	[[ $out == "$2" ]] || { echo "got '$out'"; return 1; }
}

# --- join ---------------------------------------------------------------------------

plan 9
check "ctr run --runc-binary podshim, PODSHIM_POD=c1: a serves httpd on 127.0.0.1:8080" \
	run c1-a PODSHIM_POD=c1 httpd -f -p 127.0.0.1:8080 -h /www
check "...and b joins pod c1" run c1-b PODSHIM_POD=c1 sleep 1000
check "a and b share one network namespace" wait_for same_netns c1-a c1-b
check "b reaches a over the pod's 127.0.0.1" wait_for -n 50 fetch c1-b pod-c1
check "podshim pod list: c1" pods_are c1

# --- other pods, no pod -------------------------------------------------------------

run c2-a PODSHIM_POD=c2 sleep 1000 >/dev/null
run plain "" sleep 1000 >/dev/null
check "a container of pod c2 and one without a pod have netns of their own" \
	all_apart
check "podshim pod list: c1 c2" pods_are "c1 c2"

# --- delete ---------------------------------------------------------------------------

for id in c1-a c1-b c2-a plain; do
	c tasks kill -s KILL "$id" >/dev/null 2>&1 || true
done
gone() { for id in c1-a c1-b c2-a plain; do c tasks delete "$id" >/dev/null 2>&1 || true; done; [[ -z $(c tasks ls -q) ]]; }
check "tasks killed and deleted" wait_for -n 50 gone
for id in c1-a c1-b c2-a plain; do c containers delete "$id" >/dev/null 2>&1 || true; done
check "the pods are gone with their members" pods_are ""
diag "total $((SECONDS - T0))s"
done_testing

#!/usr/bin/env bash
# e2e-podman — podshim as podman's runtime (`podman --runtime podshim run
# --annotation podshim.pod=NAME`), with Debian 12's podman 4.3 and netavark,
# as root.  podman makes a networked container's network namespace itself
# (/run/netns/netns-<uuid>, plumbed before the runtime's create) and names it
# in config.json: the pod's first networked member's namespace becomes the
# pod's (its holder joins it), the others join with --network none.
#
#   own       a networked podman container owns pod pm1: the pod's holder
#             is in podman's namespace (adopted, not replaced)
#   join      --network none and --network host members share it: its eth0,
#             its 127.0.0.1
#   second    a second networked member is refused with podshim's message;
#             podman leaves no namespace or veth behind
#   untouched a container that names no pod keeps its own namespace
#   owner rm  podman removes the owner: its veth and namespace file go, the
#             others keep the namespace (loopback only) and keep working; a
#             networked member cannot own it again (refused, nothing left)
#   gone      the last member removed: no process holds the namespace, no
#             veth, no netns file, no pod
#   teardown  nothing of the test left on the host
#
# Isolation: everything podman and podshim do happens in a network and mount
# namespace of the test's own, held by an anchor process: podman's bridge,
# veths and iptables rules are in that network namespace; /run and /var/lib
# are bind mounts of the test's dir there (podman's netns files, its run
# dirs, netavark's state, runc's root and podshim's default state and data
# dirs land in it); podman's storage is --root/--runroot/--storage-driver vfs
# under the dir, its config CONTAINERS_CONF there too (cgroupfs, file events,
# no registry: the image is `podman import`ed from a busybox-static rootfs);
# containers and conmon go under a cgroup parent of the test's own.
#
# podman does not use the Docker engine: the test runs once, in the default
# (debian12) setup, and skips in the sid one.
# shellcheck disable=SC2016,SC2034 # single-quoted $VARS: expanded by eval, later
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
[[ ${PODSHIM_ENGINE:-debian12} == debian12 ]] ||
	skip_all "podman does not use the Docker engine: run once, in the debian12 setup"
command -v podman >/dev/null || bail "podman not installed (run hack/install-deps)"
command -v netavark >/dev/null || [[ -x /usr/lib/podman/netavark ]] ||
	bail "netavark not installed (run hack/install-deps)"
[[ -x $PODSHIM ]] || bail "no podshim binary at $PODSHIM (build first)"
PODSHIM=$(realpath "$PODSHIM")

# What podman and podshim would make on the host, were they not isolated.
host_dirs() {
	ls -d /run/containers /var/lib/containers /run/libpod /run/podshim /var/lib/podshim \
		/run/netns/netns-* /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true
}
HOST_DIRS=$(host_dirs)
D=$(mktemp -d /tmp/pm.XXXXXX)
H=$(printf '%s' "$D" | sha256sum | cut -c1-12)
CGP=podshim-pm-$H
ANCHOR=
IMG=localhost/podshim-bb

# in_ns CMD...: CMD in the test's network and mount namespaces, bounded.
in_ns() { bounded -t 60 nsenter -t "$ANCHOR" -m -n -- "$@"; }
# pm ARGS...: podman on the test's storage and config.
pm() {
	in_ns env CONTAINERS_CONF="$D/containers.conf" TMPDIR="$D/tmp" podman --root "$D/root" \
		--runroot "$D/runroot" --storage-driver vfs --tmpdir "$D/libpod" "$@"
}
# pm_run NAME ARGS...: a detached container of the test image, podshim as
# its runtime.
pm_run() {
	local name=$1
	shift
	pm run -d --runtime "$PODSHIM" --cgroup-parent "/$CGP" --name "$name" "$@"
}
pshim() { in_ns "$PODSHIM" "$@"; }

# our_pids: every process of the test: command lines naming D (conmon, the
# anchor's shell), containers (cgroup parent), pods' holders (recorded in
# podshim's state, which is in D).
our_pids() {
	local p f pid
	local -a args
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		mapfile -d '' -t args 2>/dev/null <"$p/cmdline" || continue
		if [[ ${args[*]} == *"$D/"* || $pid == "$ANCHOR" ]] || grep -qF "/$CGP/" "$p/cgroup" 2>/dev/null; then
			echo "$pid"
		fi
	done
	for f in "$D"/run/podshim/*/pods/*/pod.json; do
		[[ -f $f ]] || continue
		for pid in $(jq -r '(.pause.pid // empty), (.holder.pid // empty)' "$f" 2>/dev/null); do
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) == podshim-pause ]] && echo "$pid"
		done
	done
}

pm_cleanup() {
	local pids _
	if [[ -n $ANCHOR ]] && kill -0 "$ANCHOR" 2>/dev/null; then
		pm rm -a -f -t 0 >/dev/null 2>&1 || true
	fi
	for _ in 1 2 3; do
		pids=$(our_pids | sort -u)
		[[ -n $pids ]] || break
		# shellcheck disable=SC2086 # a list of PIDs
		kill -KILL $pids 2>/dev/null || true
		sleep 0.3
	done
	[[ -z $ANCHOR ]] || wait "$ANCHOR" 2>/dev/null || true
	ANCHOR=
	find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -path "*/$CGP*" -exec rmdir {} + 2>/dev/null || true
	rm -rf --one-file-system -- "$D"
}
at_exit pm_cleanup

# --- namespaces, config, image --------------------------------------------------

mkdir -p "$D"/{run,varlib,root,runroot,libpod,tmp,networks,rootfs/{bin,etc,tmp,proc,sys,dev,www}}
# The anchor: its own network and mount namespaces (private propagation),
# /run and /var/lib bound to the test's dirs, loopback up.
unshare --mount --net --propagation private -- sh -c '
	mount --bind "$1/run" /run && mount --bind "$1/varlib" /var/lib && ip link set lo up &&
	: >"$1/anchor-ready" && exec sleep 100000' sh "$D" </dev/null >"$D/anchor.log" 2>&1 &
ANCHOR=$!
wait_for -n 100 -s 0.1 test -e "$D/anchor-ready" >/dev/null ||
	bail "the test's namespaces are not ready: $(cat "$D/anchor.log")"

cat >"$D/containers.conf" <<EOF
[containers]
log_driver = "k8s-file"
# this VM's root cannot raise RLIMIT_NOFILE/NPROC above its own limits
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$D/events.log"
image_copy_tmp_dir = "$D/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$D/networks"
EOF

cp /bin/busybox "$D/rootfs/bin/busybox"
chroot "$D/rootfs" /bin/busybox --install -s /bin
echo "root:x:0:0:root:/:/bin/sh" >"$D/rootfs/etc/passwd"
tar -C "$D/rootfs" -cf "$D/rootfs.tar" .
check "podman import of a busybox-static rootfs" pm import "$D/rootfs.tar" "$IMG"
diag "$(pm --version) ($(netavark --version 2>/dev/null || /usr/lib/podman/netavark --version)), podshim as runtime: $PODSHIM"

# --- helpers ----------------------------------------------------------------------

cid_of() { pm inspect -f '{{.Id}}' "$1"; }
running() { [[ $(pm inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
pid_of() { pm inspect -f '{{.State.Pid}}' "$1"; }
net_of() { stat -L -c %i "/proc/$(pid_of "$1")/ns/net"; }
pods_json() { pshim pod list --format json; }
pod_field() { pods_json | jq -r --arg n "$1" --arg f "$2" '.[] | select(.name == $n) | .[$f] // empty'; }
pod_members() { pods_json | jq -r --arg n "$1" '.[] | select(.name == $n) | .members[]' | sort; }
holder_net() { stat -L -c %i "/proc/$(pod_field "$1" holder_pid)/ns/net"; }
# netns_files: podman's namespace files (in the test's /run/netns).
netns_files() { find "$D/run/netns" -maxdepth 1 -name 'netns-*' -printf '%f\n' 2>/dev/null | sort; }
# veths: the host ends on podman's bridge, in the test's netns.
veths() { { in_ns ip -o link show master podman0 2>/dev/null || true; } | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
links_of() { pm exec "$1" ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | paste -sd' '; }
fetch() { pm exec "$1" timeout 10 wget -qO- http://127.0.0.1:8080/; }

same_net() {
	local a b
	a=$(net_of "$1") && b=$(net_of "$2") || return 1
	[[ $a == "$b" ]] || { echo "$1: net:[$a], $2: net:[$b]"; return 1; }
}
pod_is() {
	local want got
	want=$(printf '%s\n' "${@:2}" | sort)
	got=$(pod_members "$1")
	[[ $got == "$want" ]] || { echo "pod $1: [${got//$'\n'/ }], want [${*:2}]"; return 1; }
}
owner_is() {
	local o
	o=$(pod_field "$1" network_owner)
	[[ $o == "$2" ]] || { echo "network_owner of $1: '$o', want '$2'"; return 1; }
}

# --- own: the first networked member ------------------------------------------------

check "networked member own (podman's default network) runs in pod pm1" \
	pm_run own --annotation podshim.pod=pm1 "$IMG" sh -c \
	'mkdir -p /www && echo own >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
OWN=$(cid_of own) || OWN=none
NSPATH=$(pm inspect -f '{{.NetworkSettings.SandboxKey}}' own 2>/dev/null) || NSPATH=
diag "own's namespace, made by podman: $NSPATH"
like "podman made own's namespace (/run/netns/netns-...)" "$NSPATH" '^/run/netns/netns-[0-9a-f-]+$'
check "pod pm1: own is its member and network owner" eval 'pod_is pm1 "$OWN" && owner_is pm1 "$OWN"'
adopted() {
	local o h f
	o=$(net_of own) && h=$(holder_net pm1) && f=$(in_ns stat -L -c %i "$NSPATH") || return 1
	[[ $o == "$h" && $h == "$f" ]] || { echo "own net:[$o], holder net:[$h], $NSPATH: $f"; return 1; }
}
check "the pod's holder is in podman's namespace of own (adopted, not replaced)" adopted
like "own has podman's eth0 (10.88.0.0/16)" "$(pm exec own ip -o -4 addr show eth0 2>&1)" 'inet 10\.88\.'
OWN_VETHS=$(veths) || OWN_VETHS='?'
diag "veth of own on podman0: $OWN_VETHS"

# --- join: --network none and --network host members --------------------------------

check "--network none member side starts in pm1" \
	pm_run side --annotation podshim.pod=pm1 --network none "$IMG" sh -c \
	'mkdir -p /s && echo side >/s/index.html && exec httpd -f -p 127.0.0.1:8081 -h /s'
check "--network host member hostm starts in pm1" \
	pm_run hostm --annotation podshim.pod=pm1 --network host "$IMG" sleep 100000
check "side shares own's namespace" same_net own side
check "hostm shares it too (the pod's, not the test's own netns)" same_net own hostm
is "side sees own's interfaces" "$(links_of side)" "eth0 lo"
check "side reaches own's httpd over 127.0.0.1" wait_for -n 50 eval '[[ $(fetch side) == own ]]'
check "pod pm1: own, side, hostm; own owns the network" \
	eval 'pod_is pm1 "$OWN" "$(cid_of side)" "$(cid_of hostm)" && owner_is pm1 "$OWN"'

# --- second: a second networked member ------------------------------------------------

out=$(pm_run second --annotation podshim.pod=pm1 "$IMG" sleep 100000 2>&1) && rc=0 || rc=$?
check "a second networked member is refused" test "$rc" -ne 0
like "...with podshim's message: what it saw and what to do" "$out" \
	'already has a networked member .*podman made this container a network namespace of its own.*--network none'
diag "$(grep -o 'pod `pm1` .*' <<<"$out" | head -n 1)"
is "...podman left no namespace of it behind" "$(netns_files)" "${NSPATH##*/}"
is "...nor a veth on podman0" "$(veths)" "$OWN_VETHS"
is "...and the pod's interfaces are own's" "$(links_of side)" "eth0 lo"
check "...pod pm1 unchanged" eval 'pod_is pm1 "$OWN" "$(cid_of side)" "$(cid_of hostm)" && owner_is pm1 "$OWN"'
pm rm -f -t 0 second >/dev/null 2>&1 || true

# --- untouched: no pod -------------------------------------------------------------------

check "a container that names no pod runs" pm_run lone "$IMG" sleep 100000
isnt "...in a namespace of its own" "$(net_of lone)" "$(net_of own)"
like "...with its own eth0" "$(pm exec lone ip -o -4 addr show eth0 2>&1)" 'inet 10\.88\.'
LONE_NS=$(pm inspect -f '{{.NetworkSettings.SandboxKey}}' lone) || LONE_NS=
pm rm -f -t 0 lone >/dev/null 2>&1 || true

# --- owner rm: podman removes the owner ---------------------------------------------------

PODNET=$(holder_net pm1) || PODNET=none
check "podman rm -f own" pm rm -f -t 0 own
is "own's namespace file is gone" "$(netns_files)" ""
is "own's veth is gone from podman0" "$(veths)" ""
is "side keeps the pod's namespace: loopback only" "$(links_of side)" "lo"
is "...the same namespace, held by the pod's holder" "$(net_of side) $(holder_net pm1)" "$PODNET $PODNET"
check "pod pm1: side and hostm, no network owner" \
	eval 'pod_is pm1 "$(cid_of side)" "$(cid_of hostm)" && owner_is pm1 ""'
check "hostm still reaches side over 127.0.0.1" \
	eval '[[ $(pm exec hostm timeout 10 wget -qO- http://127.0.0.1:8081/) == side ]]'
out=$(pm_run own2 --annotation podshim.pod=pm1 "$IMG" sleep 100000 2>&1) && rc=0 || rc=$?
check "a networked member cannot own pm1 again (its namespace is the members')" test "$rc" -ne 0
like "...refused with podshim's message" "$out" "adopts an engine's network namespace only for a new pod's first member"
is "...podman left no namespace of it behind" "$(netns_files)" ""
is "...nor a veth" "$(veths)" ""
pm rm -f -t 0 own2 >/dev/null 2>&1 || true

# --- gone: the last members removed --------------------------------------------------------

holder=$(pod_field pm1 holder_pid) || holder='?'
check "podman rm -f side hostm" pm rm -f -t 0 side hostm
check "pod pm1 is gone" wait_for -n 50 eval '[[ -z $(pod_field pm1 name) ]]'
netns_held() {
	local p
	for p in /proc/[0-9]*/ns/net; do
		[[ $(stat -L -c %i "$p" 2>/dev/null) == "$PODNET" ]] && echo "${p%/ns/net}"
	done
	return 0
}
is "no process holds the pod's namespace (holder $holder gone)" "$(netns_held)" ""
is "no namespace file, no veth left" "$(netns_files) $(veths)" " "
diag "lone's namespace ($LONE_NS) is podman's own: gone with it: $([[ -e $D/run/${LONE_NS#/run/} ]] && echo no || echo yes)"

# --- a new pod: the owner first again -------------------------------------------------------

check "a new pod pm2: a networked member owns it again" \
	pm_run own3 --annotation podshim.pod=pm2 "$IMG" sleep 100000
check "...its holder in podman's namespace" \
	eval '[[ $(net_of own3) == $(holder_net pm2) ]] && owner_is pm2 "$(cid_of own3)"'
check "podman rm -f own3: pod pm2 gone" eval 'pm rm -f -t 0 own3 >/dev/null && [[ -z $(pod_field pm2 name) ]]'

# --- teardown ----------------------------------------------------------------------------------

pm_cleanup
leftovers() {
	our_pids
	grep -F " $D" /proc/self/mountinfo | awk '{ print "mount " $5 }'
	find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$CGP*" 2>/dev/null | sed 's/^/cgroup /'
	[[ ! -e $D ]] || echo "dir $D"
	[[ $(host_dirs) == "$HOST_DIRS" ]] || echo "host dirs now: $(host_dirs)"
}
is "teardown leaves no process, mount, cgroup or dir" "$(leftovers)" ""
diag "total $((SECONDS - T0))s"
done_testing

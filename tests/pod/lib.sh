# shellcheck shell=bash
# tests/pod/lib.sh — helpers for podshim's pod tests (TAP, run as root).
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/lib.sh"
#   plan 3
#   b=$(mkb web -a podshim.pod=web -- sleep 1000)
#   check "A joins" member A "$b"
#   ...
#   done_testing
#
# Everything lives in one mktemp dir $T: a read-only busybox rootfs shared by
# all bundles ($ROOTFS), the runc --root ($RUNC_ROOT), the podshim state
# ($STATE) and podshim's --log file ($LOG, JSON).  At exit (at_exit of
# tests/lib/tap.sh: also on a failure or SIGINT/SIGTERM) _cleanup deletes
# every container, runs `pod gc`, kills this test's podshim-pause processes,
# unmounts whatever is left under $T and removes it; a script's own at_exit
# commands run before it.
#
# Environment: PODSHIM (required; may be a valgrind wrapper), PODSHIM_PAUSE,
# PODSHIM_SRCDIR, PODSHIM_BUILDDIR.  POD_KEEP=1 keeps $T for a post-mortem.

set -uo pipefail
export LC_ALL=C

: "${PODSHIM:?PODSHIM must name the podshim binary}"

_POD_LIB=$(dirname "${BASH_SOURCE[0]}")/../lib
# TAP (plan, ok, not_ok, is DESC GOT WANT, check, check_fails, skip,
# skip_all, wait_for [SECONDS] CMD..., done_testing...), at_exit; rootfs, spec
# and bundle building.
# shellcheck source=tests/lib/tap.sh
. "$_POD_LIB/tap.sh"
# shellcheck source=tests/lib/oci.sh
. "$_POD_LIB/oci.sh"

# --- prerequisites ---------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
for _p in runc jq busybox stat mountpoint sha256sum timeout; do
	command -v "$_p" >/dev/null || skip_all "needs $_p"
done
static_busybox >/dev/null || skip_all "needs a static busybox (busybox-static)"

# --- the temp dir and its cleanup ------------------------------------------

T=$(mktemp -d /tmp/podshim-pod.XXXXXX)
# the parent of this test's containers' cgroups (mkb), removed at exit
CGROUP_PARENT=podshim-test-${T##*.}
RUNC_ROOT=$T/runc
STATE=$T/state
# Pod volumes (podshim --podshim-data): never /var/lib/podshim in tests.
DATA=$T/data
export PODSHIM_DATA=$DATA
# The Docker API of a companion's detached workers: a socket nobody serves,
# never the host's /run/docker.sock (a refused companion's worker waits for
# it; _cleanup ends such workers).
export PODSHIM_DOCKER_HOST=unix://$T/no-docker.sock
LOG=$T/podshim.log
ROOTFS=$T/rootfs
mkdir -p "$T/b" "$T/out" "$T/bounded"
# bounded's files (tests/lib/bounded.sh) go with $T.
BOUNDED_TMP=$T/bounded

T_START=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz }' /proc/uptime)
_PAUSE_EXE=$(readlink -f "${PODSHIM_PAUSE:-/nonexistent}" 2>/dev/null)

# PIDs of podshim-pause processes (holders and pauses) belonging to this test:
# those named in a pod.json under $T, and those running this build's
# podshim-pause that started after this test did (the pod suites run one at a
# time).
our_pauses() {
	local f p st
	{
		find "$T" -name pod.json 2>/dev/null | while read -r f; do
			jq -r '.pause.pid // empty, .holder.pid // empty' "$f" 2>/dev/null
		done
		for p in /proc/[0-9]*; do
			[[ $(cat "$p/comm" 2>/dev/null) == podshim-pause ]] || continue
			[[ -n $_PAUSE_EXE && $(readlink "$p/exe" 2>/dev/null) == "$_PAUSE_EXE" ]] || continue
			st=$(cut -d' ' -f22 <"$p/stat" 2>/dev/null) || continue
			((st >= T_START)) && echo "${p#/proc/}"
		done
	} | sort -u | while read -r p; do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == podshim-pause ]] && echo "$p"
	done
}

# Mount points under $T, deepest first.
our_mounts() {
	awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

_cleanup() {
	local root id s p pauses
	set +e
	for root in "$T"/runc*; do
		[[ -d $root ]] || continue
		for id in $(runc --root "$root" list -q 2>/dev/null); do
			timeout 30 "$PODSHIM" --podshim-state "$STATE" --root "$root" delete --force "$id" \
				>/dev/null 2>&1 <"$POD_STDIN" ||
				timeout 30 runc --root "$root" delete --force "$id" >/dev/null 2>&1 <"$POD_STDIN"
		done
	done
	pauses=$(our_pauses)
	for s in "$T"/state*; do
		[[ -d $s ]] && timeout 60 "$PODSHIM" --podshim-state "$s" pod gc >/dev/null 2>&1 </dev/null
	done
	for p in $pauses $(our_pauses); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == podshim-pause ]] && kill -9 "$p" 2>/dev/null
	done
	# podshim's detached workers (a refused companion's waits up to 600 s for
	# the Docker API) of this test: their command line names $T (under
	# valgrind too, whose exe is its own).
	for p in /proc/[0-9]*; do
		[[ ${p#/proc/} != "$$" && ${p#/proc/} != "$BASHPID" ]] || continue
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -q "^$T/state" && kill -9 "${p#/proc/}" 2>/dev/null
	done
	unmount_under "$T"
	find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name "$CGROUP_PARENT" 2>/dev/null |
		while read -r p; do
			find "$p" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	if [[ ${POD_KEEP:-} == 1 ]]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
}
at_exit _cleanup

# The delegate matrix with crun (PODSHIM_TEST_DELEGATE=crun-sid, see
# tests/lib/oci.sh): these suites, and podshim's default delegate, run
# `runc`; here that name is crun (through crun_cmd's wrapper on a hybrid
# cgroup host), so every pod test runs against crun.
if [[ $TEST_DELEGATE_KIND == crun ]]; then
	mkdir -p "$T/dlg" && _crun=$(crun_cmd "$T/dlg") && [[ -n $_crun ]] &&
		ln -sf "$_crun" "$T/dlg/runc" || bail "cannot make crun the tests' runc"
	PATH=$T/dlg:$PATH
	unset _crun
fi

# --- rootfs and bundles ----------------------------------------------------

_make_rootfs() {
	make_rootfs "$ROOTFS" sh sleep nc httpd wget kill hostname ps cat echo readlink ls grep \
		stat true false touch rm test id wc || return 1
	mkdir -p "$ROOTFS"/{www,shared,data,vol,run}
	: >"$ROOTFS/etc/hostname"
	echo "hello from the pod" >"$ROOTFS/www/index.html"
	base_spec "$T/spec.json" "$ROOTFS" '
		.process.args = ["sleep", "1000"]
		| .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs",
		               options: ["nosuid", "nodev", "mode=1777"]}]'
}
_make_rootfs || bail "cannot build the test rootfs"

# mkb NAME [-a KEY=VAL]... [-e KEY=VAL]... [-j JQFILTER]... [-- ARG...]
# Makes bundle $T/b/NAME (annotations -a, process env -e, extra jq edits -j,
# process.args after --; default `sleep 1000`) and prints its path.  Its
# cgroup is /$CGROUP_PARENT/NAME: the delegate's default (/<container ID>)
# would be shared with a container of the same ID of another test running
# at the same time, which runc >= 1.2 refuses ("container's cgroup is not
# empty") and runc 1.1 silently joins.
# $MKB_JQ, if set, edits every bundle first (userns_jq: a user namespace).
mkb() {
	local name=$1 dir filter='.' anns='{}' envs='[]' args='' a
	shift
	dir=$T/b/$name
	while (($#)); do
		case $1 in
		-a) anns=$(jq -c --arg k "${2%%=*}" --arg v "${2#*=}" '. + {($k): $v}' <<<"$anns") ;;
		-e) envs=$(jq -c --arg e "$2" '. + [$e]' <<<"$envs") ;;
		-j) filter="$filter | $2" ;;
		--)
			shift
			args='[]'
			for a in "$@"; do args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args"); done
			break
			;;
		*)
			echo "mkb: bad option $1" >&2
			return 1
			;;
		esac
		shift 2
	done
	make_bundle "$dir" "$T/spec.json" "
		.linux.cgroupsPath = \$cg
		| (if \$a != {} then .annotations = ((.annotations // {}) + \$a) else . end)
		| .process.env += \$e
		| (if \$args != null then .process.args = \$args else . end)
		| ${MKB_JQ:-.} | $filter" --argjson a "$anns" --argjson e "$envs" --argjson args "${args:-null}" \
		--arg cg "/$CGROUP_PARENT/$name" || return 1
	echo "$dir"
}

# POD_STDIN: the stdin the helpers give podshim and the delegate. /dev/null,
# but for a script whose members have user namespaces (remapped): crun (1.8,
# 1.28) chowns a remapped container's stdio to its root, so that started on
# the host's /dev/null it leaves it owned by the pod's root (runc skips
# /dev/null). remapped() makes it an empty file of the test's, and the
# script's own stdin too (check and is pass it on).
POD_STDIN=/dev/null

# userns_jq HOSTID [SIZE]: a jq edit giving a bundle a user namespace of its
# own mapping uids and gids 0..SIZE-1 (65536) to HOSTID.., as a userns-remap
# dockerd does. Its members walk $T as that uid: remapped() opens it.
userns_jq() {
	local m="[{containerID: 0, hostID: $1, size: ${2:-65536}}]"
	echo ".linux.namespaces += [{type: \"user\"}] | .linux.uidMappings = $m | .linux.gidMappings = $m"
}
remapped() {
	chmod 755 "$T"
	POD_STDIN=$T/stdin
	: >"$POD_STDIN"
	exec <"$POD_STDIN"
}

# --- podshim and runc ------------------------------------------------------

# shim ARGS...: podshim with this test's state, runc root and JSON log,
# bounded (its stdio never a pipe of ours: tests/lib/bounded.sh).
shim() {
	bounded "$PODSHIM" --podshim-state "$STATE" --root "$RUNC_ROOT" --log "$LOG" --log-format json "$@"
}

# shim_root ROOT ARGS...: the same with another runc root.
shim_root() {
	local root=$1
	shift
	bounded "$PODSHIM" --podshim-state "$STATE" --root "$root" --log "$LOG" --log-format json "$@"
}

# rc ARGS...: runc with this test's root, bounded.
rc() {
	bounded runc --root "$RUNC_ROOT" "$@"
}

# create ID BUNDLE [OPTS...]: `podshim create`, stdio to $T/out/ID.
create() {
	create_in "$RUNC_ROOT" "$@"
}

# create_in ROOT ID BUNDLE [OPTS...]: the same under another runc root.
create_in() {
	local root=$1 id=$2 b=$3
	shift 3
	shim_root "$root" create "$@" --bundle "$b" "$id" <"$POD_STDIN" >"$T/out/$id" 2>&1 || {
		local s=$?
		cat "$T/out/$id" >&2
		return $s
	}
}

# member ID BUNDLE: create and start.
member() {
	create "$1" "$2" && shim start "$1" <"$POD_STDIN"
}

# del ID: podshim delete --force.
del() {
	shim delete --force "$1" <"$POD_STDIN"
}

# del_all ID...: delete each, stop at the first failure.
del_all() {
	local id
	for id; do
		del "$id" || return 1
	done
}

# run_detached ID BUNDLE: `podshim run --detach`, stdio to $T/out/ID.
run_detached() {
	shim run --detach --bundle "$2" "$1" <"$POD_STDIN" >"$T/out/$1" 2>&1 || {
		local s=$?
		cat "$T/out/$1" >&2
		return $s
	}
}

# xin ID CMD...: run CMD in container ID.
xin() {
	local id=$1
	shift
	rc exec "$id" "$@" <"$POD_STDIN"
}

# cpid ID [ROOT]: the host PID of container ID's init.
cpid() {
	runc --root "${2:-$RUNC_ROOT}" state "$1" | jq -er '.pid | select(. > 0)'
}

# nsino PID TYPE: the inode of /proc/PID/ns/TYPE.
nsino() {
	stat -L -c %i "/proc/$1/ns/$2"
}

# rootkey ROOT: podshim's FNV-1a key of a runc root.
rootkey() {
	local s=$1 h=-3750763034362895579 i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(((h ^ c) * 1099511628211))
	done
	printf '%016x\n' "$h"
}

# poddir POD [ROOT]
poddir() {
	echo "$STATE/$(rootkey "${2:-$RUNC_ROOT}")/pods/$1"
}

# voldir POD [ROOT]: the directory of the pod's volumes (POD is its key).
voldir() {
	echo "$DATA/$(rootkey "${2:-$RUNC_ROOT}")/$1"
}

# holder POD [ROOT]: the PID of the pod's holder process.
holder() {
	jq -er '.holder.pid' "$(poddir "$1" "${2:-$RUNC_ROOT}")/pod.json"
}

# pinned POD TYPE [ROOT]: the inode of the pod's namespace TYPE (held by its
# holder; pid: by its pause).
pinned() {
	local f=.holder.pid
	[[ $2 == pid ]] && f=.pause.pid
	stat -L -c %i "/proc/$(jq -er "$f" "$(poddir "$1" "${3:-$RUNC_ROOT}")/pod.json")/ns/$2"
}

# ns_file POD TYPE [ROOT]: a path to the pod's namespace TYPE (for nsenter).
ns_file() {
	local f=.holder.pid
	[[ $2 == pid ]] && f=.pause.pid
	echo "/proc/$(jq -er "$f" "$(poddir "$1" "${3:-$RUNC_ROOT}")/pod.json")/ns/$2"
}

# members POD [ROOT]: the pod's members, sorted, comma-separated ("" if no pod).
members() {
	shim pod list --format json </dev/null |
		jq -r --arg p "$1" --arg r "${2:-$RUNC_ROOT}" \
			'[.[] | select(.name == $p and .root == $r) | .members[]] | sort | join(",")'
}

# pod_count: how many pods `pod list` shows (all roots).
pod_count() {
	shim pod list --format json </dev/null | jq length
}

# proc_start PID: its start time (clock ticks since boot), or nothing.
proc_start() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	echo "${20}"
}

# proc_alive PID START: PID is that process and not a zombie.
proc_alive() {
	local st want=$2
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	[[ $1 != Z && $1 != X && ${20} == "$want" ]]
}

# now_ticks: clock ticks since boot, as in /proc/PID/stat.
now_ticks() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz + 1 }' /proc/uptime
}

# The network namespaces of a test can be marked, so that a later namespace
# of another test on this machine, which the kernel may give the same inode
# number, is told apart from a leak: mark_netns FILE sets a sysctl of the
# namespace to a value unique to this test.
NETNS_MARK="$((20000 + $$ % 9000)) $((40000 + $$ % 9000))"
mark_netns() {
	nsenter --net="$1" sh -c "echo '$NETNS_MARK' > /proc/sys/net/ipv4/ip_local_port_range"
}
netns_marked() {
	[[ $(nsenter --net="$1" cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null | tr -s ' \t' '  ') == "$NETNS_MARK" ]]
}

# no_ns_refs TYPE INODE SINCE: namespace TYPE:[INODE] of this test is freed: no
# process that started before SINCE (clock ticks, taken before the teardown)
# is in it, and no mount table has it (a mount under $T, or a marked netns).
# References by newer processes/namespaces (the kernel reuses inode numbers,
# and other tests may run at the same time) are ignored.
no_ns_refs() {
	local pat="$1:[$2]" since=$3 p st mp found='' seen=" "
	for p in /proc/[0-9]*; do
		if [[ $(readlink "$p/ns/$1" 2>/dev/null) == "$pat" ]]; then
			st=$(proc_start "${p#/proc/}") || continue
			((st < since)) && found+=" process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null))"
		fi
		# One look per mount namespace.
		mp=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
		[[ $seen == *" $mp "* ]] && continue
		seen+="$mp "
		while read -r mp; do
			if [[ $mp == "$T"/* ]] || { [[ $1 == net ]] && netns_marked "$p/root$mp"; }; then
				found+=" mount $mp (mount ns of ${p#/proc/})"
			fi
		done < <(awk -v pat="$pat" '$4 == pat { print $5 }' "$p/mountinfo" 2>/dev/null)
	done
	[[ -z $found ]] || {
		echo "$pat still referenced by:$found"
		return 1
	}
}

# no_pod_mounts INODE...: no mount under $T but the pods' /dev/shm tmpfs
# (DATA/<root key>/<pod key>/shm), and none of these namespaces mounted
# anywhere in the host's mount table.
no_pod_mounts() {
	local i
	! grep -F " $T/" /proc/self/mountinfo | grep -vE " ${DATA//./\\.}/[0-9a-f]{16}/[^/ ]+/shm .* - tmpfs shm " || return 1
	for i; do
		! awk -v i="$i" '$4 ~ "^[a-z]+:\\[" i "\\]$"' /proc/self/mountinfo | grep . || return 1
	done
}

# no_mounts_under DIR
no_mounts_under() {
	! grep -F " $1/" /proc/self/mountinfo
}

# no_pods [STATE [DATA]]: no pod directory, no index entry and no pod volume left.
no_pods() {
	local s=${1:-$STATE} d=${2:-$DATA} left
	left=$(find "$s" -mindepth 3 -maxdepth 3 \( -path '*/pods/*' -o -path '*/containers/*' \) 2>/dev/null
		find "$d" -mindepth 2 -maxdepth 2 2>/dev/null)
	[[ -z $left ]] || {
		echo "left: $left"
		return 1
	}
}

# sha FILE
sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# fake_docker ID LABELS_JSON: a dockerd-like container dir with labels
# (config.v2.json); prints a jq edit for mkb -j adding the /etc/hostname mount
# whose source leads podshim to it.
fake_docker() {
	local d=$T/docker/containers/$1
	mkdir -p "$d"
	echo "$1" >"$d/hostname"
	jq -n --argjson l "$2" '{ID: "x", Config: {Labels: $l}}' >"$d/config.v2.json"
	echo ".mounts += [{destination: \"/etc/hostname\", type: \"bind\", source: \"$d/hostname\",
		options: [\"rbind\", \"ro\"]}]"
}

# refused DESC TEXT BUNDLE: `create` of BUNDLE fails with TEXT on stderr and in
# the log, config.json untouched, no container, no new pod, no index entry, no
# pod volume or mount more than before.
refused() {
	local desc=$1 text=$2 b=$3 id before err s why= pods mounts vols
	id=$(basename "$b")
	before=$(sha "$b/config.json")
	pods=$(pod_count) mounts=$(our_mounts | wc -l) vols=$(find "$DATA" -mindepth 3 -maxdepth 3 2>/dev/null | wc -l)
	: >"$LOG"
	# To a file: a container created by mistake would hold a pipe open.
	shim create --bundle "$b" "$id" <"$POD_STDIN" >/dev/null 2>"$T/out/$id.err"
	s=$?
	err=$(cat "$T/out/$id.err")
	((s != 0)) || why+=" exit status 0;"
	[[ $err == *"$text"* ]] || why+=" stderr lacks '$text';"
	log_has_error "$text" || why+=" no error line with '$text' in the log;"
	[[ $(sha "$b/config.json") == "$before" ]] || why+=" config.json changed;"
	! rc state "$id" >/dev/null 2>&1 || why+=" container $id exists;"
	[[ $(pod_count) == "$pods" ]] || why+=" pods: $pods before, $(pod_count) after;"
	[[ ! -e $STATE/$(rootkey "$RUNC_ROOT")/containers/$id ]] || why+=" index entry left;"
	[[ $(our_mounts | wc -l) == "$mounts" ]] || why+=" mounts: $mounts before, $(our_mounts | wc -l) after;"
	[[ $(find "$DATA" -mindepth 3 -maxdepth 3 2>/dev/null | wc -l) == "$vols" ]] || why+=" volumes left;"
	if [[ -z $why ]]; then
		ok "$desc"
	else
		not_ok "$desc" "$why" "stderr: $err" "log: $(cat "$LOG")"
	fi
}

# log_has_error TEXT: the JSON log has an error line containing TEXT.
log_has_error() {
	jq -e --arg t "$1" 'select(.level == "error" and (.msg | contains($t)))' "$LOG" >/dev/null
}

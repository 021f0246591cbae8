# shellcheck shell=bash disable=SC2034 # variables set here are used by the scripts
# tests/integration/lib.sh: helpers for podshim's integration tests. Source it
# from a test script, then call it_setup:
#
#   . "$(dirname "$0")/lib.sh"
#   it_setup passthrough          # temp dir, rootfs, EXIT trap; skips unless root
#   use_delegate runc             # DIRECT=(runc --root R), SHIM=($PODSHIM ... --root R)
#   mkbundle hello 'echo hi'      # $T/bundles/hello, runs sh -c 'echo hi'
#   capture a "${DIRECT[@]}" run -b "$BUNDLE" "$(cid a)"
#   same_result a b "run output"
#   done_testing                  # prints the plan; exit status 1 if anything failed
#
# The environment (from tests/meson.build): PODSHIM (the binary, or a wrapper
# running it under valgrind: always run it as "$PODSHIM"), PODSHIM_PAUSE,
# PODSHIM_SRCDIR, PODSHIM_BUILDDIR.
#
# Every container this file's helpers create carries PSIT=<run prefix> in its
# environment; that is how stray processes are found and killed.

set -uo pipefail
export LC_ALL=C

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PODSHIM:?PODSHIM must name the podshim binary}"
# TAP (ok, not_ok, is DESC GOT WANT, check, skip, same_files, bail,
# done_testing...), at_exit; rootfs, spec and bundle building, crun.
# shellcheck source=tests/lib/tap.sh
. "$IT_DIR/../lib/tap.sh"
# shellcheck source=tests/lib/oci.sh
. "$IT_DIR/../lib/oci.sh"

# --- set-up and clean-up ---------------------------------------------------

T=
S=
PFX=
BG_PIDS=()
RUNC_BIN=$(command -v runc || true)
CRUN=

# it_setup NAME: skip unless root; make the temp dir $T (state dir $S, runtime
# roots $T/root-runc and $T/root-crun), the busybox rootfs and the base spec,
# and register it_cleanup at exit.
it_setup() {
	local name=$1
	[[ $(id -u) == 0 ]] || skip_all "$name: needs root"
	for tool in jq busybox "$RUNC_BIN"; do
		command -v "$tool" >/dev/null || skip_all "$name: $tool is missing"
	done
	T=$(mktemp -d "/tmp/podshim-it-$name.XXXXXX") || bail "mktemp failed"
	chmod 755 "$T"
	S=$T/state
	export PODSHIM_DATA=$T/data # pod volumes: never /var/lib/podshim
	# Container IDs start with this: unique per run, so parallel runs and
	# leftovers of earlier ones never collide (runc and crun both name cgroups
	# after the ID).
	PFX="${name:0:4}$$"
	at_exit it_cleanup
	mkdir -p "$T/bundles" "$T/out" "$T/bin" "$T/root-runc" "$T/root-crun"
	make_rootfs "$T/rootfs" || bail "cannot build the rootfs"
	mkdir -p "$T/rootfs/root"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$T/rootfs/etc/passwd"
	echo 'root:x:0:' >"$T/rootfs/etc/group"
	base_spec "$T/base.json" "$T/rootfs" '.process.args = ["sh"] | .process.env += [$psit]' \
		--arg psit "PSIT=$PFX" || bail "cannot make the base spec"
	# crun (tests/lib/oci.sh: a wrapper on a hybrid cgroup host): the direct
	# and the podshim runs use the same one.
	CRUN=$(crun_cmd "$T/bin") || bail "cannot set up crun"
}

# it_cleanup: at exit. Kills what the test started, force-deletes its
# containers with runc and crun, unmounts everything under $T, removes $T.
it_cleanup() {
	set +e
	[[ -n $T && -d $T ]] || return 0
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	local id
	for id in $("$RUNC_BIN" --root "$T/root-runc" list -q 2>/dev/null); do
		"$RUNC_BIN" --root "$T/root-runc" delete --force "$id" >/dev/null 2>&1
	done
	if [[ -n $CRUN ]]; then
		for id in $("$CRUN" --root "$T/root-crun" list -q 2>/dev/null); do
			"$CRUN" --root "$T/root-crun" delete --force "$id" >/dev/null 2>&1
		done
	fi
	# Pause processes of pods left behind.
	local f pid
	for f in "$S"/*/pods/*/pod.json; do
		[[ -f $f ]] || continue
		pid=$(jq -r '.pause_pid // 0' "$f" 2>/dev/null)
		[[ $pid =~ ^[1-9][0-9]*$ ]] && kill -9 "$pid" 2>/dev/null
	done
	kill_strays
	unmount_under "$T"
	rm -rf "$T"
}

# strays: PIDs of processes carrying this run's marker.
strays() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		grep -qzx "PSIT=$PFX" "$f" 2>/dev/null && echo "$pid"
	done
}

kill_strays() {
	local pid
	for pid in $(strays); do
		kill -9 "$pid" 2>/dev/null
	done
}

# pods_left: how many pods podshim lists in $S.
pods_left() {
	local out
	out=$("$PODSHIM" --podshim-state "$S" pod list --format json 2>&1) || { echo "error: $out"; return; }
	jq 'length' <<<"$out" 2>/dev/null || echo "bad json: $out"
}

# assert_clean WHAT: no pods, no mounts under $T, no stray processes.
assert_clean() {
	local what=$1 n m s
	n=$(pods_left)
	m=$(mounts_under "$T")
	s=$(strays)
	if [[ $n == 0 && -z $m && -z $s ]]; then
		ok "$what: no pods, mounts or processes left"
	else
		not_ok "$what: no pods, mounts or processes left" "pods: $n" "mounts: $m" \
			"processes: $(for p in $s; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
		unmount_under "$T"
		kill_strays
	fi
}

# --- runtimes --------------------------------------------------------------

DLG=
DIRECT=()
SHIM=()
RT_ROOT=
RT_BIN=

# use_delegate runc|crun: DIRECT runs the delegate itself, SHIM runs podshim
# with that delegate; both with the same private --root.
use_delegate() {
	DLG=$1
	case $1 in
	runc)
		RT_BIN=$RUNC_BIN
		RT_ROOT=$T/root-runc
		# runc is podshim's default delegate: no option.
		SHIM=("$PODSHIM" --podshim-state "$S" --root "$RT_ROOT")
		;;
	crun)
		RT_BIN=$CRUN
		RT_ROOT=$T/root-crun
		SHIM=("$PODSHIM" --podshim-state "$S" --podshim-runtime "$RT_BIN" --root "$RT_ROOT")
		;;
	esac
	DIRECT=("$RT_BIN" --root "$RT_ROOT")
}

# cid NAME: a container ID for this run.
cid() {
	printf '%s-%s-%s' "$PFX" "$DLG" "$1"
}

# --- bundles ---------------------------------------------------------------

BUNDLE=

# mkbundle NAME SCRIPT [JQ_FILTER [JQ_ARGS...]]: a bundle $T/bundles/NAME
# whose process is `sh -c SCRIPT`, the base spec edited by JQ_FILTER. Sets
# BUNDLE.
mkbundle() {
	local name=$1 script=$2 filter=${3:-.}
	shift 3 2>/dev/null || shift $#
	BUNDLE=$T/bundles/$name
	rm -rf "$BUNDLE"
	make_bundle "$BUNDLE" "$T/base.json" ".process.args = [\"sh\", \"-c\", \$script] | $filter" \
		--arg script "$script" "$@" || bail "mkbundle $name: jq failed"
}

# --- running and comparing -------------------------------------------------

# capture NAME CMD...: runs CMD (stdin from /dev/null), keeping stdout, stderr
# and exit status in $T/out/NAME.{out,err,rc}.
capture() {
	local name=$1
	shift
	"$@" </dev/null >"$T/out/$name.out" 2>"$T/out/$name.err"
	echo $? >"$T/out/$name.rc"
}

# norm_err: drops what varies between two runs of the same command: logrus
# timestamps (crun 1.2x writes its JSON log lines indented, `"time": "..."`);
# and crun's error for a kill of a stopped container, which
# depends on whether its init has been reaped yet (a zombie: "kill container:
# No such process"; gone: "open pidfd: No such process").
norm_err() {
	sed -E 's/time="[^"]*"/time="T"/g; s/"time": *"[^"]*"/"time":"T"/g
		s/^open pidfd: No such process$/kill container: No such process/'
}

# norm_list: timestamps, numbers (PIDs) and column alignment in listings.
norm_list() {
	sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?/TS/g; s/[0-9]+/N/g
		s/[[:space:]]+/ /g; s/^ //; s/ $//'
}

# same_result A B DESC [FILTER]: captures A and B have the same exit status,
# stdout (through FILTER, a shell pipeline, if given) and stderr (through
# norm_err).
same_result() {
	local a=$T/out/$1 b=$T/out/$2 desc=$3 filter=${4:-cat}
	local d=() x
	[[ $(<"$a.rc") == "$(<"$b.rc")" ]] || d+=("exit status: $(<"$a.rc") vs $(<"$b.rc")")
	if ! x=$(diff -u <(eval "$filter" <"$a.out") <(eval "$filter" <"$b.out")); then
		d+=("stdout differs:" "$x")
	fi
	if ! x=$(diff -u <(norm_err <"$a.err") <(norm_err <"$b.err")); then
		d+=("stderr differs:" "$x")
	fi
	if ((${#d[@]} == 0)); then
		ok "$desc"
	else
		not_ok "$desc" "${d[@]}"
	fi
}

# wait_status ID STATUS [TRIES]: polls the delegate (directly) until the
# container has STATUS ("gone" for no container); 20 ms steps.
wait_status() {
	local id=$1 want=$2 tries=${3:-250} st
	while ((tries-- > 0)); do
		st=$("${DIRECT[@]}" state "$id" 2>/dev/null | jq -r .status 2>/dev/null)
		[[ -z $st ]] && st=gone
		[[ $st == "$want" ]] && return 0
		sleep 0.02
	done
	return 1
}

# wait_file FILE [TRIES]: polls until FILE exists and is not empty.
wait_file() {
	local f=$1 tries=${2:-250}
	while ((tries-- > 0)); do
		[[ -s $f ]] && return 0
		sleep 0.02
	done
	return 1
}

# init_pid ID: the container's init PID, from the delegate.
init_pid() {
	"${DIRECT[@]}" state "$1" 2>/dev/null | jq -r '.pid // empty'
}

# pod_ns_file POD NS: a path to the namespace NS (net, ipc, uts, pid) of POD,
# through its holder (pid: its pause) process.
pod_ns_file() {
	local f k=.holder.pid p
	[[ $2 == pid ]] && k=.pause.pid
	for f in "$S"/*/pods/"$1"/pod.json; do
		p=$(jq -er "$k" "$f" 2>/dev/null) && [[ -e /proc/$p/ns/$2 ]] && {
			echo "/proc/$p/ns/$2"
			return 0
		}
	done
	return 1
}

# ns_inode PID NS: inode of /proc/PID/ns/NS.
ns_inode() {
	readlink "/proc/$1/ns/$2" 2>/dev/null | sed -E 's/.*\[([0-9]+)\]/\1/'
}

# shellcheck shell=bash
# tests/e2e/lib.sh — helpers for podshim's end-to-end tests.  Source it:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#   plan 2
#   dockerd_up                 # private dockerd, stopped on EXIT
#   images_up busybox
#   docker run -d --label podshim.pod=p1 podshim/busybox httpd -f -p 127.0.0.1:80
#   check "member answers" wait_for docker run --rm --label podshim.pod=p1 \
#       --network none podshim/busybox wget -qO- http://127.0.0.1/
#   ok "something else"
#   done_testing               # prints "N passed, N failed"; status 1 if any failed
#
# Output is TAP.  Only loopback traffic, please (see shared/FACTS.md).
#
# Variables (set before sourcing or in the environment):
#   PODSHIM       podshim binary (default: $BUILD/podshim, else
#                 $BUILD/cmd/podshim; BUILD defaults to <repo>/build)
#   E2E_KEEP=1    keep the private dockerd at exit and print how to stop it
#   PODSHIM_ENGINE debian12 (default) or sid: the engine hack/dockerd runs
# Set by dockerd_up: E2E_DIR (the daemon dir), DOCKER_HOST, PODSHIM_STATE,
# PODSHIM_DOCKERD_NETNS (the daemon's network namespace: its bridges and
# published ports are there; see in_dockerd_netns), PODSHIM_ENGINE.

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BUILD:=$E2E_REPO/build}"
if [[ -z ${PODSHIM:-} ]]; then
	PODSHIM=$BUILD/podshim
	[[ -x $PODSHIM || ! -x $BUILD/cmd/podshim ]] || PODSHIM=$BUILD/cmd/podshim
fi
export PODSHIM
E2E_PASS=0
E2E_FAIL=0
E2E_N=0
E2E_PLANNED=
E2E_CLEANUPS=()

# --- TAP -------------------------------------------------------------------

# plan N: announce the number of tests (optional; done_testing plans too).
plan() {
	E2E_PLANNED=$1
	echo "1..$1"
}

# diag MSG...: TAP comment lines, one per line of each MSG (on stdout, so
# they interleave with the results).
diag() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do echo "# $line"; done
}

# ok DESC / not_ok DESC [DIAG...]: record one result.
ok() {
	E2E_N=$((E2E_N + 1)) E2E_PASS=$((E2E_PASS + 1))
	echo "ok $E2E_N - $1"
}
not_ok() {
	E2E_N=$((E2E_N + 1)) E2E_FAIL=$((E2E_FAIL + 1))
	echo "not ok $E2E_N - $1"
	shift
	(($# == 0)) || diag "$@"
}

# skip REASON: record one skipped test (TAP directive; meson counts it as
# skipped).
skip() {
	E2E_N=$((E2E_N + 1)) E2E_PASS=$((E2E_PASS + 1))
	echo "ok $E2E_N # SKIP $1"
}

# check DESC CMD...: run CMD; ok if it succeeds, else not_ok with its output.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "$out"
	fi
}

# done_testing: print the plan if none was given and the closing line;
# returns 1 if anything failed or the plan count was not met.
done_testing() {
	[[ -n $E2E_PLANNED ]] || echo "1..$E2E_N"
	echo "# $E2E_PASS passed, $E2E_FAIL failed"
	((E2E_FAIL == 0)) && [[ -z $E2E_PLANNED || $E2E_PLANNED == "$E2E_N" ]]
}

# --- waiting ---------------------------------------------------------------

# wait_for [-n TRIES] [-s SECONDS] CMD...: run CMD until it succeeds, at most
# TRIES times (default 50) SECONDS apart (default 0.2); the last run's output
# is shown; status 1 if it never succeeded.
wait_for() {
	local tries=50 pause=0.2 i out
	while [[ ${1:-} == -[ns] ]]; do
		case $1 in
		-n) tries=$2 ;;
		-s) pause=$2 ;;
		esac
		shift 2
	done
	for ((i = 1; i <= tries; i++)); do
		if out=$("$@" 2>&1); then
			[[ -z $out ]] || printf '%s\n' "$out"
			return 0
		fi
		((i == tries)) || sleep "$pause"
	done
	printf '%s\n' "$out" >&2
	return 1
}

# --- shared checks -----------------------------------------------------------

# is DESC GOT WANT / like DESC GOT ERE: compare and record one result.
is() {
	if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1" "got:  $2" "want: $3"; fi
}
like() {
	if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1" "got:  $2" "want: /$3/"; fi
}

# retry TRIES PAUSE CMD...: like wait_for, but CMD runs in this shell (so it
# may set variables) and nothing is printed.
retry() {
	local n=$1 pause=$2 i
	shift 2
	for ((i = 1; i <= n; i++)); do
		"$@" && return 0
		((i == n)) || sleep "$pause"
	done
	return 1
}

# pods: podshim's pod list (JSON) for this daemon; pod_members POD: its member
# IDs, sorted, one a line ("" when there is no such pod).
pods() { podshim_cli pod list --format json; }
pod_members() { pods | jq -r --arg n "$1" '.[] | select(.name == $n) | .members[]' | sort; }

# pod_is POD ID...: POD's members are exactly the IDs.
pod_is() {
	local n=$1 want got
	shift
	want=$(printf '%s\n' "$@" | sort)
	got=$(pod_members "$n")
	[[ $got == "$want" ]] || { echo "pod $n members: [${got//$'\n'/ }], want [$*]"; return 1; }
}

# --- cleanup ---------------------------------------------------------------

# at_exit CMD...: run CMD at exit (last registered runs first).
at_exit() {
	local q
	printf -v q '%q ' "$@"
	E2E_CLEANUPS+=("$q")
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
}

e2e_cleanup() {
	local rc=$? i
	for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${E2E_CLEANUPS[i]}" || true
	done
	E2E_CLEANUPS=()
	return "$rc"
}

# --- private dockerd -------------------------------------------------------

# dockerd_up: start a private dockerd (hack/dockerd) in a fresh short temp dir
# with podshim as the default runtime; export DOCKER_HOST, PODSHIM_STATE and
# E2E_DIR; stop it and remove the dir at exit.
dockerd_up() {
	[[ -x $PODSHIM ]] || { echo "Bail out! no podshim binary at $PODSHIM (build first)"; exit 1; }
	E2E_DIR=$(mktemp -d /tmp/e2e.XXXXXX)
	if [[ ${E2E_KEEP:-0} == 1 ]]; then
		at_exit diag "E2E_KEEP=1: daemon left running; eval \"\$($E2E_REPO/hack/dockerd env $E2E_DIR)\"; stop it with $E2E_REPO/hack/dockerd stop $E2E_DIR"
	else
		at_exit "$E2E_REPO/hack/dockerd" stop "$E2E_DIR"
	fi
	"$E2E_REPO/hack/dockerd" start "$E2E_DIR" >&2 || { echo "Bail out! private dockerd did not start"; exit 1; }
	eval "$("$E2E_REPO/hack/dockerd" env "$E2E_DIR")"
	export E2E_DIR
}

# images_up [busybox|nginx|python]...: build test images (all by default)
# into the daemon of dockerd_up.
images_up() {
	"$E2E_REPO/hack/images" "$E2E_DIR" "$@" >&2 || { echo "Bail out! hack/images failed"; exit 1; }
}

# in_dockerd_netns CMD...: run CMD in the daemon's network namespace (to reach
# a published port on its 127.0.0.1, or see its bridges).  nsenter --net only.
in_dockerd_netns() {
	nsenter --net="/run/netns/$PODSHIM_DOCKERD_NETNS" -- "$@"
}

# engine_hooked: the daemon gives networked containers Docker's
# libnetwork-setkey prestart hook: dockerd <= 25.x and 26.0.1-27.x (not
# 26.0.0, not >= 28; shared/FACTS.md).
engine_hooked() {
	local v maj min pat
	v=$(docker version --format '{{.Server.Version}}') || return 2
	IFS=. read -r maj min pat <<<"${v%%[+~-]*}"
	((maj < 26 || (maj == 26 && !(min == 0 && pat == 0)) || maj == 27))
}

# podshim_cli ARGS...: run the podshim CLI against the daemon's state dir
# (e.g. `podshim_cli pod list`).
podshim_cli() {
	"$PODSHIM" --podshim-state "$PODSHIM_STATE" "$@"
}

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
#   PODSHIM_TEST_DELEGATE  one of hack/engine's delegates: the daemon's
#                 podshim delegates to it (tests/lib/oci.sh)
#   PODSHIM_DOCKERD_MOUNTNS=cgroup2  the daemon on a cgroup v2 host (hack/dockerd)
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
# TAP (plan, ok, not_ok, is/like DESC GOT WANT, check, skip, wait_for,
# retry, done_testing...) and at_exit: one copy for every suite.
# shellcheck source=tests/lib/tap.sh
. "$E2E_REPO/tests/lib/tap.sh"
# The delegate matrix (PODSHIM_TEST_DELEGATE: its directory first on PATH;
# crun_cmd for crun on a hybrid cgroup host).
# shellcheck source=tests/lib/oci.sh
. "$E2E_REPO/tests/lib/oci.sh"

# --- pods ------------------------------------------------------------------

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

# pod_field POD FIELD: FIELD of POD in pod list ("" when there is none).
pod_field() { pods | jq -r --arg n "$1" --arg f "$2" '.[] | select(.name == $n) | .[$f] // empty'; }

# owner_of POD ID: ID is POD's network_owner.
owner_of() {
	local o
	o=$(pod_field "$1" network_owner)
	[[ $o == "$2" ]] || { echo "network_owner of $1: '$o', want $2"; return 1; }
}

# pod_gone POD: no members listed, and pod inspect knows no such pod.
pod_gone() { [[ -z $(pod_members "$1") ]] && ! podshim_cli pod inspect "$1" >/dev/null 2>&1; }

# members_are POD CONTAINER...: the pod has exactly these containers (names).
members_are() {
	local pod=$1 c want=''
	shift
	for c in "$@"; do want+=$(cid "$c")$'\n'; done
	[[ $(pod_members "$pod") == "$(sort <<<"${want%$'\n'}")" ]]
}

# --- docker ----------------------------------------------------------------

# bounded_docker [SECONDS]: from here on every `docker` call of the script is
# bounded in time (default 60 s): a hung call fails its test instead of
# hanging the suite.
# shellcheck disable=SC2120 # SECONDS is optional
bounded_docker() {
	DOCKER_BIN=$(type -P docker)
	DOCKER_TIMEOUT=${1:-60}
	# shellcheck disable=SC2317 # called by the scripts
	docker() { timeout "$DOCKER_TIMEOUT" "$DOCKER_BIN" "$@"; }
}

# run_d NAME ARGS...: docker run -d --name NAME ARGS (container remembered
# for rm_all); a failure to start is reported as a failed test.
CONTAINERS=()
run_d() {
	local name=$1 out
	shift
	CONTAINERS+=("$name")
	if ! out=$(docker run -d --name "$name" "$@" 2>&1); then
		not_ok "start $name" "docker run -d --name $name $*" "$out"
		return 1
	fi
}
# rm_all: remove the containers of run_d.
rm_all() {
	((${#CONTAINERS[@]} == 0)) || docker rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
	CONTAINERS=()
}

# cid / state / health NAME: the container's ID, status, health status.
cid() { docker inspect -f '{{.Id}}' "$1" 2>/dev/null; }
state() { docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
health() { docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null; }
health_is() { [[ $(health "$1") == "$2" ]]; }

# in_pod CONTAINER CMD...: run CMD in CONTAINER (so in its pod's namespaces),
# bounded by busybox timeout (wget -T segfaults on a refused connection).
in_pod() {
	local c=$1
	shift
	docker exec "$c" timeout 10 "$@"
}

# links_are ID "NAMES": the interfaces ID sees, sorted, space-separated.
links_are() {
	local got
	got=$(docker exec "$1" ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | paste -sd' ')
	[[ $got == "$2" ]] || { echo "links: $got; want $2"; return 1; }
}

# swarm_down [TRIES]: after the services are removed: wait (TRIES x 0.2 s,
# default 50) until no container is left, leave the swarm, remove
# docker_gwbridge.  For cleanups: never fails.
swarm_down() {
	wait_for -n "${1:-50}" -s 0.2 sh -c '[ -z "$(docker ps -q)" ]' >/dev/null 2>&1 || true
	docker swarm leave --force >/dev/null 2>&1 || true
	docker network rm docker_gwbridge >/dev/null 2>&1 || true
}

# --- private dockerd -------------------------------------------------------

# dockerd_up: start a private dockerd (hack/dockerd) in a fresh short temp dir
# with podshim as the default runtime; export DOCKER_HOST, PODSHIM_STATE and
# E2E_DIR; stop it and remove the dir at exit.
dockerd_up() {
	[[ -x $PODSHIM ]] || bail "no podshim binary at $PODSHIM (build first)"
	E2E_DIR=$(mktemp -d /tmp/e2e.XXXXXX)
	if [[ ${E2E_KEEP:-0} == 1 ]]; then
		at_exit diag "E2E_KEEP=1: daemon left running; eval \"\$($E2E_REPO/hack/dockerd env $E2E_DIR)\"; stop it with $E2E_REPO/hack/dockerd stop $E2E_DIR"
	else
		at_exit "$E2E_REPO/hack/dockerd" stop "$E2E_DIR"
	fi
	# the delegate matrix: the daemon's podshim delegates to that delegate
	if [[ $TEST_DELEGATE_KIND == runc ]]; then
		PODSHIM_DOCKERD_DELEGATE=$(command -v runc)
	elif [[ $TEST_DELEGATE_KIND == crun ]]; then
		local wrap
		wrap=$(mktemp -d /tmp/e2e-crun.XXXXXX) || bail "mktemp failed"
		at_exit rm -rf "$wrap"
		PODSHIM_DOCKERD_DELEGATE=$(crun_cmd "$wrap") || bail "cannot set up crun"
	fi
	[[ -z $TEST_DELEGATE_KIND ]] || export PODSHIM_DOCKERD_DELEGATE
	"$E2E_REPO/hack/dockerd" start "$E2E_DIR" >&2 || bail "private dockerd did not start"
	eval "$("$E2E_REPO/hack/dockerd" env "$E2E_DIR")"
	export E2E_DIR
}

# images_up [busybox|nginx|python]...: build test images (all by default)
# into the daemon of dockerd_up.
images_up() {
	"$E2E_REPO/hack/images" "$E2E_DIR" "$@" >&2 || bail "hack/images failed"
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

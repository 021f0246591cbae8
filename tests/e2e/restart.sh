#!/usr/bin/env bash
# e2e-restart — what podshim keeps of a Docker daemon (the facts that decide
# a default-network member's network: its bridge, version, data-root; see
# runtime/engine/dockerfacts.h) when the daemon restarts behind a listener
# that outlives it, as systemd's docker.socket keeps /run/docker.sock for
# `dockerd -H fd://` (hack/dockerd PODSHIM_DOCKERD_ACTIVATED=1: hack/activate
# keeps the listener and starts dockerd again when it exits).
#
#   nobridge  "bridge": "none": two default-network members share pod a with
#             no network owner (neither has an interface); podshim keeps
#             that the daemon has no bridge, naming the activator as the
#             listener's maker and dockerd as the daemon
#   restart   dockerd restarted with its bridge behind the same listener: a
#             new pod's default-network member owns its network (dockerd
#             gives it an interface); on a hook-less engine podshim asked the
#             new run of the daemon (kept facts keyed by the listener alone
#             would still say "no bridge")
# Addresses only: no traffic leaves the pods (shared/FACTS.md).
# shellcheck disable=SC2016 # single-quoted $VARS: expanded by eval or jq
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
IMG=podshim/busybox
PODSHIM_DOCKERD_BRIDGE=none PODSHIM_DOCKERD_API=1 PODSHIM_DOCKERD_ACTIVATED=1 dockerd_up
images_up busybox
bounded_docker
VERSION=$(docker version --format '{{.Server.Version}}')
ACT=$(<"$E2E_DIR/activator.pid")
D1=$(<"$E2E_DIR/dockerd.pid")
FACTS=$PODSHIM_STATE/dockerd-facts.json
diag "engine $PODSHIM_ENGINE: dockerd $VERSION ($D1), socket-activated by $ACT"
rs_cleanup() {
	local ids
	ids=$(docker ps -aq 2>/dev/null) || true
	# shellcheck disable=SC2086 # a list of IDs
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
}
at_exit rs_cleanup

# --- nobridge -------------------------------------------------------------------------------

check "a default-network member runs in pod a" \
	docker run -d --name a1 --label podshim.pod=a "$IMG" sleep 100000
check "a second one joins it (no bridge: neither brings an interface)" \
	docker run -d --name a2 --label podshim.pod=a "$IMG" sleep 100000
check "...pod a has no network owner" owner_of a ""
check "podshim keeps: no bridge; the activator made the listener, dockerd $D1 serves it" \
	jq -e --argjson act "$ACT" --argjson d "$D1" \
	'.daemons | length == 1 and (.[0] | .bridge == false and .listener[0] == $act and .daemon[0] == $d)' \
	"$FACTS"

# --- restart --------------------------------------------------------------------------------

check "docker rm -f a1 a2" docker rm -f a1 a2
check "daemon.json without \"bridge\": \"none\"" \
	eval 'jq "del(.bridge)" "$E2E_DIR/daemon.json" >"$E2E_DIR/daemon.json.new" &&
		mv "$E2E_DIR/daemon.json.new" "$E2E_DIR/daemon.json"'
check "dockerd $D1 stops" eval 'kill -TERM "$D1" && wait_for -n 150 eval "! kill -0 $D1 2>/dev/null"'
restarted() {
	local d
	d=$(cat "$E2E_DIR/dockerd.pid" 2>/dev/null) || return 1
	[[ -n $d && $d != "$D1" ]] && docker info >/dev/null 2>&1
}
check "the activator starts dockerd again behind the same listener" wait_for -n 300 restarted
D2=$(<"$E2E_DIR/dockerd.pid")
diag "dockerd $D2 behind the listener $ACT made, daemon.json: $(jq -c . "$E2E_DIR/daemon.json")"
check "a new pod's default-network member runs" \
	docker run -d --name b1 --label podshim.pod=b "$IMG" sleep 100000
check "...it owns pod b's network (dockerd gave it an interface: the bridge is back)" \
	owner_of b "$(cid b1)"
check "...eth0 in the pod" docker exec b1 ip -o link show eth0
if engine_hooked; then
	# 20.10: a member with the setkey hook owns by it; nothing is asked.
	diag "dockerd $VERSION gives the member a setkey hook: the daemon is not asked"
else
	check "podshim asked the new run of the daemon: its bridge, dockerd $D2, the same listener" \
		jq -e --argjson act "$ACT" --argjson d "$D2" \
		'.daemons | length == 1 and (.[0] | .bridge == true and .listener[0] == $act and .daemon[0] == $d)' \
		"$FACTS"
fi
check "docker rm -f b1" docker rm -f b1
check "pods a and b are gone" wait_for -n 50 eval '[[ -z $(pods | jq -r ".[].name") ]]'
diag "total $((SECONDS - T0))s"
done_testing

#!/usr/bin/env bash
# e2e-nobridge — pods on a daemon with `"bridge": "none"` (hack/dockerd
# PODSHIM_DOCKERD_BRIDGE=none), where a container on the default network gets
# no interface and no setkey hook (dockerd marks it NetworkDisabled at start,
# and writes that down only after).  podshim asks the daemon (its Engine API,
# PODSHIM_DOCKER_HOST) whether it has its default bridge before it takes such
# a member for one a hook-less dockerd plumbs after create.
#
#   seed      the seed's recipe: app and sidecar both on the default network,
#             sharing pod web: both run, one netns, loopback between them, no
#             network owner; --network none and --network host members too
#   owner     a member on a user-defined network brings the pod an interface
#             and owns its network, whichever came first; default-network
#             members that come after it are never refused
#   second    a second user-defined-network member: shares the owner's eth0
#             (setkey hook dropped) on dockerd < 26; refused on a hook-less
#             dockerd, the message naming the version it saw
#   facts     what podshim keeps of this run of the daemon (no bridge, its
#             data-root, version and PID), asked once: later members are
#             decided without an API call
#   cleanup   pods gone, no veth left
# Addresses only: no traffic leaves the pod's 127.0.0.1 (shared/FACTS.md).
# shellcheck disable=SC2016,SC2034 # single-quoted $VARS: expanded by eval or sh, later
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
IMG=podshim/busybox
PODSHIM_DOCKERD_BRIDGE=none PODSHIM_DOCKERD_API=1 DOCKERD_DEBUG=1 dockerd_up
images_up busybox
bounded_docker
VERSION=$(docker version --format '{{.Server.Version}}')
diag "engine $PODSHIM_ENGINE: dockerd $VERSION, \"bridge\": \"$(jq -r .bridge "$E2E_DIR/daemon.json")\""

pid_of() { docker inspect -f '{{.State.Pid}}' "$1"; }
net_of() { stat -L -c %i "/proc/$(pid_of "$1")/ns/net"; }
same_net() {
	local a b c
	a=$(net_of "$1") || return 1
	for c in "${@:2}"; do
		b=$(net_of "$c") || return 1
		[[ $a == "$b" ]] || { echo "$1: net:[$a], $c: net:[$b]"; return 1; }
	done
}
ids() {
	local c
	for c in "$@"; do cid "$c"; done
}
running() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
fetch() { in_pod "$1" wget -qO- "http://127.0.0.1:$2/"; }
members_owner() { # POD OWNER-NAME|'' NAME...
	local pod=$1 o=$2
	shift 2
	# shellcheck disable=SC2046 # IDs
	pod_is "$pod" $(ids "$@") && owner_of "$pod" "$([[ -z $o ]] || cid "$o")"
}
nb_cleanup() {
	local ids
	ids=$(docker ps -aq 2>/dev/null) || true
	# shellcheck disable=SC2086 # a list of IDs
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
	docker network rm podnet >/dev/null 2>&1 || true
}
at_exit nb_cleanup
HTTPD='mkdir -p /w && echo "$0" >/w/index.html && exec httpd -f -p 127.0.0.1:$1 -h /w'

# --- seed: app and sidecar on the default network -----------------------------------

check "app (default network) runs in pod web" \
	docker run -d --name app --label podshim.pod=web "$IMG" sh -c "$HTTPD" app 8080
check "sidecar (default network) runs in pod web too" \
	docker run -d --name side --label podshim.pod=web "$IMG" sh -c "$HTTPD" side 8081
check "...both running" eval 'running app && running side'
check "app and sidecar share one netns" same_net app side
check "the sidecar reaches the app over 127.0.0.1" wait_for -n 50 eval '[[ $(fetch side 8080) == app ]]'
check "pod web: app and side, no network owner (neither has an interface)" members_owner web "" app side
is "the pod has loopback only" "$(docker exec side ip -o link | awk -F': ' '{ print $2 }')" "lo"
# What podshim keeps of this run of the daemon, asked once (dockerfacts.h).
FACTS=$PODSHIM_STATE/dockerd-facts.json
ROOT=$(docker info -f '{{.DockerRootDir}}')
check "podshim keeps what the daemon said: no bridge, its data-root, its version, its PID" \
	jq -e --arg root "$ROOT" --arg v "$VERSION" --argjson pid "$(<"$E2E_DIR/dockerd.pid")" \
	'.daemons | length == 1 and (.[0] | .bridge == false and .rootDir == $root and .version == $v
		and .daemon[0] == $pid and .listener[0] == $pid)' "$FACTS"
is "...a member's directory is under that data-root (podshim needs not ask whether it made it)" \
	"$(docker inspect -f '{{.HostnamePath}}' app)" "$ROOT/containers/$(cid app)/hostname"
FACTS_AT=$(stat -c %y "$FACTS" 2>/dev/null) || FACTS_AT=none
check "a --network none member joins" docker run -d --name nonem --label podshim.pod=web --network none "$IMG" sleep 100000
check "a --network host member joins" docker run -d --name hostm --label podshim.pod=web --network host "$IMG" sleep 100000
check "...all four in one netns" same_net app side nonem hostm
check "the host-network member reaches the sidecar over 127.0.0.1" \
	wait_for -n 50 eval '[[ $(fetch hostm 8081) == side ]]'

# --- owner: a member with an interface --------------------------------------------------

check "docker network create podnet (a user-defined bridge works without the default one)" \
	docker network create podnet
check "a member on podnet joins pod web" \
	docker run -d --name netm --label podshim.pod=web --network podnet "$IMG" sleep 100000
check "...and owns the pod's network: its eth0 is everyone's" \
	eval 'members_owner web netm app side nonem hostm netm && same_net app netm'
like "the app sees netm's podnet address on eth0" "$(docker exec app ip -o -4 addr show eth0 2>&1)" \
	"inet $(docker inspect -f '{{.NetworkSettings.Networks.podnet.IPAddress}}' netm)/"
check "a default-network member created after the owner is not refused" \
	docker run -d --name late --label podshim.pod=web "$IMG" sleep 100000
check "...it joins, sharing the owner's eth0" eval 'same_net netm late && members_owner web netm app side nonem hostm netm late'
check "pod web2: a default-network member first, then a podnet member: it owns" \
	eval 'docker run -d --name w2a --label podshim.pod=web2 "$IMG" sleep 100000 >/dev/null &&
		docker run -d --name w2b --label podshim.pod=web2 --network podnet "$IMG" sleep 100000 >/dev/null &&
		members_owner web2 w2b w2a w2b && same_net w2a w2b'

# --- second: another member with an interface --------------------------------------------

out=$(docker run -d --name net2 --label podshim.pod=web --network podnet "$IMG" sleep 100000 2>&1) && rc=0 || rc=$?
if engine_hooked; then
	is "a second podnet member joins (dockerd $VERSION: its setkey hook dropped)" "$rc" 0
	check "...sharing the owner's eth0" eval 'same_net netm net2 && members_owner web netm app side nonem hostm netm late net2'
else
	check "a second podnet member is refused (dockerd $VERSION: no setkey hook)" test "$rc" -ne 0
	like "...the message names the engine podshim saw: dockerd $VERSION" "$out" \
		"already has a networked member .*this engine \\(dockerd ${VERSION//+/\\+}, which gives a container no libnetwork-setkey hook\\).*--network none"
	diag "$(grep -o 'pod `web` .*' <<<"$out" | head -n 1)"
	is "...no veth left in the pod" "$(docker exec app ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | paste -sd' ')" "eth0 lo"
fi

is "every later member was decided from what podshim kept (the file never rewritten)" \
	"$(stat -c %y "$FACTS" 2>&1)" "$FACTS_AT"
# dockerd --debug logs each API call ("Calling GET /v1.NN/containers/json?...").
is "...and dockerd was never asked whether it made one (its data-root told)" \
	"$(grep -c 'containers/json?all=1&filters=%7B%22id%22' "$E2E_DIR/dockerd.log")" 0

# --- cleanup -------------------------------------------------------------------------------

NETID=$(docker network inspect -f '{{.Id}}' podnet) || NETID=none
check "docker rm -f every container" eval 'docker rm -f $(docker ps -aq) >/dev/null'
check "pods web and web2 are gone" wait_for -n 50 eval '[[ -z $(pods | jq -r ".[].name") ]]'
check "docker network rm podnet" docker network rm podnet
check "no bridge or veth of podnet left" \
	wait_for -n 25 eval '[[ -z $(in_dockerd_netns ip -o link | grep -e "br-${NETID:0:12}" -e veth) ]]'
diag "total $((SECONDS - T0))s"
done_testing

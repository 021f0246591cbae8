#!/usr/bin/env bash
# Guards for Swarm: two live tasks of one service (its labels faked the way
# dockerd writes a task's, config.v2.json beside the /etc/hostname mount) in
# one pod — a fixed pod name on a replicated service whose replicas share a
# node — the second is refused, naming the service; a task replacing one of
# the same slot (update-order start-first) is not.  `pod list` marks members
# whose process is gone.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

# task ID SERVICE_ID SERVICE_NAME SLOT: a fake Swarm task in pod "fixed".
task() {
	fake_docker "$1" "{\"com.docker.swarm.service.id\":\"$2\",\"com.docker.swarm.service.name\":\"$3\",
		\"com.docker.swarm.task.id\":\"t$1\",\"com.docker.swarm.task.name\":\"$3.$4.t$1\"}"
}
b1=$(mkb W1 -e PODSHIM_POD=fixed -j "$(task W1 svc1 web 1)")
check "web.1 joins pod fixed" create W1 "$b1"
refused "web.2 (same service, another slot) is refused, naming the service" \
	'pod `fixed` already has a live task of Swarm service `web` (container `W1`, slot 1)' \
	"$(mkb W2 -e PODSHIM_POD=fixed -j "$(task W2 svc1 web 2)")"
check "a sidecar (another service) joins the same pod" \
	create S1 "$(mkb S1 -e PODSHIM_POD=fixed -j "$(task S1 svc2 side 1)")"
check "web.1's replacement (same slot, start-first) joins" \
	create W3 "$(mkb W3 -e PODSHIM_POD=fixed -j "$(task W3 svc1 web 1)")"
check "a non-Swarm member joins" create P1 "$(mkb P1 -e PODSHIM_POD=fixed)"
# In global mode the slot is the node ID: one task per node, so one per pod.
check "global task on node n1 joins pod g" \
	create G1 "$(mkb G1 -e PODSHIM_POD=g -j "$(task G1 svc3 glob n1)")"
refused "a second global task (node n2) in the same pod is refused" \
	'already has a live task of Swarm service `glob`' \
	"$(mkb G2 -e PODSHIM_POD=g -j "$(task G2 svc3 glob n2)")"
is "pod.json records the member's service and slot" \
	"$(jq -c '[.members[] | select(.id == "W1") | .swarm_service_name, .swarm_slot]' "$(poddir fixed)/pod.json")" \
	'["web","1"]'
is "pod inspect shows it" "$(shim pod inspect fixed | jq -c '[.[0].member_details[] | .swarm_service]')" \
	'["web","side","web",null]'

is "pod list: every member running" \
	"$(shim pod list --format json | jq -c '.[] | select(.name == "fixed") | .member_states')" \
	'{"W1":"running","S1":"running","W3":"running","P1":"running"}'
w1=$(cpid W1) w3=$(cpid W3)
s1=$(proc_start "$w1") s3=$(proc_start "$w3")
kill -KILL "$w1" "$w3"
check "W1 and W3 die" wait_for 30 eval "! proc_alive $w1 $s1 && ! proc_alive $w3 $s3"
is "pod list --format json marks them gone" \
	"$(shim pod list --format json | jq -c '.[] | select(.name == "fixed") | .member_states')" \
	'{"W1":"gone","S1":"running","W3":"gone","P1":"running"}'
is "pod list (table) marks them gone" "$(shim pod list | awk '$1 == "fixed" { print $NF }')" \
	"W1(gone),S1,W3(gone),P1"
is "pod inspect says gone" "$(shim pod inspect fixed | jq -c '[.[0].member_details[] | .state]')" \
	'["gone","running","gone","running"]'
check "with web.1's tasks gone, web.2 joins" \
	create W2 "$(mkb W2b -e PODSHIM_POD=fixed -j "$(task W2 svc1 web 2)")"
is "and the dead are pruned" \
	"$(shim pod list --format json | jq -c '.[] | select(.name == "fixed") | .member_states')" \
	'{"S1":"running","P1":"running","W2":"running"}'

# dockerd 20.10 gives a `--network host` container its own netns as a path
# (<exec-root>/netns/default): the Swarm sidecar recipe joins the pod all the
# same.  Another path of the member's own stays refused.
hostnet() {
	fake_docker "$1" '{"podshim.pod":"hn"}' >/dev/null
	echo "{\"HostConfig\":{\"NetworkMode\":\"$2\"},\"NetworkMode\":\"$2\"}" >"$T/docker/containers/$1/hostconfig.json"
	fake_docker "$1" '{"podshim.pod":"hn"}'
}
netpath='.linux.namespaces |= map(if .type == "network" then .path = "/proc/'"$$"'/ns/net" else . end)'
check "a --network host member whose netns path is the engine's own joins its pod" \
	create H1 "$(mkb H1 -j "$(hostnet H1 host) | $netpath")"
isnt "and is in the pod's netns, not the host's" "$(nsino "$(cpid H1)" net)" "$(nsino $$ net)"
refused "a bridge member with that path is still refused" 'already joins its network namespace' \
	"$(mkb H2 -j "$(hostnet H2 bridge) | $netpath")"

check "delete everything" del_all W1 W3 S1 P1 W2 G1 H1
check "pod gc leaves nothing" eval 'shim pod gc >/dev/null && no_pods && no_mounts_under "$STATE"'

done_testing

#!/usr/bin/env bash
# cluster-swarm — pods on a 3-node Swarm (tests/cluster/lib.sh: three private
# dockerds on one machine, each in its own network and mount namespace,
# joined over a private subnet in namespaces this test creates).
#
#   global    app + sidecar as global services with a fixed pod name: on
#             every node both tasks in one pod (same netns), the sidecar
#             reaching its node's app over loopback
#   nodeid    PODSHIM_POD=web-{{.Node.ID}}, --replicas 3
#             --replicas-max-per-node 1: the same, one pod per node
#   guard     a fixed pod name on a replicated service whose two replicas
#             share a node: the second is refused, podshim's message naming
#             the service in `docker service ps --no-trunc`
#   slots     measured, not asserted: how often `web-{{.Task.Slot}}` puts a
#             slot's app and sidecar on different nodes (CLUSTER_ROUNDS
#             deployments of 3 slots, default 8)
#   fewer     measured, not asserted: node-ID names with 2 replicas on 3
#             nodes (CLUSTER_ROUNDS / 2 deployments)
#   nobridge  the nodes restarted with "bridge": "none" (their tasks on the
#             default network get no interface and no setkey hook): the
#             seed's recipe, app and sidecar as global services both on the
#             default network with a fixed pod name, pairs on every node
#   teardown  nothing left: no netns, process, mount, cgroup or dir
# A node's daemon crash and a power cut: companions.sh.
# shellcheck disable=SC2016 # single-quoted $VARS and `...` are meant literally
set -euo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

APP_CMD=(sh -c 'mkdir -p /www && echo "app on $NODE" >/www/index.html &&
	exec httpd -f -p 127.0.0.1:8080 -h /www')
SIDE_CMD=(sleep 100000)

cluster_begin 3
is "manager sees $N ready nodes" "$(dn 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" "$N"

# running_tasks SERVICE: "NODE_NUMBER CONTAINER_ID TASK_NAME" of SERVICE's
# running containers on every node.
running_tasks() { service_tasks "$1"; }

# count_running SERVICE WANT: SERVICE has WANT running containers.
count_running() {
	local got
	got=$(running_tasks "$1" | grep -c .) || true
	[[ $got == "$2" ]] || { echo "$1: $got running, want $2"; return 1; }
}

# paired POD_OF_NODE: on every node, the app and sidecar tasks are the two
# members of the node's pod (POD_OF_NODE I prints its name), in one netns,
# and the sidecar gets its own node's app page over loopback.
paired() {
	local i app side pod want
	for ((i = 1; i <= N; i++)); do
		app=$(running_tasks app | awk -v n="$i" '$1 == n { print $2 }')
		side=$(running_tasks side | awk -v n="$i" '$1 == n { print $2 }')
		[[ $app != *$'\n'* && $side != *$'\n'* && -n $app && -n $side ]] ||
			{ echo "node $i: app [$app] side [$side]"; return 1; }
		pod=$($1 "$i")
		want=$(printf '%s\n' "$app" "$side" | sort | tr '\n' ' ')
		[[ $(pshim "$i" pod list --format json | jq -r --arg n "$pod" '.[] | select(.name == $n) | .members[]' |
			sort | tr '\n' ' ') == "$want" ]] || { echo "node $i: pod $pod is not [$want]"; pshim "$i" pod list; return 1; }
		[[ $(netns_of "$i" "$app") == "$(netns_of "$i" "$side")" ]] || { echo "node $i: two netns"; return 1; }
		[[ $(dn "$i" exec "$side" wget -qO- http://127.0.0.1:8080/) == "app on ${CL_NODE_ID[i]}" ]] ||
			{ echo "node $i: sidecar cannot reach its app over loopback"; return 1; }
	done
}

rm_services() {
	dn 1 service rm "$@" >/dev/null || true
	wait_for -n 120 -s 0.5 eval '! running_tasks '"$1"' | grep -q . && ! running_tasks '"${2:-$1}"' | grep -q .' >/dev/null
}

# --- global services with a fixed pod name -------------------------------------
t=$SECONDS
dn 1 service create "${SVC_OPTS[@]}" --name app --mode global --env PODSHIM_POD=pod1 \
	--env 'NODE={{.Node.ID}}' "$IMG" "${APP_CMD[@]}" >/dev/null
dn 1 service create "${SVC_OPTS[@]}" --name side --mode global --network host --env PODSHIM_POD=pod1 \
	"$IMG" "${SIDE_CMD[@]}" >/dev/null
check "global: app and sidecar run on every node" wait_for -n 120 -s 0.5 eval 'count_running app 3 && count_running side 3'
fixed() { echo pod1; }
check "global: on each node both in pod pod1, one netns, sidecar reaches the app over loopback" \
	wait_for -n 30 -s 0.5 paired fixed
rm_services app side
diag "global: $((SECONDS - t))s"

# --- {{.Node.ID}} names, one replica per node ----------------------------------
t=$SECONDS
dn 1 service create "${SVC_OPTS[@]}" --name app --replicas 3 --replicas-max-per-node 1 \
	--env 'PODSHIM_POD=web-{{.Node.ID}}' --env 'NODE={{.Node.ID}}' "$IMG" "${APP_CMD[@]}" >/dev/null
dn 1 service create "${SVC_OPTS[@]}" --name side --replicas 3 --replicas-max-per-node 1 --network host \
	--env 'PODSHIM_POD=web-{{.Node.ID}}' "$IMG" "${SIDE_CMD[@]}" >/dev/null
check "node-ID names: 3 replicas of each, one per node" wait_for -n 120 -s 0.5 eval 'count_running app 3 && count_running side 3'
nodepod() { echo "web-${CL_NODE_ID[$1]}"; }
check "node-ID names: on each node its pod web-<node ID> holds app and sidecar, one netns, loopback" \
	wait_for -n 30 -s 0.5 paired nodepod
rm_services app side
diag "node-ID names: $((SECONDS - t))s"

# --- guard: two tasks of one service in one pod --------------------------------
t=$SECONDS
dn 1 service create "${SVC_OPTS[@]}" --name guard --replicas 2 --constraint "node.id==${CL_NODE_ID[1]}" \
	--env PODSHIM_POD=fixed "$IMG" "${SIDE_CMD[@]}" >/dev/null
refusal() {
	dn 1 service ps --no-trunc --format '{{.Error}}' guard |
		grep -F 'already has a live task of Swarm service `guard`'
}
check "guard: the second task is refused, naming the service (service ps --no-trunc)" wait_for -n 120 -s 0.5 refusal
diag "$(refusal | head -n 1)"
guard_alone() {
	count_running guard 1 || return 1
	[[ $(pshim 1 pod list --format json | jq -c '[.[] | select(.name == "fixed") | .members | length]') == "[1]" ]] ||
		{ echo "pod fixed: $(pshim 1 pod list --format json | jq -c '.[] | select(.name == "fixed") | .member_states')"; return 1; }
}
check "guard: one task runs, alone in pod fixed on node 1" wait_for -n 120 -s 0.5 guard_alone
rm_services guard
diag "guard: $((SECONDS - t))s"

# --- measured: slot-templated names across nodes -------------------------------
t=$SECONDS
split=0 slots=0
for ((r = 1; r <= ${CLUSTER_ROUNDS:-8}; r++)); do
	dn 1 service create "${SVC_OPTS[@]}" --name app --replicas 3 --env 'PODSHIM_POD=web-{{.Task.Slot}}' \
		--env 'NODE={{.Node.ID}}' "$IMG" "${APP_CMD[@]}" >/dev/null
	dn 1 service create "${SVC_OPTS[@]}" --name side --replicas 3 --network host \
		--env 'PODSHIM_POD=web-{{.Task.Slot}}' "$IMG" "${SIDE_CMD[@]}" >/dev/null
	if wait_for -n 120 -s 0.5 eval 'count_running app 3 && count_running side 3' >/dev/null; then
		for s in 1 2 3; do
			a=$(running_tasks app | awk -v p="app.$s." 'index($3, p) == 1 { print $1 }')
			b=$(running_tasks side | awk -v p="side.$s." 'index($3, p) == 1 { print $1 }')
			slots=$((slots + 1))
			[[ $a == "$b" ]] || split=$((split + 1))
		done
	else
		diag "slots round $r: services did not converge"
	fi
	rm_services app side
done
diag "slot names across nodes: $split of $slots slots split (app and sidecar on different nodes), $((SECONDS - t))s"
ok "slot names measured: $split of $slots split"

# --- measured: node-ID names with fewer replicas than nodes -------------------
t=$SECONDS
broken=0 pods=0
for ((r = 1; r <= ${CLUSTER_ROUNDS:-8} / 2; r++)); do
	dn 1 service create "${SVC_OPTS[@]}" --name app --replicas 2 --replicas-max-per-node 1 \
		--env 'PODSHIM_POD=web-{{.Node.ID}}' --env 'NODE={{.Node.ID}}' "$IMG" "${APP_CMD[@]}" >/dev/null
	dn 1 service create "${SVC_OPTS[@]}" --name side --replicas 2 --replicas-max-per-node 1 --network host \
		--env 'PODSHIM_POD=web-{{.Node.ID}}' "$IMG" "${SIDE_CMD[@]}" >/dev/null
	if wait_for -n 120 -s 0.5 eval 'count_running app 2 && count_running side 2' >/dev/null; then
		# a pod is whole when its node runs both; count pods (nodes with either)
		for ((i = 1; i <= N; i++)); do
			a=$(running_tasks app | awk -v n="$i" '$1 == n' | grep -c .) || true
			b=$(running_tasks side | awk -v n="$i" '$1 == n' | grep -c .) || true
			((a + b > 0)) || continue
			pods=$((pods + 1))
			((a == 1 && b == 1)) || broken=$((broken + 1))
		done
	else
		diag "node-ID round $r: services did not converge"
	fi
	rm_services app side
done
diag "node-ID names, 2 replicas on 3 nodes: $broken of $pods pods incomplete, $((SECONDS - t))s"
ok "node-ID names with fewer replicas measured: $broken of $pods pods incomplete"

# --- nobridge: nodes without the default bridge, the seed's recipe ------------
t=$SECONDS
for ((i = 1; i <= N; i++)); do node_stop "$i" & done
wait
diag "nobridge: nodes stopped in $((SECONDS - t))s"
CL_BRIDGE=none
pids=()
for ((i = 1; i <= N; i++)); do
	node_restart "$i" &
	pids+=($!)
done
restarts_ok=1
for p in "${pids[@]}"; do wait "$p" || restarts_ok=0; done
((restarts_ok)) || not_ok "nobridge: the nodes restart with \"bridge\": \"none\""
check "nobridge: $N nodes ready again, each with \"bridge\": \"none\"" eval 'wait_for -n 150 nodes_ready $N >/dev/null &&
	for ((i = 1; i <= N; i++)); do [[ $(jq -r .bridge "$CL_DIR/n$i/daemon.json") == none ]] || exit 1; done'
diag "nobridge: nodes restarted in $((SECONDS - t))s"
dn 1 service create "${SVC_OPTS[@]}" --name app --mode global --env PODSHIM_POD=pod2 \
	--env 'NODE={{.Node.ID}}' "$IMG" "${APP_CMD[@]}" >/dev/null
dn 1 service create "${SVC_OPTS[@]}" --name side --mode global --env PODSHIM_POD=pod2 \
	"$IMG" "${SIDE_CMD[@]}" >/dev/null
check "nobridge: app and sidecar (both on the default network) run on every node" \
	wait_for -n 120 -s 0.5 eval 'count_running app 3 && count_running side 3'
fixed2() { echo pod2; }
no_owner() {
	local i o
	for ((i = 1; i <= N; i++)); do
		o=$(pshim "$i" pod list --format json | jq -r '.[] | select(.name == "pod2") | .network_owner // empty')
		[[ -z $o ]] || { echo "node $i: pod2 network_owner $o"; return 1; }
	done
}
check "nobridge: on each node both in pod pod2, one netns, sidecar reaches the app over loopback" \
	wait_for -n 30 -s 0.5 paired fixed2
check "nobridge: no network owner (no task has an interface)" no_owner
refused=$(dn 1 service ps --no-trunc --format '{{.Error}}' side | grep -c 'networked member') || true
is "nobridge: no task refused as a second networked member" "$refused" 0
rm_services app side
diag "nobridge: $((SECONDS - t))s"

# --- teardown -----------------------------------------------------------------
cluster_end

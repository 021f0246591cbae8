# shellcheck shell=bash
# tests/cluster/lib.sh — a multi-node Swarm on one machine, for podshim's
# cluster tests.  It sources tests/e2e/lib.sh (TAP, wait_for, at_exit).  A
# cluster test:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   # shellcheck source=tests/cluster/lib.sh
#   . "$(dirname "$0")/lib.sh"
#   cluster_begin 3       # nodes n1..n3, swarm formed, test image on each
#   dn 1 service create "${SVC_OPTS[@]}" --name web "$IMG" ...
#   dn 2 service ps web   # the docker CLI pointed at node 2
#   cluster_end           # torn down, nothing left (checked), done_testing
#
# Each node is a private dockerd (hack/dockerd) with its own network
# namespace, mount namespace (unshare --mount: the host's /sys and cgroup
# mounts stay), data-root, exec-root, socket, --cgroup-parent and podshim
# state and data dirs.  The nodes talk over a private subnet 10.251.0.0/24:
# node i is 10.251.0.i on the eth0 of its netns, the other end of a veth
# plugged into bridge br0 of a network namespace this file creates.  No
# address outside these namespaces is used.  PODSHIM_ENGINE (debian12 or
# sid) is honoured by hack/dockerd; CL_NODE_ENV (an array of VAR=VALUE, set
# before cluster_begin) is added to every node's hack/dockerd environment
# (e.g. a daemon option a test needs on all its nodes).
#
# Set by cluster_begin/cluster_up: CL_DIR (the nodes' dirs CL_DIR/nI), CL_BRNS
# (the bridge netns), CL_N and N (node count), CL_NODE_ID[i] (Swarm node ID
# of node i), T0 (when the test began, in $SECONDS).
# Set here for the tests: IMG (the test image, imported on every node) and
# SVC_OPTS (`docker service create` options: detached, quick restarts and
# updates, a bounded number of restarts).

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

# shellcheck disable=SC2034 # for the tests that source this file
IMG=podshim/busybox
# shellcheck disable=SC2034
SVC_OPTS=(-d -q --no-resolve-image --stop-grace-period 1s --restart-delay 1s --update-delay 0s
	--restart-max-attempts 20)
[[ -v CL_NODE_ENV ]] || CL_NODE_ENV=()
CL_SUBNET=10.251.0
CL_NODE_ID=()
CL_N=0
CL_UP=0

# dn I ARGS...: docker against node I.
dn() {
	local i=$1
	shift
	DOCKER_HOST="unix://$CL_DIR/n$i/docker.sock" timeout 120 docker "$@"
}

# pshim I ARGS...: the podshim CLI on node I's state.
pshim() {
	local i=$1
	shift
	bounded "$PODSHIM" --podshim-state "$CL_DIR/n$i/podshim-state" --podshim-data "$CL_DIR/n$i/podshim-data" "$@"
}

# cluster_begin N: the test's start: T0, a cluster of N nodes (cluster_up),
# and a diag line saying how long it took, on which engine.
cluster_begin() {
	T0=$SECONDS
	N=$1
	cluster_up "$N"
	diag "cluster of $N nodes up in $((SECONDS - T0))s (engine ${PODSHIM_ENGINE:-debian12}, $(dn 1 version --format '{{.Server.Version}}'))"
}

# cluster_end: the test's end: the cluster torn down, a test that nothing is
# left on the machine, the time it took, done_testing.
cluster_end() {
	local t=$SECONDS left
	cluster_down
	left=$(cluster_leftovers)
	is "teardown leaves no netns, process, mount, cgroup or dir" "$left" ""
	diag "teardown: $((SECONDS - t))s; whole suite: $((SECONDS - T0))s"
	done_testing
}

# service_tasks SERVICE: "NODE ID TASK" (node number, container ID, task
# name) of SERVICE's running containers on every node.
service_tasks() {
	local i
	for ((i = 1; i <= CL_N; i++)); do
		dn "$i" ps --no-trunc --filter "label=com.docker.swarm.service.name=$1" \
			--format "$i {{.ID}} {{.Label \"com.docker.swarm.task.name\"}}"
	done
}

# netns_of I CONTAINER: the network namespace of CONTAINER on node I.
netns_of() { readlink "/proc/$(dn "$1" inspect -f '{{.State.Pid}}' "$2")/ns/net"; }

# _node_start I: start node I (node_restart: hack/dockerd with its link,
# mount namespace and cgroup parent) and import the test image into it.
_node_start() {
	local i=$1
	node_restart "$i" && "$E2E_REPO/hack/images" "$CL_DIR/n$i" busybox >&2
}

cluster_up() {
	local n=$1 i tok
	[[ -x $PODSHIM ]] || bail "no podshim binary at $PODSHIM (build first)"
	CL_DIR=$(mktemp -d /tmp/cl.XXXXXX)
	local h
	h=$(printf '%s' "$CL_DIR" | sha256sum | cut -c1-8)
	CL_BRNS=podshim-cl-$h
	CL_CGROUP=podshim-cl-$h
	CL_N=$n
	at_exit cluster_down
	ip netns add "$CL_BRNS" || bail "ip netns add $CL_BRNS"
	ip -n "$CL_BRNS" link set lo up
	ip -n "$CL_BRNS" link add br0 type bridge
	ip -n "$CL_BRNS" link set br0 up
	CL_UP=1
	"$E2E_REPO/hack/engine" fetch "${PODSHIM_ENGINE:-debian12}" >&2 ||
		bail "engine ${PODSHIM_ENGINE:-debian12} not available"
	# In parallel: each start waits mostly for its daemon.
	local -a pids=()
	for ((i = 1; i <= n; i++)); do
		_node_start "$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || bail "a node did not start"
	done
	dn 1 swarm init --advertise-addr "$CL_SUBNET.1" --listen-addr "$CL_SUBNET.1:2377" >/dev/null ||
		bail "swarm init"
	tok=$(dn 1 swarm join-token -q worker)
	for ((i = 2; i <= n; i++)); do
		dn "$i" swarm join --token "$tok" --advertise-addr "$CL_SUBNET.$i" \
			--listen-addr "$CL_SUBNET.$i:2377" "$CL_SUBNET.1:2377" >/dev/null ||
			bail "node $i did not join"
	done
	for ((i = 1; i <= n; i++)); do
		CL_NODE_ID[i]=$(dn "$i" info --format '{{.Swarm.NodeID}}')
	done
	wait_for -n 150 nodes_ready "$n" >/dev/null || bail "nodes not ready"
}

# nodes_ready N: the manager sees N nodes Ready.
nodes_ready() {
	[[ $(dn 1 node ls --format '{{.Status}}' | grep -c '^Ready$') == "$1" ]]
}

# node_of_id NODEID: the node number with that Swarm node ID.
node_of_id() {
	local i
	for ((i = 1; i <= CL_N; i++)); do
		[[ ${CL_NODE_ID[i]} == "$1" ]] && { echo "$i"; return 0; }
	done
	return 1
}

# node_pids I: every process of node I: its daemons and shims (command line
# naming its dir), its containers' processes (cgroups under its
# --cgroup-parent) and its pods' pause and holder processes (recorded in its
# podshim state).
node_pids() {
	local i=$1 p pid f
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		# a zombie is dead (its cgroup still shows until it is reaped)
		[[ $(awk '{ print $3 }' "$p/stat" 2>/dev/null) != Z ]] || continue
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$CL_DIR/n$i/" ||
			grep -qF "/$CL_CGROUP-n$i" "$p/cgroup" 2>/dev/null; then
			echo "$pid"
		fi
	done
	for f in "$CL_DIR/n$i"/podshim-state/*/pods/*/pod.json; do
		[[ -f $f ]] || continue
		for pid in $(jq -r '(.pause.pid // .pause_pid // empty), (.holder.pid // empty) | select(type == "number" and . > 0)' "$f" 2>/dev/null); do
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) == podshim-pause &&
				$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]] && echo "$pid"
		done
	done
}

# _kill_all PID...: SIGKILL the PIDs and wait (bounded) until they are gone.
_kill_all() {
	local p t
	(($#)) || return 0
	kill -KILL "$@" 2>/dev/null || true
	for ((t = 0; t < 100; t++)); do
		for p in "$@"; do
			[[ -e /proc/$p && $(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) != Z ]] && break
			p=
		done
		[[ -z $p ]] && return 0
		sleep 0.1
	done
	echo "process $p survived SIGKILL" >&2
	return 1
}

# node_crash I: dockerd and its containerd of node I die (SIGKILL), as when
# the daemon crashes; the shims and the containers keep running.
node_crash() {
	local i=$1 d pids=() p
	d=$CL_DIR/n$i
	pids+=("$(cat "$d/dockerd.pid")")
	for p in /proc/[0-9]*; do
		[[ $(cat "$p/comm" 2>/dev/null) == containerd ]] || continue
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$d/" && pids+=("${p#/proc/}")
	done
	((${#pids[@]} == 2)) || { echo "node $i: dockerd + containerd not found: ${pids[*]}" >&2; return 1; }
	_kill_all "${pids[@]}"
}

# node_poweroff I: every process of node I dies at once (SIGKILL), as when
# the node loses power: daemons, shims, containers, pods' pause processes.
# Its mount namespace (overlay and namespace mounts) dies with them; its
# dirs (data-root, podshim state) stay, as a disk does.
node_poweroff() {
	local i=$1 n
	for n in 1 2 3; do
		# shellcheck disable=SC2046 # a list of PIDs
		_kill_all $(node_pids "$i") || true
	done
	local left p
	left=$(node_pids "$i")
	[[ -z $left ]] || {
		for p in $left; do
			echo "node $i: process left: $p $(awk '{ print $2, $3 }' "/proc/$p/stat" 2>/dev/null) $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")" >&2
		done
		return 1
	}
}

# node_restart I: start node I's daemon (again, on its dirs, as at boot),
# with CL_NODE_ENV in its environment.
# PODSHIM_DOCKER_HOST, inherited by its containerd, shims and so podshim,
# names the node's own API socket: companions are made on their node, and
# podshim asks its own daemon what it plumbs.  CL_BRIDGE=none: the daemon
# has "bridge": "none" (no default bridge).
node_restart() {
	local i=$1
	env "${CL_NODE_ENV[@]}" PODSHIM_DOCKERD_BRIDGE="${CL_BRIDGE:-}" \
		PODSHIM_DOCKERD_LINK="$CL_BRNS:br0:$CL_SUBNET.$i/24" PODSHIM_DOCKERD_MOUNTNS=1 \
		PODSHIM_DOCKERD_CGROUP_PARENT="$CL_CGROUP-n$i" PODSHIM_DOCKER_HOST="unix://$CL_DIR/n$i/docker.sock" \
		"$E2E_REPO/hack/dockerd" start "$CL_DIR/n$i" >&2
}

# node_stop I: node I's dockerd shuts down as at a node's shutdown (SIGTERM:
# it stops its containers and its containerd); its dirs, netns and link stay
# for node_restart.
node_stop() {
	local i=$1 d pid t p left
	d=$CL_DIR/n$i
	pid=$(cat "$d/dockerd.pid" 2>/dev/null) || return 0
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || return 0
	kill -TERM "$pid"
	for ((t = 0; t < 600; t++)); do
		left=
		for p in /proc/[0-9]*; do
			[[ $(cat "$p/comm" 2>/dev/null) =~ ^(dockerd|containerd)$ &&
				$(awk '{ print $3 }' "$p/stat" 2>/dev/null) != Z ]] || continue
			tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$d/" && left=${p#/proc/}
		done
		[[ -n $left ]] || return 0
		sleep 0.1
	done
	echo "node $i: dockerd/containerd $left still running 60 s after SIGTERM" >&2
	return 1
}

# node_status I: the manager's view of node I (ready, down...); node_is I
# STATE: it is STATE.
node_status() {
	dn 1 node inspect --format '{{.Status.State}}' "${CL_NODE_ID[$1]}"
}
node_is() {
	local s
	s=$(node_status "$1")
	[[ $s == "$2" ]] || { echo "node $1: $s"; return 1; }
}

# pod_size_is I POD N: on node I, pod POD has N members; no_pods I: node I
# has no pod.
pod_size_is() {
	local got
	got=$(pshim "$1" pod list --format json | jq -c --arg n "$2" '[.[] | select(.name == $n) | .members | length]')
	[[ $got == "[$3]" ]] || { echo "node $1, pod $2: $got members, want $3"; return 1; }
}
no_pods() {
	local got
	got=$(pshim "$1" pod list --format json | jq -c .)
	[[ $got == "[]" ]] || { echo "node $1 pods: $got"; return 1; }
}

# cluster_leftovers: what the cluster left on the machine (nothing, when
# torn down): its netns, processes mentioning its dir, mounts under it,
# cgroups named after it.
cluster_leftovers() {
	local p i
	ip netns list | grep -E "^($CL_BRNS|podshim-dockerd-)" | while read -r ns _; do
		[[ $ns == "$CL_BRNS" ]] && echo "netns $ns"
		for ((i = 1; i <= CL_N; i++)); do
			[[ $ns == "podshim-dockerd-$(printf '%s' "$CL_DIR/n$i" | sha256sum | cut -c1-12)" ]] &&
				echo "netns $ns"
		done
	done
	for p in /proc/[0-9]*; do
		[[ ${p#/proc/} == "$$" || ${p#/proc/} == "$BASHPID" ]] && continue
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$CL_DIR/" && echo "process ${p#/proc/}"
	done
	grep -F " $CL_DIR" /proc/self/mountinfo | awk '{ print "mount " $5 }'
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -name "$CL_CGROUP*" 2>/dev/null | sed 's/^/cgroup /'
	[[ ! -e $CL_DIR ]] || echo "dir $CL_DIR"
}

# cluster_down: stop the nodes (workers first), remove the bridge netns and
# the dir.  Idempotent.
cluster_down() {
	local i
	((CL_UP)) || [[ -n ${CL_DIR:-} && -e ${CL_DIR:-} ]] || return 0
	# the workers at once (each stop takes ~12 s, mostly dockerd's own
	# shutdown), then the manager
	# (their logs to the test's stderr: how long each took)
	local -a pids=()
	for ((i = CL_N; i >= 2; i--)); do
		"$E2E_REPO/hack/dockerd" stop "$CL_DIR/n$i" 2>&1 | sed "s/^/node $i: /" >&2 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	"$E2E_REPO/hack/dockerd" stop "$CL_DIR/n1" 2>&1 | sed "s/^/node 1: /" >&2 || true
	ip netns del "$CL_BRNS" 2>/dev/null || true
	rm -rf --one-file-system "$CL_DIR" 2>/dev/null || true
	CL_UP=0
}

#!/usr/bin/env bash
# cluster-companions — companions (podshim.companion.NAME) of a replicated
# Swarm service on a 3-node Swarm (tests/cluster/lib.sh).  The service `web`
# has 3 replicas, an httpd on 127.0.0.1:8080 serving its own task name, and
# the task label (--container-label) podshim.companion.probe: a busybox that
# fetches http://127.0.0.1:8080/ over and over.  "Paired" means: every
# running replica has exactly one companion, on the replica's node, running,
# a member of the replica's pod, in the replica's network namespace, whose
# last fetch over loopback returned that replica's page; and no companion
# anywhere whose anchor does not run.
#
#   deploy   3 replicas, paired
#   crash    dockerd + containerd of node 3 SIGKILLed (its shims and
#            containers live on) and every process of node 2 (a power cut),
#            at once: both Down, Swarm moves their replicas to node 1, each
#            paired there; both daemons start again: their old anchors do
#            not run, their old companions (restart policy "always") are
#            removed and never started, no companion is started alone, no
#            pod is left on them; measured: a plain `--restart always`
#            member of node 3's replica's pod at boot
#   update   `docker service update --force`: every replica replaced, paired,
#            no companion of an old replica left
#   rm       `docker service rm`: no companion container on any node, every
#            node's `pod list` empty
#   teardown nothing left: no netns, process, mount, cgroup or dir
#
# Figures (diag): paired replicas of running replicas at each check, the
# times of each phase.
# shellcheck disable=SC2016 # single-quoted $VARS are meant literally
set -euo pipefail
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

APP_CMD=(sh -c 'mkdir -p /www && echo "$TASK" >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www')
PROBE='{"image":"podshim/busybox","command":["sh","-c","while :; do wget -qO- http://127.0.0.1:8080/ >/tmp/got.new 2>&1 && mv /tmp/got.new /tmp/got; sleep 0.3; done"],"restart":"always"}'

# (a podshim binary built without companions does not know the option)
if [[ $(head -c 4 "$PODSHIM" 2>/dev/null) == $'\x7fELF' ]] && ! grep -qaF podshim-docker-host "$PODSHIM"; then
	echo "1..0 # SKIP $PODSHIM has no companions (no --podshim-docker-host)"
	exit 0
fi

cluster_begin 3

# anchors: "NODE ID TASK" of web's running containers on every node.
anchors() { service_tasks web; }

# companions [-a]: "NODE ID ANCHOR_ID STATE" of the companions on every node
# (-a: also those not running).
companions() {
	local i
	for ((i = 1; i <= N; i++)); do
		dn "$i" ps "$@" --no-trunc --filter label=podshim.companion-of \
			--format "$i {{.ID}} {{.Label \"podshim.companion-of\"}} {{.State}}"
	done
}

# paired WANT: WANT replicas run and every one is paired (see above); prints
# "P of R paired" and why not.  PAIRED/REPLICAS are set for the figures.
PAIRED=0 REPLICAS=0
paired() {
	local want=$1 node id task c n got pod bad=0 all
	local -a lines
	mapfile -t lines < <(anchors)
	REPLICAS=${#lines[@]} PAIRED=0
	all=$(companions)
	for l in "${lines[@]}"; do
		read -r node id task <<<"$l"
		c=$(awk -v n="$node" -v a="$id" '$1 == n && $3 == a && $4 == "running" { print $2 }' <<<"$all")
		n=$(awk -v a="$id" '$3 == a' <<<"$all" | grep -c .) || true
		[[ -n $c && $c != *$'\n'* && $n == 1 ]] || { echo "$task on node $node: companions [$(awk -v a="$id" '$3 == a' <<<"$all" | tr '\n' ' ')]"; continue; }
		[[ $(netns_of "$node" "$id") == "$(netns_of "$node" "$c")" ]] || { echo "$task: its companion is in another netns"; continue; }
		pod=$(pshim "$node" pod list --format json |
			jq -r --arg a "$id" --arg c "$c" '.[] | select((.members | index($a)) and (.members | index($c))) | .name')
		[[ -n $pod ]] || { echo "$task: no pod on node $node holds it and its companion"; continue; }
		got=$(dn "$node" exec "$c" cat /tmp/got 2>&1) || true
		[[ $got == "$task" ]] || { echo "$task: its companion got [$got] over loopback"; continue; }
		PAIRED=$((PAIRED + 1))
	done
	# no companion whose anchor is not a running replica
	while read -r node c id _; do
		[[ -n $node ]] || continue
		printf '%s\n' "${lines[@]}" | awk -v a="$id" '$2 == a' | grep -q . ||
			{ echo "node $node: companion ${c:0:12} of ${id:0:12}, which is not a running replica"; bad=1; }
	done < <(companions -a)
	echo "$PAIRED of $REPLICAS paired"
	((REPLICAS == want && PAIRED == want && !bad))
}

# check_paired DESC WANT: wait until paired WANT; record the figure.
FIG=()
check_paired() {
	local out
	if out=$(wait_for -n 60 -s 0.5 paired "$2" 2>&1); then
		ok "$1"
	else
		not_ok "$1" "$out"
	fi
	paired "$2" >/dev/null 2>&1 || true
	FIG+=("$1: $PAIRED of $REPLICAS")
	diag "$PAIRED of $REPLICAS replicas paired ($((SECONDS - t))s)"
}

# --- deploy --------------------------------------------------------------------
t=$SECONDS
dn 1 service create "${SVC_OPTS[@]}" --name web --replicas 3 --env 'TASK={{.Task.Name}}' \
	--container-label "podshim.companion.probe=$PROBE" "$IMG" "${APP_CMD[@]}" >/dev/null
check_paired "deploy: every replica's companion on its node, in its pod and netns, reaching it over 127.0.0.1" 3

# --- node 3's daemon crashes, node 2 loses power ------------------------------
# Node 3: dockerd + containerd SIGKILLed, its shims and containers live on
# unseen.  Node 2: every process of it SIGKILLed at once (as a power cut; its
# mount namespace goes, its disk stays).  Swarm moves their replicas to node
# 1.  Then both daemons start again, at once: dockerd restores its
# containers and restarts those with a restart policy (the companions have
# "always"), before its API answers.
t=$SECONDS
declare -A OLDA OLDC
for v in 2 3; do
	OLDA[$v]=$(anchors | awk -v v=$v '$1 == v { print $2 }' | tr '\n' ' ')
	OLDC[$v]=$(companions | awk -v v=$v '$1 == v { print $2 }' | tr '\n' ' ')
	diag "node $v ran $(wc -w <<<"${OLDA[$v]}") replica(s) and $(wc -w <<<"${OLDC[$v]}") companion(s)"
done
# For contrast, a plain `docker run --restart always` member of node 3's
# replica's pod (no companion: what a restart policy alone does at boot).
plainpod=
if [[ -n ${OLDA[3]// /} ]]; then
	plainpod=$(pshim 3 pod list --format json | jq -r --arg a "${OLDA[3]%% *}" '.[] | select(.members | index($a)) | .name')
	dn 3 run -d -q --name plain --restart always --network none --label "podshim.pod=$plainpod" \
		"$IMG" sleep 100000 >/dev/null || plainpod=
fi
check "crash: dockerd and containerd of node 3 SIGKILLed" node_crash 3
check "power cut: every process of node 2 SIGKILLed" node_poweroff 2
check "the manager marks nodes 2 and 3 down" wait_for -n 240 -s 0.5 eval 'node_is 2 down && node_is 3 down'
diag "nodes 2 and 3 down after $((SECONDS - t))s"
on1() {
	local got
	got=$(dn 1 ps -q --filter label=com.docker.swarm.service.name=web | grep -c .) || true
	((got == 3)) || { echo "$got replicas on node 1"; return 1; }
}
check "Swarm runs the 3 replicas on node 1" wait_for -n 240 -s 0.5 on1
diag "replicas moved $((SECONDS - t))s after the kills"
boot=$(date +%s)
pids=()
for v in 2 3; do
	node_restart $v &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
is "the daemons of nodes 2 and 3 start again" "$rc" 0
check "nodes 2 and 3 ready again" wait_for -n 120 -s 0.5 eval 'node_is 2 ready && node_is 3 ready'
# old_gone V: on node V, none of its old anchors runs, none of its old
# companions exists, no pod is left.
old_gone() {
	local v=$1 x
	for x in ${OLDA[$v]}; do
		[[ $(dn "$v" inspect -f '{{.State.Running}}' "$x" 2>/dev/null || echo false) == false ]] ||
			{ echo "old anchor ${x:0:12} runs"; return 1; }
	done
	for x in ${OLDC[$v]}; do
		! dn "$v" inspect "$x" >/dev/null 2>&1 ||
			{ echo "old companion ${x:0:12}: $(dn "$v" inspect -f '{{.State.Status}}' "$x")"; return 1; }
	done
	no_pods "$v"
}
if [[ -n $plainpod ]]; then
	if wait_for -n 60 -s 0.5 eval 'pod_size_is 3 "$plainpod" 1 && [[ $(dn 3 inspect -f "{{.State.Running}}" plain) == true ]]' >/dev/null; then
		diag "node 3: the plain --restart always member was started again at boot, alone in pod $plainpod"
		ok "measured: a plain --restart always member comes back alone (its replica is on another node)"
	else
		diag "node 3: the plain member: $(dn 3 ps -a --filter name=plain --format '{{.Status}}'), pods: $(pshim 3 pod list --format json | jq -c '[.[] | {name, members}]')"
		ok "measured: a plain --restart always member did not come back alone"
	fi
	dn 3 rm -f plain >/dev/null
fi
for v in 2 3; do
	check "node $v: its old anchors do not run, its old companions are removed, no pod left" \
		wait_for -n 120 -s 0.5 old_gone $v
done
check_paired "every replica paired after the crash, the power cut and the restarts" 3
# what the restarted daemons did with the old companions, and whether they
# started any companion whose anchor does not run
for v in 2 3; do
	now=$(date +%s)
	ev=
	for c in ${OLDC[$v]}; do
		ev+="$(dn $v events --since "$boot" --until "$now" --filter "container=$c" --format '{{.Action}}' | sort -u | tr '\n' ' ')| "
	done
	diag "node $v: events of its old companions since its boot: ${ev:-none}"
	# dockerd restarts a companion ("always") at boot: podshim refuses it
	refused=$(grep -c 'its anchor is not running' "$CL_DIR/n$v/dockerd.log") || true
	if [[ -n ${OLDC[$v]// /} ]]; then
		like "node $v: at boot dockerd restarted its old companion and podshim refused it (dockerd.log)" \
			"$refused" '^[1-9]'
	fi
	if [[ " $ev " != *" start "* ]]; then
		ok "node $v: no old companion started after its boot"
	else
		not_ok "node $v: no old companion started after its boot" "$ev"
	fi
	alone=$(dn $v events --since "$boot" --until "$now" --filter label=podshim.companion-of \
		--filter event=start --format '{{.Actor.ID}}')
	bad=
	for c in $alone; do
		x=$(dn $v inspect -f '{{index .Config.Labels "podshim.companion-of"}}' "$c" 2>/dev/null) || continue
		[[ $(dn $v inspect -f '{{.State.Running}}' "$x" 2>/dev/null) == true ]] || bad+=" ${c:0:12}"
	done
	is "node $v: every companion started since its boot has a running anchor" "$bad" ""
done
diag "crash and power cut: $((SECONDS - t))s"

# --- rolling update --------------------------------------------------------------
t=$SECONDS
before=$(anchors | awk '{ print $2 }' | sort)
dn 1 service update -q -d --force web >/dev/null
replaced() {
	local now
	now=$(anchors | awk '{ print $2 }' | sort)
	! comm -12 <(printf '%s\n' "$before") <(printf '%s\n' "$now") | grep -q . || { echo "not all replaced"; return 1; }
}
check "update --force: every replica replaced" wait_for -n 240 -s 0.5 replaced
check_paired "update --force: every new replica paired, no old companion left" 3

# --- service rm ------------------------------------------------------------------
t=$SECONDS
dn 1 service rm web >/dev/null
nothing_left() {
	local i
	[[ -z $(anchors) ]] || { echo "replicas: $(anchors | tr '\n' ' ')"; return 1; }
	[[ -z $(companions -a) ]] || { echo "companions: $(companions -a | tr '\n' ' ')"; return 1; }
	for ((i = 1; i <= N; i++)); do
		no_pods "$i" || return 1
	done
}
check "service rm: no companion container on any node, no pod" wait_for -n 240 -s 0.5 nothing_left
diag "service rm: $((SECONDS - t))s"

diag "figures (paired of running replicas):" "${FIG[@]}"

# --- teardown -----------------------------------------------------------------
cluster_end

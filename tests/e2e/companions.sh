#!/usr/bin/env bash
# tests/e2e/companions.sh — companions (podshim.companion.NAME labels) through
# a private dockerd, podshim its default runtime with --podshim-docker-host
# naming that daemon's API socket (through a symlink the test can take away):
#  - dockerd killed and started again: restored containers with restart
#    policies end with exactly one running companion per anchor;
#  - an anchor with one companion: the companion is a `--network none`
#    container of the anchor's own pod, reaches it over 127.0.0.1, carries the
#    contract's labels, and `pod list` shows it;
#  - stop+start of the anchor gets it back; `docker rm -f` removes it;
#  - a bad spec and a missing, unpullable image fail the anchor with
#    podshim's message naming the companion, leaving no companion behind;
#  - a companion whose anchor is not running is refused and removed;
#  - with the API not answering, the anchor starts at once and the companion
#    comes once the API does;
#  - the anchor's start time with and without one companion (diag).
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

DOCKER_BIN=$(type -P docker)
docker() { timeout 120 "$DOCKER_BIN" "$@"; }
IMG=podshim/busybox

# The runtime dockerd runs: podshim with --podshim-docker-host naming a
# symlink to the daemon's socket (a wrapper, so that it survives a restart
# of the daemon, which rewrites daemon.json).
[[ -x $PODSHIM ]] || { echo "Bail out! no podshim binary at $PODSHIM (build first)"; exit 1; }
WRAP_DIR=$(mktemp -d /tmp/cmp.XXXXXX)
at_exit rm -rf -- "$WRAP_DIR"
API=$WRAP_DIR/api.sock
printf '#!/bin/sh\nexec %q --podshim-docker-host unix://%q "$@"\n' "$(realpath "$PODSHIM")" "$API" >"$WRAP_DIR/podshim"
chmod 755 "$WRAP_DIR/podshim"
PODSHIM=$WRAP_DIR/podshim

dockerd_up
images_up busybox
ln -s "$E2E_DIR/docker.sock" "$API"
# The API versions the daemon serves: on sid (dockerd 28.5), the meson setup
# raises the floor to 1.44 (DOCKER_MIN_API_VERSION), as Docker 29 has it, so
# that podshim must speak the daemon's version, not 1.41.
if [[ ${PODSHIM_ENGINE:-debian12} == sid ]]; then
	is "the daemon refuses API versions below 1.44, as Docker 29 does" \
		"$(docker version --format '{{.Server.MinAPIVersion}}' 2>&1)" 1.44
else
	is "the daemon serves API 1.41 at most (dockerd 20.10)" \
		"$(docker version --format '{{.Server.APIVersion}}' 2>&1)" 1.41
fi
like "dockerd runs podshim through the wrapper" "$(docker info --format '{{json .Runtimes}}' 2>&1)" "$WRAP_DIR/podshim"

companions_left() { docker ps -aq --filter label=podshim.companion-of; }
no_companions() { [[ -z $(companions_left) ]]; }
gone() { ! docker inspect "$1" >/dev/null 2>&1; }
running() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
at_exit eval 'ids=$(docker ps -aq); [[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1'

APP='mkdir -p /www && echo hello-from-anchor >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
PROBE='{"image":"podshim/busybox","command":["sh","-c","while :; do wget -qO- http://127.0.0.1:8080/ >/tmp/got.new 2>&1 && mv /tmp/got.new /tmp/got; sleep 0.3; done"],"restart":"always"}'

# --- one anchor, one companion -------------------------------------------------

check "anchor with a companion: docker run" \
	docker run -d --name web --label "podshim.companion.probe=$PROBE" "$IMG" sh -c "$APP"
WEB=$(docker inspect -f '{{.Id}}' web 2>/dev/null)
check "the companion web.probe runs" wait_for -n 100 -s 0.2 running web.probe
is "the companion has --network none" "$(docker inspect -f '{{.HostConfig.NetworkMode}}' web.probe 2>&1)" none
is "the companion's labels: pod, anchor, name" \
	"$(docker inspect -f '{{index .Config.Labels "podshim.pod"}} {{index .Config.Labels "podshim.companion-of"}} {{index .Config.Labels "podshim.companion-name"}}' web.probe 2>&1)" \
	"web $WEB probe"
is "its restart policy is the spec's" "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' web.probe 2>&1)" always
check "the companion reaches the anchor over 127.0.0.1" \
	wait_for -n 50 -s 0.2 docker exec web.probe grep -qx hello-from-anchor /tmp/got
PROBE_ID=$(docker inspect -f '{{.Id}}' web.probe 2>/dev/null)
check "pod web has both as members" pod_is web "$WEB" "$PROBE_ID"
is "pod list --format json shows the companion and its state" \
	"$(pods | jq -c '.[] | select(.name == "web") | .companions' 2>&1)" \
	"[{\"name\":\"probe\",\"container\":\"web.probe\",\"anchor\":\"$WEB\",\"id\":\"$PROBE_ID\",\"state\":\"running\"}]"
is "pod inspect marks it as a companion" \
	"$(podshim_cli pod inspect web 2>/dev/null | jq -r --arg id "$PROBE_ID" '.. | objects | select(.id? == $id and has("companion_of")) | "\(.companion) \(.companion_of)"' 2>&1)" \
	"probe $WEB"

# A companion that exits is restarted by dockerd per its restart policy (its
# create passes: its anchor runs).
PPID1=$(docker inspect -f '{{.State.Pid}}' web.probe 2>/dev/null)
[[ $PPID1 =~ ^[0-9]+$ && $PPID1 -gt 1 ]] && kill -KILL "$PPID1"
restarted() { [[ $(docker inspect -f '{{.RestartCount}}' web.probe) -ge 1 ]] && running web.probe; }
check "a companion killed behind dockerd's back is restarted (restart: always)" wait_for -n 100 -s 0.2 restarted
check "and reaches the anchor again" \
	wait_for -n 50 -s 0.2 docker exec web.probe sh -c 'rm -f /tmp/got; sleep 1; grep -qx hello-from-anchor /tmp/got'

check "docker stop of the anchor" docker stop -t 1 web
check "its companion is removed with its container" wait_for -n 100 -s 0.2 gone web.probe
check "docker start of the anchor" docker start web
check "the companion is back" wait_for -n 100 -s 0.2 running web.probe
check "and reaches the anchor again" \
	wait_for -n 50 -s 0.2 docker exec web.probe grep -qx hello-from-anchor /tmp/got
check "docker rm -f of the anchor" docker rm -f web
check "removes its companion" wait_for -n 100 -s 0.2 gone web.probe
check "and its pod" wait_for -n 50 -s 0.2 pod_is web

# --- a companion that waits for its anchor; a compose project's scope ----------

# Its start waits for the anchor's port, so it is started after the anchor's
# (a detached podshim): the anchor's start must not wait for it.
WAITER='{"image":"podshim/busybox","command":["sh","-c","wget -qO- http://127.0.0.1:8080/ >/tmp/first 2>&1; exec sleep 1000"],"wait":"tcp:8080"}'
check "anchor with a companion that waits for its port: docker run" \
	docker run -d --name wt --label "podshim.companion.w=$WAITER" "$IMG" sh -c "sleep 1; $APP"
check "the waiting companion runs" wait_for -n 100 -s 0.2 running wt.w
check "its first request found the anchor listening" \
	wait_for -n 50 -s 0.2 docker exec wt.w grep -qx hello-from-anchor /tmp/first
check "docker rm -f wt" docker rm -f wt
check "removes its companion" wait_for -n 100 -s 0.2 gone wt.w

VOLPROBE='{"image":"podshim/busybox","command":["sh","-c","while :; do wget -qO- http://127.0.0.1:8080/ >/tmp/got.new 2>&1 && mv /tmp/got.new /tmp/got; sleep 0.3; done"],"volumes":["/shared"]}'
check "anchor in compose project shop, with pod volume /shared: docker run" \
	docker run -d --name cs --label com.docker.compose.project=shop --label podshim.volumes=/shared \
	--label "podshim.companion.probe=$VOLPROBE" "$IMG" sh -c "echo from-anchor >/shared/note; $APP"
check "its companion runs" wait_for -n 100 -s 0.2 running cs.probe
is "the companion carries the project label" \
	"$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' cs.probe 2>&1)" shop
is "both are in pod cs of scope compose:shop" \
	"$(pods | jq -r '.[] | select(.name == "cs") | "\(.scope) \(.members | length) \(.companions[0].state)"' 2>&1)" \
	"compose:shop 2 running"
check "and the companion reaches the anchor" \
	wait_for -n 50 -s 0.2 docker exec cs.probe grep -qx hello-from-anchor /tmp/got
check "and reads the anchor's file in their pod volume /shared" \
	wait_for -n 50 -s 0.2 docker exec cs.probe grep -qx from-anchor /shared/note
check "docker rm -f cs" docker rm -f cs
check "removes its companion" wait_for -n 100 -s 0.2 gone cs.probe

# An OCI annotation declares one too (API >= 1.43, engine >= 24; dockerd 20.10
# passes no annotation).
api=$(docker version --format '{{.Server.APIVersion}}')
if [[ $(printf '%s\n' "$api" 1.43 | sort -V | head -n1) == 1.43 ]]; then
	check "anchor with a companion declared by --annotation: docker run" \
		docker run -d --name ann --annotation "podshim.companion.probe=$PROBE" "$IMG" sh -c "$APP"
	check "its companion runs and reaches it" \
		wait_for -n 100 -s 0.2 docker exec ann.probe grep -qx hello-from-anchor /tmp/got
	check "docker rm -f ann" docker rm -f ann
	check "removes its companion" wait_for -n 100 -s 0.2 gone ann.probe
else
	skip "--annotation needs API 1.43 (this engine: $api)"
	skip "--annotation needs API 1.43"
	skip "--annotation needs API 1.43"
	skip "--annotation needs API 1.43"
fi

# --- refusals ------------------------------------------------------------------

out=$(docker run -d --name bad --label 'podshim.companion.side={"image":"podshim/busybox","privileged":true}' "$IMG" sleep 100 2>&1)
like "an unknown key fails the anchor, naming the companion and the key" \
	"$out" 'companion `side`: unknown key `privileged`'
out=$(docker run -d --name bad2 --label 'podshim.companion.side={"image":"podshim/busybox","command":"sleep 1"}' "$IMG" sleep 100 2>&1)
like "a wrong type fails the anchor, naming the companion and the key" \
	"$out" 'companion `side`: `command` must be an array of strings'
check "nothing of theirs is left" no_companions
docker rm -f bad bad2 >/dev/null 2>&1

out=$(docker run -d --name miss --label "podshim.companion.a=$PROBE" \
	--label 'podshim.companion.b={"image":"podshim-test/nosuch:1"}' "$IMG" sleep 100 2>&1)
like "a missing, unpullable image fails the anchor's start, naming the companion and the image" \
	"$out" 'companion `b` \(container `miss.b`\).*image `podshim-test/nosuch:1` is not on this node and cannot be pulled'
check "the companion made before it is removed: nothing left" wait_for -n 100 -s 0.2 no_companions
is "the anchor did not run" "$(docker inspect -f '{{.State.Running}}' miss 2>&1)" false
docker rm -f miss >/dev/null 2>&1

# A companion whose anchor is not running: made here by hand with the labels
# podshim gives companions, for an anchor that exists but was never started
# (as after a reboot, when dockerd restarts a companion with a restart policy
# before, or without, its anchor).
check "an anchor created, not started" docker create --name idle --label "podshim.companion.probe=$PROBE" "$IMG" sleep 100
IDLE=$(docker inspect -f '{{.Id}}' idle 2>/dev/null)
out=$(docker run -d --name idle.probe --network none --label podshim.pod=idle \
	--label "podshim.companion-of=$IDLE" --label podshim.companion-name=probe "$IMG" sleep 100 2>&1)
like "a companion of an anchor that does not run is refused" "$out" \
	'companion `probe` of `.{12}` refused: its anchor is not running'
check "and removed" wait_for -n 100 -s 0.2 gone idle.probe
check "and its pod is gone" wait_for -n 50 -s 0.2 pod_is idle
docker rm -f idle >/dev/null 2>&1

# --- the API does not answer (dockerd restoring at boot) ------------------------

rm -f "$API"
t0=$(date +%s%N)
check "anchor start with the API away: docker run" \
	docker run -d --name late --label "podshim.companion.probe=$PROBE" "$IMG" sh -c "$APP"
t1=$(date +%s%N)
diag "anchor run with the API away: $(((t1 - t0) / 1000000)) ms"
check "the anchor runs" running late
sleep 2
check "no companion yet" gone late.probe
ln -s "$E2E_DIR/docker.sock" "$API"
# The API versions the daemon serves: on sid (dockerd 28.5), the meson setup
# raises the floor to 1.44 (DOCKER_MIN_API_VERSION), as Docker 29 has it, so
# that podshim must speak the daemon's version, not 1.41.
if [[ ${PODSHIM_ENGINE:-debian12} == sid ]]; then
	is "the daemon refuses API versions below 1.44, as Docker 29 does" \
		"$(docker version --format '{{.Server.MinAPIVersion}}' 2>&1)" 1.44
else
	is "the daemon serves API 1.41 at most (dockerd 20.10)" \
		"$(docker version --format '{{.Server.APIVersion}}' 2>&1)" 1.41
fi
check "the companion comes once the API answers" wait_for -n 100 -s 0.2 running late.probe
check "and reaches its anchor" \
	wait_for -n 50 -s 0.2 docker exec late.probe grep -qx hello-from-anchor /tmp/got
check "docker rm -f late" docker rm -f late
check "removes its companion" wait_for -n 100 -s 0.2 gone late.probe

# --- a Swarm service: one companion per replica, on its node ---------------------

swarm_cleanup() {
	local s
	for s in $(docker service ls -q 2>/dev/null); do
		docker service rm "$s" >/dev/null 2>&1 || true
	done
	wait_for -n 100 -s 0.2 sh -c '[ -z "$(docker ps -q --filter label=com.docker.swarm.service.name)" ]' >/dev/null 2>&1 || true
	docker swarm leave --force >/dev/null 2>&1 || true
	docker network rm docker_gwbridge >/dev/null 2>&1 || true
}
at_exit swarm_cleanup
SVC_OPTS=(-d -q --no-resolve-image --stop-grace-period 1s --restart-delay 1s --restart-max-attempts 5)
task_companions() {
	local n=0 t
	for t in $(docker ps -q --filter label=com.docker.swarm.service.name=sweb); do
		local name
		name=$(docker inspect -f '{{.Name}}' "$t") || return 1
		running "${name#/}.probe" || { echo "no running ${name#/}.probe"; return 1; }
		docker exec "${name#/}.probe" grep -qx hello-from-anchor /tmp/got || { echo "${name#/}.probe: no answer yet"; return 1; }
		n=$((n + 1))
	done
	[[ $n == 2 ]] || { echo "$n tasks"; return 1; }
}
if docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1; then
	ok "docker swarm init"
	check "service sweb, 2 replicas, each with a companion: service create" \
		docker service create "${SVC_OPTS[@]}" --name sweb --replicas 2 \
		--container-label "podshim.companion.probe=$PROBE" "$IMG" sh -c "$APP"
	check "each replica's companion runs and reaches its own task over 127.0.0.1" \
		wait_for -n 150 -s 0.4 task_companions
	OLD_COMP=$(docker ps -q --no-trunc --filter label=podshim.companion-of | sort)
	check "docker service update --force sweb (a rolling update)" \
		docker service update -d -q --force --update-delay 0s sweb
	replaced() {
		task_companions || return 1
		local now
		now=$(docker ps -aq --no-trunc --filter label=podshim.companion-of | sort)
		[[ $(wc -w <<<"$now") == 2 ]] || { echo "companions: $now"; return 1; }
		[[ -z $(comm -12 <(echo "$OLD_COMP") <(echo "$now")) ]] || { echo "old companions left"; return 1; }
	}
	check "the new tasks have new companions; the old ones are gone" wait_for -n 200 -s 0.4 replaced
	check "docker service rm sweb" docker service rm sweb
	check "removes every companion" wait_for -n 150 -s 0.2 no_companions
	check "a companion with a missing image: service create" \
		docker service create "${SVC_OPTS[@]}" --name sbad --replicas 1 \
		--container-label 'podshim.companion.x={"image":"podshim-test/nosuch:1"}' "$IMG" sleep 1000
	svc_err() { docker service ps --no-trunc --format '{{.Error}}' sbad | grep -F 'companion `x`'; }
	check "docker service ps --no-trunc shows podshim's message naming it" wait_for -n 150 -s 0.4 svc_err
	check "docker service rm sbad" docker service rm sbad
	check "nothing of it is left" wait_for -n 150 -s 0.2 no_companions
	swarm_cleanup
else
	not_ok "docker swarm init"
fi

# --- dockerd crashes: containers restored with restart policies ----------------

# dockerd restores (and restarts) containers before it serves its API, in any
# order: the anchor's start must not wait for the API, a companion restarted
# before its anchor is refused, and in the end the anchor has exactly one
# running companion again.
ALWAYS='{"image":"podshim/busybox","command":["sh","-c","while :; do wget -qO- http://127.0.0.1:8080/ >/tmp/got.new 2>&1 && mv /tmp/got.new /tmp/got; sleep 0.3; done"],"restart":"always"}'
check "an anchor with --restart always and a restart:always companion" \
	docker run -d --name rs --restart always --label "podshim.companion.probe=$ALWAYS" "$IMG" sh -c "$APP"
RS=$(docker inspect -f '{{.Id}}' rs 2>/dev/null)
check "its companion runs" wait_for -n 100 -s 0.2 running rs.probe
OLD_PROBE=$(docker inspect -f '{{.Id}}' rs.probe 2>/dev/null)
DPID=$(<"$E2E_DIR/dockerd.pid")
kill -KILL "$DPID"
check "dockerd killed" wait_for -n 100 -s 0.1 sh -c "! kill -0 $DPID 2>/dev/null"
t0=$(date +%s%N)
check "dockerd started again on the same state (it restores the containers)" "$E2E_REPO/hack/dockerd" start "$E2E_DIR"
diag "dockerd up again after $((($(date +%s%N) - t0) / 1000000)) ms"
one_companion() {
	running rs || { echo "rs not running"; return 1; }
	local ids
	ids=$(docker ps -aq --no-trunc --filter "label=podshim.companion-of=$RS")
	[[ $(wc -w <<<"$ids") == 1 ]] || { echo "companions of rs: $ids"; return 1; }
	running "$ids" || { echo "companion $ids not running"; return 1; }
	docker exec "$ids" grep -qx hello-from-anchor /tmp/got || { echo "no answer yet"; return 1; }
}
check "the anchor runs again with exactly one running companion reaching it" \
	wait_for -n 200 -s 0.3 one_companion
diag "companion after the crash: $(docker ps -aq --no-trunc --filter "label=podshim.companion-of=$RS" | cut -c1-12)," \
	"before: ${OLD_PROBE:0:12}"
is "pod rs: the anchor and its companion, both running" \
	"$(pods | jq -r '.[] | select(.name == "rs") | [.member_states[]] | sort | join(",")' 2>&1)" "running,running"
check "docker rm -f rs" docker rm -f rs
check "removes its companion" wait_for -n 100 -s 0.2 no_companions

# --- start time with and without a companion ------------------------------------

ms() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; b=$(date +%s%N); echo $(((b - a) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "n/a")}'; }
without=() with=()
for i in 1 2 3 4 5; do
	docker create --name t0-$i --label podshim.pod=t0-$i "$IMG" sleep 100 >/dev/null
	docker create --name t1-$i --label "podshim.companion.side={\"image\":\"$IMG\",\"command\":[\"sleep\",\"100\"]}" "$IMG" sleep 100 >/dev/null
	without+=("$(ms docker start t0-$i)")
	with+=("$(ms docker start t1-$i)")
done
w0=$(printf '%s\n' "${without[@]}" | median)
w1=$(printf '%s\n' "${with[@]}" | median)
diag "docker start of a pod member: median ${w0} ms (${without[*]})" \
	"docker start of an anchor with one companion: median ${w1} ms (${with[*]})"
is "every anchor got its companion" "$(docker ps -q --filter label=podshim.companion-of | wc -l)" 5
check "rm -f the timing containers" docker rm -f t0-1 t0-2 t0-3 t0-4 t0-5 t1-1 t1-2 t1-3 t1-4 t1-5
check "no companion left at the end" wait_for -n 100 -s 0.2 no_companions
locks() { find "$PODSHIM_STATE" -path '*/companions/*' 2>/dev/null; }
no_locks() { [[ -z $(locks) ]] || { locks; return 1; }; }
check "no companion lock file left in podshim's state" wait_for -n 100 -s 0.2 no_locks
# The detached workers are podshim processes run by the wrapper above.
workers() { pgrep -f -- "--podshim-docker-host unix://$API" || true; }
no_workers() { [[ -z $(workers) ]] || { ps -o pid,etime,args -p "$(workers | paste -sd,)"; return 1; }; }
check "no detached podshim worker left running" wait_for -n 150 -s 0.2 no_workers

done_testing

#!/usr/bin/env bash
# tests/e2e/companions.sh — companions (podshim.companion.NAME labels) through
# a private dockerd, podshim its default runtime with --podshim-docker-host
# naming that daemon's API socket (through a symlink the test can take away):
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

dockerd_up
images_up busybox

API=$E2E_DIR/api.sock
ln -s "$E2E_DIR/docker.sock" "$API"
jq --arg h "unix://$API" '.runtimes.podshim.runtimeArgs += ["--podshim-docker-host", $h]' \
	"$E2E_DIR/daemon.json" >"$E2E_DIR/daemon.json.new" && mv "$E2E_DIR/daemon.json.new" "$E2E_DIR/daemon.json"
kill -HUP "$(<"$E2E_DIR/dockerd.pid")"
reloaded() { docker info --format '{{json .Runtimes}}' | grep -qF -- "--podshim-docker-host"; }
check "dockerd reloads podshim's runtimeArgs with --podshim-docker-host" wait_for -n 100 -s 0.1 reloaded

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

check "docker stop of the anchor" docker stop -t 1 web
check "its companion is removed with its container" wait_for -n 100 -s 0.2 gone web.probe
check "docker start of the anchor" docker start web
check "the companion is back" wait_for -n 100 -s 0.2 running web.probe
check "and reaches the anchor again" \
	wait_for -n 50 -s 0.2 docker exec web.probe grep -qx hello-from-anchor /tmp/got
check "docker rm -f of the anchor" docker rm -f web
check "removes its companion" wait_for -n 100 -s 0.2 gone web.probe
check "and its pod" wait_for -n 50 -s 0.2 pod_is web

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
check "the companion comes once the API answers" wait_for -n 100 -s 0.2 running late.probe
check "and reaches its anchor" \
	wait_for -n 50 -s 0.2 docker exec late.probe grep -qx hello-from-anchor /tmp/got
check "docker rm -f late" docker rm -f late
check "removes its companion" wait_for -n 100 -s 0.2 gone late.probe

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

done_testing

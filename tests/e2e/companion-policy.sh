#!/usr/bin/env bash
# tests/e2e/companion-policy.sh — who may declare a companion and what it may
# reach, through a private dockerd with podshim its default runtime, the
# operator's config file (--podshim-config) rewritten between cases and the
# API socket behind a symlink the test can take away:
#  - the companion bomb: an image whose label declares a companion of its
#    own image, run as a plain `docker run`, makes no companion (its label is
#    the image's); with image labels allowed it makes exactly one, which
#    makes none (a companion declares no companions). A watchdog stops the
#    daemon if the containers ever pass a cap, so the chain cannot run away;
#  - a creator's label is followed, also on such an image;
#  - the pod cap (companions.maxPerPod) fails the start, naming it;
#  - companions.allowedImages: a companion whose image matches no pattern,
#    one by image ID prefix and one on a loopback registry fail the start,
#    naming the image and the setting (and nothing reaches the loopback);
#  - limits: a companion gets its anchor's memory, CPU and pids limits, may
#    ask lower ones, never higher (the create fails naming the key), and the
#    operator's defaults when the anchor has none;
#  - delayed workers: the one waiting for the API runs in /, without
#    capabilities, with no_new_privs; a forged podshim.companion-of does not
#    hold the real anchor's lock while the API is away; a worker of a gone
#    anchor makes nothing once the API is back (the anchor's name belongs to
#    a new container by then).
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

DOCKER_BIN=$(type -P docker)
docker() { timeout 120 "$DOCKER_BIN" "$@"; }
IMG=podshim/busybox

[[ -x $PODSHIM ]] || { echo "Bail out! no podshim binary at $PODSHIM (build first)"; exit 1; }
WRAP_DIR=$(mktemp -d /tmp/cpol.XXXXXX)
at_exit rm -rf -- "$WRAP_DIR"
API=$WRAP_DIR/api.sock
CFG=$WRAP_DIR/config.json
echo '{}' >"$CFG"
printf '#!/bin/sh\nexec %q --podshim-config %q --podshim-docker-host unix://%q "$@"\n' \
	"$(realpath "$PODSHIM")" "$CFG" "$API" >"$WRAP_DIR/podshim"
chmod 755 "$WRAP_DIR/podshim"
PODSHIM=$WRAP_DIR/podshim
# cfg JSON: the operator's config from now on (read at each create and start).
cfg() { printf '%s\n' "$1" >"$CFG.new" && mv -f "$CFG.new" "$CFG"; }

dockerd_up
images_up busybox
ln -s "$E2E_DIR/docker.sock" "$API"

companions_left() { docker ps -aq --filter label=podshim.companion-of; }
no_companions() { [[ -z $(companions_left) ]]; }
gone() { ! docker inspect "$1" >/dev/null 2>&1; }
running() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
rm_all() {
	local ids
	mapfile -t ids < <(docker ps -aq)
	((${#ids[@]} == 0)) || docker rm -f "${ids[@]}" >/dev/null 2>&1
	wait_for -n 100 -s 0.2 no_companions >/dev/null 2>&1
}
at_exit rm_all
# run NAME ARGS...: docker run -d --name NAME ARGS, its output in $out.
run() {
	local name=$1
	shift
	out=$(docker run -d --name "$name" "$@" </dev/null 2>&1)
}

# The watchdog: more than CAP containers on the daemon means a chain of
# companions runs away; it kills the daemon and leaves a note. The test then
# starts the daemon again on its state and removes every container
# (recovered), so that the later cases still run.
CAP=14
watchdog() {
	local n
	while :; do
		n=$("$DOCKER_BIN" ps -aq 2>/dev/null | wc -l)
		if ((n > CAP)); then
			echo "$n" >"$WRAP_DIR/tripped"
			cp "$WRAP_DIR/tripped" "$WRAP_DIR/ever-tripped"
			kill -KILL "$(<"$E2E_DIR/dockerd.pid")" 2>/dev/null
			exit 0
		fi
		sleep 0.3
	done
}
WATCHDOG=
start_watchdog() {
	watchdog </dev/null >/dev/null 2>&1 &
	# shellcheck disable=SC2034 # killed at exit
	WATCHDOG=$!
}
start_watchdog
at_exit eval 'kill "$WATCHDOG"'
not_tripped() { [[ ! -e $WRAP_DIR/tripped ]] || { echo "$(<"$WRAP_DIR/tripped") containers: the daemon was stopped"; return 1; }; }
recovered() {
	[[ -e $WRAP_DIR/tripped ]] || return 0
	local pid
	pid=$(<"$E2E_DIR/dockerd.pid")
	wait_for -n 100 -s 0.1 sh -c "! kill -0 $pid 2>/dev/null" >/dev/null
	"$E2E_REPO/hack/dockerd" start "$E2E_DIR" >&2 || bail "the daemon did not start again"
	rm_all
	rm -f "$WRAP_DIR/tripped"
	start_watchdog
}

# image NAME LABEL=VALUE...: NAME, busybox with these labels (docker commit).
image() {
	local name=$1 l change=()
	shift
	for l in "$@"; do change+=(--change "LABEL ${l%%=*}='${l#*=}'"); done
	docker rm -f podshim-image-tmpl >/dev/null 2>&1
	docker create --name podshim-image-tmpl "$IMG" true >/dev/null &&
		docker commit "${change[@]}" podshim-image-tmpl "$name" >/dev/null &&
		docker rm podshim-image-tmpl >/dev/null
}

# --- the companion bomb ---------------------------------------------------------

BOMB='{"image":"podshim-test/bomb:1","command":["sleep","1000"]}'
check "an image whose label declares a companion of its own image" \
	image podshim-test/bomb:1 "podshim.companion.a=$BOMB"
is "its label as the image has it" \
	"$(docker inspect -f '{{index .Config.Labels "podshim.companion.a"}}' podshim-test/bomb:1 2>&1)" "$BOMB"
check "docker run of it, plainly" run bomb podshim-test/bomb:1 sleep 1000
check "it runs" running bomb
# Made in the anchor's start, before `docker run` returns: a few seconds are
# plenty for a chain to show.
sleep 3
check "no companion at all: the image declared it, not the container's creator" no_companions
is "pod list says so" "$(pods | jq -r '.[] | select(.name == "bomb") | .companions[] | "\(.name) \(.state)"' 2>&1)" \
	"a ignored"
check "the chain did not run away (watchdog)" not_tripped
recovered

cfg '{"companions":{"fromImageLabels":true}}'
check "with companions.fromImageLabels: docker run of it" run bomb2 podshim-test/bomb:1 sleep 1000
check "its companion bomb2.a runs" wait_for -n 100 -s 0.2 running bomb2.a
sleep 3
check "bomb2.a, a companion, made none of its own (its image's label is ignored)" gone bomb2.a.a
is "exactly one companion in all" "$(companions_left | wc -l)" 1
check "the chain did not run away (watchdog)" not_tripped
recovered
rm_all
cfg '{}'

# The container's creator declares it: followed, on this image too (another
# value than the image's).
PROBE='{"image":"podshim/busybox","command":["sleep","1000"]}'
check "a creator's label on the same image: docker run --label" \
	run mine --label "podshim.companion.a=$PROBE" podshim-test/bomb:1 sleep 1000
check "its companion runs" wait_for -n 100 -s 0.2 running mine.a
is "and runs the creator's image" "$(docker inspect -f '{{.Config.Image}}' mine.a 2>&1)" podshim/busybox
sleep 2
check "and it made none of its own" gone mine.a.a
check "the chain did not run away (watchdog)" not_tripped
recovered
rm_all

# --- the pod cap -----------------------------------------------------------------

cfg '{"companions":{"maxPerPod":1}}'
run capped --label "podshim.companion.a=$PROBE" --label "podshim.companion.b=$PROBE" "$IMG" sleep 1000
like "a second companion in a pod of companions.maxPerPod 1 fails the start, naming the setting" \
	"$out" 'pod `capped` already has 1 companions, the most it may have \(companions.maxPerPod in '"$CFG"
check "nothing of it is left" wait_for -n 100 -s 0.2 no_companions
rm_all
cfg '{}'

# --- the operator's image policy --------------------------------------------------

cfg '{"companions":{"allowedImages":["podshim/busybox*"]}}'
check "an allowed image: docker run" run ok1 --label "podshim.companion.a=$PROBE" "$IMG" sleep 1000
check "its companion runs" wait_for -n 100 -s 0.2 running ok1.a
run no1 --label 'podshim.companion.a={"image":"podshim-test/other:1"}' "$IMG" sleep 1000
like "an image no pattern allows fails the start, naming the image and the setting" "$out" \
	'companion `a`: image `podshim-test/other:1` is not allowed: it matches none of companions.allowedImages in '"$CFG"' \(`podshim/busybox\*`\)'
is "the anchor did not run" "$(docker inspect -f '{{.State.Running}}' no1 2>&1)" false
rm_all
cfg '{}'

BUSYBOX_ID=$(docker inspect -f '{{.Id}}' "$IMG" 2>/dev/null)
PREFIX=${BUSYBOX_ID#sha256:}
PREFIX=${PREFIX:0:12}
run byid --label "podshim.companion.a={\"image\":\"$PREFIX\",\"command\":[\"sleep\",\"1000\"]}" "$IMG" sleep 1000
like "an image by ID prefix fails the start, naming it (no policy configured)" "$out" \
	"companion \`a\`: image \`$PREFIX\` would be looked up by image ID"
check "no companion was made" no_companions
cfg "{\"companions\":{\"allowedImages\":[\"$PREFIX\"]}}"
check "one a pattern names exactly: docker run" \
	run byid2 --label "podshim.companion.a={\"image\":\"$PREFIX\",\"command\":[\"sleep\",\"1000\"]}" "$IMG" sleep 1000
check "its companion runs" wait_for -n 100 -s 0.2 running byid2.a
rm_all
cfg '{}'

# A registry on loopback: dockerd, in the host's network namespace (here the
# daemon's own), would connect to it. A listener there says whether it did.
in_dockerd_netns python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 5000)); s.listen(8); s.settimeout(40)
try:
    c, _ = s.accept(); open(sys.argv[1], "w").write("connected\n")
except socket.timeout:
    pass' "$WRAP_DIR/loopback" </dev/null >/dev/null 2>&1 &
LISTENER=$!
at_exit kill "$LISTENER"
sleep 0.5
run loop --label 'podshim.companion.a={"image":"127.0.0.1:5000/team/x:1"}' "$IMG" sleep 1000
like "an image on a loopback registry fails the start, naming the registry and the setting" "$out" \
	'image `127.0.0.1:5000/team/x:1` is on a registry on this host.s loopback \(`127.0.0.1:5000`\).*companions.allowedImages in '"$CFG"
sleep 1
check "nothing connected to the loopback registry" test ! -e "$WRAP_DIR/loopback"
kill "$LISTENER" 2>/dev/null
rm_all

# --- limits -----------------------------------------------------------------------

limits() { docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' "$1" 2>&1; }
LIMITED=(--memory 64m --cpus 0.5 --pids-limit 100)
check "an anchor with limits, a companion without: docker run" \
	run lim "${LIMITED[@]}" --label "podshim.companion.a=$PROBE" \
	--label 'podshim.companion.b={"image":"podshim/busybox","command":["sleep","1000"],"memory":"32m","cpus":"0.25","pids_limit":50}' \
	"$IMG" sleep 1000
check "its companions run" wait_for -n 100 -s 0.2 sh -c 'docker inspect -f "{{.State.Running}}" lim.a lim.b | grep -cx true | grep -qx 2'
is "the one without limits has the anchor's (Memory NanoCpus PidsLimit)" "$(limits lim.a)" "67108864 500000000 100"
is "the one that asks lower limits has them" "$(limits lim.b)" "33554432 250000000 50"
run lim2 "${LIMITED[@]}" --label 'podshim.companion.a={"image":"podshim/busybox","memory":"128m"}' "$IMG" sleep 1000
like "one that asks more memory than its anchor's fails the create, naming the key" "$out" \
	'companion `a`: `memory` 128m is more than its anchor.s own limit \(64m\)'
run lim3 "${LIMITED[@]}" --label 'podshim.companion.a={"image":"podshim/busybox","cpus":"1"}' "$IMG" sleep 1000
like "and more CPUs" "$out" 'companion `a`: `cpus` 1 is more than its anchor.s own limit \(0.5\)'
rm_all
cfg '{"companions":{"defaults":{"memory":"48m","pidsLimit":64}}}'
check "an anchor without limits, the operator's defaults: docker run" \
	run lim4 --label "podshim.companion.a=$PROBE" "$IMG" sleep 1000
check "its companion runs" wait_for -n 100 -s 0.2 running lim4.a
is "its companion has the defaults (and no CPU limit)" "$(limits lim4.a)" "50331648 0 64"
rm_all
cfg '{}'

# --- delayed workers -----------------------------------------------------------

# A running anchor whose companion was made while the API answered.
check "an anchor with a companion: docker run" run victim --label "podshim.companion.a=$PROBE" "$IMG" sleep 1000
check "its companion runs" wait_for -n 100 -s 0.2 running victim.a
VICTIM=$(docker inspect -f '{{.Id}}' victim 2>/dev/null)
rm -f "$API"

# The worker of a start the API does not answer: in /, no capabilities,
# no_new_privs.
check "an anchor with the API away: docker run" run late --label "podshim.companion.a=$PROBE" "$IMG" sleep 1000
LATE=$(docker inspect -f '{{.Id}}' late 2>/dev/null)
# (pgrep from this shell: a `sh -c` would find itself)
workers() { pgrep -f -- "--podshim-docker-host unix://$API" || true; }
some_worker() { [[ -n $(workers) ]]; }
no_worker() { [[ -z $(workers) ]] || { ps -o pid,etime,args -p "$(workers | paste -sd,)"; return 1; }; }
check "its worker waits for the API" wait_for -n 50 -s 0.2 some_worker
W=$(workers | head -n1)
is "the worker's directory is /" "$(readlink "/proc/$W/cwd" 2>&1)" /
is "the worker has no capabilities" "$(awk '/^Cap(Eff|Prm|Bnd):/ { printf "%s ", $2 }' "/proc/$W/status" 2>&1)" \
	"0000000000000000 0000000000000000 0000000000000000 "
is "the worker has no_new_privs" "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$W/status" 2>&1)" 1
# Besides stdio (/dev/null), only its anchor's lock in podshim's state.
fds() {
	local f t
	for f in "/proc/$W/fd"/*; do
		t=$(readlink "$f") || continue
		case ${f##*/}:$t in
		[012]:/dev/null | *:"$PODSHIM_STATE"/*/companions/"$LATE") ;;
		*) echo "${f##*/} -> $t" ;;
		esac
	done
}
is "the worker holds no descriptor but stdio and its anchor's lock" "$(fds)" ""

# A forged podshim.companion-of naming the victim, in another pod: refused;
# its remover waits for the API without the victim's lock.
run forged --network none --label podshim.pod=elsewhere --label "podshim.companion-of=$VICTIM" \
	--label podshim.companion-name=a "$IMG" sleep 1000
like "a container forging podshim.companion-of of a running anchor is refused" "$out" \
	'companion `a` of `.{12}` refused: its anchor is not running'
sleep 2
lockfile=$(find "$PODSHIM_STATE" -path "*/companions/$VICTIM" 2>/dev/null | head -n1)
unheld() { [[ -z $lockfile ]] || flock -n "$lockfile" true; }
check "its remover does not hold the real anchor's companion lock while the API is away" unheld

# The anchor is removed and its name taken by a new one, all while the API is
# away: the first anchor's worker must make nothing once the API is back.
check "docker rm -f late (its worker still waits)" docker rm -f late
check "a new container takes the name late, with the API still away" \
	run late --label "podshim.companion.a=$PROBE" "$IMG" sleep 1000
LATE2=$(docker inspect -f '{{.Id}}' late 2>/dev/null)
docker events --filter event=create --filter "label=podshim.companion-of=$LATE" --format '{{.ID}}' \
	</dev/null >"$WRAP_DIR/events" 2>&1 &
EVENTS=$!
at_exit kill "$EVENTS"
sleep 1
ln -s "$E2E_DIR/docker.sock" "$API"
of() { docker inspect -f '{{index .Config.Labels "podshim.companion-of"}}' "$1" 2>/dev/null; }
new_one() { running late.a && [[ $(of late.a) == "$LATE2" ]]; }
check "the new anchor gets its companion once the API answers" wait_for -n 150 -s 0.2 new_one
check "the forged container is removed" wait_for -n 100 -s 0.2 gone forged
sleep 3
kill "$EVENTS" 2>/dev/null
is "the gone anchor's worker created no container" "$(cat "$WRAP_DIR/events")" ""
check "the new anchor's companion still runs" new_one
is "the victim's companion was left alone" "$(of victim.a)" "$VICTIM"
check "no detached worker left" wait_for -n 100 -s 0.2 no_worker
rm_all
no_locks() { [[ -z $(find "$PODSHIM_STATE" -path '*/companions/*' 2>/dev/null) ]]; }
check "no companion lock file left" wait_for -n 100 -s 0.2 no_locks
check "the watchdog never tripped" test ! -e "$WRAP_DIR/ever-tripped"

done_testing

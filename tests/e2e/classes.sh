#!/usr/bin/env bash
# tests/e2e/classes.sh — runtime classes and start ordering through dockerd
# (podshim the default runtime, --podshim-config in its runtimeArgs):
#  - a container labelled podshim.runtime=gvisor runs in gVisor; docker exec,
#    stop and rm reach it; an unknown class is refused with podshim's message;
#  - a Swarm service selects gVisor through PODSHIM_RUNTIME in its env;
#  - podshim.wait: a sidecar `docker run` before its app returns only once the
#    app listens, and its first instruction sees it; a config writer; a
#    timeout naming the unmet condition;
#  - podshim.essential: killing the essential app stops its sidecar; a
#    one-shot helper's exit stops nobody.
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

bounded_docker 120
IMG=podshim/busybox
RUNSC=$(type -P runsc || true)

dockerd_up
images_up busybox

# The operator's config, given to podshim through dockerd's runtimeArgs.
CFG=$E2E_DIR/podshim-config.json
jq -n --arg runsc "${RUNSC:-/nonexistent/runsc}" \
	'{runtimes: {gvisor: {path: $runsc, runtimeArgs: ["--platform=ptrace", "--network=none"]}}}' >"$CFG"
jq --arg cfg "$CFG" '.runtimes.podshim.runtimeArgs += ["--podshim-config", $cfg]' \
	"$E2E_DIR/daemon.json" >"$E2E_DIR/daemon.json.new" && mv "$E2E_DIR/daemon.json.new" "$E2E_DIR/daemon.json"
kill -HUP "$(<"$E2E_DIR/dockerd.pid")"
reloaded() { docker info --format '{{json .Runtimes}}' | grep -qF -- "--podshim-config"; }
check "dockerd reloads podshim's runtimeArgs with --podshim-config" wait_for -n 100 -s 0.1 reloaded

records() { find "$PODSHIM_STATE" -path '*/records/*' -type f 2>/dev/null; }
inspect() { docker inspect -f "$2" "$1" 2>&1; }

# runsc chowns its stdio to nobody:nogroup.  containerd hands a runtime the
# host's /dev/null as stdin when a container or exec has none (`docker run
# -d` without -i, `docker exec` without -i, a Swarm task without a tty): runsc
# would leave the host's /dev/null owned by nobody.  The gVisor cases here
# give it a stdin of their own: -i with an empty file of the test (or a tty).
GV_IN=$E2E_DIR/run/gvisor-stdin
: >"$GV_IN"
gv_exec() { docker exec -i "$@" <"$GV_IN"; }

# --- a labelled container in gVisor -----------------------------------------

if [[ -z $RUNSC ]]; then
	ok "gVisor: skipped # SKIP runsc is not installed"
else
	check "gVisor: docker run --label podshim.runtime=gvisor" \
		docker run -d -i --name gv --label podshim.runtime=gvisor "$IMG" sleep 1000
	is "gVisor: docker exec runs in gVisor's kernel" "$(gv_exec gv uname -r 2>&1)" 4.4.0
	like "gVisor: the record names the class" "$(cat "$(records)" 2>&1)" '"class":"gvisor"'
	is "gVisor: a plain container beside it runs on the host kernel" \
		"$(docker run --rm "$IMG" uname -r 2>&1)" "$(uname -r)"
	check "gVisor: docker stop" docker stop -t 1 gv
	is "gVisor: exited" "$(inspect gv '{{.State.Status}}')" exited
	check "gVisor: docker start again" docker start gv
	is "gVisor: running again, in gVisor" "$(gv_exec gv uname -r 2>&1)" 4.4.0
	check "gVisor: docker rm -f" docker rm -f gv
	is "gVisor: no record left" "$(records)" ""
fi

out=$(docker run --rm --label podshim.runtime=kata "$IMG" true 2>&1)
like "an unknown class: docker run shows podshim's message naming it and the known ones" \
	"$out" 'unknown runtime class `kata` \(from label podshim.runtime\).*`gvisor`'

# --- start ordering ------------------------------------------------------------

# The sidecar's `docker run -d` is issued first: it returns only once the app
# listens; its first instruction records what it saw.
docker run -d --name side --label podshim.pod=w --label podshim.wait=tcp:8080 --network none "$IMG" \
	sh -c 'if wget -qO /dev/null http://127.0.0.1:8080/; then echo up; else echo down; fi; exec sleep 1000' \
	>"$E2E_DIR/side.out" 2>&1 &
side_run=$!
# (docker inspect blocks while a start is under way: ask docker ps.)
status_of() { docker ps -a --filter "name=^$1\$" --format '{{.Status}}'; }
waiting() { [[ $(status_of side) == Created ]] && kill -0 "$side_run"; }
check "wait: the sidecar is created and its start waits" wait_for -n 100 -s 0.1 waiting
sleep 1
check "wait: still waiting a second later (nothing listens yet)" waiting
check "wait: the app starts" docker run -d --name app --label podshim.pod=w "$IMG" \
	sh -c 'mkdir -p /www && echo hi >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
wait "$side_run"
is "wait: then the sidecar's docker run returns 0" "$? $(<"$E2E_DIR/side.out")" "0 $(<"$E2E_DIR/side.out")"
logs_up() { [[ $(docker logs side 2>&1) == up ]]; }
check "wait: the sidecar's first instruction saw the app listening" wait_for -n 50 -s 0.1 logs_up

docker run -d --name consumer --label podshim.pod=w --label podshim.volumes=/conf \
	--env PODSHIM_WAIT=file:/conf/app.conf --network none "$IMG" sh -c 'cat /conf/app.conf; exec sleep 1000' \
	>"$E2E_DIR/consumer.out" 2>&1 &
consumer_run=$!
cwaiting() { [[ $(status_of consumer) == Created ]] && kill -0 "$consumer_run"; }
check "wait: the consumer waits for /conf/app.conf" wait_for -n 100 -s 0.1 cwaiting
check "wait: a writer member writes the config" docker run -d --name writer --label podshim.pod=w \
	--label podshim.volumes=/conf --network none "$IMG" \
	sh -c 'echo "listen 80;" >/conf/.tmp && mv /conf/.tmp /conf/app.conf && exec sleep 1000'
wait "$consumer_run"
is "wait: then the consumer's docker run returns 0" "$? $(<"$E2E_DIR/consumer.out")" "0 $(<"$E2E_DIR/consumer.out")"
clogs() { [[ $(docker logs consumer 2>&1) == "listen 80;" ]]; }
check "wait: the consumer's first instruction read the config" wait_for -n 50 -s 0.1 clogs

out=$(docker run -d --name late --label podshim.pod=w --label podshim.wait=tcp:9999 \
	--label podshim.wait-timeout=2 --network none "$IMG" sleep 1000 2>&1)
like "wait: a timeout fails docker run with the unmet condition" "$out" \
	'start condition `tcp:9999` not met after 2 s'
# dockerd 20.10 does not delete a container whose start failed through the
# runtime (its init stays, created): do it as podshim_cli, as an operator would.
late_id=$(docker inspect -f '{{.Id}}' late)
check "wait: clean up" docker rm -f side app consumer writer late
check "wait: delete the created container dockerd left behind" \
	podshim_cli --root "$E2E_DIR/exec/runtime-runc/moby" delete --force "$late_id"
is "wait: no record left" "$(records)" ""

# --- essential members -----------------------------------------------------------

check "essential: a sidecar that exits on SIGTERM" docker run -d --name ess-side --label podshim.pod=e \
	--network none "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done'
check "essential: the essential app" docker run -d --name ess-app --label podshim.pod=e \
	--label podshim.essential=true --network none "$IMG" sleep 1000
check "essential: a one-shot helper member runs and exits" docker run --name ess-helper \
	--label podshim.pod=e --network none "$IMG" true
sleep 2
is "essential: the helper's exit stopped nobody" \
	"$(status_of ess-side | cut -d' ' -f1) $(status_of ess-app | cut -d' ' -f1)" "Up Up"
check "essential: docker kill the app" docker kill ess-app
side_exited() { [[ $(status_of ess-side) == Exited* ]]; }
check "essential: the sidecar stops" wait_for -n 150 -s 0.2 side_exited
check "essential: clean up" docker rm -f ess-side ess-app ess-helper

# --- Swarm: a service selects gVisor by its env ----------------------------------

if [[ -z $RUNSC ]]; then
	ok "Swarm gVisor: skipped # SKIP runsc is not installed"
else
	swarm_cleanup() {
		docker service rm gsvc >/dev/null 2>&1 || true
		swarm_down
	}
	at_exit swarm_cleanup
	check "Swarm: init" docker swarm init --advertise-addr 127.0.0.1
	check "Swarm: service with PODSHIM_RUNTIME=gvisor" docker service create -d -q --no-resolve-image \
		--tty --name gsvc --stop-grace-period 1s --env PODSHIM_RUNTIME=gvisor "$IMG" sleep 1000
	task() { docker ps -q --filter label=com.docker.swarm.service.name=gsvc | head -1; }
	running() { [[ -n $(task) ]]; }
	check "Swarm: the task runs" wait_for -n 300 -s 0.2 running
	is "Swarm: the task runs in gVisor" "$(gv_exec "$(task)" uname -r 2>&1)" 4.4.0
	check "Swarm: service rm" docker service rm gsvc
	gone() {
		[[ -z $(task) && -z $(records) ]] && return 0
		echo "task: $(task); records: $(records); $(docker ps -a --format '{{.Names}} {{.Status}}')"
		return 1
	}
	check "Swarm: the task and its record are gone" wait_for -n 150 -s 0.2 gone
	swarm_cleanup
	unknown_refused() {
		docker service ps --no-trunc --format '{{.Error}}' bad | grep -F 'unknown runtime class `nope`'
	}
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1
	docker service create -d -q --no-resolve-image --name bad --env PODSHIM_RUNTIME=nope "$IMG" true >/dev/null
	check "Swarm: docker service ps shows the unknown-class message" wait_for -n 150 -s 0.2 unknown_refused
	docker service rm bad >/dev/null 2>&1
fi

done_testing

#!/usr/bin/env bash
# tests/e2e/install.sh — podshim registered the way an operator does it, and
# `docker pod` (the CLI plugin), through a private dockerd:
#  - `podshim install docker --default` writes the daemon.json dockerd starts
#    on (hack/dockerd PODSHIM_DOCKERD_INSTALL=1): a two-member pod runs, the
#    members reach each other over 127.0.0.1;
#  - `docker pod ls` lists it by container names, image, status and health,
#    and an anchor's companion marked as such (the plugin found podshim's
#    state directory from the daemon: its runtime's path and its shims'
#    environment; this script's own PODSHIM_STATE is not given to it);
#    `--format json`, `docker pod inspect`, `docker -H`, `docker --context`;
#  - uninstall gives back the daemon.json install found, and says to restart
#    (a reload keeps the default runtime when daemon.json names none);
#  - on a daemon.json with default-runtime runc: install --default, the
#    printed `kill -HUP PID` makes podshim the default; uninstall, and the
#    printed `kill -HUP PID` makes runc the default again (podshim stays
#    registered until a restart, as uninstall says: a reload keeps the
#    runtimes when daemon.json names none).
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
bounded_docker 120
IMG=podshim/busybox

export PODSHIM_DOCKERD_INSTALL=1 PODSHIM_DOCKERD_API=1
dockerd_up
images_up busybox
SELF=$(realpath "$PODSHIM")
J=$E2E_DIR/daemon.json
# What install found (the backup is of the last write: keep this one).
cp "$J.podshim-backup" "$E2E_DIR/before-install.json"

# --- install --default: the daemon.json dockerd started on --------------------

is "daemon.json: runtimes.podshim.path is the binary install ran as" \
	"$(jq -r .runtimes.podshim.path "$J")" "$SELF"
is "daemon.json: default-runtime podshim" "$(jq -r '."default-runtime"' "$J")" podshim
is "daemon.json: hack/dockerd's own keys kept" "$(jq -r '."deprecated-key-path"' "$J")" "$E2E_DIR/key.json"
check "the file install found is in the backup beside it" test -s "$J.podshim-backup"
is "dockerd runs with podshim as its default runtime" \
	"$(docker info --format '{{.DefaultRuntime}} {{(index .Runtimes "podshim").Path}}' 2>&1)" "podshim $SELF"

APP='mkdir -p /www && echo hello-from-app >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
check "docker run app (pod duo, no --runtime)" \
	docker run -d --name app --label podshim.pod=duo "$IMG" sh -c "$APP"
check "docker run side (pod duo, --network none, a health check)" \
	docker run -d --name side --label podshim.pod=duo --network none \
	--health-cmd 'wget -qO- http://127.0.0.1:8080/' --health-interval 1s "$IMG" sleep 1000
check "side reaches app over 127.0.0.1" wait_for -n 50 -s 0.2 in_pod side wget -qO- http://127.0.0.1:8080/
check "pod duo has both" wait_for -n 25 -s 0.2 members_are duo app side
check "side turns healthy" wait_for -n 100 -s 0.2 health_is side healthy

PROBE='{"image":"podshim/busybox","command":["sleep","1000"],"restart":"always"}'
check "docker run web with a companion probe" \
	docker run -d --name web --label "podshim.companion.probe=$PROBE" "$IMG" sleep 1000
check "web.probe runs" wait_for -n 100 -s 0.2 sh -c '[ "$(docker inspect -f {{.State.Running}} web.probe)" = true ]'

# --- docker pod --------------------------------------------------------------

# The plugin where the CLI finds it: a config dir of this test's own.
export DOCKER_CONFIG=$E2E_DIR/cli
mkdir -p "$DOCKER_CONFIG/plugins"
ln -s "$(realpath "$(dirname "$PODSHIM")/docker-pod")" "$DOCKER_CONFIG/plugins/docker-pod"
jq -n --arg d "$DOCKER_CONFIG/plugins" '{cliPluginsExtraDirs: [$d]}' >"$DOCKER_CONFIG/config.json"
# What `docker pod` learns, it learns from the daemon, not from here.
dpod() { env -u PODSHIM_STATE -u PODSHIM_DATA docker "$@"; }

like "docker pod is a plugin the CLI knows" "$(docker --help 2>&1)" 'pod\*? +Pods podshim made'
out=$(dpod pod ls 2>&1)
rc=$?
is "docker pod ls exits 0" "$rc" 0
diag "$out"
row() { awk -v p="$1" -v c="$2" '$1 == p && $3 == c { $1 = $2 = $3 = ""; sub(/^ +/, ""); print }' <<<"$out"; }
is "duo: app by its name, image, status, no health check, no companion" "$(row duo app)" \
	"$IMG running - -"
is "duo: side, healthy" "$(row duo side)" "$IMG running healthy -"
is "web: the anchor" "$(row web web)" "$IMG running - -"
is "web: web.probe marked as web's companion probe" "$(row web web.probe)" \
	"$IMG running - probe of web"
header=$(head -n1 <<<"$out")
aligned=1
while IFS= read -r line; do
	for col in SCOPE CONTAINER IMAGE STATUS HEALTH COMPANION; do
		at=${header%%"$col"*}
		at=${#at}
		[[ ${line:at-1:1} == ' ' && ${line:at:1} != ' ' ]] || aligned=0
	done
done < <(tail -n +2 <<<"$out")
is "its columns are aligned" "$aligned" 1

json=$(dpod pod ls --format json 2>&1)
is "docker pod ls --format json: the companion, its anchor's container" \
	"$(jq -c '.[] | select(.name == "web") | .members[] | select(.container == "web.probe") | .companion | [.name, .anchor_container]' <<<"$json" 2>&1)" \
	'["probe","web"]'
is "and duo's members by name" \
	"$(jq -r '.[] | select(.name == "duo") | [.members[].container] | sort | join(",")' <<<"$json" 2>&1)" "app,side"
ins=$(dpod pod inspect duo 2>&1)
is "docker pod inspect duo: podshim's details with container names" \
	"$(jq -r '.[0].member_details | map("\(.container):\(.status):\(.share | join("+"))") | sort | join(" ")' <<<"$ins" 2>&1)" \
	"app:running:net+ipc+uts side:running:net+ipc+uts"
out=$(dpod pod inspect nosuch 2>&1)
rc=$?
isnt "docker pod inspect of no such pod fails" "$rc" 0
like "naming it" "$out" 'no pod named `nosuch`'
HOST=$DOCKER_HOST
like "docker -H (no DOCKER_HOST): the same pods" \
	"$(env -u DOCKER_HOST -u PODSHIM_STATE docker -H "$HOST" pod ls 2>&1)" 'web\.probe.*probe of web'
docker context create podshim-e2e --docker "host=$HOST" >/dev/null 2>&1
like "docker --context (no DOCKER_HOST): the same pods" \
	"$(env -u DOCKER_HOST -u PODSHIM_STATE docker --context podshim-e2e pod ls 2>&1)" 'duo +- +side '
like "a daemon that does not answer is named" \
	"$(env -u PODSHIM_STATE docker -H unix:///nonexistent/docker.sock pod ls 2>&1)" \
	'docker pod: Docker API at unix:///nonexistent/docker.sock: cannot connect'
check "docker rm -f web app side" docker rm -f web app side
check "the companion goes with its anchor" wait_for -n 100 -s 0.2 sh -c '! docker inspect web.probe >/dev/null 2>&1'
is "docker pod ls: no pod left" "$(dpod pod ls 2>&1)" \
	"POD   SCOPE   CONTAINER   IMAGE   STATUS   HEALTH   COMPANION"

# --- uninstall, reload ----------------------------------------------------------

PID=$(cat "$E2E_DIR/dockerd.pid")
out=$("$PODSHIM" uninstall docker --daemon-json "$J" 2>&1)
rc=$?
is "uninstall docker exits 0" "$rc" 0
like "and asks for a restart (no default to go back to: a reload keeps podshim)" "$out" \
	"restart dockerd .*dockerd is pid $PID"
is "daemon.json is what install found" "$(jq -cS . "$J")" "$(jq -cS . "$E2E_DIR/before-install.json")"

# A node whose daemon.json names runc as the default: reloads suffice.
jq '. + {"default-runtime": "runc"}' "$J" >"$J.new" && mv "$J.new" "$J"
out=$("$PODSHIM" install docker --default --daemon-json "$J" 2>&1)
like "install --default prints kill -HUP of this dockerd" "$out" "to apply, reload dockerd: kill -HUP $PID\$"
default_is() { [[ $(docker info --format '{{.DefaultRuntime}}' 2>/dev/null) == "$1" ]]; }
kill -HUP "$PID"
check "after the reload podshim is the default" wait_for -n 50 -s 0.2 default_is podshim
check "a container with a pod label and no --runtime joins its pod" \
	docker run -d --name solo --label podshim.pod=solo --network none "$IMG" sleep 1000
check "pod solo exists" wait_for -n 25 -s 0.2 members_are solo solo
check "docker rm -f solo" docker rm -f solo
out=$("$PODSHIM" uninstall docker --daemon-json "$J" 2>&1)
like "uninstall prints kill -HUP of this dockerd" "$out" "to apply, reload dockerd: kill -HUP $PID"$'\n'
like "and says podshim stays registered until a restart" "$out" 'podshim stays registered, unused, until dockerd restarts'
is "default-runtime is runc again in daemon.json" "$(jq -r '."default-runtime"' "$J")" runc
kill -HUP "$PID"
check "after the reload runc is the default" wait_for -n 50 -s 0.2 default_is runc
is "and podshim is still a runtime of dockerd, as uninstall said" \
	"$(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>&1 | tr ' ' '\n' | grep -cx podshim)" 1

done_testing

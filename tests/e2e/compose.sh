#!/usr/bin/env bash
# tests/e2e/compose.sh — compose v2 (Debian sid's docker-compose, fetched by
# `hack/engine fetch sid`, run standalone by path) against the private
# dockerd of either engine.
#
#   pod       a project whose two services name pod `web` (app: the
#             project's default network, owns the pod's network and
#             publishes a port; side: `network_mode: none`): one pod,
#             scoped by the project (`compose:P:web`); side reaches app on
#             127.0.0.1; the app's published port answers from side's
#             server in the pod
#   projects  a second project from the same file: its own pod `web`
#   recreate  `up --force-recreate side`: the new container rejoins the pod
#   down      `down` of one project removes its pod only; the other's last
#
# How the services name their pod: compose `annotations:` (OCI annotations,
# API >= 1.43, engine >= 24), else `labels:`.  On an engine whose API is
# older (dockerd 20.10: 1.41), compose v2 drops `annotations:` without a word
# (Docker's HostConfig has no Annotations there): checked, and the project
# uses `labels:` instead.  On a newer engine `labels:` is checked too.
# Only loopback traffic, in the daemon's netns.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
COMPOSE_BIN=$("$E2E_REPO/hack/engine" compose) ||
	{ echo "Bail out! no compose v2 (run hack/engine fetch sid)"; exit 1; }
compose() { timeout 120 "$COMPOSE_BIN" "$@"; }
bounded_docker 60

plan 17
dockerd_up
images_up busybox
diag "$("$COMPOSE_BIN" version); engine API $(docker version --format '{{.Server.APIVersion}}')"

# project_file KIND: the project (KIND: annotations or labels).  TAG and PORT
# come from the environment of `compose up` (interpolation).
project_file() {
	cat >"$E2E_DIR/run/$1.yml" <<YAML
services:
  app:
    image: podshim/busybox
    command: ["sh", "-c", "mkdir -p /www && echo \"app of \$\$TAG\" >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
    environment: {TAG: "\${TAG}"}
    ports: ["127.0.0.1:\${PORT}:8081"]
    stop_grace_period: 1s
    $1:
      podshim.pod: web
  side:
    image: podshim/busybox
    command: ["sh", "-c", "mkdir -p /p && echo \"side of \$\$TAG\" >/p/index.html && exec httpd -f -p 8081 -h /p"]
    environment: {TAG: "\${TAG}"}
    network_mode: none
    stop_grace_period: 1s
    $1:
      podshim.pod: web
YAML
	echo "$E2E_DIR/run/$1.yml"
}
# up KIND PROJECT PORT [ARGS...]: compose up -d the project.
up() {
	local f
	f=$(project_file "$1") || return 1
	TAG=$2 PORT=$3 compose -f "$f" -p "$2" up -d --quiet-pull "${@:4}" 2>&1
}
down() { compose -p "$1" down -t 1 2>&1; }
projects_down() {
	local p
	for p in shop blog other; do down "$p" >/dev/null 2>&1; done
}
at_exit projects_down

cid() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=$1" \
	--filter "label=com.docker.compose.service=$2"; }
# project_pod PROJECT: pod compose:PROJECT:web has exactly the project's app
# and side.
project_pod() {
	local a s got want
	a=$(cid "$1" app) && s=$(cid "$1" side)
	[[ -n $a && -n $s ]] || { echo "containers of $1: app '$a' side '$s'"; return 1; }
	want=$(printf '%s\n' "$a" "$s" | sort | paste -sd' ')
	got=$(pods | jq -r --arg k "compose:$1:web" '.[] | select(.key == $k or (.scope + ":" + .name) == $k) | .members[]' |
		sort | paste -sd' ')
	[[ $got == "$want" ]] || { echo "compose:$1:web members [$got], want [$want]; pods: $(pods | jq -c .)"; return 1; }
}
pod_gone() {
	local n
	n=$(pods | jq --arg s "compose:$1" '[.[] | select(.scope == $s)] | length')
	[[ $n == 0 ]] || { echo "$n pods of compose:$1 left"; return 1; }
}
# get PROJECT WANT: side gets WANT from 127.0.0.1:8080 (its pod's app).
get() {
	local out
	out=$(docker exec "$(cid "$1" side)" wget -qO- http://127.0.0.1:8080/ 2>&1) || { echo "wget: $out"; return 1; }
	[[ $out == "$2" ]] || { echo "got '$out', want '$2'"; return 1; }
}
# published PORT WANT: 127.0.0.1:PORT in the daemon's netns answers WANT.
published() {
	local out
	out=$(in_dockerd_netns timeout 10 wget -qO- "http://127.0.0.1:$1/" 2>&1) || { echo "wget: $out"; return 1; }
	[[ $out == "$2" ]] || { echo "got '$out', want '$2'"; return 1; }
}
owner_is_app() {
	local o
	o=$(pods | jq -r --arg s "compose:$1" '.[] | select(.scope == $s) | .network_owner // empty')
	[[ $o == "$(cid "$1" app)" ]] || { echo "network_owner '$o', want app $(cid "$1" app)"; return 1; }
}
no_pinned_mounts() { ! grep -F " $PODSHIM_STATE/" /proc/self/mountinfo; }

api=$(docker version --format '{{.Server.APIVersion}}')
if [[ $(printf '%s\n' "$api" 1.43 | sort -V | head -n1) == 1.43 ]]; then
	KIND=annotations
	# labels: the other way, checked once
	pod_from_labels() { up labels other 18090 >/dev/null && wait_for -n 50 project_pod other; }
	check "labels: (project other): pod compose:other:web has app and side" pod_from_labels
else
	KIND=labels
	# annotations: dropped by compose/dockerd below API 1.43, without error
	no_pod_from_annotations() {
		local out a
		out=$(up annotations other 18090) || { echo "$out"; return 1; }
		a=$(cid other app)
		[[ -n $a ]] || { echo "no app container"; return 1; }
		echo "HostConfig.Annotations: $(docker inspect -f '{{json .HostConfig.Annotations}}' "$a" 2>&1)"
		[[ $(pods | jq length) == 0 ]] || { echo "pods: $(pods | jq -c .)"; return 1; }
	}
	check "annotations: on API $api (< 1.43) compose runs the project with no pod: they never reach the runtime" \
		no_pod_from_annotations
fi
down other >/dev/null
diag "project 'other' down: $(pods | jq -c '[.[] | .key]')"

# --- one project: pod web --------------------------------------------------------

t=$SECONDS
check "compose ($KIND) up -p shop" up "$KIND" shop 18091
check "pod compose:shop:web has exactly shop's app and side" wait_for -n 50 project_pod shop
diag "pod formed after $((SECONDS - t))s"
if [[ $KIND == annotations ]]; then
	is "compose passed annotations: to the engine (HostConfig.Annotations of shop's app)" \
		"$(docker inspect -f '{{json .HostConfig.Annotations}}' "$(cid shop app)" 2>&1)" '{"podshim.pod":"web"}'
else
	skip "compose annotations: on engine API $api (< 1.43) compose v2 drops them silently (dockerd < 24 has no HostConfig.Annotations): projects name pods with labels: there"
fi
is "the pod is scoped by the project" "$(pods | jq -r '[.[] | .scope] | unique | join(",")')" compose:shop
check "shop's side (network_mode: none) reaches shop's app on 127.0.0.1:8080" wait_for -n 25 get shop "app of shop"
check "the network owner is app (the one networked service)" owner_is_app shop
check "app's published port 127.0.0.1:18091 answers from side's server in the pod" \
	wait_for -n 25 published 18091 "side of shop"

# --- a second project: its own pod web ---------------------------------------------

check "compose ($KIND) up -p blog" up "$KIND" blog 18092
check "pod compose:blog:web has exactly blog's app and side" wait_for -n 50 project_pod blog
check "blog's side reaches blog's app, not shop's" wait_for -n 25 get blog "app of blog"

# --- recreate a member -------------------------------------------------------------

old=$(cid shop side)
t=$SECONDS
check "compose up -p shop --force-recreate --no-deps side" up "$KIND" shop 18091 --force-recreate --no-deps side
new_side() { [[ -n $(cid shop side) && $(cid shop side) != "$old" ]] && project_pod shop; }
check "the new side is in compose:shop:web with app" wait_for -n 50 new_side
diag "side recreated into its pod after $((SECONDS - t))s"
new_side_works() { wait_for -n 25 get shop "app of shop" && wait_for -n 25 published 18091 "side of shop"; }
check "the new side reaches app; the published port reaches the new side" new_side_works

# --- down ----------------------------------------------------------------------

check "compose down -p shop" down shop
shop_gone_blog_intact() { wait_for -n 50 pod_gone shop && project_pod blog; }
check "shop's pod is gone, blog's is intact" shop_gone_blog_intact
all_down() { down blog >/dev/null && wait_for -n 50 pod_gone blog && [[ $(pods | jq length) == 0 ]] && no_pinned_mounts; }
check "compose down -p blog: no pod, no pinned mount left" all_down
diag "total $((SECONDS - T0))s"
done_testing

#!/usr/bin/env bash
# tests/e2e/components.sh — the pod's shared /dev/shm and the seed's use-cases
# with real components (no Python stand-ins), on a private dockerd whose
# default runtime is podshim; run on both engines (`meson test --setup sid`).
#
#   shm     members sharing IPC share the pod's /dev/shm (sized by the first
#           member's --shm-size), a member without ipc keeps its own; the pod's
#           tmpfs goes with the pod
#   health  a TCP echo server (busybox nc) with an HTTP health sidecar (busybox
#           httpd + a CGI probe, components/health.cgi) whose answer is the
#           sidecar's Docker HEALTHCHECK: unhealthy when the app is killed,
#           healthy again when it is back
#   mesh    two pods, each app behind a real nginx proxy sidecar: app A ->
#           127.0.0.1:7000 (nginx A) -> the test's bridge -> nginx B -> app B
#           on pod B's 127.0.0.1:8000
#   stack   `docker stack deploy` of two apps, each pod with an nginx proxy, a
#           log collector (tail of the app's log on a pod volume) and a health
#           sidecar; the proxy waits for its app (podshim.wait), the app is
#           essential (podshim.essential)
# Only loopback traffic and the test daemon's own networks.
# shellcheck disable=SC2016,SC2317
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

CMP=$E2E_REPO/tests/e2e/components
TOKEN=tok-$$-$RANDOM

bounded_docker
shm_mounts() { grep -c " $E2E_DIR/podshim-data/.*/shm " /proc/self/mountinfo; }
now() { echo "${EPOCHREALTIME/./}"; }
T_ALL=$(now)
part() {
	P_T0=$(now)
	diag "--- $1"
}
part_done() {
	rm_all
	diag "took $((($(now) - P_T0) / 1000)) ms"
}

dockerd_up
images_up busybox nginx
diag "engine: $(docker version --format '{{.Server.Version}}' 2>&1)"

# --- shm ------------------------------------------------------------------------

part_shm() {
	part "shm: the pod's /dev/shm"
	POD=(--label podshim.pod=cmp-shm --network none)
	run_d shm-a "${POD[@]}" --shm-size 16m podshim/busybox sleep 1000
	run_d shm-b "${POD[@]}" podshim/busybox sleep 1000
	run_d shm-own "${POD[@]}" --label podshim.share=uts podshim/busybox sleep 1000
	check "shm: the three containers are the pod's members" wait_for -n 25 members_are cmp-shm shm-a shm-b shm-own
	check "shm: shm-a writes /dev/shm/x" in_pod shm-a sh -c "echo $TOKEN > /dev/shm/x"
	is "shm: shm-b (also sharing ipc) reads it" "$(in_pod shm-b cat /dev/shm/x 2>&1)" "$TOKEN"
	check "shm: shm-own (no ipc) does not see it" sh -c '! docker exec shm-own test -e /dev/shm/x'
	is "shm: the pod's /dev/shm has shm-a's --shm-size (16m) in shm-b" \
		"$(in_pod shm-b df -k /dev/shm 2>&1 | awk 'NR == 2 { print $2 }')" 16384
	is "shm: shm-own keeps Docker's own 64m" \
		"$(in_pod shm-own df -k /dev/shm 2>&1 | awk 'NR == 2 { print $2 }')" 65536
	opts=$(in_pod shm-b cat /proc/self/mountinfo | awk '$5 == "/dev/shm" { print $6 }')
	like "shm: /dev/shm is nosuid,nodev,noexec in shm-b ($opts)" ",$opts," ',nosuid,.*nodev,.*noexec,|,nosuid,nodev,noexec,'
	is "shm: no tmpfs for the pod on the host (its holder has it)" "$(shm_mounts)" 0
	docker rm -f shm-a >/dev/null 2>&1
	is "shm: shm-b still reads it with shm-a gone" "$(in_pod shm-b cat /dev/shm/x 2>&1)" "$TOKEN"
	rm_all
	check "shm: the pod is gone" wait_for -n 25 pod_gone cmp-shm
	is "shm: its tmpfs is gone" "$(shm_mounts)" 0
	part_done
}

# --- health -----------------------------------------------------------------------

part_health() {
	part "health: HTTP health sidecar (busybox httpd + CGI) for a TCP echo server"
	POD=(--label podshim.pod=cmp-health --network none)
	run_d hc-app "${POD[@]}" --init podshim/busybox nc -ll -p 9000 -e /bin/cat
	run_d hc-health "${POD[@]}" -v "$CMP/health.cgi:/www/cgi-bin/health:ro" -e APP_PORT=9000 \
		--health-cmd 'wget -qO- http://127.0.0.1:8081/cgi-bin/health || exit 1' \
		--health-interval 1s --health-retries 1 --health-timeout 5s \
		podshim/busybox httpd -f -p 127.0.0.1:8081 -h /www
	is "health: GET /cgi-bin/health answers alive" \
		"$(wait_for -n 50 in_pod hc-health wget -qO- http://127.0.0.1:8081/cgi-bin/health 2>&1)" alive
	check "health: docker inspect shows the sidecar healthy" wait_for -n 60 -s 0.5 health_is hc-health healthy
	docker kill hc-app >/dev/null 2>&1
	like "health: the endpoint answers 503 with the app killed" \
		"$(wait_for -n 25 sh -c '! docker exec hc-health wget -qO- http://127.0.0.1:8081/cgi-bin/health 2>&1' 2>&1)" '503'
	check "health: docker inspect shows the sidecar unhealthy" wait_for -n 60 -s 0.5 health_is hc-health unhealthy
	docker start hc-app >/dev/null 2>&1
	check "health: the restarted app rejoins the pod" wait_for -n 25 members_are cmp-health hc-health hc-app
	check "health: and the sidecar is healthy again" wait_for -n 60 -s 0.5 health_is hc-health healthy
	rm_all
	check "health: the pod is gone" wait_for -n 25 pod_gone cmp-health
	part_done
}

# --- mesh ---------------------------------------------------------------------------

part_mesh() {
	part "mesh: app A -> nginx A -> bridge -> nginx B -> app B"
	docker network create cmp-mesh >/dev/null
	mkdir -p "$E2E_DIR/run/www-a" "$E2E_DIR/run/www-b"
	echo "A" >"$E2E_DIR/run/www-a/index.html"
	echo "B $TOKEN" >"$E2E_DIR/run/www-b/index.html"
	# The proxy is each pod's networked member: created first.
	run_d cmp-b-proxy --label podshim.pod=cmp-mesh-b --network cmp-mesh \
		-v "$CMP/mesh-b.conf:/etc/nginx/conf.d/mesh.conf:ro" podshim/nginx nginx
	run_d cmp-b-app --label podshim.pod=cmp-mesh-b --network none -v "$E2E_DIR/run/www-b:/www:ro" \
		podshim/busybox httpd -f -p 127.0.0.1:8000 -h /www
	check "mesh: nginx B runs" wait_for -n 25 in_pod cmp-b-proxy wget -qO- http://127.0.0.1:7443/
	run_d cmp-a-proxy --label podshim.pod=cmp-mesh-a --network cmp-mesh \
		-v "$CMP/mesh-a.conf:/etc/nginx/conf.d/mesh.conf:ro" podshim/nginx nginx
	run_d cmp-a-app --label podshim.pod=cmp-mesh-a --network none -v "$E2E_DIR/run/www-a:/www:ro" \
		podshim/busybox httpd -f -p 127.0.0.1:8000 -h /www
	check "mesh: pod A is app A + nginx A" wait_for -n 25 members_are cmp-mesh-a cmp-a-app cmp-a-proxy
	check "mesh: pod B is app B + nginx B" wait_for -n 25 members_are cmp-mesh-b cmp-b-app cmp-b-proxy
	is "mesh: app A's 127.0.0.1:7000 (nginx A) reaches app B through nginx B" \
		"$(wait_for -n 50 in_pod cmp-a-app wget -qO- http://127.0.0.1:7000/ 2>&1)" "B $TOKEN"
	hdr=$(in_pod cmp-a-app wget -S -qO /dev/null http://127.0.0.1:7000/ 2>&1)
	like "mesh: the answer went through both proxies" "$hdr" 'X-Mesh-In: b'
	like "mesh: (and A's outbound one)" "$hdr" 'X-Mesh-Out: a'
	is "mesh: pod A's own 127.0.0.1:8000 is app A" "$(in_pod cmp-a-app wget -qO- http://127.0.0.1:8000/ 2>&1)" A
	check "mesh: app B is on no network but its pod's (no 8000 on the bridge)" \
		sh -c '! docker exec cmp-a-proxy timeout 5 wget -qO- http://cmp-b-proxy:8000/'
	docker kill cmp-b-app >/dev/null 2>&1
	like "mesh: with app B killed, nginx B answers 502 through nginx A" \
		"$(in_pod cmp-a-app wget -S -qO- http://127.0.0.1:7000/ 2>&1)" ' 502 '
	docker start cmp-b-app >/dev/null 2>&1
	is "mesh: app B back: the call works again" \
		"$(wait_for -n 50 in_pod cmp-a-app wget -qO- http://127.0.0.1:7000/ 2>&1)" "B $TOKEN"
	rm_all
	docker network rm cmp-mesh >/dev/null 2>&1
	check "mesh: pod A is gone" wait_for -n 25 pod_gone cmp-mesh-a
	check "mesh: pod B is gone" wait_for -n 25 pod_gone cmp-mesh-b
	part_done
}

# --- stack ------------------------------------------------------------------------
# Two apps (web, api), one replica each; each pod (web-1, api-1): the app
# (busybox httpd on 127.0.0.1:8080, its log on the pod volume /logs,
# essential), an nginx proxy (the pod's one Docker-networked member, on the
# stack's overlay network; podshim.wait=tcp:8080), a log collector (tail -F
# of the app's log: `docker service logs`) and a health sidecar (busybox
# httpd + CGI, the service's healthcheck). The others are on the `host`
# network, which podshim puts in the pod (the recipe for every engine).

task_cid() { # task_cid SERVICE: the running container of SERVICE's slot 1
	docker ps --no-trunc --filter "label=com.docker.swarm.service.name=$1" \
		--format '{{.ID}} {{.Label "com.docker.swarm.task.name"}}' | awk -v p="$1.1." 'index($2, p) == 1 { print $1 }'
}
stack_services() { echo stk_{web,api}{,-proxy,-logs,-health}; }
# stack_pod APP: pod APP-1 is exactly the running tasks of the app's services.
stack_pod() {
	local s c want=''
	for s in "stk_$1" "stk_$1-proxy" "stk_$1-logs" "stk_$1-health"; do
		c=$(task_cid "$s")
		[[ -n $c && $c != *$'\n'* ]] || { echo "no single task of $s: '$c'"; return 1; }
		want+=$c$'\n'
	done
	[[ $(pod_members "$1-1") == "$(sort <<<"${want%$'\n'}")" ]] || { echo "pod $1-1: $(pod_members "$1-1" | tr '\n' ' ')"; return 1; }
}
stack_get() { # stack_get FROM-SERVICE PATH: GET the pod's proxy at 127.0.0.1:8000
	local c
	c=$(task_cid "$1") && [[ -n $c ]] || return 1
	timeout 10 docker exec "$c" wget -qO- "http://127.0.0.1:8000$2"
}
replaced() { # replaced SERVICE OLD-CID: SERVICE runs a container other than OLD-CID
	local c
	c=$(task_cid "$1")
	[[ -n $c && $c != "$2" ]]
}
no_members() { [[ -z $(pod_members "$1") ]]; }
stack_healthy() { # stack_healthy SERVICE
	local c
	c=$(task_cid "$1") && [[ -n $c ]] && health_is "$c" healthy
}
stack_cleanup() {
	docker stack rm stk >/dev/null 2>&1 || true
	swarm_down 100
}

part_stack() {
	part "stack: two apps, each with a proxy, a log collector and a health sidecar"
	at_exit stack_cleanup
	if ! docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1; then
		not_ok "stack: docker swarm init"
		return
	fi
	{
		echo 'version: "3.8"'
		echo 'services:'
		for app in web api; do
			cat <<-YAML
			  $app:
			    image: podshim/busybox
			    command: ["sh", "-c", "mkdir -p /www/api && echo $app-\$\$SLOT > /www/index.html && echo $app-\$\$SLOT > /www/api/index.html && exec httpd -f -vv -p 127.0.0.1:8080 -h /www 2>>/logs/access.log"]
			    environment: {PODSHIM_POD: '$app-{{.Task.Slot}}', SLOT: '{{.Task.Slot}}'}
			    labels: {podshim.volumes: /logs, podshim.essential: "true"}
			    networks: [hostnet]
			    stop_grace_period: 1s
			    deploy: {restart_policy: {delay: 1s}}
			  $app-proxy:
			    image: podshim/nginx
			    command: [nginx]
			    environment: {PODSHIM_POD: '$app-{{.Task.Slot}}'}
			    labels: {podshim.wait: "tcp:8080", podshim.wait-timeout: "30"}
			    deploy: {endpoint_mode: dnsrr, restart_policy: {delay: 1s}}
			    volumes: [{type: bind, source: $CMP/stack-$app-proxy.conf, target: /etc/nginx/conf.d/stack.conf, read_only: true}]
			    stop_grace_period: 1s
			  $app-logs:
			    image: podshim/busybox
			    command: ["tail", "-F", "/logs/access.log"]
			    environment: {PODSHIM_POD: '$app-{{.Task.Slot}}'}
			    labels: {podshim.volumes: /logs}
			    networks: [hostnet]
			    stop_grace_period: 1s
			    deploy: {restart_policy: {delay: 1s}}
			  $app-health:
			    image: podshim/busybox
			    command: ["httpd", "-f", "-p", "127.0.0.1:8081", "-h", "/www"]
			    environment: {PODSHIM_POD: '$app-{{.Task.Slot}}', APP_PORT: "8080"}
			    networks: [hostnet]
			    volumes: [{type: bind, source: $CMP/http-health.cgi, target: /www/cgi-bin/health, read_only: true}]
			    healthcheck: {test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:8081/cgi-bin/health || exit 1"], interval: 1s, timeout: 5s, retries: 1}
			    stop_grace_period: 1s
			    deploy: {restart_policy: {delay: 1s}}
			YAML
		done
		printf 'networks:\n  hostnet:\n    external: true\n    name: host\n'
	} >"$E2E_DIR/run/stack.yml"
	check "stack: docker stack deploy" docker stack deploy --resolve-image never -c "$E2E_DIR/run/stack.yml" stk
	for app in web api; do
		check "stack: pod $app-1 is the app, its proxy, log collector and health sidecar" \
			wait_for -n 300 -s 0.2 stack_pod "$app"
	done
	is "stack: web's proxy serves web from the pod's 127.0.0.1" "$(wait_for -n 50 stack_get stk_web-logs / 2>&1)" web-1
	is "stack: web's proxy routes /api/ to api's proxy over the stack network" \
		"$(wait_for -n 50 stack_get stk_web-logs /api/ 2>&1)" api-1
	is "stack: and api's proxy to its app" "$(wait_for -n 50 stack_get stk_api-logs / 2>&1)" api-1
	stack_get stk_web-logs "/$TOKEN" >/dev/null 2>&1
	check "stack: web's log collector shows the app's log line (docker service logs)" \
		wait_for -n 50 sh -c 'docker service logs --raw stk_web-logs 2>/dev/null | grep -F "url:/$0"' "$TOKEN"
	for app in web api; do
		check "stack: $app's health sidecar is healthy" wait_for -n 100 -s 0.3 stack_healthy "stk_$app-health"
	done
	proxy0=$(task_cid stk_web-proxy) logs0=$(task_cid stk_web-logs) api0=$(task_cid stk_api-proxy)
	kill -9 "$(docker inspect -f '{{.State.Pid}}' "$(task_cid stk_web)" 2>/dev/null)" 2>/dev/null
	check "stack: web killed (essential): its proxy is stopped and replaced by Swarm" \
		wait_for -n 150 -s 0.2 replaced stk_web-proxy "$proxy0"
	check "stack: and its log collector" \
		wait_for -n 150 -s 0.2 replaced stk_web-logs "$logs0"
	is "stack: the api pod is untouched" "$(task_cid stk_api-proxy)" "$api0"
	check "stack: pod web-1 is whole again" wait_for -n 300 -s 0.2 stack_pod web
	is "stack: and serves again through its proxy" "$(wait_for -n 100 stack_get stk_web-logs /api/ 2>&1)" api-1
	check "stack: docker stack rm" docker stack rm stk
	check "stack: no container left" wait_for -n 150 -s 0.2 sh -c '[ -z "$(docker ps -aq)" ]'
	for app in web api; do
		check "stack: pod $app-1 is gone" wait_for -n 50 no_members "$app-1"
	done
	docker swarm leave --force >/dev/null 2>&1
	part_done
}

for p in ${CMP_ONLY:-shm health mesh stack}; do
	"part_$p"
done

is "no containers left" "$(docker ps -aq 2>&1)" ""
is "podshim pod list shows no pods" "$(podshim_cli pod list --format json 2>&1 | jq -c . 2>&1)" "[]"
is "no pod /dev/shm left mounted" "$(shm_mounts)" 0
diag "all parts: $((($(now) - T_ALL) / 1000)) ms"
done_testing

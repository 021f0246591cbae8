#!/usr/bin/env bash
# tests/e2e/usecases.sh — the seed's pod use-cases (shared/seed/
# podlike-use-cases.md), end to end, on a private dockerd whose default
# runtime is podshim.  Pods are asked for with Docker labels only.
#
#   1. sidecar: caching nginx in front of an app bound to the pod's 127.0.0.1
#   2. log collector: `tail -F` of the app's log file on a pod volume
#   3. UNIX signals: SIGHUP by PID through a shared PID namespace
#   4. shared configuration: a member rewrites nginx's config and SIGHUPs it
#   5. HTTP health endpoint (and Docker HEALTHCHECK) for a plain TCP app
#   6. service mesh: two pods, app A -> proxy A -> unix socket -> proxy B -> app B
#
# All traffic goes to loopback: 127.0.0.1 inside a pod (through `docker
# exec`), or a port published on the host's 127.0.0.1.  Helpers (python
# programs, nginx configurations) are in tests/e2e/usecases/.
#
#   PODSHIM=build/cmd/podshim bash tests/e2e/usecases.sh
#   UC_ONLY="1 3"      run only these use-cases
#   UC1_NO_PUBLISH=1   use-case 1 without a published port (the fallback)
# (single-quoted scripts run in containers; commas in label values; helpers
# called through wait_for/retry)
# shellcheck disable=SC2016,SC2054,SC2317,SC2012
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

UC=$E2E_REPO/tests/e2e/usecases
TOKEN=tok-$$-$RANDOM

# Every docker call is bounded in time.
bounded_docker

# pod_inspect_field POD JQ-PATH: from pod inspect (pod_field: from pod list).
# cg2_of PID: its cgroup v2 path (the "0::" line); cg2_root: where the
# host mounts that hierarchy.
cg2_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
cg2_root() {
	local d
	for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[[ $(stat -f -c %T "$d" 2>/dev/null) == cgroup2fs ]] && { echo "$d"; return 0; }
	done
}

pod_inspect_field() {
	podshim_cli pod inspect "$1" 2>/dev/null | jq -r ".[0]$2"
}

now() { echo "${EPOCHREALTIME/./}"; }
usecase() { # usecase N TITLE
	UC_T0=$(now)
	diag "--- use-case $1: $2"
}
usecase_done() {
	rm_all
	diag "use-case took $((($(now) - UC_T0) / 1000)) ms"
}

dockerd_up
images_up busybox nginx python
T_ALL=$(now)

# --- 1. sidecar ------------------------------------------------------------
# The app (python, 127.0.0.1:8000 only) and a caching nginx (port 8080, cache
# on the pod volume /cache) share the pod's loopback.  nginx is the pod's
# networked member on a user-defined bridge with published ports; it must be
# created first: podshim keeps Docker's libnetwork-setkey hook for the
# pod's first member that has one, and a --network none container has one too.

uc1_get() { # uc1_get [PATH] -> UC1_STATUS UC1_CACHE UC1_BODY
	local out hdr path=${1:-/}
	UC1_STATUS='' UC1_CACHE='' UC1_BODY=''
	if [[ $UC1_MODE == host ]]; then
		out=$(curl -sS -i --max-time 5 "http://$UC1_ADDR$path" 2>&1 | tr -d '\r')
		UC1_STATUS=$(sed -n '1s|^HTTP/[0-9.]* \([0-9]*\).*|\1|p' <<<"$out")
		UC1_CACHE=$(sed -n 's/^X-Cache-Status: *//Ip' <<<"$out")
		UC1_BODY=$(sed '1,/^$/d' <<<"$out")
	else
		hdr=$E2E_DIR/run/uc1.hdr
		UC1_BODY=$(in_pod uc1-client wget -S -qO- "http://127.0.0.1:8080$path" 2>"$hdr")
		UC1_STATUS=$(sed -n 's|^ *HTTP/[0-9.]* \([0-9]*\).*|\1|p' "$hdr" | tail -n1)
		UC1_CACHE=$(sed -n 's/^ *X-Cache-Status: *//Ip' "$hdr" | tr -d '\r')
	fi
	UC1_LOG+="$UC1_STATUS/${UC1_CACHE:--}/${UC1_BODY:-(no body)};"
}
uc1_fresh() { uc1_get "$@" && [[ $UC1_STATUS == 200 && $UC1_BODY == "uc1 $TOKEN" ]]; }
uc1_stale() { uc1_get && [[ $UC1_STATUS == 200 && $UC1_CACHE == STALE ]]; }

uc1() {
	usecase 1 "sidecar: caching nginx in front of an app bound to 127.0.0.1"
	docker network create uc1-net >/dev/null
	POD1=(--label podshim.pod=uc-sidecar)
	run_d uc1-proxy "${POD1[@]}" --label podshim.volumes=/cache --network uc1-net \
		-p 127.0.0.1::8080 -p 127.0.0.1::8000 \
		-v "$UC/sidecar-nginx.conf:/etc/nginx/nginx.conf:ro" podshim/nginx nginx
	run_d uc1-app "${POD1[@]}" --network none -v "$UC:/uc:ro" \
		podshim/python python3 /uc/app.py 8000 "uc1 $TOKEN"
	check "uc1: both containers are members of pod uc-sidecar" \
		wait_for -n 25 members_are uc-sidecar uc1-proxy uc1-app
	check "uc1: the app listens on the pod's 127.0.0.1:8000 only" \
		wait_for -n 50 sh -c "docker exec uc1-proxy netstat -ltn | grep -q ' 127\\.0\\.0\\.1:8000 ' &&
			! docker exec uc1-proxy netstat -ltn | grep -Eq ' (0\\.0\\.0\\.0|:::):8000 '"
	check "uc1: nginx reaches the app over the pod's loopback" \
		wait_for -n 50 in_pod uc1-proxy wget -qO- http://127.0.0.1:8000/

	UC1_MODE=host UC1_LOG=''
	UC1_ADDR=$(docker port uc1-proxy 8080/tcp 2>/dev/null | head -n1)
	if [[ ${UC1_NO_PUBLISH:-0} == 1 || -z $UC1_ADDR ]] || ! retry 25 0.2 uc1_fresh /?probe; then
		diag "the proxy's published port ($UC1_ADDR) does not answer from the host" \
			"(or UC1_NO_PUBLISH=1): fetching through a third, --network none member" \
			"of the pod with docker exec instead"
		UC1_MODE=exec UC1_LOG=''
		run_d uc1-client "${POD1[@]}" --network none podshim/busybox sleep 600
	else
		diag "the proxy is published on the host's $UC1_ADDR (docker-proxy); the app is not"
	fi
	# (the probe's answer is cached under its own key: / is not in the cache yet)
	if retry 25 0.2 uc1_fresh; then
		ok "uc1: the app answers through nginx ($UC1_MODE: $UC1_STATUS, cache $UC1_CACHE)"
	else
		not_ok "uc1: the app answers through nginx" "responses: $UC1_LOG"
	fi
	is "uc1: that answer came from the app, not the cache" "$UC1_CACHE" MISS
	like "uc1: the app saw nginx's request on its loopback" \
		"$(docker logs uc1-app 2>&1)" 'app: "GET / HTTP/1\.0" 200'
	if [[ $UC1_MODE == host ]]; then
		app_addr=$(docker port uc1-proxy 8000/tcp 2>/dev/null | head -n1)
		out=$(curl -sS --max-time 5 "http://$app_addr/" 2>&1)
		rc=$?
		if ((rc != 0)) && [[ $out != *"$TOKEN"* ]]; then
			ok "uc1: the app's port is not reachable from the host, even published ($app_addr: curl rc $rc)"
		else
			not_ok "uc1: the app's port is not reachable from the host" "curl $app_addr rc $rc: $out"
		fi
	else
		diag "uc1: no published ports: the app port's host reachability is not tested"
	fi
	check "uc1: nginx keeps its cache on the pod volume /cache" \
		sh -c 'docker exec uc1-proxy find /cache/nginx -type f | grep -q .'

	out=$(docker stop uc1-app 2>&1)
	is "uc1: docker stop app" "$out $(docker inspect -f '{{.State.ExitCode}}' uc1-app)" "uc1-app 0"
	members=(uc1-proxy)
	[[ $UC1_MODE == host ]] || members+=(uc1-client)
	check "uc1: the pod survives the app's exit (nginx is still a member)" \
		wait_for -n 25 members_are uc-sidecar "${members[@]}"
	is "uc1: nginx is still running" "$(state uc1-proxy)" running
	check "uc1: the app no longer answers on the pod's loopback" \
		sh -c '! docker exec uc1-proxy timeout 5 wget -qO- http://127.0.0.1:8000/'
	UC1_LOG=''
	if retry 40 0.25 uc1_stale && [[ $UC1_BODY == "uc1 $TOKEN" ]]; then
		ok "uc1: nginx serves the stale cached answer with the app gone"
	else
		not_ok "uc1: nginx serves the stale cached answer with the app gone" "responses: $UC1_LOG"
	fi
	bad=$(tr ';' '\n' <<<"$UC1_LOG" | grep -v '^$' | grep -v "^200/" || true)
	is "uc1: every answer after the app stopped was a 200" "$bad" ""
	rm_all
	docker network rm uc1-net >/dev/null 2>&1
	check "uc1: the pod is gone with its last member" wait_for -n 25 pod_gone uc-sidecar
	usecase_done
}

# --- 2. log collector ------------------------------------------------------
uc2() {
	usecase 2 "log collector: tail -F of the app's log file on a pod volume"
	POD2=(--label podshim.pod=uc-logs --label podshim.volumes=/logs --network none)
	# the collector starts first: tail -F waits for the file to appear
	run_d uc2-collector "${POD2[@]}" podshim/busybox tail -F /logs/app.log
	run_d uc2-app "${POD2[@]}" --init -e "TOKEN=$TOKEN" podshim/busybox sh -c \
		'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "app $TOKEN line $i" >>/logs/app.log; sleep 0.1; done'
	check "uc2: both containers are members of pod uc-logs" \
		wait_for -n 25 members_are uc-logs uc2-collector uc2-app
	UC2_DIR=$(pod_inspect_field uc-logs .state_dir)
	if wait_for -n 50 sh -c "docker logs uc2-collector 2>/dev/null | grep -q 'app $TOKEN line 5\$'" >/dev/null; then
		ok "uc2: the app's log lines show in docker logs of the collector"
	else
		not_ok "uc2: the app's log lines show in docker logs of the collector" "$(docker logs uc2-collector 2>&1 | tail -n 5)"
	fi
	is "uc2: in order, from the first" \
		"$(docker logs uc2-collector 2>/dev/null | grep -o "app $TOKEN line [0-9]*" | head -n 5 | sed 's/.* //' | tr '\n' ' ')" "1 2 3 4 5 "
	is "uc2: the app itself writes nothing to its stdout/stderr" "$(docker logs uc2-app 2>&1)" ""
	is "uc2: another pod's /logs volume is its own (empty)" \
		"$(docker run --rm --label podshim.pod=uc-logs-other --label podshim.volumes=/logs --network none podshim/busybox ls -A /logs 2>&1)" ""
	check "uc2: uc-logs-other is gone after its only member" wait_for -n 25 pod_gone uc-logs-other
	rm_all
	check "uc2: the pod is gone with its members" wait_for -n 25 pod_gone uc-logs
	if [[ -n $UC2_DIR && $UC2_DIR != null && ! -e $UC2_DIR ]]; then
		ok "uc2: the pod's state and /logs volume were removed"
	else
		not_ok "uc2: the pod's state and /logs volume were removed" "state_dir: $UC2_DIR" "$(ls -laR "$UC2_DIR" 2>&1 | head)"
	fi
	usecase_done
}

# --- 3. UNIX signals -------------------------------------------------------
uc3() {
	usecase 3 "UNIX signals: SIGHUP by PID through a shared PID namespace"
	POD3=(--label podshim.pod=uc-signals --label podshim.share=net,ipc,uts,pid --label podshim.volumes=/shared --network none)
	run_d uc3-a "${POD3[@]}" podshim/busybox sh -c \
		'trap "echo hup >>/shared/signals" HUP; echo $$ >/shared/a.pid.tmp; mv /shared/a.pid.tmp /shared/a.pid
		 while :; do sleep 1 & wait $!; done'
	check "uc3: A wrote its PID to the pod volume" wait_for -n 50 docker exec uc3-a test -s /shared/a.pid
	# B: send HUP three times, each after the previous one was recorded
	out=$(docker run --rm --name uc3-b "${POD3[@]}" podshim/busybox sh -c '
		pid=$(cat /shared/a.pid); echo "target $pid"
		for i in 1 2 3; do
			kill -HUP "$pid" || exit 1
			n=0
			while [ "$(cat /shared/signals 2>/dev/null | wc -l)" -lt $i ]; do
				n=$((n+1)); [ $n -lt 100 ] || exit 2; sleep 0.1
			done
		done
		echo "sent 3"; ps -o pid,comm' 2>&1)
	rc=$?
	is "uc3: B signalled A and exited 0" "$rc" 0
	like "uc3: B sees A's PID (not 1: PID 1 is the pod's)" "$out" $'target ([2-9]|[1-9][0-9]+)\n'
	like "uc3: B sent 3 HUPs" "$out" 'sent 3'
	is "uc3: A recorded exactly 3 signals" "$(docker exec uc3-a cat /shared/signals 2>&1 | tr '\n' ' ')" "hup hup hup "
	like "uc3: ps in B shows PID 1 is podshim-pause" "$out" $'\n *1 +podshim-pause *\n'
	is "uc3: A is still running" "$(state uc3-a)" running
	UC3_PAUSE=$(pod_inspect_field uc-signals .pause_pid)
	like "uc3: the pod records its pause process" "$UC3_PAUSE" '^[1-9][0-9]*$'
	# Where podshim's own processes live (cgroup v2 paths; on a hybrid host
	# every process has one too): the holder and the pause are children of
	# podshim, run by containerd's shim, so they are in the shim's cgroup,
	# which is containerd's and dockerd's, never in a member's: removing a
	# member's cgroup never finds them there (and hack/dockerd stop fails when
	# anything of ours is left in the daemon's own cgroup, PODSHIM_DOCKERD_MOUNTNS=cgroup2).
	local holder a_cg daemon_cg
	holder=$(pod_inspect_field uc-signals .holder_pid)
	daemon_cg=$(cg2_of "$(<"$E2E_DIR/dockerd.pid")")
	a_cg=$(cg2_of "$(docker inspect -f '{{.State.Pid}}' uc3-a)")
	is "uc3: the holder and the pause are in dockerd's cgroup ($daemon_cg)" \
		"$(cg2_of "$holder") $(cg2_of "$UC3_PAUSE")" "$daemon_cg $daemon_cg"
	if [[ $a_cg == / || $a_cg == "$daemon_cg" ]]; then
		# crun through tests/lib/oci.sh's hybrid wrapper runs in legacy v1
		# mode: its containers have no cgroup v2 of their own
		ok "uc3: a member's cgroup is its own # SKIP A has no cgroup v2 of its own ($a_cg)"
	else
		like "uc3: a member's cgroup is its own ($a_cg)" "$a_cg" "/$(docker inspect -f '{{.Id}}' uc3-a)\$"
	fi
	check "uc3: only A is left in the pod" wait_for -n 25 members_are uc-signals uc3-a
	rm_all
	check "uc3: the pod is gone with its last member" wait_for -n 25 pod_gone uc-signals
	if [[ $a_cg == / || $a_cg == "$daemon_cg" ]]; then
		ok "uc3: the members' cgroups are removed # SKIP A had no cgroup v2 of its own ($a_cg)"
	else
		check "uc3: the members' cgroups are removed" wait_for -n 25 test ! -d "$(cg2_root)$a_cg"
	fi
	if [[ $UC3_PAUSE =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$UC3_PAUSE/comm" 2>/dev/null) == podshim-pause ]]; then
		not_ok "uc3: the pod's pause process is gone" "pid $UC3_PAUSE still runs"
	else
		ok "uc3: the pod's pause process is gone"
	fi
	usecase_done
}

# --- 4. shared configuration -----------------------------------------------
uc4() {
	usecase 4 "shared configuration: rewrite nginx's config on a pod volume, SIGHUP it"
	POD4=(--label podshim.pod=uc-config --label podshim.share=net,ipc,uts,pid --label podshim.volumes=/conf --network none)
	# the controller writes the first configuration; nginx waits for it
	run_d uc4-ctl "${POD4[@]}" -v "$UC:/templates:ro" podshim/busybox sh -c \
		'cp /templates/config-v1.conf /conf/nginx.conf.tmp && mv /conf/nginx.conf.tmp /conf/nginx.conf && exec sleep 600'
	run_d uc4-web "${POD4[@]}" podshim/nginx sh -c \
		'while [ ! -f /conf/nginx.conf ]; do sleep 0.1; done; exec nginx -c /conf/nginx.conf'
	uc4_get() { in_pod uc4-ctl wget -qO- http://127.0.0.1:8080/; }
	out=$(wait_for -n 50 uc4_get 2>&1)
	is "uc4: nginx serves with the first configuration" "$out" "served by config v1"
	UC4_PID=$(docker exec uc4-ctl cat /conf/nginx.pid 2>&1)
	UC4_STARTED=$(docker inspect -f '{{.State.StartedAt}}' uc4-web)
	like "uc4: nginx's master PID is on the pod volume" "$UC4_PID" '^[0-9]+$'
	out=$(docker exec -e "TOKEN=$TOKEN" uc4-ctl sh -c '
		mkdir -p /conf/www && echo "served by config v2, $TOKEN" >/conf/www/index.txt &&
		cp /templates/config-v2.conf /conf/nginx.conf.tmp && mv /conf/nginx.conf.tmp /conf/nginx.conf' 2>&1)
	is "uc4: the controller rewrote the configuration and content" "$?$out" 0
	is "uc4: without a signal nginx still serves the old configuration" "$(uc4_get 2>&1)" "served by config v1"
	out=$(docker exec uc4-ctl sh -c 'kill -HUP "$(cat /conf/nginx.pid)"' 2>&1)
	is "uc4: the controller sent SIGHUP to nginx's master by PID" "$?$out" 0
	uc4_v2() { [[ $(uc4_get 2>&1) == "served by config v2, $TOKEN" ]]; }
	if wait_for -n 50 uc4_v2 >/dev/null 2>&1; then
		ok "uc4: nginx serves the new content with the new configuration"
	else
		not_ok "uc4: nginx serves the new content with the new configuration" "got: $(uc4_get 2>&1)"
	fi
	is "uc4: nginx reloaded in place (same master PID, not restarted)" \
		"$(docker exec uc4-ctl cat /conf/nginx.pid 2>&1) $(docker inspect -f '{{.State.StartedAt}}' uc4-web)" \
		"$UC4_PID $UC4_STARTED"
	rm_all
	check "uc4: the pod is gone with its members" wait_for -n 25 pod_gone uc-config
	usecase_done
}

# --- 5. HTTP health endpoint for a non-HTTP app ----------------------------
# uc5_health_is STATUS DESC: wait (30 s at most) for the sidecar's Docker
# health status to become STATUS.
uc5_health_is() {
	local t0 st
	t0=$(now)
	if retry 120 0.25 health_is uc5-health "$1"; then
		ok "$2 (after $((($(now) - t0) / 1000)) ms)"
	else
		st=$(health uc5-health)
		not_ok "$2" "status: $st" "$(docker inspect -f '{{json .State.Health.Log}}' uc5-health 2>&1 | tail -c 1500)"
	fi
}

uc5() {
	usecase 5 "HTTP health endpoint and Docker HEALTHCHECK for a plain TCP app"
	POD5=(--label podshim.pod=uc-health --network none)
	# the app: a TCP echo server (the pod has no interface but loopback)
	run_d uc5-app "${POD5[@]}" --init podshim/busybox nc -ll -p 9000 -e /bin/cat
	run_d uc5-health "${POD5[@]}" -v "$UC:/uc:ro" \
		--health-cmd 'wget -qO- http://127.0.0.1:8081/health || exit 1' \
		--health-interval 1s --health-retries 1 --health-timeout 5s \
		podshim/python python3 /uc/health.py 8081 9000
	out=$(wait_for -n 50 sh -c 'echo ping-$0 | docker exec -i uc5-health timeout 3 nc 127.0.0.1 9000' "$TOKEN" 2>&1)
	is "uc5: the app is a plain TCP echo server on the pod's loopback" "$out" "ping-$TOKEN"
	is "uc5: GET /health answers 200 alive" "$(wait_for -n 25 in_pod uc5-health wget -qO- http://127.0.0.1:8081/health 2>&1)" alive
	uc5_health_is healthy "uc5: docker inspect shows the sidecar healthy"
	docker stop uc5-app >/dev/null 2>&1
	is "uc5: the app stopped" "$(state uc5-app)" exited
	check "uc5: the sidecar keeps the pod" wait_for -n 25 members_are uc-health uc5-health
	like "uc5: GET /health answers 503 with the app gone" \
		"$(in_pod uc5-health wget -qO- http://127.0.0.1:8081/health 2>&1)" '503'
	uc5_health_is unhealthy "uc5: docker inspect shows the sidecar unhealthy"
	docker start uc5-app >/dev/null 2>&1
	check "uc5: the restarted app rejoins the pod" wait_for -n 25 members_are uc-health uc5-health uc5-app
	uc5_health_is healthy "uc5: and the sidecar becomes healthy again"
	rm_all
	check "uc5: the pod is gone with its members" wait_for -n 25 pod_gone uc-health
	usecase_done
}

# --- 6. service mesh -------------------------------------------------------
# Pod A: app A (127.0.0.1:8000, GET /call fetches http://127.0.0.1:7000/) and
# proxy A (127.0.0.1:7000 -> unix:/mesh/b.sock).  Pod B: proxy B
# (unix:/mesh/b.sock -> 127.0.0.1:8000) and app B (127.0.0.1:8000).  The
# unix socket is on a named Docker volume that only the proxies mount.
uc6() {
	usecase 6 "service mesh: app A -> proxy A -> unix socket -> proxy B -> app B"
	docker volume create uc6-mesh >/dev/null
	PODA=(--label podshim.pod=uc-mesh-a --network none -v "$UC:/uc:ro")
	PODB=(--label podshim.pod=uc-mesh-b --network none -v "$UC:/uc:ro")
	run_d uc6-b-app "${PODB[@]}" podshim/python python3 /uc/app.py 8000 "B $TOKEN"
	run_d uc6-b-proxy "${PODB[@]}" -v uc6-mesh:/mesh podshim/python python3 /uc/proxy.py unix:/mesh/b.sock tcp:127.0.0.1:8000
	run_d uc6-a-proxy "${PODA[@]}" -v uc6-mesh:/mesh podshim/python python3 /uc/proxy.py tcp:127.0.0.1:7000 unix:/mesh/b.sock
	run_d uc6-a-app "${PODA[@]}" podshim/python python3 /uc/app.py 8000 "A" http://127.0.0.1:7000/
	check "uc6: pod A has app A and proxy A" wait_for -n 25 members_are uc-mesh-a uc6-a-app uc6-a-proxy
	check "uc6: pod B has app B and proxy B" wait_for -n 25 members_are uc-mesh-b uc6-b-app uc6-b-proxy
	uc6_call() { in_pod uc6-a-app wget -qO- http://127.0.0.1:8000/call; }
	is "uc6: app A's call through its local proxy returns B's answer" \
		"$(wait_for -n 50 uc6_call 2>&1)" "A got: B $TOKEN"
	is "uc6: pod A's own 127.0.0.1:8000 is app A (the pods' loopbacks are separate)" \
		"$(in_pod uc6-a-proxy wget -qO- http://127.0.0.1:8000/ 2>&1)" A
	is "uc6: and pod B's is app B" "$(in_pod uc6-b-proxy wget -qO- http://127.0.0.1:8000/ 2>&1)" "B $TOKEN"
	docker stop uc6-b-proxy >/dev/null 2>&1
	is "uc6: proxy B stopped" "$(state uc6-b-proxy)" exited
	t0=$(now)
	out=$(in_pod uc6-a-app wget -S -qO- http://127.0.0.1:8000/call 2>&1)
	rc=$? ms=$((($(now) - t0) / 1000))
	if ((rc != 0)) && [[ $out == *" 502 "* && $out != *"B $TOKEN"* ]] && ((ms < 10000)); then
		ok "uc6: with proxy B gone, A's call fails cleanly (502 in $ms ms)"
	else
		not_ok "uc6: with proxy B gone, A's call fails cleanly" "rc $rc, $ms ms:" "$out"
	fi
	is "uc6: app A still runs" "$(state uc6-a-app)" running
	docker start uc6-b-proxy >/dev/null 2>&1
	is "uc6: proxy B restarted: the call works again" "$(wait_for -n 50 uc6_call 2>&1)" "A got: B $TOKEN"
	rm_all
	docker volume rm uc6-mesh >/dev/null 2>&1
	check "uc6: pod A is gone" wait_for -n 25 pod_gone uc-mesh-a
	check "uc6: pod B is gone" wait_for -n 25 pod_gone uc-mesh-b
	usecase_done
}

for n in ${UC_ONLY:-1 2 3 4 5 6}; do
	"uc$n"
done

# --- the end ---------------------------------------------------------------
is "no containers left" "$(docker ps -aq 2>&1)" ""
is "podshim pod list shows no pods" "$(podshim_cli pod list --format json 2>&1 | jq -c . 2>&1)" "[]"
left=$(find "$PODSHIM_STATE" -mindepth 3 -maxdepth 3 \( -path '*/pods/*' -o -path '*/containers/*' \) 2>&1)
is "podshim's state dir holds no pod and no container index" "$left" ""
diag "all use-cases: $((($(now) - T_ALL) / 1000)) ms"
done_testing

#!/usr/bin/env bash
# e2e-swarm — use-case 7 of the seed: "pods" of Swarm services, with podshim
# as the daemon's default runtime (a service has no --runtime).
#
#   services  app + sidecar, --env PODSHIM_POD=web-{{.Task.Slot}}, 2 replicas
#             each, the sidecar `--network host` (the recipe that works on
#             every engine: one Docker-networked member per pod): pods web-1,
#             web-2 of two members sharing one netns; the sidecar reaches its
#             own slot's app on 127.0.0.1:8080; the app's port published
#             (mode=host) answers from the pod
#   refused   engines without the setkey hook: a second Docker-networked
#             service in a pod fails with podshim's advice in `docker service
#             ps --no-trunc`, and leaves no interface in the pod
#   kill      a killed task is rescheduled into its pod (same netns)
#   scale     app=3 sidecar=3 adds pod web-3
#   update    service update --force sidecar: the new tasks rejoin their pods
#   remove    removing a service removes its members; removing both removes
#             the pods, their pinned namespaces and pauses
#   labels    --container-label podshim.pod=NAME (a fixed name; labels are
#             not templated by Swarm, and podshim rejects the raw template);
#             the --network host member constrained to nodes labelled
#             podshim=true: pending until the node has the label
#   ingress   the owner publishes in ingress mode: its ingress and
#             docker_gwbridge interfaces are the pod's; the routing mesh
#             reaches the pod when the kernel has IPVS (else a TAP skip)
#   stack     docker stack deploy of a compose v3 file (environment for the
#             pod name, service labels for podshim.share, the app on the
#             stack's overlay network, the sidecar on the external network
#             `host`), the sidecar resolving another service of the stack
#             through Docker's DNS at 127.0.0.11 in the pod (the owner's
#             /etc/resolv.conf and /etc/hosts), killing the pod's network
#             owner, scaling the stack, docker stack rm
#
# A task of a service without --network gets the node's bridge network
# (NetworkMode "default" on 20.10, "bridge" on 28).  `--network none` is
# refused for services ("network none not found"): a sidecar that must not
# bring its own interface uses `--network host`, which podshim puts in the
# pod.  Only loopback traffic, in the test daemon's own netns.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
SVC_OPTS=(-d -q --no-resolve-image --stop-grace-period 1s --restart-delay 1s
	--update-delay 0s --restart-max-attempts 20)
IMG=podshim/busybox
# The app serves its slot (templated env) and the pod's hostname.
APP_CMD=(sh -c 'mkdir -p /www && echo "slot=$SLOT host=$(hostname)" >/www/index.html &&
	exec httpd -f -p 127.0.0.1:8080 -h /www')
PAUSES=()

# --- helpers ------------------------------------------------------------------


# task_cid SERVICE SLOT: the running container of SERVICE's task in SLOT.
task_cid() {
	docker ps --no-trunc --filter "label=com.docker.swarm.service.name=$1" \
		--format '{{.ID}} {{.Label "com.docker.swarm.task.name"}}' |
		awk -v p="$1.$2." 'index($2, p) == 1 { print $1 }'
}

# one_task_cid SERVICE SLOT: like task_cid, but fails unless exactly one.
one_task_cid() {
	local ids
	ids=$(task_cid "$1" "$2")
	[[ -n $ids && $ids != *$'\n'* ]] || { echo "no single running task $1.$2: '${ids}'" >&2; return 1; }
	echo "$ids"
}


# slot_pod POD SLOT SERVICE...: POD's members are exactly the running tasks
# of the SERVICEs in SLOT.
slot_pod() {
	local pod=$1 slot=$2 s c
	local -a ids=()
	shift 2
	for s in "$@"; do
		c=$(one_task_cid "$s" "$slot") || return 1
		ids+=("$c")
	done
	pod_is "$pod" "${ids[@]}"
}

pid_of() { docker inspect -f '{{.State.Pid}}' "$1"; }
netns_of() {
	local pid
	pid=$(pid_of "$1") && [[ $pid != 0 ]] && stat -L -c %i "/proc/$pid/ns/net"
}
pinned_net() {
	# A stack's pods are scoped: their directory is their key, stack:STACK:NAME.
	local key f h
	key=$(pods | jq -r --arg n "$1" '[.[] | select(.name == $n) | .key][0] // $n')
	f=("$PODSHIM_STATE"/*/pods/"$key"/pod.json)
	[[ -e ${f[0]} ]] && h=$(jq -er .holder.pid "${f[0]}") && stat -L -c %i "/proc/$h/ns/net"
}

# same_netns POD SLOT SERVICE...: the SERVICEs' tasks in SLOT are in POD's
# pinned net namespace.
same_netns() {
	local pod=$1 slot=$2 s c want got bad=0
	shift 2
	want=$(pinned_net "$pod") || { echo "no pinned netns for $pod"; return 1; }
	for s in "$@"; do
		c=$(one_task_cid "$s" "$slot") || return 1
		got=$(netns_of "$c") || got=?
		echo "$s.$slot: net:[$got] pinned:[$want]"
		[[ $got == "$want" ]] || bad=1
	done
	return "$bad"
}

# fetch SERVICE SLOT EXPECTED: SERVICE's task in SLOT gets EXPECTED from
# 127.0.0.1:8080 (its pod's app).
fetch() {
	local c out
	c=$(one_task_cid "$1" "$2") || return 1
	# (no wget -T: Debian's busybox-static 1.35 wget segfaults with it)
	out=$(timeout 10 docker exec "$c" wget -qO- http://127.0.0.1:8080/ 2>&1) ||
		{ echo "wget failed ($?): $out"; return 1; }
	[[ $out == "$3" ]] || { echo "got '$out', want '$3'"; return 1; }
	echo "$out"
}

no_pods() {
	local left
	left=$(pods | jq -r --arg p "$1" '.[] | select(.name | startswith($p)) | .name')
	[[ -z $left ]] || { echo "pods left: $left"; return 1; }
}

no_pinned_mounts() {
	! grep -F " $PODSHIM_STATE/" /proc/self/mountinfo
}

# remember_pauses: record the pods' pause PIDs, to check they die later.
remember_pauses() {
	local p
	for p in $(pods | jq -r '.[] | (.pause_pid, .holder_pid) | select(. > 0)'); do
		PAUSES+=("$p")
	done
}
no_pauses() {
	local p bad=0
	for p in "${PAUSES[@]}"; do
		if [[ $(cat "/proc/$p/comm" 2>/dev/null) == podshim-pause ]]; then
			echo "pause $p still running"
			bad=1
		fi
	done
	return "$bad"
}

no_containers_of() {
	local ids
	ids=$(docker ps -aq --filter "label=com.docker.swarm.service.name=$1")
	[[ -z $ids ]] || { echo "containers of $1 left: $ids"; return 1; }
}

# service_error SERVICE PATTERN: a task of SERVICE failed with PATTERN.
service_error() {
	docker service ps --no-trunc --format '{{.Error}}' "$1" | grep -F -- "$2"
}

svc() { docker service create "${SVC_OPTS[@]}" "$@" >/dev/null; }

swarm_cleanup() {
	docker stack rm stk >/dev/null 2>&1 || true
	local s
	for s in $(docker service ls -q 2>/dev/null); do
		docker service rm "$s" >/dev/null 2>&1 || true
	done
	swarm_down
}

# Composite checks (check/wait_for run shell functions directly).
none_refused() {
	local out
	if out=$(docker service create -d --no-resolve-image --network none --name nonet "$IMG" true 2>&1); then
		docker service rm nonet >/dev/null 2>&1 || true
		echo "created: $out"
		return 1
	fi
	echo "$out"
	[[ $out == *"network none not found"* ]]
}
# new_task SERVICE SLOT OLD: SERVICE's task in SLOT is running and not OLD.
new_task() {
	local c
	c=$(one_task_cid "$1" "$2") && [[ $c != "$3" ]] || { echo "no new $1.$2 yet"; return 1; }
}
back_in_pod() { new_task "$1" "$2" "$3" && slot_pod "$4" "$2" "${@:5}"; }
web_1_2_intact() { slot_pod web-1 1 app sidecar && slot_pod web-2 2 app sidecar; }
all_web_pods() { web_1_2_intact && slot_pod web-3 3 app sidecar; }
only_apps() {
	local s
	for s in 1 2 3; do
		pod_is "web-$s" "${APP_IDS[s]}" || return 1
	done
}
services_gone() { no_containers_of app && no_containers_of sidecar; }
stack_pod() {
	local shared
	slot_pod "stk-$1" "$1" stk_app stk_sidecar || return 1
	shared=$(pods | jq -r --arg n "stk-$1" '.[] | select(.name == $n) | .shared | join(",")')
	[[ $shared == net,ipc,uts,pid ]] || { echo "stk-$1 shares $shared"; return 1; }
}
eth0_of() { docker exec "$1" ip -o addr show eth0 | sed 's/^[0-9]*: //'; }
# same_eth0 CID CID: both see the same, non-empty eth0 addresses.
same_eth0() {
	local a b
	a=$(eth0_of "$1") && b=$(eth0_of "$2") || return 1
	echo "$a"
	[[ $a == *inet* && $a == "$b" ]] || { echo "differs or no address: $b"; return 1; }
}
sees_procs() {
	local ps
	ps=$(docker exec "$1" ps -o comm) || return 1
	grep -qx httpd <<<"$ps" && grep -qx podshim-pause <<<"$ps" || { echo "$ps"; return 1; }
}
# owner_back: the network owner's service has a new task in slot 1 that is
# in stk-1 with the partner, owns the pod's network, and eth0 is back.
owner_back() {
	local c
	new_task "$OSVC" 1 "$OWNER" || return 1
	c=$(one_task_cid "$OSVC" 1) || return 1
	pod_is stk-1 "$c" "$PARTNER" || return 1
	owner_of stk-1 "$c" || return 1
	docker exec "$PARTNER" ip -o addr show eth0 | grep -q inet || { echo "no eth0 address in the pod yet"; return 1; }
}
# published PORT WANT: 127.0.0.1:PORT in the daemon's netns answers WANT.
published() {
	local out
	out=$(in_dockerd_netns timeout 10 wget -qO- "http://127.0.0.1:$1/" 2>&1) || { echo "wget: $out"; return 1; }
	[[ $out == "$2" ]] || { echo "got '$out', want '$2'"; return 1; }
}
# resolves CID NAME: CID's /etc/resolv.conf names only 127.0.0.11, and NAME
# resolves there (Docker's embedded DNS in the pod's netns; never a query
# off the machine: the test daemon's netns has no route out anyway).
resolves() {
	local rc out
	rc=$(docker exec "$1" grep '^nameserver' /etc/resolv.conf) || return 1
	[[ $rc == "nameserver 127.0.0.11" ]] || { echo "resolv.conf: $rc"; return 1; }
	out=$(docker exec "$1" nslookup -type=a "$2" 127.0.0.11 2>&1) || { echo "$out"; return 1; }
	grep -q '^Address: [0-9.]*$' <<<"$out" || { echo "$out"; return 1; }
	echo "$out" | grep '^Address'
}
gwbridge_gone() {
	docker network rm docker_gwbridge >/dev/null 2>&1 || true
	wait_for -n 25 sh -c '! ip -n "$PODSHIM_DOCKERD_NETNS" link show docker_gwbridge 2>/dev/null'
}
ips_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1"; }
the_end() { no_pinned_mounts && no_pauses; }

# --- setup ----------------------------------------------------------------

plan 59
dockerd_up
at_exit swarm_cleanup
images_up busybox
docker swarm init --advertise-addr 127.0.0.1 >/dev/null ||
	bail "docker swarm init failed"
diag "swarm up after $((SECONDS - T0))s"

# --- services, env template -------------------------------------------------

check "service create --network none is refused (not a swarm network)" none_refused

svc --name app --replicas 2 --env 'PODSHIM_POD=web-{{.Task.Slot}}' --env 'SLOT={{.Task.Slot}}' \
	"$IMG" "${APP_CMD[@]}"
svc --name sidecar --replicas 2 --network host --env 'PODSHIM_POD=web-{{.Task.Slot}}' "$IMG" sleep 1000
t=$SECONDS
for s in 1 2; do
	check "env template: pod web-$s has exactly app.$s and sidecar.$s" \
		wait_for -n 150 -s 0.2 slot_pod "web-$s" "$s" app sidecar
done
diag "pods formed after $((SECONDS - t))s"
for s in 1 2; do
	check "web-$s: both tasks are in the pod's pinned netns" same_netns "web-$s" "$s" app sidecar
done
for s in 1 2; do
	check "sidecar.$s reaches its own app over 127.0.0.1 (hostname = pod name)" \
		wait_for -n 50 fetch sidecar "$s" "slot=$s host=web-$s"
done
if c=$(one_task_cid app 1 2>/dev/null); then
	diag "a task without --network: NetworkMode=$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$c");" \
		"interfaces: $(docker exec "$c" ip -o link | awk -F': ' '{ printf "%s ", $2 }');" \
		"network_owner of web-1: '$(pod_field web-1 network_owner)'"
fi
A1=$(one_task_cid app 1 || echo none)
check "web-1's network owner is app.1 (the sidecar is --network host)" owner_of web-1 "$A1"

if engine_hooked; then
	skip "a second networked member is refused: this engine has the setkey hook"
	skip "...and leaves no interface in the pod"
else
	svc --name extra --replicas 1 --env 'PODSHIM_POD=web-1' "$IMG" sleep 1000
	check "a second Docker-networked service in web-1 fails with podshim's advice (service ps --no-trunc)" \
		wait_for -n 150 -s 0.2 service_error extra 'Swarm service: `--network host`'
	docker service rm extra >/dev/null
	check "...and leaves no interface in the pod: app.1 sees lo and eth0 only" links_are "$A1" "eth0 lo"
fi

# --- a killed task comes back into its pod -------------------------------------

old=$(one_task_cid app 1 || true)
t=$SECONDS
docker kill "$old" >/dev/null 2>&1 || true
check "docker kill app.1: Swarm reschedules it into web-1" \
	wait_for -n 150 -s 0.2 back_in_pod app 1 "$old" web-1 app sidecar
diag "app.1 back in web-1 after $((SECONDS - t))s"
check "the new app.1 is in web-1's netns (same as sidecar.1)" same_netns web-1 1 app sidecar
check "sidecar.1 reaches the new app.1" wait_for -n 50 fetch sidecar 1 "slot=1 host=web-1"

# --- scaling -----------------------------------------------------------------

docker service scale -d app=3 sidecar=3 >/dev/null
check "scale app=3 sidecar=3: pod web-3 has app.3 and sidecar.3" \
	wait_for -n 150 -s 0.2 slot_pod web-3 3 app sidecar
check "web-3: shared netns" same_netns web-3 3 app sidecar
check "sidecar.3 reaches app.3" wait_for -n 50 fetch sidecar 3 "slot=3 host=web-3"
check "web-1 and web-2 unchanged by scaling" web_1_2_intact

# --- rolling update ---------------------------------------------------------------

old=$(one_task_cid sidecar 1 || true)
t=$SECONDS
docker service update -d --force sidecar >/dev/null
check "service update --force sidecar: a new sidecar.1 is back in web-1" \
	wait_for -n 150 -s 0.2 back_in_pod sidecar 1 "$old" web-1 app sidecar
check "...and every web-N has its app and a sidecar again" wait_for -n 150 -s 0.2 all_web_pods
diag "update --force done after $((SECONDS - t))s"
check "the new sidecar.1 reaches app.1" wait_for -n 50 fetch sidecar 1 "slot=1 host=web-1"

# --- removal -----------------------------------------------------------------

APP_IDS=()
for s in 1 2 3; do APP_IDS[s]=$(one_task_cid app "$s" || echo none); done
docker service rm sidecar >/dev/null
check "service rm sidecar: each web-N keeps only its app" wait_for -n 150 -s 0.2 only_apps
docker service rm app >/dev/null
check "service rm app: the web-N pods are gone" wait_for -n 150 -s 0.2 no_pods web-
check "no containers of the services left" wait_for -n 50 services_gone
check "no pinned namespace mounts left" no_pinned_mounts

# --- container labels (fixed pod name) -------------------------------------------

svc --name lapp --replicas 1 --container-label podshim.pod=fixed --env SLOT=L \
	--publish mode=host,published=18081,target=8081 "$IMG" "${APP_CMD[@]}"
# The README's recipe: a --network host member constrained to nodes labelled
# podshim=true (elsewhere it would get the node's own network).
svc --name lside --replicas 1 --network host --container-label podshim.pod=fixed \
	--constraint node.labels.podshim==true "$IMG" \
	sh -c 'mkdir -p /p && echo side >/p/index.html && exec httpd -f -p 8081 -h /p' 
check "--constraint node.labels.podshim==true: lside is not scheduled on an unlabelled node" \
	wait_for -n 150 -s 0.2 service_error lside 'no suitable node'
check "docker node update --label-add podshim=true" \
	docker node update --label-add podshim=true "$(docker info -f '{{.Swarm.NodeID}}')"
check "--container-label podshim.pod=fixed: pod fixed has lapp.1 and lside.1" \
	wait_for -n 150 -s 0.2 slot_pod fixed 1 lapp lside
check "fixed: shared netns" same_netns fixed 1 lapp lside
check "lside reaches lapp over 127.0.0.1" wait_for -n 50 fetch lside 1 "slot=L host=fixed"
check "lapp's published port (mode=host, 127.0.0.1:18081 in dockerd's netns) reaches lside in the pod" \
	wait_for -n 50 published 18081 side
svc --name ltmpl --replicas 1 --container-label 'podshim.pod=lbl-{{.Task.Slot}}' "$IMG" sleep 1000
check "container labels are not templated: the task fails with podshim's error" \
	wait_for -n 150 -s 0.2 service_error ltmpl 'invalid pod name `lbl-{{.Task.Slot}}` (from label podshim.pod)'
docker service rm lapp lside ltmpl >/dev/null
check "removing the label services removes pod fixed" wait_for -n 150 -s 0.2 no_pods fixed

# --- ingress routing mesh ---------------------------------------------------------

# The owner publishes in ingress mode (the default): its task gets the ingress
# network and docker_gwbridge, both plumbed into the pod.  The mesh itself
# (127.0.0.1:18095 in dockerd's netns -> ingress sandbox -> IPVS -> a task)
# needs IPVS in the kernel.
svc --name ming --replicas 1 --env PODSHIM_POD=mesh \
	--publish published=18095,target=8082 "$IMG" sleep 1000
svc --name mside --replicas 1 --network host --env PODSHIM_POD=mesh "$IMG" \
	sh -c 'mkdir -p /p && echo mesh >/p/index.html && exec httpd -f -p 8082 -h /p'
check "ingress-published owner: pod mesh has ming.1 and mside.1" \
	wait_for -n 150 -s 0.2 slot_pod mesh 1 ming mside
check "mesh: mside sees the owner's ingress and docker_gwbridge interfaces (eth0, eth1)" \
	links_are "$(one_task_cid mside 1 || echo none)" "eth0 eth1 lo"
if in_dockerd_netns test -d /proc/sys/net/ipv4/vs; then
	check "the routing mesh: 127.0.0.1:18095 in dockerd's netns reaches mside in the pod" \
		wait_for -n 100 published 18095 mesh
else
	skip "the ingress routing mesh: this kernel has no IPVS (no /proc/sys/net/ipv4/vs in dockerd's netns; dockerd: 'Could not get ipvs family information from the kernel'), which the mesh's load balancing needs"
fi
docker service rm ming mside >/dev/null
check "removing them removes pod mesh" wait_for -n 150 -s 0.2 no_pods mesh

# --- docker stack deploy -------------------------------------------------------

cat >"$E2E_DIR/run/compose.yml" <<'YAML'
version: "3.8"
services:
  app:
    image: podshim/busybox
    command: ["sh", "-c", "mkdir -p /www && echo \"slot=$$SLOT host=$$(hostname)\" >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
    environment:
      PODSHIM_POD: 'stk-{{.Task.Slot}}'
      SLOT: '{{.Task.Slot}}'
    labels:
      podshim.share: net,ipc,uts,pid
    stop_grace_period: 1s
    deploy:
      replicas: 2
      restart_policy: {delay: 1s}
  sidecar:
    image: podshim/busybox
    command: ["sleep", "1000"]
    environment:
      PODSHIM_POD: 'stk-{{.Task.Slot}}'
    labels:
      podshim.share: net,ipc,uts,pid
    networks: [hostnet]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      restart_policy: {delay: 1s}
  db:
    image: podshim/busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
networks:
  hostnet:
    external: true
    name: host
YAML
check "docker stack deploy -c compose.yml stk" \
	docker stack deploy --resolve-image never -c "$E2E_DIR/run/compose.yml" stk
for s in 1 2; do
	check "stack: pod stk-$s has stk_app.$s and stk_sidecar.$s, shares net,ipc,uts,pid" \
		wait_for -n 150 -s 0.2 stack_pod "$s"
done
remember_pauses
is "stack: the pods are scoped by the stack (com.docker.stack.namespace)" \
	"$(pods | jq -r '[.[] | select(.name | startswith("stk-")) | .scope] | unique | join(",")')" stack:stk
for s in 1 2; do
	check "stack: stk-$s shares one netns" same_netns "stk-$s" "$s" stk_app stk_sidecar
	check "stack: stk_sidecar.$s reaches its own app" \
		wait_for -n 50 fetch stk_sidecar "$s" "slot=$s host=stk-$s"
done
SA=$(one_task_cid stk_app 1 || echo none)
SS=$(one_task_cid stk_sidecar 1 || echo none)
check "stack: both stk-1 members (app on stk_default, sidecar on host) see one eth0" same_eth0 "$SA" "$SS"
check "stack: stk_sidecar.1 resolves the stack's service db through 127.0.0.11" \
	wait_for -n 25 resolves "$SS" db
check "stack: stk_sidecar.1's /etc/hosts is its pod owner's" \
	sh -c "[ \"\$(docker exec $SS cat /etc/hosts)\" = \"\$(docker exec $SA cat /etc/hosts)\" ]"
check "stack: stk_sidecar.1 sees stk_app.1's processes and the pause" sees_procs "$SS"
OWNER=$(pod_field stk-1 network_owner)
if [[ $OWNER == "$SA" ]]; then OSVC=stk_app PARTNER=$SS; else OSVC=stk_sidecar PARTNER=$SA; fi
diag "stk-1 network owner: $OSVC; Docker's addresses: stk_app.1 $(ips_of "$SA")," \
	"stk_sidecar.1 $(ips_of "$SS")(the non-owner's address is on no interface)"
t=$SECONDS
kill -9 "$(pid_of "$OWNER")" 2>/dev/null || true
check "kill -9 of stk-1's network owner: the new task rejoins and owns the network" \
	wait_for -n 150 -s 0.2 owner_back
diag "network owner back after $((SECONDS - t))s"
check "stk-1: the new task shares the partner's netns" same_netns stk-1 1 stk_app stk_sidecar
check "stk-1: both members see the new eth0" same_eth0 "$(one_task_cid "$OSVC" 1 || echo none)" "$PARTNER"
check "stk-1: stk_sidecar.1 reaches stk_app.1 again" wait_for -n 50 fetch stk_sidecar 1 "slot=1 host=stk-1"
remember_pauses
docker service scale -d stk_app=3 stk_sidecar=3 >/dev/null
check "stack: scale stk_app=3 stk_sidecar=3 adds pod stk-3" wait_for -n 150 -s 0.2 stack_pod 3
check "stack: stk_sidecar.3 reaches its own app" wait_for -n 50 fetch stk_sidecar 3 "slot=3 host=stk-3"
remember_pauses

docker stack rm stk >/dev/null
check "docker stack rm: the stk-N pods are gone" wait_for -n 150 -s 0.2 no_pods stk-
check "no pinned mounts, no pod pause left" wait_for -n 25 the_end
check "podshim pod list is empty" no_pods ""
check "docker swarm leave --force" docker swarm leave --force
check "docker_gwbridge removed" gwbridge_gone
diag "pauses seen: ${PAUSES[*]:-none}; total $((SECONDS - T0))s"
done_testing

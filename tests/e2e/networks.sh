#!/usr/bin/env bash
# e2e-networks — use-case 10: pods on a user-defined bridge network with
# dockerd 20.10, whose networked containers get a libnetwork-setkey prestart
# hook.  podshim keeps the hook for the pod's first networked member (its
# interface becomes the pod's eth0) and drops it for later networked members.
#
#   join      owner A and a second networked member B on podnet, and a
#             --network none member C, all see one eth0 with A's address from
#             podnet's subnet; pod list names A as network_owner
#   restart   docker restart of B rejoins the same netns
#   owner     docker restart of A while B and C run: A rejoins, owns the
#             network again, eth0 comes back for everyone; and stop/start
#             with a look at the pod in between; B restarted while A is
#             stopped takes the network over
#   cleanup   containers and network removed: pod, mounts, veths gone
#
# Addresses only: no traffic is sent to a bridge address (shared/FACTS.md);
# the one traffic check is over 127.0.0.1 inside the pod.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

T0=$SECONDS
IMG=podshim/busybox
POD=n1

# --- helpers ------------------------------------------------------------------

owner_is() { owner_of "$POD" "$1"; }

pid_of() { docker inspect -f '{{.State.Pid}}' "$1"; }
running() { [[ $(docker inspect -f '{{.State.Running}}' "$1") == true ]]; }
netns_of() {
	local pid
	pid=$(pid_of "$1") && [[ $pid != 0 ]] && stat -L -c %i "/proc/$pid/ns/net"
}
pinned_net() {
	local f=("$PODSHIM_STATE"/*/pods/"$1"/pod.json) h
	[[ -e ${f[0]} ]] && h=$(jq -er .holder.pid "${f[0]}") && stat -L -c %i "/proc/$h/ns/net"
}
# in_pod_netns ID...: each container is running in POD's pinned netns.
in_pod_netns() {
	local c want got bad=0
	want=$(pinned_net "$POD") || { echo "no pinned netns for $POD"; return 1; }
	for c in "$@"; do
		got=$(netns_of "$c") || got=?
		echo "${c:0:12}: net:[$got] pinned:[$want]"
		[[ $got == "$want" ]] || bad=1
	done
	return "$bad"
}

# eth0 ID: the eth0 addresses a container sees (ip -o, one line per address).
eth0() { docker exec "$1" ip -o addr show eth0 2>&1; }
# v4_of ID: eth0's IPv4 address/prefix.
v4_of() { docker exec "$1" ip -o -4 addr show eth0 | awk '{ print $4 }'; }
ip2int() {
	local IFS=. a b c d
	read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
# in_subnet ADDR/LEN CIDR: the address is in the subnet.
in_subnet() {
	local ip=${1%/*} net=${2%/*} len=${2#*/} mask
	mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
	((($(ip2int "$ip") & mask) == ($(ip2int "$net") & mask)))
}
# has_podnet_addr ID: eth0 has an IPv4 address from podnet's subnet.
has_podnet_addr() {
	local a
	a=$(v4_of "$1") || return 1
	echo "eth0 inet $a, podnet $SUBNET"
	[[ -n $a ]] && in_subnet "$a" "$SUBNET"
}
# same_eth0 REF ID...: every ID sees REF's eth0 (same index, name, addresses),
# which has an address from podnet.
same_eth0() {
	local ref=$1 want got c bad=0
	shift
	want=$(eth0 "$ref")
	has_podnet_addr "$ref" >/dev/null || { echo "${ref:0:12} has no podnet address: $want"; return 1; }
	for c in "$@"; do
		got=$(eth0 "$c")
		[[ $got == "$want" ]] || { echo "${c:0:12}: $got"; bad=1; }
	done
	echo "$want"
	return "$bad"
}
docker_ip() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
no_eth0() { ! docker exec "$1" ip -o link show eth0 >/dev/null 2>&1; }
fetch() {
	local out
	out=$(timeout 10 docker exec "$1" wget -qO- http://127.0.0.1:8080/ 2>&1) || { echo "wget: $out"; return 1; }
	[[ $out == "$2" ]] || { echo "got '$out', want '$2'"; return 1; }
}
no_pod() { [[ -z $(pod_field "$POD" name) ]] || { pods; return 1; }; }
no_pinned_mounts() { ! grep -F " $PODSHIM_STATE/" /proc/self/mountinfo; }
no_links() {
	local l bad=0
	for l in "$@"; do
		if ip -n "$PODSHIM_DOCKERD_NETNS" link show "$l" >/dev/null 2>&1; then
			echo "$l still exists"
			bad=1
		fi
	done
	return "$bad"
}
restarted() { running "$1" && [[ $(docker inspect -f '{{.RestartCount}} {{.State.StartedAt}}' "$1") != "$2" ]]; }
started_at() { docker inspect -f '{{.RestartCount}} {{.State.StartedAt}}' "$1"; }
member_state() {
	printf 'members: %s; network_owner: %s; ' "$(pod_members "$POD" | cut -c1-12 | tr '\n' ' ')" \
		"$(pod_field "$POD" network_owner | cut -c1-12)"
	printf 'eth0 seen by %s: %s\n' "${1:0:12}" "$(eth0 "$1" | sed 's/ *valid_lft.*//; s/\\$//' | tr -s ' ')"
}

docker_assigned() {
	local a d
	a=$(v4_of "$1") && d=$(docker_ip "$1") || return 1
	[[ ${a%/*} == "$d" ]] || { echo "eth0 $a, Docker says $d"; return 1; }
}
# members_and_owner OWNER ID...: the pod's members are the IDs, OWNER ('' for
# none) its network owner.
members_and_owner() {
	local o=$1
	shift
	pod_is "$POD" "$@" && owner_is "$o"
}
eth0_is() {
	local got
	got=$(eth0 "$1")
	[[ $got == "$2" ]] || { echo "now: $got"; echo "was: $2"; return 1; }
}
took_over() { wait_for restarted "$1" "$2" && owner_is "$1" && has_podnet_addr "$1"; }
a_back_under_b() { running "$A" && members_and_owner "$B" "$A" "$B" "$C" && same_eth0 "$B" "$A" "$C"; }

net_cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=podshim.pod=$POD" 2>/dev/null; docker ps -aq --filter "label=podshim.pod=n2" 2>/dev/null) || true
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
	docker network rm podnet podnet2 >/dev/null 2>&1 || true
}

run() { docker run -d --label "podshim.pod=$POD" "$@"; }
# member_c: --network none member C of pod POD (with A and B) serves "c" on
# the pod's loopback; it sees A's eth0, B reaches it over 127.0.0.1, and so
# does A's published port.
member_c() {
	C=$(run --network none --name n1-c "$IMG" sh -c 'echo c >/tmp/index.html && exec httpd -f -p 8080 -h /tmp') || C=none
	check "--network none member C starts and sees the same eth0" same_eth0 "$A" "$C"
	check "B reaches C over the pod's 127.0.0.1" wait_for -n 50 fetch "$B" c
	check "A's published port (127.0.0.1:18080 in dockerd's netns) reaches C in the pod" \
		wait_for -n 50 published c
}
owns_alone() { pod_is "$1" "$2" && owner_of "$1" "$2"; }
rejoined_owner() { wait_for restarted "$A" "$1" >/dev/null && members_and_owner "$A" "$A" "$B" "$C" && same_eth0 "$A" "$B" "$C"; }
# owns_alone_of POD OWNER ID...: POD's members are the IDs, OWNER the owner.
owns_alone_of() {
	local p=$1 o=$2 got
	shift 2
	pod_is "$p" "$@" || return 1
	got=$(pod_field "$p" network_owner)
	[[ $got == "$o" ]] || { echo "network_owner of $p: '$got', want $o"; return 1; }
}
no_pod_named() { [[ -z $(pod_field "$1" name) ]] || { pods; return 1; }; }
a_owns_again() { docker start "$A" >/dev/null && running "$A" && members_and_owner "$A" "$A" "$B" "$C" && same_eth0 "$A" "$B" "$C"; }
d_owns() { running "$D" && members_and_owner "$D" "$B" "$C" "$D" && same_eth0 "$D" "$B" "$C"; }
d_alone() { members_and_owner "$D" "$B" "$C" "$D" && links_are "$D" "eth0 lo"; }
# published WANT: A's published port answers WANT in dockerd's netns.
published() {
	local out
	out=$(in_dockerd_netns timeout 10 wget -qO- http://127.0.0.1:18080/ 2>&1) || { echo "wget: $out"; return 1; }
	[[ $out == "$1" ]] || { echo "got '$out', want '$1'"; return 1; }
}

# --- setup ----------------------------------------------------------------

dockerd_up
at_exit net_cleanup
images_up busybox

check "docker network create --driver bridge podnet" docker network create --driver bridge podnet
SUBNET=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' podnet)
NETID=$(docker network inspect -f '{{.Id}}' podnet)
BRIDGE=br-${NETID:0:12}
diag "podnet: $SUBNET on $BRIDGE"

# --- join -------------------------------------------------------------------

A=$(run --network podnet -p 127.0.0.1:18080:8080 --name n1-a "$IMG" sleep 1000) || A=none
check "first member A (--network podnet) runs" running "$A"
check "A's eth0 has an address from podnet's subnet" has_podnet_addr "$A"
check "...and it is the one Docker assigned to A" docker_assigned "$A"
check "A is in the pod's pinned netns" in_pod_netns "$A"

if engine_hooked; then
	diag "engine $(docker version --format '{{.Server.Version}}'): libnetwork-setkey hook"
	B=$(run --network podnet --name n1-b "$IMG" sleep 1000) || B=none
	check "second networked member B starts (its setkey hook dropped)" running "$B"
	check "B is in the same netns" in_pod_netns "$A" "$B"
	check "B sees A's eth0, same address" same_eth0 "$A" "$B"
	diag "Docker's address for B: $(docker_ip "$B") (on no interface; B uses A's $(v4_of "$A"))"
	# C serves on the pod's loopback, so B can reach it without any bridge traffic.
	member_c
	check "pod list: members A, B, C" pod_is "$POD" "$A" "$B" "$C"
	check "pod list: network_owner is A" owner_is "$A"

	# Docker < 28 connects a running container by its own sandbox, which a
	# member without the setkey hook never had: observe, do not assert.
	docker network create podnet2 >/dev/null
	if docker network connect podnet2 "$B" >/dev/null 2>&1; then r=ok; else r=failed; fi
	diag "docker network connect podnet2 B (non-owner): $r; interfaces seen by A afterwards:" \
		"$(docker exec "$A" ip -o link | awk -F': ' '{ printf "%s ", $2 }')"
	docker network disconnect -f podnet2 "$B" >/dev/null 2>&1 || true
	docker network rm podnet2 >/dev/null 2>&1 || true

	# --- restart of a non-owner member ----------------------------------------------

	before=$(eth0 "$A")
	s=$(started_at "$B")
	check "docker restart B" docker restart -t 1 "$B"
	check "B runs again" wait_for restarted "$B" "$s"
	check "restarted B is back in the pod's netns (= A's)" in_pod_netns "$A" "$B"
	check "pod list: still A, B, C with A the network owner" members_and_owner "$A" "$A" "$B" "$C"
	check "B sees A's eth0 again, unchanged" eth0_is "$B" "$before"

	# --- restart of the network owner while B and C run ---------------------------------

	s=$(started_at "$A")
	check "docker restart A (the network owner)" docker restart -t 1 "$A"
	check "A runs again" wait_for restarted "$A" "$s"
	check "restarted A is back in the pod's netns (= B's, C's)" in_pod_netns "$A" "$B" "$C"
	check "pod list: A, B, C; A owns the network again" members_and_owner "$A" "$A" "$B" "$C"
	check "the pod has an eth0 from podnet again, seen by A, B and C" same_eth0 "$A" "$B" "$C"
	diag "after docker restart A: eth0 before: $(sed 's/ *valid_lft.*//' <<<"$before" | tr -s ' ')" \
		"after:  $(eth0 "$A" | sed 's/ *valid_lft.*//' | tr -s ' ')"

	# Between stop and start, as seen from B:
	docker stop -t 1 "$A" >/dev/null
	diag "A stopped: $(member_state "$B")"
	check "A stopped: pod keeps B and C, no network owner" members_and_owner "" "$B" "$C"
	check "A stopped: Docker took A's interface out of the pod (B sees no eth0)" wait_for -n 25 no_eth0 "$B"
	check "C still serves B over 127.0.0.1" fetch "$B" c
	# B restarted now is the first networked member: it takes the network over.
	s=$(started_at "$B")
	docker restart -t 1 "$B" >/dev/null
	check "B restarted while A is down: B owns the network, with an eth0 from podnet" \
		took_over "$B" "$s"
	docker start "$A" >/dev/null
	check "A started again: joins as a plain member and shares B's eth0" a_back_under_b
	check "A, B, C in the pinned netns" in_pod_netns "$A" "$B" "$C"
	diag "after stop A / restart B / start A: $(member_state "$A")"

else
	diag "engine $(docker version --format '{{.Server.Version}}'): no setkey hook"
	# dockerd plumbs a networked container after create into
	# /proc/<init>/ns/net: for a member, the pod's.  podshim refuses a
	# second networked member before that happens.
	out=$(run --network podnet --name n1-b "$IMG" sleep 1000 2>&1) && rc=0 || rc=$?
	check "second networked member B is refused" test "$rc" -ne 0
	like "docker run says what to do instead" "$out" "already has a networked member.*--network none"
	check "B is no member; A still owns the network" members_and_owner "$A" "$A"
	check "no veth left in the pod: A sees lo and eth0 only" links_are "$A" "eth0 lo"
	docker rm -f n1-b >/dev/null 2>&1 || true
	B=$(run --network none --name n1-b "$IMG" sleep 1000) || B=none
	check "B as --network none member starts and sees A's eth0" same_eth0 "$A" "$B"
	member_c
	check "pod list: members A, B, C; A owns the network" members_and_owner "$A" "$A" "$B" "$C"

	# Two networked members created at the same moment: the pod lock
	# serialises them; one owns, the other is refused.
	for x in x y; do
		docker run -d --label podshim.pod=n2 --network podnet --name "n2-$x" "$IMG" sleep 1000 \
			>"$E2E_DIR/run/n2-$x.out" 2>&1 &
	done
	wait || true
	winners=() losers=()
	for x in x y; do
		if running "n2-$x" 2>/dev/null; then winners+=("n2-$x"); else losers+=("n2-$x"); fi
	done
	is "two networked members at once: exactly one runs" "${#winners[@]} ${#losers[@]}" "1 1"
	if ((${#winners[@]} == 1 && ${#losers[@]} == 1)); then
		W=$(docker inspect -f '{{.Id}}' "${winners[0]}")
		check "...and owns pod n2 alone" owns_alone n2 "$W"
		like "...the other was refused with the advice" "$(cat "$E2E_DIR/run/${losers[0]}.out")" "--network none"
		check "...and left no veth in pod n2" links_are "$W" "eth0 lo"
	else
		not_ok "...and owns pod n2 alone"
		not_ok "...the other was refused with the advice"
		not_ok "...and left no veth in pod n2"
	fi
	docker rm -f n2-x n2-y >/dev/null 2>&1 || true

	# The owner restarts: it leaves (the pod has no owner), rejoins as the
	# first networked member and owns the network again.
	s=$(started_at "$A")
	check "docker restart A (the network owner)" docker restart -t 1 "$A"
	check "A runs again, owns the network, B and C see its eth0" \
		rejoined_owner "$s"
	check "after the restart: lo and eth0 only in the pod" links_are "$A" "eth0 lo"
	docker stop -t 1 "$A" >/dev/null
	check "A stopped: no network owner, B and C stay" members_and_owner "" "$B" "$C"
	D=$(run --network podnet --name n1-d "$IMG" sleep 1000) || D=none
	check "a networked member D started while A is down owns the network" \
		d_owns
	out=$(docker start "$A" 2>&1) && rc=0 || rc=$?
	check "A started again is refused now (D owns the network)" test "$rc" -ne 0
	like "docker start says what to do instead" "$out" "--network none"
	check "the pod is B, C, D with D's eth0 alone" \
		d_alone
	docker rm -f "$D" >/dev/null
	check "D removed: A starts again and owns the network" a_owns_again
fi

# --- pod DNS ------------------------------------------------------------------------

# C (--network none) uses the network owner's /etc/resolv.conf and /etc/hosts:
# Docker's DNS at 127.0.0.11 in the pod's netns answers podnet's names.
same_resolver_files() {
	local o f a b
	o=$(pod_field "$POD" network_owner)
	[[ -n $o ]] || { echo "no network owner"; return 1; }
	for f in /etc/resolv.conf /etc/hosts; do
		a=$(docker exec "$o" cat "$f") && b=$(docker exec "$C" cat "$f") || return 1
		[[ $a == "$b" ]] || { echo "$f differs: owner: $a"; echo "C: $b"; return 1; }
	done
	grep -x 'nameserver 127.0.0.11' <<<"$a" >/dev/null || echo "(owner's resolv.conf has no 127.0.0.11)"
}
check "--network none member C has the network owner's /etc/resolv.conf and /etc/hosts" same_resolver_files
check "C resolves the owner's container name through 127.0.0.11" \
	wait_for -n 25 sh -c "docker exec $C nslookup -type=a \$(docker inspect -f '{{.Name}}' \$(docker ps -q --no-trunc --filter id=$(pod_field "$POD" network_owner)) | tr -d /) 127.0.0.11 | grep -q '^Address: [0-9.]*\$'"

# --- annotations ------------------------------------------------------------------

# `docker run --annotation` needs API 1.43 (engine >= 24), which passes it to
# config.json; dockerd 20.10 passes none.
api=$(docker version --format '{{.Server.APIVersion}}')
if [[ $(printf '%s\n' "$api" 1.43 | sort -V | head -n1) == 1.43 ]]; then
	E=$(docker run -d --annotation podshim.pod=ann1 --network podnet --name ann-e "$IMG" sleep 1000) || E=none
	F=$(docker run -d --annotation podshim.pod=ann1 --annotation podshim.share=net,ipc,uts,pid \
		--network none --name ann-f "$IMG" sleep 1000) || F=none
	check "--annotation podshim.pod=ann1: pod ann1 has both containers, the networked one owns it" \
		owns_alone_of ann1 "$E" "$E" "$F"
	check "ann1: F sees E's eth0" same_eth0 "$E" "$F"
	docker rm -f "$E" "$F" >/dev/null
	check "ann1 is gone with its members" wait_for -n 50 no_pod_named ann1
else
	skip "--annotation podshim.pod: API $api < 1.43 passes no annotations to the runtime"
	skip "ann1: shared eth0 (no annotations before API 1.43)"
	skip "ann1 removed (no annotations before API 1.43)"
fi

# --- cleanup ----------------------------------------------------------------

veths=$(ip -n "$PODSHIM_DOCKERD_NETNS" -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
diag "veths on $BRIDGE before removal: $(echo $veths)"
check "docker rm -f A B C" docker rm -f "$A" "$B" "$C"
check "the pod is gone" wait_for -n 50 no_pod
check "no pinned namespace mounts left" no_pinned_mounts
check "docker network rm podnet" docker network rm podnet
check "no bridge or veth of podnet left" wait_for -n 25 no_links "$BRIDGE" $veths
diag "total $((SECONDS - T0))s"
done_testing

#!/usr/bin/env bash
# The network owner's /etc/resolv.conf and /etc/hosts: the pod's copies are
# made at its create and made again at its start (dockerd >= 28 writes them
# between the two), found through the container's record, the one lookup a
# start pays. Another member's start leaves them alone.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

src=$T/netsrc
mkdir -p "$src"
echo "nameserver 10.0.0.1" >"$src/resolv.conf"
echo "127.0.0.1 one" >"$src/hosts"
# Docker's setkey hook makes the member its pod's network owner.
hook='.hooks.prestart = [{"path": "/bin/true", "args": ["true", "libnetwork-setkey", "x"]}]'
mounts='.mounts += [{"destination": "/etc/resolv.conf", "type": "bind", "source": "'$src'/resolv.conf",
	"options": ["rbind", "ro"]}, {"destination": "/etc/hosts", "type": "bind",
	"source": "'$src'/hosts", "options": ["rbind", "ro"]}]'
check "network owner N1 joins pod nf" create N1 "$(mkb N1 -a podshim.pod=nf -j "$hook | $mounts")"
is "pod.json names it the network owner" "$(jq -r .network_owner "$(poddir nf)/pod.json")" N1
is "the pod's resolv.conf is its" "$(cat "$(poddir nf)/net/resolv.conf")" "nameserver 10.0.0.1"
check "its record says it owns the network" \
	test "$(jq -r .networkOwner "$STATE/$(rootkey "$RUNC_ROOT")/records/N1")" = true
check "member N2 (no interface) joins" create N2 "$(mkb N2 -a podshim.pod=nf -j "$mounts")"
check "N2 has no record (one failed lookup at its start)" \
	test ! -e "$STATE/$(rootkey "$RUNC_ROOT")/records/N2"
# As dockerd >= 28 does between create and start.
echo "nameserver 10.0.0.2" >"$src/resolv.conf"
echo "127.0.0.1 two" >"$src/hosts"
check "start N1" shim start N1
is "its start copied resolv.conf again" "$(cat "$(poddir nf)/net/resolv.conf")" "nameserver 10.0.0.2"
is "and hosts" "$(cat "$(poddir nf)/net/hosts")" "127.0.0.1 two"
echo "nameserver 10.0.0.3" >"$src/resolv.conf"
check "start N2" shim start N2
is "N2's start leaves them" "$(cat "$(poddir nf)/net/resolv.conf")" "nameserver 10.0.0.2"
is "N2 sees the pod's copy" "$(xin N2 cat /etc/resolv.conf)" "nameserver 10.0.0.2"

check "delete N1, N2" del_all N1 N2
check "their records are gone" test ! -e "$STATE/$(rootkey "$RUNC_ROOT")/records/N1"
check "pod gc leaves nothing" eval 'shim pod gc >/dev/null && no_pods && no_mounts_under "$STATE"'

done_testing

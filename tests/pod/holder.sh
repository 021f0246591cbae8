#!/usr/bin/env bash
# The holder process of a pod (issue 11): it holds the pod's namespaces
# instead of bind mounts; a holder killed while members run is replaced, on
# the next podshim call for the pod, by one in the members' namespaces; a pod
# pinned by bind mounts (an older podshim's pod.json, `pinned`) is still
# joined, converted to a holder, torn down and gc'd.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"


# --- a killed holder is recovered from a member ------------------------------------

ba=$(mkb A -a podshim.pod=hr -- httpd -f -p 127.0.0.1:8080 -h /www)
check "A joins pod hr" member A "$ba"
h1=$(holder hr) h1s=$(proc_start "$h1")
a_net=$(nsino "$(cpid A)" net) a_ipc=$(nsino "$(cpid A)" ipc) a_uts=$(nsino "$(cpid A)" uts)
is "pod list shows the holder" "$(shim pod list --format json | jq -r '.[] | select(.name == "hr") | .holder_pid')" "$h1"
is "A's namespaces are the holder's" "$a_net $a_ipc $a_uts" \
	"$(nsino "$h1" net) $(nsino "$h1" ipc) $(nsino "$h1" uts)"
check "pod hr added no mount to the host's mount table but its /dev/shm" no_pod_mounts "$a_net" "$a_ipc" "$a_uts"
check "kill -9 the holder ($h1)" kill -9 "$h1"
check "it is gone" wait_for 10 eval '! proc_alive "$h1" "$h1s"'
check "A still runs" eval 'rc state A | jq -e ".status == \"running\""'
bb=$(mkb B -a podshim.pod=hr)
check "B joins pod hr after the holder died" member B "$bb"
h2=$(holder hr)
isnt "hr has a new holder" "$h2" "$h1"
is "B is in A's net, ipc and uts namespaces" \
	"$(nsino "$(cpid B)" net) $(nsino "$(cpid B)" ipc) $(nsino "$(cpid B)" uts)" "$a_net $a_ipc $a_uts"
is "so is the new holder" "$(nsino "$h2" net) $(nsino "$h2" ipc) $(nsino "$h2" uts)" \
	"$a_net $a_ipc $a_uts"
is "B's hostname is still the pod's" "$(xin B hostname)" hr
is "B reaches A on 127.0.0.1" "$(xin B wget -qO- http://127.0.0.1:8080/ 2>&1)" "hello from the pod"
h2s=$(proc_start "$h2")
kill -9 "$h2"
check "the second holder is gone" wait_for 10 eval '! proc_alive "$h2" "$h2s"'
check "delete B: the pod's next call recovers the holder" del B
h3=$(holder hr)
is "a third holder, in A's netns" "$(proc_alive "$h3" "$(proc_start "$h3")" && nsino "$h3" net)" "$a_net"
h3s=$(proc_start "$h3")
kill -9 "$h3"
check "the third holder is gone" wait_for 10 eval '! proc_alive "$h3" "$h3s"'
check "pod gc recovers it too" shim pod gc
h4=$(holder hr)
is "a fourth holder, in A's netns" "$(nsino "$h4" net)" "$a_net"
since=$(now_ticks)
check "delete A: the pod is torn down" del A
check "no holder of this test is left" wait_for 5 test -z "$(our_pauses)"
check "A's netns is freed" wait_for 10 no_ns_refs net "$a_net" "$since"
check "no pod left" no_pods

# --- a holder killed when no member shares the pod's namespace ------------------------

bc=$(mkb C -a podshim.pod=hn -a podshim.share=ipc)
check "C joins pod hn sharing ipc only" member C "$bc"
hn=$(holder hn) hns=$(proc_start "$hn")
mark_netns "/proc/$hn/ns/net"
kill -9 "$hn"
check "hn's holder is gone" wait_for 10 eval '! proc_alive "$hn" "$hns"'
bd=$(mkb D -a podshim.pod=hn)
check "D joins pod hn" member D "$bd"
is "D shares C's ipc namespace" "$(nsino "$(cpid D)" ipc)" "$(nsino "$(cpid C)" ipc)"
check_fails "D is in a fresh netns (nobody held the old one)" netns_marked "/proc/$(cpid D)/ns/net"
is "with the pod's hostname" "$(xin D hostname)" hn
check "delete C and D" del_all C D

# --- a pod of an older podshim: namespaces pinned by bind mounts ------------------------

# legacy POD ID: makes pod POD as an older podshim left it: net, ipc, uts
# pinned under ns/, one member ID (a runc container in them), pod.json with
# `pinned`.
legacy() {
	local pod=$1 id=$2 d b p
	d=$(poddir "$pod")
	mkdir -p "$d/ns" "$STATE/$(rootkey "$RUNC_ROOT")/containers"
	chmod 700 "$STATE" "$STATE/$(rootkey "$RUNC_ROOT")"
	echo -n "$RUNC_ROOT" >"$STATE/$(rootkey "$RUNC_ROOT")/root"
	: >"$d/ns/net" && : >"$d/ns/ipc" && : >"$d/ns/uts"
	unshare --net="$d/ns/net" --ipc="$d/ns/ipc" --uts="$d/ns/uts" hostname "$pod" || return 1
	nsenter --net="$d/ns/net" ip link set lo up 2>/dev/null
	b=$(mkb "$id" -j "(.linux.namespaces |= map(if .type == \"network\" then .path = \"$d/ns/net\"
		elif .type == \"ipc\" then .path = \"$d/ns/ipc\" elif .type == \"uts\" then .path = \"$d/ns/uts\"
		else . end)) | del(.hostname)")
	rc run --detach --bundle "$b" "$id" </dev/null >/dev/null 2>&1 || return 1
	p=$(cpid "$id")
	jq -n --arg n "$pod" --arg r "$RUNC_ROOT" --arg id "$id" --argjson pid "$p" \
		--argjson st "$(proc_start "$p")" \
		'{version: 1, name: $n, root: $r, pinned: ["net", "ipc", "uts"],
		  members: [{id: $id, pid: $pid, start: $st, creating: false, share: ["net", "ipc", "uts"]}]}' \
		>"$d/pod.json"
	echo -n "$pod" >"$STATE/$(rootkey "$RUNC_ROOT")/containers/$id"
}
check "an older podshim's pod old (pinned namespaces, member L0)" legacy old L0
old_net=$(stat -L -c %i "$(poddir old)/ns/net")
is "its namespaces are mounted under its directory" "$(grep -cF " $(poddir old)/ns/" /proc/self/mountinfo)" 3
bl=$(mkb L1 -a podshim.pod=old)
check "L1 joins pod old" member L1 "$bl"
is "L1 is in L0's netns, the pinned one" "$(nsino "$(cpid L1)" net) $(nsino "$(cpid L0)" net)" \
	"$old_net $old_net"
is "L1's hostname is the pod's" "$(xin L1 hostname)" old
is "the pod now has a holder in it, and no mount" \
	"$(nsino "$(holder old)" net):$(grep -cF " $(poddir old)/" /proc/self/mountinfo):$(jq -c .pinned "$(poddir old)/pod.json")" \
	"$old_net:0:[]"
since=$(now_ticks)
check "delete L1, then L0 (through podshim)" del_all L1 L0
check "pod old is torn down" eval '[[ ! -e $(poddir old) ]] && no_pods'
check "its netns is freed" wait_for 10 no_ns_refs net "$old_net" "$since"

check "another older pod, old2, with member M0" legacy old2 M0
old2_net=$(stat -L -c %i "$(poddir old2)/ns/net")
since=$(now_ticks)
check "M0 is deleted by runc alone (podshim never hears of it)" rc delete --force M0
check "pod gc tears old2 down: no mount, no state" \
	eval 'shim pod gc >/dev/null && [[ ! -e $(poddir old2) ]] && no_pods && no_mounts_under "$STATE"'
check "its netns is freed" wait_for 10 no_ns_refs net "$old2_net" "$since"

check "no holder of this test is left" wait_for 5 test -z "$(our_pauses)"
check "no mount under the state dir" no_mounts_under "$STATE"

done_testing

#!/usr/bin/env bash
# Pods under user namespaces (issue 22): a pod whose first member has a user
# namespace of its own (userns-remap) gets one with exactly its mappings,
# written before anything else is made in it; the pod's net, ipc, uts and pid
# namespaces belong to it, so its members (which join it by path, keeping
# their mappings) can mount mqueue, proc and sysfs for them. Holder and
# pause stay nobody of the host. A member with other mappings, or with one
# in a pod made without, is refused; so are mappings the kernel or runc would
# refuse. Volumes and the pod's /dev/shm belong to the pod's root.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

DEVNULL=$(stat -c %u:%g:%a /dev/null)
remapped
U1=$(userns_jq 100000) U2=$(userns_jq 200000)
HOST_USER=$(nsino self user)
# owner PID TYPE: the inode of the user namespace that owns PID's namespace
# TYPE (ioctl NS_GET_USERNS).
owner() {
	python3 -c 'import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.fstat(fcntl.ioctl(fd, 0xb701)).st_ino)' "/proc/$1/ns/$2"
}

# --- a remapped pod ----------------------------------------------------------------

b1=$(mkb R1 -a podshim.pod=ur -a podshim.share=net,ipc,uts,pid -a podshim.volumes=/vol,/data:1m \
	-j "$U1" -- httpd -f -p 127.0.0.1:8080 -h /www)
check "R1 (uids 0-65535 -> 100000-165535) joins pid-sharing pod ur" member R1 "$b1"
p1=$(cpid R1)
is "R1 runs remapped: its uid_map, seen from the host" "$(tr -s ' ' <"/proc/$p1/uid_map")" " 0 100000 65536"
is "its uid and gid on the host" "$(awk '/^Uid:|^Gid:/ { print $2 }' "/proc/$p1/status" | tr '\n' ' ')" "100000 100000 "
is "it is root inside" "$(xin R1 id -u)" 0
is "the pod records the mappings" \
	"$(jq -c '.userns | [.uidMappings, .gidMappings]' "$(poddir ur)/pod.json")" \
	'[[{"containerID":0,"hostID":100000,"size":65536}],[{"containerID":0,"hostID":100000,"size":65536}]]'
h=$(holder ur) pause=$(jq -r .pause.pid "$(poddir ur)/pod.json")
uns=$(nsino "$p1" user)
isnt "R1's user namespace is not the host's" "$uns" "$HOST_USER"
is "the pod's net, ipc, uts and pid namespaces belong to it" "$(owner "$h" net)" "$uns"
for t in ipc uts pid; do
	p=$h
	[[ $t != pid ]] || p=$pause
	is "  $t" "$(owner "$p" "$t")" "$uns"
done
is "made by the pod's root, after the mappings: its mqueue and net sysctls are root's inside" \
	"$(xin R1 stat -c %u /dev/mqueue /proc/sys/net/ipv4/ip_forward | tr '\n' ' ')" "0 0 "
is "hostname is the pod's" "$(xin R1 hostname)" ur
is "the holder: nobody of the host, in the host's user namespace" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/$h/status") $(nsino "$h" user)" "65534 $HOST_USER"
is "the pause (an init must be in its PID namespace before anyone joins it): nobody of the pod's" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/$pause/status") $(nsino "$pause" user)" "165534 $uns"

b2=$(mkb R2 -a podshim.pod=ur -a podshim.share=net,ipc,uts,pid -j "$U1")
check "R2, the same mappings, joins pod ur" member R2 "$b2"
p2=$(cpid R2)
is "R2 is in R1's user, net, ipc, uts and pid namespaces" \
	"$(for t in user net ipc uts pid; do nsino "$p2" "$t"; done | tr '\n' ' ')" \
	"$(for t in user net ipc uts pid; do nsino "$p1" "$t"; done | tr '\n' ' ')"
is "R2's config joined it by path, keeping its mappings (runc 1.1 needs them)" \
	"$(jq -c '[(.linux.namespaces[] | select(.type == "user") | .path | test("^/proc/[0-9]+/ns/user$")), (.linux.uidMappings | length)]' "$b2/config.json")" \
	'[true,1]'
is "R2 reaches R1 on 127.0.0.1" "$(xin R2 wget -qO- http://127.0.0.1:8080/ 2>&1)" "hello from the pod"
is "R2's PID 1 is the pause" "$(xin R2 ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause
is "R2 sees R1's httpd" "$(xin R2 ps -o args | grep -c '^httpd')" 1

# Volumes and /dev/shm: the pod root's.
v=$(voldir ur)
is "the volumes are the pod root's on the host" \
	"$(stat -c %u:%g "$v/-vol" "$v/-data" | tr '\n' ' ')" "100000:100000 100000:100000 "
is "and root's inside" "$(xin R1 stat -c %u:%g /vol /data /dev/shm | tr '\n' ' ')" "0:0 0:0 0:0 "
check "R1 writes into them" xin R1 sh -c 'echo v > /vol/f && echo d > /data/f && echo s > /dev/shm/f'
is "R2 reads the pod's /dev/shm" "$(xin R2 cat /dev/shm/f)" s
is "R1's files are 100000's on the host" "$(stat -c %u "$v/-vol/f" "$v/-data/f" | tr '\n' ' ')" "100000 100000 "

# Isolation: PID 1 gives a remapped root nothing.
is "/proc/1/root, cwd list nothing; environ, exe give nothing" \
	"$(xin R1 sh -c 'ls -A /proc/1/root/ /proc/1/cwd/ 2>/dev/null | grep -v : | grep -c .;
		cat /proc/1/environ 2>/dev/null | wc -c; cat /proc/1/exe 2>/dev/null | wc -c' | tr '\n' ' ')" "0 0 0 "
xin R1 kill -KILL 1 >/dev/null 2>&1
check "kill -KILL 1 from inside: the pause lives on" proc_alive "$pause" "$(proc_start "$pause")"

# A member of the host's user namespace (--userns=host) may join: it is root of the host.
b3=$(mkb R3 -a podshim.pod=ur)
check "R3, with no user namespace of its own, joins pod ur" member R3 "$b3"
is "R3 is in the host's user namespace, the pod's netns" "$(nsino "$(cpid R3)" user):$(nsino "$(cpid R3)" net)" \
	"$HOST_USER:$(nsino "$p1" net)"
check "delete R3" del R3

# --- refused -----------------------------------------------------------------------

refused "a member with other mappings: both are named" \
	'uid map 0:100000:65536 and gid map 0:100000:65536; this member'"'"'s are uid map 0:200000:65536' \
	"$(mkb X1 -a podshim.pod=ur -j "$U2")"
bn=$(mkb N1 -a podshim.pod=plain)
check "N1, no user namespace, makes pod plain" member N1 "$bn"
refused "a remapped member of a pod made without a user namespace" 'pod `plain` has no user namespace' \
	"$(mkb X2 -a podshim.pod=plain -j "$U1")"
check "delete N1" del N1
refused "a mapping of size 0" 'has a size of 0' \
	"$(mkb X3 -a podshim.pod=bad -j "$U1 | .linux.uidMappings[0].size = 0")"
refused "overlapping host ranges" 'map the same host IDs' \
	"$(mkb X4 -a podshim.pod=bad -j "$U1 | .linux.uidMappings += [{containerID: 70000, hostID: 100005, size: 10}]")"
refused "no root mapped" 'maps no ID 0' \
	"$(mkb X5 -a podshim.pod=bad -j "$U1 | .linux.gidMappings[0].containerID = 1")"
refused "a range past the last ID" 'runs past the last ID' \
	"$(mkb X6 -a podshim.pod=bad -j "$U1 | .linux.uidMappings[0].hostID = 4294967000")"
refused "more ranges than the kernel takes" 'the kernel takes at most 340' \
	"$(mkb X7 -a podshim.pod=bad -j "$U1 | .linux.uidMappings = [range(341) | {containerID: ., hostID: (100000 + .), size: 1}]")"
refused "mappings without a user namespace" 'mappings without a user namespace' \
	"$(mkb X8 -a podshim.pod=bad -j "$U1 | .linux.namespaces |= map(select(.type != \"user\"))")"
refused "a user namespace of its own choosing" 'already joins its user namespace at `/proc/1/ns/user`' \
	"$(mkb X9 -a podshim.pod=bad -j "$U1 | .linux.namespaces |= map(if .type == \"user\" then .path = \"/proc/1/ns/user\" else . end)")"
refused "a mapping of a non-number" 'invalid `linux.uidMappings[0]`' \
	"$(mkb X10 -a podshim.pod=bad -j "$U1 | .linux.uidMappings[0].hostID = \"100000\"")"

# --- a dead holder and pause are replaced in the pod's user namespace -------------------

hs=$(proc_start "$h")
kill -9 "$h"
check "the holder is killed" wait_for 10 eval '! proc_alive "$h" "$hs"'
b4=$(mkb R4 -a podshim.pod=ur -a podshim.share=net,ipc,uts -j "$U1")
check "R4 joins pod ur: a new holder" member R4 "$b4"
h2=$(holder ur)
is "the new holder is in R1's netns, R4 too" "$(nsino "$h2" net) $(nsino "$(cpid R4)" net)" \
	"$(nsino "$p1" net) $(nsino "$p1" net)"
ps_=$(proc_start "$pause")
kill -9 "$pause"
check "the pause is killed (and with it R1 and R2: the kernel ends its PID namespace)" \
	wait_for 10 eval '! proc_alive "$pause" "$ps_"'
b5=$(mkb R5 -a podshim.pod=ur -a podshim.share=net,ipc,uts,pid -j "$U1")
check "R5 joins pod ur, sharing PIDs: a new pause" member R5 "$b5"
pause2=$(jq -r .pause.pid "$(poddir ur)/pod.json")
is "its PID namespace belongs to the pod's user namespace" "$(owner "$pause2" pid)" "$uns"
is "R5's PID 1 is the new pause" "$(xin R5 ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause

# A holder replaced while no member holds the pod's network: a fresh one, made
# in the pod's user namespace (which the live member's IPC namespace names).
check "M1 joins pod un, sharing ipc only" member M1 "$(mkb M1 -a podshim.pod=un -a podshim.share=ipc -j "$U1")"
m1=$(cpid M1) hn=$(holder un)
hns=$(proc_start "$hn")
kill -9 "$hn"
check "un's holder is killed" wait_for 10 eval '! proc_alive "$hn" "$hns"'
check "M2 joins pod un, sharing net,ipc,uts" member M2 "$(mkb M2 -a podshim.pod=un -j "$U1")"
m2=$(cpid M2)
is "M2 is in M1's user and IPC namespaces" "$(nsino "$m2" user) $(nsino "$m2" ipc)" \
	"$(nsino "$m1" user) $(nsino "$m1" ipc)"
is "its fresh network and UTS namespaces belong to the pod's user namespace" \
	"$(owner "$m2" net) $(owner "$m2" uts)" "$(nsino "$m1" user) $(nsino "$m1" user)"
is "and were made by the pod's root" "$(xin M2 stat -c %u /proc/sys/net/ipv4/ip_forward)" 0
check "delete M1, M2" del_all M1 M2

# --- crun as the delegate ----------------------------------------------------------

CRUN=$(crun_cmd "$T/bin") || CRUN=
if [[ -n $CRUN ]]; then
	CR=$T/crun-root
	crun_del() {
		local id
		for id in C1 C2; do
			PODSHIM_DELEGATE=$CRUN timeout 30 "$PODSHIM" --podshim-state "$STATE" --root "$CR" \
				delete --force "$id" <"$POD_STDIN" >/dev/null 2>&1
		done
	}
	at_exit crun_del
	crun_pid() { "$CRUN" --root "$CR" state "$1" | jq -er '.pid | select(. > 0)'; }
	# ociVersion: crun 1.8 refuses the spec version of a newer runc's
	# `runc spec` (the delegate matrix's base spec).
	for id in C1 C2; do
		check "$id (crun) joins remapped pod uc" eval 'PODSHIM_DELEGATE=$CRUN create_in "$CR" "$id" \
			"$(mkb "$id" -a podshim.pod=uc -a podshim.share=net,ipc,uts,pid -j "$U1" \
				-j ".ociVersion = \"1.0.2\"")"'
	done
	c1=$(crun_pid C1) c2=$(crun_pid C2)
	is "C1 and C2 run remapped in one user namespace, one netns" \
		"$(tr -s ' ' <"/proc/$c2/uid_map") $(nsino "$c1" user):$(nsino "$c1" net)" \
		" 0 100000 65536 $(nsino "$c2" user):$(nsino "$c2" net)"
	is "which own the pod's namespaces" "$(owner "$c1" net) $(owner "$c1" pid)" \
		"$(nsino "$c1" user) $(nsino "$c1" user)"
	check "delete C1, C2" crun_del
else
	skip "a remapped pod with crun" "crun is not installed"
fi

# --- the last member goes: nothing left ---------------------------------------------------

since=$(now_ticks)
check "delete R1, R2, R4, R5" del_all R1 R2 R4 R5
check "no holder or pause of this test is left" wait_for 5 test -z "$(our_pauses)"
check "no pod is left" no_pods
check "the pod's user namespace is freed" wait_for 10 no_ns_refs user "$uns" "$since"
# crun chowns a remapped container's stdio to its root: the members got a
# stdin of the test's (remapped in lib.sh), never the host's /dev/null.
is "the host's /dev/null is as it was" "$(stat -c %u:%g:%a /dev/null)" "$DEVNULL"

done_testing

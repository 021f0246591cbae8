#!/usr/bin/env bash
# Isolation of a pod's podshim-pause processes (issue 8 item 1, issue 11): from
# a root member that shares PIDs (runc's default spec and capabilities),
# PID 1 gives nothing of the host — /proc/1/root, cwd, environ, exe — no host
# file can be written through it, and `kill -TERM 1` / `kill -KILL 1` do not
# stop the pod. The holder of every pod (pid sharing or not) runs as nobody,
# with no capability, no_new_privs, seccomp, no fd but /dev/null, in a mount
# namespace whose root is an empty read-only tmpfs (copied from another
# holder's: only from a holder that has isolated itself); a pod adds no mount
# to the host's mount table.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

HOST_MNT=$(nsino self mnt)
# With argument `userns` (the isolation-userns test): every member has a user
# namespace of its own (userns-remap: uids 0-65535 -> 100000-165535), so the
# pods are remapped; their pauses are nobody of the pod (165534 on the host)
# and make their own roots (a template is the host's).
PAUSE_UID=65534
POD_USERNS=0
[[ ${1:-} != userns ]] || POD_USERNS=1
if ((POD_USERNS)); then
	MKB_JQ=$(userns_jq 100000)
	remapped
	PAUSE_UID=165534
fi

# --- a root member of a pid-sharing pod --------------------------------------

b1=$(mkb I1 -a podshim.pod=iso -a podshim.share=net,ipc,uts,pid)
b2=$(mkb I2 -a podshim.pod=iso -a podshim.share=net,ipc,uts,pid)
check "I1 joins pid-sharing pod iso" member I1 "$b1"
check "I2 joins pod iso" member I2 "$b2"
pause=$(jq -r .pause.pid "$(poddir iso)/pod.json")
pause_s=$(proc_start "$pause")
is "PID 1 of I1 is the pause" "$(xin I1 ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause
is "I1 runs as root" "$(xin I1 id -u 2>&1)" 0

is "/proc/1/root lists nothing" "$(xin I1 sh -c 'ls -A /proc/1/root/ 2>/dev/null | wc -l')" 0
check_fails "/proc/1/root/etc is not the host's /etc" xin I1 test -e /proc/1/root/etc/hostname
is "/proc/1/cwd lists nothing" "$(xin I1 sh -c 'ls -A /proc/1/cwd/ 2>/dev/null | wc -l')" 0
check_fails "/proc/1/cwd/config.json (a bundle) is not reachable" xin I1 test -e /proc/1/cwd/config.json
is "/proc/1/environ gives nothing" "$(xin I1 sh -c 'cat /proc/1/environ 2>/dev/null | wc -c')" 0
is "/proc/1/exe gives nothing" "$(xin I1 sh -c 'cat /proc/1/exe 2>/dev/null | wc -c')" 0
pw=podshim-pwned-$$-$RANDOM
xin I1 sh -c "echo pwned > /proc/1/root$T/$pw; echo pwned > /proc/1/root/tmp/$pw;
	echo pwned > /proc/1/cwd/$pw" >/dev/null 2>&1
check "writing through /proc/1/root and /proc/1/cwd created no host file" \
	eval '[[ ! -e $T/$pw && ! -e /tmp/$pw && ! -e $b1/$pw && ! -e $PWD/$pw ]]'
rm -f "/tmp/$pw" "$PWD/$pw" "/$pw"

xin I1 kill -TERM 1 >/dev/null 2>&1
xin I1 kill -INT 1 >/dev/null 2>&1
xin I1 kill -HUP 1 >/dev/null 2>&1
xin I2 kill -KILL 1 >/dev/null 2>&1
sleep 1
check "kill -TERM/-INT/-HUP/-KILL 1 from inside: the pause lives on" proc_alive "$pause" "$pause_s"
check "and so do I1 and I2" eval 'rc state I1 | jq -e ".status == \"running\"" && rc state I2 | jq -e ".status == \"running\""'
is "and it is still PID 1 of I2" "$(xin I2 ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause

# --- what every holder and pause is ----------------------------------------------

b3=$(mkb I3 -a podshim.pod=iso2)
check "I3 joins pod iso2 (net,ipc,uts)" member I3 "$b3"
holder1=$(holder iso) holder2=$(holder iso2)

# isolated PID WHAT: the checks of one podshim-pause process, from the host.
isolated() {
	local p=$1 w=$2 st fds u=${4:-65534}
	st=$(cat "/proc/$p/status")
	is "$w: uid and gid nobody ($u)" "$(awk '/^Uid:|^Gid:/ { print $2, $3, $4, $5 }' <<<"$st" | tr '\n' ' ')" \
		"$u $u $u $u $u $u $u $u "
	is "$w: no supplementary group" "$(awk '/^Groups:/ { print NF - 1 }' <<<"$st")" 0
	is "$w: no capability in any set" \
		"$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { print $2 }' <<<"$st" | sort -u)" 0000000000000000
	is "$w: no_new_privs, seccomp filter" "$(awk '/^NoNewPrivs:|^Seccomp:/ { print $2 }' <<<"$st" | tr '\n' ' ')" "1 2 "
	fds=$(for f in /proc/"$p"/fd/*; do readlink "$f"; done | sort | uniq -c | awk '{ print $1, $2 }')
	is "$w: its fds are 0, 1, 2 on /dev/null" "$fds" "3 /dev/null"
	isnt "$w: its own mount namespace" "$(nsino "$p" mnt)" "$HOST_MNT"
	# A holder's root has one empty directory: the mount point of the pod's /dev/shm.
	is "$w: its root (seen from the host) is empty${3:+ but for $3}" "$(ls -A "/proc/$p/root/" | tr '\n' ' ')" "${3:+$3 }"
	check_fails "$w: and read-only" touch "/proc/$p/root/x"
	is "$w: cwd is its root" "$(readlink "/proc/$p/cwd")" /
	is "$w: empty environment" "$(wc -c <"/proc/$p/environ")" 0
}
# The first pod's holder and pause made their roots (pivot_root): no holder
# had isolated itself yet. A second pod's holder copied the first holder's
# mount namespace: the same read-only tmpfs as its root, a namespace of its
# own, its own /shm.
# Under valgrind (no mount API: the pod's /dev/shm is on the host) the holder
# takes no /dev/shm, so it may be isolated before the pause starts, which
# then copies it: the pause's root is the template's, with its empty /shm.
pause_root=
[[ $(stat -c %d "/proc/$pause/root/") != "$(stat -c %d "/proc/$holder1/root/")" ]] || pause_root=shm
isolated "$pause" "the pause of iso" "$pause_root" "$PAUSE_UID"
isolated "$holder1" "the holder of iso" shm
isolated "$holder2" "the holder of iso2" shm
# A holder's mounts, sorted (their order in mountinfo was seen to vary under
# load): its root, and its /dev/shm unless that is on the host.
HOLDER_MOUNTS="/ /shm "
[[ -z ${PODSHIM_VALGRIND:-} ]] || HOLDER_MOUNTS="/ "
is "the holder of iso is the template" "$(cat "$STATE/$(rootkey "$RUNC_ROOT")/holder-template")" \
	"$holder1 $(proc_start "$holder1")"
is "the holder of iso2: the template's root" "$(stat -c %d "/proc/$holder2/root/")" \
	"$(stat -c %d "/proc/$holder1/root/")"
isnt "in a mount namespace of its own" "$(nsino "$holder2" mnt)" "$(nsino "$holder1" mnt)"
is "with its root and its own /dev/shm only" \
	"$(awk '{ print $5 }' "/proc/$holder2/mountinfo" | sort | tr '\n' ' ')" "$HOLDER_MOUNTS"
if [[ -z ${PODSHIM_VALGRIND:-} ]]; then
	isnt "which is not iso's" "$(stat -c %d "/proc/$holder2/root/shm")" "$(stat -c %d "/proc/$holder1/root/shm")"
fi
is "the pause and I1 share the holder's netns" "$(nsino "$pause" net) $(nsino "$(cpid I1)" net)" \
	"$(nsino "$holder1" net) $(nsino "$holder1" net)"
check "the pods added no mount to the host's mount table but their /dev/shm" no_pod_mounts \
	"$(nsino "$holder1" net)" "$(nsino "$holder1" ipc)" "$(nsino "$holder2" net)" "$(nsino "$pause" pid)"

# A pause made once a holder has isolated itself copies that holder's
# namespace too (and detaches its /shm).
check "I6 joins pid-sharing pod iso6" member I6 "$(mkb I6 -a podshim.pod=iso6 -a podshim.share=net,ipc,uts,pid)"
pause6=$(jq -r .pause.pid "$(poddir iso6)/pod.json")
if ((POD_USERNS)); then
	isolated "$pause6" "the pause of iso6" "" "$PAUSE_UID"
	isnt "a remapped pod's pause makes its own root (the template is the host's)" \
		"$(stat -c %d "/proc/$pause6/root/"):$(awk '{ print $5 }' "/proc/$pause6/mountinfo" | tr '\n' ' ')" \
		"$(stat -c %d "/proc/$holder1/root/"):/ "
else
	isolated "$pause6" "the pause of iso6" shm
	is "its root is the template's, with no /shm mounted" \
		"$(stat -c %d "/proc/$pause6/root/"):$(awk '{ print $5 }' "/proc/$pause6/mountinfo" | tr '\n' ' ')" \
		"$(stat -c %d "/proc/$holder1/root/"):/ "
fi
check "delete I6" del I6

# The template is only ever an isolated holder: a hint naming anything else
# (here a process of nobody in the host's mount namespace) is not copied.
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 300 </dev/null >/dev/null 2>&1 &
decoy=$!
TEMPLATE=$STATE/$(rootkey "$RUNC_ROOT")/holder-template
check "a decoy runs as nobody" wait_for 5 eval '[[ $(awk "/^Uid:/ { print \$2 }" "/proc/$decoy/status") == 65534 ]]'
echo "$decoy $(proc_start "$decoy")" >"$TEMPLATE"
check "I4 joins pod iso3 with the decoy named as the template" member I4 "$(mkb I4 -a podshim.pod=iso3)"
holder3=$(holder iso3)
isolated "$holder3" "the holder of iso3" shm
is "it made its own root: not the decoy's" "$(awk '{ print $5 }' "/proc/$holder3/mountinfo" | sort | tr '\n' ' ')" "$HOLDER_MOUNTS"
is "it is the template now" "$(cat "$TEMPLATE")" "$holder3 $(proc_start "$holder3")"
kill "$decoy"
check "delete I4" del I4
check "with the template's pod gone, I5 joins pod iso4" member I5 "$(mkb I5 -a podshim.pod=iso4)"
holder4=$(holder iso4)
is "its holder made its own root and is the template" \
	"$(awk '{ print $5 }' "/proc/$holder4/mountinfo" | sort | tr '\n' ' '):$(cat "$TEMPLATE")" \
	"$HOLDER_MOUNTS:$holder4 $(proc_start "$holder4")"
check "delete I5" del I5

check "delete I1, I2, I3" del_all I1 I2 I3
check "no holder or pause of this test is left" wait_for 5 test -z "$(our_pauses)"
check "no pod is left" no_pods

done_testing

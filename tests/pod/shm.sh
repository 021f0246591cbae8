#!/usr/bin/env bash
# The pod's /dev/shm: members that share IPC (the default) share one tmpfs of
# the pod (nosuid,nodev,noexec, sized from the first such member's own
# /dev/shm), members that do not keep their own; teardown and a failed create
# leave nothing. The tmpfs lives in the holder's mount namespace (at /shm of
# its empty root), never in the host's mount table; a holder that dies while
# members run is replaced by one that has the members' tmpfs again.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"
# Under valgrind 3.19, fsopen/open_tree/move_mount are ENOSYS: podshim then
# puts the pod's tmpfs on the host (its fallback for kernels < 5.2), which
# every other pod suite exercises there; these checks are of the mount API.
[[ -z ${PODSHIM_VALGRIND:-} ]] || skip_all "valgrind 3.19 has no fsopen/open_tree/move_mount (podshim uses its host-tmpfs fallback)"

# mountopts ID PATH: the mount options of PATH inside container ID.
mountopts() { xin "$1" cat /proc/self/mountinfo | awk -v p="$2" '$5 == p { print $6 }'; }
# host_mount PATH [PID]: "FSTYPE OPTS SUPEROPTS" of the mount at PATH on the
# host (in PID's mount namespace), or nothing.
host_mount() {
	awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); print $(i + 1), $6, $(i + 3) }' \
		"/proc/${2:-self}/mountinfo"
}
# tmpfs_mounts: the host's tmpfs mounts under this test's dir (state, data).
tmpfs_mounts() {
	awk -v t="$T/" '{ for (i = 7; $i != "-"; i++); if ($(i + 1) == "tmpfs" && index($5, t) == 1) print $5 }' \
		/proc/self/mountinfo
}
TMPFS0=$(tmpfs_mounts)
# shm_size BUNDLE SIZE: sets the size= option of the bundle's /dev/shm tmpfs.
shm_opt() { echo ".mounts |= map(if .destination == \"/dev/shm\" then .options = [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=$1\"] else . end)"; }

# --- two IPC-sharing members and one that does not share IPC --------------------

check "S1 (own /dev/shm of 8m) joins pod shm" member S1 "$(mkb S1 -a podshim.pod=shm -j "$(shm_opt 8m)")"
check "S2 (own /dev/shm of 64m) joins" member S2 "$(mkb S2 -a podshim.pod=shm)"
check "S3 (share net,uts: no ipc) joins" member S3 "$(mkb S3 -a podshim.pod=shm -a podshim.share=net,uts)"
VD=$(voldir shm)
H=$(holder shm)
check "S1 writes /dev/shm/x" xin S1 sh -c 'echo from-S1 > /dev/shm/x'
is "S2 reads it" "$(xin S2 cat /dev/shm/x 2>&1)" from-S1
check "S2 writes /dev/shm/y, S1 reads it" eval 'xin S2 sh -c "echo from-S2 > /dev/shm/y" && [[ $(xin S1 cat /dev/shm/y) == from-S2 ]]'
check_fails "S3 (own IPC) does not see it" xin S3 test -e /dev/shm/x
check "S3 writes its own /dev/shm/z" xin S3 sh -c 'echo own > /dev/shm/z'
check_fails "S1 does not see S3's" xin S1 test -e /dev/shm/z
is "the pod's /dev/shm is the holder's /shm" "$(cat "/proc/$H/root/shm/x" 2>&1)" from-S1
is "no tmpfs mount was added on the host (state, data dir)" "$(tmpfs_mounts)" "$TMPFS0"
check_fails "nothing is mounted at the staging directory" mountpoint -q "$(poddir shm)/shm"
check_fails "nor in the data dir" test -e "$VD/shm"
read -r fstype opts sopts <<<"$(host_mount /shm "$H")"
is "it is a tmpfs in the holder's mount namespace" "$fstype" tmpfs
for o in nosuid nodev noexec; do
	if [[ ,$opts, == *,$o,* ]]; then ok "there it is $o"; else not_ok "there it is $o" "options: '$opts'"; fi
done
if [[ ,$sopts, == *,size=8192k,* ]]; then
	ok "its size is the first member's (8m) ($sopts)"
else
	not_ok "its size is the first member's (8m)" "superblock options: '$sopts'"
fi
is "its mode is 1777" "$(stat -c %a "/proc/$H/root/shm")" 1777
opts=$(mountopts S2 /dev/shm)
if [[ ,$opts, == *,nosuid,* && ,$opts, == *,nodev,* && ,$opts, == *,noexec,* ]]; then
	ok "/dev/shm in S2 is nosuid,nodev,noexec ($opts)"
else
	not_ok "/dev/shm in S2 is nosuid,nodev,noexec" "options: '$opts'"
fi
check "POSIX shm: S1 fills it up to its cap, not beyond" eval \
	'! xin S1 busybox dd if=/dev/zero of=/dev/shm/big bs=1M count=12 2>/dev/null && [[ $(xin S2 stat -c %s /dev/shm/big) -le $((8 << 20)) ]]'
check "S1 frees it" xin S1 rm -f /dev/shm/big
check "S1 leaves" del S1
is "S2 still reads S1's file after S1 is gone" "$(xin S2 cat /dev/shm/x 2>&1)" from-S1
# The holder dies (SIGKILL) while S2 runs: the next member gets S2's tmpfs.
HS=$(proc_start "$H")
check "the holder is killed" kill -9 "$H"
check "the holder is gone" wait_for 10 eval '! proc_alive "$H" "$HS"'
check "S4 joins after the holder died" member S4 "$(mkb S4 -a podshim.pod=shm)"
H2=$(holder shm)
isnt "the pod has a new holder" "$H2" "$H"
is "S4 reads S1's file: the pod's tmpfs, from S2" "$(xin S4 cat /dev/shm/x 2>&1)" from-S1
check "S4 writes /dev/shm/w, S2 reads it" eval 'xin S4 sh -c "echo from-S4 > /dev/shm/w" && [[ $(xin S2 cat /dev/shm/w) == from-S4 ]]'
is "the new holder has it at /shm" "$(cat "/proc/$H2/root/shm/w" 2>&1)" from-S4
read -r fstype opts sopts <<<"$(host_mount /shm "$H2")"
if [[ ,$sopts, == *,size=8192k,* ]]; then ok "still 8m ($sopts)"; else not_ok "still 8m" "superblock options: '$sopts'"; fi
check "S4 leaves" del S4
check "S2 and S3 leave" del_all S2 S3
check "teardown: no pod left, no volume" no_pods
is "teardown: no tmpfs mount added on the host" "$(tmpfs_mounts)" "$TMPFS0"

# --- a pod whose members share no IPC gets no /dev/shm of the pod -------------------

check "N1 (share net) joins pod noipc" member N1 "$(mkb N1 -a podshim.pod=noipc -a podshim.share=net)"
check_fails "pod noipc has no /dev/shm of its own" test -e "$(voldir noipc)/shm"
check "N1 leaves" del N1

# --- a failed create leaves nothing ------------------------------------------------

b=$(mkb F1 -a podshim.pod=fail -j '.root.path = "/nonexistent"')
check_fails "F1 with no rootfs: the delegate's create fails" create F1 "$b"
check "nothing of pod fail is left" no_pods
is "no mount of its /dev/shm" "$(host_mount "$(voldir fail)/shm")" ""
if "$PODSHIM" --version 2>/dev/null | grep -q '^podshim version .*(fault injection)'; then
	b=$(mkb F2 -a podshim.pod=crash)
	PODSHIM_FAULT=podshm-staged shim create --bundle "$b" F2 </dev/null >/dev/null 2>&1
	is "podshim killed right after staging the pod's /dev/shm" "$?" 137
	is "no tmpfs mount is left on the host" "$(tmpfs_mounts)" "$TMPFS0"
	runc --root "$RUNC_ROOT" delete --force F2 >/dev/null 2>&1
	check "pod gc" shim pod gc
	check "nothing of pod crash is left" no_pods
	is "no mount of its /dev/shm" "$(host_mount "$(voldir crash)/shm")" ""
	b=$(mkb F3 -a podshim.pod=stagefail)
	check_fails "a failure right after staging: the create fails" eval \
		'PODSHIM_FAULT=fail:podshm-staged shim create --bundle "$b" F3 </dev/null >/dev/null 2>&1'
	check_fails "(no container F3)" rc state F3
	check "nothing of pod stagefail is left" no_pods
	is "no tmpfs mount is left on the host either" "$(tmpfs_mounts)" "$TMPFS0"
	check "podshim is back in its own mount namespace: the next member works" \
		member F4 "$(mkb F4 -a podshim.pod=stagefail)"
	check "F4 leaves" del F4
else
	skip "a crash after mounting the pod's /dev/shm (needs -Dfault_injection=true)"
fi
check "no mount under the data dir at all" no_mounts_under "$DATA"

done_testing

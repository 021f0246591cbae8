#!/usr/bin/env bash
# Pod volumes: on the data dir (--podshim-data, here $DATA), never in the state
# dir; sized volumes (tmpfs) that fill up alone; nosuid,nodev; refused
# destinations; nested volumes refused (a symlink one member plants must not
# redirect another's mount); teardown and failed creates leave nothing.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

KEY=$(rootkey "$RUNC_ROOT")
# mountopts ID PATH: the mount options of PATH inside container ID.
mountopts() { xin "$1" cat /proc/self/mountinfo | awk -v p="$2" '$5 == p { print $6 }'; }
# host_mount PATH: "FSTYPE OPTS" of the mount at PATH on the host, or nothing.
host_mount() { awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); print $(i + 1), $6 }' /proc/self/mountinfo; }

# --- volumes on the data dir, one of them sized --------------------------------------

b1=$(mkb V1 -a podshim.pod=vol -a 'podshim.volumes=/shared,/cache:8m')
b2=$(mkb V2 -a podshim.pod=vol -a 'podshim.volumes=/cache:8192k')
check "V1 (/shared, /cache:8m) joins pod vol" member V1 "$b1"
check "V2 (/cache:8192k, the same size) joins" member V2 "$b2"
VD=$(voldir vol)
if [[ -z ${PODSHIM_VALGRIND:-} ]]; then
	is "the volumes are in the data dir (the pod's /dev/shm is not: its holder has it)" "$(cd "$VD" && ls | tr '\n' ' ')" "-cache -shared "
else # no mount API under valgrind 3.19: the pod's /dev/shm is a tmpfs there too
	is "the volumes are in the data dir (and the pod's /dev/shm: valgrind has no mount API)" "$(cd "$VD" && ls | tr '\n' ' ')" "-cache -shared shm "
fi
is "nothing of them in the state dir" "$(ls "$(poddir vol)" | grep -c volumes)" 0
is "the data dir and its root dir are 0700" "$(stat -c %a "$DATA" "$DATA/$KEY" | tr '\n' ' ')" "700 700 "
is "the sized volume is a tmpfs on the host, nosuid,nodev" \
	"$(host_mount "$VD/-cache" | tr ', ' '\n\n' | grep -E '^(tmpfs|.*nosuid|nodev)' | sort | tr '\n' ' ')" \
	"nodev nosuid tmpfs "
is "the unsized one adds no mount to the host" "$(host_mount "$VD/-shared")" ""
for v in /shared /cache; do
	opts=$(mountopts V1 "$v")
	if [[ ,$opts, == *,nosuid,* && ,$opts, == *,nodev,* ]]; then
		ok "$v is mounted nosuid,nodev in V1 ($opts)"
	else
		not_ok "$v is mounted nosuid,nodev in V1" "options: '$opts'"
	fi
done
check "V1 writes to /cache, V2 reads it" eval 'xin V1 sh -c "echo hi > /cache/x" && [[ $(xin V2 cat /cache/x) == hi ]]'
out=$(xin V1 busybox dd if=/dev/zero of=/cache/big bs=1M count=20 2>&1)
s=$?
if ((s != 0)) && [[ $out == *"No space left on device"* ]]; then
	ok "filling /cache (8m) past its size fails with ENOSPC"
else
	not_ok "filling /cache (8m) past its size fails with ENOSPC" "status $s: $out"
fi
size=$(stat -c %s "$VD/-cache/big")
is "and stops at 8 MiB" "$((size <= 8 * 1024 * 1024 && size > 7 * 1024 * 1024))" 1
check "while /cache is full, V1 still writes to /shared" xin V1 sh -c 'echo ok > /shared/y'
check "and another pod with volumes is created" eval 'member W1 "$(mkb W1 -a podshim.pod=other -a podshim.volumes=/shared,/c:1m)"'
check "delete W1" del W1
refused "a member naming /cache with another size is refused" \
	'pod volume `/cache` has a size of 8388608 bytes in this pod, not 16777216' \
	"$(mkb V3 -a podshim.pod=vol -a podshim.volumes=/cache:16m)"
refused "a member naming /cache without a size is refused" \
	'pod volume `/cache` has a size of 8388608 bytes in this pod: every member must name it `/cache:8192k`' \
	"$(mkb V4 -a podshim.pod=vol -a podshim.volumes=/cache)"
refused "a member giving /shared a size is refused" \
	'pod volume `/shared` exists in this pod without a size' \
	"$(mkb V5 -a podshim.pod=vol -a podshim.volumes=/shared:1m)"
is "pod inspect shows the data dir" "$(shim pod inspect vol | jq -r '.[0].data_dir')" "$VD"
check "a member given the data dir as \$DATA/ joins (one spelling)" \
	eval 'PODSHIM_DATA=$DATA/ member V6 "$(mkb V6 -a podshim.pod=vol -a podshim.volumes=/shared)" && del V6'
PODSHIM_DATA=$T/data2 refused "a member with another data dir is refused" \
	"the pod keeps its volumes in \`$VD\`, not in \`$T/data2/$KEY/vol\`" \
	"$(mkb V7 -a podshim.pod=vol -a podshim.volumes=/shared)"

# --- refused destinations ---------------------------------------------------------

for v in /proc /proc/sys /sys /sys/fs /dev /dev/shm; do
	refused "a volume at $v is refused, naming it" "pod volume \`$v\` is refused" \
		"$(mkb "R${v//\//_}" -a podshim.pod=bad -a "podshim.volumes=/ok,$v")"
done
refused "a volume at / is refused" 'invalid pod volume `/`' "$(mkb R_root -a podshim.pod=bad -a podshim.volumes=/)"
refused "a volume over Docker's /etc (hiding /etc/hostname) is refused, naming both" \
	"pod volume \`/etc\` is refused: it would hide the container's mount at \`/etc/hostname\`" \
	"$(mkb R_etc -a podshim.pod=bad -a podshim.volumes=/etc -j "$(fake_docker R_etc '{}')")"
refused "a volume at a parent of any mount of the container is refused" \
	"pod volume \`/run\` is refused: it would hide the container's mount at \`/run/secrets/x\`" \
	"$(mkb R_run -a podshim.pod=bad -a podshim.volumes=/run \
		-j '.mounts += [{destination: "/run/secrets/x", type: "tmpfs", source: "tmpfs"}]')"
refused "a size that is not one is refused" 'invalid size `8q` of pod volume `/c`' \
	"$(mkb R_size -a podshim.pod=bad -a podshim.volumes=/c:8q)"

# --- a symlink planted in a shared volume ------------------------------------------------

check "N1 (volume /data) joins pod nest" member N1 "$(mkb N1 -a podshim.pod=nest -a podshim.volumes=/data)"
check "N1 plants /data/sub -> /bin in the shared volume" xin N1 busybox ln -s /bin /data/sub
refused "N2 naming /data and /data/sub (nested) is refused" \
	'pod volume `/data/sub` is inside pod volume `/data`: nested pod volumes are refused' \
	"$(mkb N2 -a podshim.pod=nest -a podshim.volumes=/data,/data/sub)"
is "the pod keeps N1 alone" "$(members nest)" N1
check "N3 (volume /data only) joins and its /bin is its own" \
	eval 'member N3 "$(mkb N3 -a podshim.pod=nest -a podshim.volumes=/data)" && xin N3 test -x /bin/busybox'
check "delete N1, N3" del_all N1 N3

# --- a failed create with a sized volume leaves nothing --------------------------------

b=$(mkb F1 -a podshim.pod=failvol -a podshim.volumes=/cache:1m,/shared -j '.root.path = "/nonexistent/rootfs"')
create F1 "$b" 2>/dev/null
isnt "F1 (bad rootfs) fails" "$?" 0
is "no pod failvol, no data dir, no mount" \
	"$(members failvol):$(test -e "$(voldir failvol)" && echo data-left):$(host_mount "$(voldir failvol)/-cache")" "::"
b=$(mkb F2 -a podshim.pod=vol -a podshim.volumes=/new:1m -j '.root.path = "/nonexistent/rootfs"')
create F2 "$b" 2>/dev/null
isnt "F2 (bad rootfs) fails to join vol" "$?" 0
is "vol keeps V1 and V2" "$(members vol)" V1,V2

# --- a dead pod's volumes go with pod gc; a data dir others can write is refused -----

check "G1 (/c:1m) joins pod gcvol" member G1 "$(mkb G1 -a podshim.pod=gcvol -a podshim.volumes=/c:1m,/d)"
GD=$(voldir gcvol)
check "G1's init is killed and runc (not podshim) deletes it" \
	eval 'rc kill G1 KILL; wait_for 10 eval "[[ \$(rc state G1 | jq -r .status) == stopped ]]" && rc delete G1'
is "its volumes are still there" "$(host_mount "$GD/-c" | cut -d' ' -f1):$(test -d "$GD/-d" && echo dir)" tmpfs:dir
check "pod gc removes the pod" eval 'shim pod gc | grep -q "removed 1 pod"'
is "and unmounts and removes its volumes" "$(host_mount "$GD/-c"):$(test -e "$GD" && echo left)" ":"
chmod 777 "$DATA"
refused "a data dir writable by others is refused" "data directory \`$DATA\` must be owned by uid 0" \
	"$(mkb O1 -a podshim.pod=open -a podshim.volumes=/x)"
chmod 700 "$DATA"

# --- teardown ------------------------------------------------------------------------

check "delete V1" del V1
is "V2 still reads /cache" "$(xin V2 cat /cache/x)" hi
check "delete V2 (the last)" del V2
is "the sized volume is unmounted" "$(host_mount "$VD/-cache")" ""
check "the pod's data dir is removed" test ! -e "$VD"
check "no pods, no volumes, no mounts" eval 'no_pods && no_mounts_under "$DATA" && no_mounts_under "$STATE"'

done_testing

#!/usr/bin/env bash
# tests/e2e/userns.sh — pods on a userns-remap dockerd (issue 22): every
# container's root is an unprivileged uid of the host. Two members share
# loopback, a pid-sharing member sees the pause as PID 1 and nothing of the
# host through it, each member runs remapped (its uid_map and uid seen from
# the host), a companion of a remapped anchor is remapped too, and nothing
# is left after the last member.
#
# The daemon remaps to a user this test makes (useradd, with /etc/subuid and
# /etc/subgid ranges) and removes at exit; /etc/subuid and /etc/subgid are
# put back as they were.
#
#   PODSHIM=build/cmd/podshim bash tests/e2e/userns.sh
# (single-quoted scripts run in containers)
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

command -v useradd >/dev/null && command -v userdel >/dev/null || skip_all "needs useradd/userdel"
bounded_docker

# A user of this run (short: a name is at most 32 bytes), its subordinate
# range from one no other subuid entry overlaps.
UR_USER=podshim-ur-$(printf '%s' "$$.$RANDOM" | sha256sum | cut -c1-8)
SUBUID_SAVE=$(mktemp /tmp/podshim-subuid.XXXXXX) SUBGID_SAVE=$(mktemp /tmp/podshim-subgid.XXXXXX)
cp -p /etc/subuid "$SUBUID_SAVE" 2>/dev/null || : >"$SUBUID_SAVE"
cp -p /etc/subgid "$SUBGID_SAVE" 2>/dev/null || : >"$SUBGID_SAVE"
restore_users() {
	userdel "$UR_USER" >/dev/null 2>&1
	# In place (same inode, mode, owner): as they were.
	cat "$SUBUID_SAVE" >/etc/subuid 2>/dev/null
	cat "$SUBGID_SAVE" >/etc/subgid 2>/dev/null
	rm -f "$SUBUID_SAVE" "$SUBGID_SAVE"
}
at_exit restore_users
BASE=$(awk -F: 'BEGIN { b = 300000000 } $2 + $3 > b { b = $2 + $3 } END { print b + 65536 * int(rand() * 64) }' \
	/etc/subuid /etc/subgid)
useradd --system --no-create-home --shell /usr/sbin/nologin "$UR_USER" || bail "useradd $UR_USER failed"
echo "$UR_USER:$BASE:65536" >>/etc/subuid
echo "$UR_USER:$BASE:65536" >>/etc/subgid

PODSHIM_DOCKERD_USERNS=$UR_USER PODSHIM_DOCKERD_API=1 dockerd_up
images_up busybox
BB=podshim/busybox
is "the daemon remaps to $UR_USER" "$(docker info --format '{{json .SecurityOptions}}' | grep -c userns)" 1

check "ua: a member of pod up, sharing pid, serving on 127.0.0.1:8080" \
	docker run -d --name ua --label podshim.pod=up --label podshim.share=net,ipc,uts,pid \
	$BB sh -c 'mkdir -p /www && echo hello-ua > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
check "ub: a second member, --network none" \
	docker run -d --name ub --label podshim.pod=up --label podshim.share=net,ipc,uts,pid \
	--network none $BB sleep 1000
check "ub reaches ua on 127.0.0.1" wait_for docker exec ub wget -qO- http://127.0.0.1:8080/
is "what it serves" "$(docker exec ub wget -qO- http://127.0.0.1:8080/ 2>&1)" hello-ua
is "ub's PID 1 is the pause" "$(docker exec ub ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause
for c in ua ub; do
	p=$(docker inspect -f '{{.State.Pid}}' "$c")
	is "$c runs remapped: its uid_map seen from the host" "$(tr -s ' ' <"/proc/$p/uid_map")" " 0 $BASE 65536"
	is "$c: uid and gid $BASE on the host, root inside" \
		"$(awk '/^Uid:|^Gid:/ { print $2 }' "/proc/$p/status" | tr '\n' ' ')$(docker exec "$c" id -u)" "$BASE $BASE 0"
done
is "pod list shows the pod's mappings" "$(pod_field up uid_map) $(pod_field up gid_map)" \
	"0:$BASE:65536 0:$BASE:65536"
pa=$(docker inspect -f '{{.State.Pid}}' ua) pb=$(docker inspect -f '{{.State.Pid}}' ub)
is "ua and ub share one user namespace, the pod's" "$(stat -L -c %i "/proc/$pa/ns/user")" "$(stat -L -c %i "/proc/$pb/ns/user")"

# Isolation: nothing of the host through PID 1.
PW=podshim-pwned-$$-$RANDOM
is "/proc/1/root, /proc/1/cwd list nothing; environ and exe give nothing" \
	"$(docker exec ub sh -c 'ls -A /proc/1/root/ /proc/1/cwd/ 2>/dev/null | grep -v : | grep -c .;
		cat /proc/1/environ 2>/dev/null | wc -c; cat /proc/1/exe 2>/dev/null | wc -c' | tr '\n' ' ')" \
	"0 0 0 "
docker exec ub sh -c "echo x > /proc/1/root/tmp/$PW; echo x > /proc/1/root$E2E_DIR/$PW; echo x > /proc/1/cwd/$PW" \
	>/dev/null 2>&1
check "writing through /proc/1/root and /proc/1/cwd made no host file" \
	test ! -e "/tmp/$PW" -a ! -e "$E2E_DIR/$PW" -a ! -e "/$PW"
rm -f "/tmp/$PW" "$E2E_DIR/$PW" "/$PW"
pause=$(pod_field up pause_pid) holder=$(pod_field up holder_pid)
pause_s=$(cut -d' ' -f22 "/proc/$pause/stat" 2>/dev/null)
docker exec ub kill -KILL 1 >/dev/null 2>&1
sleep 1
is "after kill -KILL 1 inside: the pause and both members live on" \
	"$(cut -d' ' -f22 "/proc/$pause/stat" 2>/dev/null) $(docker inspect -f '{{.State.Status}}' ua ub | tr '\n' ' ')" \
	"$pause_s running running "
is "holder: nobody of the host; pause: nobody of the pod; no capabilities" \
	"$(awk '/^Uid:|^CapEff:/ { print $2 }' "/proc/$holder/status" "/proc/$pause/status" | tr '\n' ' ')" \
	"65534 0000000000000000 $((BASE + 65534)) 0000000000000000 "

# A companion of a remapped anchor: the daemon remaps it too, into the pod.
check "uc: an anchor with a companion" \
	docker run -d --name uc --label podshim.pod=uq \
	--label 'podshim.companion.side={"image":"podshim/busybox","command":["sleep","1000"]}' \
	--network none $BB sleep 1000
check "its companion uc.side runs" wait_for eval '[[ $(docker inspect -f "{{.State.Running}}" uc.side 2>/dev/null) == true ]]'
check "both are members of pod uq" wait_for eval '[[ $(pod_members uq | wc -l) == 2 ]]'
ps_=$(docker inspect -f '{{.State.Pid}}' uc.side 2>/dev/null)
is "the companion runs remapped, in the anchor's user namespace" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/$ps_/status" 2>/dev/null) $(stat -L -c %i "/proc/$ps_/ns/user" 2>/dev/null)" \
	"$BASE $(stat -L -c %i "/proc/$(docker inspect -f '{{.State.Pid}}' uc)/ns/user")"

check "remove every member" docker rm -f ua ub uc uc.side
gone() { [[ ! -e /proc/$1/stat || $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == Z ]]; }
all_gone() { [[ $(pods | jq length) == 0 ]] && gone "$holder" && gone "$pause"; }
check "the pods are gone, and their holder and pause" wait_for all_gone

done_testing

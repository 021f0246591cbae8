#!/usr/bin/env bash
# tests/e2e/isolation.sh — with Docker: PID 1 of a pid-sharing pod gives a
# root member nothing of the host (issue 8 item 1), and does not stop on
# `kill -TERM 1` / `kill -KILL 1` from inside; a pod's namespaces are held
# by a holder process, not by mounts (issue 11).
#
#   PODSHIM=build/cmd/podshim bash tests/e2e/isolation.sh
# (single-quoted scripts run in containers)
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

bounded_docker

dockerd_up
images_up busybox
BB=podshim/busybox
PW=podshim-pwned-$$-$RANDOM

check "a root member of pod iso, sharing pid" \
	docker run -d --name iso-a --label podshim.pod=iso --label podshim.share=net,ipc,uts,pid \
	--network none $BB sleep 1000
check "a second member" \
	docker run -d --name iso-b --label podshim.pod=iso --label podshim.share=net,ipc,uts,pid \
	--network none $BB sleep 1000
pause=$(pods | jq -r '.[] | select(.name == "iso") | .pause_pid')
pause_s=$(cut -d' ' -f22 "/proc/$pause/stat" 2>/dev/null)
# no_pod_mounts: podshim mounts the pod's network namespace in no mount
# namespace of the machine. dockerd's own sandbox keys (<exec-root>/netns/ID:
# a hook-less engine binds every member's /proc/PID/ns/net there) are its own.
# (One process per mount namespace, found by one find: no fork per process.)
no_pod_mounts() {
	local ino
	local -a files
	ino=$(stat -L -c %i "/proc/$(docker inspect -f '{{.State.Pid}}' iso-a)/ns/net") || return 1
	mapfile -t files < <(find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf '%l %h\n' 2>/dev/null |
		awk '!seen[$1]++ { sub(/\/ns$/, "", $2); print $2 "/mountinfo" }')
	((${#files[@]})) || { echo "no mount namespace found"; return 1; }
	! grep -hF "net:[$ino]" "${files[@]}" 2>/dev/null | grep -vF " $E2E_DIR/exec/netns/"
}
check "podshim mounts the pod's netns nowhere" no_pod_mounts
is "PID 1 in the member is podshim-pause" \
	"$(docker exec iso-a ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause
is "/proc/1/root, /proc/1/cwd list nothing; environ and exe give nothing" \
	"$(docker exec iso-a sh -c 'ls -A /proc/1/root/ /proc/1/cwd/ 2>/dev/null | grep -v : | grep -c .;
		cat /proc/1/environ 2>/dev/null | wc -c; cat /proc/1/exe 2>/dev/null | wc -c' | tr '\n' ' ')" \
	"0 0 0 "
docker exec iso-a sh -c "echo x > /proc/1/root/tmp/$PW; echo x > /proc/1/root$E2E_DIR/$PW; echo x > /proc/1/cwd/$PW" \
	>/dev/null 2>&1
check "writing through /proc/1/root and /proc/1/cwd made no host file" \
	test ! -e "/tmp/$PW" -a ! -e "$E2E_DIR/$PW" -a ! -e "/$PW"
rm -f "/tmp/$PW" "$E2E_DIR/$PW" "/$PW"
docker exec iso-a kill -TERM 1 >/dev/null 2>&1
docker exec iso-a kill -KILL 1 >/dev/null 2>&1
sleep 1
is "after kill -TERM 1 and kill -KILL 1 inside: the pause and both members live on" \
	"$(cut -d' ' -f22 "/proc/$pause/stat" 2>/dev/null) $(docker inspect -f '{{.State.Status}}' iso-a iso-b | tr '\n' ' ')" \
	"$pause_s running running "
holder=$(pods | jq -r '.[] | select(.name == "iso") | .holder_pid')
is "the holder and the pause run as nobody, no capabilities" \
	"$(awk '/^Uid:|^CapEff:|^CapBnd:/ { print $2 }' "/proc/$holder/status" "/proc/$pause/status" | tr '\n' ' ')" \
	"65534 0000000000000000 0000000000000000 65534 0000000000000000 0000000000000000 "
check "remove both members" docker rm -f iso-a iso-b
# gone PID: no such process, or a zombie.
gone() { [[ ! -e /proc/$1/stat || $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == Z ]]; }
all_gone() { [[ $(pods | jq length) == 0 ]] && gone "$holder" && gone "$pause"; }
check "the pod is gone, and its holder and pause" wait_for all_gone

done_testing

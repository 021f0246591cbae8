#!/usr/bin/env bash
# tests/e2e/rootless.sh — pods under rootless Docker (issue 22): dockerd run
# by docker.io's dockerd-rootless.sh (rootlesskit) as a user this test makes.
# podshim then runs as root of rootlesskit's user namespace with
# $XDG_RUNTIME_DIR set and no write access to /var/lib: its state goes to
# $XDG_RUNTIME_DIR/podshim and pod volumes to ~/.local/share/podshim (runc's
# rule for a rootless runtime). Two members share loopback and a pod volume,
# a pid-sharing member sees the pause as PID 1, holder and pause are nobody
# of rootlesskit's user namespace (a subordinate uid of the user on the host),
# nothing is left after the last member.
#
# This VM's /dev/net/tun is root's alone (0600): rootlesskit runs with
# --net=host (DOCKERD_ROOTLESS_ROOTLESSKIT_NET=host, no port driver) and
# dockerd with no bridge, no iptables, no IP forwarding; the members use
# --network none, sharing the pod's own network namespace.
#
# The user (useradd, home in the test's temp dir, /etc/subuid and
# /etc/subgid ranges) is removed at exit; /etc/subuid and /etc/subgid are
# put back as they were.
#
#   PODSHIM=build/cmd/podshim bash tests/e2e/rootless.sh
# (single-quoted scripts run in containers)
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/oci.sh
. "$E2E_REPO/tests/lib/oci.sh"

CONTRIB=/usr/share/docker.io/contrib
[[ -x $CONTRIB/dockerd-rootless.sh ]] || skip_all "needs docker.io's $CONTRIB/dockerd-rootless.sh"
for p in rootlesskit newuidmap useradd userdel setpriv; do
	command -v "$p" >/dev/null || skip_all "needs $p (hack/install-deps: rootlesskit, uidmap)"
done
[[ -x $PODSHIM ]] || bail "no podshim binary at $PODSHIM (build first)"
bounded_docker
ENGINE=${PODSHIM_ENGINE:-debian12}
"$E2E_REPO/hack/engine" fetch "$ENGINE" >&2 || bail "engine $ENGINE not available"
BINDIR=$("$E2E_REPO/hack/engine" bindir "$ENGINE") || bail "engine $ENGINE not available"

T=$(mktemp -d /tmp/podshim-rl.XXXXXX)
chmod 755 "$T"
RL_USER=podshim-rl-$(printf '%s' "$T" | sha256sum | cut -c1-8)
SUBUID_SAVE=$T/subuid.save SUBGID_SAVE=$T/subgid.save
cp -p /etc/subuid "$SUBUID_SAVE" 2>/dev/null || : >"$SUBUID_SAVE"
cp -p /etc/subgid "$SUBGID_SAVE" 2>/dev/null || : >"$SUBGID_SAVE"
XDG=$T/xdg
export DOCKER_HOST=unix://$XDG/docker.sock
T_START=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz }' /proc/uptime)

# ours PID: a process of this test: its user's, or one of its subordinate
# uids', started after the test did.
cleanup() {
	local ids p u
	ids=$(timeout 20 docker ps -aq 2>/dev/null)
	[[ -z $ids ]] || timeout 60 docker rm -f $ids >/dev/null 2>&1
	[[ ! -s $T/dockerd.pid ]] || kill -TERM -- "-$(cat "$T/dockerd.pid")" 2>/dev/null
	for _ in $(seq 50); do
		[[ -n $(pgrep -u "$RL_UID" 2>/dev/null) ]] || break
		sleep 0.2
	done
	# Whatever is left of this user (and its subordinate uids: holders and
	# pauses): ours, by its unique uids.
	for u in "$RL_UID" $((BASE + 65533)) $((BASE + 65534)); do
		[[ -n $u ]] && pkill -KILL -u "$u" 2>/dev/null
	done
	userdel "$RL_USER" >/dev/null 2>&1
	cat "$SUBUID_SAVE" >/etc/subuid 2>/dev/null
	cat "$SUBGID_SAVE" >/etc/subgid 2>/dev/null
	[[ ${E2E_KEEP:-0} == 1 ]] || rm -rf "$T"
}
RL_UID= BASE=0
at_exit cleanup

BASE=$(awk -F: 'BEGIN { b = 400000000 } $2 + $3 > b { b = $2 + $3 } END { print b + 65536 * int(rand() * 64) }' \
	/etc/subuid /etc/subgid)
useradd --system --home-dir "$T/home" --create-home --shell /bin/sh "$RL_USER" || bail "useradd failed"
RL_UID=$(id -u "$RL_USER")
echo "$RL_USER:$BASE:65536" >>/etc/subuid
echo "$RL_USER:$BASE:65536" >>/etc/subgid
install -d -m 700 -o "$RL_USER" -g "$RL_USER" "$XDG" "$T/home/.config" "$T/home/.config/docker"
jq -n --arg p "$(realpath "$PODSHIM")" '{runtimes: {podshim: {path: $p}}, "default-runtime": "podshim",
	bridge: "none", iptables: false, "ip-forward": false, "ip-masq": false}' >"$T/home/.config/docker/daemon.json"
chown "$RL_USER:" "$T/home/.config/docker/daemon.json"

setsid setpriv --reuid="$RL_USER" --regid="$RL_USER" --init-groups \
	env -i HOME="$T/home" USER="$RL_USER" XDG_RUNTIME_DIR="$XDG" \
	PATH="${BINDIR:+$BINDIR:}$CONTRIB:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	DOCKERD_ROOTLESS_ROOTLESSKIT_NET=host DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=none \
	${DOCKER_MIN_API_VERSION:+DOCKER_MIN_API_VERSION=$DOCKER_MIN_API_VERSION} \
	dockerd-rootless.sh --data-root "$T/home/data" -H "$DOCKER_HOST" \
	</dev/null >"$T/dockerd.log" 2>&1 &
echo $! >"$T/dockerd.pid"
check "rootless dockerd ($ENGINE) starts as $RL_USER" wait_for -n 300 -s 0.2 timeout 5 docker info
[[ $(docker info --format '{{json .SecurityOptions}}' 2>/dev/null) == *rootless* ]] ||
	bail "dockerd is not rootless: $(tail -5 "$T/dockerd.log")"
ok "docker info says rootless"

# podshim/busybox, imported.
make_rootfs "$T/img" >/dev/null && tar -C "$T/img" -c . | docker import - podshim/busybox >/dev/null ||
	bail "cannot import podshim/busybox"
BB=podshim/busybox
# The daemon's process inside rootlesskit's namespaces: podshim's CLI is
# run there, as their root.
rl_podshim() {
	nsenter -t "$(cat "$XDG/docker.pid")" -U -m -- "$PODSHIM" --podshim-state "$XDG/podshim" "$@"
}

check "ra: a member of pod rp, sharing pid, a volume, serving on 127.0.0.1:8080" \
	docker run -d --name ra --label podshim.pod=rp --label podshim.share=net,ipc,uts,pid \
	--label podshim.volumes=/shared --network none \
	$BB sh -c 'mkdir -p /www && echo hello-ra > /www/index.html && echo from-ra > /shared/f && exec httpd -f -p 127.0.0.1:8080 -h /www'
check "rb: a second member" \
	docker run -d --name rb --label podshim.pod=rp --label podshim.share=net,ipc,uts,pid \
	--label podshim.volumes=/shared --network none $BB sleep 1000
check "rb reaches ra on 127.0.0.1" wait_for docker exec rb wget -qO- http://127.0.0.1:8080/
is "what it serves" "$(docker exec rb wget -qO- http://127.0.0.1:8080/ 2>&1)" hello-ra
is "rb reads ra's file in the pod volume" "$(docker exec rb cat /shared/f 2>&1)" from-ra
is "rb's PID 1 is the pause" "$(docker exec rb ps -o pid,args | awk '$1 == 1 { print $2 }')" podshim-pause
is "podshim's state is under \$XDG_RUNTIME_DIR/podshim" \
	"$(rl_podshim pod list --format json | jq -r '.[] | select(.name == "rp") | .members | length')" 2
is "the pod volume is under ~/.local/share/podshim, the user's on the host" \
	"$(stat -c %u "$T"/home/.local/share/podshim/*/rp/-shared/f 2>&1)" "$RL_UID"
pause=$(rl_podshim pod list --format json | jq -r '.[] | select(.name == "rp") | .pause_pid')
holder=$(rl_podshim pod list --format json | jq -r '.[] | select(.name == "rp") | .holder_pid')
# rootlesskit maps 0 to the user and 1-65536 to its range: nobody (65534) is BASE+65533.
is "holder and pause: nobody of rootlesskit's user namespace, a subordinate uid on the host" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/$holder/status" "/proc/$pause/status" 2>&1 | tr '\n' ' ')" \
	"$((BASE + 65533)) $((BASE + 65533)) "
is "the members run as the user on the host" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/$(docker inspect -f '{{.State.Pid}}' ra)/status")" "$RL_UID"
is "/proc/1/root, /proc/1/cwd list nothing; environ and exe give nothing" \
	"$(docker exec rb sh -c 'ls -A /proc/1/root/ /proc/1/cwd/ 2>/dev/null | grep -v : | grep -c .;
		cat /proc/1/environ 2>/dev/null | wc -c; cat /proc/1/exe 2>/dev/null | wc -c' | tr '\n' ' ')" \
	"0 0 0 "

check "remove both members" docker rm -f ra rb
gone() { [[ ! -e /proc/$1/stat || $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == Z ]]; }
all_gone() { [[ $(rl_podshim pod list --format json | jq length) == 0 ]] && gone "$holder" && gone "$pause"; }
check "the pod is gone, and its holder and pause" wait_for all_gone
is "and its volume" "$(ls "$T"/home/.local/share/podshim/*/ 2>/dev/null | wc -l)" 0

done_testing

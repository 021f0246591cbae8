#!/usr/bin/env bash
# Start ordering: a member with podshim.wait starts only when its conditions
# hold, so its first instruction sees them: tcp:PORT (a sidecar started
# before its app), file:PATH on a pod volume (a config writer), a timeout
# naming the unmet condition, no symlink escape, refused settings.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

# bg_start ID: `podshim start ID` in the background; its PID in BG.
BG=
bg_start() {
	shim start "$1" </dev/null >"$T/out/start-$1" 2>&1 &
	BG=$!
}

# alive PID: the background start is still waiting.
alive() { kill -0 "$1" 2>/dev/null; }

# finished PID: waits (at most 30 s) for the background start; its status.
finished() {
	local n=300
	while alive "$1" && ((n-- > 0)); do sleep 0.1; done
	alive "$1" && return 124
	wait "$1"
}

status() { rc state "$1" 2>/dev/null | jq -r .status; }

# gated WHAT WNAME WID WHY PNAME PID: WID's start (in the background) still
# waits a second later, WID still created; PID's start releases it: status 0.
gated() {
	local what=$1 wname=$2 wid=$3 why=$4 pname=$5 pid=$6 bg
	bg_start "$wid"
	bg=$BG
	sleep 1
	if alive "$bg" && [[ $(status "$wid") == created ]]; then
		ok "$what: $wname's start waits $why"
	else
		not_ok "$what: $wname's start waits $why" "state: $(status "$wid")" "$(cat "$T/out/start-$wid")"
	fi
	check "$what: start $pname" shim start "$pid"
	finished "$bg"
	is "$what: then $wname's start returns 0" "$?" 0
}

# --- tcp: the sidecar is started before its app ----------------------------

ba=$(mkb app -a podshim.pod=tw -- httpd -f -p 127.0.0.1:8080 -h /www)
# The sidecar's first instruction probes the app and records what it saw.
bs=$(mkb side -a podshim.pod=tw -a podshim.volumes=/shared -a podshim.wait=tcp:8080 -- \
	sh -c 'if wget -qO /dev/null http://127.0.0.1:8080/; then echo up; else echo down; fi >/shared/seen; exec sleep 1000')
check "tcp: create the app (not started)" create app "$ba"
check "tcp: create the sidecar" create side "$bs"
gated tcp "the sidecar" side "while nothing listens on 8080" "the app" app
is "tcp: the sidecar is running" "$(status side)" running
wait_for 10 test -s "$(voldir tw)/-shared/seen"
is "tcp: the sidecar's first instruction saw the app listening" \
	"$(cat "$(voldir tw)/-shared/seen" 2>&1)" up

# tcp6 listeners count too.
b6=$(mkb app6 -a podshim.pod=tw -- httpd -f -p '[::1]:8086' -h /www)
b6w=$(mkb side6 -a podshim.pod=tw -a podshim.wait=tcp:8086 -a podshim.wait-timeout=30)
check "tcp6: app on [::1]:8086 and a waiting member" member app6 "$b6"
check "tcp6: the waiting member starts" create side6 "$b6w"
check "tcp6: start returns" shim start side6
check "tcp: clean up" del_all side app side6 app6

# --- file: a config writer ---------------------------------------------------

bw=$(mkb writer -a podshim.pod=fw -a podshim.volumes=/conf -- \
	sh -c 'echo "listen 80;" >/conf/app.tmp && mv /conf/app.tmp /conf/app.conf; exec sleep 1000')
bc=$(mkb consumer -a podshim.pod=fw -a podshim.volumes=/conf,/out \
	-e 'PODSHIM_WAIT=file:/conf/app.conf' -- sh -c 'cat /conf/app.conf >/out/seen 2>&1; exec sleep 1000')
check "file: create the consumer" create consumer "$bc"
check "file: create the writer" create writer "$bw"
gated file "the consumer" consumer "for /conf/app.conf" "the writer" writer
wait_for 10 test -s "$(voldir fw)/-out/seen"
is "file: the consumer's first instruction read the config" \
	"$(cat "$(voldir fw)/-out/seen" 2>&1)" "listen 80;"
check "file: clean up" del_all consumer writer

# --- timeout ------------------------------------------------------------------

bt=$(mkb late -a podshim.pod=to -a podshim.wait=tcp:9999 -a podshim.wait-timeout=1)
check "timeout: create" create late "$bt"
late_pid=$(cpid late) late_start=$(proc_start "$(cpid late)")
: >"$LOG"
t0=$(date +%s)
check_fails "timeout: start fails when nothing listens on 9999 within 1 s" shim start late
t1=$(date +%s)
is "timeout: the error names the unmet condition, in the --log file" \
	"$(jq -r 'select(.level == "error") | .msg' "$LOG" | tail -1)" \
	'podshim: start of `late`: start condition `tcp:9999` not met after 1 s (podshim.wait)'
(((t1 - t0) < 30)) && ok "timeout: bounded (took $((t1 - t0)) s)" || not_ok "timeout: bounded" "took $((t1 - t0)) s"
# As when runc's own start fails: its init is gone, the container stopped,
# for the caller to delete (dockerd 20.10 cannot delete a task still created).
is "timeout: the container is stopped" "$(status late)" stopped
check "timeout: its init is gone" eval '! proc_alive $late_pid $late_start'
check "timeout: delete" del late
is "timeout: pod to is gone" "$(members to):$(test -e "$(poddir to)" && echo left)" ":"
is "timeout: no record left" "$(ls "$STATE"/*/records 2>/dev/null)" ""

# A symlink on the volume pointing outside it resolves inside the volume.
bl=$(mkb linker -a podshim.pod=sl -a podshim.volumes=/conf -- \
	sh -c 'ln -s /etc/hostname /conf/ready; exec sleep 1000')
bwt=$(mkb waiter -a podshim.pod=sl -a podshim.volumes=/conf -a podshim.wait=file:/conf/ready \
	-a podshim.wait-timeout=1)
check "symlink: the linker makes /conf/ready -> /etc/hostname" member linker "$bl"
wait_for 10 test -L "$(voldir sl)/-conf/ready"
check "symlink: create the waiter" create waiter "$bwt"
check_fails "symlink: a link out of the volume does not satisfy file:" shim start waiter
check "symlink: clean up" del_all waiter linker

# --- tcp: the member's own tables, read with bounds ---------------------------

# A tcp condition reads the tables of the member's init, known by its PID and
# start time: a record whose PID is now another process's (a PID reused)
# never lends that process's listeners (here: an app of another pod).
check "identity: an app listens on 8080 in pod other" member oapp "$(mkb oapp -a podshim.pod=other -- \
	httpd -f -p 127.0.0.1:8080 -h /www)"
check "identity: a member of pod id waits for tcp:8080" create idw \
	"$(mkb idw -a podshim.pod=id -a podshim.wait=tcp:8080 -a podshim.wait-timeout=3)"
wait_for 10 eval "xin oapp wget -qO /dev/null http://127.0.0.1:8080/" >/dev/null
rec=$(echo "$STATE"/*/records/idw)
jq --argjson p "$(cpid oapp)" '.pid = $p' "$rec" >"$rec.new" && mv "$rec.new" "$rec"
: >"$LOG"
check_fails "identity: its start does not take the other pod's listener for its own" shim start idw
check "identity: it says its process is gone" grep -q "the container's process is gone" "$LOG"
check "identity: clean up" del_all idw oapp

# A wait of 6 s reads /proc/PID/net/tcp{,6} every 50 ms for a second, then
# less and less often (the pod may hold many sockets; a wait may last an
# hour): far fewer than the 240 opens of a 50 ms poll.
if command -v strace >/dev/null; then
	check "backoff: a member waits for tcp:9998 (6 s)" create bo \
		"$(mkb bo -a podshim.pod=bo -a podshim.wait=tcp:9998 -a podshim.wait-timeout=6)"
	bounded strace -f -e trace=openat -o "$T/out/bo.strace" "$PODSHIM" --podshim-state "$STATE" \
		--root "$RUNC_ROOT" start bo >/dev/null 2>&1
	n=$(grep -c 'net/tcp' "$T/out/bo.strace")
	check "backoff: $n opens of the tcp tables in 6 s (fewer than 100)" test "$n" -gt 0 -a "$n" -lt 100
	check "backoff: clean up" del bo
else
	skip "backoff: the tcp tables are read less and less often" "needs strace"
fi

# --- refused settings ------------------------------------------------------

refused() {
	local desc=$1 want=$2 b=$3
	: >"$LOG"
	if create refused "$b" 2>/dev/null; then
		not_ok "$desc" "create succeeded"
		del refused
		return
	fi
	local msg
	msg=$(jq -r 'select(.level == "error") | .msg' "$LOG" | tail -1)
	[[ $msg == *"$want"* ]] && ok "$desc" || not_ok "$desc" "log: $msg"
}
refused "a wait outside a pod is refused" 'need a pod' "$(mkb r1 -a podshim.wait=tcp:80)"
refused "tcp: without the pod's network is refused" 'shares the pod' \
	"$(mkb r2 -a podshim.pod=r -a podshim.share=ipc -a podshim.wait=tcp:80)"
refused "file: outside the member's volumes is refused" 'none of this member' \
	"$(mkb r3 -a podshim.pod=r -a podshim.volumes=/a -a podshim.wait=file:/etc/passwd)"
refused "a bad condition is refused" 'invalid start condition `udp:53`' \
	"$(mkb r4 -a podshim.pod=r -a podshim.wait=udp:53)"
refused "a bad timeout is refused" 'invalid start timeout `0`' \
	"$(mkb r5 -a podshim.pod=r -a podshim.wait=tcp:80 -a podshim.wait-timeout=0)"
is "refusals leave no pod" "$(pod_count)" 0

done_testing

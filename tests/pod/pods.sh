#!/usr/bin/env bash
# Pods: shared namespaces, hostname, loopback traffic, PID sharing, pod
# volumes, the three ways to name a pod and their precedence, pod list and
# inspect, members leaving, teardown (the namespaces really freed), runc
# roots, and run (foreground and detached).
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

HOST_NET=$(nsino self net)
HOST_IPC=$(nsino self ipc)
HOST_UTS=$(nsino self uts)

# --- two members of pod web -------------------------------------------------

ba=$(mkb A -a podshim.pod=web -a podshim.volumes=/shared -- httpd -f -p 127.0.0.1:8080 -h /www)
bb=$(mkb B -a podshim.pod=web -a podshim.volumes=/shared)
check "A joins pod web (create + start)" member A "$ba"
check "B joins pod web (create + start)" member B "$bb"
pa=$(cpid A) pb=$(cpid B)
for ns in net ipc uts; do
	ia=$(nsino "$pa" $ns) ib=$(nsino "$pb" $ns) ip=$(pinned web $ns)
	if [[ $ia == "$ib" && $ia == "$ip" ]]; then
		ok "$ns namespace: A, B and the pinned file agree ($ia)"
	else
		not_ok "$ns namespace: A, B and the pinned file agree" "A=$ia B=$ib pinned=$ip"
	fi
done
host_ns="$HOST_NET $HOST_IPC $HOST_UTS"
is "the pod's namespaces are not the host's" \
	"$( [[ " $host_ns " != *" $(nsino "$pa" net) "* && " $host_ns " != *" $(nsino "$pa" ipc) "* &&
		" $host_ns " != *" $(nsino "$pa" uts) "* ]] && echo distinct)" distinct
WEB_NET=$(pinned web net)
mark_netns "$(ns_file web net)"
is "hostname in A is the pod name" "$(xin A hostname)" web
is "hostname in B is the pod name" "$(xin B hostname)" web
check "A's httpd on 127.0.0.1 answers" wait_for 5 xin A wget -qO- http://127.0.0.1:8080/
is "B reaches A's httpd through 127.0.0.1" "$(xin B wget -qO- http://127.0.0.1:8080/ 2>&1)" \
	"hello from the pod"
check "A writes a file on the pod volume" xin A sh -c 'echo written-by-A > /shared/note'
is "B reads it from the pod volume" "$(xin B cat /shared/note 2>&1)" written-by-A
is "the config.json of B joins the netns through an fd of its podshim" \
	"$(jq -r '.linux.namespaces[] | select(.type == "network") | .path | test("^/proc/[0-9]+/fd/[0-9]+$")' "$bb/config.json")" \
	true
is "B's config.json has no hostname (uts shared)" "$(jq -r '.hostname // "none"' "$bb/config.json")" none

# --- list and inspect -------------------------------------------------------

list=$(shim pod list --format json)
is "pod list --format json: web with members [A, B]" \
	"$(jq -c '[.[] | select(.name == "web") | {name, members: (.members | sort)}]' <<<"$list")" \
	'[{"name":"web","members":["A","B"]}]'
insp=$(shim pod inspect web)
is "pod inspect web: a one-element array with name, members, state dir" \
	"$(jq -c --arg d "$(poddir web)" \
		'[length, .[0].name, (.[0].members | sort), (.[0].state_dir == $d), .[0].root]' <<<"$insp")" \
	"[1,\"web\",[\"A\",\"B\"],true,\"$RUNC_ROOT\"]"
check_fails "pod inspect of an unknown pod fails" shim pod inspect nosuchpod
is "pod list (table) shows web" "$(shim pod list | awk '$1 == "web" { print $1 }')" web

# --- a member sharing only ipc ----------------------------------------------

bc=$(mkb C -a podshim.pod=web -a podshim.share=ipc)
check "C (podshim.share=ipc) joins web" member C "$bc"
pc=$(cpid C)
is "C shares the pod's ipc namespace" "$(nsino "$pc" ipc)" "$(pinned web ipc)"
isnt "C keeps its own network namespace" "$(nsino "$pc" net)" "$WEB_NET"
isnt "C's network namespace is not the host's either" "$(nsino "$pc" net)" "$HOST_NET"
is "C keeps its own hostname" "$(xin C hostname)" "$(jq -r .hostname "$T/spec.json")"

# --- PID sharing -------------------------------------------------------------

hup='trap "echo HUP >> /shared/hup" HUP; echo $$ > /shared/p1.pid; while true; do sleep 1 & wait $!; done'
bp1=$(mkb P1 -a podshim.pod=pids -a podshim.share=net,ipc,uts,pid -a podshim.volumes=/shared \
	-- sh -c "$hup")
bp2=$(mkb P2 -a podshim.pod=pids -a podshim.share=net,ipc,uts,pid -a podshim.volumes=/shared)
check "P1 joins pid-sharing pod pids" member P1 "$bp1"
check "P2 joins pid-sharing pod pids" member P2 "$bp2"
pause=$(shim pod list --format json | jq -r '.[] | select(.name == "pids") | .pause_pid')
is "pod pids has a live podshim-pause" "$(cat "/proc/$pause/comm" 2>&1)" podshim-pause
is "the pause's PID namespace is the pinned one and P1's and P2's" \
	"$(nsino "$pause" pid) $(nsino "$(cpid P1)" pid) $(nsino "$(cpid P2)" pid)" \
	"$(pinned pids pid) $(pinned pids pid) $(pinned pids pid)"
ps_out=$(xin P2 ps -o pid,args 2>&1)
is "ps in P2: PID 1 is podshim-pause" "$(awk '$1 == 1 { print $2 }' <<<"$ps_out")" podshim-pause
if grep -q 'p1.pid' <<<"$ps_out"; then
	ok "ps in P2 shows P1's process"
else
	not_ok "ps in P2 shows P1's process" "$ps_out"
fi
check "P1 wrote its PID on the pod volume" wait_for 5 test -s "$(voldir pids)/-shared/p1.pid"
check "P2 sends SIGHUP to P1 by its PID" xin P2 sh -c 'kill -HUP $(cat /shared/p1.pid)'
check "P1 trapped the SIGHUP" wait_for 5 grep -q HUP "$(voldir pids)/-shared/hup"
PIDS_PID=$(pinned pids pid)
PIDS_NET=$(pinned pids net)
PAUSE_START=$(proc_start "$pause")
mark_netns "$(ns_file pids net)"

# --- naming a pod by environment variable and Docker label ---------------------

be=$(mkb E -e PODSHIM_POD=envpod -e PODSHIM_SHARE=net,ipc)
check "E names its pod with env PODSHIM_POD" create E "$be"
is "E is a member of envpod" "$(members envpod)" E
is "E joined envpod's netns" "$(nsino "$(cpid E)" net)" "$(pinned envpod net)"
is "PODSHIM_SHARE=net,ipc: E keeps its uts namespace" \
	"$([[ $(nsino "$(cpid E)" uts) != "$(pinned envpod uts)" ]] && echo own)" own

# fake_docker (lib.sh): a dockerd-like container dir with labels.
bl=$(mkb L -j "$(fake_docker L '{"podshim.pod":"labelpod","other":"x"}')")
check "L names its pod with a Docker label" create L "$bl"
is "L is a member of labelpod" "$(members labelpod)" L
is "L joined labelpod's netns" "$(nsino "$(cpid L)" net)" "$(pinned labelpod net)"

bq1=$(mkb Q1 -a podshim.pod=by-annotation -e PODSHIM_POD=by-env \
	-j "$(fake_docker Q1 '{"podshim.pod":"by-label"}')")
check "Q1 (annotation, label and env) is created" create Q1 "$bq1"
is "annotation wins over label and env" "$(cat "$STATE/$(rootkey "$RUNC_ROOT")/containers/Q1")" \
	by-annotation
bq2=$(mkb Q2 -e PODSHIM_POD=by-env -j "$(fake_docker Q2 '{"podshim.pod":"by-label"}')")
check "Q2 (label and env) is created" create Q2 "$bq2"
is "label wins over env" "$(members by-label),$(members by-env)" "Q2,"
check "delete Q1, Q2, L, E" del_all Q1 Q2 L E
is "their pods are gone" "$(members by-annotation)$(members by-label)$(members labelpod)$(members envpod)" ""

# --- a member leaves while others run ------------------------------------------

check "delete B while A and C run" del B
is "web keeps A and C" "$(members web)" A,C
is "web's netns is unchanged" "$(pinned web net)" "$WEB_NET"
is "A still answers on 127.0.0.1" "$(xin A wget -qO- http://127.0.0.1:8080/ 2>&1)" "hello from the pod"

# --- run (foreground and detached) --------------------------------------------

bf=$(mkb F -a podshim.pod=web -- sh -c 'hostname; readlink /proc/self/ns/net; wget -qO- http://127.0.0.1:8080/')
out=$(shim run --bundle "$bf" F </dev/null 2>&1)
s=$?
is "foreground run of a web member: status 0" "$s" 0
is "it saw the pod's hostname, netns and A's httpd" "$out" \
	"$(printf 'web\nnet:[%s]\nhello from the pod' "$WEB_NET")"
is "after it exits, web no longer lists F" "$(members web)" A,C
is "and config.json is restored" "$(jq -r '.linux.namespaces[] | select(.type == "network") | .path // "own"' "$bf/config.json")" own
bs=$(mkb S -a podshim.pod=solo -- sh -c 'hostname; exit 3')
out=$(shim run --bundle "$bs" S </dev/null 2>&1)
s=$?
is "foreground run alone in pod solo: its exit status (3) and hostname" "$s:$out" "3:solo"
is "pod solo is gone after it" "$(members solo):$(test -e "$(poddir solo)" && echo left)" ":"
bd=$(mkb D -a podshim.pod=web)
check "run --detach joins web" run_detached D "$bd"
is "D shares web's netns" "$(nsino "$(cpid D)" net)" "$WEB_NET"
is "web lists A, C, D" "$(members web)" A,C,D
check "delete D" del D

# --- two runc roots -------------------------------------------------------------

R2=$T/runc2
b1=$(mkb R1 -a podshim.pod=same)
b2=$(mkb R2 -a podshim.pod=same)
check "pod same under the first root" create R1 "$b1"
check "pod same under a second root" create_in "$R2" R2 "$b2"
n1=$(nsino "$(cpid R1)" net) n2=$(nsino "$(cpid R2 "$R2")" net)
isnt "same-named pods of two roots have different netns" "$n1" "$n2"
is "each is its own pod" "$(members same)/$(members same "$R2")" R1/R2
check "delete R1" del R1
check "delete R2" shim_root "$R2" delete --force R2

# --- teardown --------------------------------------------------------------------

since=$(now_ticks)
check "delete P1 and P2" del_all P1 P2
check "delete A and C" del_all A C
check "web's last delete removed its directory" test ! -e "$(poddir web)"
is "pod list is empty" "$(pod_count)" 0
check "no podshim-pause of this test is left" test -z "$(our_pauses)"
check "no mount under the state dir" no_mounts_under "$STATE"
check "the state dir has no pods and no index entries" no_pods
check "pause $pause is gone" wait_for 5 eval '! proc_alive "$pause" "$PAUSE_START"'
check "web's netns ($WEB_NET) is freed: no process, no mount table has it" \
	wait_for 10 no_ns_refs net "$WEB_NET" "$since"
check "pids's netns ($PIDS_NET) is freed" wait_for 10 no_ns_refs net "$PIDS_NET" "$since"
check "pids's PID namespace ($PIDS_PID) is freed" wait_for 10 no_ns_refs pid "$PIDS_PID" "$since"
mode=$(stat -c %a "$STATE" "$STATE/$(rootkey "$RUNC_ROOT")" | tr '\n' ' ')
is "the state dirs are 0700" "$mode" "700 700 "

done_testing

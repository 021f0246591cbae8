#!/usr/bin/env bash
# Pod state nobody can poison: every label value that reaches pod.json is
# checked and bounded (companion labels, Swarm task labels), pod.json is never
# written larger than podshim reads it, and a damaged or oversized pod.json
# (an older podshim's, a full disk's) never keeps a member's delete, the
# holder's end or `pod gc` from what they can prove: the index, the delegate's
# own state, the holder's and the pause's own records.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

KEY=$(rootkey "$RUNC_ROOT")
# Docker-like IDs (podshim.companion-of names one).
hexid() { printf "$1%.0s" {1..64}; }
A=$(hexid a) B=$(hexid b) C=$(hexid c) D=$(hexid d) E=$(hexid e) F=$(hexid f)

# docker_labels ID JSONFILE: a dockerd-like container dir of ID whose labels
# are the object in JSONFILE (written as is: it may be large); prints the jq
# edit for mkb -j that leads podshim to it (fake_docker of lib.sh, for labels
# too large for the command line).
docker_labels() {
	local d=$T/docker/containers/$1
	mkdir -p "$d" && echo "$1" >"$d/hostname" &&
		jq -c '{ID: "x", Config: {Labels: .}}' "$2" >"$d/config.v2.json" &&
		echo ".mounts += [{destination: \"/etc/hostname\", type: \"bind\", source: \"$d/hostname\",
			options: [\"rbind\", \"ro\"]}]"
}

# stopped PID START: that process is gone, or exiting (PF_EXITING): a pause
# stays in the kernel's zap_pid_ns_processes until its members' inits are
# reaped by their parent, the host's init, which may be slow to (or never, on
# some test machines).
stopped() {
	local st
	proc_alive "$1" "$2" || return 0
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	(($7 & 0x4))
}

# big N: N bytes of x.
big() { head -c "$1" /dev/zero | tr '\0' x; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# --- the issue's poisoning: a 17 MB podshim.companion-name ----------------------

check "A joins pod p and runs" member "$A" "$(mkb "$A" -a podshim.pod=p)"
holder_p=$(holder p) holder_p_start=$(proc_start "$holder_p")
# A would-be companion of A, with a 17 MB companion name: podshim.companion-of
# is a live member of p, so only the name can stop it.
python3 -c 'import json, sys; json.dump({"podshim.pod": "p", "podshim.companion-of": sys.argv[1],
	"podshim.companion-name": "x" * 17000000}, open(sys.argv[2], "w"))' "$A" "$T/poison.json"
refused "a 17 MB podshim.companion-name is refused, naming the label" \
	'invalid podshim.companion-name `xxxx' "$(mkb "$B" -j "$(docker_labels "$B" "$T/poison.json")")"
check "pod.json stays small ($(size "$(poddir p)/pod.json") bytes)" \
	test "$(size "$(poddir p)/pod.json")" -lt 65536
check "C joins p afterwards" member "$C" "$(mkb "$C" -a podshim.pod=p)"
is "p lists A and C" "$(members p)" "$A,$C"
check "delete A and C" del_all "$A" "$C"
check "p is gone, its holder too" eval '[[ ! -e $(poddir p) ]] && ! proc_alive $holder_p $holder_p_start'

# --- the other companion and Swarm labels ---------------------------------------

check "A joins pod q" member "$A" "$(mkb "$A" -a podshim.pod=q)"
jq -n --arg a "${A:0:63}" '{"podshim.pod": "q", "podshim.companion-of": $a, "podshim.companion-name": "log"}' >"$T/l1.json"
refused "podshim.companion-of that is no 64-hex ID is refused" 'invalid podshim.companion-of' \
	"$(mkb "$D" -j "$(docker_labels "$D" "$T/l1.json")")"
jq -n --arg a "$A" '{"podshim.pod": "q", "podshim.companion-of": $a, "podshim.companion-name": "Log!"}' >"$T/l2.json"
refused "a podshim.companion-name outside [a-z0-9][a-z0-9_-]{0,31} is refused" \
	'invalid podshim.companion-name `Log!`' "$(mkb "$D" -j "$(docker_labels "$D" "$T/l2.json")")"
jq -n --arg f "$F" '{"podshim.pod": "q", "podshim.companion-of": $f, "podshim.companion-name": "log"}' >"$T/l3.json"
refused "podshim.companion-of naming no live member of the pod is refused" 'its anchor is not running' \
	"$(mkb "$D" -j "$(docker_labels "$D" "$T/l3.json")")"
jq -n --arg a "$A" '{"podshim.pod": "q", "podshim.companion-of": $a, "podshim.companion-name": "log"}' >"$T/l4.json"
check "a companion whose labels are right joins" member "$D" "$(mkb "$D" -j "$(docker_labels "$D" "$T/l4.json")")"
is "pod.json records it" "$(jq -r --arg d "$D" '.members[] | select(.id == $d) | "\(.companion) \(.companion_of)"' \
	"$(poddir q)/pod.json")" "log $A"

python3 -c 'import json, sys; json.dump({"podshim.pod": "q", "com.docker.swarm.service.id": "svc1",
	"com.docker.swarm.service.name": "x" * 1000000, "com.docker.swarm.task.name": "x.1.t"},
	open(sys.argv[1], "w"))' "$T/s1.json"
refused "a 1 MB com.docker.swarm.service.name is refused, naming the label" \
	'invalid Docker label com.docker.swarm.service.name `xxxx' "$(mkb "$E" -j "$(docker_labels "$E" "$T/s1.json")")"
jq -n '{"podshim.pod": "q", "com.docker.swarm.service.id": "svc 1\n"}' >"$T/s2.json"
refused "a Swarm service ID of other characters is refused" 'invalid Docker label com.docker.swarm.service.id' \
	"$(mkb "$E" -j "$(docker_labels "$E" "$T/s2.json")")"
jq -n --arg s "$(big 200)" '{"podshim.pod": "q", "com.docker.swarm.service.id": "svc1",
	"com.docker.swarm.service.name": "web", "com.docker.swarm.task.name": ("web." + $s + ".t")}' >"$T/s3.json"
refused "a Swarm task name whose slot is 200 bytes is refused" 'invalid Docker label com.docker.swarm.task.name' \
	"$(mkb "$E" -j "$(docker_labels "$E" "$T/s3.json")")"
check "pod.json of q stays small ($(size "$(poddir q)/pod.json") bytes)" \
	test "$(size "$(poddir q)/pod.json")" -lt 65536
check "delete A and D" del_all "$A" "$D"
is "q is gone" "$(members q):$(test -e "$(poddir q)" && echo left)" ":"

# --- a damaged pod.json ---------------------------------------------------------

# poison POD: what an older podshim left there: a 17 MB pod.json.
poison() {
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
s["members"][0]["companion"] = "x" * 17000000
json.dump(s, open(sys.argv[1], "w"))' "$(poddir "$1")/pod.json"
}

# The pod's last member's delete tears it down, holder and pause included.
check "A and C (sharing PIDs) join pod r" eval '
	member "$A" "$(mkb "$A" -a podshim.pod=r -a podshim.share=net,ipc,uts,pid -a podshim.volumes=/v)" &&
	member "$C" "$(mkb "$C" -a podshim.pod=r -a podshim.share=net,ipc,uts,pid -a podshim.volumes=/v)"'
h=$(holder r) hs=$(proc_start "$(holder r)")
pa=$(jq -r .pause.pid "$(poddir r)/pod.json") pas=$(proc_start "$pa")
vol=$(voldir r)
poison r
check "pod.json of r is now $(size "$(poddir r)/pod.json") bytes" test "$(size "$(poddir r)/pod.json")" -gt 16777216
refused "a create in r is refused while a member lives, naming the trouble" 'larger than 16777216 bytes' \
	"$(mkb "$D" -a podshim.pod=r)"
: >"$LOG"
check "delete A (C still lives)" del "$A"
check "r's holder and pause live on for C" eval 'proc_alive $h $hs && proc_alive $pa $pas'
is "C still runs" "$(rc state "$C" | jq -r .status)" running
check "delete C, the last member" del "$C"
check "r's holder is gone" eval '! proc_alive $h $hs'
check "r's pause is stopped" wait_for 10 stopped "$pa" "$pas"
check "r's directory, its volumes, its index entries are gone" eval '
	[[ ! -e $(poddir r) && ! -e $vol && ! -e $STATE/$KEY/containers/$A && ! -e $STATE/$KEY/containers/$C ]]'
check "the delete said why, in the log" grep -q "no container of it is left" "$LOG"

# pod gc: nothing proves a member (its init killed, its container gone).
check "A joins pod s" member "$A" "$(mkb "$A" -a podshim.pod=s)"
h=$(holder s) hs=$(proc_start "$(holder s)")
poison s
runc --root "$RUNC_ROOT" delete --force "$A" >/dev/null 2>&1
is "pod gc tears s down" "$(shim pod gc 2>/dev/null)" "removed 1 pod(s)"
check "s's holder is gone, its directory too" eval '! proc_alive $h $hs && [[ ! -e $(poddir s) ]]'

# A member left in the index whose container is still there keeps gc off.
check "A joins pod t" member "$A" "$(mkb "$A" -a podshim.pod=t)"
poison t
out=$(shim pod gc 2>&1)
like "pod gc keeps t while A's container is there" "$out" 'pod `t`:.*still there \(skipped\)'
like "(and removes no pod)" "$out" 'removed 0 pod'

check "delete A tears t down" eval 'del "$A" && [[ ! -e $(poddir t) ]]'

# A create in a damaged pod none of whose containers is left starts it over.
check "A joins pod u" member "$A" "$(mkb "$A" -a podshim.pod=u)"
h=$(holder u) hs=$(proc_start "$(holder u)")
printf '{"version":1,"name":"u","members":[{"id":' >"$(poddir u)/pod.json"
runc --root "$RUNC_ROOT" delete --force "$A" >/dev/null 2>&1
check "C's create in u (truncated pod.json, nothing left) starts it over" member "$C" "$(mkb "$C" -a podshim.pod=u)"
check "u has a new holder; the old one is gone" eval '! proc_alive $h $hs && [[ $(holder u) != "$h" ]]'
is "u lists C" "$(members u)" "$C"
check "delete C" del "$C"
is "u is gone" "$(members u):$(test -e "$(poddir u)" && echo left)" ":"

check "no pause of this test is left, no pod" eval '[[ -z $(our_pauses) ]] && no_pods'

done_testing

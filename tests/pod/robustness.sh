#!/usr/bin/env bash
# Robustness: a killed pause, killed members, bad inputs, a failing delegate,
# the state dir's modes and symlinks planted in it.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

KEY=$(rootkey "$RUNC_ROOT")
# shellcheck disable=SC2054
PIDSHARE=(-a podshim.share=net,ipc,uts,pid)

# --- the pause of a pid-sharing pod is killed --------------------------------------

check "K1, K2 (pid sharing) and K3 (net,ipc,uts) join pod kp" eval '
	member K1 "$(mkb K1 -a podshim.pod=kp "${PIDSHARE[@]}")" &&
	member K2 "$(mkb K2 -a podshim.pod=kp "${PIDSHARE[@]}")" &&
	member K3 "$(mkb K3 -a podshim.pod=kp)"'
kp_net=$(pinned kp net)
pause=$(shim pod list --format json | jq -r '.[] | select(.name == "kp") | .pause_pid')
p1=$(cpid K1) p1s=$(proc_start "$p1") p2=$(cpid K2) p2s=$(proc_start "$p2")
pause_s=$(proc_start "$pause")
check "kill -9 the pause ($pause)" kill -9 "$pause"
check "K1 and K2 die with it (kernel rule)" wait_for 5 eval '! proc_alive $p1 $p1s && ! proc_alive $p2 $p2s'
# The pause stays in the kernel's zap_pid_ns_processes until K1's and K2's
# inits are reaped by their parent (here the host's init, which may be slow).
check "the pause has exited" wait_for 15 eval '! proc_alive $pause $pause_s'
is "K3 (not in the PID namespace) lives on" "$(rc state K3 | jq -r .status)" running
check "K4 (pid sharing) joins kp and starts" member K4 "$(mkb K4 -a podshim.pod=kp "${PIDSHARE[@]}")"
pause2=$(shim pod list --format json | jq -r '.[] | select(.name == "kp") | .pause_pid')
isnt "kp got a new pause" "$pause2" "$pause"
is "the new pause is podshim-pause, PID 1 of K4" "$(cat "/proc/$pause2/comm" 2>&1) $(xin K4 ps -o pid,args | awk '$1 == 1 { print $2 }')" \
	"podshim-pause podshim-pause"
is "K4's PID namespace is the new pinned one" "$(nsino "$(cpid K4)" pid)" "$(nsino "$pause2" pid)"
is "kp lists K3, K4 (K1, K2 pruned)" "$(members kp)" K3,K4
is "kp kept its netns" "$(nsino "$(cpid K4)" net):$(nsino "$(cpid K3)" net)" "$kp_net:$kp_net"
check "delete K1..K4" del_all K1 K2 K3 K4
is "kp is gone" "$(members kp):$(test -e "$(poddir kp)" && echo left)" ":"

check "J1 (pid sharing) alone in pod kq" member J1 "$(mkb J1 -a podshim.pod=kq "${PIDSHARE[@]}")"
pause=$(shim pod list --format json | jq -r '.[] | select(.name == "kq") | .pause_pid')
j1=$(cpid J1) j1s=$(proc_start "$j1") pause_s=$(proc_start "$pause")
kill -9 "$pause"
check "J1 and kq's pause die" wait_for 15 eval '! proc_alive $j1 $j1s && ! proc_alive $pause $pause_s'
check "J2 (pid sharing) rebuilds kq and starts" member J2 "$(mkb J2 -a podshim.pod=kq "${PIDSHARE[@]}")"
is "kq lists J2 only, with a live pause as PID 1" \
	"$(members kq) $(xin J2 ps -o pid,args | awk '$1 == 1 { print $2 }')" "J2 podshim-pause"
check "delete J1, J2" del_all J1 J2
check "no pause of this test is left" test -z "$(our_pauses)"

# --- a member's init is killed ------------------------------------------------------

check "M1, M2, M3 join pod mk" eval '
	member M1 "$(mkb M1 -a podshim.pod=mk)" && member M2 "$(mkb M2 -a podshim.pod=mk)" &&
	member M3 "$(mkb M3 -a podshim.pod=mk)"'
kill -9 "$(cpid M1)"
check "M1's init is gone" wait_for 5 eval '[[ $(rc state M1 | jq -r .status) == stopped ]]'
check "pod gc" shim pod gc
is "pod gc pruned M1" "$(members mk)" M2,M3
check "M1's index entry is gone" test ! -e "$STATE/$KEY/containers/M1"
kill -9 "$(cpid M3)"
check "M3's init is gone" wait_for 5 eval '[[ $(rc state M3 | jq -r .status) == stopped ]]'
check "M4 joins mk" create M4 "$(mkb M4 -a podshim.pod=mk)"
is "M4's create pruned M3" "$(members mk)" M2,M4
check "delete M1 (no longer a member) still works" del M1
check "delete M2, M3, M4" del_all M2 M3 M4
is "mk is gone" "$(members mk)" ""
check "N1 alone in pod lone" member N1 "$(mkb N1 -a podshim.pod=lone)"
lone_dir=$(poddir lone)
kill -9 "$(cpid N1)"
check "N1's init is gone" wait_for 5 eval '[[ $(rc state N1 | jq -r .status) == stopped ]]'
is "pod gc tears lone down" "$(shim pod gc 2>&1)" "removed 1 pod(s)"
check "lone has no directory and no mount left" eval '[[ ! -e $lone_dir ]] && no_mounts_under "$lone_dir"'
check "delete N1" del N1

# --- bad inputs ---------------------------------------------------------------------

# bad DESC TEXT BUNDLE: create fails naming TEXT on stderr and in the JSON log,
# config.json is unchanged, and nothing is left behind.
bad() {
	local desc=$1 text=$2 b=$3 id before err s why=
	id=$(basename "$b")
	before=$(sha "$b/config.json")
	: >"$LOG"
	err=$(shim create --bundle "$b" "$id" 2>&1 </dev/null >/dev/null)
	s=$?
	((s != 0)) || why+=" exit status 0;"
	[[ $err == *"$text"* ]] || why+=" stderr lacks '$text';"
	log_has_error "$text" || why+=" no error line with '$text' in the log;"
	[[ $(sha "$b/config.json") == "$before" ]] || why+=" config.json changed;"
	! rc state "$id" >/dev/null 2>&1 || why+=" container $id exists;"
	no_pods >/dev/null || why+=" pod state left: $(no_pods);"
	no_mounts_under "$STATE" >/dev/null || why+=" mounts left;"
	if [[ -z $why ]]; then
		ok "$desc"
	else
		not_ok "$desc" "$why" "stderr: $err" "log: $(cat "$LOG")"
	fi
}

long=$(printf 'a%.0s' {1..129})
bad "pod name bad/name" 'bad/name' "$(mkb X1 -a podshim.pod=bad/name)"
bad "pod name .hidden" '.hidden' "$(mkb X2 -a podshim.pod=.hidden)"
bad "pod name of 129 characters" "$long" "$(mkb X3 -a "podshim.pod=$long")"
bad "pod name bad/name from PODSHIM_POD" 'bad/name' "$(mkb X4 -e PODSHIM_POD=bad/name)"
bad "pod name bad/name from a Docker label" 'bad/name' "$(
	d=$T/docker/containers/X5
	mkdir -p "$d" && : >"$d/hostname" &&
		echo '{"Config":{"Labels":{"podshim.pod":"bad/name"}}}' >"$d/config.v2.json" &&
		mkb X5 -j ".mounts += [{destination: \"/etc/hostname\", type: \"bind\", source: \"$d/hostname\", options: [\"rbind\"]}]")"
bad "podshim.share=net,bogus" 'bogus' "$(mkb X6 -a podshim.pod=ok -a podshim.share=net,bogus)"
bad "podshim.volumes=relative/path" 'relative/path' "$(mkb X7 -a podshim.pod=ok -a podshim.volumes=relative/path)"
bad "podshim.volumes=/a/../b" '/a/../b' "$(mkb X8 -a podshim.pod=ok -a podshim.volumes=/a/../b)"
b=$(mkb X9 -a podshim.pod=ok)
head -c "$(($(stat -c %s "$b/config.json") / 2))" "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
bad "truncated config.json naming a pod" 'config.json' "$b"
bad "duplicate network namespace entries" 'network' \
	"$(mkb X10 -a podshim.pod=ok -j '.linux.namespaces += [{type: "network"}]')"
bad "a pod volume over a mount of the container" '/tmp' \
	"$(mkb X11 -a podshim.pod=ok -a podshim.volumes=/tmp)"

# --- the delegate fails ---------------------------------------------------------------

failing=(-j '.root.path = "/nonexistent/rootfs"')
b=$(mkb Y1 -a podshim.pod=failpod -a podshim.volumes=/shared -a podshim.share=net,ipc,uts,pid "${failing[@]}")
cp -r "$b" "$T/b/Y1-runc"
runc --root "$T/runc-plain" create --bundle "$T/b/Y1-runc" Y1 </dev/null >/dev/null 2>&1
want=$?
before=$(sha "$b/config.json")
shim create --bundle "$b" Y1 </dev/null >/dev/null 2>&1
got=$?
is "runc's exit status is preserved ($want)" "$got" "$want"
isnt "(and it is a failure)" "$got" 0
is "config.json restored" "$(sha "$b/config.json")" "$before"
is "failpod (made for it) is gone" "$(members failpod):$(test -e "$(poddir failpod)" && echo left)" ":"
check "no mount, no pause, no index left" eval 'no_mounts_under "$STATE" && no_pods && test -z "$(our_pauses)"'
out=$(shim run --bundle "$b" Y1 </dev/null 2>&1)
is "a failed foreground run too: status $want, nothing left" \
	"$?:$(sha "$b/config.json"):$(members failpod)" "$want:$before:"

check "G1 in pod fp" member G1 "$(mkb G1 -a podshim.pod=fp)"
fp_net=$(pinned fp net)
b=$(mkb G2 -a podshim.pod=fp "${failing[@]}")
before=$(sha "$b/config.json")
create G2 "$b" 2>/dev/null
isnt "G2 (bad rootfs) fails to join fp" "$?" 0
is "fp keeps G1 alone, same netns, G2's config restored" \
	"$(members fp):$(pinned fp net):$(sha "$b/config.json")" "G1:$fp_net:$before"
check "delete G1" del G1

# --- the state dir --------------------------------------------------------------------

check "Z1 in pod modes" create Z1 "$(mkb Z1 -a podshim.pod=modes -a podshim.volumes=/shared)"
is "state dir, root dir, pods, containers and the pod dir are 0700" \
	"$(stat -c %a "$STATE" "$STATE/$KEY" "$STATE/$KEY/pods" "$STATE/$KEY/containers" "$(poddir modes)" | tr '\n' ' ')" \
	"700 700 700 700 700 "
is "pod.json and the index entry are 0600" \
	"$(stat -c %a "$(poddir modes)/pod.json" "$STATE/$KEY/containers/Z1" | tr '\n' ' ')" "600 600 "

mkdir -p "$T/target/sub"
echo precious >"$T/target/file"
snap() { (cd "$T/target" && find . -printf '%p %y %m %s\n' | sort && cat file); }
target_before=$(snap)

# planted NAME DESC: create of a member of pod NAME fails cleanly, target untouched.
planted() {
	local id=$1 pod=$2 desc=$3 b before s err
	b=$(mkb "$id" -a "podshim.pod=$pod" -a podshim.volumes=/shared)
	before=$(sha "$b/config.json")
	err=$(shim create --bundle "$b" "$id" 2>&1 </dev/null >/dev/null)
	s=$?
	if ((s != 0)) && [[ $(sha "$b/config.json") == "$before" && $(snap) == "$target_before" ]] &&
		! rc state "$id" >/dev/null 2>&1; then
		ok "$desc: fails cleanly, target untouched"
	else
		not_ok "$desc: fails cleanly, target untouched" "status $s: $err" "$(snap)"
	fi
}
ln -s "$T/target" "$STATE/$KEY/pods/evil"
planted E1 evil "pods/evil -> elsewhere"
is "the symlink is still a symlink" "$(stat -c %F "$STATE/$KEY/pods/evil")" "symbolic link"
mkdir -m 700 "$STATE/$KEY/pods/evil2"
ln -s "$T/target/file" "$STATE/$KEY/pods/evil2/pod.json"
planted E2 evil2 "pods/evil2/pod.json -> a file elsewhere"
ln -s "$T/target/file" "$STATE/$KEY/pods/evil3.lock"
planted E3 evil3 "pods/evil3.lock -> a file elsewhere"
ln -s "$T/target/file" "$STATE/$KEY/containers/E4"
planted E4 evil4 "containers/E4 (the index entry) -> a file elsewhere"
is "and pod evil4 is not left behind" "$(members evil4):$(test -e "$(poddir evil4)" && echo left)" ":"
mkdir -p -m 700 "$DATA/$KEY"
ln -s "$T/target" "$DATA/$KEY/evil5"
planted E5 evil5 "the data dir's evil5 -> elsewhere"
mkdir -m 700 "$STATE/$KEY/pods/evil6"
ln -s "$T/target/file" "$STATE/$KEY/pods/evil6/data"
planted E6 evil6 "pods/evil6/data (the volumes record) -> a file elsewhere"
is "pod modes still lists Z1 only" "$(members modes)" Z1
rm -f "$STATE/$KEY/pods/evil" "$STATE/$KEY/containers/E4" "$STATE/$KEY/pods/evil3.lock"
rm -rf "$STATE/$KEY/pods/evil2" "$STATE/$KEY/pods/evil6" "$DATA/$KEY/evil5"
check "delete Z1" del Z1
check "pod gc leaves nothing" eval 'shim pod gc >/dev/null && no_pods && no_mounts_under "$STATE"'
is "the target is still untouched" "$(snap)" "$target_before"

done_testing

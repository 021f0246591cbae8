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
b=$(mkb X9 -a podshim.pod=ok -j '{annotations} + .')
head -c "$(($(stat -c %s "$b/config.json") / 2))" "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
bad "truncated config.json still naming a pod" 'config.json' "$b"
# Cut before the pod key: nothing names a pod, the delegate judges it.
b=$(mkb X9b -a podshim.pod=ok)
head -c "$(($(stat -c %s "$b/config.json") / 2))" "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
# (runc: Go's "unexpected EOF"; crun, the delegate matrix's: "cannot parse")
if [[ ${TEST_DELEGATE_KIND:-runc} == crun ]]; then
	bad "truncated config.json whose pod key is cut off: crun's own error" 'cannot parse the data' "$b"
else
	bad "truncated config.json whose pod key is cut off: runc's own error" 'unexpected EOF' "$b"
fi
bad "duplicate network namespace entries" 'network' \
	"$(mkb X10 -a podshim.pod=ok -j '.linux.namespaces += [{type: "network"}]')"
bad "a pod volume over a mount of the container" '/tmp' \
	"$(mkb X11 -a podshim.pod=ok -a podshim.volumes=/tmp)"
# A member's own namespace choices are refused, never replaced.
bad "a member joining a network namespace by path (--network container:X)" \
	'network namespace at `/proc/1/ns/net`' \
	"$(mkb X12 -a podshim.pod=ok -j '.linux.namespaces |= map(if .type == "network" then .path = "/proc/1/ns/net" else . end)')"
bad "a bundle naming a wrong-type path for a shared namespace" 'uts namespace at `/proc/1/ns/net`' \
	"$(mkb X13 -a podshim.pod=ok -j '.linux.namespaces |= map(if .type == "uts" then .path = "/proc/1/ns/net" else . end)')"
# A member with its own user namespace joins (tests/pod/userns.sh), not one without mappings.
bad "a member with a user namespace and no mappings" '`linux.uidMappings` maps nothing' \
	"$(mkb X14 -a podshim.pod=ok -j '.linux.namespaces += [{type: "user"}]')"
check "a member keeping its own path for an unshared namespace joins" eval '
	member X15 "$(mkb X15 -a podshim.pod=ownpid -a podshim.share=net \
		-j ".linux.namespaces |= map(if .type == \"pid\" then .path = \"/proc/$$/ns/pid\" else . end)")"'
is "X15 is in the host's PID namespace, the pod's network" \
	"$(nsino "$(cpid X15)" pid):$(nsino "$(cpid X15)" net)" "$(nsino $$ pid):$(pinned ownpid net)"
check "delete X15" del X15

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
ln -s "$T/target/file" "$STATE/$KEY/locks/evil3.lock"
planted E3 evil3 "locks/evil3.lock -> a file elsewhere"
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
rm -f "$STATE/$KEY/pods/evil" "$STATE/$KEY/containers/E4" "$STATE/$KEY/locks/evil3.lock"
rm -rf "$STATE/$KEY/pods/evil2" "$STATE/$KEY/pods/evil6" "$DATA/$KEY/evil5"
check "delete Z1" del Z1
check "pod gc leaves nothing" eval 'shim pod gc >/dev/null && no_pods && no_mounts_under "$STATE"'
is "the target is still untouched" "$(snap)" "$target_before"

# --- state and command-line robustness ------------------------------------------------

# like DESC STRING GLOB
like() {
	# shellcheck disable=SC2053 # the glob is the point
	if [[ $2 == $3 ]]; then ok "$1"; else not_ok "$1" "got: ${2:0:400}" "want: $3"; fi
}
# mshim MAX ARGS...: shim with --podshim-max-pods MAX; its output in $T/out/mshim
# (never in a pipe: a created container's init would hold it).
mshim() {
	local max=$1
	shift
	"$PODSHIM" --podshim-max-pods "$max" --podshim-state "$STATE" --root "$RUNC_ROOT" --log "$LOG" \
		--log-format json "$@" </dev/null >"$T/out/mshim" 2>&1
}
# out_of CMD...: runs CMD with its output in a file, then prints it (and
# returns CMD's status).
out_of() {
	local s
	"$@" </dev/null >"$T/out/out_of" 2>&1
	s=$?
	cat "$T/out/out_of"
	return $s
}

check "pod web.lock (L1) and pod web (L2) are two pods" eval '
	member L1 "$(mkb L1 -a podshim.pod=web.lock)" && member L2 "$(mkb L2 -a podshim.pod=web)"'
is "each lists its own member" "$(members web.lock) $(members web)" "L1 L2"
check "delete L1, L2" del_all L1 L2

check "I1 in pod idx" member I1 "$(mkb I1 -a podshim.pod=idx)"
check "plain container P1 (no pod)" member P1 "$(mkb P1)"
mkdir -p "$STATE/$KEY/containers" && printf 'bad/name\n' >"$STATE/$KEY/containers/P1"
check "a damaged index entry does not block delete of non-member P1" del P1
check "(and the damaged entry is gone)" test ! -e "$STATE/$KEY/containers/P1"
check "delete I1" del I1

b=$(mkb U1 -a podshim.pod=flags)
: >"$LOG"
err=$(out_of shim create --pidfd-socket "$T/pidfd.sock" --unknown-opt --bundle "$b" U1)
is "a member's create with an option podshim does not know fails" "$?:$(rc state U1 >/dev/null 2>&1 && echo exists)" "1:"
like "naming the option" "$err" "*--unknown-opt*pod \`flags\`*"
check "in the log too" log_has_error "--unknown-opt"
b=$(mkb U2 -a podshim.pod=flags)
err=$(out_of shim --new-global-opt X create --bundle "$b" U2)
is "an unknown global option before create: refused for a member" "$?:$(members flags)" "1:"
b=$(mkb U3)
shim create --made-up-flag --bundle "$b" U3 </dev/null >/dev/null 2>&1
check "a non-member's create with an unknown option is the delegate's business" eval '
	[[ $(rc state U3 2>/dev/null | jq -r .status) != created ]] && no_pods'

b=$(mkb V1 -a podshim.pod=long -j '.annotations["podshim.share"] = "net," + ("x" * 1000000)')
: >"$LOG"
err=$(out_of shim create --bundle "$b" V1)
is "a 1 MB podshim.share is refused" "$?" 1
like "naming it" "$err" "*unknown namespace \`xxx*"
check "quoting at most ~200 bytes of it: stderr ${#err} bytes" test "${#err}" -lt 600
check "and the log line $(wc -c <"$LOG") bytes" test "$(wc -c <"$LOG")" -lt 800

check "pods mx1 and mx2 with --podshim-max-pods 2" eval '
	mshim 2 create --bundle "$(mkb M1 -a podshim.pod=mx1)" M1 &&
	mshim 2 create --bundle "$(mkb M2 -a podshim.pod=mx2)" M2'
b=$(mkb M3 -a podshim.pod=mx3)
: >"$LOG"
mshim 2 create --bundle "$b" M3
is "a third pod is refused" "$?:$(members mx3)" "1:"
err=$(<"$T/out/mshim")
like "with a clear error" "$err" "*already has 2 pods*--podshim-max-pods 2*"
check "in the log too" log_has_error "already has 2 pods"
check "PODSHIM_MAX_PODS=2 too" eval '! PODSHIM_MAX_PODS=2 shim create --bundle "$b" M3 </dev/null >/dev/null 2>&1'
if command -v strace >/dev/null; then
	# A new pod under the limit: no listing of the pods (O(pods) work on a create).
	strace -o "$T/out/strace" -e trace=getdents64 "$PODSHIM" --podshim-max-pods 1000 \
		--podshim-runtime /bin/true --podshim-state "$STATE" --root "$RUNC_ROOT" create \
		--bundle "$(mkb M5 -a podshim.pod=mx5)" M5 </dev/null >/dev/null 2>&1
	is "a new pod's create lists no directory" "$(grep -c '^getdents64' "$T/out/strace")" 0
	check "(pod mx5 that never lived: pruned)" eval 'shim pod gc && [[ -z $(members mx5) ]]'
else
	skip "a new pod's create lists no directory (needs strace)"
fi
check "a new member of an existing pod is still welcome" eval '
	mshim 2 create --bundle "$(mkb M4 -a podshim.pod=mx1)" M4 && [[ $(members mx1) == M1,M4 ]]'
check "delete M1, M2, M4" del_all M1 M2 M4

# state_refused DESC STATEDIR TEXT: a member's create is refused naming TEXT,
# a non-member's create is not.
state_refused() {
	local desc=$1 sd=$2 text=$3 err s
	err=$(out_of "$PODSHIM" --podshim-state "$sd" --root "$RUNC_ROOT" create --bundle "$(mkb S1 -a podshim.pod=sd)" S1)
	s=$?
	rc delete --force S1 >/dev/null 2>&1
	if ((s != 0)) && [[ $err == *"$text"* ]] && ! rc state S1 >/dev/null 2>&1; then
		ok "$desc: refused"
	else
		not_ok "$desc: refused" "status $s: $err"
	fi
	"$PODSHIM" --podshim-state "$sd" --root "$RUNC_ROOT" create --bundle "$(mkb S2)" S2 </dev/null >/dev/null 2>&1
	is "$desc: a non-member is not harmed" "$(rc state S2 | jq -r .status)" created
	rc delete --force S2 >/dev/null 2>&1
}
mkdir -m 0777 "$T/st-open"
state_refused "a state dir of mode 0777" "$T/st-open" "st-open\` is unsafe"
mkdir -m 0700 "$T/st-other" && chown 65534 "$T/st-other"
state_refused "a state dir owned by uid 65534" "$T/st-other" "owned by uid 65534"
mkdir -m 0700 "$T/st-real" && ln -s "$T/st-real" "$T/st-link"
state_refused "a symlink on the state dir's path" "$T/st-link/state" "st-link\` is a symbolic link"
check "a fresh state dir is made 0700" eval '
	"$PODSHIM" --podshim-state "$T/st-new/a/b" --root "$RUNC_ROOT" create \
		--bundle "$(mkb S3 -a podshim.pod=fresh)" S3 </dev/null >/dev/null 2>&1 &&
	[[ $(stat -c %a "$T/st-new/a/b") == 700 ]]'
"$PODSHIM" --podshim-state "$T/st-new/a/b" --root "$RUNC_ROOT" delete --force S3 </dev/null >/dev/null 2>&1

# --- podshim-pause cannot be exec'd -------------------------------------------------
# The holder dies before podshim tells it to go: podshim must not die of
# SIGPIPE (exit 141, no message, pod.json left behind).
# (Its output to a file, not a pipe of ours: when the create succeeds, as it
# does with runc 1.3, the container's init holds its stdout.)
PODSHIM_PAUSE=$T/no-such-pause shim create --bundle "$(mkb NP1 -a podshim.pod=nopause)" NP1 </dev/null >"$T/out/NP1" 2>&1
s=$?
out=$(<"$T/out/NP1")
if ((s != 141)) && { ((s == 0)) || [[ $out == *podshim* ]]; }; then
	ok "a missing podshim-pause: podshim is not killed by SIGPIPE (status $s)"
else
	not_ok "a missing podshim-pause: podshim is not killed by SIGPIPE" "status $s: $out"
fi
shim delete --force NP1 </dev/null >/dev/null 2>&1
check "a missing podshim-pause: nothing left of pod nopause" eval '
	shim pod gc >/dev/null 2>&1; [[ ! -e $STATE/$KEY/pods/nopause ]]'

done_testing

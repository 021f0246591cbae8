#!/usr/bin/env bash
# Crash safety (a fault-injection build: PODSHIM_FAULT=<point> SIGKILLs podshim
# there), corrupted and future pod.json files, a read-only state dir.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

# is_fault_build BINARY: its own --version line (after the delegate's
# output) says "(fault injection)".
is_fault_build() {
	"$1" --version 2>/dev/null | grep -q '^podshim version .*(fault injection)'
}
if is_fault_build "$PODSHIM"; then
	:
elif [[ -n ${PODSHIM_BUILDDIR:-} ]] && is_fault_build "$PODSHIM_BUILDDIR/../build-fault/cmd/podshim"; then
	PODSHIM=$(cd "$PODSHIM_BUILDDIR/../build-fault/cmd" && pwd)/podshim
	diag "using $PODSHIM"
else
	skip_all "needs a fault-injection build (meson setup build-fault -Dfault_injection=true)"
fi

KEY=$(rootkey "$RUNC_ROOT")
# With argument `userns` (the faults-userns test): every member has a user
# namespace of its own (userns-remap), so every pod is remapped.
if [[ ${1:-} == userns ]]; then
	MKB_JQ=$(userns_jq 100000)
	remapped
fi

# consistent POD: every member of POD is a container runc knows, every pinned
# namespace of it is mounted once, and no other mount is under its directory.
consistent() {
	local pod=$1 d id want got
	d=$(poddir "$pod")
	for id in $(jq -r '.members[].id' "$d/pod.json"); do
		rc state "$id" >/dev/null 2>&1 || {
			echo "member $id has no container"
			return 1
		}
	done
	want=$(jq -r '.pinned[]' "$d/pod.json" | sort | tr '\n' ' ')
	got=$(grep -F " $d/" /proc/self/mountinfo | awk '{ print $5 }' | sed "s|^$d/ns/||" | sort | tr '\n' ' ')
	[[ $got == "$want" ]] || {
		echo "mounts under $d: '$got', pinned: '$want'"
		return 1
	}
}

# gone POD: no directory, no mount, no index entry, no pause of this test.
gone() {
	local d
	d=$(poddir "$1")
	[[ ! -e $d ]] || {
		echo "$d exists"
		return 1
	}
	no_mounts_under "$d" || return 1
	[[ -z $(grep -rlx -- "$1" "$STATE/$KEY/containers" 2>/dev/null) ]] || {
		echo "index entries name $1"
		return 1
	}
	[[ -z $(our_pauses) ]] || {
		echo "pause left: $(our_pauses)"
		return 1
	}
}

# --- crashes during create ----------------------------------------------------------

# Every step from "sandbox begun" to "member confirmed", in order.
POINTS="holder-started holder-recorded pause-started pause-recorded ns-opened after-volumes
	after-state after-index after-config before-confirm"
for point in $POINTS; do
	for variant in alone joining; do
		pod=f-$point-$variant id=$point-$variant
		if [[ $variant == joining ]]; then
			create "$id-live" "$(mkb "$id-live" -a "podshim.pod=$pod" -a podshim.volumes=/shared)" ||
				not_ok "$id: the live member joins $pod"
			live_net=$(pinned "$pod" net)
			if [[ $point == holder-* ]]; then
				# Only a pod whose holder died starts one for a joining member.
				h=$(holder "$pod") hs=$(proc_start "$h")
				kill -9 "$h"
				wait_for 10 eval '! proc_alive "$h" "$hs"' >/dev/null
			fi
		fi
		b=$(mkb "$id" -a "podshim.pod=$pod" -a podshim.volumes=/shared -a podshim.share=net,ipc,uts,pid)
		orig=$(sha "$b/config.json")
		PODSHIM_FAULT=$point shim create --bundle "$b" "$id" <"$POD_STDIN" >/dev/null 2>&1
		is "$point ($variant): podshim dies by SIGKILL" "$?" 137
		if [[ $(sha "$b/config.json") == "$orig" ]]; then
			state=original
		elif jq -e . "$b/config.json" >/dev/null 2>&1; then
			state=rewritten
		else
			state=broken
		fi
		case $point in
		after-config | before-confirm) want=rewritten ;;
		*) want=original ;;
		esac
		is "$point ($variant): config.json is whole ($want)" "$state" "$want"
		if [[ $point == before-confirm ]]; then
			is "$point ($variant): the delegate made the container" "$(rc state "$id" | jq -r .status)" created
		fi
		runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1
		check "$point ($variant): pod gc" shim pod gc
		if [[ $variant == alone ]]; then
			check "$point ($variant): the pod is gone" gone "$pod"
		else
			is "$point ($variant): the pod keeps only its live member, same netns" \
				"$(members "$pod"):$(pinned "$pod" net)" "$id-live:$live_net"
			check "$point ($variant): the pod is consistent" consistent "$pod"
		fi
		check "$point ($variant): the index entry is gone" test ! -e "$STATE/$KEY/containers/$id"
		check "$point ($variant): a normal create in the same pod works" \
			create "$id-again" "$(mkb "$id-again" -a "podshim.pod=$pod" -a podshim.share=net,ipc,uts,pid)"
		check "$point ($variant): and delete" del "$id-again"
		if [[ $variant == joining ]]; then
			check "$point ($variant): the live member leaves" del "$id-live"
		fi
		check "$point ($variant): nothing left of the pod" gone "$pod"
	done
done

# A crash after the delegate's create but before the member is confirmed: the
# container exists, so the member must survive a gc that runs before anyone
# deletes the container (as the next pod operation would).
b=$(mkb bc -a podshim.pod=f-bc)
PODSHIM_FAULT=before-confirm shim create --bundle "$b" bc <"$POD_STDIN" >/dev/null 2>&1
shim pod gc >/dev/null 2>&1
got="$(members f-bc):$(pinned f-bc net >/dev/null && echo pinned)"
if [[ $got == "bc:pinned" ]]; then
	ok "before-confirm: gc keeps the member while its container exists"
else
	not_ok "before-confirm: gc keeps the member while its container exists" \
		"members:pinned = '$got'"
fi
del bc >/dev/null 2>&1
runc --root "$RUNC_ROOT" delete --force bc >/dev/null 2>&1
shim pod gc >/dev/null 2>&1
check "before-confirm: all gone after the container's delete and gc" gone f-bc

# A crash after a new pod's holder is recorded but before podshim handed it
# the pod's /dev/shm: the holder goes on without one (EOF), and the next
# member's create mounts one there, which the members after it share.
b=$(mkb hs -a podshim.pod=f-hs)
PODSHIM_FAULT=holder-recorded shim create --bundle "$b" hs <"$POD_STDIN" >/dev/null 2>&1
h=$(holder f-hs)
check "holder-recorded: the holder lives on" test -n "$h"
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
check "holder-recorded: it isolates itself (runs as nobody)" wait_for 10 eval '[[ $(uid_of "$h") == 65534 ]]'
check "holder-recorded: without a /dev/shm at its /shm" eval \
	'[[ $(stat -c %d "/proc/$h/root/shm") == $(stat -c %d "/proc/$h/root/") ]]'
check "holder-recorded: a member joins" member hs2 "$(mkb hs2 -a podshim.pod=f-hs)"
check "holder-recorded: and a second one" member hs3 "$(mkb hs3 -a podshim.pod=f-hs)"
check "holder-recorded: it writes /dev/shm/x" xin hs2 sh -c 'echo hs2 > /dev/shm/x'
is "holder-recorded: the other reads it, as the holder's /shm" \
	"$(xin hs3 cat /dev/shm/x 2>&1):$(cat "/proc/$(holder f-hs)/root/shm/x" 2>&1)" hs2:hs2
check "holder-recorded: the members leave" eval 'del hs2 && del hs3'
shim pod gc >/dev/null 2>&1
check "holder-recorded: nothing left of the pod" gone f-hs

# --- a step that fails: rolled back at once ---------------------------------------

# Every point before the delegate runs, as an error instead of a crash: the
# create fails, and at once (no gc) nothing is left of what it began.
for point in $POINTS; do
	[[ $point == before-confirm ]] && continue
	for variant in alone joining; do
		# A joining member finds the holder alive: no holder step.
		[[ $point == holder-* && $variant == joining ]] && continue
		pod=f-fail-$point-$variant id=fail-$point-$variant
		if [[ $variant == joining ]]; then
			create "$id-live" "$(mkb "$id-live" -a "podshim.pod=$pod" -a podshim.volumes=/shared)" ||
				not_ok "$id: the live member joins $pod"
			live_net=$(pinned "$pod" net)
			live_holder=$(holder "$pod")
		fi
		b=$(mkb "$id" -a "podshim.pod=$pod" -a podshim.volumes=/shared,/other -a podshim.share=net,ipc,uts,pid)
		orig=$(sha "$b/config.json")
		PODSHIM_FAULT=fail:$point shim create --bundle "$b" "$id" <"$POD_STDIN" >/dev/null 2>"$T/err"
		s=$?
		err=$(cat "$T/err")
		is "fail:$point ($variant): create fails, saying where" "$s:$([[ $err == *"fault injected at $point"* ]] && echo said)" 1:said
		is "fail:$point ($variant): config.json is the original, no container" \
			"$(sha "$b/config.json"):$(rc state "$id" >/dev/null 2>&1 && echo exists)" "$orig:"
		check_fails "fail:$point ($variant): no index entry" test -e "$STATE/$KEY/containers/$id"
		if [[ $variant == alone ]]; then
			check "fail:$point ($variant): nothing is left (no gc)" gone "$pod"
		else
			is "fail:$point ($variant): the pod keeps its live member, holder and netns; no pause, no /other volume" \
				"$(members "$pod"):$(holder "$pod"):$(pinned "$pod" net):$(jq -r '.pause.pid // 0' "$(poddir "$pod")/pod.json"):$(our_pauses | wc -l):$(test -e "$(poddir "$pod")/volumes/-other" && echo other)" \
				"$id-live:$live_holder:$live_net:0:1:"
			check "fail:$point ($variant): the pod is consistent" consistent "$pod"
			check "fail:$point ($variant): the live member leaves" del "$id-live"
			check "fail:$point ($variant): nothing left" gone "$pod"
		fi
		is "fail:$point ($variant): pod gc finds nothing to do" "$(shim pod gc 2>&1)" "removed 0 pod(s)"
	done
done

# The issue's case: a pid-sharing member whose pod volume cannot be made (a
# path component too long for a file name) fails after the holder and the
# pause started; three such creates leave nothing.
long=/$(printf 'v%.0s' $(seq 300))
for i in 1 2 3; do
	b=$(mkb "VL$i" -a podshim.pod=f-vlong -a podshim.share=net,ipc,uts,pid -a "podshim.volumes=$long")
	check_fails "a member with a $((${#long} - 1))-byte volume name fails ($i)" create "VL$i" "$b"
done
check "nothing is left of pod f-vlong: no holder, no pause, no state" gone f-vlong
is "pod gc sees nothing" "$(shim pod gc 2>&1)" "removed 0 pod(s)"

# --- a crash during delete -------------------------------------------------------

for variant in alone joining; do
	pod=f-leave-$variant id=leave-$variant
	if [[ $variant == joining ]]; then
		member "$id-live" "$(mkb "$id-live" -a "podshim.pod=$pod")" || not_ok "$id-live joins"
	fi
	check "before-leave ($variant): member joins" \
		member "$id" "$(mkb "$id" -a "podshim.pod=$pod" -a podshim.volumes=/shared -a podshim.share=net,ipc,uts,pid)"
	PODSHIM_FAULT=before-leave shim delete --force "$id" <"$POD_STDIN" >/dev/null 2>&1
	is "before-leave ($variant): podshim dies by SIGKILL" "$?" 137
	check_fails "before-leave ($variant): the container is gone" rc state "$id"
	check "before-leave ($variant): pod gc" shim pod gc
	if [[ $variant == alone ]]; then
		check "before-leave ($variant): gc tore the pod down" gone "$pod"
	else
		is "before-leave ($variant): gc removed the member" "$(members "$pod")" "$id-live"
		check "before-leave ($variant): the pod is consistent" consistent "$pod"
		check "before-leave ($variant): the live member leaves" del "$id-live"
		check "before-leave ($variant): nothing left" gone "$pod"
	fi
done

# A retried delete (what containerd does) after the crash cleans up as well.
check "before-leave (retry): member joins" member lr "$(mkb lr -a podshim.pod=f-retry)"
PODSHIM_FAULT=before-leave shim delete --force lr <"$POD_STDIN" >/dev/null 2>&1
shim delete --force lr <"$POD_STDIN" >/dev/null 2>&1
check "before-leave (retry): a second delete removed the member and the pod" gone f-retry

# --- a corrupted pod.json -----------------------------------------------------------

mkdir -m 700 "$(poddir corrupt)"
head -c 300 /dev/urandom | tr '\0{[' 'xyz' >"$(poddir corrupt)/pod.json"
b=$(mkb CO1 -a podshim.pod=corrupt)
orig=$(sha "$b/config.json")
: >"$LOG"
err=$(shim create --bundle "$b" CO1 2>&1 <"$POD_STDIN" >/dev/null)
s=$?
isnt "a member of a pod with a garbage pod.json: create fails" "$s" 0
check "the message names pod.json and says corrupted (stderr)" \
	eval '[[ $err == *pod.json* && $err == *corrupted* ]]'
check "and the JSON log has it as an error" eval 'log_has_error pod.json && log_has_error corrupted'
is "config.json untouched, no container" "$(sha "$b/config.json"):$(rc state CO1 >/dev/null 2>&1 && echo exists)" "$orig:"
check "pod list still works, and lists no pod corrupt" eval '[[ $(shim pod list --format json 2>/dev/null | jq "[.[] | select(.name == \"corrupt\")] | length") == 0 ]]'
check "pod gc does not fail on it" shim pod gc
rm -rf "$(poddir corrupt)" "$(dirname "$(dirname "$(poddir corrupt)")")/locks/corrupt.lock"

# --- pod.json written by a newer podshim -----------------------------------------------

check "U1 joins pod future" member U1 "$(mkb U1 -a podshim.pod=future -a podshim.share=net,ipc,uts,pid)"
pj=$(poddir future)/pod.json
jq '.future_top = {x: [1, 2]} | .members[0].future_member = "kept" | .pause.future_pause = true' "$pj" >"$T/pj" &&
	cat "$T/pj" >"$pj"
check "U2 joins it" member U2 "$(mkb U2 -a podshim.pod=future -a podshim.share=net,ipc,uts,pid)"
is "both are members" "$(members future)" U1,U2
is "unknown fields survive the rewrite (top level, member, pause)" \
	"$(jq -c '[.future_top, (.members[] | select(.id == "U1") | .future_member), .pause.future_pause]' "$pj")" \
	'[{"x":[1,2]},"kept",true]'
is "U2 shares U1's namespaces" "$(nsino "$(cpid U2)" net) $(nsino "$(cpid U2)" pid)" \
	"$(nsino "$(cpid U1)" net) $(nsino "$(cpid U1)" pid)"
check "U1 leaves" del U1
is "the fields survive U1's departure too" "$(jq -c '[.future_top, .pause.future_pause]' "$pj")" '[{"x":[1,2]},true]'
check "U2 leaves, the pod is gone" eval 'del U2 && gone future'

# create_fails DESC TEXT SHIM ID: `SHIM create` of bundle $b as ID fails
# (DESC), saying TEXT on stderr and in the log; sets orig, the digest of the
# bundle's config.json before.
create_fails() {
	local desc=$1 text=$2 shim=$3 id=$4 err s
	orig=$(sha "$b/config.json")
	: >"$LOG"
	err=$("$shim" create --bundle "$b" "$id" 2>&1 <"$POD_STDIN" >/dev/null)
	s=$?
	isnt "$desc" "$s" 0
	check "with a clear message (stderr and log)" eval '[[ $err == *"$text"* ]] && log_has_error "$text"'
}

# --- a read-only state dir ----------------------------------------------------------

RO=$T/state-ro
mkdir -p "$RO"
mount -t tmpfs -o size=4m,mode=700 tmpfs "$RO" && mount -o remount,ro "$RO"
ro() { "$PODSHIM" --podshim-state "$RO" --root "$RUNC_ROOT" --log "$LOG" --log-format json "$@"; }
b=$(mkb RO1 -a podshim.pod=ro)
create_fails "create with an empty read-only state dir fails" "Read-only file system" ro RO1
is "config.json untouched, no container" "$(sha "$b/config.json"):$(rc state RO1 >/dev/null 2>&1 && echo exists)" "$orig:"

mount -o remount,rw "$RO"
ro create --bundle "$b" RO1 <"$POD_STDIN" >/dev/null 2>&1
check "RO1 joins pod ro while the state dir is writable" rc state RO1
ro_net=$(stat -L -c %i "/proc/$(jq -r .holder.pid "$RO/$KEY/pods/ro/pod.json")/ns/net")
mount -o remount,ro "$RO"
b=$(mkb RO2 -a podshim.pod=ro)
create_fails "then read-only: a second member's create fails" "Read-only file system" ro RO2
is "config.json untouched, no container, pod ro unchanged" \
	"$(sha "$b/config.json"):$(rc state RO2 >/dev/null 2>&1 && echo exists):$(jq -c '[.members[].id]' "$RO/$KEY/pods/ro/pod.json")" \
	"$orig::[\"RO1\"]"
mount -o remount,rw "$RO"
check "writable again: RO1 leaves, pod ro is torn down" eval 'ro delete --force RO1 <"$POD_STDIN" && [[ ! -e $RO/$KEY/pods/ro ]] && no_mounts_under "$RO"'
check "its netns is freed" wait_for 10 no_ns_refs net "$ro_net" "$(now_ticks)"
umount "$RO"

# --- a full state dir --------------------------------------------------------------

FULL=$T/state-full
mkdir -p "$FULL"
mount -t tmpfs -o size=256k,mode=700 tmpfs "$FULL"
full() { "$PODSHIM" --podshim-state "$FULL" --root "$RUNC_ROOT" --log "$LOG" --log-format json "$@"; }
dd if=/dev/zero of="$FULL/fill" bs=4k 2>/dev/null || true
b=$(mkb FU1 -a podshim.pod=full)
create_fails "create with a full state dir fails" "No space left on device" full FU1
is "config.json untouched, no container, no pod, no mount" \
	"$(sha "$b/config.json"):$(rc state FU1 >/dev/null 2>&1 && echo exists):$(ls "$FULL"/*/pods 2>/dev/null | tr -d '\n'):$(no_mounts_under "$FULL" && echo clean)" \
	"$orig:::clean"
rm -f "$FULL/fill"
full create --bundle "$b" FU1 <"$POD_STDIN" >/dev/null 2>&1
check "space again: FU1 joins pod full" rc state FU1
check "FU1 leaves, pod full is torn down" eval 'full delete --force FU1 <"$POD_STDIN" && [[ ! -e $FULL/$KEY/pods/full ]] && no_mounts_under "$FULL"'
umount "$FULL"

done_testing

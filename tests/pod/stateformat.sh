#!/usr/bin/env bash
# State file formats (docs/upgrades.md): every file podshim keeps in its state
# and data directories is read in the format podshim 0.1.0 wrote, and one in
# a newer format (hand-written here, as a later podshim would leave it) is
# refused naming the file, its version and the newest this podshim reads —
# and left as it was: a newer podshim's pod is never torn down, its files
# never rewritten or removed, while a member's delete still deletes the
# container.  pod.json, a container record (also routed by its runtime class
# when newer), the container index, a pod's `data`, the holder template (a
# cache: not used, replaced), a root's `root` file.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

KEY=$(rootkey "$RUNC_ROOT")
DIR=$STATE/$KEY

# log_has LEVEL TEXT: the JSON log has a LEVEL line containing TEXT (lines
# that are no JSON, as a delegate's debug output may write, are skipped).
log_has() {
	jq -Rne --arg l "$1" --arg t "$2" \
		'[inputs | fromjson? | select(.level == $l and (.msg | contains($t)))] | length > 0' "$LOG" >/dev/null
}
# set_json FILE JQ: rewrite FILE (a state file) with a jq edit, mode kept.
set_json() {
	jq -c "$2" "$1" >"$1.new" && chmod 600 "$1.new" && mv "$1.new" "$1"
}
# write FILE TEXT: a state file of TEXT (no newline), as podshim writes them.
write() {
	printf '%s' "$2" >"$1.new" && chmod 600 "$1.new" && mv "$1.new" "$1"
}
# alive PID: PID runs (a zombie does not).
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z && ${st:0:1} != X ]]
}
# create_cfg ID BUNDLE: `podshim create` with this test's class config.
create_cfg() {
	timeout 60 "$PODSHIM" --podshim-state "$STATE" --podshim-config "$CFG" --root "$RUNC_ROOT" \
		--log "$LOG" --log-format json create --bundle "$2" "$1" <"$POD_STDIN" >"$T/out/$1" 2>&1 ||
		{ cat "$T/out/$1" >&2; return 1; }
}
gone() { ! rc state "$1" >/dev/null 2>&1; }

# --- pod.json --------------------------------------------------------------

check "A1, A2 join pod pj" eval 'member A1 "$(mkb A1 -a podshim.pod=pj)" && member A2 "$(mkb A2 -a podshim.pod=pj)"'
PJ=$(poddir pj)/pod.json
is "pod.json is written in format version 1" "$(jq -r .version "$PJ")" 1
pj_holder=$(holder pj)
set_json "$PJ" '.version = 2'
pj_sha=$(sha "$PJ")
NEWER_PJ="\`$PJ\`: format version 2, newer than 1, the newest this podshim reads"
refused "a member joining a newer podshim's pod is refused, naming pod.json, its version and the newest read" \
	"$NEWER_PJ" "$(mkb A3 -a podshim.pod=pj)"
: >"$LOG"
check "delete of a member of that pod deletes its container" del A1
check "A1 is gone from the runtime" gone A1
check "the delete warns, naming pod.json and its version" log_has warning "$NEWER_PJ"
is "pod.json is as it was" "$(sha "$PJ")" "$pj_sha"
check "the pod's holder lives on" alive "$pj_holder"
out=$(shim pod list 2>&1 >/dev/null)
like "pod list names pod.json, its version and the newest read" "$out" "pod \`pj\`: \`$PJ\`: format version 2, newer than 1"
check_fails "pod inspect pj fails" shim pod inspect pj
out=$(shim pod gc 2>&1)
like "pod gc skips it, saying why" "$out" "format version 2.*\\(skipped\\)"
like "and removes no pod" "$out" "removed 0 pod\\(s\\)"
is "pod.json is still as it was after gc" "$(sha "$PJ")" "$pj_sha"
check "the holder still lives" alive "$pj_holder"
set_json "$PJ" '.version = 1'
check "back in version 1: delete A2" del A2
check "the pod is torn down (A1 pruned)" eval '[[ ! -e $(poddir pj) ]] && ! alive $pj_holder'

# --- container records -----------------------------------------------------

# A runtime class whose runtime is runc itself, under its own root: a command
# routed without the class finds no container.
CFG=$T/podshim-config.json
jq -n --arg runc "$(command -v runc)" '{runtimes: {alt: {path: $runc}}}' >"$CFG"
CROOT=$RUNC_ROOT-podshim-class-alt
crc() { runc --root "$CROOT" "$@"; }
check "B1 (runtime class alt, essential) joins pod rc" eval '
	create_cfg B1 "$(mkb B1 -a podshim.pod=rc -a podshim.runtime=alt -a podshim.essential=true)" &&
	shim start B1 <"$POD_STDIN"'
REC1=$DIR/records/B1
is "its record is written in format version 1, naming the class" "$(jq -r '"\(.version) \(.class)"' "$REC1")" "1 alt"
set_json "$REC1" 'del(.version)'
is "a record as podshim 0.1.0 wrote it (no version): state goes to the class" \
	"$(shim state B1 2>&1 | jq -r .status 2>&1)" running
check "B2 (class alt, a start condition) is created in pod rc" \
	create_cfg B2 "$(mkb B2 -a podshim.pod=rc -a podshim.runtime=alt -a podshim.wait=tcp:1)"
REC2=$DIR/records/B2
set_json "$REC1" '.version = 2 | .essential = "a newer shape"'
set_json "$REC2" '.version = 2 | .wait = {"a newer": "shape"}'
rec1_sha=$(sha "$REC1") rec2_sha=$(sha "$REC2")
is "a newer record: state still goes to its class" "$(shim state B1 2>&1 | jq -r .status 2>&1)" running
: >"$LOG"
out=$(timeout 60 "$PODSHIM" --podshim-state "$STATE" --root "$RUNC_ROOT" --log "$LOG" --log-format json \
	start B2 2>&1 </dev/null)
s=$?
NEWER_REC="its record \`$REC2\`: format version 2, newer than 1, the newest this podshim reads"
is "start of a container with a newer record fails" "$s" 1
like "naming the record, its version and the newest read" "$out" "cannot start it: container \`B2\`: $NEWER_REC"
check "in the log too" log_has error "$NEWER_REC"
is "B2 was not started" "$(crc state B2 | jq -r .status)" created
: >"$LOG"
check "delete of B2 goes to its class" del B2
check "B2 is gone from the class's root" eval '! crc state B2 >/dev/null 2>&1'
check "the delete warns that the record stays" eval 'log_has warning "$NEWER_REC" && log_has warning "it stays"'
is "B2's record is as it was" "$(sha "$REC2")" "$rec2_sha"
check "delete of B1 (newer record) goes to its class" del B1
check "B1 is gone from the class's root" eval '! crc state B1 >/dev/null 2>&1'
is "B1's record is as it was" "$(sha "$REC1")" "$rec1_sha"
check "pod rc (version 1) is torn down" test ! -e "$(poddir rc)"
check "pod gc leaves the newer records" eval 'shim pod gc >/dev/null 2>&1 && [[ $(sha "$REC1") == "$rec1_sha" && $(sha "$REC2") == "$rec2_sha" ]]'
rm -f "$REC1" "$REC2"

# --- the container index ---------------------------------------------------

check "C1, C2 join pod ix" eval 'member C1 "$(mkb C1 -a podshim.pod=ix)" && member C2 "$(mkb C2 -a podshim.pod=ix)"'
IX=$DIR/containers/C1
is "the index entry is the bare pod key (version 1, as 0.1.0 wrote it)" "$(cat "$IX")" ix
write "$IX" '{"version":2,"pod":"ix"}'
: >"$LOG"
check "delete of C1, whose index entry is newer" del C1
check "C1 is gone from the runtime" gone C1
check "the delete warns, naming the entry and its version" \
	log_has warning "\`$IX\`: format version 2, newer than 1"
is "the entry is as it was" "$(cat "$IX")" '{"version":2,"pod":"ix"}'
check "pod gc" eval 'shim pod gc >/dev/null 2>&1'
is "gc prunes C1 from pod ix (its pod.json is version 1)" "$(members ix)" C2
is "and leaves the newer entry" "$(cat "$IX")" '{"version":2,"pod":"ix"}'
check "delete C2: pod ix is torn down" eval 'del C2 && [[ ! -e $(poddir ix) ]]'
rm -f "$IX"

# --- a pod's data file -----------------------------------------------------

check "D1 (pod volume /vol) joins pod dv" member D1 "$(mkb D1 -a podshim.pod=dv -a podshim.volumes=/vol)"
DV=$(poddir dv)/data
is "data is the bare path of the pod's volumes (version 1)" "$(cat "$DV")" "$(voldir dv)"
dv_holder=$(holder dv)
write "$DV" "{\"version\":2,\"dir\":\"$(voldir dv)\"}"
dv_sha=$(sha "$DV")
NEWER_DV="\`$DV\`: format version 2, newer than 1, the newest this podshim reads"
refused "a member with volumes joining is refused, naming data, its version and the newest read" \
	"$NEWER_DV" "$(mkb D2 -a podshim.pod=dv -a podshim.volumes=/vol)"
: >"$LOG"
check "delete of D1 deletes its container" del D1
check "D1 is gone from the runtime" gone D1
check "the delete warns, naming data" log_has warning "$NEWER_DV"
check "nothing of the pod is removed: data, its volumes, pod.json, the holder" eval '
	[[ $(sha "$DV") == "$dv_sha" && -n $(ls "$(voldir dv)") && -f $(poddir dv)/pod.json ]] && alive $dv_holder'
like "pod gc skips it, saying why" "$(shim pod gc 2>&1)" "$NEWER_DV.*\\(skipped\\)"
check "the holder lives on" alive "$dv_holder"
write "$DV" "$(voldir dv)"
like "back in version 1: pod gc tears it down" "$(shim pod gc 2>&1)" "removed 1 pod"
check "its volumes, directory and holder are gone" \
	eval '[[ ! -e $(voldir dv) && ! -e $(poddir dv) ]] && ! alive $dv_holder'

# --- the holder template (a cache) -----------------------------------------

# E0 keeps the root directory (the template lives there) while E1 makes a pod.
check "E0 joins pod h0" member E0 "$(mkb E0 -a podshim.pod=h0)"
TPL=$DIR/holder-template
is "the template is \"PID START\" (version 1)" "$(cut -d' ' -f1 "$TPL")" "$(holder h0)"
write "$TPL" '{"version":2,"pid":1}'
: >"$LOG"
check "E1 makes pod ht while the holder template is newer" \
	eval 'timeout 60 "$PODSHIM" --podshim-state "$STATE" --root "$RUNC_ROOT" --log "$LOG" --log-format json \
		--debug create --bundle "$(mkb E1 -a podshim.pod=ht)" E1 <"$POD_STDIN" >"$T/out/E1" 2>&1 &&
		shim start E1 <"$POD_STDIN"'
check "the template is not used (debug log names it and its version)" \
	log_has debug "no template: \`$TPL\`: format version 2, newer than 1"
is "it is replaced by the new holder's, in version 1 (\"PID START\")" \
	"$(cut -d' ' -f1 "$TPL")" "$(holder ht)"
check "delete E0, E1" del_all E0 E1

# --- a root's root file ----------------------------------------------------

check "F1 joins pod rt" member F1 "$(mkb F1 -a podshim.pod=rt)"
ROOTF=$DIR/root
is "root is the bare --root (version 1)" "$(cat "$ROOTF")" "$RUNC_ROOT"
write "$ROOTF" '{"version":2,"root":"elsewhere"}'
out=$(shim pod list 2>&1)
like "pod list names the root file, its version, and skips it" "$out" "\`$ROOTF\`: format version 2, newer than 1.*\\(skipped\\)"
[[ $out != *" rt "* ]] && ok "its pods are not listed" || not_ok "its pods are not listed" "$out"
out=$(shim pod gc 2>&1)
check "pod gc leaves that root's directory" test -f "$DIR/pods/rt/pod.json"
write "$ROOTF" "$RUNC_ROOT"
is "back in version 1: pod rt is listed" "$(members rt)" F1
check "delete F1" del F1

check "no pod of this test is left" no_pods
check "no pause of this test is left" test -z "$(our_pauses)"

done_testing

#!/usr/bin/env bash
# Runtime classes at the runc command line: a container that names a class
# (podshim.runtime annotation or PODSHIM_RUNTIME env) is created by that
# class's runtime under a root of its own, and every later command goes there;
# unknown classes are refused; `list` covers every class; a class member can
# be a pod member. Classes: a fake runtime (argv), crun, gVisor (runsc).
# shellcheck disable=SC2016 # single-quoted scripts and jq filters are meant literally
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_setup classes

RUNSC_BIN=$(command -v runsc || true)
ROOT=$T/root-runc
CFG=$T/podshim-config.json
LOGF=$T/out/log.json
# The class roots podshim derives from $ROOT.
CROOT_CRUN=$ROOT-podshim-class-crun
CROOT_GV=$ROOT-podshim-class-gvisor

classes_cleanup() {
	local id
	if [[ -n $CRUN ]]; then
		for id in $("$CRUN" --root "$CROOT_CRUN" list -q 2>/dev/null); do
			"$CRUN" --root "$CROOT_CRUN" delete --force "$id" >/dev/null 2>&1
		done
	fi
	if [[ -n $RUNSC_BIN && -d $CROOT_GV ]]; then
		for id in $("$RUNSC_BIN" --root "$CROOT_GV" list -q 2>/dev/null); do
			"$RUNSC_BIN" --root "$CROOT_GV" delete --force "$id" >/dev/null 2>&1
		done
	fi
	rm -rf "$CROOT_CRUN" "$CROOT_GV" "$ROOT-podshim-class-fake"
}
at_exit classes_cleanup # before it_cleanup

FAKE=$T/bin/fake-runtime
cat >"$FAKE" <<'EOF'
#!/usr/bin/env bash
# `state` (podshim asks it after a failed delete) answers $FAKE_STATE_RC.
for a; do [[ $a == state && -n ${FAKE_STATE_RC:-} ]] && exit "$FAKE_STATE_RC"; done
printf '%s\0' "$@" >"${FAKE_OUT:?}"
exit "${FAKE_RC:-0}"
EOF
chmod 755 "$FAKE"

jq -n --arg crun "${CRUN:-/nonexistent/crun}" --arg runsc "${RUNSC_BIN:-/nonexistent/runsc}" \
	--arg fake "$FAKE" '{runtimes: {
		crun: {path: $crun},
		gvisor: {path: $runsc, runtimeArgs: ["--platform=ptrace", "--network=none"]},
		fake: {path: $fake, runtimeArgs: ["--fake-opt", "v a l"]}}}' >"$CFG"

SHIMC=("$PODSHIM" --podshim-state "$S" --podshim-config "$CFG" --root "$ROOT" --log "$LOGF" --log-format json)
# Later commands need no --podshim-config: the record says where to go.
SHIMN=("$PODSHIM" --podshim-state "$S" --root "$ROOT")

# STDIN: what q and check_fails give a command as stdin.  Not /dev/null for
# gVisor: runsc chowns its stdio to nobody:nogroup, and a runsc started with
# stdin on the host's /dev/null leaves it owned by nobody.  Its own empty
# file instead (runsc may chown it: it is the test's).
STDIN=/dev/null

# q CMD...: CMD with stdio on files (a container's init must not hold a pipe
# of ours), its output shown on failure.
q() {
	"$@" <"$STDIN" >"$T/out/q" 2>&1 || {
		local s=$?
		cat "$T/out/q"
		return $s
	}
}

# check_fails DESC CMD...: ok when CMD fails.
check_fails() {
	local desc=$1
	shift
	if "$@" <"$STDIN" >"$T/out/cf" 2>&1; then not_ok "$desc" "succeeded: $*"; else ok "$desc"; fi
}

record() { echo "$S/$(ls "$S" 2>/dev/null | head -1)/records/$1"; }

argv_is() {
	local desc=$1 file=$2
	shift 2
	if [[ -f $file ]] && cmp -s "$file" <(printf '%s\0' "$@"); then
		ok "$desc"
	else
		not_ok "$desc" "got:  $(tr '\0' '|' <"$file" 2>/dev/null)" "want: $(printf '%s|' "$@")"
	fi
}

# --- argv: what the class runtime receives --------------------------------

out=$T/out/argv
mkbundle fakec 'true' '.annotations["podshim.runtime"] = "fake"'
id=$PFX-fake
FAKE_OUT=$out "${SHIMC[@]}" --debug create --bundle "$BUNDLE" --pid-file "$T/out/pid" "$id"
argv_is "class argv: runtimeArgs first, the caller's globals without --root, the class root, the command" \
	"$out" --fake-opt "v a l" --log "$LOGF" --log-format json --debug --root "$ROOT-podshim-class-fake" \
	create --bundle "$BUNDLE" --pid-file "$T/out/pid" "$id"
is "the record names the class" "$(jq -r .class "$(record "$id")" 2>/dev/null)" fake
for cmd in "start $id" "state $id" "kill --all $id KILL" "exec --process $T/p.json --detach $id" \
	"ps --format json $id" "pause $id" "resume $id" "update --resources - $id" \
	"events --interval 5s --stats $id"; do
	rm -f "$out"
	# shellcheck disable=SC2086 # word splitting intended
	FAKE_OUT=$out "${SHIMN[@]}" $cmd
	# shellcheck disable=SC2086
	argv_is "class argv: \`${cmd%% *}\` goes to the class with its root" "$out" \
		--fake-opt "v a l" --root "$ROOT-podshim-class-fake" $cmd
done
rm -f "$out"
FAKE_OUT=$out FAKE_RC=1 FAKE_STATE_RC=0 "${SHIMN[@]}" delete "$id"
[[ -f $(record "$id") ]] && ok "a failed delete of a container the class still knows keeps the record" ||
	not_ok "a failed delete of a container the class still knows keeps the record"
FAKE_OUT=$out "${SHIMN[@]}" delete --force "$id"
argv_is "class argv: delete" "$out" --fake-opt "v a l" --root "$ROOT-podshim-class-fake" delete --force "$id"
[[ ! -e $(record "$id") ]] && ok "delete removes the record" || not_ok "delete removes the record"
FAKE_OUT=$out "${SHIMC[@]}" create --bundle "$T/bundles/fakec" "$id"
FAKE_OUT=$out FAKE_RC=1 FAKE_STATE_RC=1 "${SHIMN[@]}" delete "$id"
[[ ! -e $(record "$id") ]] && ok "a failed delete of a container the class no longer knows removes the record" ||
	not_ok "a failed delete of a container the class no longer knows removes the record"
rm -f "$out"
FAKE_OUT=$out FAKE_RC=3 "${SHIMC[@]}" create --bundle "$BUNDLE" "$id-f"
is "a failed class create: the class runtime's exit status" "$?" 3
[[ ! -e $(record "$id-f") ]] && ok "a failed class create leaves no record" ||
	not_ok "a failed class create leaves no record"

# pod gc drops the records of containers their runtime no longer knows (and
# only those older than 5 minutes: a create may be under way).
FAKE_OUT=$out "${SHIMC[@]}" create --bundle "$T/bundles/fakec" "$id-gc1"
FAKE_OUT=$out "${SHIMC[@]}" create --bundle "$T/bundles/fakec" "$id-gc2"
FAKE_OUT=$out "${SHIMC[@]}" create --bundle "$T/bundles/fakec" "$id-gc3"
touch -d '10 minutes ago' "$(record "$id-gc1")"
FAKE_OUT=$out FAKE_STATE_RC=1 "${SHIMN[@]}" pod gc >/dev/null
is "pod gc drops an old record the class no longer knows" \
	"$([[ -e $(record "$id-gc1") ]] && echo kept || echo gone)" gone
is "pod gc keeps a young record" "$([[ -e $(record "$id-gc3") ]] && echo kept || echo gone)" kept
touch -d '10 minutes ago' "$(record "$id-gc2")"
FAKE_OUT=$out FAKE_STATE_RC=0 "${SHIMN[@]}" pod gc >/dev/null
is "pod gc keeps a record the class knows" "$([[ -e $(record "$id-gc2") ]] && echo kept || echo gone)" kept
FAKE_OUT=$out "${SHIMN[@]}" delete "$id-gc2"
FAKE_OUT=$out "${SHIMN[@]}" delete "$id-gc3"

# --- refusals ---------------------------------------------------------------

mkbundle unknown 'true' '.process.env += ["PODSHIM_RUNTIME=kata"]'
cp "$BUNDLE/config.json" "$T/out/unknown.orig"
: >"$LOGF"
capture unknown "${SHIMC[@]}" create --bundle "$BUNDLE" "$PFX-unknown"
msg=$(jq -r 'select(.level == "error") | .msg' "$LOGF" 2>/dev/null | tail -1)
if [[ $(<"$T/out/unknown.rc") != 0 && $msg == *'unknown runtime class `kata` (from environment variable PODSHIM_RUNTIME)'* \
	&& $msg == *'`crun`, `gvisor`, `fake`'* ]]; then
	ok "an unknown class is refused, named, the known ones listed, in the --log file"
else
	not_ok "an unknown class is refused, named, the known ones listed, in the --log file" \
		"rc $(<"$T/out/unknown.rc")" "log: $msg" "stderr: $(<"$T/out/unknown.err")"
fi
same_files "a refused create leaves config.json untouched" "$T/out/unknown.orig" "$BUNDLE/config.json"
[[ ! -d $ROOT/$PFX-unknown && ! -e $(record "$PFX-unknown") ]] && ok "a refused create leaves nothing" ||
	not_ok "a refused create leaves nothing"
mkbundle badname 'true' '.annotations["podshim.runtime"] = "../usr/bin/x"'
capture badname "${SHIMC[@]}" create --bundle "$BUNDLE" "$PFX-badname"
[[ $(<"$T/out/badname.rc") != 0 ]] && grep -q 'invalid runtime class `../usr/bin/x`' "$T/out/badname.err" &&
	ok "a path as class name is refused" || not_ok "a path as class name is refused" "$(<"$T/out/badname.err")"
mkbundle nocfg 'true' '.annotations["podshim.runtime"] = "crun"'
capture nocfg "$PODSHIM" --podshim-state "$S" --podshim-config "$T/none.json" --root "$ROOT" create --bundle "$BUNDLE" "$PFX-nocfg"
[[ $(<"$T/out/nocfg.rc") != 0 ]] && grep -q "none.json" "$T/out/nocfg.err" &&
	ok "a missing --podshim-config is reported" || not_ok "a missing --podshim-config is reported" "$(<"$T/out/nocfg.err")"
echo '{"runtimes": {"x": {"path": "rel/path"}}}' >"$T/bad.json"
capture badcfg "$PODSHIM" --podshim-state "$S" --podshim-config "$T/bad.json" --root "$ROOT" create --bundle "$BUNDLE" "$PFX-badcfg"
[[ $(<"$T/out/badcfg.rc") != 0 ]] && grep -q 'runtime `x`' "$T/out/badcfg.err" &&
	ok "a bad config file is reported" || not_ok "a bad config file is reported" "$(<"$T/out/badcfg.err")"

# --- a container without a class: untouched --------------------------------

use_delegate runc
mkbundle plain 'sleep 1000'
id=$(cid plain)
check "no class: create with runc" q "${SHIMC[@]}" create --bundle "$BUNDLE" "$id"
check "no class: runc has it in the caller's root" runc --root "$ROOT" state "$id"
[[ -z $(ls "$S"/*/records 2>/dev/null) ]] && ok "no class: no record" || not_ok "no class: no record" "$(ls -R "$S")"
check "no class: start" q "${SHIMN[@]}" start "$id"

# --- crun as a class ---------------------------------------------------------

if [[ -z $CRUN ]]; then
	skip "crun class" "crun is not installed"
else
	mkbundle crunc 'sleep 1000' '.annotations["podshim.runtime"] = "crun"'
	cid_c=$PFX-crun-a
	check "crun class: create" q "${SHIMC[@]}" create --bundle "$BUNDLE" "$cid_c"
	is "crun class: crun has it, in its own root" \
		"$("$CRUN" --root "$CROOT_CRUN" state "$cid_c" | jq -r .status)" created
	check_fails "crun class: runc's root does not" runc --root "$ROOT" state "$cid_c"
	check "crun class: start" q "${SHIMN[@]}" start "$cid_c"
	is "crun class: state through podshim" "$("${SHIMN[@]}" state "$cid_c" | jq -r .status)" running
	is "crun class: exec through podshim" \
		"$("${SHIMN[@]}" exec "$cid_c" sh -c 'echo $PSIT' </dev/null)" "$PFX"
	check "crun class: pause" q "${SHIMN[@]}" pause "$cid_c"
	is "crun class: paused" "$("${SHIMN[@]}" state "$cid_c" | jq -r .status)" paused
	check "crun class: resume" q "${SHIMN[@]}" resume "$cid_c"
	"${SHIMN[@]}" ps --format json "$cid_c" | jq -e 'length >= 1' >/dev/null &&
		ok "crun class: ps" || not_ok "crun class: ps"
	# list: the runc container and the crun one, in every format.
	is "list -q covers the caller's root and the class roots" \
		"$("${SHIMC[@]}" list -q | sort | tr '\n' ' ')" \
		"$(printf '%s\n' "$id" "$cid_c" | sort | tr '\n' ' ')"
	is "list --format json merges the class roots" \
		"$("${SHIMC[@]}" list --format json | jq -r '.[].id' | sort | tr '\n' ' ')" \
		"$(printf '%s\n' "$id" "$cid_c" | sort | tr '\n' ' ')"
	is "list (table): one header" "$("${SHIMC[@]}" list | grep -c '^ID ')" 1
	is "list (table): both containers" "$("${SHIMC[@]}" list | grep -c "^$PFX-")" 2
	check "crun class: kill" q "${SHIMN[@]}" kill "$cid_c" KILL
	for _ in $(seq 100); do [[ $("${SHIMN[@]}" state "$cid_c" | jq -r .status) == stopped ]] && break; sleep 0.05; done
	check "crun class: delete" q "${SHIMN[@]}" delete "$cid_c"
	check_fails "crun class: gone from crun" "$CRUN" --root "$CROOT_CRUN" state "$cid_c"
	[[ ! -e $(record "$cid_c") ]] && ok "crun class: record removed" || not_ok "crun class: record removed"

	# By environment, and in a pod with a runc member.
	mkbundle podrunc 'sleep 1000' '.annotations["podshim.pod"] = "mixed"'
	check "pod: runc member" q "${SHIMC[@]}" create --bundle "$BUNDLE" "$PFX-pod-runc"
	mkbundle podcrun 'sleep 1000' '.process.env += ["PODSHIM_RUNTIME=crun", "PODSHIM_POD=mixed"]'
	check "pod: crun member selected by PODSHIM_RUNTIME" q "${SHIMC[@]}" create --bundle "$BUNDLE" "$PFX-pod-crun"
	check "pod: start both" q "${SHIMN[@]}" start "$PFX-pod-crun"
	p1=$(runc --root "$ROOT" state "$PFX-pod-runc" | jq -r .pid)
	p2=$("$CRUN" --root "$CROOT_CRUN" state "$PFX-pod-crun" | jq -r .pid)
	is "pod: the crun member joined the runc member's net, ipc and uts namespaces" \
		"$(ns_inode "$p2" net):$(ns_inode "$p2" ipc):$(ns_inode "$p2" uts)" \
		"$(ns_inode "$p1" net):$(ns_inode "$p1" ipc):$(ns_inode "$p1" uts)"
	check "pod: delete crun member" q "${SHIMN[@]}" delete --force "$PFX-pod-crun"
	check "pod: delete runc member" q "${SHIMN[@]}" delete --force "$PFX-pod-runc"
	is "pod: torn down after its mixed members" "$(pods_left)" 0
fi

check "no class: delete" q "${SHIMN[@]}" delete --force "$id"

# --- gVisor as a class -------------------------------------------------------

if [[ -z $RUNSC_BIN ]]; then
	skip "gVisor class" "runsc is not installed (apt-get install runsc)"
else
	# runsc's stdio: never a host device node (STDIN above); the script's
	# own stdin too, which `check` and `is` pass on.
	STDIN=$T/out/gvisor-stdin
	: >"$STDIN"
	exec <"$STDIN"
	mkbundle gv 'sleep 1000' '.annotations["podshim.runtime"] = "gvisor"'
	g=$PFX-gv
	check "gVisor class: create" q "${SHIMC[@]}" create --bundle "$BUNDLE" --pid-file "$T/out/gv.pid" "$g"
	check "gVisor class: start" q "${SHIMN[@]}" start "$g"
	is "gVisor class: exec runs in gVisor's kernel" "$("${SHIMN[@]}" exec "$g" uname -r <"$STDIN")" 4.4.0
	is "gVisor class: state" "$("${SHIMN[@]}" state "$g" | jq -r .status)" running
	is "gVisor class: list" "$("${SHIMC[@]}" list --format json | jq -r '.[].id')" "$g"
	check "gVisor class: kill" q "${SHIMN[@]}" kill "$g" KILL
	check "gVisor class: delete --force" q "${SHIMN[@]}" delete --force "$g"
	[[ ! -e $(record "$g") ]] && ok "gVisor class: record removed" || not_ok "gVisor class: record removed"

	# In a pod: gVisor joins the pod's network namespace, but its own network
	# stack (--network=none: loopback only) is gVisor's, not the pod's.
	mkbundle gvpod1 'echo from-runc >/shared/f; exec httpd -f -p 127.0.0.1:8080 -h /shared' \
		'.annotations["podshim.pod"] = "gv" | .annotations["podshim.volumes"] = "/shared"'
	check "gVisor pod: runc member" q "${SHIMC[@]}" create --bundle "$BUNDLE" "$PFX-gvp1"
	check "gVisor pod: start runc member" q "${SHIMN[@]}" start "$PFX-gvp1"
	mkbundle gvpod2 'sleep 1000' '.annotations["podshim.pod"] = "gv" | .annotations["podshim.runtime"] = "gvisor"
		| .annotations["podshim.volumes"] = "/shared"'
	check "gVisor pod: gVisor member" q "${SHIMC[@]}" create --bundle "$BUNDLE" --pid-file "$T/out/gvp2.pid" "$PFX-gvp2"
	check "gVisor pod: start" q "${SHIMN[@]}" start "$PFX-gvp2"
	is "gVisor pod: the gVisor member reads the pod volume" \
		"$("${SHIMN[@]}" exec "$PFX-gvp2" cat /shared/f <"$STDIN" 2>&1)" from-runc
	check "gVisor pod: the runc member's httpd answers in the pod" \
		runc --root "$ROOT" exec "$PFX-gvp1" wget -qO /dev/null http://127.0.0.1:8080/f
	check_fails "gVisor pod: the gVisor member cannot reach it (gVisor's own network stack)" \
		"${SHIMN[@]}" exec "$PFX-gvp2" wget -T 2 -qO /dev/null http://127.0.0.1:8080/f
	check "gVisor pod: delete gVisor member" q "${SHIMN[@]}" delete --force "$PFX-gvp2"
	check "gVisor pod: delete runc member" q "${SHIMN[@]}" delete --force "$PFX-gvp1"
	is "gVisor pod: torn down" "$(pods_left)" 0
fi

done_testing

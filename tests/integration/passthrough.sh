#!/usr/bin/env bash
# podshim is a pass-through: the same bundles run with the delegate directly
# and through podshim give the same exit status, stdout and stderr; argv
# reaches the delegate byte for byte; podshim's own options and environment
# are honoured. Run once with runc and once with crun as the delegate.
# shellcheck disable=SC2016 # single-quoted scripts and jq filters are meant literally
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_setup passthrough

# pair NAME DESC FILTER -- ARGS...: runs `DIRECT ARGS` and `SHIM ARGS` (in that
# order, so both can use the same container ID) and compares them.
pair() {
	local name=$1 desc=$2 filter=$3
	shift 4
	capture "$name.d" "${DIRECT[@]}" "$@"
	capture "$name.s" "${SHIM[@]}" "$@"
	same_result "$name.d" "$name.s" "$DLG: $desc" "$filter"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# A fake delegate: dumps its arguments NUL-separated to $FAKE_OUT, exits $FAKE_RC.
FAKE=$T/bin/fake-runtime
cat >"$FAKE" <<'EOF'
#!/usr/bin/env bash
printf '%s\0' "$@" >"${FAKE_OUT:?}"
exit "${FAKE_RC:-0}"
EOF
chmod 755 "$FAKE"

# argv_is DESC FILE ARGS...: FILE holds exactly ARGS, NUL-separated.
argv_is() {
	local desc=$1 file=$2
	shift 2
	if [[ ! -f $file ]]; then
		not_ok "$desc" "the delegate did not run"
		return
	fi
	if cmp -s "$file" <(printf '%s\0' "$@"); then
		ok "$desc"
	else
		not_ok "$desc" "got:  $(tr '\0' '|' <"$file" | od -c | head -20)" \
			"want: $(printf '%s|' "$@" | od -c | head -20)"
	fi
}

# --- the delegate-independent part: argv, podshim's options --------------

argv_tests() {
	local out=$T/out/argv fake2=$T/bin/fake-other
	cp "$FAKE" "$fake2"
	local weird=("a b" "" "ünïcødé ✓ 日本" "--" "-" "a=b" "--x=y=z" $'line1\nline2' $'\t' "'q\"" '$HOME' '*' "--podshim-state" "/not/removed" "--podshim-runtime=x")

	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-runtime "$FAKE" --root "$T/r oot" "" list "${weird[@]}"
	argv_is "argv: empty command and unusual arguments arrive byte for byte" "$out" \
		--root "$T/r oot" "" list "${weird[@]}"

	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state="$S" --debug --podshim-runtime "$FAKE" --log "$T/out/l og" \
		--log-format=json -root=x --podshim-state "$S" state "${weird[@]}"
	argv_is "argv: podshim's options before the command are removed, nothing else" "$out" \
		--debug --log "$T/out/l og" --log-format=json -root=x state "${weird[@]}"

	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-runtime="$FAKE" -- list --podshim-state x
	argv_is "argv: \`--\` before the command" "$out" -- list --podshim-state x

	# create/run/delete of non-pod containers are exec'd untouched too.
	mkbundle argv 'true'
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		create --bundle "$BUNDLE" --pid-file "$T/out/p id" -- "$(cid 'we ird')"
	argv_is "argv: create of a non-pod container" "$out" --root "$T/root-fake" \
		create --bundle "$BUNDLE" --pid-file "$T/out/p id" -- "$(cid 'we ird')"
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" run -b="$BUNDLE" --detach=true "$(cid x)" ""
	argv_is "argv: run with odd flag forms" "$out" run -b="$BUNDLE" --detach=true "$(cid x)" ""
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" delete -f $'x\ny'
	argv_is "argv: delete of an unknown container with a newline in its ID" "$out" delete -f $'x\ny'

	# A pod member: podshim runs the delegate as a child, same argv.
	mkbundle argvpod 'true' '.annotations["podshim.pod"] = "argv"'
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		--log-format text create --bundle="$BUNDLE" --no-pivot "$(cid argvpod)"
	argv_is "argv: create of a pod member" "$out" --root "$T/root-fake" --log-format text \
		create --bundle="$BUNDLE" --no-pivot "$(cid argvpod)"
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		delete --force=true "$(cid argvpod)"
	argv_is "argv: delete of a pod member" "$out" --root "$T/root-fake" delete --force=true "$(cid argvpod)"
	is "argv: the fake pod is gone after its member's delete" "$(pods_left)" 0

	# runc 1.2's --pidfd-socket takes a value: the member still joins its pod.
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		create --pidfd-socket "$T/out/pidfd" --bundle "$BUNDLE" "$(cid argvpod)"
	argv_is "argv: a member's create with --pidfd-socket PATH" "$out" --root "$T/root-fake" \
		create --pidfd-socket "$T/out/pidfd" --bundle "$BUNDLE" "$(cid argvpod)"
	is "argv: (and it is in its pod)" "$(pods_left)" 1
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		delete --no-such-option "$(cid argvpod)" 2>"$T/out/uncertain.err"
	is "argv: a member's delete with an unknown option is refused" \
		"$?:$(test -e "$out" && echo ran):$(pods_left)" "1::1"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		delete -f "$(cid argvpod)"
	is "argv: (gone after its delete)" "$(pods_left)" 0
	# Options podshim cannot be sure of: refused for a member, passed for others.
	local how
	for how in "--no-such-option" "--pidfd-socket" "-f $BUNDLE/config.json"; do
		rm -f "$out"
		# shellcheck disable=SC2086 # the split is the point
		FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
			create --bundle "$BUNDLE" $how "$(cid argvpod)" 2>"$T/out/uncertain.err"
		is "argv: a member's create with \`${how%% *}\` is refused (the delegate never runs)" \
			"$?:$(test -e "$out" && echo ran):$(pods_left)" "1::0"
	done
	mkbundle argvplain 'true'
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" \
		create --no-such-option x --bundle "$BUNDLE" "$(cid argvplain)"
	argv_is "argv: a non-member's create with an unknown option passes untouched" "$out" \
		create --no-such-option x --bundle "$BUNDLE" "$(cid argvplain)"
	# crun's -f/--config: the file it names decides, not config.json.
	jq '.annotations["podshim.pod"] = "argv"' "$BUNDLE/config.json" >"$BUNDLE/member.json"
	rm -f "$out"
	FAKE_OUT=$out "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" \
		create --config member.json --bundle "$BUNDLE" "$(cid argvplain)" 2>"$T/out/config.err"
	is "argv: crun's --config naming a member's file is refused" "$?:$(test -e "$out" && echo ran)" "1:"

	# Exit status of the delegate.
	FAKE_OUT=$out FAKE_RC=42 "$PODSHIM" --podshim-runtime "$FAKE" list
	is "exit status of an exec'd delegate" "$?" 42
	FAKE_OUT=$out FAKE_RC=43 "$PODSHIM" --podshim-state "$S" --podshim-runtime "$FAKE" --root "$T/root-fake" \
		create --bundle "$BUNDLE" "$(cid argvpod2)" 2>/dev/null
	is "exit status of a failed pod-member create" "$?" 43
	is "a failed pod-member create leaves no pod" "$(pods_left)" 0

	# Option beats environment; environment beats the default.
	rm -f "$out"
	FAKE_OUT=$out PODSHIM_DELEGATE=$fake2 "$PODSHIM" list x
	argv_is "PODSHIM_DELEGATE chooses the delegate" "$out" list x
	rm -f "$out"
	FAKE_OUT=$out PODSHIM_DELEGATE=$T/bin/nonexistent "$PODSHIM" --podshim-runtime "$FAKE" list y
	argv_is "--podshim-runtime wins over PODSHIM_DELEGATE" "$out" list y
	capture norun env PODSHIM_DELEGATE="$T/bin/nonexistent" "$PODSHIM" list
	if [[ $(<"$T/out/norun.rc") != 0 ]] && grep -q "podshim: .*nonexistent" "$T/out/norun.err"; then
		ok "a missing delegate is reported by podshim"
	else
		not_ok "a missing delegate is reported by podshim" "rc $(<"$T/out/norun.rc")" "$(<"$T/out/norun.err")"
	fi
}

# --- per delegate ----------------------------------------------------------

run_tests() {
	local id

	# run, foreground: output and exit status.
	mkbundle out 'echo to-stdout; echo to-stderr >&2; echo "args: $0"'
	id=$(cid out)
	pair run "run: stdout, stderr, status" cat -- run -b "$BUNDLE" "$id"
	is "$DLG: run: the container ran" \
		"$(cat "$T/out/run.s.out" "$T/out/run.s.err")" $'to-stdout\nargs: sh\nto-stderr'

	mkbundle seven 'echo bye; exit 7'
	id=$(cid seven)
	pair seven "run: a container exiting 7" cat -- run --bundle "$BUNDLE" "$id"
	is "$DLG: podshim returns the container's 7" "$(<"$T/out/seven.s.rc")" 7

	# Killed by a signal: without a PID namespace sh is not PID 1, so
	# `kill -9 $$` kills it.
	mkbundle sig 'echo before; kill -9 $$; echo after' '.linux.namespaces |= map(select(.type != "pid"))'
	id=$(cid sig)
	pair sig "run: a container killed by SIGKILL" cat -- run -b "$BUNDLE" "$id"
	is "$DLG: podshim returns the delegate's status for a signal ($(<"$T/out/sig.d.rc"))" \
		"$(<"$T/out/sig.s.rc")" "$(<"$T/out/sig.d.rc")"

	# stdin passes through.
	mkbundle cat 'cat'
	id=$(cid cat)
	local a b
	a=$(echo hi | "${DIRECT[@]}" run -b "$BUNDLE" "$id" 2>&1)
	b=$(echo hi | "${SHIM[@]}" run -b "$BUNDLE" "$id" 2>&1)
	is "$DLG: stdin reaches the container (got \`$a\`)" "$b" "$a"
	mkbundle catpod 'cat' '.annotations["podshim.pod"] = "stdin"'
	b=$(echo hi | "${SHIM[@]}" run -b "$BUNDLE" "$(cid catpod)" 2>&1)
	is "$DLG: stdin reaches a pod member run in the foreground" "$b" "hi"

	# Malformed config.json.
	mkdir -p "$T/bundles/bad"
	printf '{"ociVersion": "1.0.2", "process": {' >"$T/bundles/bad/config.json"
	pair bad "run: malformed config.json" cat -- run -b "$T/bundles/bad" "$(cid bad)"
	# A bundle that does not exist.
	pair nobundle "run: missing bundle" cat -- run -b "$T/bundles/nonexistent" "$(cid nob)"
}

# A container that names no pod is never failed by podshim: whatever podshim
# cannot read or parse (runc accepts \u0000 in a string; Docker's
# config.v2.json garbage, unreadable or huge) leaves it to the delegate.
nonmember_tests() {
	local id dir v2 digest kind
	mkbundle nmnul 'echo ran' '.annotations["x"] = "a\u0000b" | .process.env += ["PODSHIM_SHARE=net"]'
	digest=$(sha "$BUNDLE/config.json")
	pair nmnul "non-member with \\u0000 in an annotation" cat -- run -b "$BUNDLE" "$(cid nmnul)"
	is "$DLG: (config.json byte-identical)" "$(sha "$BUNDLE/config.json")" "$digest"
	for kind in garbage directory huge; do
		id=$(cid "nm$kind")
		dir=$T/docker/containers/$id
		rm -rf "$dir"
		mkdir -p "$dir"
		echo "$id" >"$dir/hostname"
		v2=$dir/config.v2.json
		case $kind in
		garbage) printf '{"Config":{"Labels":{"podshim.share":' >"$v2" ;;
		directory) mkdir "$v2" ;;
		huge) truncate -s 40M "$v2" ;;
		esac
		mkbundle "nm$kind" 'cat /etc/hostname' \
			'.mounts += [{destination: "/etc/hostname", type: "bind", source: $src, options: ["rbind", "ro"]}]' \
			--arg src "$dir/hostname"
		digest=$(sha "$BUNDLE/config.json")
		pair "nm$kind" "Docker non-member whose config.v2.json is $kind" cat -- run -b "$BUNDLE" "$id"
		is "$DLG: (it ran, config.json byte-identical)" \
			"$(<"$T/out/nm$kind.s.out"):$(sha "$BUNDLE/config.json")" "$id:$digest"
	done
	rm -rf "$T/docker"
}

lifecycle_tests() {
	local id
	mkbundle life 'trap "exit 0" TERM; sleep 1000 & wait' # a fixed set of processes for ps
	id=$(cid life)
	local digest
	digest=$(sha "$BUNDLE/config.json")
	local side
	for side in d s; do
		local R
		if [[ $side == d ]]; then R=("${DIRECT[@]}"); else R=("${SHIM[@]}"); fi
		capture "lc.create.$side" "${R[@]}" create -b "$BUNDLE" "$id"
		capture "lc.state1.$side" "${R[@]}" state "$id"
		[[ $side == s ]] && is "$DLG: config.json of a non-pod container byte-identical after create" \
			"$(sha "$BUNDLE/config.json")" "$digest"
		capture "lc.start.$side" "${R[@]}" start "$id"
		capture "lc.state2.$side" "${R[@]}" state "$id"
		capture "lc.list.$side" "${R[@]}" list
		capture "lc.listj.$side" "${R[@]}" list --format json
		capture "lc.listq.$side" "${R[@]}" list -q
		capture "lc.ps.$side" "${R[@]}" ps "$id"
		capture "lc.psj.$side" "${R[@]}" ps --format json "$id"
		capture "lc.exec.$side" "${R[@]}" exec "$id" sh -c 'echo in-exec; echo err-exec >&2; exit 4'
		capture "lc.deln.$side" "${R[@]}" delete "$id"
		capture "lc.kill.$side" "${R[@]}" kill "$id" TERM
		wait_status "$id" stopped
		capture "lc.state3.$side" "${R[@]}" state "$id"
		capture "lc.kill2.$side" "${R[@]}" kill "$id" KILL
		capture "lc.delete.$side" "${R[@]}" delete "$id"
		capture "lc.state4.$side" "${R[@]}" state "$id"
		[[ $side == s ]] && is "$DLG: config.json of a non-pod container byte-identical after delete" \
			"$(sha "$BUNDLE/config.json")" "$digest"
	done
	local st='jq -S "del(.pid, .created, .bundle)"'
	same_result lc.create.d lc.create.s "$DLG: create"
	same_result lc.state1.d lc.state1.s "$DLG: state of a created container" "$st"
	same_result lc.start.d lc.start.s "$DLG: start"
	same_result lc.state2.d lc.state2.s "$DLG: state of a running container" "$st"
	same_result lc.list.d lc.list.s "$DLG: list" norm_list
	same_result lc.listj.d lc.listj.s "$DLG: list --format json" 'jq -S "map(del(.pid, .created))"'
	same_result lc.listq.d lc.listq.s "$DLG: list -q"
	same_result lc.ps.d lc.ps.s "$DLG: ps" norm_list
	same_result lc.psj.d lc.psj.s "$DLG: ps --format json" 'jq length'
	same_result lc.exec.d lc.exec.s "$DLG: exec (output and status 4)"
	same_result lc.deln.d lc.deln.s "$DLG: delete of a running container fails alike"
	same_result lc.kill.d lc.kill.s "$DLG: kill TERM"
	same_result lc.state3.d lc.state3.s "$DLG: state of a stopped container" "$st"
	same_result lc.kill2.d lc.kill2.s "$DLG: kill of a stopped container"
	same_result lc.delete.d lc.delete.s "$DLG: delete"
	same_result lc.state4.d lc.state4.s "$DLG: state of a deleted container"
	is "$DLG: the container went through created, running, stopped" \
		"$(jq -r .status <"$T/out/lc.state1.s.out") $(jq -r .status <"$T/out/lc.state2.s.out") $(jq -r .status <"$T/out/lc.state3.s.out")" \
		"created running stopped"
	is "$DLG: exec ran" "$(<"$T/out/lc.exec.s.out") $(<"$T/out/lc.exec.s.rc")" "in-exec 4"

	# A config.json that mentions podshim but names no pod is parsed, and
	# still left byte-identical.
	mkbundle mention 'true' '.process.env += ["PODSHIM_SHARE=net"] | .annotations["podshim.volumes"] = "/v"'
	digest=$(sha "$BUNDLE/config.json")
	capture mention "${SHIM[@]}" run -b "$BUNDLE" "$(cid mention)"
	is "$DLG: config.json mentioning podshim but naming no pod: runs, byte-identical" \
		"$(<"$T/out/mention.rc") $(sha "$BUNDLE/config.json")" "0 $digest"

	# delete --force on a running container.
	mkbundle force 'sleep 1000'
	id=$(cid force)
	for side in d s; do
		local R
		if [[ $side == d ]]; then R=("${DIRECT[@]}"); else R=("${SHIM[@]}"); fi
		"${R[@]}" run -d -b "$BUNDLE" "$id" </dev/null >/dev/null 2>&1
		capture "force.$side" "${R[@]}" delete --force "$id"
		capture "force2.$side" "${R[@]}" state "$id"
	done
	same_result force.d force.s "$DLG: delete --force of a running container"
	same_result force2.d force2.s "$DLG: it is gone"
}

misc_tests() {
	pair features "features (stdout byte-identical)" cat -- features
	pair nostate "state of a missing container" cat -- state nosuch
	pair nodelete "delete of a missing container" cat -- delete nosuch
	pair nodelete2 "delete --force of a missing container" cat -- delete --force nosuch
	pair nokill "kill of a missing container" cat -- kill nosuch
	pair help "help" cat -- --help
	pair badcmd "an unknown command" cat -- no-such-command

	# --version: the delegate's output exactly (tools read its first line),
	# then podshim's line; the delegate's exit status.
	local v n
	for v in --version -v; do
		capture "ver.d" "${DIRECT[@]}" "$v"
		capture "ver.s" "${SHIM[@]}" "$v"
		n=$(wc -l <"$T/out/ver.d.out")
		if cmp -s <(head -n "$n" "$T/out/ver.s.out") "$T/out/ver.d.out" \
			&& [[ $(tail -n +"$((n + 1))" "$T/out/ver.s.out") =~ ^podshim\ version\ [0-9]+\.[0-9]+\.[0-9]+[^$'\n']*$ ]] \
			&& [[ $(<"$T/out/ver.s.rc") == "$(<"$T/out/ver.d.rc")" ]]; then
			ok "$DLG: $v prints the delegate's output, then podshim's version line"
		else
			not_ok "$DLG: $v prints the delegate's output, then podshim's version line" \
				"$(cat "$T/out/ver.s.out")" "---" "$(cat "$T/out/ver.d.out")"
		fi
	done

	# Global flags in every form.
	mkbundle flags 'sleep 1000'
	local id
	id=$(cid flags)
	"${DIRECT[@]}" run -d -b "$BUNDLE" "$id" </dev/null >/dev/null 2>&1
	local shimx=("${SHIM[@]:0:${#SHIM[@]}-2}") # SHIM without --root X
	local form i=0 labels=("--root X" "--root=X" "-root X" "-root=X")
	for form in "--root $RT_ROOT" "--root=$RT_ROOT" "-root $RT_ROOT" "-root=$RT_ROOT"; do
		i=$((i + 1))
		# shellcheck disable=SC2086 # word splitting of the form is the point
		capture "form$i.d" "$RT_BIN" $form state "$id"
		# shellcheck disable=SC2086
		capture "form$i.s" "${shimx[@]}" $form state "$id"
		same_result "form$i.d" "form$i.s" "$DLG: global flag form \`${labels[i - 1]}\`" 'jq -S "del(.created)"'
	done
	pair debug "--debug" cat -- --debug state "$id"
	# ps: the C (recent CPU %) column moves between two calls under load.
	pair debug2 "--debug=true after --root" "awk '{ \$4 = \"\"; print }'" -- --debug=true ps "$id"
	# --log and --log-format json: same log lines.
	capture logd "${DIRECT[@]}" --log "$T/out/log.d" --log-format json state nosuch
	capture logs "${SHIM[@]}" --log "$T/out/log.s" --log-format json state nosuch
	same_result logd logs "$DLG: --log F --log-format json, exit status and output"
	same_files "$DLG: --log F --log-format json, the log file" \
		<(norm_err <"$T/out/log.d" 2>/dev/null) <(norm_err <"$T/out/log.s" 2>/dev/null)
	"${DIRECT[@]}" delete --force "$id" >/dev/null 2>&1

	# A podshim error (an invalid pod name) goes to stderr and the log file.
	mkbundle badpod 'true' '.annotations["podshim.pod"] = "bad/name"'
	id=$(cid badpod)
	rm -f "$T/out/log.p"
	capture badpod "${SHIM[@]}" --log "$T/out/log.p" --log-format json create -b "$BUNDLE" "$id"
	if [[ $(<"$T/out/badpod.rc") != 0 ]] && grep -q '^podshim: .*invalid pod name' "$T/out/badpod.err"; then
		ok "$DLG: a podshim error is reported on stderr"
	else
		not_ok "$DLG: a podshim error is reported on stderr" "rc $(<"$T/out/badpod.rc")" "$(cat "$T/out/badpod.err")"
	fi
	if [[ -f $T/out/log.p ]] && jq -e 'select(.level == "error") | (.msg | startswith("podshim: ")) and (.time | type == "string")' \
		"$T/out/log.p" >/dev/null 2>&1; then
		ok "$DLG: a podshim error is logged as a json error line"
	else
		not_ok "$DLG: a podshim error is logged as a json error line" "$(cat "$T/out/log.p" 2>&1)"
	fi
	"${DIRECT[@]}" delete --force "$id" >/dev/null 2>&1
	rm -f "$T/out/log.p"
	capture badpod2 "${SHIM[@]}" --log "$T/out/log.p" create -b "$BUNDLE" "$id"
	if grep -qE '^time="[^"]+" level=error msg="podshim: .*invalid pod name' "$T/out/log.p" 2>/dev/null; then
		ok "$DLG: in the text log format too"
	else
		not_ok "$DLG: in the text log format too" "$(cat "$T/out/log.p" 2>&1)"
	fi
	"${DIRECT[@]}" delete --force "$id" >/dev/null 2>&1
}

pod_option_tests() {
	# --podshim-state=X, PODSHIM_STATE, option over environment; the root each
	# global flag form names is the one podshim keys the pod by.
	local sa=$T/state-env-$DLG sb=$T/state-opt-$DLG id
	mkbundle popt 'sleep 1000' '.annotations["podshim.pod"] = "opt"'
	id=$(cid popt)
	local shimx=("$PODSHIM")
	[[ $DLG == crun ]] && shimx+=(--podshim-runtime "$RT_BIN")
	PODSHIM_STATE=$sa "${shimx[@]}" --podshim-state="$sb" --root "$RT_ROOT" create -b "$BUNDLE" "$id"
	if [[ -d $sb ]] && compgen -G "$sb/*/pods/opt/pod.json" >/dev/null && [[ ! -e $sa ]]; then
		ok "$DLG: --podshim-state=X wins over PODSHIM_STATE"
	else
		not_ok "$DLG: --podshim-state=X wins over PODSHIM_STATE" "$(find "$sa" "$sb" 2>&1)"
	fi
	PODSHIM_STATE=$sa "${shimx[@]}" --podshim-state "$sb" --root "$RT_ROOT" delete --force "$id"
	is "$DLG: delete --force tears the pod down in that state dir" \
		"$(find "$sb" -path '*/pods/*' 2>/dev/null)" ""

	PODSHIM_STATE=$sa "${shimx[@]}" --root "$RT_ROOT" create -b "$BUNDLE" "$id"
	if compgen -G "$sa/*/pods/opt/pod.json" >/dev/null; then
		ok "$DLG: PODSHIM_STATE chooses the state dir"
	else
		not_ok "$DLG: PODSHIM_STATE chooses the state dir" "$(find "$sa" "$sb" 2>&1)"
	fi
	PODSHIM_STATE=$sa "${shimx[@]}" --root "$RT_ROOT" delete --force "$id"
	is "$DLG: and delete finds it there" "$(find "$sa" -path '*/pods/*' 2>/dev/null)" ""

	local form
	local forms=("--root $RT_ROOT" "--root=$RT_ROOT")
	[[ $DLG == runc ]] && forms+=("-root $RT_ROOT" "-root=$RT_ROOT") # crun has no -root
	for form in "${forms[@]}"; do
		# shellcheck disable=SC2086
		"${shimx[@]}" --podshim-state "$S" $form create -b "$BUNDLE" "$id"
		local root
		root=$("$PODSHIM" --podshim-state "$S" pod list --format json 2>/dev/null | jq -r '.[0].root')
		is "$DLG: \`${form/"$RT_ROOT"/X}\` names the pod's root" "$root" "$RT_ROOT"
		# shellcheck disable=SC2086
		"${shimx[@]}" --podshim-state "$S" $form delete --force "$id"
	done
	unmount_under "$sa"
	unmount_under "$sb"
}

signal_tests() {
	# SIGTERM to a foreground run reaches the container, which traps it and
	# exits 3: directly, through podshim, and for a pod member.
	local bundle_plain bundle_pod
	mkbundle term 'trap "exit 3" TERM; echo ready; while :; do sleep 0.05; done'
	bundle_plain=$BUNDLE
	mkbundle termpod 'trap "exit 3" TERM; echo ready; while :; do sleep 0.05; done' \
		'.annotations["podshim.pod"] = "sig"'
	bundle_pod=$BUNDLE
	local side
	for side in direct shim pod; do
		local R b=$bundle_plain id
		id=$(cid "term-$side")
		case $side in
		direct) R=("${DIRECT[@]}") ;;
		shim) R=("${SHIM[@]}") ;;
		pod)
			R=("${SHIM[@]}")
			b=$bundle_pod
			;;
		esac
		rm -f "$T/out/term.out"
		"${R[@]}" run -b "$b" "$id" </dev/null >"$T/out/term.out" 2>"$T/out/term.err" &
		local pid=$!
		BG_PIDS+=("$pid")
		if ! wait_file "$T/out/term.out" 500; then
			not_ok "$DLG: $side: SIGTERM to a foreground run" "the container did not start" "$(cat "$T/out/term.err")"
			continue
		fi
		kill -TERM "$pid"
		wait "$pid"
		is "$DLG: $side: SIGTERM to a foreground run reaches the container (exit 3)" "$?" 3
	done
}

# New options of runc 1.2+ with the real delegate, where it has them: a
# member's create with --pidfd-socket hands the caller a pidfd of the
# container's init, as the delegate's own does; `run --keep` keeps the
# stopped container (of a pod member too) until its delete.
newflag_tests() {
	local side id pid recv
	if ! "${DIRECT[@]}" create --help 2>&1 | grep -q -- '--pidfd-socket'; then
		skip "$DLG: create --pidfd-socket" "$("${DIRECT[@]}" --version | head -n1) has no --pidfd-socket"
	else
		for side in direct pod; do
			id=$(cid "pidfd-$side")
			if [[ $side == pod ]]; then
				mkbundle "pidfd-$side" 'sleep 1000' '.annotations["podshim.pod"] = "pidfd"'
			else
				mkbundle "pidfd-$side" 'sleep 1000'
			fi
			rm -f "$T/out/pidfd.sock" "$T/out/pidfd.pid"
			timeout 30 python3 "$IT_DIR/pidfd_recv.py" "$T/out/pidfd.sock" "$T/out/pidfd.pid" \
				</dev/null >"$T/out/pidfd.recv" 2>&1 &
			recv=$!
			BG_PIDS+=("$recv")
			wait_for_socket "$T/out/pidfd.sock"
			if [[ $side == direct ]]; then
				capture "pidfd.$side" timeout 60 "${DIRECT[@]}" create --pidfd-socket "$T/out/pidfd.sock" \
					--bundle "$BUNDLE" "$id"
			else
				capture "pidfd.$side" timeout 60 "${SHIM[@]}" create --pidfd-socket "$T/out/pidfd.sock" \
					--bundle "$BUNDLE" "$id"
			fi
			wait "$recv"
			pid=$(init_pid "$id")
			is "$DLG: $side: create --pidfd-socket hands over a pidfd of the container's init" \
				"$(cat "$T/out/pidfd.$side.rc"):$(cat "$T/out/pidfd.pid" 2>/dev/null)" "0:$pid"
			if [[ $side == pod ]]; then
				is "$DLG: pod: (and the container is a member of pod pidfd)" \
					"$(ns_inode "$pid" net)" "$(ns_inode "$(pod_holder pidfd)" net)"
			fi
			timeout 60 "${SHIM[@]}" delete --force "$id" </dev/null >/dev/null 2>&1
		done
	fi
	# runc 1.4 dropped the global --criu (runc 1.1-1.3 and podshim's table
	# take it with a value): a member's create with it fails as the
	# delegate's own does, and leaves no pod.
	if [[ $DLG == runc ]] && ! "${DIRECT[@]}" --criu /usr/sbin/criu list >/dev/null 2>&1; then
		mkbundle criu-plain 'sleep 1000'
		capture criu.d "$RT_BIN" --criu /usr/sbin/criu --root "$RT_ROOT" create -b "$BUNDLE" "$(cid criu)"
		mkbundle criu-pod 'sleep 1000' '.annotations["podshim.pod"] = "criu"'
		capture criu.s "$PODSHIM" --podshim-state "$S" --criu /usr/sbin/criu --root "$RT_ROOT" \
			create -b "$BUNDLE" "$(cid criu)"
		same_result criu.d criu.s "$DLG: a member's create with --criu, which this runc dropped, fails as its own"
		is "$DLG: (and leaves no pod)" "$(pods_left)" 0
	fi
	if ! "${DIRECT[@]}" run --help 2>&1 | grep -q -- '--keep'; then
		skip "$DLG: run --keep" "$("${DIRECT[@]}" --version | head -n1) has no run --keep"
		return 0
	fi
	mkbundle keep-plain 'exit 5'
	capture keep.d timeout 60 "${DIRECT[@]}" run --keep -b "$BUNDLE" "$(cid keep-d)"
	capture keepst.d "${DIRECT[@]}" state "$(cid keep-d)"
	capture keepdel.d "${DIRECT[@]}" delete "$(cid keep-d)"
	mkbundle keep-pod 'exit 5' '.annotations["podshim.pod"] = "keep"'
	capture keep.s timeout 60 "${SHIM[@]}" run --keep -b "$BUNDLE" "$(cid keep-d)"
	capture keepst.s "${SHIM[@]}" state "$(cid keep-d)"
	capture keepdel.s "${SHIM[@]}" delete "$(cid keep-d)"
	same_result keep.d keep.s "$DLG: a pod member's run --keep exits as the delegate's (5)"
	same_result keepst.d keepst.s "$DLG: run --keep: the member stays, stopped" 'jq -S "del(.pid, .created, .annotations, .bundle)"'
	same_result keepdel.d keepdel.s "$DLG: run --keep: delete removes it"
	is "$DLG: run --keep: no pod left" "$(pods_left)" 0
}

# wait_for_socket PATH: until the unix socket PATH exists (5 s).
wait_for_socket() {
	local tries=250
	while ((tries-- > 0)); do
		[[ -S $1 ]] && return 0
		sleep 0.02
	done
	return 1
}

# pod_holder POD: the PID of POD's holder.
pod_holder() {
	jq -r '.holder.pid' "$S"/*/pods/"$1"/pod.json 2>/dev/null | head -n1
}

argv_tests
assert_clean "argv"
for d in $(test_delegate_kinds); do
	if [[ $d == crun && -z $CRUN ]]; then
		skip "crun as the delegate" "crun is not installed"
		continue
	fi
	use_delegate "$d"
	run_tests
	nonmember_tests
	lifecycle_tests
	misc_tests
	pod_option_tests
	signal_tests
	newflag_tests
	assert_clean "$d"
done
done_testing

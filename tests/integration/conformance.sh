#!/usr/bin/env bash
# A differential battery: every scenario runs three times per delegate (runc,
# crun) and writes a transcript of what a caller observes (commands, exit
# statuses, normalised stdout and stderr, hook input, console output):
#   direct  the delegate itself
#   shim    through podshim, a plain container
#   pod     through podshim, the container a member of pod conf-<n>
# The shim and pod transcripts must equal the direct one. A pod member also
# gets checks of what must change: its net/ipc/uts namespaces are the pod's
# pinned ones and its hostname is the pod's name. After every run: no pods,
# no mounts under the temp dir, no processes left.
# shellcheck disable=SC2016 # single-quoted scripts and jq filters are meant literally
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_setup conformance

RECV=$IT_DIR/console_recv.py
PYTHON=$(command -v python3 || true)

# A hook: a busybox sh script on the host that saves its stdin (the state).
cat >"$T/bin/hook" <<'EOF'
#!/bin/busybox sh
cat >"$1"
EOF
chmod 755 "$T/bin/hook"

MODE=        # direct, shim or pod
POD=         # the pod's name in pod mode
POD_SHARE=   # namespaces the pod member shares (pod mode)
SC=          # the scenario's name
SC_N=0       # its number
ID=          # the scenario's container ID
TR=          # the transcript file
CLEAN_FAIL=() # what was left behind, per run

R() {
	if [[ $MODE == direct ]]; then
		"${DIRECT[@]}" "$@"
	else
		"${SHIM[@]}" "$@"
	fi
}

# rec [-f FILTER] ARGS...: runs `R ARGS` and appends the command, its stdout
# (through FILTER), stderr and exit status to the transcript.
rec() {
	local filter=cat rc
	if [[ $1 == -f ]]; then
		filter=$2
		shift 2
	fi
	R "$@" </dev/null >"$T/rec.out" 2>"$T/rec.err"
	rc=$?
	{
		printf '$ %s\n' "$(printf '%q ' "$@" | sed "s|$T|T|g")"
		eval "$filter" <"$T/rec.out" 2>&1
		norm_err <"$T/rec.err" | sed "s|$T|T|g; s/^/! /"
		echo "rc=$rc"
	} >>"$TR"
}

note() {
	printf '%s\n' "$*" | sed "s|$T|T|g" >>"$TR"
}

ST='jq -S "del(.pid, .created, .annotations)"'

# mkb SCRIPT [FILTER [JQ_ARGS...]]: the scenario's bundle (at the same path in
# every mode); a pod member's in pod mode. Sets B.
B=
mkb() {
	local script=$1 filter=${2:-.}
	shift 2 2>/dev/null || shift $#
	if [[ $MODE == pod ]]; then
		local share
		share=$(tr ' ' ',' <<<"$POD_SHARE")
		filter="$filter | .annotations[\"podshim.pod\"] = \$pod"
		# podshim.share only when it is not the default (net,ipc,uts).
		[[ $share == net,ipc,uts ]] || filter="$filter | .annotations[\"podshim.share\"] = \$share"
		mkbundle "$SC" "$script" "$filter" --arg pod "$POD" --arg share "$share" "$@"
	else
		mkbundle "$SC" "$script" "$filter" "$@"
	fi
	B=$BUNDLE
}

# pod_checks: in pod mode, the running container $ID is in the pod's shared
# namespaces, and (sharing uts) has the pod's name as its hostname.
pod_checks() {
	[[ $MODE == pod ]] || return 0
	local pid ns f bad=() a b
	pid=$(init_pid "$ID")
	for ns in $POD_SHARE; do
		a=$(ns_inode "$pid" "$ns")
		f=$(pod_ns_file "$POD" "$ns") || { bad+=("no pinned $ns namespace for pod $POD"); continue; }
		b=$(stat -L -c %i "$f")
		[[ -n $a && $a == "$b" ]] || bad+=("$ns: container $a, pod $b ($f)")
	done
	if [[ " $POD_SHARE " == *" uts "* ]]; then
		a=$("${DIRECT[@]}" exec "$ID" hostname 2>&1)
		[[ $a == "$POD" ]] || bad+=("hostname: $a")
	fi
	local what="$DLG: $SC: pod member in $POD's ${POD_SHARE// /,} namespaces"
	[[ " $POD_SHARE " == *" uts "* ]] && what+=", hostname $POD"
	if ((${#bad[@]} == 0)); then ok "$what"; else not_ok "$what" "${bad[@]}"; fi
}

# console_start SOCK OUT [ARGS...]: a console-socket receiver in the background.
RECV_PID=
console_start() {
	rm -f "$1" "$2"
	"$PYTHON" "$RECV" "$@" --timeout 20 &
	RECV_PID=$!
	BG_PIDS+=("$RECV_PID")
	local n=250
	while ((n-- > 0)) && [[ ! -S $1 ]]; do sleep 0.02; done
}

# console_wait: notes the receiver's exit status and what it read.
console_wait() {
	wait "$RECV_PID"
	note "console receiver exit $?, read: $(cat "$T/console.out" 2>&1)"
}

# wait_ready ID [SIG]: until the container's init catches SIG (default TERM:
# its sh has set the trap; SigCgt in /proc): as PID 1 of its PID namespace,
# sh ignores a TERM that comes before, and the container would not stop.
wait_ready() {
	local n=250 pid= bit mask
	bit=$(($(kill -l "${2:-TERM}") - 1))
	while ((n-- > 0)); do
		[[ $pid =~ ^[1-9][0-9]*$ ]] || pid=$(R state "$1" 2>/dev/null | jq -r .pid 2>/dev/null)
		mask=$(awk '$1 == "SigCgt:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
		[[ -n $mask ]] && (((16#$mask >> bit) & 1)) && return 0
		sleep 0.02
	done
	return 1
}

# ---- scenarios -------------------------------------------------------------

# shm_ready FILE: until the container has made /dev/shm/FILE (5 s).
shm_ready() {
	local n=250
	while ((n-- > 0)) && ! R exec "$ID" cat "/dev/shm/$1" >/dev/null 2>&1; do sleep 0.02; done
}

sc_lifecycle() {
	mkb 'trap "exit 0" TERM; while :; do sleep 0.05; done'
	# created: delete, then delete --force
	rec create -b "$B" "$ID"
	rec -f "$ST" state "$ID"
	rec delete "$ID"
	rec state "$ID"
	rec create --bundle "$B" "$ID"
	rec delete --force "$ID"
	rec state "$ID"
	# running: delete fails, delete --force works
	rec create --bundle="$B" "$ID"
	rec start "$ID"
	rec -f "$ST" state "$ID"
	pod_checks
	rec delete "$ID"
	rec delete -f "$ID"
	rec state "$ID"
	# stopped: delete, and delete --force
	local f
	for f in "" --force; do
		rec create -b "$B" "$ID"
		rec start "$ID"
		wait_ready "$ID"
		rec kill "$ID" TERM
		wait_status "$ID" stopped || note "did not stop"
		rec -f "$ST" state "$ID"
		rec kill "$ID" KILL
		rec delete $f "$ID"
		rec state "$ID"
		rec list -q
	done
}

sc_run() {
	mkb 'echo out; echo err >&2; exit 5'
	rec run -b "$B" "$ID"
	mkb 'trap "exit 0" TERM; while :; do sleep 0.05; done' # no output: it would race with rec
	rec run --detach -b "$B" "$ID"
	rec -f "$ST" state "$ID"
	pod_checks
	wait_ready "$ID"
	rec kill "$ID"
	wait_status "$ID" stopped || note "did not stop"
	rec -f "$ST" state "$ID"
	rec delete "$ID"
	rec run -d -b "$B" "$ID"
	rec delete "$ID"
	rec delete --force "$ID"
}

sc_signals() {
	# Foreground runs ended by kill from outside: SIGKILL, and a trapped TERM.
	local sig
	mkb 'trap "echo got TERM; exit 3" TERM; echo ready > /dev/shm/ready; while :; do sleep 0.05; done'
	for sig in KILL TERM; do
		R run -b "$B" "$ID" </dev/null >"$T/fg.out" 2>"$T/fg.err" &
		local pid=$!
		BG_PIDS+=("$pid")
		wait_ready "$ID" TERM
		rec kill "$ID" "$sig"
		wait "$pid"
		note "foreground run after kill $sig: exit $?, stdout: $(cat "$T/fg.out"), stderr: $(norm_err <"$T/fg.err")"
		R delete --force "$ID" >/dev/null 2>&1
	done
	# Killed by a signal from inside (no PID namespace: sh is not PID 1).
	mkb 'kill -9 $$' '.linux.namespaces |= map(select(.type != "pid"))'
	rec run -b "$B" "$ID"
	# A signal handled inside a detached container.
	mkb 'trap "echo usr1 > /dev/shm/usr1" USR1; echo ready > /dev/shm/ready; while :; do sleep 0.05; done'
	rec run -d -b "$B" "$ID"
	# Not before the trap is set: an untrapped USR1 would end sh.
	wait_ready "$ID" USR1
	rec kill "$ID" USR1
	n=250
	while ((n-- > 0)) && ! R exec "$ID" cat /dev/shm/usr1 >/dev/null 2>&1; do sleep 0.02; done
	rec exec "$ID" cat /dev/shm/usr1
	rec kill "$ID" 9
	wait_status "$ID" stopped || note "did not stop"
	rec delete "$ID"
}

sc_exec() {
	mkb 'while :; do sleep 0.05; done'
	rec run -d -b "$B" "$ID"
	pod_checks
	rec exec "$ID" sh -c 'echo out; echo err >&2; exit 6'
	rec exec -e FOO=bar --cwd /tmp "$ID" sh -c 'echo "$FOO $(pwd)"'
	rec exec --detach "$ID" sh -c 'echo detached > /dev/shm/d'
	local n=250
	while ((n-- > 0)) && ! R exec "$ID" cat /dev/shm/d >/dev/null 2>&1; do sleep 0.02; done
	rec exec "$ID" cat /dev/shm/d
	if [[ -n $PYTHON ]]; then
		console_start "$T/console.sock" "$T/console.out"
		rec exec --detach --tty --console-socket "$T/console.sock" "$ID" sh -c 'tty; echo on-tty'
		console_wait
	fi
	rec exec "$ID" no-such-binary
	rec kill "$ID" KILL
	wait_status "$ID" stopped || note "did not stop"
	rec exec "$ID" true
	rec delete "$ID"
}

sc_pause() {
	mkb 'while :; do sleep 0.05; done'
	rec run -d -b "$B" "$ID"
	rec pause "$ID"
	rec -f "$ST" state "$ID"
	rec pause "$ID"
	rec resume "$ID"
	rec -f "$ST" state "$ID"
	rec resume "$ID"
	pod_checks
	rec delete -f "$ID"
}

sc_ps() {
	mkb 'sleep 1000'
	rec run -d -b "$B" "$ID"
	rec exec -d "$ID" sleep 999
	pod_checks
	local n=250
	while ((n-- > 0)) && [[ $("${DIRECT[@]}" ps --format json "$ID" 2>/dev/null | jq length) != 2 ]]; do sleep 0.02; done
	rec -f norm_list ps "$ID"
	rec -f 'jq length' ps --format json "$ID"
	rec -f norm_list ps "$ID" -o pid,comm
	rec delete -f "$ID"
	rec ps "$ID"
}

sc_events() {
	mkb 'sleep 1000'
	rec run -d -b "$B" "$ID"
	rec -f 'jq -S "{type, id, data: (.data | keys)}"' events --stats "$ID"
	pod_checks
	rec delete -f "$ID"
}

sc_update() {
	mkb 'sleep 1000'
	rec run -d -b "$B" "$ID"
	rec update --memory 67108864 --memory-swap 134217728 "$ID"
	rec update --pids-limit 99 "$ID"
	rec exec "$ID" cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
	pod_checks
	rec delete -f "$ID"
}

sc_hooks() {
	local k hooks='{}' hd=$T/hooks
	for k in prestart createRuntime poststart poststop; do
		hooks=$(jq -c --arg k "$k" --arg p "$T/bin/hook" --arg out "$hd/$k.json" \
			'.[$k] = [{path: $p, args: ["hook", $out]}]' <<<"$hooks")
	done
	rm -rf "$hd"
	mkdir -p "$hd"
	mkb 'trap "exit 0" TERM; while :; do sleep 0.05; done' '.hooks = $h' --argjson h "$hooks"
	show_hooks() {
		local f
		for k in prestart createRuntime poststart poststop; do
			f=$hd/$k.json
			if [[ -f $f ]]; then
				note "hook $k: $(jq -c -S '{id, status, bundle}' "$f" 2>&1)"
			else
				note "hook $k: not run"
			fi
		done
	}
	rec create -b "$B" "$ID"
	show_hooks
	rec start "$ID"
	wait_file "$hd/poststart.json" || note "poststart did not run"
	show_hooks
	pod_checks
	rec kill "$ID" TERM
	wait_status "$ID" stopped || note "did not stop"
	rec delete "$ID"
	show_hooks
	rm -rf "$hd"
	mkdir -p "$hd"
	# A foreground run fires all four.
	mkb 'echo ran' '.hooks = $h' --argjson h "$hooks"
	rec run -b "$B" "$ID"
	show_hooks
	rm -rf "$hd"
}

sc_pidfile() {
	mkb 'sleep 1000'
	local pf=$T/pid\ file
	rm -f "$pf"
	rec create --pid-file "$pf" -b "$B" "$ID"
	note "pid file is the init pid: $([[ -s $pf && $(<"$pf") == "$(init_pid "$ID")" ]] && echo yes || echo no)"
	rec start "$ID"
	pod_checks
	rec delete -f "$ID"
	rm -f "$pf"
	rec run -d --pid-file="$pf" -b "$B" "$ID"
	note "pid file is the init pid: $([[ -s $pf && $(<"$pf") == "$(init_pid "$ID")" ]] && echo yes || echo no)"
	rec delete -f "$ID"
	rm -f "$pf"
}

sc_terminal() {
	[[ -n $PYTHON ]] || { note "no python3"; return; }
	mkb 'tty; echo hello from a terminal; sleep 0.2' '.process.terminal = true'
	console_start "$T/console.sock" "$T/console.out"
	rec create --console-socket "$T/console.sock" -b "$B" "$ID"
	rec start "$ID"
	console_wait
	wait_status "$ID" stopped || note "did not stop"
	rec delete "$ID"
	# Input through the terminal.
	mkb 'read line; echo "read: $line"' '.process.terminal = true'
	console_start "$T/console.sock" "$T/console.out" --input $'typed\n'
	rec run -d --console-socket "$T/console.sock" -b "$B" "$ID"
	console_wait
	wait_status "$ID" stopped || note "did not stop"
	rec delete "$ID"
	# A detached terminal container stays up.
	# (its "up" written before the delete --force: /dev/shm/up after it)
	mkb 'echo up; : >/dev/shm/up; sleep 1000' '.process.terminal = true'
	console_start "$T/console.sock" "$T/console.out"
	rec run -d --console-socket "$T/console.sock" -b "$B" "$ID"
	pod_checks
	shm_ready up
	rec delete --force "$ID"
	console_wait
}

sc_nspath() {
	# A network namespace given by path, pinned by a bind mount in the temp dir.
	local nsf=$T/ns/net
	mkdir -p "$T/ns"
	touch "$nsf"
	if ! unshare --net="$nsf" true; then
		note "cannot pin a network namespace"
		return
	fi
	[[ $MODE == pod ]] && POD_SHARE="ipc uts" # the netns is the container's own choice
	mkb 'sleep 1000' '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' --arg p "$nsf"
	rec run -d -b "$B" "$ID"
	local pid
	pid=$(init_pid "$ID")
	note "joined the netns by path: $([[ -n $pid && $(ns_inode "$pid" net) == "$(stat -L -c %i "$nsf")" ]] && echo yes || echo no)"
	pod_checks
	rec delete -f "$ID"
	umount "$nsf"
	rm -f "$nsf"
}

sc_readonly() {
	mkb 'touch /x; echo "touch /: $?"; echo x > /dev/shm/x && echo "dev/shm writable"' '.root.readonly = true'
	rec run -b "$B" "$ID"
	mkb 'cat /etc/passwd | wc -c; wc -c < /proc/kcore; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid; echo "proc/sys: $?"; echo x > /etc/group; echo "etc/group: $?"' \
		'.linux.maskedPaths += ["/etc/passwd"] | .linux.readonlyPaths += ["/etc/group"] | .root.readonly = false'
	rec run -b "$B" "$ID"
}

sc_rlimits() {
	mkb 'ulimit -n; ulimit -Hn; ulimit -s' '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 256, hard: 512}, {type: "RLIMIT_STACK", soft: 1048576, hard: 2097152}]'
	rec run -b "$B" "$ID"
	mkb 'true' '.process.rlimits = [{type: "RLIMIT_BOGUS", soft: 1, hard: 2}]'
	rec run -b "$B" "$ID"
}

sc_sysctl() {
	mkb 'sleep 1000' '.linux.sysctl = {"net.ipv4.ip_default_ttl": "42", "kernel.msgmax": "12345"}'
	rec run -d -b "$B" "$ID"
	local got want_ttl=42 want_msg=12345
	got=$("${DIRECT[@]}" exec "$ID" cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/msgmax 2>&1 | tr '\n' ' ')
	if [[ $MODE == pod ]]; then
		# A member's namespaced sysctls are dropped: they would change the pod's
		# shared namespaces. It sees the pod's values.
		want_ttl=$(nsenter --net="$(pod_ns_file "$POD" net)" cat /proc/sys/net/ipv4/ip_default_ttl 2>&1)
		want_msg=$(nsenter --ipc="$(pod_ns_file "$POD" ipc)" cat /proc/sys/kernel/msgmax 2>&1)
		[[ $want_ttl != 42 && $want_msg != 12345 ]] || want_ttl="the pod's namespaces were changed: $want_ttl $want_msg"
	fi
	note "sysctls: $([[ $got == "$want_ttl $want_msg " ]] && echo as expected || echo "got $got, want $want_ttl $want_msg")"
	pod_checks
	rec delete -f "$ID"
	mkb 'true' '.linux.sysctl = {"no.such.sysctl": "1"}'
	rec run -b "$B" "$ID"
	rec delete -f "$ID"
}

SCENARIOS=(lifecycle run signals exec pause ps events update hooks pidfile terminal nspath readonly rlimits sysctl)

# run_scenario NAME: its three runs and their comparison.
run_scenario() {
	SC=$1
	SC_N=$((SC_N + 1))
	CLEAN_FAIL=()
	local mode
	for mode in direct shim pod; do
		MODE=$mode
		POD=
		POD_SHARE=
		if [[ $mode == pod ]]; then
			POD=conf-$SC_N
			POD_SHARE="net ipc uts"
		fi
		ID=$(cid "$SC")
		TR=$T/out/tr.$DLG.$SC.$mode
		: >"$TR"
		"sc_$SC"
		# Clean up, through the same path, what the scenario left.
		R delete --force "$ID" >/dev/null 2>&1
		local p
		for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
		BG_PIDS=()
		local n m s
		n=$(pods_left)
		m=$(mounts_under "$T")
		s=$(strays)
		if [[ $n != 0 || -n $m || -n $s ]]; then
			CLEAN_FAIL+=("$mode: pods $n, mounts: $m, processes: $s")
			unmount_under "$T"
			kill_strays
		fi
	done
	same_files "$DLG: $SC: through podshim as directly" "$T/out/tr.$DLG.$SC.direct" "$T/out/tr.$DLG.$SC.shim"
	same_files "$DLG: $SC: as a pod member as directly" "$T/out/tr.$DLG.$SC.direct" "$T/out/tr.$DLG.$SC.pod"
	if ((${#CLEAN_FAIL[@]} == 0)); then
		ok "$DLG: $SC: no pods, mounts or processes left"
	else
		not_ok "$DLG: $SC: no pods, mounts or processes left" "${CLEAN_FAIL[@]}"
	fi
}

ONLY=${CONFORMANCE_ONLY:-} # e.g. CONFORMANCE_ONLY="exec hooks" to run a few
for d in $(test_delegate_kinds); do
	if [[ $d == crun && -z $CRUN ]]; then
		skip "crun as the delegate" "crun is not installed"
		continue
	fi
	use_delegate "$d"
	SC_N=0
	for sc in "${SCENARIOS[@]}"; do
		if [[ -n $ONLY && " $ONLY " != *" $sc "* ]]; then
			SC_N=$((SC_N + 1))
			continue
		fi
		run_scenario "$sc"
	done
	assert_clean "$d: at the end"
done
[[ -n ${CONFORMANCE_KEEP:-} ]] && cp -r "$T/out" "$CONFORMANCE_KEEP"
done_testing

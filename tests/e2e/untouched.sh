#!/usr/bin/env bash
# tests/e2e/untouched.sh — podshim as dockerd's default runtime leaves
# containers without a pod label alone, and refuses bad pod settings.
#
#  8. The same sequence of docker commands runs twice on one private dockerd
#     (default runtime podshim): once with the default, once with
#     `--runtime runc`.  Every observation (outputs, exit codes, logs, health,
#     stop/restart/pause/update results, ...) must be the same, and match
#     what is expected of runc; podshim's state dir must stay empty.
#  9. Bad pod settings (label or env) make `docker run` fail with podshim's
#     message naming the bad value; nothing is left in podshim's state, and
#     an existing pod is not disturbed.
#
#   PODSHIM=build/cmd/podshim bash tests/e2e/untouched.sh
# (single-quoted scripts run in containers; commas in label values; helpers
# called through wait_for/retry)
# shellcheck disable=SC2016,SC2317
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

bounded_docker

now() { echo "${EPOCHREALTIME/./}"; }
inspect() { docker inspect -f "$2" "$1" 2>&1; }
state_is() { [[ $(inspect "$1" '{{.State.Status}}') == "$2" ]]; }
health_is() { [[ $(inspect "$1" '{{.State.Health.Status}}') == "$2" ]]; }
restarts_are() { [[ $(inspect "$1" '{{.State.Status}} {{.RestartCount}}') == "exited $2" ]]; }
# state_files: everything in podshim's state dir (none expected).
state_files() { find "$PODSHIM_STATE" -mindepth 1 2>&1; }

dockerd_up
images_up busybox

# --- 8. the same sequence under podshim (default) and runc -----------------

declare -A R    # R[RUNTIME:KEY]=observation
KEYS=()         # observation keys, in order
rec() {
	R[$RT:$1]=$2
	[[ $RT != podshim ]] || KEYS+=("$1")
}

# sequence RUNTIME: run the sequence; record observations with rec.
sequence() {
	local RT=$1 n=ut-$1 out rc t0 err=$E2E_DIR/run/stderr
	local -a rf=()
	[[ $RT == podshim ]] || rf=(--runtime "$RT")
	local BB=podshim/busybox

	# docker run --rm: output, exit code
	out=$(docker run --rm "${rf[@]}" $BB sh -c 'echo out; echo err >&2; exit 7' 2>"$err")
	rc=$?
	rec "run --rm: exit code" "$rc"
	rec "run --rm: stdout" "$out"
	rec "run --rm: stderr" "$(<"$err")"
	rec "run --rm -i: stdin" "$(printf 'a\nb\nc\n' | docker run --rm -i "${rf[@]}" $BB sed 's/^/in: /' 2>&1)"
	rec "run --rm -t: a terminal" "$(docker run --rm -t "${rf[@]}" $BB sh -c 'tty; test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty' 2>&1 | tr -d '\r')"
	rec "run: user, env, hostname, workdir" "$(docker run --rm "${rf[@]}" --user 65534:65534 -e FOO=bar --hostname hostx -w /tmp $BB \
		sh -c 'id; echo "FOO=$FOO"; hostname; cat /etc/hostname; pwd' 2>&1)"
	rec "run: capabilities, namespaces, PID 1" "$(docker run --rm "${rf[@]}" $BB \
		sh -c 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status; ls /proc/self/ns; echo "pid $$"; ps -o pid,comm | awk "\$1 == 1"' 2>&1)"
	rec "run --read-only --cap-drop ALL" "$(docker run --rm "${rf[@]}" --read-only --cap-drop ALL $BB \
		sh -c 'touch /x 2>&1; grep -E "^CapEff:" /proc/self/status; chown 1 /tmp 2>&1; echo done' 2>&1)"
	rec "run: mounts seen inside" "$(docker run --rm "${rf[@]}" $BB sh -c 'cut -d" " -f2,3 /proc/mounts | sort' 2>&1)"
	rec "run --hostname: the container's own" "$(docker run --rm "${rf[@]}" --hostname own-host $BB hostname 2>&1)"
	rec "docker wait: exit code" "$(docker run -d --name "$n-wait" "${rf[@]}" $BB sh -c 'exit 42' >/dev/null && docker wait "$n-wait" 2>&1)"

	# a long-lived container: health, exec, top, pause, restart, update, stop, logs
	docker run -d --name "$n" "${rf[@]}" --health-cmd 'test -f /tmp/ready' \
		--health-interval 1s --health-retries 1 $BB sh -c \
		'echo log-out; echo log-err >&2; touch /tmp/ready; trap "echo got-term; exit 3" TERM
		 while :; do sleep 0.1; done' >/dev/null
	R[$RT:runtime]=$(inspect "$n" '{{.HostConfig.Runtime}}')
	retry 120 0.25 health_is "$n" healthy
	rec "HEALTHCHECK reaches healthy" "$(inspect "$n" '{{.State.Health.Status}}')"
	out=$(docker exec "$n" sh -c 'echo exec-out; echo exec-err >&2; exit 5' 2>"$err")
	rc=$?
	rec "exec: exit code" "$rc"
	rec "exec: stdout" "$out"
	rec "exec: stderr" "$(<"$err")"
	rec "exec -u -w -e" "$(docker exec -u 65534 -w /tmp -e BAR=baz "$n" sh -c 'id -u; pwd; echo "BAR=$BAR"' 2>&1)"
	rec "exec -i: stdin" "$(echo piped | docker exec -i "$n" cat 2>&1)"
	rec "exec: same namespaces as init" "$(docker exec "$n" sh -c 'for ns in net ipc uts pid mnt; do [ "$(readlink /proc/1/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ] && echo "$ns same"; done' 2>&1)"
	rec "top" "$(docker top "$n" -o comm 2>&1 | grep -v '^sleep$')"
	docker pause "$n" >/dev/null 2>&1
	rec "pause" "$(inspect "$n" '{{.State.Status}}')"
	docker unpause "$n" >/dev/null 2>&1
	rec "unpause" "$(inspect "$n" '{{.State.Status}}') $(docker exec "$n" echo alive 2>&1)"
	rec "update --memory" "$(docker update --memory 64m --memory-swap 128m "$n" >/dev/null 2>&1;
		docker exec "$n" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' 2>&1)"
	t0=$(now)
	docker restart -t 10 "$n" >/dev/null 2>&1
	rec "restart (TERM trapped: quick)" "$(inspect "$n" '{{.State.Status}}') $((($(now) - t0) < 8000000))"
	retry 120 0.25 health_is "$n" healthy
	rec "healthy again after restart" "$(inspect "$n" '{{.State.Health.Status}}')"
	t0=$(now)
	docker stop -t 10 "$n" >/dev/null 2>&1
	rec "stop: exit code (TERM trapped)" "$(inspect "$n" '{{.State.ExitCode}}') $((($(now) - t0) < 8000000))"
	rec "logs: stdout" "$(docker logs "$n" 2>/dev/null)"
	rec "logs: stderr" "$(docker logs "$n" 2>&1 >/dev/null)"

	# docker stop: SIGKILL after the timeout (137), or SIGTERM through --init (143)
	docker run -d --name "$n-kill" "${rf[@]}" $BB sleep 1000 >/dev/null
	docker stop -t 1 "$n-kill" >/dev/null 2>&1
	rec "stop: PID 1 ignores TERM, killed" "$(inspect "$n-kill" '{{.State.ExitCode}} {{.State.OOMKilled}}')"
	docker run -d --name "$n-init" --init "${rf[@]}" $BB sleep 1000 >/dev/null
	docker stop -t 10 "$n-init" >/dev/null 2>&1
	rec "stop --init: TERM" "$(inspect "$n-init" '{{.State.ExitCode}}')"
	docker run -d --name "$n-sig" "${rf[@]}" $BB sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.1; done' >/dev/null
	docker kill -s USR1 "$n-sig" >/dev/null 2>&1
	retry 40 0.1 sh -c "docker logs $n-sig | grep -q got-usr1"
	docker kill "$n-sig" >/dev/null 2>&1
	retry 40 0.1 state_is "$n-sig" exited
	rec "kill -s USR1, then kill" "$(docker logs "$n-sig" 2>&1) $(inspect "$n-sig" '{{.State.ExitCode}}')"
	docker run -d --name "$n-policy" --restart on-failure:2 "${rf[@]}" $BB sh -c 'echo run; exit 1' >/dev/null
	retry 100 0.2 restarts_are "$n-policy" 2
	rec "restart policy on-failure:2" "$(inspect "$n-policy" '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}') $(docker logs "$n-policy" 2>&1 | tr '\n' ' ')"

	docker rm -f "$n" "$n-wait" "$n-kill" "$n-init" "$n-sig" "$n-policy" >/dev/null 2>&1
}

T0=$(now)
sequence podshim
T1=$(now)
sequence runc
T2=$(now)
diag "sequence: podshim $(((T1 - T0) / 1000)) ms, runc $(((T2 - T1) / 1000)) ms"

is "the default runtime is podshim" "${R[podshim:runtime]}" podshim
is "the comparison runs runc" "${R[runc:runtime]}" runc
for k in "${KEYS[@]}"; do
	is "same under podshim and runc: $k" "${R[podshim:$k]}" "${R[runc:$k]}"
done
# and what runc gives is what is expected
declare -A WANT=(
	["run --rm: exit code"]=7
	["run --rm: stdout"]=out
	["run --rm: stderr"]=err
	["run --rm -i: stdin"]=$'in: a\nin: b\nin: c'
	["docker wait: exit code"]=42
	["HEALTHCHECK reaches healthy"]=healthy
	["exec: exit code"]=5
	["exec: stdout"]=exec-out
	["exec: stderr"]=exec-err
	["exec -u -w -e"]=$'65534\n/tmp\nBAR=baz'
	["exec -i: stdin"]=piped
	["pause"]=paused
	["unpause"]="running alive"
	["update --memory"]=67108864
	["restart (TERM trapped: quick)"]="running 1"
	["healthy again after restart"]=healthy
	["stop: exit code (TERM trapped)"]="3 1"
	["logs: stdout"]=$'log-out\ngot-term\nlog-out\ngot-term'
	["logs: stderr"]=$'log-err\nlog-err'
	["stop: PID 1 ignores TERM, killed"]="137 false"
	["stop --init: TERM"]=143
	["kill -s USR1, then kill"]="got-usr1 137"
	["restart policy on-failure:2"]="exited 1 2 run run run "
	["run --hostname: the container's own"]=own-host
)
for k in "${KEYS[@]}"; do
	[[ -v WANT[$k] ]] || continue
	is "podshim as expected: $k" "${R[podshim:$k]}" "${WANT[$k]}"
done
is "podshim: no pods afterwards" "$(podshim_cli pod list --format json 2>&1 | jq -c . 2>&1)" "[]"
is "podshim's state dir is untouched by containers without a pod" "$(state_files)" ""

# --- 9. bad pod settings ---------------------------------------------------

# refused DESC WANT-ERE DOCKER-RUN-ARGS...: `docker run` fails, its stderr
# matches WANT-ERE, the container never ran, and no pod state is left.
I=0
refused() {
	local desc=$1 want=$2 out rc name=ut-bad-$((++I))
	shift 2
	out=$(docker run --name "$name" "$@" podshim/busybox true 2>&1)
	rc=$?
	if ((rc != 0)) && [[ $out =~ $want ]]; then
		ok "$desc: refused (rc $rc) with podshim's message"
	else
		not_ok "$desc: refused with podshim's message" "rc $rc, want /$want/ in:" "$out"
	fi
	is "$desc: the container never started" "$(inspect "$name" '{{.State.Status}} {{.State.StartedAt}}')" "created 0001-01-01T00:00:00Z"
	docker rm -f "$name" >/dev/null 2>&1
	is "$desc: no pod state left" "$(podshim_cli pod list --format json 2>&1 | jq -c . 2>&1)" "[]"
}

refused "label podshim.pod=bad/name" 'podshim: invalid pod name `bad/name`' \
	--label podshim.pod=bad/name
refused "label podshim.share=net,bogus" 'podshim: invalid label podshim.share: .*`bogus`' \
	--label podshim.pod=ut-err --label podshim.share=net,bogus
refused "label podshim.volumes=relative" 'podshim: invalid label podshim.volumes: .*`relative`' \
	--label podshim.pod=ut-err --label podshim.volumes=relative
refused "env PODSHIM_POD=bad/name" 'podshim: invalid pod name `bad/name`' \
	-e PODSHIM_POD=bad/name
refused "env PODSHIM_SHARE=bogus" 'podshim: invalid environment variable PODSHIM_SHARE: .*`bogus`' \
	-e PODSHIM_POD=ut-err -e PODSHIM_SHARE=bogus
refused "label podshim.pod=.hidden" 'podshim: invalid pod name `.hidden`' \
	--label podshim.pod=.hidden
refused "label podshim.volumes=/a,../b" 'podshim: invalid label podshim.volumes: .*`../b`' \
	--label podshim.pod=ut-err --label podshim.volumes=/a,../b

# a bad member of an existing pod is refused without disturbing the pod
docker run -d --name ut-good --label podshim.pod=ut-good --network none podshim/busybox sleep 600 >/dev/null
good_id=$(inspect ut-good '{{.Id}}')
out=$(docker run --name ut-bad-member --label podshim.pod=ut-good --label podshim.share=net,bogus --network none podshim/busybox true 2>&1)
rc=$?
like "a bad member of an existing pod is refused" "rc=$rc $out" '^rc=[1-9].*podshim: invalid label podshim.share'
is "the existing pod keeps its one member" \
	"$(podshim_cli pod list --format json 2>&1 | jq -c '[.[] | {name, members}]' 2>&1)" \
	"[{\"name\":\"ut-good\",\"members\":[\"$good_id\"]}]"
is "its member still runs" "$(inspect ut-good '{{.State.Status}}')" running
docker rm -f ut-good ut-bad-member >/dev/null 2>&1
no_pods() { [[ $(podshim_cli pod list --format json 2>&1 | jq -c . 2>&1) == "[]" ]]; }
check "the pod is gone with its member" wait_for -n 25 no_pods
is "podshim's state dir holds no pod and no container index" \
	"$(find "$PODSHIM_STATE" -mindepth 3 -maxdepth 3 \( -path '*/pods/*' -o -path '*/containers/*' \) 2>&1)" ""
diag "total $((($(now) - T0) / 1000)) ms"
done_testing

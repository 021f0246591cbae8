#!/usr/bin/env bash
# Essential members: when podshim sees the delete of a member with
# podshim.essential=true, the pod's other live members are stopped (SIGTERM,
# SIGKILL after the grace period); a non-essential member's delete stops
# nobody; essential outside a pod is refused, and so is an essential member
# of a pod whose owner (its network owner, else its oldest member) is not
# essential, unless the pod is a compose project's or a stack's.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

alive_c() { [[ $(rc state "$1" 2>/dev/null | jq -r .status) == running ]]; }
stopped_c() { [[ $(rc state "$1" 2>/dev/null | jq -r .status) == stopped ]]; }

# A member that records SIGTERM on the pod volume and exits; one that ignores it.
bt=$(mkb side -a podshim.pod=ess -a podshim.volumes=/shared -- \
	sh -c 'trap "echo TERM >/shared/side; exit 0" TERM; while :; do sleep 0.2; done')
bi=$(mkb stubborn -a podshim.pod=ess -- sh -c 'trap "" TERM; while :; do sleep 0.2; done')
bh=$(mkb helper -a podshim.pod=ess -- true)
be=$(mkb app -a podshim.pod=ess -e PODSHIM_ESSENTIAL=true)
three() { member app "$be" && member side "$bt" && member stubborn "$bi"; }
check "the essential app (the pod's owner), then members side and stubborn" three
check "the essential flag is recorded" grep -q '"essential":true' "$STATE"/*/records/app

# A one-shot, non-essential helper exits and is deleted: nobody stops.
check "helper: runs and exits" member helper "$bh"
wait_for 10 stopped_c helper
check "helper: delete" del helper
sleep 1
if alive_c side && alive_c stubborn && alive_c app; then
	ok "a non-essential member's delete stops nobody"
else
	not_ok "a non-essential member's delete stops nobody"
fi

# The essential app dies and is deleted.
check "app: killed" rc kill app KILL
wait_for 10 stopped_c app
t0=$(date +%s)
# (stdio on a file: the time is podshim's, not that of a pipe's last holder)
del_quiet() { del "$1" >"$T/out/del-$1" 2>&1; }
check "app: delete returns" del_quiet app
t1=$(date +%s)
(((t1 - t0) < 10)) && ok "the delete does not wait for the others ($((t1 - t0)) s)" ||
	not_ok "the delete does not wait for the others" "$((t1 - t0)) s"
check "side gets SIGTERM and stops" wait_for 15 stopped_c side
is "side saw SIGTERM" "$(cat "$(voldir ess)/-shared/side" 2>&1)" TERM
check "stubborn ignores SIGTERM and is killed after the grace period" wait_for 30 stopped_c stubborn
check "clean up" del_all side stubborn
is "the pod is gone" "$(pod_count)" 0

# Refusals.
: >"$LOG"
check_fails "essential outside a pod is refused" create lone "$(mkb lone -a podshim.essential=true)"
check "with a message" grep -q 'needs a pod' "$LOG"
check_fails "a bad essential value is refused" create bad "$(mkb bad -a podshim.pod=x -a podshim.essential=maybe)"

# Consent: an essential member would stop every member of its pod.
check "pod ow: its owner (oldest member) is not essential" member owner "$(mkb owner -a podshim.pod=ow)"
refused "an essential member of a pod whose owner is not essential is refused" \
	'the pod'"'"'s owner `owner` (its oldest member) is not essential' \
	"$(mkb intruder -a podshim.pod=ow -a podshim.essential=true)"
is "the owner runs on" "$(rc state owner | jq -r .status)" running
check "pod ok: its owner is essential" member eowner "$(mkb eowner -a podshim.pod=ok -e PODSHIM_ESSENTIAL=1)"
check "an essential member of a pod whose owner is essential joins" \
	member second "$(mkb second -a podshim.pod=ok -a podshim.essential=true)"
check "a compose project's pod: an essential member joins whoever came first" eval '
	member c1 "$(mkb c1 -j "$(fake_docker c1 "{\"podshim.pod\": \"cp\", \"com.docker.compose.project\": \"shop\"}")")" &&
	member c2 "$(mkb c2 -j "$(fake_docker c2 "{\"podshim.pod\": \"cp\", \"com.docker.compose.project\": \"shop\", \"podshim.essential\": \"true\"}")")"'
# A companion's essential is its anchor's: an anchor that owns its pod may
# have an essential companion; one that joined another's pod may not.
A=$(printf 'a%.0s' {1..64}) B=$(printf 'b%.0s' {1..64})
comp() { # ID POD ANCHOR: a companion's labels, essential
	fake_docker "$1" "{\"podshim.pod\": \"$2\", \"podshim.companion-of\": \"$3\",
		\"podshim.companion-name\": \"log\", \"podshim.essential\": \"true\"}"
}
check "anchor A owns pod an" member "$A" "$(mkb "$A" -a podshim.pod=an)"
check "A's essential companion joins" member ca "$(mkb ca -j "$(comp ca an "$A")")"
check "anchor B joins pod ow, whose owner is not essential" member "$B" "$(mkb "$B" -a podshim.pod=ow)"
refused "B's essential companion is refused" 'companion `cb` of `bbbbbbbbbbbb`' "$(mkb cb -j "$(comp cb ow "$B")")"
check "clean up" del_all owner eowner second c1 c2 ca "$A" "$B"
is "no pod left" "$(pod_count)" 0

done_testing

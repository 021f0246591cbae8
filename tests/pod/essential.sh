#!/usr/bin/env bash
# Essential members: when podshim sees the delete of a member with
# podshim.essential=true, the pod's other live members are stopped (SIGTERM,
# SIGKILL after the grace period); a non-essential member's delete stops
# nobody; essential outside a pod is refused.
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
three() { member side "$bt" && member stubborn "$bi" && member app "$be"; }
check "members side, stubborn and the essential app" three
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

done_testing

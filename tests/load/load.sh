#!/usr/bin/env bash
# Load: LOAD_PODS pods x 3 members (default 200 x 3) created, then deleted, by
# LOAD_WORKERS parallel workers (default 8) through podshim with the real runc.
# Afterwards: zero pods, holders, mounts and stray processes. While the pods
# live: no mount on the host, neither for their namespaces nor for their
# /dev/shm (each pod's holder has it in its own mount namespace).
set -euo pipefail

PODS=${LOAD_PODS:-200}
WORKERS=${LOAD_WORKERS:-8}
PODSHIM=${PODSHIM:?PODSHIM must name the podshim binary}

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=tests/lib/oci.sh
. "$(dirname "$0")/../lib/oci.sh"

plan 6
if [[ $(id -u) != 0 ]]; then
  diag "SKIP load test needs root"
  for i in 1 2 3 4 5 6; do skip "not root"; done
  exit 0
fi

T=$(mktemp -d /tmp/podshim-load.XXXXXX)
R=$T/runc-root
S=$T/state
export PODSHIM_DATA=$T/data # pod volumes: never /var/lib/podshim
mkdir -p "$R" "$T/bundles"

cleanup() {
  for id in $(runc --root "$R" list -q 2>/dev/null); do
    runc --root "$R" delete --force "$id" >/dev/null 2>&1
  done
  "$PODSHIM" --podshim-state "$S" --root "$R" pod gc >/dev/null 2>&1
  unmount_under "$T"
  rm -rf "$T"
}
at_exit cleanup

make_rootfs "$T/rootfs" sh sleep || bail "cannot build the rootfs"
base_spec "$T/base.json" "$T/rootfs" '.process.args = ["sleep", "1000"]' || bail "cannot make the spec"

# Members: the third of every fifth pod also shares pid.
make_member() { # pod member
  local share=net,ipc,uts
  (( $1 % 5 == 0 && $2 == 3 )) && share=net,ipc,uts,pid
  # shellcheck disable=SC2016 # jq variables
  make_bundle "$T/bundles/p$1-m$2" "$T/base.json" \
    '.annotations = {"podshim.pod": $pod, "podshim.share": $share}' --arg pod "load-$1" --arg share "$share"
}
for ((p = 0; p < PODS; p++)); do for m in 1 2 3; do make_member "$p" "$m"; done; done

# ps_ ARGS...: podshim, bounded (tests/lib/bounded.sh: a member's init never
# holds the test's stdout).
ps_() { bounded "$PODSHIM" --podshim-state "$S" --root "$R" "$@"; }

worker() { # worker-index action
  local w=$1 action=$2 p m
  for ((p = w; p < PODS; p += WORKERS)); do
    for m in 1 2 3; do
      if [[ $action == create ]]; then
        ps_ create --bundle "$T/bundles/p$p-m$m" "p$p-m$m" || echo "create p$p-m$m failed" >> "$T/errors"
      else
        ps_ delete --force "p$p-m$m" || echo "delete p$p-m$m failed" >> "$T/errors"
      fi
    done
  done
}

# phase create|delete DESC: every member through WORKERS parallel workers;
# ok DESC when none failed.
phase() {
  local start=$SECONDS w
  rm -f "$T/errors"
  for ((w = 0; w < WORKERS; w++)); do worker "$w" "$1" & done
  wait
  diag "$1: $((PODS * 3)) members in $((SECONDS - start)) s"
  if [[ ! -s $T/errors ]]; then ok "$2"; else not_ok "$1 failed" "$(head -20 "$T/errors")"; fi
}

phase create "$((PODS * 3)) creates by $WORKERS workers succeeded"

list=$(ps_ pod list --format json)
npods=$(jq length <<<"$list")
nmembers=$(jq '[.[].members | length] | add // 0' <<<"$list")
# Every pod's holder and pause processes (they must all be gone at the end).
pause_pids=$(jq -r '.[] | (.pause_pid, .holder_pid) | select(. > 0)' <<<"$list")
holders=$(jq '[.[] | select(.holder_pid > 0)] | length' <<<"$list")
peak_mounts=$(grep -cF " $S/" /proc/self/mountinfo || true)
shm_mounts=$(grep -cF " $PODSHIM_DATA/" /proc/self/mountinfo || true)
if [[ $npods == "$PODS" && $nmembers == $((PODS * 3)) && $holders == "$PODS" && $peak_mounts == 0 && $shm_mounts == 0 ]]; then
  ok "$npods pods with $nmembers members and $holders holders, no mount (no /dev/shm tmpfs either)"
else not_ok "expected $PODS pods / $((PODS * 3)) members / $PODS holders / 0 state mounts / 0 shm mounts, got $npods / $nmembers / $holders / $peak_mounts / $shm_mounts"; fi

# Every member of a pod is in that pod's network namespace.
bad=0
for ((p = 0; p < PODS; p += 7)); do
  pin=$(stat -L -c %i "/proc/$(jq -r .holder.pid "$S"/*/pods/load-$p/pod.json)/ns/net")
  for m in 1 2 3; do
    pid=$(runc --root "$R" state "p$p-m$m" | jq .pid)
    ino=$(stat -L -c %i "/proc/$pid/ns/net")
    [[ $ino == "$pin" ]] || { bad=1; diag "p$p-m$m netns $ino != pod's $pin"; }
  done
done
if ((bad == 0)); then ok "sampled members share their pod's netns"; else not_ok "netns mismatch"; fi

phase delete "$((PODS * 3)) deletes succeeded"

left=$(ps_ pod list --format json | jq length)
if [[ $left == 0 && -z $(ls -A "$S"/*/pods 2>/dev/null) ]]; then ok "zero pods left"
else not_ok "$left pods left: $(ls -A "$S"/*/pods 2>/dev/null | head -5 | tr '\n' ' ')"; fi

mounts=$(grep -cE " ($S|$PODSHIM_DATA)/" /proc/self/mountinfo || true)
# The pauses recorded above must be gone. A zombie waiting for its reaper is
# gone; a killed PID 1 stays in the kernel until every process of its PID
# namespace has been reaped, which this machine's init does every few seconds:
# allow 15 s.
live_pauses() {
  local pid st n=0
  for pid in $pause_pids; do
    st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -z $st || $st == Z ]] || n=$((n + 1))
  done
  echo "$n"
}
for _ in $(seq 150); do
  pauses=$(live_pauses)
  [[ $pauses == 0 ]] && break
  sleep 0.1
done
inits=$(runc --root "$R" list -q | wc -l)
if [[ $mounts == 0 && $pauses == 0 && $inits == 0 ]]; then
  ok "zero mounts, holder and pause processes and containers left"
else
  not_ok "left: $mounts mounts, $pauses holder or pause processes, $inits containers"
fi
done_testing

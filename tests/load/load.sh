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

echo "1..6"
if [[ $(id -u) != 0 ]]; then
  echo "# SKIP load test needs root"
  for i in 1 2 3 4 5 6; do echo "ok $i # SKIP not root"; done
  exit 0
fi

T=$(mktemp -d /tmp/podshim-load.XXXXXX)
R=$T/runc-root
S=$T/state
export PODSHIM_DATA=$T/data # pod volumes: never /var/lib/podshim
mkdir -p "$R" "$T/rootfs/bin" "$T/rootfs/proc" "$T/rootfs/dev" "$T/bundles"

cleanup() {
  set +e
  for id in $(runc --root "$R" list -q 2>/dev/null); do
    runc --root "$R" delete --force "$id" >/dev/null 2>&1
  done
  "$PODSHIM" --podshim-state "$S" --root "$R" pod gc >/dev/null 2>&1
  grep -F " $T/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT

cp /bin/busybox "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/sh"
ln -s busybox "$T/rootfs/bin/sleep"
(cd "$T" && runc spec --bundle "$T/bundles")
base=$(jq --arg root "$T/rootfs" '.root = {path: $root, readonly: true}
  | .process.terminal = false | .process.args = ["sleep", "1000"]' "$T/bundles/config.json")
rm "$T/bundles/config.json"

# Members: the third of every fifth pod also shares pid.
make_bundle() { # pod member
  local b=$T/bundles/p$1-m$2 share=net,ipc,uts
  (( $1 % 5 == 0 && $2 == 3 )) && share=net,ipc,uts,pid
  mkdir -p "$b"
  jq --arg pod "load-$1" --arg share "$share" \
    '.annotations = {"podshim.pod": $pod, "podshim.share": $share}' <<<"$base" > "$b/config.json"
}
for ((p = 0; p < PODS; p++)); do for m in 1 2 3; do make_bundle "$p" "$m"; done; done

ps_() { "$PODSHIM" --podshim-state "$S" --root "$R" "$@"; }
export -f ps_ 2>/dev/null || true

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

start=$SECONDS
for ((w = 0; w < WORKERS; w++)); do worker "$w" create & done
wait
echo "# created $((PODS * 3)) members in $((SECONDS - start)) s"
if [[ ! -s $T/errors ]]; then echo "ok 1 - $((PODS * 3)) creates by $WORKERS workers succeeded"
else echo "not ok 1 - creates failed"; sed 's/^/# /' "$T/errors" | head -20; fi

list=$(ps_ pod list --format json)
npods=$(jq length <<<"$list")
nmembers=$(jq '[.[].members | length] | add // 0' <<<"$list")
# Every pod's holder and pause processes (they must all be gone at the end).
pause_pids=$(jq -r '.[] | (.pause_pid, .holder_pid) | select(. > 0)' <<<"$list")
holders=$(jq '[.[] | select(.holder_pid > 0)] | length' <<<"$list")
peak_mounts=$(grep -cF " $S/" /proc/self/mountinfo || true)
shm_mounts=$(grep -cF " $PODSHIM_DATA/" /proc/self/mountinfo || true)
if [[ $npods == "$PODS" && $nmembers == $((PODS * 3)) && $holders == "$PODS" && $peak_mounts == 0 && $shm_mounts == 0 ]]; then
  echo "ok 2 - $npods pods with $nmembers members and $holders holders, no mount (no /dev/shm tmpfs either)"
else echo "not ok 2 - expected $PODS pods / $((PODS * 3)) members / $PODS holders / 0 state mounts / 0 shm mounts, got $npods / $nmembers / $holders / $peak_mounts / $shm_mounts"; fi

# Every member of a pod is in that pod's network namespace.
bad=0
for ((p = 0; p < PODS; p += 7)); do
  pin=$(stat -L -c %i "/proc/$(jq -r .holder.pid "$S"/*/pods/load-$p/pod.json)/ns/net")
  for m in 1 2 3; do
    pid=$(runc --root "$R" state "p$p-m$m" | jq .pid)
    ino=$(stat -L -c %i "/proc/$pid/ns/net")
    [[ $ino == "$pin" ]] || { bad=1; echo "# p$p-m$m netns $ino != pod's $pin"; }
  done
done
if ((bad == 0)); then echo "ok 3 - sampled members share their pod's netns"; else echo "not ok 3 - netns mismatch"; fi

rm -f "$T/errors"
start=$SECONDS
for ((w = 0; w < WORKERS; w++)); do worker "$w" delete & done
wait
echo "# deleted $((PODS * 3)) members in $((SECONDS - start)) s"
if [[ ! -s $T/errors ]]; then echo "ok 4 - $((PODS * 3)) deletes succeeded"
else echo "not ok 4 - deletes failed"; sed 's/^/# /' "$T/errors" | head -20; fi

left=$(ps_ pod list --format json | jq length)
if [[ $left == 0 && -z $(ls -A "$S"/*/pods 2>/dev/null) ]]; then echo "ok 5 - zero pods left"
else echo "not ok 5 - $left pods left: $(ls -A "$S"/*/pods 2>/dev/null | head -5 | tr '\n' ' ')"; fi

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
  echo "ok 6 - zero mounts, holder and pause processes and containers left"
else
  echo "not ok 6 - left: $mounts mounts, $pauses holder or pause processes, $inits containers"
fi

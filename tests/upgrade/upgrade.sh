#!/usr/bin/env bash
# tests/upgrade/upgrade.sh — upgrading podshim on a node whose pods keep
# running (docs/upgrades.md).  The previous release (the last line of
# hack/releases: 0.1.0, commit be3923a) is built from this clone's history
# (git archive; cached under the build dir) and installed as a private
# dockerd's runtime, at a path of the test's own; it makes pods: one sharing
# PIDs, one with pod volumes (unsized and sized), an anchor with a companion
# — twice.  Then this tree's podshim replaces it at that path, as a package
# upgrade does (a new file renamed over the old: running holders and pauses
# keep their binary, every later runtime call runs the new one), and:
#  - round 1, the daemon left running: a member joins each old pod (the same
#    holder and pause; the volumes' files), the old anchor restarts (its
#    companion made again, exactly one), pod list, every member deleted,
#    pod gc, and nothing of these pods is left (holder, pause, mount,
#    volumes, state);
#  - round 2, after a dockerd restart with "live-restore": true: the old
#    members kept running (same processes), then the same, and exactly one
#    companion per anchor before and after it restarts;
#  - a rollback: a pod this podshim made is joined and removed by 0.1.0.
# PODSHIM_ENGINE (debian12, default, or sid) is the engine; on sid, dockerd
# serves API 1.41 too (0.1.0 predates version negotiation).
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

[[ $(id -u) == 0 ]] || skip_all "needs root"
SRC=${PODSHIM_SRCDIR:-$E2E_REPO}
NEW=$(realpath "$PODSHIM" 2>/dev/null) || bail "no podshim binary at $PODSHIM (build first)"
NEW_PAUSE=$(realpath "${PODSHIM_PAUSE:-$(dirname "$NEW")/podshim-pause}" 2>/dev/null) ||
	bail "no podshim-pause beside $NEW (set PODSHIM_PAUSE)"
[[ $(head -c 4 "$NEW") == $'\x7fELF' ]] || skip_all "PODSHIM is no binary (a valgrind wrapper?): $NEW"

# --- the previous release, built from its commit -----------------------------

read -r PREV_VERSION PREV_COMMIT < <(grep -v '^#' "$SRC/hack/releases" | tail -n1)
[[ $PREV_COMMIT =~ ^[0-9a-f]{40}$ ]] || bail "hack/releases: no release commit in its last line"
grep -qx "Commit $PREV_COMMIT (\`hack/releases\`)." "$SRC/CHANGELOG.md" ||
	bail "CHANGELOG.md's $PREV_VERSION does not name commit $PREV_COMMIT as hack/releases does"
CACHE=${PODSHIM_BUILDDIR:-$BUILD}/upgrade-release/$PREV_COMMIT
if [[ ! -x $CACHE/podshim || ! -x $CACHE/podshim-pause ]]; then
	git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1 ||
		skip_all "building $PREV_VERSION needs git history: $SRC is no git checkout"
	git -C "$SRC" cat-file -e "$PREV_COMMIT^{commit}" 2>/dev/null ||
		skip_all "commit $PREV_COMMIT ($PREV_VERSION, hack/releases) is not in this clone's history (a shallow clone? git fetch --unshallow)"
	OLD_SRC=$(mktemp -d /tmp/upg-src.XXXXXX) || bail "mktemp failed"
	at_exit rm -rf "$OLD_SRC"
	t0=$SECONDS
	if git -C "$SRC" archive "$PREV_COMMIT" | tar -x -C "$OLD_SRC" &&
		meson setup "$OLD_SRC/build" "$OLD_SRC" -Dtests=false >"$OLD_SRC/build.log" 2>&1 &&
		meson compile -C "$OLD_SRC/build" cmd/podshim cmd/podshim-pause >>"$OLD_SRC/build.log" 2>&1; then
		if ! { mkdir -p "$CACHE.new" && cp "$OLD_SRC/build/cmd/podshim" "$OLD_SRC/build/cmd/podshim-pause" \
			"$CACHE.new/" && rm -rf "$CACHE" && mv "$CACHE.new" "$CACHE"; }; then
			bail "cannot keep the build in $CACHE"
		fi
		diag "built $PREV_VERSION ($PREV_COMMIT) in $((SECONDS - t0)) s, kept in $CACHE"
	else
		tail -n 30 "$OLD_SRC/build.log" | while IFS= read -r l; do diag "$l"; done
		bail "cannot build $PREV_VERSION from commit $PREV_COMMIT"
	fi
fi
OLD=$CACHE/podshim
OLD_PAUSE=$CACHE/podshim-pause

# The runtime dockerd runs: $BIN/podshim, with its podshim-pause beside it,
# replaced as a package manager does (copied beside it, renamed over it).
U=$(mktemp -d /tmp/upg.XXXXXX) || bail "mktemp failed"
at_exit rm -rf "$U" # after the daemon's stop (registered later, run first)
BIN=$U/bin
mkdir -p "$BIN"
install_podshim() { # BINARY PAUSE
	cp "$1" "$BIN/.podshim.new" && cp "$2" "$BIN/.podshim-pause.new" &&
		mv "$BIN/.podshim-pause.new" "$BIN/podshim-pause" && mv "$BIN/.podshim.new" "$BIN/podshim"
}
installed_version() { "$BIN/podshim" --version 2>/dev/null | sed -n 's/^podshim version //p'; }
install_podshim "$OLD" "$OLD_PAUSE" || bail "cannot install $PREV_VERSION"
is "$PREV_VERSION is installed as the daemon's runtime" "$(installed_version)" "$PREV_VERSION"
NEW_VERSION=$("$NEW" --version 2>/dev/null | sed -n 's/^podshim version //p')

# Each podshim finds the podshim-pause beside it, not the build's.
unset PODSHIM_PAUSE
export PODSHIM=$BIN/podshim PODSHIM_DOCKERD_API=1 PODSHIM_DOCKERD_LIVE_RESTORE=1
# 0.1.0 asks the Engine API at /v1.41, which a floor of 1.44 (sid's setup,
# as Docker 29) refuses: there, it never made companions.
unset DOCKER_MIN_API_VERSION
dockerd_up
images_up busybox
bounded_docker 120
IMG=podshim/busybox
at_exit eval 'ids=$(docker ps -aq); [[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1'

# --- helpers -------------------------------------------------------------------

pshim() { "$BIN/podshim" --podshim-state "$PODSHIM_STATE" "$@"; }
# pid_start PID: "PID:START" (its start time), which a reused PID does not
# match.  alive PID:START: that process runs (a zombie does not).
pid_start() {
	local pid=$1 st
	[[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
	st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	printf '%s:%s\n' "$pid" "${20}"
}
alive() {
	local st
	st=$(cat "/proc/${1%%:*}/stat" 2>/dev/null) || return 1
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- "$1" $st
	[[ $2 != Z && $2 != X && ${21} == "${1#*:}" ]]
}
# pod_json POD: its state file (the daemon's one root).
pod_json() { echo "$PODSHIM_STATE"/*/pods/"$1"/pod.json; }
# holder_of / pause_of POD: PID:START of its holder / pause, as recorded.
holder_of() { jq -r '"\(.holder.pid):\(.holder.start)"' "$(pod_json "$1")" 2>/dev/null; }
pause_of() { jq -r '"\(.pause.pid):\(.pause.start)"' "$(pod_json "$1")" 2>/dev/null; }
# init_of NAME: PID:START of a container's init.
init_of() { pid_start "$(docker inspect -f '{{.State.Pid}}' "$1" 2>/dev/null)"; }
# members_running POD NAME...: pod list (the installed podshim) lists exactly
# these containers as POD's members, each running.
members_running() {
	local pod=$1 c want='' got
	shift
	for c in "$@"; do want+="$(cid "$c") running"$'\n'; done
	want=$(sort <<<"${want%$'\n'}")
	got=$(pshim pod list --format json | jq -r --arg n "$pod" \
		'.[] | select(.name == $n) | .member_states | to_entries[] | "\(.key) \(.value)"' | sort)
	[[ $got == "$want" ]] || { echo "pod $pod: [$got], want [$want]"; return 1; }
}
# companions_of NAME: IDs of the companions of anchor NAME (docker's view).
companions_of() { docker ps -aq --no-trunc --filter "label=podshim.companion-of=$(cid "$1")"; }
one_running_companion() {
	local ids
	ids=$(companions_of "$1")
	[[ $(wc -w <<<"$ids") == 1 && $(docker inspect -f '{{.State.Running}}' "$ids" 2>/dev/null) == true ]] ||
		{ echo "companions of $1: [${ids//$'\n'/ }]"; return 1; }
}
# nothing_left POD [PID:START...]: no trace of pod POD: not listed, no pod
# directory or volumes, no mount of its, the given processes gone.
nothing_left() {
	local pod=$1 p why=
	shift
	pshim pod list --format json | jq -e --arg n "$pod" 'any(.[]; .name == $n)' >/dev/null && why+=" listed;"
	compgen -G "$PODSHIM_STATE/*/pods/$pod" >/dev/null && why+=" pod directory;"
	compgen -G "$PODSHIM_STATE/*/locks/$pod.lock" >/dev/null && why+=" lock;"
	compgen -G "$PODSHIM_DATA/*/$pod" >/dev/null && why+=" volumes;"
	grep -qF " $PODSHIM_DATA/" /proc/self/mountinfo && grep -F " $PODSHIM_DATA/" /proc/self/mountinfo |
		awk '{ print $5 }' | grep -q "/$pod/" && why+=" mount;"
	for p; do alive "$p" && why+=" process ${p%%:*};"; done
	[[ -z $why ]] || { echo "pod $pod:$why"; return 1; }
}
# no_entries ID...: no index entry and no record of these containers.
no_entries() {
	local id left=
	for id; do
		compgen -G "$PODSHIM_STATE/*/containers/$id" >/dev/null && left+=" index:${id:0:12}"
		compgen -G "$PODSHIM_STATE/*/records/$id" >/dev/null && left+=" record:${id:0:12}"
	done
	[[ -z $left ]] || { echo "left:$left"; return 1; }
}

COMPANION='{"image":"podshim/busybox","command":["sleep","100000"]}'
# old_pods N: with the installed podshim, pods pidsN (two members sharing
# PIDs), volsN (/shared and a sized /sized) and an anchor cN with companion
# cN.probe.  Only a pod's first member is networked (a hook-less dockerd,
# sid's, plumbs one interface per pod).
old_pods() {
	local n=$1
	run_d "p${n}a" --label podshim.pod="pids$n" --label podshim.share=net,ipc,uts,pid "$IMG" sleep 100000 &&
		run_d "p${n}b" --network none --label podshim.pod="pids$n" --label podshim.share=net,ipc,uts,pid \
			"$IMG" sleep 100000 &&
		run_d "v${n}a" --label podshim.pod="vols$n" --label podshim.volumes=/shared,/sized:1m "$IMG" \
			sh -c 'echo unsized >/shared/f && echo sized >/sized/f && exec sleep 100000' &&
		run_d "c$n" --label "podshim.companion.probe=$COMPANION" "$IMG" sleep 100000
}

# --- the previous release makes pods --------------------------------------------

check "$PREV_VERSION: pods pids1, vols1 and anchor c1 with a companion" old_pods 1
check "$PREV_VERSION: pods pids2, vols2 and anchor c2 with a companion" old_pods 2
for n in 1 2; do
	check "$PREV_VERSION: c$n's companion runs" wait_for -n 150 -s 0.2 one_running_companion "c$n"
	check "$PREV_VERSION: vols$n's files are written" wait_for -n 50 -s 0.2 docker exec "v${n}a" cat /shared/f /sized/f
done
HOLDERS=() PAUSES=()
for n in 1 2; do
	HOLDERS+=("$(holder_of "pids$n")" "$(holder_of "vols$n")" "$(holder_of "c$n")")
	PAUSES+=("$(pause_of "pids$n")")
done
all_alive() { local p; for p; do alive "$p" || { echo "$p is not running"; return 1; }; done; }
check "their holders and the pauses run" all_alive "${HOLDERS[@]}" "${PAUSES[@]}"
is "pod.json as $PREV_VERSION wrote it: version 1" "$(jq -r .version "$(pod_json pids1)")" 1
is "a record as $PREV_VERSION wrote it: no version" \
	"$(jq -r '.version // "none"' "$PODSHIM_STATE"/*/records/"$(cid c1)" 2>&1)" none

# --- the upgrade ----------------------------------------------------------------

check "upgrade: this tree's podshim renamed over $PREV_VERSION's" install_podshim "$NEW" "$NEW_PAUSE"
is "the daemon's runtime is now $NEW_VERSION" "$(installed_version)" "$NEW_VERSION"
isnt "which is not $PREV_VERSION" "$NEW_VERSION" "$PREV_VERSION"

# round N: with the new podshim, on the pods old_pods N made.
round() {
	local n=$1 pids=pids$1 vols=vols$1 anchor=c$1 pause holder_p holder_v old_companion ids
	pause=$(pause_of "$pids") holder_p=$(holder_of "$pids") holder_v=$(holder_of "$vols")
	check "round $n: a member (sharing PIDs) joins $pids" \
		run_d "p${n}c" --network none --label podshim.pod="$pids" --label podshim.share=net,ipc,uts,pid \
		"$IMG" sleep 100000
	is "round $n: its PID 1 is the old pod's pause" \
		"$(docker exec "p${n}c" cat /proc/1/comm 2>&1) $(pause_of "$pids")" "podshim-pause $pause"
	check "round $n: it sees the old members' processes" \
		eval "[[ \$(docker exec p${n}c ps -o pid,args | grep -c 'sleep 100000') == 3 ]]"
	is "round $n: $pids keeps its holder" "$(holder_of "$pids")" "$holder_p"
	is "round $n: the new member shares the old one's network namespace" \
		"$(readlink "/proc/$(docker inspect -f '{{.State.Pid}}' "p${n}c")/ns/net")" \
		"$(readlink "/proc/$(docker inspect -f '{{.State.Pid}}' "p${n}a")/ns/net")"
	check "round $n: a member with the same volumes joins $vols" \
		run_d "v${n}b" --network none --label podshim.pod="$vols" --label podshim.volumes=/shared,/sized:1m \
		"$IMG" sleep 100000
	is "round $n: it reads the old member's files in both volumes" \
		"$(docker exec "v${n}b" cat /shared/f /sized/f 2>&1 | paste -sd' ')" "unsized sized"
	is "round $n: $vols keeps its holder" "$(holder_of "$vols")" "$holder_v"
	check "round $n: pod list shows $pids' three members running" members_running "$pids" "p${n}a" "p${n}b" "p${n}c"
	check "round $n: and $vols' two" members_running "$vols" "v${n}a" "v${n}b"
	check "round $n: exactly one companion of $anchor runs" one_running_companion "$anchor"
	old_companion=$(companions_of "$anchor")
	check "round $n: docker restart of $anchor (its record is $PREV_VERSION's)" docker restart -t 1 "$anchor"
	check "round $n: its companion is made again: exactly one, running" \
		wait_for -n 150 -s 0.2 eval "one_running_companion $anchor && [[ \$(companions_of $anchor) != $old_companion ]]"
	is "round $n: $anchor's new record is the new podshim's (version 1)" \
		"$(jq -r .version "$PODSHIM_STATE"/*/records/"$(cid "$anchor")" 2>&1)" 1
	check "round $n: pod list shows $anchor and its companion" \
		wait_for -n 50 -s 0.2 members_running "$anchor" "$anchor" "$(docker inspect -f '{{.Name}}' "$(companions_of "$anchor")" | tr -d /)"
	ids="$(cid "p${n}a") $(cid "p${n}b") $(cid "p${n}c") $(cid "v${n}a") $(cid "v${n}b") $(cid "$anchor")"
	check "round $n: every member deleted (docker rm -f)" \
		docker rm -f "p${n}a" "p${n}b" "p${n}c" "v${n}a" "v${n}b" "$anchor"
	check "round $n: the companion goes with its anchor" wait_for -n 150 -s 0.2 eval "[[ -z \$(docker ps -aq --filter label=podshim.pod=$anchor) ]]"
	out=$(pshim pod gc 2>&1)
	is "round $n: pod gc finds nothing to do" "$out" "removed 0 pod(s)"
	check "round $n: nothing of $pids is left (holder, pause)" nothing_left "$pids" "$holder_p" "$pause"
	check "round $n: nothing of $vols is left (holder, volumes, sized mount)" nothing_left "$vols" "$holder_v"
	check "round $n: nothing of $anchor's pod is left" nothing_left "$anchor"
	# shellcheck disable=SC2086
	check "round $n: no index entry or record of theirs" no_entries $ids
}

round 1

# --- round 2: dockerd restarts with live-restore -----------------------------------

INITS=()
for c in p2a p2b v2a c2; do INITS+=("$(init_of "$c")"); done
C2_COMPANION=$(companions_of c2)
C2_COMPANION_INIT=$(init_of "$C2_COMPANION")
t0=$SECONDS
check "dockerd restarts (live-restore)" "$E2E_REPO/hack/dockerd" restart "$E2E_DIR"
diag "restart: $((SECONDS - t0)) s"
check "the old members kept running: the same processes" all_alive "${INITS[@]}" "$C2_COMPANION_INIT"
check "docker says so" eval '[[ $(docker inspect -f "{{.State.Running}}" p2a p2b v2a c2 | sort -u) == true ]]'
check "the pods' holders and pause too" all_alive "$(holder_of pids2)" "$(holder_of vols2)" "$(holder_of c2)" "$(pause_of pids2)"
check "exactly one companion of c2, the same" eval '[[ $(companions_of c2) == "$C2_COMPANION" ]] && one_running_companion c2'
round 2

# --- a rollback: 0.1.0 joins and removes a pod this podshim made ---------------------

check "a pod made by $NEW_VERSION: rb (PIDs shared, a volume)" \
	run_d rba --label podshim.pod=rb --label podshim.share=net,ipc,uts,pid --label podshim.volumes=/shared "$IMG" \
	sh -c 'echo new >/shared/f && exec sleep 100000'
RB_HOLDER=$(holder_of rb) RB_PAUSE=$(pause_of rb)
check "rollback: $PREV_VERSION renamed over it" install_podshim "$OLD" "$OLD_PAUSE"
check "$PREV_VERSION joins a member to rb" \
	run_d rbb --network none --label podshim.pod=rb --label podshim.share=net,ipc,uts,pid --label podshim.volumes=/shared \
	"$IMG" sleep 100000
is "it reads the volume and shares the pause" \
	"$(docker exec rbb cat /shared/f 2>&1) $(pause_of rb)" "new $RB_PAUSE"
RB_IDS="$(cid rba) $(cid rbb)"
check "$PREV_VERSION deletes both" docker rm -f rba rbb
check "nothing of rb is left" nothing_left rb "$RB_HOLDER" "$RB_PAUSE"
# shellcheck disable=SC2086
check "no index entry or record of theirs" no_entries $RB_IDS

# --- nothing at all ------------------------------------------------------------------

is "pod list is empty" "$(pshim pod list --format json | jq -c .)" "[]"
is "no pod, index entry or record in the state dir" \
	"$(find "$PODSHIM_STATE" -mindepth 3 \( -path '*/pods/*' -o -path '*/containers/*' -o -path '*/records/*' \) 2>/dev/null)" ""
is "no pod volumes" "$(find "$PODSHIM_DATA" -mindepth 2 2>/dev/null)" ""
is "no mount under the data dir" "$(grep -F " $PODSHIM_DATA/" /proc/self/mountinfo)" ""
none_alive() { local p; for p; do ! alive "$p" || { echo "$p still runs"; return 1; }; done; }
check "every holder and pause of the old pods is gone" none_alive "${HOLDERS[@]}" "${PAUSES[@]}"

done_testing

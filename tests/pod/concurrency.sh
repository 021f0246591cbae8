#!/usr/bin/env bash
# Concurrency: 12 members of a new pod created at the same moment make one
# sandbox with one /dev/shm; deleting them all at once leaves nothing. Two unrelated pods
# created concurrently stay apart.
# eval '...' strings expand later: variables used there look unused.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

N=12

# together CMD ID...: run `CMD ID` for every ID at once (released together),
# then report the IDs whose command failed.
together() {
	local cmd=$1 id pids=() failed=
	shift
	: >"$T/go"
	for id; do
		(
			while [[ -e $T/go ]]; do sleep 0.01; done
			$cmd "$id"
		) >"$T/out/$id.together" 2>&1 </dev/null &
		pids+=($!)
	done
	sleep 0.3
	rm -f "$T/go"
	local i=0
	for id; do
		wait "${pids[i]}" || failed+=" $id($?): $(head -c 300 "$T/out/$id.together")"
		i=$((i + 1))
	done
	[[ -z $failed ]] || {
		echo "failed:$failed"
		return 1
	}
}

create_c() { create "$1" "$T/b/$1"; }

ids=()
for i in $(seq 1 $N); do
	ids+=("C$i")
	mkb "C$i" -a podshim.pod=crowd -a podshim.volumes=/shared >/dev/null
done
check "$N concurrent creates of members of a new pod all succeed" together create_c "${ids[@]}"
inos=$(for id in "${ids[@]}"; do nsino "$(cpid "$id")" net; done | sort -u)
is "all $N share one netns" "$(wc -l <<<"$inos")" 1
is "it is the holder's" "$inos" "$(pinned crowd net)"
is "pod list shows one pod crowd with $N members" \
	"$(shim pod list --format json | jq -c '[.[] | select(.name == "crowd") | (.members | length)]')" "[$N]"
is "pod.json lists each once, none still creating" \
	"$(jq -c '[(.members | map(.id) | unique | length), ([.members[] | select(.creating)] | length)]' "$(poddir crowd)/pod.json")" \
	"[$N,0]"
# The first create's holder takes the pod's /dev/shm while its delegate
# works; the others wait until it has (or it would be theirs alone).
check "C1 writes /dev/shm/crowd" xin C1 sh -c 'echo c1 > /dev/shm/crowd'
is "all $N see it: one /dev/shm" \
	"$(for id in "${ids[@]}"; do xin "$id" cat /dev/shm/crowd 2>&1; done | sort | uniq -c | awk '{ print $1 ":" $2 }')" \
	"$N:c1"
# Under valgrind (no mount API) the pod's /dev/shm is a tmpfs on the host.
if [[ -z ${PODSHIM_VALGRIND:-} ]]; then
	is "the holder's" "$(cat "/proc/$(holder crowd)/root/shm/crowd" 2>&1)" c1
fi
is "exactly one holder, no mount" \
	"$(our_pauses | wc -l):$(grep -cF " $(poddir crowd)/" /proc/self/mountinfo)" 1:0
crowd_net=$inos
since=$(now_ticks)
mark_netns "$(ns_file crowd net)"
check "$N concurrent deletes succeed" together del "${ids[@]}"
is "pod crowd is gone" "$(members crowd):$(test -e "$(poddir crowd)" && echo left)" ":"
check "nothing left: no pods, no index, no mounts" eval 'no_pods && no_mounts_under "$STATE"'
check "crowd's netns is freed" wait_for 10 no_ns_refs net "$crowd_net" "$since"
check "no runc container left" test -z "$(rc list -q)"

# --- two unrelated pods at once, with pid sharing ------------------------------

ids=()
for i in 1 2 3 4 5 6; do
	for p in red blue; do
		ids+=("$p$i")
		mkb "$p$i" -a "podshim.pod=$p" -a podshim.share=net,ipc,uts,pid >/dev/null
	done
done
check "12 concurrent creates, 6 for pod red and 6 for pod blue" together create_c "${ids[@]}"
red=$(for i in 1 2 3 4 5 6; do nsino "$(cpid "red$i")" net; done | sort -u)
blue=$(for i in 1 2 3 4 5 6; do nsino "$(cpid "blue$i")" net; done | sort -u)
is "red's members share one netns, the pinned one" "$red" "$(pinned red net)"
is "blue's members share one netns, the pinned one" "$blue" "$(pinned blue net)"
isnt "red and blue are different pods" "$red" "$blue"
is "each has one pause" \
	"$(shim pod list --format json | jq -c '[.[] | select(.name == "red" or .name == "blue") | (.pause_pid > 0)]')" \
	"[true,true]"
is "red and blue list 6 members each" "$(members red | tr ',' '\n' | wc -l) $(members blue | tr ',' '\n' | wc -l)" "6 6"
check "12 concurrent deletes" together del "${ids[@]}"
is "no pod is left" "$(pod_count)" 0
check "nothing left: no pods, no index, no mounts, no pause" \
	eval 'no_pods && no_mounts_under "$STATE" && test -z "$(our_pauses)"'

# --- joins racing the last member's departure -----------------------------------

# Each round: the pod's only member leaves while 5 new ones join. Whether the
# joiners find the old sandbox or make a new one, they must end in one pod.
churn_ok=0 churn_log=
for round in 1 2 3; do
	ids=()
	for i in 1 2 3 4 5; do
		ids+=("W$round-$i")
		mkb "W$round-$i" -a podshim.pod=churn >/dev/null
	done
	if ((round == 1)); then
		mkb W0 -a podshim.pod=churn >/dev/null
		create W0 "$T/b/W0" || churn_log+=" W0 failed;"
		leaving=W0
	fi
	act() { if [[ $1 == "$leaving" ]]; then del "$1"; else create_c "$1"; fi; }
	if ! out=$(together act "$leaving" "${ids[@]}"); then
		churn_log+=" round $round: $out;"
		continue
	fi
	inos=$(for id in "${ids[@]}"; do nsino "$(cpid "$id")" net; done | sort -u)
	got="$(wc -l <<<"$inos"):$([[ $inos == "$(pinned churn net 2>/dev/null)" ]] && echo pinned):$(members churn)"
	want="1:pinned:$(IFS=,; echo "${ids[*]}")"
	if [[ $got == "$want" ]]; then
		churn_ok=$((churn_ok + 1))
	else
		churn_log+=" round $round: got $got, want $want;"
	fi
	# The next round's leaver: all of this round's members but one go first.
	del_all "${ids[@]:1}" || churn_log+=" round $round: delete failed;"
	leaving=${ids[0]}
done
is "3 rounds of joins racing the last departure end in one consistent pod" "$churn_ok$churn_log" 3
check "delete the last one" del "$leaving"
is "no pod is left" "$(pod_count)" 0
check "nothing left: no pods, no index, no mounts" eval 'no_pods && no_mounts_under "$STATE"'

# --- pod gc racing creates and deletes -----------------------------------------------

# gc loops (bounded) while rounds of 8 concurrent creates, each of a new pod,
# and then their deletes run on an empty state dir: gc takes the locks create
# and delete take, and never pulls a directory from under them.
gc_loop() {
	local n=0
	while [[ -e $T/gc-go ]] && ((n < 2000)); do
		shim pod gc >/dev/null 2>>"$T/out/gc.err" || echo "gc failed" >>"$T/out/gc.err"
		n=$((n + 1))
	done
	echo "$n" >"$T/out/gc.n"
}
: >"$T/gc-go"
: >"$T/out/gc.err"
gc_loop &
gc_pid=$!
gc_fail=
for round in 1 2 3 4; do
	ids=()
	for i in 1 2 3 4 5 6 7 8; do
		ids+=("Q$round-$i")
		mkb "Q$round-$i" -a "podshim.pod=gcr$round-$i" >/dev/null
	done
	out=$(together create_c "${ids[@]}") || gc_fail+=" round $round creates: $out;"
	out=$(together del "${ids[@]}") || gc_fail+=" round $round deletes: $out;"
done
rm -f "$T/gc-go"
wait "$gc_pid"
is "4 rounds of 8 creates and 8 deletes beside a pod gc loop all succeed" "$gc_fail" ""
is "and every pod gc succeeded ($(cat "$T/out/gc.n" 2>/dev/null) runs)" "$(head -c 600 "$T/out/gc.err")" ""
check "nothing left: no pods, no index, no mounts" eval 'no_pods && no_mounts_under "$STATE"'

# --- the pods-per-root limit under concurrent creates of new pods --------------------

ids=()
for i in 1 2 3 4 5 6 7 8; do
	ids+=("L$i")
	mkb "L$i" -a "podshim.pod=lim$i" >/dev/null
done
create_lim() { PODSHIM_MAX_PODS=5 create "$1" "$T/b/$1"; }
together create_lim "${ids[@]}" >/dev/null
is "8 concurrent creates of new pods with a limit of 5: exactly 5 pods" "$(pod_count)" 5
is "the 3 others were refused naming the limit" \
	"$(grep -l 'already has 5 pods' "$T"/out/L?.together 2>/dev/null | wc -l)" 3
check "delete them" eval 'for id in "${ids[@]}"; do del "$id" || true; done; [[ $(pod_count) == 0 ]]'
check "nothing left: no pods, no index, no mounts" eval 'no_pods && no_mounts_under "$STATE"'

done_testing

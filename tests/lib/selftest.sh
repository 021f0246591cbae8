#!/usr/bin/env bash
# tests/lib/selftest.sh — the shared test libraries themselves (tests/lib/
# tap.sh and oci.sh): each case runs a small script that sources them and
# checks its output and exit status.  This file reports with its own few
# lines of TAP, not with the library under test.
# (single-quoted scripts and jq filters)
# shellcheck disable=SC2016,SC1091
set -uo pipefail
export LC_ALL=C
LIB=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/podshim-libtest.XXXXXX)
trap 'rm -rf "$W"' EXIT

n=0 fails=0
res() { # DESC GOT WANT
	n=$((n + 1))
	if [[ $2 == "$3" ]]; then
		echo "ok $n - $1"
	else
		fails=$((fails + 1))
		echo "not ok $n - $1"
		printf '%s\n' "got:" "$2" "want:" "$3" | sed 's/^/# /'
	fi
}

# run SCRIPT: run a bash script that has sourced tap.sh; prints its stdout,
# then "status N".
run() {
	local out rc
	out=$(bash -c ". '$LIB/tap.sh'; $1" 2>"$W/stderr")
	rc=$?
	printf '%s\nstatus %d' "$out" "$rc"
}

res "results are numbered; done_testing plans and passes" \
	"$(run 'ok a; ok b; done_testing')" \
	$'ok 1 - a\nok 2 - b\n1..2\n# 2 passed, 0 failed\nstatus 0'
res "a failure fails done_testing; its diagnostics are one line each" \
	"$(run 'ok a; not_ok b "x y" "z"; done_testing')" \
	$'ok 1 - a\nnot ok 2 - b\n# x y\n# z\n1..2\n# 1 passed, 1 failed\nstatus 1'
res "a TODO failure is expected: done_testing passes" \
	"$(run 'not_ok "b # TODO later"; done_testing')" \
	$'not ok 1 - b # TODO later\n1..1\n# 0 passed, 0 failed, 1 expected failures\nstatus 0'
res "a plan that is not met fails" \
	"$(run 'plan 3; ok a; done_testing')" \
	$'1..3\nok 1 - a\n# 1 passed, 0 failed\n# planned 3 tests, ran 1\nstatus 1'
res "skip DESC REASON and skip REASON" \
	"$(run 'skip d r; skip "just why"; done_testing')" \
	$'ok 1 - d # SKIP r\nok 2 # SKIP just why\n1..2\n# 2 passed, 0 failed\nstatus 0'
res "skip_all skips the script" "$(run 'skip_all "no root"; ok never')" $'1..0 # SKIP no root\nstatus 0'
res "bail" "$(run 'bail "it broke"; ok never')" $'Bail out! it broke\nstatus 1'
res "is, isnt, like" \
	"$(run 'is a x x; is b x y; isnt c x y; isnt d x x; like e abc "^a.c$"; like f abc "^b"; done_testing' | grep -v '^#')" \
	$'ok 1 - a\nnot ok 2 - b\nok 3 - c\nnot ok 4 - d\nok 5 - e\nnot ok 6 - f\n1..6\nstatus 1'
res "check, check_fails (with the failing command's output)" \
	"$(run 'check a true; check b sh -c "echo out; echo err >&2; exit 1"; check_fails c false; check_fails d true; done_testing')" \
	$'ok 1 - a\nnot ok 2 - b\n# command: sh -c echo out; echo err >&2; exit 1\n# out\n# err\nok 3 - c\nnot ok 4 - d\n# command unexpectedly succeeded: true\n# \n1..4\n# 2 passed, 2 failed\nstatus 1'
printf 'a\n' >"$W/a"
printf 'b\n' >"$W/b"
res "same_files" \
	"$(run "same_files same '$W/a' '$W/a'; same_files differ '$W/a' '$W/b'" | grep -v '^# ')" \
	$'ok 1 - same\nnot ok 2 - differ\nstatus 0'

# at_exit: last registered first, all of them even after a failing one, the
# script's status kept, also on SIGTERM.
res "at_exit runs the stack in reverse and keeps the exit status" \
	"$(run 'at_exit echo first; at_exit false; at_exit echo "second  arg"; exit 3')" \
	$'second  arg\nfirst\nstatus 3'
res "at_exit on SIGTERM" \
	"$(run 'at_exit echo cleaned; kill -TERM $$; sleep 5; echo not reached')" $'cleaned\nstatus 130'

# wait_for: SECONDS form and -n/-s form; the successful output is printed.
res "wait_for succeeds once CMD does, printing its output" \
	"$(run "rm -f '$W/c'; f() { echo x >>'$W/c'; [[ \$(wc -l <'$W/c') -ge 3 ]] && echo done; }; wait_for -n 5 -s 0 f; echo rc \$?")" \
	$'done\nrc 0\nstatus 0'
res "wait_for -n gives up after TRIES" \
	"$(run "rm -f '$W/c'; f() { echo x >>'$W/c'; false; }; wait_for -n 4 -s 0 f; echo rc \$? \$(wc -l <'$W/c')")" \
	$'rc 1 4\nstatus 0'
res "wait_for SECONDS tries every 0.1 s, SECONDS*10+1 times" \
	"$(run "rm -f '$W/c'; f() { echo x >>'$W/c'; false; }; wait_for 1 f; echo rc \$? \$(wc -l <'$W/c')")" \
	$'rc 1 11\nstatus 0'
res "retry runs CMD in this shell" \
	"$(run 'k=0; f() { k=$((k + 1)); ((k == 3)); }; retry 5 0 f; echo rc $? k $k')" $'rc 0 k 3\nstatus 0'

# bounded: output and status kept; a child left behind holding stdout does
# not keep $(...) waiting; a timeout is 124; stdin from /dev/null, a file, or
# the caller's (-I).
res "bounded keeps CMD's stdout, stderr and status" \
	"$(run 'o=$(bounded sh -c "echo out; echo err >&2; exit 3" 2>&1); echo "[$o] $?"')" \
	$'[out\nerr] 3\nstatus 0'
res "bounded under set -e: a failing CMD's output is passed on" \
	"$(run 'set -e; (bounded sh -c "echo out; echo err >&2; exit 5" 2>&1 &) ; wait; sleep 0.2')" \
	$'out\nerr\nstatus 0'
res "bounded: a process CMD leaves behind does not hold the caller's pipe" \
	"$(run 's=$SECONDS; p=$(bounded sh -c "sleep 30 & echo \$!"); echo "started $((SECONDS - s < 10))"; kill "$p"')" \
	$'started 1\nstatus 0'
res "bounded -t: a timeout is 124, said on stderr" \
	"$(run 'bounded -t 1 sleep 30 2>&1; echo rc $?')" $'bounded: timed out after 1 s: sleep 30\nrc 124\nstatus 0'
echo piped >"$W/in"
res "bounded: stdin is /dev/null, -i FILE, or the caller's (-I)" \
	"$(run "echo x | bounded cat; echo '['\$(bounded -i '$W/in' cat)']'; echo y | bounded -I cat")" \
	$'[piped]\ny\nstatus 0'
res "bounded: environment assignments reach CMD; its files go at the script's exit" \
	"$(run "XV=7 bounded sh -c 'echo \$XV'; echo \$_BOUNDED_DIR >'$W/bd'")$([[ -e $(<"$W/bd") ]] && echo ' left')" \
	$'7\nstatus 0'

# tests/lib/no-hang.py: a script that creates a container outside bounded is
# named, file and line; the same script through bounded, or a wrapper that
# bounds "$@", passes.
mkdir -p "$W/nh/tests/e2e" "$W/nh/tests/pod"
printf 'docker() { bounded -I "$DOCKER_BIN" "$@"; }\n' >"$W/nh/tests/e2e/lib.sh"
printf '#!/bin/bash\nok=1\nout=$("$PODSHIM" --root r create --bundle b id 2>&1)\n' >"$W/nh/tests/pod/bad.sh"
printf 'rc() {\n\trunc --root "$R" "$@"\n}\n' >"$W/nh/tests/pod/wrap.sh"
res "no-hang names a create and a wrapper outside bounded" \
	"$(python3 "$LIB/no-hang.py" "$W/nh" >"$W/nh.out"; s=$?; head -2 "$W/nh.out"; echo "rc $s")" \
	$'tests/pod/bad.sh:3: runs a container runtime (create/run, or "$@") without bounded\ntests/pod/wrap.sh:2: runs a container runtime (create/run, or "$@") without bounded\nrc 1'
printf '#!/bin/bash\nout=$(bounded "$PODSHIM" --root r create --bundle b id 2>&1)\ncapture x "${SHIM[@]}" run id\n' \
	>"$W/nh/tests/pod/bad.sh"
printf 'rc() {\n\tbounded runc --root "$R" "$@"\n}\ncapture() {\n\tbounded "$@" >o 2>e\n}\n' >"$W/nh/tests/pod/wrap.sh"
res "no-hang passes them through bounded or a bounded wrapper" \
	"$(python3 "$LIB/no-hang.py" "$W/nh"; echo "rc $?")" $'no-hang: every create/run of the test scripts is bounded\nrc 0'

# oci.sh
(
	. "$LIB/oci.sh"
	if ! command -v busybox >/dev/null || ! command -v runc >/dev/null; then
		echo "skip"
		exit
	fi
	make_rootfs "$W/r1" sh sleep || echo "make_rootfs failed"
	(cd "$W/r1" && echo * && cd bin && echo *)
	make_rootfs "$W/r2" && [[ -L $W/r2/bin/wget && -L $W/r2/bin/nc ]] && echo "every applet"
	base_spec "$W/base.json" "$W/r1" '.process.args = [$a]' --arg a hi &&
		jq -c '[.root, .process.terminal, .process.args]' "$W/base.json"
	find "$W" -maxdepth 1 -name 'base.json*' | wc -l # no temp dir left
	make_bundle "$W/bundle" "$W/base.json" '.annotations = {"podshim.pod": $p}' --arg p web &&
		jq -c '[.annotations, .process.args]' "$W/bundle/config.json"
) >"$W/oci" 2>&1
if [[ $(<"$W/oci") == skip ]]; then
	n=$((n + 1))
	echo "ok $n - oci.sh # SKIP needs busybox and runc"
else
	res "make_rootfs, base_spec, make_bundle" "$(<"$W/oci")" "bin dev etc proc sys tmp
busybox sh sleep
every applet
[{\"path\":\"$W/r1\",\"readonly\":true},false,[\"hi\"]]
1
[{\"podshim.pod\":\"web\"},[\"hi\"]]"
fi

# unmount_under: everything at or below DIR, deepest first (root only).
if [[ $(id -u) == 0 ]]; then
	mkdir -p "$W/m/a/b" "$W/mx"
	mount -t tmpfs t "$W/m/a" && mkdir -p "$W/m/a/b" && mount -t tmpfs t "$W/m/a/b" && mount -t tmpfs t "$W/mx"
	res "mounts_under lists DIR's mounts, deepest first" \
		"$(. "$LIB/oci.sh"; mounts_under "$W/m")" "$W/m/a/b"$'\n'"$W/m/a"
	res "unmount_under unmounts them (not a sibling's)" \
		"$(. "$LIB/oci.sh"; unmount_under "$W/m"; mounts_under "$W/m"; mounts_under "$W/mx")" "$W/mx"
	umount -l "$W/mx" "$W/m/a/b" "$W/m/a" 2>/dev/null
else
	n=$((n + 1))
	echo "ok $n - unmount_under # SKIP needs root"
fi

echo "1..$n"
((fails == 0))

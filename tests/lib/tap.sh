# shellcheck shell=bash
# tests/lib/tap.sh — the TAP helpers and the exit-cleanup stack every bash test
# suite uses (tests/{integration,pod,e2e,cluster,load}; each suite's lib.sh
# sources this file, a test script sources its suite's lib.sh):
#
#   plan 3                      # optional: done_testing prints the plan too
#   at_exit rm -rf "$dir"       # runs at exit, last registered first
#   check "A runs" some_command args
#   is "the answer" "$(answer)" 42
#   done_testing                # closing line; status 1 if anything failed
#
# Output goes to stdout (meson reads TAP there); diagnostics are "# " lines.
# A description ending in "# TODO reason" is an expected failure: its not_ok
# does not fail the script.  It also brings `bounded` (tests/lib/bounded.sh):
# every command that can make a container runs through it.

TAP_N=0
TAP_FAIL=0
TAP_TODO=0
TAP_PLANNED=
TAP_CLEANUPS=()

# plan N: announce the number of tests (before the first result).
plan() {
	TAP_PLANNED=$1
	echo "1..$1"
}

# skip_all REASON: instead of plan; the whole script is skipped (exits 0).
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# bail MSG...: abort the whole script (TAP "Bail out!"), status 1.
bail() {
	echo "Bail out! $*"
	exit 1
}

# diag MSG...: TAP comment lines, one per line of each MSG (on stdout, so
# they interleave with the results).
diag() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do echo "# $line"; done
}

# ok DESC / not_ok DESC [DIAG...]: record one result.
ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}
not_ok() {
	TAP_N=$((TAP_N + 1))
	if [[ $1 == *"# TODO"* ]]; then
		TAP_TODO=$((TAP_TODO + 1))
	else
		TAP_FAIL=$((TAP_FAIL + 1))
	fi
	echo "not ok $TAP_N - $1"
	shift
	(($# == 0)) || diag "$@"
}

# skip DESC REASON / skip REASON: record one skipped test (TAP directive;
# meson counts it as skipped).
skip() {
	TAP_N=$((TAP_N + 1))
	if (($# >= 2)); then
		echo "ok $TAP_N - $1 # SKIP $2"
	else
		echo "ok $TAP_N # SKIP $1"
	fi
}

# check DESC CMD...: run CMD; ok if it succeeds, else not_ok with its output.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "$out"
	fi
}

# check_fails DESC CMD...: ok if CMD fails.
check_fails() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		not_ok "$desc" "command unexpectedly succeeded: $*" "$out"
	else
		ok "$desc"
	fi
}

# is DESC GOT WANT / isnt DESC GOT NOTWANT / like DESC GOT ERE: compare and
# record one result.
is() {
	if [[ $2 == "$3" ]]; then
		ok "$1"
	else
		not_ok "$1" "got:  $(printf '%q' "$2")" "want: $(printf '%q' "$3")"
	fi
}
isnt() {
	if [[ $2 != "$3" ]]; then
		ok "$1"
	else
		not_ok "$1" "got $(printf '%q' "$2"), which it must not be"
	fi
}
like() {
	if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1" "got:  $2" "want: /$3/"; fi
}

# same_files DESC A B: files A and B are identical (the diff as diagnostics).
same_files() {
	local d
	if d=$(diff -u "$2" "$3" 2>&1); then
		ok "$1"
	else
		not_ok "$1" "$d"
	fi
}

# done_testing: print the plan if none was given and the closing line;
# status 1 if anything failed or the plan count was not met.
done_testing() {
	[[ -n $TAP_PLANNED ]] || echo "1..$TAP_N"
	echo "# $((TAP_N - TAP_FAIL - TAP_TODO)) passed, $TAP_FAIL failed$( ((TAP_TODO == 0)) || echo ", $TAP_TODO expected failures")"
	if [[ -n $TAP_PLANNED && $TAP_PLANNED != "$TAP_N" ]]; then
		diag "planned $TAP_PLANNED tests, ran $TAP_N"
		return 1
	fi
	((TAP_FAIL == 0))
}

# --- waiting ---------------------------------------------------------------

# wait_for [SECONDS | -n TRIES] [-s PAUSE] CMD...: run CMD until it succeeds,
# at most TRIES times (default 50) PAUSE seconds apart (default 0.2); a first
# argument that is a number is a time limit instead (a try every 0.1 s for
# SECONDS, and one more).  The successful run's output is printed; if it never
# succeeds, the last run's output goes to stderr and the status is 1.  CMD
# runs in a subshell.
wait_for() {
	local tries=50 pause=0.2 i out
	if [[ ${1:-} =~ ^[0-9]+$ ]]; then
		tries=$(($1 * 10 + 1)) pause=0.1
		shift
	fi
	while [[ ${1:-} == -[ns] ]]; do
		case $1 in
		-n) tries=$2 ;;
		-s) pause=$2 ;;
		esac
		shift 2
	done
	for ((i = 1; i <= tries; i++)); do
		if out=$("$@" 2>&1); then
			[[ -z $out ]] || printf '%s\n' "$out"
			return 0
		fi
		((i == tries)) || sleep "$pause"
	done
	printf '%s\n' "$out" >&2
	return 1
}

# retry TRIES PAUSE CMD...: like wait_for, but CMD runs in this shell (so it
# may set variables) and nothing is printed.
retry() {
	local n=$1 pause=$2 i
	shift 2
	for ((i = 1; i <= n; i++)); do
		"$@" && return 0
		((i == n)) || sleep "$pause"
	done
	return 1
}

# --- cleanup ---------------------------------------------------------------

# at_exit CMD...: run CMD at exit, also after a failure or SIGINT/SIGTERM/
# SIGHUP (last registered runs first; a failing CMD does not stop the rest).
at_exit() {
	local q
	printf -v q '%q ' "$@"
	TAP_CLEANUPS+=("$q")
	trap tap_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

# tap_cleanup: the EXIT trap; keeps the script's exit status.
tap_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#TAP_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${TAP_CLEANUPS[i]}"
	done
	TAP_CLEANUPS=()
	return "$rc"
}

# shellcheck source=tests/lib/bounded.sh
. "$(dirname "${BASH_SOURCE[0]}")/bounded.sh"

# shellcheck shell=bash
# tests/lib/bounded.sh — no test can hang (sourced by tap.sh, so by every
# suite).  A command that can make a container — podshim, runc, crun, ctr
# with create or run, or a wrapper that forwards "$@" to one of them — runs
# through `bounded`:
#
#   err=$(bounded "$PODSHIM" create --bundle "$b" id 2>&1)   # safe in $(...)
#   shim() { bounded "$PODSHIM" --podshim-state "$S" "$@"; } # a wrapper
#
# A container inherits the stdio of the command that made it: made with a
# test's pipe (a `$(...)`, `| jq`), its init keeps that pipe open, and the
# test waits for the container's end, that is for ever.  Under `bounded` it
# inherits files instead, and the command itself has a deadline: an
# unexpected success is a failure of the test, never a wait.  The lib test
# no-hang (tests/lib/no-hang.py) finds every call that does not go through
# it.

# bounded [-t SECONDS] [-i FILE | -I] CMD...: runs CMD (an executable, not a
# shell function) under `timeout` (SECONDS, else $BOUNDED_TIMEOUT, else 120;
# SIGKILL 10 s after SIGTERM) with stdin from FILE (default: an empty file of
# its own, never the host's /dev/null, which runsc chowns to nobody; -I: the
# caller's, for a client such as docker whose containers never inherit it)
# and stdout and stderr in files (in $BOUNDED_TMP, else a directory of this
# script's, removed at its exit), which it then copies to its own stdout and
# stderr.  Its status is CMD's (124 when it timed out, said on stderr).
# Environment assignments before `bounded` reach CMD.  The files are named
# for the shell process ($BASHPID): one at a time per process, reused.
bounded() {
	local t=${BOUNDED_TIMEOUT:-120} in=- f s
	while :; do
		case ${1:-} in
		-t)
			t=$2
			shift 2
			;;
		-i)
			in=$2
			shift 2
			;;
		-I)
			in=
			shift
			;;
		*) break ;;
		esac
	done
	f=${BOUNDED_TMP:-$_BOUNDED_DIR}/bounded.$BASHPID
	if [[ $in == - ]]; then
		in=$f.in
		: >"$in"
	fi
	# `|| s=$?`: under `set -e` too, CMD's output is passed on when it fails.
	s=0
	if [[ -n $in ]]; then
		timeout -k 10 "$t" "$@" <"$in" >"$f" 2>"$f.err" || s=$?
	else
		timeout -k 10 "$t" "$@" >"$f" 2>"$f.err" || s=$?
	fi
	[[ ! -s $f ]] || cat "$f"
	[[ ! -s $f.err ]] || cat "$f.err" >&2
	((s != 124)) || echo "bounded: timed out after $t s: $*" >&2
	return "$s"
}

_BOUNDED_DIR=$(mktemp -d "${TMPDIR:-/tmp}/podshim-bounded.XXXXXX")
at_exit rm -rf "$_BOUNDED_DIR"

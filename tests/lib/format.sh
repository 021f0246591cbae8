#!/usr/bin/env bash
# tests/lib/format.sh — hack/format on a small tree of its own (a copy of the
# script and of the checked-in .clang-format): --check names exactly the files
# that differ and fails, a rewrite makes --check pass and leaves formatted
# files and files outside the C directories alone.
set -uo pipefail
export LC_ALL=C
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/tap.sh
. "$SRC/tests/lib/tap.sh"

command -v clang-format >/dev/null || skip_all "needs clang-format (hack/install-deps)"
W=$(mktemp -d /tmp/podshim-format.XXXXXX)
at_exit rm -rf "$W"
mkdir -p "$W/hack" "$W"/{cmd,lib,runtime,tests/unit,tests/fuzz,tests/data}
cp "$SRC/hack/format" "$W/hack/"
cp "$SRC/.clang-format" "$W/"

# good: what clang-format makes of bad.
bad='int f(int a){if(a) return 1;
return 0;}
'
printf '%s' "$bad" >"$W/lib/bad.c"
printf '%s' "$bad" >"$W/tests/unit/bad.h"
printf '%s' "$bad" >"$W/tests/data/ignored.c" # not a C directory
clang-format --style=file --assume-filename="$W/cmd/good.c" <"$W/lib/bad.c" >"$W/cmd/good.c"
cp "$W/cmd/good.c" "$W/runtime/good.c"
cp "$W/cmd/good.c" "$W/tests/fuzz/good.c"
good_sum=$(sha256sum <"$W/cmd/good.c")

out=$("$W/hack/format" --check 2>"$W/err")
is "--check fails when files differ" "$?" 1
is "--check prints exactly the files that differ" "$out" $'lib/bad.c\ntests/unit/bad.h'
like "--check says how many differ" "$(<"$W/err")" "2 of 5 files differ"
is "--check FILE checks that file only" "$("$W/hack/format" --check cmd/good.c 2>&1; echo "rc $?")" "rc 0"
is "--check touched nothing" "$(cat "$W/lib/bad.c")" "${bad%$'\n'}"

touch -d '2000-01-01' "$W/cmd/good.c"
"$W/hack/format"
is "a rewrite succeeds" "$?" 0
is "it formats the files that differed" "$(sha256sum <"$W/lib/bad.c"):$(sha256sum <"$W/tests/unit/bad.h")" \
	"$good_sum:$good_sum"
is "and leaves a formatted file alone (not even rewritten)" \
	"$(sha256sum <"$W/cmd/good.c"):$(stat -c %Y "$W/cmd/good.c")" "$good_sum:$(date -d 2000-01-01 +%s)"
is "and a file outside the C directories" "$(cat "$W/tests/data/ignored.c")" "${bad%$'\n'}"
is "--check passes afterwards" "$("$W/hack/format" --check 2>&1; echo "rc $?")" "rc 0"

is "without clang-format: status 2 and why" \
	"$(CLANG_FORMAT=/nonexistent/clang-format "$W/hack/format" --check 2>&1; echo "rc $?")" \
	$'hack/format: /nonexistent/clang-format not found (hack/install-deps installs clang-format)\nrc 2'
is "an unknown option: status 2" "$("$W/hack/format" --fix >/dev/null 2>&1; echo "rc $?")" "rc 2"
done_testing

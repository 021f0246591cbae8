#!/usr/bin/env bash
# tests/lib/man.sh PAGE... — the built man pages render without a groff or
# man warning (lintian's check: man --warnings), podshim(8) names every
# --podshim-* option runtime/oci/argv.c parses, every environment variable and
# command, and podshim-labels(7) every key runtime/ looks up (label and env
# form) and every companion key runtime/engine/companion.c accepts.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/tap.sh
. "$HERE/tap.sh"
SRC=${PODSHIM_SRCDIR:-$HERE/../..}
command -v man >/dev/null || skip_all "man is missing"

for page in "$@"; do
	name=$(basename "$page")
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
	is "$name renders without a warning" "$warn" ""
	case $name in
	podshim.8) P8=$(MANWIDTH=200 man -l "$page" 2>/dev/null) ;;
	podshim-labels.7) P7=$(MANWIDTH=200 man -l "$page" 2>/dev/null) ;;
	esac
done
[[ -n ${P8:-} && -n ${P7:-} ]] || bail "give podshim.8 and podshim-labels.7"

# What the sources know, found wherever runtime/ keeps them; each list must
# be non-empty, or the test would pass on nothing.
src() { grep -rhoE --include='*.c' "$1" "$SRC/runtime"; }
opts=$(src 'flag_is \(&f, "podshim-[a-z-]*"\)' | sed 's/.*"\(.*\)")/\1/' | sort -u)
looks=$(src '"podshim\.[a-z-]*", "PODSHIM_[A-Z_]*"' |
	sed 's/.*"\(podshim\.[a-z-]*\)", "\(PODSHIM_[A-Z_]*\)"/\1 \2/' | sort -u)
keys=$(src 'strcmp \(key, "[a-z]*"\)' | sed 's/.*"\(.*\)")/\1/' | sort -u)
isnt "runtime/ has --podshim-* options, pod keys and companion keys to check" \
	"$(wc -w <<<"$opts")-$(wc -l <<<"$looks")-$(wc -w <<<"$keys")" "0-1-0"
missing=
for o in $opts; do
	grep -q -- "--$o" <<<"$P8" || missing+=" --$o"
done
for v in PODSHIM_DELEGATE PODSHIM_STATE PODSHIM_DATA PODSHIM_DOCKER_HOST PODSHIM_MAX_PODS PODSHIM_PAUSE; do
	grep -qw "$v" <<<"$P8" || missing+=" $v"
done
for c in "pod list" "pod inspect" "pod gc" "install docker" "uninstall docker" "--version" "--podshim-help" "docker pod ls"; do
	grep -qF -- "$c" <<<"$P8" || missing+=" [$c]"
done
is "podshim(8) names every option, variable and command" "$missing" ""

missing=
while read -r label env; do
	grep -qF "$label, $env" <<<"$P7" || missing+=" [$label, $env]"
done <<<"$looks"
is "podshim-labels(7) names every key runtime/ looks up, label and env ($(wc -l <<<"$looks"))" "$missing" ""
missing=
for k in $keys; do
	grep -qE "^ *(.*, )?$k( \(|,)" <<<"$P7" || missing+=" $k"
done
is "podshim-labels(7) names every companion key companion.c accepts ($(wc -w <<<"$keys"))" "$missing" ""
for l in podshim.companion.NAME podshim.companion-of podshim.companion-name com.docker.compose.project com.docker.stack.namespace; do
	grep -qF "$l" <<<"$P7" || missing+=" $l"
done
is "and the companion and scope labels" "$missing" ""
done_testing

#!/usr/bin/env bash
# tests/integration/cli.sh — podshim's own command line, no container:
#  - --version: the delegate's output first, byte for byte (runc's bats
#    version.bats reads its first line), podshim's line after it, the
#    delegate's exit status;
#  - --podshim-help names every --podshim-* option and podshim's commands;
#    --help is the delegate's;
#  - pod --help / pod help list the pod commands;
#  - install/uninstall docker on daemon.json files in a temp dir: every other
#    key kept, idempotent byte for byte, --dry-run writes nothing, invalid
#    JSON refused naming the file (left untouched), a backup and a memory
#    beside the file, uninstall gives the original back;
#  - install podman|containerd print their snippets.
set -uo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
: "${PODSHIM:?PODSHIM must name the podshim binary}"
# shellcheck source=tests/lib/tap.sh
. "$HERE/../lib/tap.sh"
SRC=${PODSHIM_SRCDIR:-$HERE/../..}

T=$(mktemp -d /tmp/podshim-it-cli.XXXXXX) || bail "mktemp failed"
at_exit rm -rf -- "$T"
RUNC=$(command -v runc) || skip_all "runc is missing"

# --- --version -------------------------------------------------------------

"$RUNC" --version >"$T/runc.out" 2>&1
"$PODSHIM" --version >"$T/shim.out" 2>"$T/shim.err"
rc=$?
is "--version exits 0 as runc does" "$rc" 0
is "--version: the first line is runc's first line" "$(head -n1 "$T/shim.out")" "$(head -n1 "$T/runc.out")"
n=$(wc -c <"$T/runc.out")
check "--version: runc's whole output first, byte for byte" cmp -n "$n" "$T/runc.out" "$T/shim.out"
want_version=$("$SRC/hack/version")
like "--version: then podshim's own line, the tree's version" "$(tail -n +"$(($(wc -l <"$T/runc.out") + 1))" "$T/shim.out")" \
	"^podshim version ${want_version//+/\\+}( \(fault injection\))?$"
is "--version: nothing on stderr" "$(cat "$T/shim.err")" ""

# A delegate that fails: its output, podshim's line, its status.
printf '#!/bin/sh\necho "fake version 9.9.9"\necho "second line"\nexit 3\n' >"$T/fake"
chmod +x "$T/fake"
out=$("$PODSHIM" --podshim-runtime "$T/fake" --version 2>/dev/null)
rc=$?
is "--version: the delegate's exit status (3)" "$rc" 3
is "--version: the delegate's lines, then podshim's" "$(head -n2 <<<"$out")" $'fake version 9.9.9\nsecond line'
like "--version: podshim's line last" "$(tail -n1 <<<"$out")" '^podshim version '
out=$("$PODSHIM" --podshim-runtime "$T/nonexistent" -v 2>&1)
rc=$?
is "--version without a delegate: 127" "$rc" 127
like "and it says why" "$out" 'cannot execute the runtime'

# --- help ------------------------------------------------------------------

out=$("$PODSHIM" --podshim-help 2>&1)
rc=$?
is "--podshim-help exits 0" "$rc" 0
missing=
opts=$(grep -rhoE --include='*.c' 'flag_is \(&f, "podshim-[a-z-]*"\)' "$SRC/runtime" | sed 's/.*"\(.*\)")/\1/' | sort -u)
for o in $opts; do
	[[ $out == *"--$o"* ]] || missing+=" --$o"
done
is "--podshim-help names every --podshim-* option argv.c knows ($(wc -w <<<"$opts"))" "$missing" ""
isnt "(argv.c knows some)" "$(wc -w <<<"$opts")" 0
for c in "pod list" "pod inspect" "pod gc" "install docker" "uninstall docker" "install podman|containerd"; do
	[[ $out == *"$c"* ]] || missing+=" [$c]"
done
is "--podshim-help names podshim's commands" "$missing" ""
"$RUNC" --help >"$T/runc-help" 2>&1
"$PODSHIM" --help >"$T/shim-help" 2>&1
same_files "--help is runc's, byte for byte" "$T/runc-help" "$T/shim-help"

for form in "--help" "help" "-h"; do
	out=$("$PODSHIM" --podshim-state "$T/state" pod $form 2>&1)
	rc=$?
	is "pod $form exits 0" "$rc" 0
	like "pod $form lists list, inspect and gc" "$out" 'list \[--format table\|json\].*inspect NAME\|SCOPE:NAME.*gc'
done
[[ ! -e $T/state ]]
ok_state=$?
is "pod --help made no state dir" "$ok_state" 0

# --- install docker ----------------------------------------------------------

SELF=$(realpath "$PODSHIM")
[[ -n ${PODSHIM_VALGRIND:-} ]] && SELF=
D=$T/etc/docker
mkdir -p "$D"
J=$D/daemon.json
ORIG='{"debug": true, "log-opts": {"max-size": "10m"}, "big": 123456789012345678901234567890, "default-runtime": "runc", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}'
printf '%s\n' "$ORIG" >"$J"
cp "$J" "$T/orig.json"

out=$("$PODSHIM" install docker --default --daemon-json "$J" --dry-run 2>&1)
rc=$?
is "install --dry-run exits 0" "$rc" 0
like "install --dry-run shows the runtime it adds" "$out" 'runtimes\.podshim: \(absent\) -> \{"path":"/'
like "install --dry-run shows default-runtime before and after" "$out" 'default-runtime: "runc" -> "podshim"'
same_files "install --dry-run writes nothing" "$T/orig.json" "$J"
is "install --dry-run makes no file beside it" "$(ls "$D")" "daemon.json"

out=$("$PODSHIM" install docker --default --daemon-json "$J" 2>&1)
rc=$?
is "install docker --default exits 0" "$rc" 0
like "install prints the command that reloads dockerd" "$out" 'to apply, reload dockerd'
path=$(jq -r '.runtimes.podshim.path' "$J")
if [[ -n $SELF ]]; then
	is "runtimes.podshim.path is this binary" "$path" "$SELF"
else
	like "runtimes.podshim.path is absolute" "$path" '^/'
fi
is "default-runtime is podshim" "$(jq -r '."default-runtime"' "$J")" podshim
is "every other key kept, the big number by its text" \
	"$(jq -c 'del(.runtimes.podshim, ."default-runtime")' "$J" | sed 's/1.2345678901234568e+29/BIG/')" \
	"$(jq -c 'del(."default-runtime")' "$T/orig.json" | sed 's/1.2345678901234568e+29/BIG/')"
check "the big number's digits are all there" grep -q '"big": 123456789012345678901234567890,' "$J"
same_files "the backup holds the file as it was" "$T/orig.json" "$J.podshim-backup"
is "the memory beside it remembers the earlier default" "$(jq -r .previous_default "$J.podshim")" runc

sums() { sha256sum "$D"/* && stat -c '%n %Y %i' "$D"/*; }
before=$(sums)
out=$("$PODSHIM" install docker --default --daemon-json "$J" 2>&1)
rc=$?
is "install a second time exits 0" "$rc" 0
like "and says there is nothing to change" "$out" 'nothing to change'
is "and changes nothing, byte for byte (files, times, inodes)" "$(sums)" "$before"

out=$("$PODSHIM" uninstall docker --daemon-json "$J" --dry-run 2>&1)
rc=$?
is "uninstall --dry-run exits 0" "$rc" 0
like "uninstall --dry-run shows the default going back" "$out" 'default-runtime: "podshim" -> "runc"'
is "uninstall --dry-run writes nothing" "$(sums)" "$before"
out=$("$PODSHIM" uninstall docker --daemon-json "$J" 2>&1)
rc=$?
is "uninstall docker exits 0" "$rc" 0
is "uninstall gives the original back" "$(jq -cS . "$J")" "$(jq -cS . "$T/orig.json")"
like "uninstall prints the reload (the earlier default comes back)" "$out" 'to apply, reload dockerd'
check "the memory is gone" test ! -e "$J.podshim"
out=$("$PODSHIM" uninstall docker --daemon-json "$J" 2>&1)
like "uninstall again: nothing to change" "$out" 'nothing to change'

# No file: install makes it (and its directory); uninstall without an
# earlier default asks for a restart.
J2=$T/new/sub/daemon.json
out=$("$PODSHIM" install docker --default --daemon-json "$J2" 2>&1)
rc=$?
is "install into a missing file exits 0" "$rc" 0
is "it holds the runtime and the default only" "$(jq -c 'del(.runtimes.podshim.path)' "$J2")" '{"runtimes":{"podshim":{}},"default-runtime":"podshim"}'
check "no backup of a file that was not there" test ! -e "$J2.podshim-backup"
out=$("$PODSHIM" uninstall docker --daemon-json "$J2" 2>&1)
is "uninstall leaves {}" "$(jq -c . "$J2")" '{}'
like "and asks for a restart: a reload keeps the default" "$out" 'restart dockerd'

# Refused, the file untouched.
printf '{"runtimes": {"crun": ' >"$T/bad.json"
cp "$T/bad.json" "$T/bad.orig"
out=$("$PODSHIM" install docker --daemon-json "$T/bad.json" 2>&1)
rc=$?
isnt "invalid JSON is refused" "$rc" 0
like "naming the file" "$out" "invalid $T/bad.json: "
same_files "and leaving it untouched" "$T/bad.orig" "$T/bad.json"
is "with nothing beside it" "$(ls "$T" | grep -c '^bad.json')" 1
printf '{"runtimes": []}' >"$T/bad2.json"
out=$("$PODSHIM" install docker --daemon-json "$T/bad2.json" 2>&1)
like "a runtimes that is no object is refused" "$out" "$T/bad2.json: .runtimes. is not a JSON object"
ln -s "$T/orig.json" "$T/link.json"
out=$("$PODSHIM" install docker --daemon-json "$T/link.json" 2>&1)
like "a symbolic link is refused, named" "$out" "$T/link.json. is a symbolic link"
printf '{}' >"$T/mem.json"
printf '{"path": 3}' >"$T/mem.json.podshim"
out=$("$PODSHIM" install docker --daemon-json "$T/mem.json" 2>&1)
like "a damaged memory beside the file is refused, named, with what to do" "$out" \
	"invalid $T/mem.json.podshim: .path. is not a string.*remove it, and install or uninstall again"
is "and the file is left untouched" "$(cat "$T/mem.json")" '{}'
out=$("$PODSHIM" install docker --frobnicate 2>&1)
like "an unknown option is refused" "$out" 'unknown option `--frobnicate`'
out=$("$PODSHIM" install nerdctl 2>&1)
like "an unknown engine is refused" "$out" 'unknown engine `nerdctl`'

# --- podman, containerd: snippets -------------------------------------------

out=$("$PODSHIM" install podman --default 2>&1)
like "install podman prints [engine.runtimes] with this binary" "$out" $'\\[engine.runtimes\\]\npodshim = \\["/'
like "and, with --default, the engine's runtime" "$out" $'\\[engine\\]\nruntime = "podshim"'
out=$("$PODSHIM" install containerd 2>&1)
like "install containerd prints both config versions' runtime tables" "$out" \
	'io.containerd.cri.v1.runtime".containerd.runtimes.podshim].*io.containerd.grpc.v1.cri".containerd.runtimes.podshim]'
like "with runc's shim and this binary" "$out" 'runtime_type = "io.containerd.runc.v2".*BinaryName = "/'

done_testing

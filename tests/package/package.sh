#!/usr/bin/env bash
# tests/package/package.sh — hack/package from the committed tree, then what
# it made, without installing anything on the host:
#  - the .deb: lintian has no error or warning (an override names its
#    reason), its file list and control fields are the expected ones,
#    /etc/podshim/config.json is its only conffile;
#  - unpacked (dpkg -x into a temp dir): podshim --version (runc's first
#    line first, then the tree's version), the docker CLI plugin's metadata,
#    the man pages render; the conffile is harmless (list passes through
#    byte for byte with it as the class config); the pod suite's pods.sh
#    passes with the packaged (hardened, dpkg-buildflags) binaries; a
#    private dockerd on the daemon.json its own `install docker --default`
#    wrote runs a two-member pod, which the packaged `docker pod ls` shows;
#  - the static tarball: its checksum, its file list, every binary static,
#    pods.sh passes with its binaries.
set -uo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/tap.sh
. "$HERE/../lib/tap.sh"
SRC=$(cd "${PODSHIM_SRCDIR:-$HERE/../..}" && pwd)

[[ $(id -u) == 0 ]] || skip_all "needs root (pods.sh)"
[[ -e $SRC/.git ]] || skip_all "hack/package packages a git tree"
for t in dpkg-deb lintian runc jq man file; do
	command -v "$t" >/dev/null || skip_all "$t is missing (hack/install-deps)"
done

T=$(mktemp -d /tmp/podshim-package-test.XXXXXX) || bail "mktemp failed"
at_exit rm -rf -- "$T"
VERSION=$("$SRC/hack/version")
ARCH=$(dpkg --print-architecture)
DEB=$T/out/podshim_${VERSION}_${ARCH}.deb
TGZ=$T/out/podshim-$VERSION-$ARCH.tar.gz

if "$SRC/hack/package" "$T/out" >"$T/package.log" 2>&1; then
	ok "hack/package made the .deb, the tarball and its checksum"
else
	not_ok "hack/package" "$(tail -n 30 "$T/package.log")"
	done_testing
	exit 1
fi
diag "lintian on $(basename "$DEB"):" "$(cat "$T/out/lintian.txt")"
is "lintian: no error, no warning" "$(grep -cE '^[EW]: ' "$T/out/lintian.txt")" 0
like "lintian: the one override, with its reason" "$(lintian --show-overrides "$DEB" 2>/dev/null)" \
	'O: podshim: statically-linked-binary \[usr/libexec/podshim/podshim-pause\]'
diag "sizes: $(stat -c '%n %s' "$DEB" "$TGZ" | sed "s|$T/out/||" | paste -sd' ')"

# --- the .deb ------------------------------------------------------------------
files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' | sort)
want=$(sort <<'EOF'
/etc/podshim/config.json
/usr/libexec/docker/cli-plugins/docker-pod
/usr/libexec/podshim/podshim-pause
/usr/sbin/podshim
/usr/share/doc/podshim/README.md.gz
/usr/share/doc/podshim/changelog.Debian.gz
/usr/share/doc/podshim/changelog.gz
/usr/share/doc/podshim/copyright
/usr/share/doc/podshim/examples/config.json
/usr/share/lintian/overrides/podshim
/usr/share/man/man7/podshim-labels.7.gz
/usr/share/man/man8/podshim.8.gz
EOF
)
is "the .deb's files" "$files" "$want"
diag "$(dpkg-deb -c "$DEB")"
field() { dpkg-deb -f "$DEB" "$1"; }
is "Package, Version, Architecture" "$(field Package) $(field Version) $(field Architecture)" "podshim $VERSION $ARCH"
like "Depends: a delegate runtime" "$(field Depends)" '^runc \| crun, libc6'
like "Built-Using: what is linked in" "$(field Built-Using)" '^glibc \(= .*\), libcap2 \(= .*\), libseccomp \(= .*\), yajl \(= .*\)$'
dpkg-deb -e "$DEB" "$T/control"
is "the one conffile" "$(cat "$T/control/conffiles")" /etc/podshim/config.json

X=$T/x
dpkg-deb -x "$DEB" "$X"
is "the conffile names no runtime class" "$(jq -c . "$X/etc/podshim/config.json")" '{"runtimes":{}}'
first=$(runc --version | head -n1)
out=$("$X/usr/sbin/podshim" --version)
is "podshim --version: runc's first line first" "$(head -n1 <<<"$out")" "$first"
is "then the tree's version" "$(tail -n1 <<<"$out")" "podshim version $VERSION"
meta=$("$X/usr/libexec/docker/cli-plugins/docker-pod" docker-cli-plugin-metadata)
is "docker-pod answers docker-cli-plugin-metadata" "$(jq -r '"\(.SchemaVersion) \(.Vendor) \(.Version)"' <<<"$meta" 2>&1)" \
	"0.1.0 podshim $VERSION"
for m in man8/podshim.8.gz man7/podshim-labels.7.gz; do
	is "$m renders without a warning" \
		"$(MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$X/usr/share/man/$m" 2>&1 >/dev/null)" ""
done
# The conffile as the class config: list is runc's, byte for byte.
mkdir -p "$T/root"
runc --root "$T/root" list >"$T/runc-list" 2>&1
"$X/usr/sbin/podshim" --podshim-config "$X/etc/podshim/config.json" --podshim-state "$T/state" \
	--root "$T/root" list >"$T/shim-list" 2>&1
same_files "with the conffile, list passes through byte for byte" "$T/runc-list" "$T/shim-list"

# The pod suite's first script with given binaries.
pods_with() {
	local podshim=$1 pause=$2 out rc
	out=$(PODSHIM=$podshim PODSHIM_PAUSE=$pause PODSHIM_SRCDIR=$SRC \
		timeout 600 bash "$SRC/tests/pod/pods.sh" </dev/null 2>&1)
	rc=$?
	if ((rc == 0)) && ! grep -q '^not ok' <<<"$out"; then
		echo "$(grep -c '^ok' <<<"$out") passed"
	else
		grep -E '^not ok' -A3 <<<"$out" | head -n 40
		echo "exit status $rc"
		return 1
	fi
}
check "tests/pod/pods.sh passes with the packaged binaries" \
	pods_with "$X/usr/sbin/podshim" "$X/usr/libexec/podshim/podshim-pause"

# The packaged podshim as a private dockerd's default runtime, registered by
# its own `install docker --default`: a two-member pod, `docker pod ls`
# through the packaged plugin.
D=$(mktemp -d /tmp/pkgd.XXXXXX)
at_exit "$SRC/hack/dockerd" stop "$D"
if PODSHIM=$X/usr/sbin/podshim PODSHIM_PAUSE=$X/usr/libexec/podshim/podshim-pause \
	PODSHIM_DOCKERD_INSTALL=1 "$SRC/hack/dockerd" start "$D" >"$T/dockerd.log" 2>&1 &&
	"$SRC/hack/images" "$D" busybox >>"$T/dockerd.log" 2>&1; then
	ok "a private dockerd on the daemon.json the packaged podshim's install docker --default wrote"
else
	not_ok "a private dockerd with the packaged podshim" "$(tail -n 20 "$T/dockerd.log")"
fi
dk() { DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/cli timeout 120 docker "$@"; }
mkdir -p "$D/cli"
jq -n --arg d "$X/usr/libexec/docker/cli-plugins" '{cliPluginsExtraDirs: [$d]}' >"$D/cli/config.json"
is "its runtime is the packaged podshim" "$(jq -r .runtimes.podshim.path "$D/daemon.json")" "$X/usr/sbin/podshim"
APP='mkdir -p /www && echo hello-from-app >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
check "docker run app in pod duo" dk run -d --name app --label podshim.pod=duo podshim/busybox sh -c "$APP"
check "docker run side in pod duo, --network none" \
	dk run -d --name side --label podshim.pod=duo --network none podshim/busybox sleep 1000
check "side reaches app over 127.0.0.1" \
	wait_for -n 50 -s 0.2 dk exec side timeout 10 wget -qO- http://127.0.0.1:8080/
out=$(dk pod ls 2>&1)
diag "$out"
like "docker pod ls (the packaged plugin) shows both members of duo" "$out" \
	'duo +- +app +podshim/busybox +running.*duo +- +side +podshim/busybox +running'
dk rm -f app side >/dev/null 2>&1

# --- the static tarball ----------------------------------------------------------
check "the tarball's sha256" sh -c "cd '$T/out' && sha256sum -c '$(basename "$TGZ").sha256'"
N=podshim-$VERSION-$ARCH
files=$(tar -tzf "$TGZ" | grep -v '/$' | sort)
want=$(sed "s|^|$N/|" <<'EOF' | sort
CHANGELOG.md
README.md
libexec/docker/cli-plugins/docker-pod
libexec/podshim/podshim-pause
sbin/podshim
share/doc/podshim/examples/config.json
share/man/man7/podshim-labels.7
share/man/man8/podshim.8
EOF
)
is "the tarball's files (for /usr/local)" "$files" "$want"
mkdir -p "$T/s"
tar -xzf "$TGZ" -C "$T/s" --strip-components=1
static=0
for b in sbin/podshim libexec/podshim/podshim-pause libexec/docker/cli-plugins/docker-pod; do
	file -b "$T/s/$b" | grep -q 'statically linked' && static=$((static + 1))
done
is "its three binaries are static" "$static" 3
is "its podshim's version" "$("$T/s/sbin/podshim" --version | tail -n1)" "podshim version $VERSION"
check "tests/pod/pods.sh passes with the static binaries" \
	pods_with "$T/s/sbin/podshim" "$T/s/libexec/podshim/podshim-pause"

done_testing

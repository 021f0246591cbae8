# shellcheck shell=bash
# tests/lib/oci.sh — OCI bundles for the suites that drive runc/crun without
# Docker (tests/{integration,pod,load}): a busybox rootfs, a base spec from
# `runc spec`, bundles made from it with jq, and crun made usable on this
# machine's hybrid cgroup layout.
#
#   bb=$(static_busybox) || skip_all "needs busybox-static"
#   make_rootfs "$T/rootfs" sh sleep       # or every applet: make_rootfs DIR
#   base_spec "$T/base.json" "$T/rootfs" '.process.args = ["sleep", "1000"]'
#   make_bundle "$T/b/one" "$T/base.json" '.annotations = {"podshim.pod": $p}' --arg p web
#   CRUN=$(crun_cmd "$T/bin") || ...        # "" when crun is not installed
#
# The delegate matrix (hack/test; `meson test --setup runc-sid|
# runc-experimental|crun-sid`): PODSHIM_TEST_DELEGATE names one of
# hack/engine's delegates (fetched by `hack/engine fetch delegates`).  Its
# directory goes first on PATH when this file is sourced, so `runc` (or
# `crun`) is that delegate, for the tests and for podshim (whose default
# delegate is `runc` on PATH); TEST_DELEGATE_KIND is then runc or crun (the
# suites that compare runc and crun test only that one).  A delegate that is
# named but missing stops the script: a leg must never test the system's
# runc under another name.

# static_busybox: the path of a statically linked busybox (the rootfs has no
# libc), or status 1.
static_busybox() {
	local bb
	bb=$(command -v busybox) || return 1
	file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
		ldd "$bb" 2>&1 | grep -q 'not a dynamic' || return 1
	echo "$bb"
}

# make_rootfs DIR [APPLET...]: a busybox rootfs in DIR: bin/busybox and a
# link per APPLET (default: every applet it has), and empty proc, sys, dev,
# tmp and etc.  The suites add what else they need.
make_rootfs() {
	local dir=$1 bb a
	shift
	bb=$(command -v busybox) || return 1
	mkdir -p "$dir"/{bin,proc,sys,dev,tmp,etc} || return 1
	cp "$bb" "$dir/bin/busybox" || return 1
	# shellcheck disable=SC2046 # one applet a word
	(($#)) || set -- $("$dir/bin/busybox" --list)
	for a; do
		[[ -e $dir/bin/$a ]] || ln -s busybox "$dir/bin/$a" || return 1
	done
}

# base_spec FILE ROOTFS [JQ_FILTER [JQ_ARGS...]]: `runc spec`'s default
# config (read-only root, no terminal) for ROOTFS, edited by JQ_FILTER, into
# FILE.
base_spec() {
	local file=$1 rootfs=$2 filter=${3:-.} tmp rc
	shift 3 2>/dev/null || shift $#
	tmp=$(mktemp -d "$file.XXXXXX") || return 1
	runc spec --bundle "$tmp" &&
		jq --arg rootfs "$rootfs" "$@" ".root.path = \$rootfs | .process.terminal = false | $filter" \
			"$tmp/config.json" >"$file"
	rc=$?
	rm -rf "$tmp"
	return "$rc"
}

# make_bundle DIR BASE [JQ_FILTER [JQ_ARGS...]]: bundle DIR whose config.json
# is the spec BASE edited by JQ_FILTER.
make_bundle() {
	local dir=$1 base=$2 filter=${3:-.}
	shift 3 2>/dev/null || shift $#
	mkdir -p "$dir" && jq "$@" "$filter" "$base" >"$dir/config.json"
}

# crun_cmd DIR: print the crun to run: "" when crun is not installed, the
# real crun, or — on a hybrid cgroup host whose cgroup2 hierarchy has
# controllers (this machine: hugetlb), where crun 1.8 refuses to run
# ("cgroups in hybrid mode not supported") — a wrapper DIR/crun running the
# real crun in a private mount namespace without /sys/fs/cgroup/unified, so
# crun sees cgroup v1 (legacy).  crun makes directories where the cgroup2
# mount was: the wrapper gives it DIR/cgunified instead of the host's.
crun_cmd() {
	local dir=$1 real
	real=$(command -v crun) || return 0
	if [[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) != tmpfs ]] ||
		[[ -z $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]; then
		echo "$real"
		return 0
	fi
	mkdir -p "$dir/cgunified" || return 1
	cat >"$dir/crun" <<EOF || return 1
#!/bin/sh
exec unshare --mount --propagation private -- /bin/sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null && mount --bind $(printf %q "$dir/cgunified") /sys/fs/cgroup/unified; exec "\$0" "\$@"' $(printf %q "$real") "\$@"
EOF
	chmod 755 "$dir/crun" && echo "$dir/crun"
}

# mounts_under DIR: mount points at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '{ p = $5; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print p }' \
		/proc/self/mountinfo | sort -r
}

# unmount_under DIR: lazily unmount everything at or below DIR.
unmount_under() {
	local m
	while IFS= read -r m; do
		[[ -n $m ]] && umount -l "$m" 2>/dev/null
	done < <(mounts_under "$1")
	return 0
}

# --- the delegate matrix ---------------------------------------------------

TEST_DELEGATE_KIND=
if [[ -n ${PODSHIM_TEST_DELEGATE:-} ]]; then
	_dlg=$("${PODSHIM_SRCDIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/hack/engine" delegate "$PODSHIM_TEST_DELEGATE") &&
		"$_dlg" --version >/dev/null 2>&1 || {
		echo "Bail out! delegate $PODSHIM_TEST_DELEGATE is not fetched or does not run (hack/engine fetch delegates)"
		exit 1
	}
	TEST_DELEGATE_KIND=${_dlg##*/}
	echo "# delegate $PODSHIM_TEST_DELEGATE: $("$_dlg" --version 2>&1 | head -n1) ($_dlg)"
	PATH=$(dirname "$_dlg"):$PATH
	export PATH
	unset _dlg
fi

# test_delegate_kinds: the delegates a suite that compares runc and crun
# runs: both, or only the kind of PODSHIM_TEST_DELEGATE.
test_delegate_kinds() {
	if [[ -n $TEST_DELEGATE_KIND ]]; then
		echo "$TEST_DELEGATE_KIND"
	else
		printf '%s\n' runc crun
	fi
}

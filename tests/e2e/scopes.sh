#!/usr/bin/env bash
# tests/e2e/scopes.sh — pods scoped by application on a private dockerd.
#
# Two "compose projects" (the com.docker.compose.project label compose puts
# on every container of a project) both use pod `web` with a sized volume
# /cache:4m: each project gets its own pod (network namespace, volume), the
# members of one project share theirs; pod list shows the scope; removing the
# containers removes both pods, their volumes and the volumes' tmpfs mounts.
#
#   PODSHIM=build/cmd/podshim bash tests/e2e/scopes.sh
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

bounded_docker

dockerd_up
images_up busybox

NAMES=(shop-a shop-b blog-a blog-b)
rm_all() { docker rm -f "${NAMES[@]}" >/dev/null 2>&1; }
at_exit rm_all
# member PROJECT NAME: a container of PROJECT in pod web, with /cache:4m.
member() {
	local out
	out=$(docker run -d --name "$2" --network none --label podshim.pod=web \
		--label podshim.volumes=/cache:4m --label "com.docker.compose.project=$1" \
		podshim/busybox sleep 1000 2>&1) || { echo "$out"; return 1; }
}
netns() { docker exec "$1" readlink /proc/self/ns/net; }
scoped() { # scoped SCOPE JQ: the field of the pod web of SCOPE
	pods | jq -r --arg s "$1" ".[] | select(.name == \"web\" and .scope == \$s) | $2"
}

for c in shop:shop-a shop:shop-b blog:blog-a blog:blog-b; do
	check "docker run ${c#*:} (project ${c%%:*}, pod web)" member "${c%%:*}" "${c#*:}"
done
is "shop-a and shop-b share a network namespace" "$(netns shop-b)" "$(netns shop-a)"
is "blog-a and blog-b share another" "$(netns blog-b)" "$(netns blog-a)"
if [[ $(netns shop-a) != "$(netns blog-a)" && -n $(netns shop-a) ]]; then
	ok "the two projects' pods web are two pods"
else
	not_ok "the two projects' pods web are two pods" "shop: $(netns shop-a) blog: $(netns blog-a)"
fi
check "shop-a writes /cache/who" docker exec shop-a sh -c 'echo shop > /cache/who'
is "shop-b reads it" "$(docker exec shop-b cat /cache/who 2>&1)" shop
is "blog-a's /cache is its own pod's (empty)" "$(docker exec blog-a ls -A /cache 2>&1)" ""
is "/cache is 4 MiB (df in shop-a)" "$(docker exec shop-a df -k /cache | awk 'NR == 2 { print $2 }')" 4096
out=$(docker exec blog-a dd if=/dev/zero of=/cache/fill bs=1M count=8 2>&1)
like "filling blog's /cache fails with ENOSPC" "$out" "No space left on device"
check "shop's /cache still takes writes" docker exec shop-b sh -c 'echo more >> /cache/who'
is "pod list --format json: web twice, scoped by project" \
	"$(pods | jq -c '[.[] | select(.name == "web") | [.scope, (.members | length)]] | sort')" \
	'[["compose:blog",2],["compose:shop",2]]'
is "pod list (table) shows the scopes" \
	"$(podshim_cli pod list | awk '$1 == "web" { print $2 }' | sort | tr '\n' ' ')" "compose:blog compose:shop "
SHOP_DATA=$(podshim_cli pod inspect compose:shop:web | jq -r '.[0].data_dir')
like "shop's volumes are on the daemon's podshim data dir" "$SHOP_DATA" "^$E2E_DIR/podshim-data/"
is "a sized volume is a tmpfs mount on the host" \
	"$(awk -v p="$SHOP_DATA/-cache" '$5 == p { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo)" tmpfs

check "docker rm -f shop-a" docker rm -f shop-a
is "shop's pod keeps shop-b; blog's is untouched" \
	"$(scoped compose:shop '.members | length') $(scoped compose:blog '.members | length')" "1 2"
rm_all
no_pods_left() { [[ $(pods | jq length) == 0 ]]; }
if retry 100 0.2 no_pods_left; then ok "both pods are gone"; else not_ok "both pods are gone" "$(pods)"; fi
is "no pod volume is left in the data dir" "$(find "$E2E_DIR/podshim-data" -mindepth 2 2>&1)" ""
is "no mount is left in it" "$(grep -c " $E2E_DIR/podshim-data/" /proc/self/mountinfo)" 0

done_testing

#!/usr/bin/env bash
# Pods scoped by application: the compose project or Swarm stack label of a
# member (faked the way dockerd writes it, config.v2.json beside the
# /etc/hostname mount) is part of its pod's identity, beside --root and the
# pod name; pod list and inspect show the scope.
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

KEY=$(rootkey "$RUNC_ROOT")
compose() { fake_docker "$1" "{\"podshim.pod\":\"web\",\"com.docker.compose.project\":\"$2\"}"; }

ba1=$(mkb A1 -j "$(compose A1 shop)")
ba2=$(mkb A2 -j "$(compose A2 shop)")
bb1=$(mkb B1 -j "$(compose B1 blog)")
bn1=$(mkb N1 -a podshim.pod=web)
bs1=$(mkb S1 -j "$(fake_docker S1 '{"podshim.pod":"web","com.docker.stack.namespace":"st"}')")
# Named by its environment (Swarm's PODSHIM_POD=web-{{.Task.Slot}}): the
# project label still scopes it.
be1=$(mkb E1 -e PODSHIM_POD=web -j "$(fake_docker E1 '{"com.docker.compose.project":"shop"}')")
for id in A1 A2 B1 N1 S1 E1; do
	check "$id is created" create "$id" "$T/b/$id"
done
net() { nsino "$(cpid "$1")" net; }
is "A1, A2 and E1 (project shop) share one network namespace" \
	"$(net A2) $(net E1)" "$(net A1) $(net A1)"
is "A1's is shop's pinned one" "$(net A1)" "$(pinned compose:shop:web net)"
is "B1 (project blog, same pod name) has blog's own" "$(net B1)" "$(pinned compose:blog:web net)"
is "N1 (no project) and S1 (stack st) have theirs" "$(net N1) $(net S1)" \
	"$(pinned web net) $(pinned stack:st:web net)"
is "four distinct pods named web" \
	"$(printf '%s\n' "$(net A1)" "$(net B1)" "$(net N1)" "$(net S1)" | sort -u | wc -l)" 4
is "the hostname of each is the pod name" "$(xin A1 hostname) $(xin B1 hostname)" "web web"

list=$(shim pod list --format json)
is "pod list --format json: name, scope and members of each" \
	"$(jq -c '[.[] | {name, scope, members: (.members | sort)}] | sort_by(.scope)' <<<"$list")" \
	'[{"name":"web","scope":null,"members":["N1"]},{"name":"web","scope":"compose:blog","members":["B1"]},{"name":"web","scope":"compose:shop","members":["A1","A2","E1"]},{"name":"web","scope":"stack:st","members":["S1"]}]'
is "pod list (table) has a SCOPE column" \
	"$(shim pod list | awk 'NR == 1 { print $2 } NR > 1 { print $1, $2 }' | sort | tr '\n' ' ')" \
	"SCOPE web - web compose:blog web compose:shop web stack:st "
is "pod inspect web: every pod named web, each with its scope" \
	"$(shim pod inspect web | jq -c '[.[].scope] | sort')" '[null,"compose:blog","compose:shop","stack:st"]'
is "pod inspect compose:shop:web: that pod, its state dir" \
	"$(shim pod inspect compose:shop:web | jq -c --arg d "$(poddir compose:shop:web)" \
		'[length, .[0].name, .[0].scope, .[0].key, (.[0].state_dir == $d)]')" \
	'[1,"web","compose:shop","compose:shop:web",true]'
is "the index records the pod's key" "$(cat "$STATE/$KEY/containers/A1") $(cat "$STATE/$KEY/containers/N1")" \
	"compose:shop:web web"
is "pod.json records the scope" "$(jq -r '.name + " " + .scope' "$(poddir compose:shop:web)/pod.json")" \
	"web compose:shop"

# A scope value comes from whoever runs the container: bounded, validated.
refused "a project label with a '/' is refused, naming it" \
	'invalid label com.docker.compose.project `../x`' \
	"$(mkb X1 -j "$(compose X1 ../x)")"
refused "a project label with a ':' is refused" 'invalid label com.docker.compose.project `a:b`' \
	"$(mkb X2 -j "$(compose X2 a:b)")"
long=$(printf 'p%.0s' {1..101})
refused "a 101-character project is refused" "must be 1-100 characters" \
	"$(mkb X3 -j "$(compose X3 "$long")")"
refused "an empty stack label is refused" 'invalid label com.docker.stack.namespace ``' \
	"$(mkb X4 -j "$(fake_docker X4 '{"podshim.pod":"web","com.docker.stack.namespace":""}')")"
check "a 100-character project is fine" create X5 "$(mkb X5 -j "$(compose X5 "${long:1}")")"
is "and makes its own pod" "$(shim pod inspect "compose:${long:1}:web" | jq -r '.[0].members[0]')" X5

# Members leave their own pod only.
check "delete A1 and B1" del_all A1 B1
is "shop keeps A2 and E1; blog is gone; the others untouched" \
	"$(shim pod list --format json | jq -c '[.[] | {scope, members: (.members | sort)}] | sort_by(.scope)')" \
	"[{\"scope\":null,\"members\":[\"N1\"]},{\"scope\":\"compose:$(printf %s "${long:1}")\",\"members\":[\"X5\"]},{\"scope\":\"compose:shop\",\"members\":[\"A2\",\"E1\"]},{\"scope\":\"stack:st\",\"members\":[\"S1\"]}]"
check "delete the rest" del_all A2 E1 N1 S1 X5
check "pod gc leaves nothing" eval 'shim pod gc >/dev/null && no_pods && no_mounts_under "$STATE"'

done_testing

#!/usr/bin/env bash
# Companions from a caller that is not Docker (containerd, CRI, ctr, podman:
# the bundle has no Docker config.v2.json): podshim makes companions through
# the node's Docker API, so neither podshim.companion-of nor a
# podshim.companion.* annotation from such a caller may drive it. Both
# creates are refused, naming why, and nothing reaches the API (a fake one
# here, which logs every request; the container ID the caller chose is that
# of a "Docker container" it would like removed).
# shellcheck source=tests/pod/lib.sh disable=SC2016,SC2034
. "$(dirname "$0")/lib.sh"

API=$T/api.sock
REQ=$T/api-requests
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    with open(sys.argv[2], "a") as f:
        f.write(line + "\n")
    if " /_ping " in line:
        c.sendall(b"HTTP/1.1 200 OK\r\nAPI-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK")
    else:
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    c.close()
' "$API" "$REQ" </dev/null >/dev/null 2>&1 &
FAKE=$!
at_exit kill "$FAKE"
wait_for 10 test -S "$API" || bail "the fake Docker API did not start"
export PODSHIM_DOCKER_HOST=unix://$API
# A caller's own ID, as a Docker container's would look.
VICTIM=$(printf '%064d' 7 | tr 0 d)
ANCHOR=$(printf '%064d' 1 | tr 0 a)

b=$(mkb forged -a podshim.pod=cp -a "podshim.companion-of=$ANCHOR" -a podshim.companion-name=x)
check_fails "podshim.companion-of from a caller that is not Docker: create refused" create "$VICTIM" "$b"
like "the refusal says why" "$(cat "$T/out/$VICTIM")" \
	'podshim.companion-of is podshim.s own label for the companions it makes through the Docker API; this container was not made by Docker'
check "no container was left" sh -c "! runc --root '$RUNC_ROOT' state '$VICTIM' >/dev/null 2>&1"

b=$(mkb anchor -a podshim.pod=cp -a 'podshim.companion.side={"image":"busybox","command":["sleep","1"]}')
check_fails "podshim.companion.* annotations from a caller that is not Docker: create refused" \
	create anchor "$b"
like "the refusal says why" "$(cat "$T/out/anchor")" \
	'companions \(podshim.companion.\*\) are made through the Docker API, for containers Docker made; this one was not'
check "no container was left" sh -c "! runc --root '$RUNC_ROOT' state anchor >/dev/null 2>&1"

# Whatever a detached podshim would have sent, it has had the time.
sleep 3
is "nothing reached the Docker API" "$(cat "$REQ" 2>/dev/null)" ""

done_testing

#!/bin/sh
# An HTTP health endpoint (busybox httpd CGI) for the pod's TCP echo server on
# 127.0.0.1:${APP_PORT:-9000}: 200 when it echoes a line back, 503 otherwise.
port=${APP_PORT:-9000}
got=$(echo "ping-$$" | timeout 2 nc 127.0.0.1 "$port" 2>/dev/null | head -n1)
if [ "$got" = "ping-$$" ]; then
	printf 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nalive\n'
else
	printf 'Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ndead: no echo on 127.0.0.1:%s\n' "$port"
fi

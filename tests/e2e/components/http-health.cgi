#!/bin/sh
# An HTTP health endpoint (busybox httpd CGI) for the pod's HTTP app on
# 127.0.0.1:${APP_PORT:-8080}: 200 when it answers GET /, 503 otherwise.
port=${APP_PORT:-8080}
if timeout 3 wget -q -O /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
	printf 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nalive\n'
else
	printf 'Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ndead: no answer on 127.0.0.1:%s\n' "$port"
fi

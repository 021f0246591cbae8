#!/usr/bin/env python3
"""An HTTP health endpoint for a non-HTTP app (stdlib only).

    health.py PORT APP_PORT

Listens on 127.0.0.1:PORT.  GET /health tries a TCP connection to the app
on 127.0.0.1:APP_PORT (same pod, same loopback): 200 "alive" if it is
accepted, 503 "dead: <reason>" otherwise.  Exits on SIGTERM.
"""
import http.server
import signal
import socket
import sys

port, app_port = int(sys.argv[1]), int(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            code, text = 404, "not found"
        else:
            try:
                socket.create_connection(("127.0.0.1", app_port), timeout=1).close()
                code, text = 200, "alive"
            except OSError as e:
                code, text = 503, "dead: %s" % e
        data = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

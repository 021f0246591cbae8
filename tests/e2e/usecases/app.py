#!/usr/bin/env python3
"""A tiny HTTP app for podshim's e2e use-cases (stdlib only).

    app.py PORT BODY [CALL_URL]

Listens on 127.0.0.1:PORT only.  GET / answers 200 with BODY.  With
CALL_URL, GET /call fetches CALL_URL (e.g. the pod's local mesh proxy) and
answers 200 "BODY got: <answer>", or 502 if that fails.  Exits on SIGTERM.
"""
import http.server
import signal
import sys
import urllib.request

port, body = int(sys.argv[1]), sys.argv[2]
call_url = sys.argv[3] if len(sys.argv) > 3 else None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, text = 200, body
        path = self.path.split("?")[0]
        if path == "/call" and call_url:
            try:
                with urllib.request.urlopen(call_url, timeout=3) as r:
                    text = "%s got: %s" % (body, r.read().decode().strip())
            except Exception as e:  # any failure of the callee: a clean 502
                code, text = 502, "%s: upstream failed: %s" % (body, e)
        elif path not in ("/", "/index.html"):
            code, text = 404, "not found"
        data = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print("app: " + fmt % args, flush=True)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

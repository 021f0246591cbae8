#!/usr/bin/env python3
"""A byte-level stream proxy for podshim's e2e mesh use-case (stdlib only).

    proxy.py LISTEN TARGET

LISTEN and TARGET are tcp:HOST:PORT or unix:PATH.  Each accepted connection
is spliced to a new connection to TARGET; if TARGET cannot be reached the
client's connection is closed at once.  A unix LISTEN socket is removed on
exit; exits on SIGTERM.
"""
import os
import signal
import socket
import sys
import threading


def parse(addr):
    kind, _, rest = addr.partition(":")
    if kind == "unix":
        return socket.AF_UNIX, rest
    host, _, port = rest.rpartition(":")
    return socket.AF_INET, (host, int(port))


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def serve(client, target):
    family, addr = target
    upstream = socket.socket(family, socket.SOCK_STREAM)
    try:
        upstream.settimeout(2)
        upstream.connect(addr)
        upstream.settimeout(None)
    except OSError as e:
        print("proxy: cannot reach %s: %s" % (addr, e), flush=True)
        upstream.close()
        client.close()
        return
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


def main():
    lfamily, laddr = parse(sys.argv[1])
    target = parse(sys.argv[2])
    ls = socket.socket(lfamily, socket.SOCK_STREAM)
    if lfamily == socket.AF_UNIX:
        try:
            os.unlink(laddr)
        except FileNotFoundError:
            pass
    else:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(laddr)
    if lfamily == socket.AF_UNIX:
        os.chmod(laddr, 0o666)

    def stop(*_):
        if lfamily == socket.AF_UNIX:
            try:
                os.unlink(laddr)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    ls.listen(64)
    print("proxy: %s -> %s" % (sys.argv[1], sys.argv[2]), flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, target), daemon=True).start()


main()

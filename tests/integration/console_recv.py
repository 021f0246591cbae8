#!/usr/bin/env python3
"""A console-socket receiver for runc/crun --console-socket, for the tests.

    console_recv.py SOCKET OUTFILE [--input TEXT] [--timeout SECONDS]

Listens on the unix socket SOCKET, accepts one connection, receives the pty
master over SCM_RIGHTS, optionally writes TEXT to it, and copies everything
read from it to OUTFILE (CRLF turned into LF) until the slave side is closed
by every process (read gives EIO), or the timeout passes (exit status 2).
Exit status 0 when a pty master arrived and was read to its end.
"""
import array
import argparse
import os
import select
import socket
import sys
import time


def recv_fd(conn):
    fds = array.array("i")
    msg, ancdata, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        raise RuntimeError("no file descriptor received (message %r)" % msg)
    return fds[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("outfile")
    ap.add_argument("--input", default=None)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()

    deadline = time.monotonic() + a.timeout
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(1)
    srv.settimeout(a.timeout)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        print("console_recv: no connection", file=sys.stderr)
        return 2
    with conn:
        master = recv_fd(conn)
    srv.close()
    if a.input is not None:
        os.write(master, a.input.encode())
    out = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("console_recv: timed out", file=sys.stderr)
            with open(a.outfile, "wb") as f:
                f.write(bytes(out).replace(b"\r\n", b"\n"))
            return 2
        r, _, _ = select.select([master], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last slave holder has gone
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    with open(a.outfile, "wb") as f:
        f.write(bytes(out).replace(b"\r\n", b"\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

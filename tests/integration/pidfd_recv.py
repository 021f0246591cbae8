#!/usr/bin/env python3
"""A pidfd-socket receiver for runc's --pidfd-socket (runc >= 1.2), for the tests.

    pidfd_recv.py SOCKET OUTFILE [--timeout SECONDS]

Listens on the unix socket SOCKET, accepts one connection, receives one file
descriptor over SCM_RIGHTS, and writes the PID it refers to (the `Pid:` line
of its /proc/self/fdinfo entry: a pidfd has one) to OUTFILE. Exit status 0
when a pidfd arrived, 1 when what arrived is no pidfd, 2 on timeout.
"""
import array
import argparse
import os
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("outfile")
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(1)
    srv.settimeout(a.timeout)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        print("pidfd_recv: no connection", file=sys.stderr)
        return 2
    conn.settimeout(a.timeout)
    fds = array.array("i")
    try:
        _msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    except socket.timeout:
        print("pidfd_recv: nothing received", file=sys.stderr)
        return 2
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        print("pidfd_recv: no file descriptor received", file=sys.stderr)
        return 1
    pid = None
    with open("/proc/self/fdinfo/%d" % fds[0]) as f:
        for line in f:
            if line.startswith("Pid:"):
                pid = line.split()[1]
    for fd in fds:
        os.close(fd)
    if pid is None:
        print("pidfd_recv: the file descriptor is no pidfd", file=sys.stderr)
        return 1
    with open(a.outfile, "w") as f:
        f.write(pid + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

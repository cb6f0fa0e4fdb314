#!/usr/bin/env python3
"""Holds COUNT idle TCP connections from a local address to HOST:PORT, as
an attacker (or a fleet stuck before its handshake) would, and reports
when the server closed them.

    holdconns.py FROM HOST PORT COUNT HOLD_SECS

Prints "held N" once every connection is made (or has failed to be), then
after HOLD_SECS (or on SIGTERM) one line:
    opened=N closed_within_1s=A closed_later=B still_open=C
"""
import errno
import resource
import selectors
import signal
import socket
import sys
import time


def main():
    src, host, port, count, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    opened_at = {}
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            continue
        opened_at[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ)
    print("held %d" % len(opened_at), flush=True)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    early = later = 0
    deadline = time.monotonic() + hold
    while not stop[0] and time.monotonic() < deadline and sel.get_map():
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                continue
            if time.monotonic() - opened_at[s] < 1.0:
                early += 1
            else:
                later += 1
            sel.unregister(s)
            s.close()
    print("opened=%d closed_within_1s=%d closed_later=%d still_open=%d"
          % (len(opened_at), early, later, len(sel.get_map())), flush=True)


main()

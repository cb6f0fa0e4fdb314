#!/usr/bin/env python3
"""silentclients.py SOCKET N STATE STOP [--no-refill]

Holds N connections to the unix socket SOCKET that never send a byte.  When
the server closes one, it notes how long it lived and (unless --no-refill)
opens another, so that N stay held until the file STOP appears.  STATE gets
a JSON summary after every change: "ready" once N were held at the same
time, "closed" (how many the server closed), "min_lifetime_ms".
"""
import errno
import json
import os
import select
import socket
import sys
import time

path, want, state, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
refill = "--no-refill" not in sys.argv[5:]
held = {}            # socket -> when its connect returned
closed = []          # lifetimes, ms
opened = 0
ready = False


def write_state():
    tmp = state + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"ready": ready, "held": len(held), "opened": opened, "closed": len(closed),
                   "min_lifetime_ms": min(closed) if closed else None}, f)
    os.replace(tmp, state)


def try_open():
    """One more connection; False when the server's backlog is full."""
    global opened
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    # taken before connect: a lifetime is never shorter than the server's
    # view of it, however late this process gets the CPU back
    start = time.monotonic()
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        # a full backlog, or a server gone (the test is ending): try later
        if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOENT, errno.ECONNREFUSED):
            return False
        raise
    held[s] = start
    opened += 1
    return True


def refill_all():
    global ready
    while (refill or opened < want) and len(held) < want and try_open():
        pass
    if opened >= want:
        ready = True


refill_all()
write_state()
while not os.path.exists(stop):
    r, _, _ = select.select(list(held), [], [], 0.01)
    for s in r:
        try:
            data = s.recv(1)
        except OSError:
            data = b""
        if data:
            continue
        closed.append((time.monotonic() - held.pop(s)) * 1000)
        s.close()
    before = (ready, len(held))
    refill_all()
    # written after the refill, and again when a refill the backlog refused
    # went through: "held" is not caught between a close and its replacement
    if r or before != (ready, len(held)):
        write_state()
    if not refill and opened == want and not held:
        break
write_state()

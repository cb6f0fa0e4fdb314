#!/usr/bin/env python3
"""notifysock.py PATH OUT [PORT]: systemd's side of sd_notify(3) for the tests.

Binds a datagram socket at PATH, as systemd does for a Type=notify unit's
NOTIFY_SOCKET, and appends each message to OUT, one assignment per line,
as it comes.  With PORT, READY=1 is followed at once by a line saying
whether 127.0.0.1:PORT accepted a connection at that moment
("probe=open" or "probe=closed"): ready must mean listening.
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else None
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)


def probe():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "open"
    except OSError:
        return "closed"


with open(out, "a", buffering=1) as f:
    while True:
        msg = sock.recv(4096).decode("utf-8", "replace")
        for line in msg.split("\n"):
            if line:
                f.write(line + "\n")
            if line == "READY=1" and port is not None:
                f.write("probe=" + probe() + "\n")

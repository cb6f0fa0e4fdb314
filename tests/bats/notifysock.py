#!/usr/bin/env python3
"""notifysock.py PATH OUT: systemd's side of sd_notify(3) for the tests.

Binds a datagram socket at PATH, as systemd does for a Type=notify unit's
NOTIFY_SOCKET, and appends each message to OUT, one assignment per line,
as it comes.
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        msg = sock.recv(4096).decode("utf-8", "replace")
        for line in msg.split("\n"):
            if line:
                f.write(line + "\n")

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Plain TCP peers for tcprelay.bats, on 127.0.0.1.

  tcppeer.py duplex-server SEND RECVDIR
      Each accepted connection N sends the file SEND, then half-closes,
      while what arrives is stored in RECVDIR/N until EOF.
  tcppeer.py duplex PORT SEND RECV [COUNT]
      COUNT (1) connections at once, each doing the same from the client
      side; connection I stores what arrives in RECV.I.
  tcppeer.py echo-server
      Echoes each connection, and logs how it ended: "conn N: closed after
      B bytes" or "conn N: reset after B bytes".
  tcppeer.py session PORT STEP...
      Runs STEPs in order, each OP or OP:ARG, on the current connection:
        connect            a new connection, which becomes the current one
        use:I              the I-th connection (from 0) becomes current
        send:TEXT          sends TEXT
        expect:TEXT        TEXT arrives within 5 s
        silence:SECONDS    nothing arrives and nothing closes for SECONDS
        reset              the connection is reset (ECONNRESET) within 5 s
        refused            a new connection is refused, reset or closed
                           within 5 s, and carries no byte
        signal:NAME        sends SIGNAME to $RELAY_PID
        wait:TEXT          a line of $RELAY_LOG, after the one the last wait
                           matched, contains TEXT (5 s)
Servers print "listening on port N" first.  Exits 1, saying which step
failed and why, on the first failure.
"""
import os
import signal
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
CHUNK = 65536
_out = threading.Lock()


def say(line):
    """One whole line on stdout, even from many threads at once."""
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def fail(msg):
    print("tcppeer: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def duplex(sock, send_path, recv_path):
    """Sends send_path and half-closes while storing what arrives, to EOF."""
    errors = []

    def sender():
        try:
            with open(send_path, "rb") as f:
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    try:
        with open(recv_path, "wb") as out:
            while True:
                data = sock.recv(CHUNK)
                if not data:
                    break
                out.write(data)
    finally:
        t.join()
        sock.close()
    if errors:
        raise errors[0]


def serve(handler):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, 0))
    srv.listen(128)
    say("listening on port %d" % srv.getsockname()[1])
    n = 0
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handler, args=(conn, n), daemon=True).start()
        n += 1


def duplex_server(send_path, recv_dir):
    def handler(conn, n):
        conn.settimeout(60)
        try:
            duplex(conn, send_path, os.path.join(recv_dir, str(n)))
            say("conn %d: done" % n)
        except OSError as e:
            say("conn %d: %s" % (n, e))

    serve(handler)


def duplex_client(port, send_path, recv_prefix, count):
    errors = []

    def one(i):
        try:
            sock = socket.create_connection((HOST, port), timeout=60)
            duplex(sock, send_path, "%s.%d" % (recv_prefix, i))
        except OSError as e:
            errors.append("connection %d: %s" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fail("; ".join(errors))


def echo_server():
    def handler(conn, n):
        total = 0
        say("conn %d: open" % n)
        try:
            while True:
                data = conn.recv(CHUNK)
                if not data:
                    break
                total += len(data)
                conn.sendall(data)
            how = "closed"
        except ConnectionResetError:
            how = "reset"
        except OSError as e:
            how = str(e)
        conn.close()
        say("conn %d: %s after %d bytes" % (n, how, total))

    serve(handler)


def recv_one(sock, timeout):
    """(data, what): data is b"" on EOF; what is "data", "eof", "reset" or "timeout"."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(CHUNK)
    except socket.timeout:
        return b"", "timeout"
    except ConnectionResetError:
        return b"", "reset"
    return data, "data" if data else "eof"


def session(port, steps):
    conns, cur, log_pos = [], None, 0
    for i, step in enumerate(steps):
        op, _, arg = step.partition(":")
        where = "step %d (%s)" % (i + 1, step)
        if op == "connect":
            try:
                cur = socket.create_connection((HOST, port), timeout=5)
            except OSError as e:
                fail("%s: %s" % (where, e))
            conns.append(cur)
        elif op == "use":
            cur = conns[int(arg)]
        elif op == "send":
            try:
                cur.sendall(arg.encode())
            except OSError as e:
                fail("%s: %s" % (where, e))
        elif op == "expect":
            want, got = arg.encode(), b""
            deadline = time.monotonic() + 5
            while len(got) < len(want):
                data, what = recv_one(cur, max(deadline - time.monotonic(), 0.01))
                if what != "data":
                    fail("%s: %s after %r" % (where, what, got))
                got += data
            if got != want:
                fail("%s: got %r" % (where, got))
        elif op == "silence":
            data, what = recv_one(cur, float(arg))
            if what != "timeout":
                fail("%s: %s %r" % (where, what, data))
        elif op == "reset":
            data, what = recv_one(cur, 5)
            if what != "reset":
                fail("%s: %s %r" % (where, what, data))
        elif op == "refused":
            try:
                sock = socket.create_connection((HOST, port), timeout=5)
            except (ConnectionRefusedError, ConnectionResetError):
                continue
            data, what = recv_one(sock, 5)
            sock.close()
            if what not in ("reset", "eof"):
                fail("%s: %s %r" % (where, what, data))
        elif op == "signal":
            os.kill(int(os.environ["RELAY_PID"]), getattr(signal, "SIG" + arg))
        elif op == "wait":
            deadline = time.monotonic() + 5
            while True:
                with open(os.environ["RELAY_LOG"]) as f:
                    text = f.read()
                at = text.find(arg, log_pos)
                if at >= 0 and text.find("\n", at) >= 0:
                    log_pos = text.find("\n", at) + 1
                    break
                if time.monotonic() > deadline:
                    fail("%s: not in the log:\n%s" % (where, text))
                time.sleep(0.02)
        else:
            fail("%s: unknown step" % where)
    for sock in conns:
        sock.close()


def main(argv):
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if cmd == "duplex-server" and len(args) == 2:
        duplex_server(*args)
    elif cmd == "duplex" and len(args) in (3, 4):
        duplex_client(int(args[0]), args[1], args[2], int(args[3]) if len(args) == 4 else 1)
    elif cmd == "echo-server" and not args:
        echo_server()
    elif cmd == "session" and args:
        session(int(args[0]), args[1:])
    else:
        fail("usage: see the top of " + argv[0])


if __name__ == "__main__":
    main(sys.argv)

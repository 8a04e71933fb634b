"""Hostile clients and a fake server for aic's endpoints, with real sockets
(tests/python/hostile.sh, bench/hostile.sh). Each command prints one line
for the caller to check:

  oversized HOST PORT     a HELLO header announcing 64 MiB, and not one byte
                          of payload: "closed" when the server closes the
                          connection on the header alone, "open" when it
                          waits for the payload
  frame HOST PORT SIZE    a whole HELLO of SIZE payload bytes (valid JSON,
                          with a nonce): the REJECT reason, or "frame N"
                          for the server's answer (17: CHALLENGE)
  hold HOST PORT          connects, sends nothing and returns at once
                          ("held"), leaving a child process to hold the
                          connection until the server drops it
  idle HOST PORT          connects and sends nothing: the REJECT reason, or
                          "closed", when the server gives up on it
  cap HOST PORT N         N idle connections, one after the other: the first
                          one's fate, as idle
  wrong HOST PORT ROLE    the handshake with a wrong key: the answer
  garbage HOST PORT N     N connections one after the other, each sending
                          bytes that are not the protocol: how many the
                          server closed
  fake-server PORTFILE TOKEN N
                          a server that does not know the token: answers
                          HELLO with CHALLENGE and a made-up proof, then
                          sends SPAWN anyway; after N connections prints
                          "token-seen" if any client sent TOKEN (or its
                          credential), "auth-sent" if one sent AUTH, else
                          "nothing"
  storm HOST PORT N [READY]
                          N hostile connections at once, mixed: garbage,
                          slowloris (a byte a second), oversized frames
                          (their payload sent at 256 KiB a second),
                          wrong keys, idle; reconnects each as it is
                          dropped until stopped (SIGTERM), then prints
                          the number of connections made; touches READY
                          once the first N are open
"""
import json
import os
import random
import resource
import selectors
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aicnet import (AUTH, CHALLENGE, HELLO, REJECT, frame, handshake, nonce,  # noqa: E402
                    recv_frame, worker_key)


def fate(s, timeout=60):
    """The REJECT reason, or "closed", once the server drops s; "open" if it does not."""
    s.settimeout(timeout)
    try:
        t, m = recv_frame(s)
        if t == REJECT:
            return m.get("error", "?")
        return "frame %d" % t
    except socket.timeout:  # an OSError too: first
        return "open"
    except (ConnectionError, OSError):
        return "closed"


def oversized(host, port):
    s = socket.create_connection((host, port))
    s.sendall(b"AIC\x01" + struct.pack(">HHI", HELLO, 0, 64 << 20))
    s.settimeout(60)
    try:
        while s.recv(65536):
            pass
        return "closed"
    except socket.timeout:  # an OSError too: first
        return "open"
    except (ConnectionError, OSError):
        return "closed"


def sized(host, port, size):
    s = socket.create_connection((host, port))
    m = {"role": "agent", "rank": 0, "nonce": nonce(), "pad": ""}
    m["pad"] = "x" * (size - len(json.dumps(m, separators=(",", ":"))))
    payload = json.dumps(m, separators=(",", ":")).encode()
    assert len(payload) == size, len(payload)
    s.sendall(b"AIC\x01" + struct.pack(">HHI", HELLO, 0, size) + payload)
    return fate(s)


def hold(host, port):
    s = socket.create_connection((host, port))
    if os.fork() == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        for i in range(3):
            os.dup2(fd, i)
        fate(s, timeout=600)
        os._exit(0)
    return "held"


def cap(host, port, n):
    socks = [socket.create_connection((host, port)) for _ in range(n)]
    r = fate(socks[0])
    for s in socks:
        s.close()
    return r


def wrong(host, port, role):
    s = socket.create_connection((host, port))
    t, m = handshake(s, "0" * 64, {"role": role, "stage": "x", "rank": 1}, verify=False)
    return "%d %s" % (t, (m or {}).get("error", ""))


def fake_server(portfile, token, n):
    secrets = [token.encode()] + [worker_key(token, st).encode() for st in sys.argv[5:]]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    seen, authed = False, False
    for _ in range(n):
        c, _ = srv.accept()
        c.settimeout(30)
        got = b""
        try:
            t, m = recv_frame(c)
            got += repr(m).encode()
            c.sendall(frame(CHALLENGE, {"nonce": nonce(), "proof": "ab" * 32}))
            c.sendall(frame(4, {"id": 0, "argv": ["sh", "-c", "touch pwned"], "env": {}}))
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += d
                if b"AIC\x01" + struct.pack(">H", AUTH) in got:
                    authed = True
        except (ConnectionError, OSError, ValueError):
            pass
        seen = seen or any(x in got for x in secrets)
        c.close()
    return "token-seen" if seen else "auth-sent" if authed else "nothing"


def storm(host, port, n, ready=None):
    """Keeps n hostile connections open against host:port until SIGTERM;
    touches `ready` once the first n are made."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
    kinds = ["garbage", "slowloris", "oversized", "wrong", "idle"]
    sel = selectors.DefaultSelector()
    state = {}  # socket -> [kind, step]
    made = 0

    def opened():
        nonlocal made
        kind = kinds[made % len(kinds)]
        made += 1
        try:
            s = socket.create_connection((host, port), timeout=10)
        except OSError:
            return
        try:
            if kind == "garbage":
                s.send(os.urandom(random.randint(1, 4096)))
            elif kind == "oversized":
                s.send(b"AIC\x01" + struct.pack(">HHI", HELLO, 0, 64 << 20) + os.urandom(1024))
            elif kind == "wrong":
                s.send(frame(HELLO, {"role": "agent", "rank": 0, "nonce": nonce()}))
        except OSError:
            pass
        s.setblocking(False)
        state[s] = [kind, 0]
        sel.register(s, selectors.EVENT_READ)

    def dropped(s):
        sel.unregister(s)
        del state[s]
        s.close()

    while len(state) < n and not stop:
        opened()
    if ready:
        open(ready, "w").close()
    last = time.monotonic()
    while not stop:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            kind, st = state[s]
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if kind == "wrong" and d and st == 0 and d[4:6] == struct.pack(">H", CHALLENGE):
                try:
                    s.send(frame(AUTH, {"proof": "00" * 32}))
                except OSError:
                    pass
                state[s][1] = 1
                continue
            if not d:
                dropped(s)
                if not stop:
                    opened()
        if time.monotonic() - last >= 1:
            last = time.monotonic()
            for s, (kind, st) in list(state.items()):
                try:
                    if kind == "slowloris":
                        s.send(b"AIC\x01"[st % 4:st % 4 + 1])
                        state[s][1] += 1
                    elif kind == "oversized":
                        s.send(bytes(256 << 10))  # the announced frame's payload, on and on
                except OSError:
                    pass
    for s in list(state):
        s.close()
    return str(made)


def main():
    cmd = sys.argv[1]
    if cmd == "fake-server":
        print(fake_server(sys.argv[2], sys.argv[3], int(sys.argv[4])), flush=True)
        return
    host, port = sys.argv[2], int(sys.argv[3])
    if cmd == "oversized":
        print(oversized(host, port))
    elif cmd == "frame":
        print(sized(host, port, int(sys.argv[4])))
    elif cmd == "hold":
        print(hold(host, port))
    elif cmd == "idle":
        print(fate(socket.create_connection((host, port))))
    elif cmd == "cap":
        print(cap(host, port, int(sys.argv[4])))
    elif cmd == "garbage":
        n = 0
        for _ in range(int(sys.argv[4])):
            s = socket.create_connection((host, port))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            n += fate(s) != "open"
            s.close()
        print(n)
    elif cmd == "wrong":
        print(wrong(host, port, sys.argv[4]))
    elif cmd == "storm":
        print(storm(host, port, int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None),
              flush=True)
    else:
        sys.exit("hostile.py: unknown command '%s'" % cmd)


if __name__ == "__main__":
    main()

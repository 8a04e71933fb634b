"""aic's wire protocol from Python, for tests and benchmarks that play a
client or a server with real sockets: frames, the mutual handshake
(lib/auth.h, launcher/net/conn.h) and the credentials.

    s = socket.create_connection((host, port))
    t, msg = handshake(s, key, {"role": "cli"})   # (2, {...}) on WELCOME

A key is the job token (64 hex digits) or a worker's credential,
worker_key(token, stage). Nothing here is aic's code: it is a second,
independent implementation, so a test also checks the protocol as written.
"""
import hashlib
import hmac
import json
import os
import socket
import struct

HELLO, WELCOME, REJECT, CHALLENGE, AUTH = 1, 2, 3, 17, 18
HEADER = 12


def frame(t, payload=b""):
    if not isinstance(payload, bytes):
        payload = json.dumps(payload).encode()
    return b"AIC\x01" + struct.pack(">HHI", t, 0, len(payload)) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed")
        buf += d
    return buf


def recv_frame(s):
    """(type, JSON object or None) of the next frame; ConnectionError when closed."""
    h = recv_exact(s, HEADER)
    if h[:4] != b"AIC\x01":
        raise ValueError("not the aic protocol")
    t, _, n = struct.unpack(">HHI", h[4:])
    p = recv_exact(s, n)
    try:
        return t, json.loads(p) if t < 0x100 and p else None
    except ValueError:
        return t, None


def proof(key, side, cn, sn):
    return hmac.new(key.encode(), ("aic-%s|%s|%s" % (side, cn, sn)).encode(),
                    hashlib.sha256).hexdigest()


def worker_key(token, stage):
    return hmac.new(token.encode(), ("aic-worker|" + stage).encode(), hashlib.sha256).hexdigest()


def nonce():
    return os.urandom(16).hex()


def handshake(s, key, hello, verify=True):
    """The client's side: returns the last frame (WELCOME, or REJECT).
    Raises PermissionError when the server cannot prove the key, unless
    verify is False (a client with a wrong key cannot tell)."""
    cn = nonce()
    s.sendall(frame(HELLO, dict(hello, nonce=cn)))
    t, m = recv_frame(s)
    if t != CHALLENGE:
        return t, m
    if verify and not hmac.compare_digest(m.get("proof", ""), proof(key, "server", cn, m["nonce"])):
        raise PermissionError("the server does not know the key")
    s.sendall(frame(AUTH, {"proof": proof(key, "client", cn, m["nonce"])}))
    return recv_frame(s)


def closed(s, timeout=60):
    """True once the peer has closed s (what it sent before is read and dropped)."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except socket.timeout:  # an OSError too: first
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True

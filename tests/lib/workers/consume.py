"""The last stage of the channel tests' pipelines (tests/python/channels.sh,
tests/integration/channels.sh): gets items from CHAN ("nums"), writes a line
"PRODUCER ID TEXT" for each to $OUT.INDEX, then acks them.

TEXT is the item. With PAD=n set, items are produce.py's padded ones: TEXT is
the key before the padding, followed by " corrupt" unless exactly n bytes of
"x" follow it. VIEW=1 reads items in shared memory in place (get(copy=False)),
and the line of an item whose .data is a view of bytes inside this process's
mapping of the arena (in_arena.py) ends with " in-arena". BATCH and TIMEOUT are each get's (32, 10 s).

With DIE_AFTER=N, replica 0 dies once (exit 9) after N items, with a batch
written but not acked: those are delivered again, so written twice (the
checks drop duplicates by key). $OUT.died marks that it happened.

With READY=FILE, it creates FILE.INDEX once connected (before its first
get).

With PROBE=FILE, replica 0 sends its node's agent bad frames once, after
1,000 items, and writes what came back to FILE (probe_agent below).
"""
import json
import os
import socket
import struct
import sys

import aic
from in_arena import in_arena


def probe_agent(path):
    """To this node's agent, mid-stream: a HELLO without a nonce and bytes
    that are not the protocol are refused (REJECT, type 3); a worker with
    its credential that sends malformed frames gets errors, and a frame over the size
    limit closes its connection. The job must not notice."""
    host, port = os.environ["AIC_AGENT"].rsplit(":", 1)

    def frame(t, p):
        return b"AIC\x01" + struct.pack(">HHI", t, 0, len(p)) + p

    def answers(s):
        got, buf = [], b""
        s.settimeout(10)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    return got + ["closed"]
                buf += d
                while len(buf) >= 12 and len(buf) >= 12 + struct.unpack(">I", buf[8:12])[0]:
                    got.append("%x" % struct.unpack(">H", buf[4:6])[0])
                    buf = buf[12 + struct.unpack(">I", buf[8:12])[0]:]
        except socket.timeout:
            return got + ["open"]

    res = []
    s = socket.create_connection((host, int(port)))
    s.sendall(frame(1, json.dumps({"role": "agent", "token": "bad"}).encode()))
    res.append(answers(s)[0])
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    res.append(answers(s)[0])
    s = socket.create_connection((host, int(port)))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from aicnet import handshake
    handshake(s, os.environ["AIC_TOKEN"], {"role": "worker", "stage": os.environ["AIC_STAGE"]})
    s.sendall(frame(0x101, b"abc")                                   # PUT, truncated
              + frame(0x10f, struct.pack(">IQIQI", 0, 0, 0, 12345, 64))  # PUT_SHM outside any region
              + frame(0x105, struct.pack(">II", 0, 1000))              # ACK of 1000 ids, none there
              + frame(0x10e, struct.pack(">IQIQQ", 0, 1 << 62, 0, 100, 0) + bytes(200000))  # W_PEER, n > total
              + frame(0x1ff, b"?")                                    # no such type
              + b"AIC\x01" + struct.pack(">HHI", 0x101, 0, 0x7fffffff))  # over the size limit
    res.append(" ".join(answers(s)))  # after WELCOME
    open(path, "w").write(" | ".join(res))


def text(data, pad):
    if pad is None:
        return bytes(data).decode()
    head = bytes(data[:16]).decode().split("x")[0]
    return head + ("" if data == head.encode() + b"x" * pad else " corrupt")


w = aic.connect()
chan = os.environ.get("CHAN", "nums")
batch = int(os.environ.get("BATCH", "32"))
timeout = float(os.environ.get("TIMEOUT", "10"))
pad = int(os.environ["PAD"]) if os.environ.get("PAD") else None
view = bool(os.environ.get("VIEW"))
die_after = int(os.environ.get("DIE_AFTER", "0"))
marker = os.environ["OUT"] + ".died"
probe = os.environ.get("PROBE")
out = open(os.environ["OUT"] + ".%d" % w.index, "a")
if os.environ.get("READY"):
    open(os.environ["READY"] + ".%d" % w.index, "w").close()
seen = 0
while True:
    try:
        items = w.get(chan, max_items=batch, timeout=timeout, copy=not view)
    except aic.Closed:
        break
    for it in items:
        out.write("%d %d %s%s\n" % (it.producer, it.id, text(it.data, pad),
                                    " in-arena" if view and in_arena(it.data) else ""))
    out.flush()
    seen += len(items)
    if probe and w.index == 0 and seen >= 1000 and not os.path.exists(probe):
        probe_agent(probe)
    if die_after and w.index == 0 and seen >= die_after and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    w.ack(items)

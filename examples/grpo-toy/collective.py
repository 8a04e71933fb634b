"""A tiny all-gather / all-reduce over TCP for a gang's ranks, no torch.

aic gives every rank of a gang torchrun's RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT. Rank 0 listens there; the others connect and prove they belong
to the job with AIC_TOKEN (their stage's credential, the same for every
rank of the gang), so a stranger on the port cannot
inject gradients. Each round every rank sends its message to rank 0, which
sends the list of all of them, in rank order, back to everyone: a star, fine
for a handful of ranks and small tensors.

A message is a JSON-able value plus one float64 array, framed as
[u32 json length][u64 array length][json][array bytes]: no pickle, since
the bytes come from the network.
"""
import json
import os
import socket
import struct
import time

import numpy as np

_HEAD = struct.Struct("!IQ")


def _recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError("a rank of the gang went away")
        got += k
    return bytes(buf)


def _nodelay(sock):
    """A message is one write, answered before the next: Nagle's wait for an ack
    would only hold it back."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _send(sock, meta, array):
    js = json.dumps(meta).encode()
    data = np.ascontiguousarray(array, dtype=np.float64).tobytes()
    sock.sendall(_HEAD.pack(len(js), len(data)) + js + data)


def _recv(sock):
    n_js, n_data = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
    meta = json.loads(_recv_exact(sock, n_js).decode())
    return meta, np.frombuffer(_recv_exact(sock, n_data), dtype=np.float64)


class Gang:
    def __init__(self, timeout=60.0):
        self.rank = int(os.environ["RANK"])
        self.world = int(os.environ["WORLD_SIZE"])
        addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
        token = os.environ["AIC_TOKEN"]
        self.peers = []  # rank 0: sockets of ranks 1.. in rank order
        self.root = None  # other ranks: the socket to rank 0
        self.exchanges = 0  # allgathers (an allreduce is one) so far
        if self.world == 1:
            return
        if self.rank == 0:
            srv = socket.create_server((addr, port), reuse_port=False)
            srv.settimeout(timeout)
            by_rank = {}
            while len(by_rank) < self.world - 1:
                s, _ = srv.accept()
                s.settimeout(timeout)
                try:
                    meta, _ = _recv(s)
                except (ConnectionError, ValueError, OSError):
                    s.close()
                    continue
                if meta.get("token") != token or not 0 < meta.get("rank", 0) < self.world:
                    s.close()  # not one of ours
                    continue
                by_rank[meta["rank"]] = s
            srv.close()
            self.peers = [by_rank[r] for r in range(1, self.world)]
            for s in self.peers:
                s.settimeout(None)
                _nodelay(s)
        else:
            # Rank 0 may not be listening yet: the gang starts together, not in order.
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self.root = socket.create_connection((addr, port), timeout=timeout)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            self.root.settimeout(None)
            _nodelay(self.root)
            _send(self.root, {"rank": self.rank, "token": token}, np.zeros(0))

    def allgather(self, meta, array=None):
        """[(meta, array)] of every rank, in rank order, on every rank."""
        array = np.zeros(0) if array is None else array
        self.exchanges += 1
        if self.world == 1:
            return [(meta, np.asarray(array, dtype=np.float64).ravel())]
        if self.rank != 0:
            _send(self.root, meta, array)
            metas, flat = _recv(self.root)
            return _split(metas, flat)
        got = [(meta, np.asarray(array, dtype=np.float64).ravel())] + [_recv(s) for s in self.peers]
        metas = [{"meta": m, "n": int(a.size)} for m, a in got]
        flat = np.concatenate([a for _, a in got])
        for s in self.peers:
            _send(s, metas, flat)
        return _split(metas, flat)

    def allreduce(self, array):
        """The element-wise sum of every rank's array, on every rank."""
        parts = self.allgather(None, array)
        return np.sum([a for _, a in parts], axis=0).reshape(np.shape(array))

    def close(self):
        for s in self.peers + ([self.root] if self.root else []):
            s.close()


def _split(metas, flat):
    out, off = [], 0
    for m in metas:
        out.append((m["meta"], flat[off:off + m["n"]]))
        off += m["n"]
    return out

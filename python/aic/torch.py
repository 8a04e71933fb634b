"""aic for PyTorch: weight streams of state dicts, and channels as a Dataset.

    import aic, aic.torch
    w = aic.connect()
    policy = aic.torch.Weights(w, "policy")
    policy.publish(model, version)                 # the weights_to stage (rank 0)
    version = policy.receive_into(model, min_version=version + 1, timeout=5)
    state, version = policy.receive(min_version=1)  # a state dict of its own
    loader = DataLoader(aic.torch.ChannelDataset(w, "scored", decode=json.loads), batch_size=16)

publish() takes a module (its state_dict()) or a dict of tensors. CPU
tensors are copied once, straight into the node's shared copy of the
version (aic_weights_buffer); nothing else copies them on this node, and
other nodes are sent each tensor as soon as it is written. receive_into()
copies a version into the module's own tensors (Tensor.copy_ from views of
the node's shared copy): no second copy of the weights is made, and the
module's parameters keep their storage, so an optimizer or a DDP wrapper
holding them sees the new values.

The blob is python/aic's (a JSON header, then each tensor's bytes, each
aligned to 64 bytes): numpy readers (Worker.weights().receive()) read it
too. Every tensor's dtype and shape round-trip exactly; a dtype numpy
lacks (bfloat16) is carried as raw unsigned integers of its size, with the
torch dtype named in the header.

CUDA tensors go over NCCL (publish_device / receive_device) as one flat
device buffer: the tensors in name order, each aligned to 256 bytes. Only
the bytes travel, so the readers' module must have the same state dict
keys, shapes and dtypes as the writer's (the sizes are checked). nccl=True
takes that path with CPU tensors too (aic's stand-in NCCL, in the tests,
moves host memory).
"""
import ctypes
import errno
import json

import torch

import aic

__all__ = ["Weights", "ChannelDataset", "state_bytes"]

_ALIGN = 64  # each tensor's offset in a blob: SIMD loads of any dtype are aligned
_DEV_ALIGN = 256  # in the flat NCCL buffer: what cudaMalloc gives, for any dtype

# torch dtype -> numpy's dtype string for the header. The dtypes numpy lacks
# travel as unsigned integers of their size (the header also names the
# torch dtype, which is what this module reads back).
_NUMPY = {
    torch.float64: "<f8", torch.float32: "<f4", torch.float16: "<f2", torch.bfloat16: "<u2",
    torch.complex128: "<c16", torch.complex64: "<c8",
    torch.int64: "<i8", torch.int32: "<i4", torch.int16: "<i2", torch.int8: "|i1",
    torch.uint8: "|u1", torch.bool: "|b1",
}
_BY_NAME = {str(d).replace("torch.", ""): d for d in _NUMPY}


def _name(dtype):
    return str(dtype).replace("torch.", "")


def _tensors(obj, what):
    """{name: tensor} of a module (its state_dict()) or a mapping of tensors."""
    sd = obj.state_dict() if hasattr(obj, "state_dict") and callable(obj.state_dict) else obj
    if not hasattr(sd, "items"):
        raise TypeError("%s: a torch.nn.Module or a dict of tensors, not %s" % (what, type(obj).__name__))
    out = {}
    for k, v in sd.items():
        if not isinstance(k, str):
            raise TypeError("%s: key %r is not a string" % (what, k))
        if not isinstance(v, torch.Tensor):
            raise TypeError("%s: '%s' is a %s, not a tensor" % (what, k, type(v).__name__))
        if v.dtype not in _NUMPY:
            raise TypeError("%s: '%s' has dtype %s, which aic.torch does not carry (one of: %s)" %
                            (what, k, _name(v.dtype), ", ".join(sorted(_BY_NAME))))
        if v.is_sparse or v.is_quantized:
            raise TypeError("%s: '%s' is sparse or quantized; publish a dense tensor" % (what, k))
        out[k] = v.detach()
    return out


def _nbytes(t):
    return t.numel() * t.element_size()


def _up(n, a):
    return (n + a - 1) // a * a


def _layout(tensors, meta):
    """(head bytes, [(name, tensor, offset in blob)], total bytes) of a blob.

    The header is python/aic's: 4 bytes of big-endian length, then JSON
    {"tensors": [{name, dtype, shape, offset, nbytes, torch}], "meta": ...}
    with offsets from the end of the header. The JSON is padded with spaces
    so the data starts on a _ALIGN boundary, as every tensor does.
    """
    entries, parts, off = [], [], 0
    for name in sorted(tensors):
        t = tensors[name]
        off = _up(off, _ALIGN)
        entries.append({"name": name, "dtype": _NUMPY[t.dtype], "shape": list(t.shape),
                        "offset": off, "nbytes": _nbytes(t), "torch": _name(t.dtype)})
        parts.append((name, t, off))
        off += _nbytes(t)
    js = json.dumps({"tensors": entries, "meta": meta or {}}).encode()
    js += b" " * (_up(4 + len(js), _ALIGN) - 4 - len(js))
    head = len(js).to_bytes(4, "big") + js
    return head, [(n, t, len(head) + o) for n, t, o in parts], len(head) + off


def _read_head(base, n):
    """(entries, meta, data offset) of the blob of n bytes at address base."""
    if n < 4:
        raise ValueError("aic.torch: a blob of %d bytes has no header" % n)
    hn = int.from_bytes(ctypes.string_at(base, 4), "big")
    if 4 + hn > n:
        raise ValueError("aic.torch: a header of %d bytes in a blob of %d" % (hn, n))
    h = json.loads(ctypes.string_at(base + 4, hn).decode())
    return h["tensors"], h.get("meta") or {}, 4 + hn


def _dtype(entry):
    """The torch dtype of a header entry: its "torch" name, or (a numpy writer's) its numpy dtype."""
    if "torch" in entry:
        d = _BY_NAME.get(entry["torch"])
    else:
        d = next((k for k, v in _NUMPY.items() if v == entry["dtype"] and k != torch.bfloat16), None)
    if d is None:
        raise TypeError("aic.torch: '%s' has dtype %r, which torch cannot read" %
                        (entry["name"], entry.get("torch", entry["dtype"])))
    return d


def _views(base, n):
    """{name: tensor} viewing the n bytes at base in place, and the blob's meta."""
    entries, meta, data = _read_head(base, n)
    mem = (ctypes.c_char * n).from_address(base)
    out = {}
    for e in entries:
        d = _dtype(e)
        size = torch.tensor([], dtype=d).element_size()
        count = e["nbytes"] // size
        if data + e["offset"] + e["nbytes"] > n:
            raise ValueError("aic.torch: '%s' runs past the end of the blob" % e["name"])
        if count == 0:
            out[e["name"]] = torch.empty(e["shape"], dtype=d)
            continue
        # frombuffer keeps `mem` alive; the memory itself is aic's (see receive()).
        out[e["name"]] = torch.frombuffer(mem, dtype=d, count=count,
                                          offset=data + e["offset"]).view(e["shape"])
    return out, meta


def _flat_layout(tensors):
    """[(name, tensor, offset)] and the size of the flat NCCL buffer."""
    parts, off = [], 0
    for name in sorted(tensors):
        off = _up(off, _DEV_ALIGN)
        parts.append((name, tensors[name], off))
        off += _nbytes(tensors[name])
    return parts, off


def _byte_view(buf, off, t):
    """The bytes [off, off + nbytes(t)) of the uint8 tensor buf, as t's dtype and shape."""
    n = _nbytes(t)
    if n == 0:
        return None
    return buf[off:off + n].view(t.dtype).view(t.shape)


def state_bytes(obj):
    """The bytes of a module's or dict's tensors, all together (what a version carries)."""
    return sum(_nbytes(t) for t in _tensors(obj, "aic.torch.state_bytes").values())


class Weights:
    """A weight stream of state dicts: aic's Worker.weights(name), for torch tensors."""

    def __init__(self, worker, name):
        self._w = worker
        self.stream = worker.weights(name)
        self.name = name
        self.meta = {}  # what the writer passed as meta= with the version received last
        self._flat = None  # the NCCL path's device buffer, kept between versions

    def publish(self, obj, version, meta=None, nccl=None):
        """Publishes a module's state dict (or a dict of tensors) as `version`.

        meta: a small JSON-able dict the readers get as .meta (not with NCCL).
        nccl: None sends CUDA tensors over NCCL and CPU tensors through the
        node's shared copy; True or False chooses. Mixed devices are refused.
        """
        tensors = _tensors(obj, "aic.torch publish of '%s'" % self.name)
        cuda = {t.is_cuda for t in tensors.values()}
        if len(cuda) > 1:
            raise ValueError("aic.torch publish of '%s': tensors on CPU and CUDA together; "
                             "move them to one device" % self.name)
        if nccl is None:
            nccl = cuda == {True}
        if nccl:
            if meta:
                raise ValueError("aic.torch publish of '%s': meta= does not travel over NCCL" % self.name)
            return self._publish_nccl(tensors, version)
        if cuda == {True}:
            raise ValueError("aic.torch publish of '%s': CUDA tensors need nccl=True (or None)" %
                             self.name)
        head, parts, total = _layout(tensors, meta)
        lib, h, name = aic._lib, self._w._h, self.name.encode()
        p = ctypes.c_void_p()
        rc = lib.aic_weights_buffer(h, name, total, version, ctypes.byref(p))
        if rc:
            raise aic.Error(rc, "aic.torch publish of weights '%s'" % self.name)
        try:
            ctypes.memmove(p.value, head, len(head))
            mem = (ctypes.c_char * total).from_address(p.value)
            for _, t, off in parts:
                n = _nbytes(t)
                if n:
                    # One copy, from the tensor straight into the slot; copy_
                    # also lays out a non-contiguous tensor on the way.
                    dst = torch.frombuffer(mem, dtype=t.dtype, count=t.numel(), offset=off)
                    dst.view(t.shape).copy_(t)
                    del dst
                    lib.aic_weights_written(h, name, p, off + n)
        except BaseException:
            lib.aic_weights_discard(h, p)  # nothing is published
            raise
        rc = lib.aic_weights_commit(h, name, p, total)
        if rc:
            raise aic.Error(rc, "aic.torch publish of weights '%s'" % self.name)

    def _flat_buf(self, size, device):
        if self._flat is None or self._flat.numel() != size or self._flat.device != device:
            self._flat = torch.empty(max(size, 1), dtype=torch.uint8, device=device)
        return self._flat

    def _stream(self, device):
        return torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0

    def _publish_nccl(self, tensors, version):
        parts, size = _flat_layout(tensors)
        device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
        buf = self._flat_buf(size, device)
        for _, t, off in parts:
            v = _byte_view(buf, off, t)
            if v is not None:
                v.copy_(t)
        self.stream.publish_device(buf.data_ptr(), size, version, self._stream(device))

    def receive_into(self, obj, min_version=0, timeout=None, strict=True, nccl=None):
        """Loads the newest version >= min_version into a module (or a dict of tensors), in place.

        Returns its version; TimeoutError if none came within timeout. Each
        of the module's tensors is written with copy_ from a view of the
        node's shared copy: no other copy is made, and the tensors keep their
        storage. strict: the version's names must be exactly the module's
        (KeyError naming the difference); shapes must match (ValueError);
        dtypes may differ (copy_ converts). nccl: None uses NCCL for a
        module on CUDA.
        """
        dst = _tensors(obj, "aic.torch receive of '%s'" % self.name)
        if nccl is None:
            nccl = any(t.is_cuda for t in dst.values())
        if nccl:
            return self._receive_nccl(dst, min_version, timeout)
        base, n, version = self._receive(min_version, timeout)
        src, meta = _views(base, n)
        missing, extra = sorted(set(dst) - set(src)), sorted(set(src) - set(dst))
        if strict and (missing or extra):
            raise KeyError("aic.torch receive of '%s' version %d: missing %s, unexpected %s" %
                           (self.name, version, missing, extra))
        with torch.no_grad():
            for k in sorted(set(dst) & set(src)):
                if tuple(src[k].shape) != tuple(dst[k].shape):
                    raise ValueError("aic.torch receive of '%s': '%s' has shape %s, the module's %s" %
                                     (self.name, k, list(src[k].shape), list(dst[k].shape)))
                dst[k].copy_(src[k])
        self.meta = meta
        return version

    def _receive_nccl(self, dst, min_version, timeout):
        parts, size = _flat_layout(dst)
        device = next(iter(dst.values())).device if dst else torch.device("cpu")
        buf = self._flat_buf(size, device)
        n, version = self.stream.receive_device(buf.data_ptr(), buf.numel(), min_version, timeout,
                                                self._stream(device))
        if n != size:
            raise ValueError("aic.torch receive of '%s' version %d: %d bytes came over NCCL, this "
                             "module's state is %d: not the writer's model" % (self.name, version, n, size))
        with torch.no_grad():
            for _, t, off in parts:
                v = _byte_view(buf, off, t)
                if v is not None:
                    t.copy_(v)
        self.meta = {}
        return version

    def receive(self, min_version=0, timeout=None, copy=True):
        """(state dict, version): the newest version >= min_version, as new tensors.

        copy=False returns views of the node's shared copy when the version is
        in shared memory: read-only memory (torch cannot mark a tensor so: a
        write kills the process), valid until a later receive on this stream
        returns a newer version; otherwise the tensors are a copy.
        """
        base, n, version = self._receive(min_version, timeout)
        views, self.meta = _views(base, n)
        if not copy and aic._lib.aic_in_place(self._w._h, ctypes.c_void_p(base)):
            return views, version
        return {k: v.clone() for k, v in views.items()}, version

    def _receive(self, min_version, timeout):
        """(address, length, version) of a received blob, valid until the next call on the worker."""
        p, n, v = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_uint64()
        rc = aic._lib.aic_weights_receive(self._w._h, self.name.encode(), min_version,
                                          aic._ms(timeout), ctypes.byref(p), ctypes.byref(n),
                                          ctypes.byref(v))
        if rc == -errno.ETIMEDOUT:
            raise TimeoutError("no version >= %d of weights '%s'" % (min_version, self.name))
        if rc:
            raise aic.Error(rc, "aic.torch receive of weights '%s'" % self.name)
        return p.value, n.value, v.value


class ChannelDataset(torch.utils.data.IterableDataset):
    """The items of a channel as an IterableDataset, for a DataLoader (num_workers=0).

    Each item is yielded as decode(item.data) (the bytes themselves by
    default). Items are acked once the iteration has moved past them: those
    of one get() (up to `batch` items) when the item after them is asked
    for, the last ones at the end. An item got but not yet moved past when
    the process dies is delivered again, to another consumer. A channel
    does not end while its consumers hold items un-acked: finish an
    iteration (or close it) before waiting for the channel's end in
    another. Iteration ends when the channel is closed and drained, after
    `limit` items, or, with a timeout, when none came for that long.

    The aic connection belongs to the process that made it: DataLoader worker
    processes (num_workers > 0) are refused.
    """

    def __init__(self, worker, channel, decode=None, batch=16, timeout=None, limit=None):
        super().__init__()
        self.worker = worker
        self.channel = channel
        self.decode = decode
        self.batch = batch
        self.timeout = timeout
        self.limit = limit

    def __iter__(self):
        if torch.utils.data.get_worker_info() is not None:
            raise RuntimeError("aic.torch.ChannelDataset '%s': use DataLoader(num_workers=0); "
                               "the aic connection cannot be shared with worker processes" %
                               self.channel)
        w, taken, n = self.worker, [], 0
        try:
            while self.limit is None or n < self.limit:
                want = self.batch if self.limit is None else min(self.batch, self.limit - n)
                # Acked before waiting for more: a channel does not end while
                # a consumer holds items of it un-acked.
                if taken:
                    w.ack(taken)
                    taken = []
                try:
                    items = w.get(self.channel, max_items=want, timeout=self.timeout)
                except aic.Closed:
                    break
                if not items:
                    break  # the timeout passed with nothing
                for it in items:
                    taken.append(it)
                    n += 1
                    yield self.decode(it.data) if self.decode else it.data
        finally:
            # Only what was yielded: items of a get() the consumer left
            # untaken (it stopped early) stay un-acked, delivered again
            # should this process die.
            if taken:
                w.ack(taken)

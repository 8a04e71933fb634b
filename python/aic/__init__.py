"""aic's worker API for Python: ctypes over libaic (no compiled extension).

    import aic
    w = aic.connect()                 # from AIC_AGENT / AIC_TOKEN, set by aic's engine
    w.put("samples", b"...", version=3)
    items = w.get("samples", max_items=16, timeout=1.0)   # [] on timeout
    w.ack(items)
    w.weights("policy").publish({"w": array}, version=3)       # the weights_to stage
    arrays, version = w.weights("policy").receive(min_version=3)  # weights_from stages
    arrays, version = w.weights("policy").receive(min_version=3, copy=False)  # shared, read-only
    items = w.get("samples", max_items=16, copy=False)  # large items: memoryviews, valid until acked
    w.weights("policy").publish_device(ptr, nbytes, 3)   # GPU memory, over NCCL
    nbytes, version = w.weights("policy").receive_device(ptr, capacity, min_version=3)
    w.stage, w.index                  # identity (w.rank / w.replica: the same number)
    v = aic.resume()                  # the checkpoint to load after a restart, None on a fresh start
    if w.checkpoint_requested():      # the job's end is near: save under aic.checkpoint_dir()
        w.checkpoint_done(step)       # ... then say which checkpoint it is
    w.checkpoint_done(None)           # asked, a worker that keeps no state says so
    w.checkpoint_begin()              # the state to save is taken now (before an unasked save)
    w.checkpoint(save)                # the same, as a callback: save(dir) returns the version
    with w.phase(release=torch.cuda.empty_cache):   # stages sharing GPUs in turns: hold them
        while not w.phase_should_yield(): ...        # the other stage waits: end at a batch edge

A closed and drained channel raises aic.Closed from get(). Other failures
raise aic.Error with .code (a negative errno or AIC_E* code) and a message;
aic.AIC_ECLOSED, aic.AIC_ENOLIB and aic.AIC_ENCCL are read from the library.
The library is found through $AIC_LIBRARY, then libaic.so.0 on the
loader's path.
"""
import ctypes
import errno
import os
import signal

from .sandbox import Sandbox, SandboxError

__all__ = ["connect", "Worker", "Item", "Weights", "Error", "Closed", "checkpoint_dir", "resume",
           "Sandbox", "SandboxError"]


class Error(Exception):
    """A failed aic call: .code is the library's negative code."""

    def __init__(self, code, what):
        self.code = code
        super().__init__("%s: %s" % (what, _lib.aic_strerror(code).decode()))


class Closed(Error):
    """The channel's producers have all finished and it is drained."""


_CHECKPOINT_NONE = 0xffffffffffffffff  # AIC_CHECKPOINT_NONE: checkpoint_done(None)
_ORIGIN_NONE = 0xffffffff  # an item's origin_chan when it comes from no source line


class _CItem(ctypes.Structure):
    _fields_ = [("producer", ctypes.c_uint32), ("id", ctypes.c_uint64),
                ("version", ctypes.c_uint64), ("len", ctypes.c_size_t),
                ("data", ctypes.c_void_p), ("origin_chan", ctypes.c_uint32),
                ("origin_epoch", ctypes.c_uint32), ("origin_line", ctypes.c_uint64)]


class _CEndpoint(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_char * 64), ("replica", ctypes.c_int), ("ready", ctypes.c_int)]


def _load():
    path = os.environ.get("AIC_LIBRARY") or "libaic.so.0"
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        # Name both ways to provide the library: importing aic fails here.
        raise ImportError("aic: cannot load '%s' (install libaic0, or set AIC_LIBRARY to a "
                          "libaic.so): %s" % (path, e)) from e
    lib.aic_strerror.restype = ctypes.c_char_p
    lib.aic_strerror.argtypes = [ctypes.c_int]
    lib.aic_error_name.restype = ctypes.c_char_p
    lib.aic_error_name.argtypes = [ctypes.c_int]
    lib.aic_item_origin.argtypes = [ctypes.c_void_p, ctypes.POINTER(_CItem),
                                    ctypes.POINTER(ctypes.c_char_p),
                                    ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint32)]
    lib.aic_worker_connect.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.aic_worker_close.argtypes = [ctypes.c_void_p]
    lib.aic_worker_stage.restype = ctypes.c_char_p
    lib.aic_worker_stage.argtypes = [ctypes.c_void_p]
    lib.aic_worker_index.argtypes = [ctypes.c_void_p]
    lib.aic_put.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                            ctypes.c_uint64, ctypes.c_int, ctypes.POINTER(ctypes.c_uint64)]
    lib.aic_get_min.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_CItem),
                                ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
                                ctypes.c_int]
    lib.aic_ack.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_CItem),
                            ctypes.c_size_t]
    lib.aic_weights_publish.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                        ctypes.c_size_t, ctypes.c_uint64]
    lib.aic_weights_receive.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64,
                                        ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                        ctypes.POINTER(ctypes.c_size_t),
                                        ctypes.POINTER(ctypes.c_uint64)]
    lib.aic_weights_nccl_publish.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                             ctypes.c_size_t, ctypes.c_uint64, ctypes.c_void_p]
    lib.aic_weights_nccl_receive.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                             ctypes.c_size_t, ctypes.c_uint64, ctypes.c_int,
                                             ctypes.POINTER(ctypes.c_size_t),
                                             ctypes.POINTER(ctypes.c_uint64), ctypes.c_void_p]
    lib.aic_nccl_last_error.restype = ctypes.c_char_p
    lib.aic_in_place.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.aic_put_buffer.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
    lib.aic_put_commit.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_uint64, ctypes.c_int, ctypes.POINTER(ctypes.c_uint64)]
    lib.aic_put_discard.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.aic_put_discard.restype = None
    lib.aic_metric.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double, ctypes.c_int64]
    lib.aic_checkpoint_requested.argtypes = [ctypes.c_void_p]
    lib.aic_checkpoint_done.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
    lib.aic_checkpoint_begin.argtypes = [ctypes.c_void_p]
    lib.aic_checkpoint_dir.restype = ctypes.c_char_p
    lib.aic_checkpoint_dir.argtypes = []
    lib.aic_checkpoint_resume.argtypes = [ctypes.POINTER(ctypes.c_uint64)]
    lib.aic_weights_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                       ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
    lib.aic_weights_commit.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                       ctypes.c_size_t]
    lib.aic_weights_written.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                        ctypes.c_size_t]
    lib.aic_phase_begin.argtypes = [ctypes.c_void_p]
    lib.aic_phase_end.argtypes = [ctypes.c_void_p]
    lib.aic_phase_should_yield.argtypes = [ctypes.c_void_p]
    lib.aic_weights_discard.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.aic_weights_discard.restype = None
    lib.aic_endpoints.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_CEndpoint),
                                  ctypes.c_size_t]
    return lib


def _error_codes(lib):
    """The library's AIC_E* codes by name: consecutive from -1000 down, each named by
    aic_error_name() (aic.h), so this module keeps no copy of their values."""
    codes, code = {}, -1000
    while True:
        name = lib.aic_error_name(code)
        if name is None:
            return codes
        codes[name.decode()] = code
        code -= 1


_lib = _load()
_codes = _error_codes(_lib)
AIC_ENOLIB = _codes["AIC_ENOLIB"]
AIC_ECLOSED = _codes["AIC_ECLOSED"]
AIC_ENCCL = _codes["AIC_ENCCL"]


def _nccl_error(rc, what):
    if rc in (AIC_ENOLIB, AIC_ENCCL):
        return Error(rc, "%s (%s)" % (what, _lib.aic_nccl_last_error().decode(errors="replace")))
    return Error(rc, what)


class Item:
    """One item: .data (bytes; a read-only memoryview from get(copy=False)), .id, .producer,
    .version, its channel, and .origin: the source line its processing started from,
    {"source": channel, "epoch": pass (0-based), "line": number (1-based)}, or None.
    Two items with the same origin are the same work done twice (a line read again
    after a node was lost)."""

    __slots__ = ("channel", "producer", "id", "version", "data", "origin")

    def __init__(self, channel, c, view=False, source=None):
        self.channel = channel
        self.producer = c.producer
        self.id = c.id
        self.version = c.version
        # source: the name of the channel c.origin_chan (Worker._source), None without one.
        self.origin = None
        if source is not None:
            self.origin = {"source": source, "epoch": c.origin_epoch, "line": c.origin_line}
        if view:  # read in place from shared memory: valid until acked
            self.data = memoryview((ctypes.c_char * c.len).from_address(c.data)).cast("B").toreadonly()
        else:
            self.data = ctypes.string_at(c.data, c.len) if c.len else b""

    def key(self):
        """(producer, id): unique per item, for dropping redelivered duplicates."""
        return (self.producer, self.id)


def _layout(arrays):
    """How named arrays are laid out as one blob: (head, [(array, offset)], total bytes).

    The blob is a JSON header (length-prefixed), then the arrays' bytes.
    """
    import json
    import numpy as np
    meta, parts, off = [], [], 0
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        meta.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape),
                     "offset": off, "nbytes": a.nbytes})
        parts.append((a, off))
        off += a.nbytes
    head = json.dumps({"tensors": meta}).encode()
    head = len(head).to_bytes(4, "big") + head
    return head, [(a, len(head) + o) for a, o in parts], len(head) + off


# The most bytes of one array _pack_into copies before it says they are final.
_PIECE = 4 << 20


def _pack_into(view, head, parts, written=None):
    """Writes a blob laid out by _layout into a writable byte memoryview.

    written(n), if given, is told after each array, and within a large
    array after every _PIECE bytes of it, that bytes [0, n) are final: the
    agent sends a large array on to other nodes while the rest is copied.
    """
    import numpy as np
    view[:len(head)] = head
    for a, off in parts:
        dst = np.frombuffer(view, dtype=a.dtype, count=a.size, offset=off)
        if written and a.nbytes > _PIECE and a.flags.c_contiguous:
            src, step = a.reshape(-1), _PIECE // a.itemsize
            for i in range(0, a.size, step):
                np.copyto(dst[i:i + step], src[i:i + step])
                written(off + min(i + step, a.size) * a.itemsize)
            continue
        np.copyto(dst.reshape(a.shape), a)
        if written:
            written(off + a.nbytes)


def _unpack(blob):
    """The arrays of a blob, as numpy views of it (no copy)."""
    import json
    import numpy as np
    n = int.from_bytes(blob[:4], "big")
    meta = json.loads(blob[4:4 + n].decode())
    base = 4 + n
    out = {}
    for t in meta["tensors"]:
        a = np.frombuffer(blob, dtype=np.dtype(t["dtype"]), count=t["nbytes"] // max(1, np.dtype(t["dtype"]).itemsize),
                          offset=base + t["offset"])
        out[t["name"]] = a.reshape(t["shape"])
    return out


class Buffer:
    """A buffer to fill (.data, a writable memoryview of .nbytes) and commit: Worker.buffer()."""

    __slots__ = ("_p", "nbytes", "data")

    def __init__(self, p, nbytes):
        self._p = p
        self.nbytes = nbytes
        self.data = memoryview((ctypes.c_char * max(nbytes, 1)).from_address(p)).cast("B")[:nbytes]

    def _take(self, nbytes):
        if self._p is None:
            raise ValueError("this buffer was already committed or discarded")
        n = self.nbytes if nbytes is None else nbytes
        if not 0 <= n <= self.nbytes:
            raise ValueError("nbytes %r: the buffer has %d" % (nbytes, self.nbytes))
        p, self._p = self._p, None
        try:
            self.data.release()
        except BufferError:
            pass  # still exported (a numpy array of it): the caller must not use it now
        self.data = None
        return p, n


class Weights:
    """A weight stream: publish() from the writer, receive() in every reader."""

    def __init__(self, worker, name):
        self._w = worker
        self.name = name

    def publish(self, arrays, version):
        """Publishes {name: numpy array} as `version` (newer than the last).

        The arrays are copied once, straight into the node's shared copy
        when there is one (aic_weights_buffer): nothing else copies them on
        this node, and other nodes are sent each array, and each 4 MiB of a
        large one, as soon as it is copied (aic_weights_written).
        """
        head, parts, total = _layout(arrays)
        p = ctypes.c_void_p()
        name = self.name.encode()
        rc = _lib.aic_weights_buffer(self._w._h, name, total, version, ctypes.byref(p))
        if rc:
            raise Error(rc, "aic publish of weights '%s'" % self.name)
        view = memoryview((ctypes.c_char * max(total, 1)).from_address(p.value)).cast("B")
        try:
            _pack_into(view[:total], head, parts,
                       lambda n: _lib.aic_weights_written(self._w._h, name, p, n))
        except BaseException:
            _lib.aic_weights_discard(self._w._h, p)  # nothing is published
            raise
        finally:
            view.release()
        rc = _lib.aic_weights_commit(self._w._h, name, p, total)
        if rc:
            raise Error(rc, "aic publish of weights '%s'" % self.name)

    def receive(self, min_version=0, timeout=None, copy=True):
        """(arrays, version): the newest version >= min_version; TimeoutError if none came.

        copy=False returns read-only views of the node's shared copy when the
        version is in shared memory (no copy at all): they stay valid until a
        later receive() on this stream returns a newer version; keep them no
        longer (np.array(a) copies one). Otherwise the arrays are a copy.
        """
        p = ctypes.c_void_p()
        n = ctypes.c_size_t()
        v = ctypes.c_uint64()
        rc = _lib.aic_weights_receive(self._w._h, self.name.encode(), min_version, _ms(timeout),
                                      ctypes.byref(p), ctypes.byref(n), ctypes.byref(v))
        if rc == -errno.ETIMEDOUT:
            raise TimeoutError("no version >= %d of weights '%s'" % (min_version, self.name))
        if rc:
            raise Error(rc, "aic receive of weights '%s'" % self.name)
        if not copy and n.value and _lib.aic_in_place(self._w._h, p):
            arrays = _unpack((ctypes.c_char * n.value).from_address(p.value))
            for a in arrays.values():
                a.flags.writeable = False  # the mapping is read-only: a write would fault
            return arrays, v.value
        return _unpack(ctypes.string_at(p, n.value)), v.value


    def publish_device(self, ptr, nbytes, version, stream=0):
        """Broadcasts nbytes of GPU memory at ptr as `version` over NCCL (the writer's rank 0).

        Returns once every reader has the version. With PyTorch:
        publish_device(t.data_ptr(), t.numel() * t.element_size(), v,
                       torch.cuda.current_stream().cuda_stream)
        """
        rc = _lib.aic_weights_nccl_publish(self._w._h, self.name.encode(), ptr, nbytes, version,
                                           stream or None)
        if rc:
            raise _nccl_error(rc, "aic NCCL publish of weights '%s'" % self.name)

    def receive_device(self, ptr, capacity, min_version=0, timeout=None, stream=0):
        """(nbytes, version): a version >= min_version broadcast into the GPU memory at ptr.

        Every reader must receive every version (a broadcast is collective).
        """
        n = ctypes.c_size_t()
        v = ctypes.c_uint64()
        rc = _lib.aic_weights_nccl_receive(self._w._h, self.name.encode(), ptr, capacity,
                                           min_version, _ms(timeout), ctypes.byref(n),
                                           ctypes.byref(v), stream or None)
        if rc == -errno.ETIMEDOUT:
            raise TimeoutError("no version >= %d of weights '%s'" % (min_version, self.name))
        if rc:
            raise _nccl_error(rc, "aic NCCL receive of weights '%s'" % self.name)
        return n.value, v.value


def _ms(timeout):
    return -1 if timeout is None else max(0, int(timeout * 1000))


class Worker:
    def __init__(self):
        h = ctypes.c_void_p()
        rc = _lib.aic_worker_connect(ctypes.byref(h))
        if rc:
            raise Error(rc, "aic.connect")
        self._h = h
        # Per call a get or put would otherwise pay for these: channel names as
        # bytes, an item array per size, and the source channel's name per origin
        # channel id (aic_item_origin; the ids are fixed for the connection).
        self._names = {}
        self._arrays = {}
        self._sources = {}
        self._term = False      # SLURM's SIGTERM came: checkpoint, then exit by it
        self._answered = False  # a checkpoint the engine asked for was reported
        self._marked = False    # checkpoint_begin() done for the SIGTERM's checkpoint
        self._asked = False     # the engine asked for a checkpoint (checkpoint_requested)
        # In a job that checkpoints on SIGTERM (checkpoint.term_grace_s), SLURM's
        # SIGTERM (preemption, requeue, scancel) reaches every process of the step:
        # the worker survives it until it has checkpointed (see _on_term).
        if os.environ.get("AIC_TERM_NOTICE", "0") not in ("", "0"):
            try:
                signal.signal(signal.SIGTERM, self._on_term)
            except ValueError:
                pass  # not the main thread: SIGTERM keeps its default action

    def _on_term(self, signum, frame):
        """The first SIGTERM asks for a checkpoint (checkpoint_requested() is true until
        checkpoint_done()); the worker exits by SIGTERM after it. A second one, or one after
        the worker has answered the engine's request (the engine's own stop at the job's
        end), ends it at once."""
        if self._term or self._answered:
            _die_of_sigterm()
        self._term = True

    @property
    def stage(self):
        return _lib.aic_worker_stage(self._h).decode()

    @property
    def index(self):
        return _lib.aic_worker_index(self._h)

    rank = index
    replica = index

    def put(self, channel, data, version=0, timeout=None, wait=False):
        """Puts bytes (or any buffer) on channel.

        Puts are pipelined (a full channel still stops the producer). With a
        timeout or wait=True the call waits for this item to be accepted and
        returns its id (TimeoutError if the channel stayed full); otherwise
        it returns None.
        """
        buf = bytes(data) if not isinstance(data, bytes) else data
        return self._put(_lib.aic_put, channel, buf, len(buf), version, timeout, wait)

    def _name(self, channel):
        b = self._names.get(channel)
        if b is None:
            b = self._names[channel] = channel.encode()
        return b

    def _source(self, c):
        """The name of the source an item came from (c.origin_chan), None when there is none."""
        if c.origin_chan == _ORIGIN_NONE:
            return None
        name = self._sources.get(c.origin_chan)
        if name is None:
            src = ctypes.c_char_p()
            rc = _lib.aic_item_origin(self._h, ctypes.byref(c), ctypes.byref(src), None, None)
            name = src.value.decode() if rc == 0 else False
            self._sources[c.origin_chan] = name
        return name or None

    def _put(self, fn, channel, p, n, version, timeout, wait):
        if not wait and timeout is None:
            rc = fn(self._h, self._name(channel), p, n, version or 0, -1, None)
            out = None
        else:
            out = ctypes.c_uint64()
            rc = fn(self._h, self._name(channel), p, n, version or 0, _ms(timeout),
                    ctypes.byref(out))
        if rc == -errno.ETIMEDOUT:
            raise TimeoutError("aic put on '%s' timed out" % channel)
        if rc:
            raise Error(rc, "aic put on '%s'" % channel)
        return None if out is None else out.value

    def buffer(self, nbytes):
        """A Buffer of nbytes to fill and then commit(): a put without a copy.

        Its .data is a writable memoryview (np.frombuffer(b.data, dtype) for
        numpy), in the node's shared memory when it can be: a consumer on this
        node reads it where it was written. Do not use it after commit() or
        discard().
        """
        p = ctypes.c_void_p()
        rc = _lib.aic_put_buffer(self._h, nbytes, ctypes.byref(p))
        if rc:
            raise Error(rc, "aic put buffer")
        return Buffer(p.value, nbytes)

    def commit(self, channel, buf, nbytes=None, version=0, timeout=None, wait=False):
        """Puts the first nbytes (all by default) of a Buffer on channel, as put() does."""
        p, n = buf._take(nbytes)
        return self._put(_lib.aic_put_commit, channel, p, n, version, timeout, wait)

    def discard(self, buf):
        """Gives back a Buffer that will not be put."""
        p, _ = buf._take(None)
        _lib.aic_put_discard(self._h, p)

    def get(self, channel, max_items=1, timeout=None, copy=True, min_items=1):
        """Up to max_items items; [] on timeout; raises Closed at the end of the channel.

        min_items=N (0 <= N <= max_items; 0 is 1): waits until N items are there, in
        one round trip, then gives up to max_items; fewer (at least one) when
        the timeout passes, when the channel is closed and its producers have
        all finished, or when it is full (its producers wait for room). Items
        are not kept back for a get that waits for more: another consumer
        that can take them now does (aic_get_min in aic.h).

        copy=False: an item whose payload is in the node's shared memory gets
        .data as a read-only memoryview of it (no copy), valid until the item
        is acked; other items' .data are bytes as always.
        """
        # The array only carries the answer to the Items made here: one per size will do.
        arr = self._arrays.get(max_items)
        if arr is None:
            arr = self._arrays[max_items] = (_CItem * max_items)()
        n = ctypes.c_size_t()
        if min_items > max_items or min_items < 0:
            raise ValueError("aic get on '%s': min_items %r must be from 0 to max_items %r"
                             % (channel, min_items, max_items))
        rc = _lib.aic_get_min(self._h, self._name(channel), arr, max_items, min_items,
                              ctypes.byref(n), _ms(timeout))
        if rc == -errno.ETIMEDOUT:
            return []
        if rc == AIC_ECLOSED:
            raise Closed(rc, "aic get on '%s'" % channel)
        if rc:
            raise Error(rc, "aic get on '%s'" % channel)
        out = []
        for c in arr[:n.value]:
            out.append(Item(channel, c, view=not copy and c.len > 0 and
                            bool(_lib.aic_in_place(self._h, c.data)), source=self._source(c)))
        return out

    def ack(self, items):
        """Acknowledges items (from one or several channels)."""
        by_chan = {}
        for it in items:
            by_chan.setdefault(it.channel, []).append(it)
        for chan, its in by_chan.items():
            arr = (_CItem * len(its))()
            for i, it in enumerate(its):
                arr[i].producer = it.producer
                arr[i].id = it.id
            rc = _lib.aic_ack(self._h, chan.encode(), arr, len(its))
            if rc:
                raise Error(rc, "aic ack on '%s'" % chan)

    def metric(self, name, value, step=None):
        """Reports name = value (at step): a line of the job's metrics.jsonl, and summary.json's
        count, last, min and max per stage and name. Never waits."""
        rc = _lib.aic_metric(self._h, name.encode(), float(value), -1 if step is None else int(step))
        if rc:
            raise Error(rc, "aic metric '%s'" % name)

    def checkpoint_requested(self):
        """True when the engine asks this worker for a checkpoint (the job's end is near) and
        it has not reported one since: save under checkpoint_dir(), then checkpoint_done().
        Cheap to ask every step: a "no" makes no round trip to the agent but the first."""
        rc = _lib.aic_checkpoint_requested(self._h)
        if rc < 0:
            raise Error(rc, "aic checkpoint_requested")
        if rc == 1:
            self._asked = True
            return True
        if self._term and not self._marked:
            self.checkpoint_begin()  # the state is taken now, as an asked one would be
            self._marked = True
        return self._term

    def checkpoint_done(self, version):
        """The checkpoint `version` (an int >= 0: its step, say) is saved, files written and
        fsynced: a later run may be told to load it (resume()). A gang's counts once every
        rank has reported the same version. May be called unasked, to save periodically.
        None: this worker keeps no state; the request is answered, and it starts afresh."""
        v = _CHECKPOINT_NONE if version is None else int(version)
        rc = _lib.aic_checkpoint_done(self._h, v)
        if rc:
            raise Error(rc, "aic checkpoint_done %s" % version)
        if self._asked or self._term:
            self._answered = True
        if self._term:
            _die_of_sigterm()  # reported: now SIGTERM does what SLURM sent it for

    def checkpoint_begin(self):
        """The state the next checkpoint_done() reports is taken from now on. A resumed run
        reads again the source lines done after this worker's mark: its first
        checkpoint_begin() since its last checkpoint_done(), else the first
        checkpoint_requested() that returned True since then, else that checkpoint_done()
        (or the run's start); lines done before it are not read again (the worker acks an
        item only once its state has taken it in). Call it when the state is taken, before
        an unasked save, or before a background save's copy."""
        rc = _lib.aic_checkpoint_begin(self._h)
        if rc:
            raise Error(rc, "aic checkpoint_begin")

    def checkpoint(self, save):
        """The callback form: when a checkpoint is asked, save(dir) writes one under dir and
        returns its version, which is then reported. Returns True when one was saved."""
        if not self.checkpoint_requested():
            return False
        d = checkpoint_dir()
        if d is None:
            raise Error(-errno.ENOENT, "aic checkpoint: no AIC_CHECKPOINT_DIR")
        self.checkpoint_done(save(d))
        return True

    def phase_begin(self):
        """Blocks until this worker's stage holds the GPUs it shares in turns with another
        (colocate_with: {stage, mode: alternate}); at once for a stage that alternates with
        none. A weights receive after it returns at least the version the other stage
        published in its turn."""
        rc = _lib.aic_phase_begin(self._h)
        if rc:
            raise Error(rc, "aic phase_begin")

    def phase_end(self):
        """Gives the GPUs up (free device memory first: the other stage may allocate at once)."""
        rc = _lib.aic_phase_end(self._h)
        if rc:
            raise Error(rc, "aic phase_end")

    def phase_should_yield(self):
        """True when the other stage waits for the GPUs this stage holds: end the phase at the
        next batch boundary."""
        rc = _lib.aic_phase_should_yield(self._h)
        if rc < 0:
            raise Error(rc, "aic phase_should_yield")
        return rc == 1

    def phase(self, release=None):
        """A context manager around phase_begin() and phase_end(); release() (say
        torch.cuda.empty_cache, or an inference engine's sleep) runs before the end, also when
        the block raises."""
        return _Phase(self, release)

    def endpoints(self, stage, ready_only=False):
        """The service `stage`'s replicas that run now (doc/aic-job.5, SERVICES): a list of
        {"addr": "host:port", "replica": n, "ready": bool}, as the engine last saw them; with
        ready_only, those that pass their readiness check. Ask again before each batch of
        requests: the list follows restarts, moves and scaling."""
        n = 16
        while True:
            buf = (_CEndpoint * n)()
            rc = _lib.aic_endpoints(self._h, stage.encode(), buf, n)
            if rc < 0:
                raise Error(rc, "aic endpoints '%s'" % stage)
            if rc <= n:
                break
            n = rc
        eps = [{"addr": e.addr.decode(), "replica": e.replica, "ready": bool(e.ready)}
               for e in buf[:rc]]
        return [e for e in eps if e["ready"]] if ready_only else eps

    def weights(self, name):
        """The weight stream `name` (the spec's weights_to / weights_from)."""
        return Weights(self, name)

    def close(self):
        if self._h:
            _lib.aic_worker_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _Phase:
    """Worker.phase(): holds the stage's shared GPUs for the block."""

    def __init__(self, worker, release):
        self._w, self._release = worker, release

    def __enter__(self):
        self._w.phase_begin()
        return self._w

    def __exit__(self, *exc):
        try:
            if self._release is not None:
                self._release()
        finally:
            self._w.phase_end()
        return False


def _die_of_sigterm():
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def connect():
    """Connects to this process's aic agent (inside a job started by aic)."""
    return Worker()


def checkpoint_dir():
    """Where this stage keeps its checkpoints (AIC_CHECKPOINT_DIR; name files by AIC_INDEX),
    or None outside an aic job."""
    d = _lib.aic_checkpoint_dir()
    return d.decode() if d else None


def resume():
    """The version of this worker's checkpoint to load after a restart (AIC_RESUME), or None
    on a fresh start."""
    v = ctypes.c_uint64()
    rc = _lib.aic_checkpoint_resume(ctypes.byref(v))
    if rc < 0:
        raise Error(rc, "aic resume: AIC_RESUME %r" % os.environ.get("AIC_RESUME"))
    return v.value if rc == 1 else None

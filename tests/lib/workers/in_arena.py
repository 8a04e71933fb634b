"""Whether a buffer's bytes are in the node's shared-memory arena, seen from
outside the aic library: in_arena(buf) takes the address any reader of buf
reads from (the buffer protocol's) and checks that the bytes lie inside this
process's mapping of the arena (the memfd "aic-arena" in /proc/self/maps).
The "no copy" checks of the channel and weight tests use it; the library's
own aic_in_place() is what decides to hand out a view, so it cannot be the
judge.
"""
import ctypes


class _PyBuffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]


_get = ctypes.pythonapi.PyObject_GetBuffer
_get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_release = ctypes.pythonapi.PyBuffer_Release
_release.argtypes = [ctypes.POINTER(_PyBuffer)]
_release.restype = None


def address(buf):
    """(address, length) of a contiguous buffer's bytes (PyBUF_SIMPLE)."""
    b = _PyBuffer()
    if _get(buf, ctypes.byref(b), 0) != 0:
        raise ValueError("not a contiguous buffer")
    try:
        return b.buf or 0, b.len
    finally:
        _release(ctypes.byref(b))


def arena_ranges():
    """[(start, end)] of this process's mappings of the arena, adjacent ones merged."""
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith("/memfd:aic-arena"):
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                if ranges and ranges[-1][1] == lo:
                    ranges[-1] = (ranges[-1][0], hi)
                else:
                    ranges.append((lo, hi))
    return ranges


def in_arena(buf):
    p, n = address(buf)
    return n > 0 and any(lo <= p and p + n <= hi for lo, hi in arena_ranges())

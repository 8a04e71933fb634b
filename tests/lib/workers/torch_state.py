"""Workers for the aic.torch tests (tests/python/torch.sh), on the stream "policy":

  torch_state.py publish      rank 0 publishes versions 1..3 of state(v), a
                              state dict of every dtype aic.torch carries
                              (NaNs with payloads, -0.0, a 0-d, an empty and
                              a non-contiguous tensor among them)
  torch_state.py receive      receives newer versions until 3 with receive()
                              then receive_into() (the newest each time: it
                              may skip some), and prints "V:ok" or "V:WHAT"
                              per call ("copy", "into" or "meta" for what
                              differed from state(V) in bytes, dtype or
                              shape; "moved": receive_into() replaced a
                              tensor's storage)
  torch_state.py numpy        reads version 3 with python/aic's numpy
                              receive(): prints the dtypes and whether the
                              bytes are state(3)'s
  torch_state.py big-publish  publishes BIG_MIB MiB of float32 as version 1
  torch_state.py big-into     receive_into() a module of that size and prints
                              "pointers same|moved", "values ok|wrong" and the
                              growth of peak RSS over the version's size
  torch_state.py produce N    puts items 0..N-1 on "items" (8 bytes each)
  torch_state.py loader       reads "items" through a DataLoader over a
                              ChannelDataset (batch_size 7) and prints each
                              item's number, then whether num_workers=2 is
                              refused

With NCCL=1 publish and receive go over (the stand-in) NCCL, with CPU
tensors, and receive() is not used.
"""
import os
import sys

import torch

import aic
import aic.torch

LAST = 3
NCCL = os.environ.get("NCCL") == "1"


def state(v):
    """A state dict of every dtype, with bytes that depend on v."""
    g = torch.Generator().manual_seed(v)
    f = torch.randn(5, 7, generator=g)
    # NaNs with payloads and a negative zero: equal bytes, not equal values.
    bits = f.view(torch.int32)
    bits[0, :3] = torch.tensor([0x7fc00001 + v, 0x7f800123, -0x80000000], dtype=torch.int32)
    return {
        "f32": f,
        "f64": torch.randn(3, 4, generator=g, dtype=torch.float64),
        "f16": torch.randn(17, generator=g).half(),
        "bf16": torch.randn(4, 9, generator=g).to(torch.bfloat16),
        "c64": torch.randn(6, generator=g, dtype=torch.complex64),
        "c128": torch.randn(2, 2, generator=g, dtype=torch.complex128),
        "i64": torch.randint(-2**62, 2**62, (5,), generator=g, dtype=torch.int64),
        "i32": torch.randint(-2**31, 2**31 - 1, (3, 3), generator=g, dtype=torch.int32),
        "i16": torch.randint(-2**15, 2**15 - 1, (7,), generator=g, dtype=torch.int16),
        "i8": torch.randint(-128, 127, (11,), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 255, (2, 5), generator=g, dtype=torch.uint8),
        "bool": torch.randint(0, 2, (13,), generator=g).bool(),
        "scalar": torch.tensor(float(v)),
        "empty": torch.empty(0, 3),
        "layer.weight": torch.randn(8, 3, generator=g).t(),  # not contiguous
    }


def raw(t):
    """A tensor's bytes, as laid out contiguously."""
    t = t.detach().contiguous().reshape(-1)
    return bytes(t.view(torch.uint8).numpy()) if t.numel() else b""


def same(a, b):
    """True when two state dicts have the same names, dtypes, shapes and bytes."""
    return (sorted(a) == sorted(b) and
            all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and raw(a[k]) == raw(b[k])
                for k in a))


def publish(w):
    if w.rank != 0:
        return
    tw = aic.torch.Weights(w, "policy")
    for v in range(1, LAST + 1):
        if NCCL:
            tw.publish(state(v), v, nccl=True)
        else:
            tw.publish(state(v), v, meta={"version": v, "note": "x" * v})
    print("published %d" % LAST, flush=True)


def receive(w):
    tw = aic.torch.Weights(w, "policy")
    # A destination of the same shapes, zeroed; the dtypes come from state().
    into = {k: torch.zeros_like(t.contiguous()) for k, t in state(0).items()}
    ptrs = {k: t.data_ptr() for k, t in into.items()}
    out, v = [], 0
    while v < LAST:
        # The newest version >= the one asked for: a reader may skip some.
        if NCCL:
            v = tw.receive_into(into, min_version=v + 1, timeout=60, nccl=True)
            what = []
        else:
            got, v = tw.receive(min_version=v + 1, timeout=60)
            what = [] if same(got, state(v)) else ["copy"]
            if tw.meta != {"version": v, "note": "x" * v}:
                what.append("meta")
            out.append("%d:%s" % (v, ",".join(what) or "ok"))
            v = tw.receive_into(into, min_version=v, timeout=60)
            what = []
        if not same(into, state(v)):
            what.append("into")
        if any(into[k].data_ptr() != p for k, p in ptrs.items()):
            what.append("moved")
        out.append("%d:%s" % (v, ",".join(what) or "ok"))
    print(" ".join(out), flush=True)


def numpy_read(w):
    arrays, v = w.weights("policy").receive(min_version=LAST, timeout=60)
    want = state(v)
    dtypes = {k: a.dtype.str for k, a in arrays.items()}
    ok = all(a.shape == tuple(want[k].shape) and a.tobytes() == raw(want[k]) for k, a in arrays.items())
    print("v%d %s bf16=%s f32=%s" % (v, "bytes-ok" if ok and sorted(arrays) == sorted(want) else "WRONG",
                                   dtypes["bf16"], dtypes["f32"]), flush=True)


def big_state(v):
    n = int(os.environ.get("BIG_MIB", "64")) << 20
    # Four tensors, so a per-tensor temporary would show too.
    return {"w%d" % i: torch.full((n // 16,), float(v + i)) for i in range(4)}


def big_publish(w):
    aic.torch.Weights(w, "policy").publish(big_state(1), 1)
    print("published", flush=True)


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) << 10
    raise KeyError(key)


def big_into(w):
    tw = aic.torch.Weights(w, "policy")
    model = torch.nn.Module()
    for k, t in big_state(0).items():
        model.register_parameter(k, torch.nn.Parameter(torch.zeros_like(t)))
    ptrs = {k: p.data_ptr() for k, p in model.named_parameters()}
    size = aic.torch.state_bytes(model)
    # Wait for the version before measuring: the wait is not what is measured.
    w.weights("policy").receive(min_version=1, timeout=60, copy=False)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # peak RSS := RSS now
    before = status("VmRSS")
    tw.receive_into(model, min_version=1, timeout=60)
    growth = status("VmHWM") - before
    moved = any(p.data_ptr() != ptrs[k] for k, p in model.named_parameters())
    want = big_state(1)
    ok = all(torch.equal(p, want[k]) for k, p in model.named_parameters())
    # Reading the node's shared copy maps its pages (about one `size`);
    # a second copy of the weights would add another.
    print("pointers %s values %s peak-growth %.2f" % ("moved" if moved else "same",
                                                       "ok" if ok else "wrong", growth / size), flush=True)


def produce(w, n):
    for i in range(n):
        w.put("items", i.to_bytes(8, "little"))


def loader(w):
    ds = aic.torch.ChannelDataset(w, "items", decode=lambda b: torch.tensor(int.from_bytes(b, "little")),
                                  batch=7)
    seen = []
    for batch in torch.utils.data.DataLoader(ds, batch_size=7):
        seen += batch.tolist()
    print(" ".join(map(str, seen)), flush=True)
    try:
        next(iter(torch.utils.data.DataLoader(ds, num_workers=2)))
        print("num_workers=2 accepted", flush=True)
    except RuntimeError as e:
        print("refused" if "num_workers=0" in str(e) else "other error: %s" % e, flush=True)


def main():
    w = aic.connect()
    mode = sys.argv[1]
    if mode == "publish":
        publish(w)
    elif mode == "receive":
        receive(w)
    elif mode == "numpy":
        numpy_read(w)
    elif mode == "big-publish":
        big_publish(w)
    elif mode == "big-into":
        big_into(w)
    elif mode == "produce":
        produce(w, int(sys.argv[2]))
    elif mode == "loader":
        loader(w)
    else:
        sys.exit("torch_state.py: unknown mode %r" % mode)


if __name__ == "__main__":
    main()

#!/bin/sh
# On a GPU machine, by hand (not run by `make check`: CI has no GPU):
#
#   tests/gpu/phase-handoff.sh [BUILD_DIR]      (default: ./build)
#
# What it checks, and what it does not:
#
# 1. The mechanism a same-GPU weight handoff between alternating stages
#    would use: a CUDA IPC handoff of a weight buffer (512 MiB of float16)
#    from one process to another on one device (torch.multiprocessing
#    passes CUDA tensors as IPC handles), against a device-to-device copy
#    of the same buffer in one process (cudaMemcpy D2D) as the baseline. It
#    checks that the receiver reads the sender's bytes (a checksum), and
#    prints JSON lines (median of 5 of each, alternating): IPC open +
#    first full read, and the D2D copy. aic itself does NOT hand weights
#    over through CUDA IPC yet: publish_device/receive_device use NCCL (a
#    broadcast between processes), and alternating stages use host memory
#    (examples/gpu/model.py). This part measures what that change would
#    gain, so the decision can be made with numbers.
# 2. aic's phases on real GPUs: examples/gpu/job-alternate.yaml (2 GPUs,
#    torch) under `aic run`: the job succeeds, rollout and training took
#    turns (summary.json's phases: switches, busy time per stage), and the
#    engine's timeline has no turn beginning while another was on (the
#    engine's record, not the workers' own timestamps); the reward line of
#    the last step is printed, not judged (the GPU example's learning curve
#    has not been tuned on a GPU).
#
# Needs nvidia-smi, a python3 with torch built for CUDA, >= 2 GPUs for part
# 2, and a build (scripts/build). Exits 77 when the machine lacks them.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
py=${PYTHON:-python3}
command -v nvidia-smi >/dev/null 2>&1 || { echo "phase-handoff: no nvidia-smi: not a GPU machine" >&2; exit 77; }
$py -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null ||
	{ echo "phase-handoff: $py has no torch with CUDA" >&2; exit 77; }
nvidia-smi -L
failed=0

echo "# 1. CUDA IPC handoff of a weight buffer on one device, beside a D2D copy"
$py - <<'PY' || failed=1
import json, statistics, sys, time
import torch
import torch.multiprocessing as mp

MIB = 512
N = MIB * 2**20 // 2  # float16 elements


def receiver(q, r):
    torch.cuda.set_device(0)
    while True:
        msg = q.get()
        if msg is None:
            return
        t, sent = msg
        opened = time.perf_counter()  # the IPC handle is open once get() returns
        s = float(t.float().sum())  # every byte read on the device
        torch.cuda.synchronize()
        r.put((sent, opened, time.perf_counter(), s))
        del t


def main():
    mp.set_start_method("spawn")
    torch.cuda.set_device(0)
    q, r = mp.Queue(), mp.Queue()
    p = mp.Process(target=receiver, args=(q, r))
    p.start()
    src = torch.randn(N, device="cuda", dtype=torch.float16)
    want = float(src.float().sum())
    dst = torch.empty_like(src)
    ipc, d2d, bad = [], [], 0
    for rep in range(6):
        torch.cuda.synchronize()
        q.put((src, time.perf_counter()))
        sent, opened, read, s = r.get()
        if abs(s - want) > 1e-3 * max(1.0, abs(want)):
            bad += 1
        a = time.perf_counter()
        dst.copy_(src)
        torch.cuda.synchronize()
        b = time.perf_counter()
        if rep:  # the first of each warms up (context, IPC cache)
            ipc.append((read - sent) * 1e6)
            d2d.append((b - a) * 1e6)
    q.put(None)
    p.join()
    gbps = lambda us: MIB / 1024 / (us / 1e6)
    print(json.dumps({"what": "cuda ipc handoff, open + first full read", "mib": MIB,
                      "us": statistics.median(ipc), "min": min(ipc), "max": max(ipc), "n": len(ipc)}))
    print(json.dumps({"what": "d2d copy (baseline)", "mib": MIB, "us": statistics.median(d2d),
                      "min": min(d2d), "max": max(d2d), "n": len(d2d),
                      "GBps": round(gbps(statistics.median(d2d)), 1)}))
    if bad:
        sys.exit("phase-handoff: the receiver read other bytes than the sender's in %d of 6" % bad)
    print("ok: the receiver read the sender's bytes through CUDA IPC every time")


main()
PY

echo "# 2. examples/gpu/job-alternate.yaml under aic run"
ngpus=$(nvidia-smi -L | wc -l)
if [ "$ngpus" -lt 2 ] || [ ! -x "$build/launcher/aic" ]; then
	echo "skipped: needs >= 2 GPUs ($ngpus) and a build at $build"
	exit $failed
fi
work=$(mktemp -d /var/tmp/aic-phase-handoff.XXXXXX)
cp -r "$top/examples/gpu" "$top/examples/grpo-toy" "$work/"
export AIC_LIBRARY="$build/lib/.libs/libaic.so" PYTHONPATH="$top/python"
(cd "$work/gpu" && timeout 600 "$build/launcher/aic" run job-alternate.yaml >run.out 2>&1)
rc=$?
echo "aic run: exit $rc"
tail -5 "$work/gpu/run.out"
[ "$rc" -eq 0 ] || failed=1
# The example's turns print no timestamps; the engine's timeline (head-sequenced: one
# turn spans both GPUs) shows that turns never overlapped.
/usr/bin/python3 - "$work/gpu/.aic/latest/summary.json" <<'PY' || failed=1
import json, sys
p = json.load(open(sys.argv[1]))["phases"][0]
print(json.dumps({k: p[k] for k in ("stages", "arbiter", "turns", "switches", "switch_us")}))
open_turn = None
for e in p["timeline"]:
    if e["event"] == "begin":
        if open_turn is not None:
            sys.exit("phase-handoff: %s began while %s held the GPUs" % (e["stage"], open_turn))
        open_turn = e["stage"]
    else:
        open_turn = None
if p["switches"] < 2:
    sys.exit("phase-handoff: fewer than 2 switches: the stages did not take turns")
print("ok: %d switches, no turn began while another was on" % p["switches"])
PY
grep -h "^step" "$work/gpu/.aic/latest/logs/train.0.log" | tail -1
rm -rf "$work"
exit $failed

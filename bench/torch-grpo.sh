#!/bin/sh
# examples/torch-grpo under `aic run` beside the same training loop in one
# process without aic (bench/torch_grpo_inproc.py), same run, alternating
# order; then a 100 MiB state dict published with aic.torch beside
# torch.save of it to /dev/shm and beside a raw memcpy of the same bytes,
# in one process under `aic run`, alternating. Prints JSON lines
# (bench/figures.py torch turns them into figures).
#
#   bench/torch-grpo.sh          (REPS: $AIC_BENCH_REPS, default 5)
#
# Both GRPO runs train STEPS (default 40) steps, TARGET out of reach, so
# steps/s compares the same work.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
py=/usr/bin/python3
$py -c 'import torch, matplotlib' 2>/dev/null ||
	{ echo "bench: Debian's python3-torch or python3-matplotlib is missing (scripts/deps)" >&2; exit 1; }
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d /var/tmp/aic-bench-torch.XXXXXX)
trap 'rm -rf "$work"' EXIT
reps=${AIC_BENCH_REPS:-5}
steps=${STEPS:-40}

run() { # run TAG: one aic run of a copy, STEPS steps; prints its figures
	d=$work/run-$1
	mkdir -p "$d"
	cp -r "$top/examples/torch-grpo/." "$d"
	chmod -R u+w "$d"
	sed -i -e "s/TARGET: [0-9.]*/TARGET: 2/" -e "s/MAX_STEPS: [0-9]*/MAX_STEPS: $steps/" "$d/job.yaml"
	(cd "$d" && "$build/launcher/aic" run job.yaml >run.out 2>&1) ||
		{ cat "$d/run.out" >&2; echo "bench: torch-grpo failed under aic run" >&2; exit 1; }
	$py - "$d/.aic/latest/reward.csv" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = [float(x["mean_reward"]) for x in rows]
# time_s is from the trainer's first step's start to each step's end.
t = float(rows[-1]["time_s"])
print(json.dumps({"what": "torch-grpo aic run", "steps": len(rows), "seconds": t,
                  "steps_per_s": round(len(rows) / t, 3),
                  "reward_first": round(sum(r[:5]) / 5, 3), "reward_last": round(sum(r[-5:]) / 5, 3)}))
PY
}

i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		$py "$top/bench/torch_grpo_inproc.py" "$top/examples/torch-grpo" "$steps"
		run $i
	else
		run $i
		$py "$top/bench/torch_grpo_inproc.py" "$top/examples/torch-grpo" "$steps"
	fi | sed "s/^{/{\"rep\": $i, /"
	i=$((i + 1))
done

# Publishing 100 MiB: aic.torch.Weights.publish (one copy, into the node's
# shared copy) beside torch.save to /dev/shm and a memcpy of the same bytes
# into a buffer of their size, in one process, alternating.
cat >"$work/publish.py" <<'PY'
import ctypes, json, os, time
import torch
import aic, aic.torch
torch.set_num_threads(1)
reps = int(os.environ["REPS"])
# 100 MiB over 8 tensors of mixed dtypes, as a model's are.
sd = {"w%d" % i: torch.randn(100 << 15).float() if i % 2 else torch.randn(100 << 16).to(torch.bfloat16)
      for i in range(8)}
size = sum(t.numel() * t.element_size() for t in sd.values())
w = aic.connect()
tw = aic.torch.Weights(w, "policy")
dst = torch.empty(size, dtype=torch.uint8)
dst.fill_(0)
path = "/dev/shm/aic-bench-%d.pt" % os.getpid()
def memcpy():
    off = 0
    for t in sd.values():
        n = t.numel() * t.element_size()
        ctypes.memmove(dst.data_ptr() + off, t.data_ptr(), n)
        off += n
def save():
    torch.save(sd, path)
ways = [("aic.torch publish", lambda v: tw.publish(sd, v)), ("torch.save /dev/shm", lambda v: save()),
        ("memcpy", lambda v: memcpy())]
for rep in range(1, reps + 2):  # the first round warms up and is not printed
    for what, f in ways if rep % 2 else ways[::-1]:
        t = time.perf_counter()
        f(rep)
        dt = time.perf_counter() - t
        if rep > 1:
            print(json.dumps({"rep": rep - 1, "what": what, "mib": round(size / 2**20, 1),
                              "ms": round(dt * 1000, 2)}), flush=True)
os.unlink(path)
PY
# A reader on the same node, as rollout would be: it takes the last version
# in place (no copy) and ends.
cat >"$work/read.py" <<'PY'
import os
import aic
w = aic.connect()
w.weights("policy").receive(min_version=int(os.environ["REPS"]), timeout=600, copy=False)
PY
cat >"$work/publish.yaml" <<YAML
stages:
  pub: {command: [$py, $work/publish.py], cpus: 0, weights_to: policy, env: {REPS: "$reps"}}
  read: {command: [$py, $work/read.py], cpus: 0, weights_from: policy, env: {REPS: "$reps"}}
YAML
(cd "$work" && "$build/launcher/aic" run publish.yaml >publish.out 2>&1) ||
	{ cat "$work/publish.out" >&2; echo "bench: the publish benchmark failed" >&2; exit 1; }
(cd "$work" && "$build/launcher/aic" logs pub/0)

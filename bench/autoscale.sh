#!/bin/sh
# Autoscaling inside the allocation under `aic run` (4 fake GPUs from a
# topology fixture), beside the same job with fixed replicas, in the same
# run: a feed stage puts a burst of BURST items (a backlog), then a trickle
# of TRICKLE items, one every 0.2 s; a work stage takes 0.05 s of "GPU"
# per item, with replicas {min: 1, max: 4} and autoscale {target_busy:
# 0.5, up_after_s: 1, down_after_s: 2}, or a fixed 4. Each work process
# records its life, its busy time and when it took its first item.
# Prints JSON lines (bench/figures.py autoscale turns them into figures):
#   {"what": "autoscale"|"fixed", "rep", "wall_s", "gpu_busy", "gpu_s",
#    "procs", "ramp_s" (autoscale: from the first item the first replica
#    took, the backlog being there, to the first item a second one took),
#    "up_after_s"}
#
#   bench/autoscale.sh          (REPS: $AIC_BENCH_REPS, default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
py=/usr/bin/python3
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
topo="$top/tests/fixtures/topo/pcie-4gpu-nvlink-pairs.xml"
work=$(mktemp -d /var/tmp/aic-bench-autoscale.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
reps=${AIC_BENCH_REPS:-5}
burst=300
trickle=30
up_after_s=1

cat >"$work/feed.py" <<'PY'
"""A burst of items, then a trickle: the load a work stage follows."""
import os, time
import aic
w = aic.connect()
for i in range(int(os.environ["BURST"])):
    w.put("jobs", b"%d" % i)
for i in range(int(os.environ["TRICKLE"])):
    time.sleep(0.2)
    w.put("jobs", b"t%d" % i, wait=True)
PY
cat >"$work/work.py" <<'PY'
"""0.05 s of pretend GPU work per item; its life and busy time to $OUT."""
import json, os, time
import aic
start = time.time()
w = aic.connect()
busy, first = 0.0, None
while True:
    try:
        items = w.get("jobs", max_items=1)
    except aic.Closed:
        break
    for it in items:
        a = time.time()
        first = first or a
        time.sleep(0.05)
        w.put("done", it.data)
        busy += time.time() - a
    w.ack(items)
json.dump({"index": w.index, "start": start, "end": time.time(), "busy_s": busy, "first": first},
          open("%s/work.%d.%d.json" % (os.environ["OUT"], w.index, os.getpid()), "w"))
PY

spec() { # spec REPLICAS [AUTOSCALE]
	cat <<YAML
name: bench-autoscale
stages:
  feed: {command: [$py, $work/feed.py], cpus: 0, outputs: [jobs],
         env: {BURST: "$burst", TRICKLE: "$trickle"}}
  work: {command: [$py, $work/work.py], replicas: $1, gpus: 1, cpus: 0, inputs: [jobs],
         outputs: [done], env: {OUT: $work/out}${2:+,
         autoscale: $2}}
channels:
  jobs: {capacity: 1024}
  done: {sink: done.jsonl}
YAML
}

ms() { echo $(($(date +%s%N) / 1000000)); }
run() { # run WHAT REP
	d=$work/$1-$2
	rm -rf "$work/out" && mkdir -p "$work/out" "$d"
	if [ "$1" = autoscale ]; then
		spec "{min: 1, max: 4}" "{target_busy: 0.5, up_after_s: $up_after_s, down_after_s: 2}"
	else
		spec 4
	fi >"$d/job.yaml"
	a=$(ms)
	(cd "$d" && "$build/launcher/aic" run job.yaml --topo "$topo" >run.out 2>&1) ||
		{ cat "$d/run.out" >&2; echo "bench: the $1 job failed" >&2; exit 1; }
	b=$(ms)
	[ "$(wc -l <"$d/done.jsonl")" -eq $((burst + trickle)) ] ||
		{ echo "bench: the $1 job's sink has $(wc -l <"$d/done.jsonl") items, not $((burst + trickle))" >&2; exit 1; }
	$py - "$work/out" "$1" "$2" "$((b - a))" "$up_after_s" <<'PY'
import glob, json, sys
out, what, rep, wall_ms, up = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
procs = [json.load(open(f)) for f in glob.glob(out + "/work.*.json")]
held = sum(p["end"] - p["start"] for p in procs)
line = {"what": what, "rep": rep, "wall_s": wall_ms / 1000, "procs": len(procs),
        "gpu_s": round(held, 3), "gpu_busy": round(sum(p["busy_s"] for p in procs) / held, 4)}
if what == "autoscale":
    firsts = sorted(p["first"] for p in procs if p["first"])
    line["ramp_s"] = round(firsts[1] - firsts[0], 3) if len(firsts) > 1 else None
    line["up_after_s"] = up
print(json.dumps(line))
PY
}

i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		run fixed $i
		run autoscale $i
	else
		run autoscale $i
		run fixed $i
	fi
	i=$((i + 1))
done

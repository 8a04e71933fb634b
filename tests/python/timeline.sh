#!/bin/sh
# aic timeline under `aic run`: a job on an 8-GPU topology (producers and
# consumers on a GPU each, a consumer killed once and restarted, a weight
# stream) gives events.jsonl, and `aic timeline` turns it into a trace that
# validates against the trace-event format (checked below, in Python): a
# track per node and per GPU used, a span of life for every process run
# (two for the restarted one) on its GPU's track, the failure and the
# restart as instants, backlog, throughput and weight-version counters, and
# sampled item spans, no more than one item in 64.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
hgx="$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml"
enter_work_dir timeline
plan 8

cat >job.yaml <<YAML
name: timeline-test
stages:
  prod: {command: [python3, $workers_dir/produce.py], replicas: 2, gpus: 1, cpus: 0,
         outputs: [nums], env: {N: "20000", PAD: "0"}}
  cons: {command: [python3, $workers_dir/consume.py], replicas: 2, gpus: 1, cpus: 0, inputs: [nums],
         env: {OUT: $dir/out, DIE_AFTER: "5000", PAD: "0"}, restart: {max: 2, backoff_ms: 10}}
  pub: {command: [/usr/bin/python3, $workers_dir/weight_versions.py, publish], ranks: 1, cpus: 0,
        weights_to: policy}
  sub: {command: [/usr/bin/python3, $workers_dir/weight_versions.py, receive], replicas: 1, cpus: 0,
        weights_from: policy}
channels:
  nums: {capacity: 256}
YAML
"$aic" run --topo "$hgx" job.yaml >run.out 2>run.err
is "$?" 0 "a job with a consumer killed once and restarted succeeds"
ok "its job directory has events.jsonl" [ -s .aic/latest/events.jsonl ]
"$aic" timeline -o trace.json
is "$?" 0 "aic timeline writes the trace"

# check.py: the trace-event format (the subset aic writes), then what this job must show.
cat >check.py <<'PY'
import json, sys
from collections import Counter, defaultdict

doc = json.load(open("trace.json"))
evs = doc["traceEvents"]
bad = []
num = (int, float)
for e in evs:
    ph = e.get("ph")
    if not isinstance(e.get("name"), str) or ph not in ("X", "i", "C", "M", "b", "e"):
        bad.append(e); continue
    if not isinstance(e.get("pid"), int) or not isinstance(e.get("tid"), int):
        bad.append(e); continue
    if ph == "M":
        ok = (e["name"] in ("process_name", "thread_name") and isinstance(e["args"]["name"], str)) or \
             (e["name"] in ("process_sort_index", "thread_sort_index") and isinstance(e["args"]["sort_index"], int))
    else:
        ok = isinstance(e.get("ts"), num) and e["ts"] >= 0
    if ph == "X":
        ok = ok and isinstance(e.get("dur"), num) and e["dur"] >= 0
    if ph == "i":
        ok = ok and e.get("s") in ("g", "p", "t")
    if ph == "C":
        ok = ok and isinstance(e.get("args"), dict) and e["args"] and all(isinstance(v, num) for v in e["args"].values())
    if ph in ("b", "e"):
        ok = ok and isinstance(e.get("cat"), str) and isinstance(e.get("id"), str)
    if not ok:
        bad.append(e)
# Async slices open and close in pairs, never ending before they begin (an
# item handed over in the microsecond it was put has a span of length 0).
opened = {}
for e in sorted((e for e in evs if e["ph"] in "be"), key=lambda e: (e["ts"], e["ph"] == "e")):
    k = (e["cat"], e["id"], e["name"])
    if e["ph"] == "b":
        opened[k] = e["ts"]
    elif k not in opened or opened.pop(k) > e["ts"]:
        bad.append(e)
bad += list(opened)
# Slices of one thread nest: none overlaps another partly.
lanes = defaultdict(list)
for e in evs:
    if e["ph"] == "X":
        lanes[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
for spans in lanes.values():
    spans.sort()
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        if b0 < a1 and b1 > a1:
            bad.append((a0, a1, b0, b1))
print("format:", "ok" if not bad else "bad %r" % bad[:3])

# What this job must show.
st = json.load(open(".aic/latest/status.json"))
pname = {e["pid"]: e["args"]["name"] for e in evs if e["name"] == "process_name"}
tname = {(e["pid"], e["tid"]): e["args"]["name"] for e in evs if e["name"] == "thread_name"}
node = next(p for p, n in pname.items() if n.startswith("node "))
want_gpus = {"GPU %d" % g for p in st["procs"] for g in p["gpus"]}
gpu_tracks = {n for (p, t), n in tname.items() if p == node and n.startswith("GPU")}
print("tracks:", pname[node] == "node " + st["procs"][0]["node"], want_gpus <= gpu_tracks)
lives = Counter()
misplaced = 0
for e in evs:
    if e["ph"] == "X" and e["cat"] == "process":
        lives[e["name"]] += 1
        p = next(p for p in st["procs"] if "%s/%d" % (p["stage"], p["index"]) == e["name"])
        track = tname[(e["pid"], e["tid"])].split(" #")[0]
        if track != ("GPU %d" % p["gpus"][0] if p["gpus"] else "CPU"):
            misplaced += 1
runs = {"%s/%d" % (p["stage"], p["index"]): 1 + p["restarts"] for p in st["procs"]}
print("lives:", dict(lives) == runs, runs["cons/0"], misplaced)
names = Counter(e["name"] for e in evs if e["ph"] in "iC")
print("instants:", names["cons/0 failed"], names["restart cons/0"], names["job succeeded"])
weights = [e["args"]["version"] for e in evs if e["name"] == "weights policy"]
print("counters:", names["backlog nums"] > 0, names["throughput nums"] > 0, max(weights or [0]))
items = sum(1 for e in evs if e["ph"] == "b" and e["name"] == "nums item")
print("items:", 0 < items <= 40000 // 64 + 2)
PY
out=$(python3 check.py 2>&1)
diag "$out"
like "$out" "format: ok" "the trace validates against the trace-event format"
like "$out" "tracks: True True" "a track for the node and for each GPU a process used"
like "$out" "lives: True 2 0" "a span of life for every process run, on its GPU's track (2 for the restarted one)"
like "$out" "instants: 1 1 1" "the failure, the restart and the job's end are instants"
like "$out" "counters: True True 5
items: True" "backlog, throughput and weight-version counters; sampled items, at most 1 in 64"
done_testing

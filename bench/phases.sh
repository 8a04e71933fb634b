#!/bin/sh
# Phase switches under `aic run` on this machine (fake GPUs: an 8-GPU
# topology): how long from one stage's aic_phase_end to the other stage's
# aic_phase_begin returning, beside one control round trip to the node's
# agent (aic_phase_should_yield) timed by the same workers in the same run
# (bench/phase_switch.py). Two pairs, each TURNS turns a side: replicas
# (sequenced by the node's agent alone) and a 2-rank gang with 2 replicas
# (sequenced by the head: a switch waits for every holder's end and lets
# every rank in). Prints JSON lines (bench/figures.py phases).
#
#   bench/phases.sh [TURNS]      (default 50)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
py=/usr/bin/python3
turns=${1:-50}
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d /var/tmp/aic-bench-phases.XXXXXX)
trap 'rm -rf "$work"' EXIT

# pair NAME TRAIN_SHAPE ROLLOUT_SHAPE: one job, then its switches as JSON lines.
pair() {
	mkdir -p "$work/$1"
	cat >"$work/$1/job.yaml" <<YAML
name: bench-phases-$1
stages:
  train: {command: [$py, $top/bench/phase_switch.py], $2, gpus: 1, cpus: 0, env: {TURNS: $turns}}
  rollout: {command: [$py, $top/bench/phase_switch.py], $3, gpus: 1, cpus: 0, env: {TURNS: $turns},
            colocate_with: {stage: train, mode: alternate}}
YAML
	(cd "$work/$1" && "$build/launcher/aic" run --topo "$top/tests/fixtures/topo/hgx-h100-8gpu.xml" \
		job.yaml >run.out 2>&1) ||
		{ cat "$work/$1/run.out" >&2; echo "bench: the $1 pair failed under aic run" >&2; exit 1; }
	cat "$work/$1"/.aic/latest/logs/*.log | $py -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.startswith("{")]
for x in lines:
    if x["what"] == "round trip":
        print(json.dumps(dict(x, pair=sys.argv[1])))
# A turn of a side is its processes turn k; a switch is from the last end of
# one side turn to the first begin of the next, when they are of different stages.
turns = {}
for x in lines:
    if x["what"] == "turn":
        t = turns.setdefault((x["stage"], x["k"]), [x["begin"], x["end"]])
        t[0], t[1] = min(t[0], x["begin"]), max(t[1], x["end"])
seq = sorted((b, e, s) for (s, k), (b, e) in turns.items())
for (b0, e0, s0), (b1, e1, s1) in zip(seq, seq[1:]):
    if s0 != s1 and b1 >= e0:
        print(json.dumps({"what": "switch", "pair": sys.argv[1], "us": (b1 - e0) / 1000}))
' "$1"
}

pair agent "replicas: 1" "replicas: 1"
pair head "ranks: 2" "replicas: 2"

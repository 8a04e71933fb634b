#!/bin/sh
# What the engine's events (events.jsonl, the agents' sampling, the data
# plane's item spans) and Prometheus metrics cost: the same runs with them
# (the default) and without (AIC_OBSERVE=0), in alternating order (REPS
# pairs; with them first in odd pairs). Prints JSON lines, each tagged with
# its pair ("rep") and "observe": true or false:
#   64 B items, pipelined (200,000 through one producer and one consumer
#     under aic run: the per-item cost, where it would show most): items/s.
#   examples/grpo-toy as shipped but GEN_DELAY_S=0 (pure compute):
#     groups/s over its first 49 training steps, and the job's wall time.
# AIC_OBSERVE=0 leaves the three per-item counters of summary.json.
#
#   bench/observe.sh [BUILD-DIR]      (REPS: $AIC_BENCH_REPS, default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${AIC_BUILD_DIR:-$top/build}}
reps=${AIC_BENCH_REPS:-5}
py=/usr/bin/python3
$py -c 'import numpy, matplotlib' 2>/dev/null ||
	{ echo "bench: Debian's python3-numpy or python3-matplotlib is missing (scripts/deps)" >&2; exit 1; }
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d /var/tmp/aic-bench-observe.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
ch="$build/bench/channel"
ms() { echo $(($(date +%s%N) / 1000000)); }

# The producer reserves a core (cpus: 1), as in bench/channels.sh: flat out
# it needs one of its own, and left to share with the consumer and the
# engine it ran at 0.8-1.5 M items/s or 2.1-2.3 M by where the kernel put
# it, which hid what the events cost.
cat >c.yaml <<SPEC
name: bench-observe
stages:
  put: {command: [$ch, put, "200000", "64"], cpus: 1, outputs: [bench], env: {INPLACE: "0", TOUCH: "1", GAP_US: "0"}}
  get: {command: [$ch, get], cpus: 0, inputs: [bench], env: {TOUCH: "1"}}
channels:
  bench: {capacity: 1024}
SPEC
cp -r "$top/examples/grpo-toy" g
chmod -R u+w g
sed -i "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: 0/" g/job.yaml

# chan OBSERVE REP: the consumer's line, tagged.
chan() {
	rm -rf .aic
	if [ "$1" = true ]; then "$build/launcher/aic" run c.yaml >/dev/null 2>&1; else
		AIC_OBSERVE=0 "$build/launcher/aic" run c.yaml >/dev/null 2>&1; fi ||
		{ echo "bench: the channel job failed" >&2; exit 1; }
	[ "$1" = true ] && [ ! -s .aic/latest/events.jsonl ] && { echo "bench: no events.jsonl" >&2; exit 1; }
	[ "$1" = false ] && [ -e .aic/latest/events.jsonl ] && { echo "bench: AIC_OBSERVE=0 wrote events" >&2; exit 1; }
	sed "s/^{/{\"rep\": $2, \"observe\": $1, /; s/\"what\": \"channel\"/\"what\": \"channel small\"/" \
		.aic/latest/logs/get.0.log
}
# grpo OBSERVE REP
grpo() {
	rm -rf g/.aic
	a=$(ms)
	if [ "$1" = true ]; then (cd g && "$build/launcher/aic" run job.yaml >/dev/null 2>&1); else
		(cd g && AIC_OBSERVE=0 "$build/launcher/aic" run job.yaml >/dev/null 2>&1); fi ||
		{ echo "bench: grpo-toy failed" >&2; exit 1; }
	b=$(ms)
	$py - g/.aic/latest "$1" "$2" "$((b - a))" <<'PY'
import csv, json, sys
job, observe, rep, wall_ms = sys.argv[1], sys.argv[2] == "true", int(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(job + "/reward.csv")))
# The first 49 steps: a run may end with a 51st short step that waits for a
# group that never comes (train.py's IDLE_S), which would swamp the figure.
head = rows[:49]
groups = sum(int(x["groups"]) for x in head)
print(json.dumps({"rep": rep, "observe": observe, "what": "grpo", "groups": groups, "steps": len(rows),
                  "groups_per_s": round(groups / float(head[-1]["time_s"]), 2), "wall_s": wall_ms / 1000}))
PY
}
i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then order="true false"; else order="false true"; fi
	for o in $order; do chan "$o" $i; done
	for o in $order; do grpo "$o" $i; done
	i=$((i + 1))
done

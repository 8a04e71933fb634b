#!/bin/sh
# examples/grpo-toy end to end under `aic run` on this machine, beside the
# same training loop in one process without aic (bench/grpo_inproc.py) and
# the same processes over pipes (bench/grpo_pipes.py) in the same run; and
# each stage's busy fraction: every worker runs under bench/busy.py, which
# times its calls into aic and its gang collectives.
# Prints JSON lines (bench/figures.py grpo turns them into figures).
#
#   bench/grpo-toy.sh          (REPS: $AIC_BENCH_REPS, default 5)
#
# REPS times each: the one-process baseline, the IPC baselines (the job's
# five processes doing the same work over pipes, bench/grpo_pipes.py, and
# again with a process in the middle of every pipe, as aic's node agent
# is: bench/relay) and a run with GEN_DELAY_S=0 (pure compute, as the
# baselines compute), all over EPOCHS passes of the 100 prompts
# ($AIC_BENCH_GRPO_EPOCHS, default 100: 625 steps, long enough that the
# one-process loop takes about a second and each side's samples agree
# within a few per cent on an idle machine), in alternating order (the
# baselines first in odd repetitions); then the shipped job.yaml as
# shipped (8 epochs, 50 steps, GEN_DELAY_S=0.01 per group of pretend
# generation: rollout is the slow stage, as in real RL; the busy figures).
# A run's line also has the engine's own CPU time (summary.json's
# engine_cpu_s: head and agent, not the workers; bench/figures.py divides
# it by the steps) and its workers' (workers_cpu_s), and each stage's line
# its processes' CPU time: both from aic.connect() to each process's last
# call into aic (bench/busy.py's cpu_s).
# Every line is tagged with its repetition ("rep").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
py=/usr/bin/python3
$py -c 'import numpy, matplotlib' 2>/dev/null ||
	{ echo "bench: Debian's python3-numpy or python3-matplotlib is missing (scripts/deps)" >&2; exit 1; }
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d /var/tmp/aic-bench-grpo.XXXXXX)
trap 'rm -rf "$work"' EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }

reps=${AIC_BENCH_REPS:-5}
epochs=${AIC_BENCH_GRPO_EPOCHS:-100}

run() { # run GEN_DELAY_S TAG: one aic run of a copy; prints its figures
	d=$work/delay-$1-$2
	mkdir -p "$d"
	cp -r "$top/examples/grpo-toy/." "$d"
	chmod -R u+w "$d"
	sed -i -e "s|command: \[/usr/bin/python3, |command: [$py, $top/bench/busy.py, |" \
		-e "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: $1/" "$d/job.yaml"
	[ "$1" != 0 ] || sed -i "s/epochs: [0-9]*/epochs: $epochs/" "$d/job.yaml"
	[ "$(grep -c 'busy.py' "$d/job.yaml")" = 3 ] || { echo "bench: cannot wrap the stages of job.yaml" >&2; exit 1; }
	a=$(ms)
	(cd "$d" && "$build/launcher/aic" run job.yaml >run.out 2>&1) ||
		{ cat "$d/run.out" >&2; echo "bench: grpo-toy failed under aic run" >&2; exit 1; }
	b=$(ms)
	$py - "$d/.aic/latest" "$1" "$((b - a))" "$d/job.yaml" <<'PY'
import csv, glob, json, re, sys
job, delay, wall_ms = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open(job + "/reward.csv")))
r = [float(x["mean_reward"]) for x in rows]
spec = open(sys.argv[4]).read()
num = lambda key: float(re.search(r"\b%s: ([0-9.]+)" % key, spec).group(1))
# The least time pretend generation alone takes: every group's delay, shared
# by the rollout replicas.
groups = sum(int(x["groups"]) for x in rows)
# The engine's own CPU time (the aic run process: head and agent, user and
# system; not the workers'), over the whole job, start-up included.
cpu = json.load(open(job + "/summary.json"))["engine_cpu_s"]
by = {}
for f in glob.glob(job + "/busy/*.json"):
    d = json.load(open(f))
    if "wall_s" not in d:
        sys.exit("bench: %s did not exit normally" % f)
    s = by.setdefault(d["stage"], {"procs": 0, "wall_s": 0.0, "busy_s": 0.0, "cpu_s": 0.0, "wait_s": {}})
    s["procs"] += 1
    s["wall_s"] += d["wall_s"]
    s["busy_s"] += d["busy_s"]
    s["cpu_s"] += d["cpu_s"]
    for k, v in d["wait_s"].items():
        s["wait_s"][k] = s["wait_s"].get(k, 0.0) + v
print(json.dumps({"what": "grpo aic run", "gen_delay_s": delay, "steps": len(rows), "groups": groups,
                  "loop_s": float(rows[-1]["time_s"]), "wall_s": wall_ms / 1000,
                  "engine_cpu_s": round(cpu, 4),
                  "workers_cpu_s": round(sum(s["cpu_s"] for s in by.values()), 4),
                  "gen_floor_s": round(groups * delay / num("replicas"), 3),
                  "reward_first": round(sum(r[:5]) / 5, 3), "reward_last": round(sum(r[-5:]) / 5, 3)}))
for stage, s in sorted(by.items()):
    print(json.dumps({"what": "busy", "gen_delay_s": delay, "stage": stage, "procs": s["procs"],
                      "wall_s": round(s["wall_s"], 3), "busy_s": round(s["busy_s"], 3),
                      "cpu_s": round(s["cpu_s"], 4), "steps": len(rows),
                      "wait_s": {k: round(v, 3) for k, v in s["wait_s"].items() if v > 0}}))
PY
}

inproc() { # the baseline, timed from start to exit
	a=$(ms)
	line=$($py "$top/bench/grpo_inproc.py" "$top/examples/grpo-toy" "$epochs")
	b=$(ms)
	echo "$line" | sed "s/}\$/, \"wall_s\": $(((b - a) / 1000)).$(printf %03d $(((b - a) % 1000)))}/"
}
pipes() { # the IPC baselines: the job's five processes over pipes, then through a relay
	$py "$top/bench/grpo_pipes.py" "$top/examples/grpo-toy" "$epochs"
	$py "$top/bench/grpo_pipes.py" --relay "$build/bench/relay" "$top/examples/grpo-toy" "$epochs"
}
i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		inproc
		pipes
		run 0 $i
	else
		run 0 $i
		pipes
		inproc
	fi | sed "s/^{/{\"rep\": $i, /"
	run 0.01 $i | sed "s/^{/{\"rep\": $i, /"
	i=$((i + 1))
done

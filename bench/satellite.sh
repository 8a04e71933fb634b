#!/bin/sh
# Satellite allocations on the local 4-node cluster (scripts/minicluster
# up, its env): a job on 2 nodes whose stage of 4-GPU replicas (one per
# node) is backlogged, with autoscale: {max_nodes: 1}, submits a satellite
# job; the time from the backlog (the first item the job's first replica
# took) to the first item a replica on the satellite took, and on the
# way: the head's sbatch -> the satellite's agent joined (status.json).
# Beside it, in the same run and alternating: an empty one-node job, from
# sbatch to its script running (the time it writes), the floor SLURM sets.
# Prints JSON lines, one per sample, each tagged with its repetition:
#   {"what": "satellite", "rep", "backlog_to_items_s", "submit_to_join_s", "up_after_s"}
#   {"what": "sbatch-empty", "rep", "to_running_s"}
#
#   bench/satellite.sh          (REPS: $AIC_BENCH_REPS, default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
py=/usr/bin/python3
reps=${AIC_BENCH_REPS:-5}
work=$(mktemp -d "$build/bench-satellite.XXXXXX")
trap 'scancel -n aic-bench-sat 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }

cat >work.py <<'PY'
"""0.1 s of pretend GPU work per item; the time of its first item to $OUT."""
import os, time
import aic
w = aic.connect()
first = None
while True:
    try:
        items = w.get("lines", max_items=1)
    except aic.Closed:
        break
    for it in items:
        if first is None:
            first = time.time()
            with open("%s/first.%s.%d" % (os.environ["OUT"], os.environ["AIC_NODE"], w.index), "w") as f:
                f.write("%.6f\n" % first)
        time.sleep(0.1)
        w.put("out", it.data)
    w.ack(items)
PY
$py -c "for i in range(2000): print('{\"i\": %d}' % i)" >lines.jsonl

. "$top/tests/lib/wait.sh" # wait_for SECONDS CMD...
ended() { ! squeue -h -j "$1" -t PD,R,CG 2>/dev/null | grep -q .; }
no_sat() { [ -z "$(squeue -h -t PD,R,CG -n "aic-sat-$1" -o %i 2>/dev/null)" ]; }

satellite() { # satellite REP
	d=$work/sat-$1
	mkdir -p "$d/out"
	cat >"$d/job.yaml" <<YAML
name: bench-satellite
stages:
  work: {command: [$py, $work/work.py], replicas: {min: 1, max: 4}, gpus: 4, cpus: 0,
         inputs: [lines], outputs: [out],
         env: {OUT: $d/out, PYTHONPATH: $top/python, AIC_LIBRARY: $build/lib/.libs/libaic.so},
         autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 30}}
channels:
  lines: {source: $work/lines.jsonl, capacity: 16}
  out: {sink: out.jsonl}
autoscale: {max_nodes: 1, idle_s: 60}
YAML
	cat >"$d/job.sh" <<JOB
#!/bin/sh
#SBATCH -N2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:4
#SBATCH --exclusive
#SBATCH -J aic-bench-sat
#SBATCH -o $d/job.out
srun --mpi=pmix "$build/launcher/aic-launch"
JOB
	job=$(cd "$d" && sbatch --parsable --aic-job=job.yaml job.sh)
	nodes() { squeue -h -j "$job" -o %N; }
	# The satellite's replica: a first item from a node not of the job's.
	on_sat() {
		for f in "$d"/out/first.*; do
			n=${f#"$d"/out/first.}
			n=${n%.*}
			case ",$(scontrol show hostnames "$(nodes)" | tr '\n' ,)" in
			*",$n,"*) ;;
			*) [ -e "$f" ] && return 0 ;;
			esac
		done
		return 1
	}
	wait_for 300 on_sat || { echo "bench: no replica on a satellite (job $job)" >&2; scancel "$job"; exit 1; }
	$py - "$d" "$1" <<'PY'
import glob, json, os, sys
d, rep = sys.argv[1], int(sys.argv[2])
st = json.load(open(os.path.join(d, ".aic", os.readlink(os.path.join(d, ".aic/latest")), "status.json")))
sats = [s for s in st["satellites"]["satellites"] if s.get("joined_s") is not None]
sat_nodes = {s["node"] for s in sats}
firsts = {}
for f in glob.glob(d + "/out/first.*"):
    node = os.path.basename(f).split(".")[1]
    firsts.setdefault(node in sat_nodes, []).append(float(open(f).read()))
print(json.dumps({"what": "satellite", "rep": rep,
                  "backlog_to_items_s": round(min(firsts[True]) - min(firsts[False]), 3),
                  "submit_to_join_s": round(sats[0]["joined_s"] - sats[0]["submitted_s"], 3),
                  "up_after_s": 1}))
PY
	scancel "$job"
	wait_for 120 ended "$job"
	wait_for 60 no_sat "$job" || { echo "bench: job $job left a satellite" >&2; exit 1; }
}

empty() { # empty REP: sbatch -> the script runs, on one node
	rm -f "$work/ran"
	a=$($py -c 'import time; print("%.6f" % time.time())')
	job=$(sbatch --parsable -N1 --exclusive -J aic-bench-sat -o /dev/null \
		--wrap "$py -c 'import time; print(\"%.6f\" % time.time())' >$work/ran.tmp && mv $work/ran.tmp $work/ran")
	wait_for 120 test -s "$work/ran" || { echo "bench: the empty job $job did not run" >&2; exit 1; }
	$py -c "import json; print(json.dumps({'what': 'sbatch-empty', 'rep': $1, 'to_running_s': round(float(open('$work/ran').read()) - $a, 3)}))"
	wait_for 60 ended "$job"
}

i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		empty $i
		satellite $i
	else
		satellite $i
		empty $i
	fi
	i=$((i + 1))
done

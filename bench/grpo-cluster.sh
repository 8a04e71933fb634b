#!/bin/sh
# examples/grpo-toy on 2 nodes of the local cluster (scripts/minicluster
# up, its env), its training gang across them: a rank on each node (3 of
# a node's 4 GPUs), a rollout replica on each (1 GPU), reward beside the
# first; submitted as users do (sbatch --aic-job, one aic-launch a node),
# with GEN_DELAY_S=0 over EPOCHS passes of the prompts
# ($AIC_BENCH_GRPO_EPOCHS, default 100: 625 steps). Beside it, in the same
# run and in alternating order, the same loop in one process on this
# machine (bench/grpo_inproc.py), as bench/grpo-toy.sh compares. Each run's
# line has its trained groups, steps, loop seconds (reward.csv's last
# time_s) and the mean version lag of its groups: every channel and the
# gang's all-reduce cross the nodes' link, and a step that lacks groups
# (one node's agent holding what the other's rank waits for) shows as more
# steps and a lag above 0. Prints JSON lines (bench/figures.py
# grpo-cluster), each tagged with its repetition ("rep").
#
#   bench/grpo-cluster.sh [REPS]     (default $AIC_BENCH_REPS, else 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
reps=${1:-${AIC_BENCH_REPS:-5}}
epochs=${AIC_BENCH_GRPO_EPOCHS:-100}
py=/usr/bin/python3
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
$py -c 'import numpy, matplotlib' 2>/dev/null ||
	{ echo "bench: Debian's python3-numpy or python3-matplotlib is missing (scripts/deps)" >&2; exit 1; }
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d "$build/bench-grpo-cluster.XXXXXX")
job=
trap '[ -z "$job" ] || scancel "$job" 2>/dev/null || true; rm -rf "$work"' EXIT

cluster_run() { # cluster_run REP: one run on 2 nodes; prints its line
	d=$work/rep-$1
	mkdir -p "$d"
	cp -r "$top/examples/grpo-toy/." "$d"
	chmod -R u+w "$d"
	sed -i -e "s/epochs: [0-9]*/epochs: $epochs/" -e 's/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: 0/' \
		-e 's/^    ranks: 2$/&\n    gpus: 3/' -e 's/^    replicas: 2$/&\n    gpus: 1/' "$d/job.yaml"
	[ "$(grep -c '^    gpus: [13]$' "$d/job.yaml")" = 2 ] || { echo "bench: cannot add GPUs to job.yaml" >&2; exit 1; }
	cat >"$d/job.sh" <<EOF
#!/bin/sh
#SBATCH -N2
#SBATCH --ntasks-per-node=1
#SBATCH -o $d/job.out
srun --mpi=pmix "$build/launcher/aic-launch"
EOF
	job=$(cd "$d" && sbatch --parsable --aic-job=job.yaml job.sh)
	while [ -n "$(squeue -h -j "$job" -o %i 2>/dev/null)" ]; do sleep 0.2; done
	job=
	$py - "$d" "$1" <<'PY' || { tail -n 20 "$d/job.out" >&2; exit 1; }
import csv, json, os, sys
d, rep = sys.argv[1], int(sys.argv[2])
jd = os.path.join(d, ".aic", os.readlink(os.path.join(d, ".aic", "latest")))
s = json.load(open(os.path.join(jd, "summary.json")))
if s["state"] != "succeeded":
    sys.exit("bench: grpo-toy on 2 nodes ended %s" % s["state"])
nodes = sorted(set(p["node"] for p in json.load(open(os.path.join(jd, "status.json")))["procs"]
                   if p["stage"] == "train"))
if len(nodes) != 2:
    sys.exit("bench: the training ranks ran on %s, not two nodes" % nodes)
rows = list(csv.DictReader(open(os.path.join(jd, "reward.csv"))))
groups = sum(int(r["groups"]) for r in rows)
print(json.dumps({"rep": rep, "what": "grpo cluster run", "steps": len(rows), "groups": groups,
                  "loop_s": float(rows[-1]["time_s"]),
                  "lag": round(sum(float(r["version_lag"]) * int(r["groups"]) for r in rows) / groups, 3),
                  "reward_last": round(sum(float(r["mean_reward"]) for r in rows[-5:]) / 5, 3)}))
PY
}

inproc() { # inproc REP: the one-process loop on this machine
	$py "$top/bench/grpo_inproc.py" "$top/examples/grpo-toy" "$epochs" |
		$py -c 'import json, sys; d = json.loads(sys.stdin.read()); d["rep"] = int(sys.argv[1]); print(json.dumps(d))' "$1"
}

for rep in $(seq "$reps"); do
	if [ $((rep % 2)) = 1 ]; then
		inproc "$rep"
		cluster_run "$rep"
	else
		cluster_run "$rep"
		inproc "$rep"
	fi
done

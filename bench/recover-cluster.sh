#!/bin/sh
# Recovery from a lost node on the local 4-node cluster (scripts/minicluster
# up --nodes 4, its env): a job (sbatch --no-kill, srun --no-kill, one
# aic-launch per node) has a 'hold' replica of 4 GPUs on n1 and a 'work'
# replica of 4 GPUs on n2, n3 and n4 free. n2 is crashed (minicluster node
# 2 crash: SIGKILL of everything on it), and 'work' is placed again on n3;
# then n3, and it goes to n4. A figure is the time from the crash until
# the head has the replacement running (status.json: its state and
# uptime_s, against the file's mtime), and until the replacement's own
# first instruction (its start time, written by the worker). Before each
# crash, the baseline: `srun -N1 true` (SLURM starting one task on one
# node) timed in the same conditions. ROUNDS jobs, 2 crashes each; the
# crashed nodes are restored after each job. Prints one JSON line per crash
# and per srun.
#
#   bench/recover-cluster.sh [ROUNDS]     (default 2)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
rounds=${1:-2}
py=/usr/bin/python3
mc="$top/scripts/minicluster"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
[ "$(sinfo -h -N -o '%N' | sort -u | wc -l)" -ge 4 ] || { echo "bench: needs 4 nodes" >&2; exit 1; }
work=$(mktemp -d "$build/bench-recover.XXXXXX")
crashed=""
restore() {
	for k in $crashed; do "$mc" node "$k" restore >/dev/null 2>&1 || true; done
	crashed=""
}
trap 'restore; rm -rf "$work"' EXIT
cd "$work"

cat >work.sh <<WORKER
#!/bin/sh
$py -c 'import time; print("%.6f" % time.time())' >"$work/started.\$AIC_NODE"
while [ ! -e "$work/go" ]; do sleep 0.1; done
WORKER
cat >job.yaml <<SPEC
name: bench-recover
stages:
  hold: {command: [sh, $work/work.sh], gpus: 4, cpus: 0}
  work: {command: [sh, $work/work.sh], gpus: 4, cpus: 0}
SPEC
cat >job.sh <<JOB
#!/bin/sh
#SBATCH -N4
#SBATCH --ntasks-per-node=1
#SBATCH --no-kill
#SBATCH -o $work/job.out
srun --no-kill --mpi=pmix "$build/launcher/aic-launch"
JOB

# work_on: "node state started_at" of the work replica (started_at: the
# head heard it started: status.json's mtime less its uptime).
work_on() {
	$py - <<'PY'
import json, os
try:
    st = os.stat(".aic/latest/status.json")
    s = json.load(open(".aic/latest/status.json"))
except (OSError, ValueError):
    raise SystemExit(1)
p = [p for p in s["procs"] if p["stage"] == "work"][0]
print(p["node"], p["state"], "%.6f" % (st.st_mtime - p["uptime_s"]))
PY
}
# wait_work NODE: until the work replica runs on NODE (60 s at most).
wait_work() {
	for _ in $(seq 600); do
		case "$(work_on 2>/dev/null)" in
		"$1 running "*) [ -e "started.$1" ] && return 0 ;;
		esac
		sleep 0.1
	done
	echo "bench: the work replica never ran on $1" >&2
	return 1
}

for round in $(seq "$rounds"); do
	rm -rf .aic go started.*
	job=$(sbatch --parsable --aic-job=job.yaml job.sh)
	wait_work n2
	for victim in 2 3; do
		t0=$($py -c 'import time; print("%.6f" % time.time())')
		srun -N1 true
		t1=$($py -c 'import time; print("%.6f" % time.time())')
		echo "{\"what\": \"srun\", \"ms\": $($py -c "print(round(1000 * ($t1 - $t0), 1))")}"
		next=n$((victim + 1))
		crashed="$crashed $victim"
		killed=$($py -c 'import time; print("%.6f" % time.time())')
		"$mc" node "$victim" crash
		wait_work "$next"
		set -- $(work_on)
		echo "{\"what\": \"lost\", \"round\": $round, \"node\": \"n$victim\", \"to_running_ms\": $($py -c "print(round(1000 * ($3 - $killed), 1))"), \"to_started_ms\": $($py -c "print(round(1000 * ($(cat "started.$next") - $killed), 1))")}"
	done
	touch go
	for _ in $(seq 1200); do
		squeue -h -j "$job" -t PD,R,CG | grep -q . || break
		sleep 0.1
	done
	[ "$($py -c 'import json; print(json.load(open(".aic/latest/summary.json"))["state"])')" = succeeded ] ||
		{ cat job.out >&2; echo "bench: the job did not succeed" >&2; exit 1; }
	restore
done

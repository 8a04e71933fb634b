#!/bin/sh
# Node-failure detection on the local 4-node cluster (scripts/minicluster
# up --nodes 4, its env): a job with one replica per node (submitted with
# sbatch --no-kill and srun --no-kill, so SLURM keeps it), then node n4's
# link is cut (minicluster node 4 cut). Two clocks start at the cut: aic's
# stops when the head's log declares n4 lost (heartbeats, failure_timeout
# 10 s), SLURM's when slurmctld sets n4 DOWN (SlurmdTimeout, 30 s in the
# test cluster), both polled every 10 ms in the same run. Then n4 is
# restored and the job cancelled. Prints one JSON line per cut.
#
#   bench/liveness-cluster.sh [CUTS]     (default 3)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
cuts=${1:-3}
py=/usr/bin/python3
mc="$top/scripts/minicluster"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
work=$(mktemp -d "$build/bench-liveness.XXXXXX")
cut=
job=
cleanup() {
	[ -z "$cut" ] || "$mc" node "$cut" restore >/dev/null 2>&1 || true
	[ -z "$job" ] || scancel "$job" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
cat >job.yaml <<SPEC
name: bench-liveness
stages:
  work: {command: [sh, -c, 'echo \$AIC_NODE >"$work/started.\$AIC_INDEX"; exec sleep 100000'],
         replicas: 4, gpus: 4, cpus: 0}
SPEC
cat >job.sh <<JOB
#!/bin/sh
#SBATCH -N4
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:4
#SBATCH --no-kill
#SBATCH -o $work/job.out
srun --no-kill --mpi=pmix "$build/launcher/aic-launch"
JOB
for k in $(seq 1 "$cuts"); do
	rm -f started.* job.out
	job=$(sbatch --parsable --aic-job=job.yaml job.sh)
	$py - "$job" <<'PY'
import glob, json, subprocess, sys, time

job = sys.argv[1]
deadline = time.time() + 120
while len(glob.glob("started.*")) < 4:
    if time.time() > deadline:
        sys.exit("bench: the job's 4 workers did not start")
    time.sleep(0.05)
subprocess.run(["ip", "link", "set", "aicv4", "down"], check=True)  # minicluster node 4 cut
t0 = time.monotonic()
aic = slurm = None
deadline = time.time() + 180
while aic is None or slurm is None:
    if time.time() > deadline:
        sys.exit("bench: no detection within 180 s (aic %s, slurm %s)" % (aic, slurm))
    now = time.monotonic()
    if aic is None:
        try:
            if "node 'n4' (rank 3) is lost" in open("job.out").read():
                aic = now - t0
        except OSError:
            pass
    if slurm is None:
        st = subprocess.run(["sinfo", "-h", "-n", "n4", "-o", "%t"], capture_output=True,
                            text=True).stdout.strip()
        if st.startswith("down"):
            slurm = now - t0
    time.sleep(0.01)
print(json.dumps({"what": "detect", "aic_ms": round(aic * 1000), "slurm_ms": round(slurm * 1000),
                  "failure_timeout_ms": 10000}))
PY
	cut=4
	"$mc" node 4 restore >/dev/null
	cut=
	scancel "$job"
	while squeue -h -j "$job" 2>/dev/null | grep -q .; do sleep 0.2; done
	job=
done

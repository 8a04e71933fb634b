# Shared setup for the integration tests: they run against a live SLURM
# cluster (scripts/minicluster up; eval "$(scripts/minicluster env)"), and
# read their jobs' state from SLURM and from the job directory.
# Without one, or with one too small, they skip, unless
# AIC_INTEGRATION_REQUIRED is set (scripts/check sets it: the cluster it
# brings up can run every test, so there a test that cannot run fails).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/wait.sh"

# cannot_run REASON: the whole script skips, or fails when it is required.
cannot_run() {
	[ -z "${AIC_INTEGRATION_REQUIRED:-}" ] || bail "$1"
	skip_all "$1"
}

# Every srun or sbatch --wait in a test is bounded, so a hung step fails the
# test instead of hanging the suite.
step_timeout=120

need_cluster() {
	if [ -z "${SLURM_CONF:-}" ] || ! scontrol ping >/dev/null 2>&1; then
		cannot_run "no SLURM cluster answers (SLURM_CONF='${SLURM_CONF:-}'; scripts/minicluster up, then eval its env)"
	fi
	nnodes=$(sinfo -h -N -o '%N' | sort -u | wc -l)
	ngpus=$(sinfo -h -N -o '%G' | head -n 1 | sed -n 's/^gpu:\([0-9]*\).*/\1/p')
	ngpus=${ngpus:-0}
	if [ "$nnodes" -lt "${1:-1}" ]; then
		cannot_run "needs ${1} nodes, the cluster has $nnodes"
	fi
	if [ "$ngpus" -lt "${2:-0}" ]; then
		cannot_run "needs ${2} GPUs per node, the cluster has $ngpus"
	fi
	diag "cluster: $nnodes nodes, $ngpus GPUs each, SLURM_CONF=$SLURM_CONF"
}

# A scratch directory that every node sees (not /tmp: each node has its own).
work_dir() {
	d="$AIC_BUILD_DIR/tests/integration/work/$(basename "$0" .sh)"
	rm -rf "$d"
	mkdir -p "$d"
	echo "$d"
}

# job_ended JOB: SLURM no longer runs it.
job_ended() {
	! squeue -h -j "$1" -t PD,R,CG 2>/dev/null | grep -q .
}

# jobdir DIR: the job directory of the job submitted from DIR.
jobdir() {
	echo "$1/.aic/$(readlink "$1/.aic/latest")"
}

# status_field DIR EXPR: a Python expression over status.json (as d) of DIR's job.
status_field() {
	/usr/bin/python3 -c "
import json
d = json.load(open('$(jobdir "$1")/status.json'))
print($2)"
}

# summary_field DIR EXPR: the same over summary.json (as d).
summary_field() {
	/usr/bin/python3 -c "
import json
d = json.load(open('$(jobdir "$1")/summary.json'))
print($2)"
}

# srun_step SECONDS NAME SPEC [SRUN-OPTION...]: runs SPEC as a step of
# three nodes, one aic-launch each, killed after SECONDS; its output goes to
# NAME.out and NAME.err. Returns srun's exit status.
launch="$AIC_BUILD_DIR/launcher/aic-launch"
srun_step() {
	ss_t=$1 ss_name=$2 ss_spec=$3
	shift 3
	timeout "$ss_t" srun -N3 --ntasks-per-node=1 --cpus-per-task=2 "$@" --mpi=pmix \
		--aic-job="$ss_spec" "$launch" >"$ss_name.out" 2>"$ss_name.err"
}

# The address slurm.conf gives a node: what its tasks must see as their own.
node_addr() {
	scontrol show node "$1" | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p'
}

# start_requeued JOB: a requeued JOB, PENDING again, may start at once
# instead of after the BeginTime SLURM gives it (its credential lifetime,
# about 2 minutes). Not StartTime=now: slurmd refuses a batch launch whose
# credential is not newer, in whole seconds, than the revocation at the end
# of the job's previous run (slurm_cred.c, _credential_revoked: ctime <=
# revoked), and slurmctld then ends the job FAILED ("Killing non-startable
# batch JobId=J: Job credential revoked"); MinJobAge later its record is
# gone. Once the job is PENDING that revocation is past, so a start from
# the next second on is always after it.
start_requeued() {
	scontrol update JobId="$1" StartTime=now+1
}

# job_field JOB NAME: a field of `scontrol show job JOB` (JobState, Reason,
# Restarts...); job_is JOB STATE: JOB's JobState is STATE.
job_field() {
	scontrol -o show job "$1" 2>/dev/null | sed -n "s/.*$2=\([A-Za-z0-9_]*\).*/\1/p"
}
job_is() {
	[ "$(job_field "$1" JobState)" = "$2" ]
}

# requeue_job JOB: `scontrol requeue` of a running JOB, which then waits
# until it is PENDING again and starts it at once (start_requeued); bails
# out when any of that fails.
requeue_job() {
	scontrol requeue "$1" || bail "scontrol requeue $1 failed"
	wait_for 120 job_is "$1" PENDING ||
		bail "job $1 is '$(job_field "$1" JobState)', not PENDING, after the requeue"
	start_requeued "$1" || bail "cannot start job $1 again"
}

# sbatch_on_3 SECONDS: submits job.yaml of the current directory with
# sbatch --aic-job on three nodes, one aic-launch each, its output in
# job.out, and waits for its end (at most SECONDS); returns sbatch's status.
sbatch_on_3() {
	cat >job.sh <<JOB
#!/bin/sh
#SBATCH -N3
#SBATCH --ntasks-per-node=1
#SBATCH -o $PWD/job.out
srun --mpi=pmix "$launch"
JOB
	timeout "$1" sbatch --wait --aic-job=job.yaml job.sh >sbatch.out 2>&1
}

# spread_gpus FILE: gives an example's training ranks ("ranks: 2") 3 GPUs
# each and its replicas ("replicas: 2") 2, so that a rank needs a node to
# itself and the gang's all-reduce, the channels and the weight stream all
# cross nodes (the cluster's GPUs are fake: the examples run on CPU).
spread_gpus() {
	sed -i -e 's/^    ranks: 2$/&\n    gpus: 3/' -e 's/^    replicas: 2$/&\n    gpus: 2/' "$1"
	[ "$(grep -c '^    gpus: [23]$' "$1")" = 2 ] || bail "cannot add GPUs to $1"
}

# placement: "STAGE/INDEX@NODE ..." of every process of the newest job in
# the current directory; latest_summary_state: that job's end state.
placement() {
	/usr/bin/python3 -c "import json; print(' '.join('%s/%d@%s' % (p['stage'], p['index'], p['node']) for p in json.load(open('.aic/latest/status.json'))['procs']))"
}
latest_summary_state() {
	/usr/bin/python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['state'])"
}
# nodes_of STAGE PLACEMENT: how many nodes STAGE's processes ran on.
nodes_of() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1\/.*@//p" | sort -u | wc -l
}

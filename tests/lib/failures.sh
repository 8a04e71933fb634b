# shellcheck shell=sh disable=SC2154
# Sourced by the fault-injection tests (tests/failures/*.sh, make
# check-failures, on a 4-node cluster): a job submitted so that SLURM keeps
# it when a node dies (sbatch --no-kill, srun --no-kill), a node crashed
# and always brought back, and waits for events, each with a deadline.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"

minicluster="$AIC_SRC_DIR/scripts/minicluster"
launch="$AIC_BUILD_DIR/launcher/aic-launch"
aic="$AIC_BUILD_DIR/launcher/aic"

# wait_for SECONDS CMD...: until CMD succeeds (polled every 0.1 s); 1 when it never did.
wait_for() {
	wf_t=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		wf_t=$((wf_t - 1))
		[ $wf_t -gt 0 ] || return 1
		sleep 0.1
	done
}

# crash_node NAME: SIGKILLs every process on node NAME (nK); it comes back
# (minicluster node K restore) when the test exits, whatever happens.
crashed=""
crash_node() {
	crashed=${1#n}
	trap 'restore_node' EXIT
	"$minicluster" node "$crashed" crash
}
restore_node() {
	[ -n "$crashed" ] || return 0
	"$minicluster" node "$crashed" restore >/dev/null 2>&1 || echo "# node n$crashed did not come back" >&2
	crashed=""
}

# submit_job DIR: submits DIR/job.yaml on 4 nodes, one aic-launch each, as a
# job that outlives a node (--no-kill for the job and for its step); prints
# the job id. The job's output goes to DIR/job.out.
submit_job() {
	cat >"$1/job.sh" <<JOB
#!/bin/sh
#SBATCH -N4
#SBATCH --ntasks-per-node=1
#SBATCH --no-kill
#SBATCH -o $1/job.out
srun --no-kill --mpi=pmix "$launch"
JOB
	(cd "$1" && sbatch --parsable --aic-job=job.yaml job.sh)
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

# node_of DIR STAGE INDEX: the node a process runs on now.
node_of() {
	status_field "$1" "[p['node'] for p in d['procs'] if p['stage'] == '$2' and p['index'] == $3][0]"
}

# head_node: the node of the job's rank 0 (aic-launch's head): never crashed.
head_node() {
	echo n1
}

# shellcheck shell=sh disable=SC2154
# Sourced by the fault-injection tests (tests/failures/*.sh, make
# check-failures, on a 4-node cluster): a job submitted so that SLURM keeps
# it when a node dies (sbatch --no-kill, srun --no-kill), a node crashed
# and always brought back, and waits for events, each with a deadline.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"

minicluster="$AIC_SRC_DIR/scripts/minicluster"
launch="$AIC_BUILD_DIR/launcher/aic-launch"
aic="$AIC_BUILD_DIR/launcher/aic"

# The way a node fails, chosen by the test's caller (tests/failures/NAME-WAY.sh
# runs NAME.sh with AIC_FAIL_WAY set), so one test runs once per way:
#   crash       SIGKILL every process on the node (minicluster node K crash),
#               as a node that lost power: its links close at once;
#   cut         its network link down (minicluster node K cut), as a dead
#               switch port: its processes live on, unreachable, and the head
#               learns nothing until failure_timeout passes in silence;
#   agent-kill  SIGKILL of the job's aic-launch on the node alone: slurmd and
#               the link live on, its workers die by PR_SET_PDEATHSIG.
fail_way=${AIC_FAIL_WAY:-crash}
case "$fail_way" in
crash | cut | agent-kill) ;;
*) bail "AIC_FAIL_WAY='$fail_way' is not crash, cut or agent-kill" ;;
esac

# node_procs K PATTERN: the processes on node nK (in its network namespace)
# whose command line matches PATTERN; PATTERN aic-launch: the aic-launch
# processes, by name (srun's command line names aic-launch too).
node_procs() {
	for np_p in $(ip netns pids "aicn$1" 2>/dev/null); do
		if [ "$2" = aic-launch ]; then
			[ "$(cat "/proc/$np_p/comm" 2>/dev/null)" = aic-launch ] && echo "$np_p"
		else
			tr '\0' ' ' <"/proc/$np_p/cmdline" 2>/dev/null | grep -q -- "$2" && echo "$np_p"
		fi
	done
}

# fail_node NAME [WAY]: fails node NAME (nK) WAY, by default the test's way
# ($fail_way); it comes back (minicluster node K restore) when the test
# exits, whatever happens, or earlier by restore_node. Prints nothing; 1
# when there was nothing to kill.
failed=""
failed_way=""
fail_node() {
	failed=${1#n}
	failed_way=${2:-$fail_way}
	case "$failed_way" in
	crash | cut) "$minicluster" node "$failed" "$failed_way" ;;
	agent-kill)
		fn_pids=$(node_procs "$failed" aic-launch)
		[ -n "$fn_pids" ] || return 1
		# shellcheck disable=SC2086
		kill -KILL $fn_pids
		;;
	esac
}
restore_node() {
	[ -n "$failed" ] || return 0
	# An agent killed alone leaves its node up: nothing to bring back.
	if [ "$failed_way" != agent-kill ]; then
		"$minicluster" node "$failed" restore >/dev/null 2>&1 || echo "# node n$failed did not come back" >&2
	fi
	failed=""
}
# A test that needs more undone at its end sets its own traps, and calls
# restore_node from them.

# failed_job_ended JOB DIR: SLURM no longer runs JOB, submitted from DIR.
# Once the job's head has written summary.json, aic is done with the node
# that fail_node crashed, and that node is set DOWN in SLURM (scontrol),
# as slurmctld does by itself SlurmdTimeout (30 s here) after the node fell
# silent: srun --no-kill then hears of the node failure and the job ends,
# half a minute sooner. What aic does on the loss is over by then and never
# waits on SLURM's verdict (tests/failures/slurm.sh tests the two together
# and waits for SLURM's). A cut node (its processes alive, behind a dead
# link) or a killed agent (its node up) is left as it is.
failed_job_ended() {
	if [ -n "$failed" ] && [ "$failed_way" = crash ] && [ -e "$(jobdir "$2")/summary.json" ] &&
		[ "$(sinfo -h -n "n$failed" -o %t | tr -d '*')" != down ]; then
		scontrol update nodename="n$failed" state=down reason="crashed by $(basename "$0")" >/dev/null 2>&1 || true
	fi
	job_ended "$1"
}
trap restore_node EXIT
trap 'restore_node; exit 1' INT TERM

# nothing_on K[,K...] PATTERN...: no process on node nK (on any of the
# nodes) matches any PATTERN.
nothing_on() {
	no_ks=$(echo "$1" | tr , ' ')
	shift
	for no_k in $no_ks; do
		for no_p in "$@"; do
			[ -z "$(node_procs "$no_k" "$no_p")" ] || return 1
		done
	done
}

# nothing_left PATTERN: two tests: no process that matches PATTERN (the
# job's workers) is left on any node, nor any aic-launch.
nothing_left() {
	ok "no worker is left on any node" wait_for 30 none_match "$1"
	ok "nor any aic-launch" wait_for 30 none_match "$launch"
}
none_match() { ! pgrep -f "$1" >/dev/null; }

# submit_job DIR [WRAPPER]: submits DIR/job.yaml on 4 nodes, one aic-launch
# each (run by WRAPPER when given: srun ... WRAPPER aic-launch), as a job
# that outlives a node (--no-kill for the job and for its step); prints the
# job id. The job's output goes to DIR/job.out.
submit_job() {
	cat >"$1/job.sh" <<JOB
#!/bin/sh
#SBATCH -N4
#SBATCH --ntasks-per-node=1
#SBATCH --no-kill
#SBATCH -o $1/job.out
srun --no-kill --mpi=pmix ${2:-} "$launch"
JOB
	(cd "$1" && sbatch --parsable --aic-job=job.yaml job.sh)
}

# cancel_job JOB: cancels it if it still runs, and waits until SLURM has
# let it go, so that the next job of the test gets the nodes.
cancel_job() {
	scancel "$1" 2>/dev/null || true
	wait_for 120 job_ended "$1" || diag "job $1 is still in squeue"
}

# node_of DIR STAGE INDEX: the node a process runs on now.
node_of() {
	status_field "$1" "[p['node'] for p in d['procs'] if p['stage'] == '$2' and p['index'] == $3][0]"
}

# head_node: the node of the job's rank 0 (aic-launch's head): never crashed.
head_node() {
	echo n1
}

# move_replica NAME N: in $dir, submits a job NAME of two replicas of 4
# GPUs, a node each (n3 and n4 stay free), that say where they run
# ($dir/work.INDEX.NODE, in $dir/work.sh), wait for $dir/go, then put N
# items on "nums" (workers/produce.py), which goes to the sink out.jsonl;
# then fails replica 1's node (fail_node) and waits for the replica to
# start again elsewhere. Two tests: both replicas start, replica 1 starts
# again on another node. Sets $job, $victim (the failed node) and $new
# (replica 1's node now).
move_replica() {
	cat >"$dir/work.sh" <<WORKER
#!/bin/sh
echo "\$AIC_NODE" >"$dir/work.\$AIC_INDEX.\$AIC_NODE"
while [ ! -e "$dir/go" ]; do sleep 0.1; done
exec /usr/bin/python3 "$AIC_SRC_DIR/tests/lib/workers/produce.py"
WORKER
	cat >"$dir/job.yaml" <<SPEC
name: $1
stages:
  work:
    command: [sh, $dir/work.sh]
    replicas: 2
    gpus: 4
    cpus: 0
    outputs: [nums]
    env: {N: $2, PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so}
channels:
  nums: {sink: out.jsonl}
SPEC
	job=$(submit_job "$dir") || bail "sbatch failed"
	diag "job $job"
	ok "both replicas start" wait_for 120 mr_started 'work.[0-9]*'
	victim=$(node_of "$dir" work 1)
	[ "$victim" != "$(head_node)" ] || bail "replica 1 is on the head's node ($victim)"
	fail_node "$victim" || bail "no aic-launch to kill on $victim"
	ok "replica 1 starts again on another node" wait_for 60 mr_started 'work.1.*'
	new=$(ls "$dir"/work.1.* | sed 's/.*work\.1\.//' | grep -vx "$victim")
	diag "replica 1 moved from $victim to $new"
}
# mr_started GLOB: two files in $dir match GLOB.
mr_started() {
	[ "$(ls "$dir"/$1 2>/dev/null | wc -l)" -eq 2 ]
}

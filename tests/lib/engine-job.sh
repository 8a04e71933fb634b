# shellcheck shell=sh disable=SC2154,SC2034
# Sourced by the tests that run the engine on the 3-node cluster as a job
# step (tests/integration/engine.sh, sigterm.sh), after work_dir has set
# $dir and the test has entered it: a worker script that waits for the
# test's go-ahead ($dir/go), the job started by sbatch with one aic-launch
# per node (by srun: cluster.sh's srun_step), and what is left of it on the
# nodes afterwards.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"

aic="$AIC_BUILD_DIR/launcher/aic"

# go_worker: writes $dir/worker.sh: the shell lines on stdin, then a wait
# for the go-ahead.
go_worker() {
	{
		echo '#!/bin/sh'
		cat
		echo "while [ ! -e \"$dir/go\" ]; do sleep 0.1; done"
	} >"$dir/worker.sh"
}

# workers: how many workers run. A worker is a process whose command line
# holds the script's path (sh runs it by name), on any node: the nodes
# share this machine's processes (count_procs: not a worker's child before
# its exec).
workers() { count_procs "$dir/worker.sh"; }
no_workers() { [ "$(workers)" -eq 0 ]; }
no_launchers() { ! pgrep -f "$launch" >/dev/null; }

# sbatch_job SPEC: submits SPEC as a batch job of three nodes with 4 GPUs
# each, one aic-launch per node; prints the job id. Its output goes to
# $dir/batch.out.
sbatch_job() {
	cat >"$dir/batch.sh" <<BATCH
#!/bin/sh
#SBATCH -N3
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --gres=gpu:4
#SBATCH -o $dir/batch.out
srun --mpi=pmix "$launch"
BATCH
	(cd "$dir" && sbatch --parsable --aic-job="$1" batch.sh)
}

# agent_of NODEID: the pid of the job's aic-launch on the node SLURM
# numbers NODEID (SLURM_NODEID: 0, 1, 2): the one in a node's network
# namespace, not srun, which runs in the test's.
agent_of() {
	pgrep -f "$launch" | while read -r p; do
		[ "$(readlink "/proc/$p/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
			tr '\0' '\n' <"/proc/$p/environ" | grep -qx "SLURM_NODEID=$1" && echo "$p"
	done | head -n 1
}

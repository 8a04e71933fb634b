#!/bin/sh
# plugstack.conf loads aic's SPANK plugin from the build: its options appear
# in srun and sbatch, and jobs without --aic-job are left exactly as they were.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 12

for cmd in srun sbatch salloc; do
	help=$($cmd --help 2>&1)
	like "$help" '--aic-job=SPEC' "$cmd --help lists --aic-job"
	like "$help" '--aic-bind=closest\|slurm\|none' "$cmd --help lists --aic-bind"
	like "$help" '--aic-nccl=auto\|off' "$cmd --help lists --aic-nccl"
done

# Without --aic-job: no AIC_ variables, no CUDA_DEVICE_ORDER, no NCCL hints,
# and the task keeps the affinity SLURM gave it (all of the node's CPUs here).
# (AIC_SRC_DIR, AIC_BUILD_DIR, AIC_MINICLUSTER_DIR, AIC_INTEGRATION_REQUIRED: the harness's own.)
out=$(timeout $step_timeout srun -N3 --ntasks-per-node=2 --gres=gpu:4 sh -c \
	'echo "$(env | grep -E "^(AIC_|CUDA_DEVICE_ORDER=|NCCL_)" | grep -vcE "^AIC_(SRC_DIR|BUILD_DIR|MINICLUSTER_DIR|INTEGRATION_REQUIRED)=") $(sed -n "s/^Cpus_allowed_list:\t*//p" /proc/self/status)"' 2>&1)
is "$?" 0 "srun without --aic-job exits 0"
diag "$out"
is "$(printf '%s\n' "$out" | awk '{print $1}' | sort -u)" 0 "no aic variables in any task"
is "$(printf '%s\n' "$out" | awk '{print $2}' | sort -u)" "0-$(($(nproc) - 1))" "no task is bound"
done_testing

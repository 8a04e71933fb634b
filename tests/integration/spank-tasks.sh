#!/bin/sh
# The compute-node side of the SPANK plugin: every task of an --aic-job step
# gets its share of the step's GPUs, cores local to them, its NIC as an NCCL
# hint and the AIC_* variables, as the node's topology (topo_xml=, written by
# scripts/minicluster: GPUs 0,1 and mlx5_0 on CPU 0, GPUs 2,3 and mlx5_1 on
# CPU 1, NVLink pairs 0-1 and 2-3) says they should.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
[ "$(nproc)" -eq 2 ] || skip_all "the expected answers are for a 2-CPU machine (this has $(nproc))"
dir=$(work_dir)
cp "$AIC_SRC_DIR/tests/fixtures/specs/grpo.yaml" "$dir/job.yaml"
show='echo "$SLURMD_NODENAME $SLURM_LOCALID gpus=$AIC_GPUS cuda=$AIC_CUDA_DEVICES bus=$AIC_GPU_BUSIDS numa=$AIC_NUMA_NODE peers=$AIC_NVLINK_PEERS nic=$AIC_NIC hca=${NCCL_IB_HCA-unset} cpus=$AIC_CPUS allowed=$(sed -n "s/^Cpus_allowed_list:\t*//p" /proc/self/status) bind=$AIC_BIND node=$AIC_NODE_RANK/$AIC_NODE_COUNT local=$AIC_LOCAL_RANK/$AIC_LOCAL_SIZE order=$CUDA_DEVICE_ORDER"'

run() {
	timeout $step_timeout srun "$@" sh -c "$show" 2>&1 | sort
}

# Two tasks per node, four GPUs: one NVLink pair and its socket's CPU each.
out=$(run -N3 --ntasks-per-node=2 --gres=gpu:4 --aic-job="$dir/job.yaml")
diag "$out"
plan 13
for n in 1 2 3; do
	is "$(printf '%s\n' "$out" | grep "^n$n 0 ")" \
		"n$n 0 gpus=0,1 cuda=0,1 bus=0000:21:00.0,0000:22:00.0 numa=0 peers= nic=mlx5_0 hca==mlx5_0 cpus=0 allowed=0 bind=closest node=$((n - 1))/3 local=0/2 order=PCI_BUS_ID" \
		"n$n task 0: GPUs 0,1, CPU 0, mlx5_0"
	is "$(printf '%s\n' "$out" | grep "^n$n 1 ")" \
		"n$n 1 gpus=2,3 cuda=2,3 bus=0000:a1:00.0,0000:a2:00.0 numa=1 peers= nic=mlx5_1 hca==mlx5_1 cpus=1 allowed=1 bind=closest node=$((n - 1))/3 local=1/2 order=PCI_BUS_ID" \
		"n$n task 1: GPUs 2,3, CPU 1, mlx5_1"
done

# Two tasks, two GPUs (SLURM gives 0 and 1, both on CPU 0's socket): one
# GPU each, NVLink peers of each other; the second task's core is the other.
out=$(run -N1 --ntasks-per-node=2 --gres=gpu:2 --aic-job="$dir/job.yaml")
diag "$out"
like "$out" "^n1 0 gpus=0 cuda=0 bus=0000:21:00.0 numa=0 peers=1 nic=mlx5_0 hca==mlx5_0 cpus=0 allowed=0 " \
	"1 GPU per task: task 0 on GPU 0, its NVLink peer is GPU 1"
like "$out" "n1 1 gpus=1 cuda=1 bus=0000:22:00.0 numa=0 peers=0 nic=mlx5_0 hca==mlx5_0 cpus=1 allowed=1 " \
	"task 1 on GPU 1, on the core left"

# A second job on the same node holds GPUs 2,3: CUDA ordinals follow CUDA_VISIBLE_DEVICES.
out=$(run -N1 -w n1 --ntasks-per-node=1 --gres=gpu:2 --aic-job="$dir/job.yaml" --aic-nccl=off \
	--export=ALL,CUDA_VISIBLE_DEVICES=2,3)
diag "$out"
like "$out" "hca=unset" "--aic-nccl=off sets no NCCL_IB_HCA"
NCCL_IB_HCA=mine out=$(NCCL_IB_HCA=mine run -N1 --gres=gpu:4 --aic-job="$dir/job.yaml")
like "$out" "hca=mine" "a user's own NCCL_IB_HCA is kept"

# Binding modes: none leaves every task on all of the step's CPUs; slurm leaves SLURM's.
out=$(run -N1 --ntasks-per-node=2 --gres=gpu:4 --aic-job="$dir/job.yaml" --aic-bind=none)
is "$(printf '%s\n' "$out" | sed -n 's/.*allowed=\([^ ]*\) bind=\([^ ]*\).*/\1 \2/p' | sort -u)" "0-1 none" \
	"--aic-bind=none: tasks on all the step's CPUs"
out=$(run -N1 --ntasks-per-node=2 --gres=gpu:4 --aic-job="$dir/job.yaml" --aic-bind=slurm)
is "$(printf '%s\n' "$out" | sed -n 's/.*allowed=\([^ ]*\) bind=\([^ ]*\).*/\1 \2/p' | sort -u)" "0-1 slurm" \
	"--aic-bind=slurm: aic leaves the binding alone"

# A one-task step with one core: the task stays on the step's core.
out=$(run -N1 -n1 --gres=gpu:4 --aic-job="$dir/job.yaml")
diag "$out"
like "$out" "gpus=0,1,2,3 cuda=0,1,2,3 .* cpus=[01] allowed=[01] " "one task gets all GPUs and the step's core"
done_testing

#!/bin/sh
# Fake GPU devices as GRES: --gres=gpu:K gives each task K GPUs, GPUs held
# by one job are not handed to another, and asking for more than a node has
# is refused.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 8

out=$(timeout $step_timeout srun -N3 --ntasks-per-node=1 --gres=gpu:2 \
	sh -c 'echo "$SLURMD_NODENAME cvd=$CUDA_VISIBLE_DEVICES step=$SLURM_STEP_GPUS"' 2>&1)
is "$?" 0 "srun -N3 --gres=gpu:2 exits 0"
diag "$out"
is "$(printf '%s\n' "$out" | awk '{print $1}' | sort -u | wc -l)" 3 "three nodes answered"
is "$(printf '%s\n' "$out" | sed -n 's/.*cvd=\([^ ]*\).*/\1/p' | awk -F, '{print NF}' | sort -u)" 2 \
	"every task sees two GPUs in CUDA_VISIBLE_DEVICES"
is "$(printf '%s\n' "$out" | sed -n 's/.*step=\([^ ]*\).*/\1/p' | awk -F, '{print NF}' | sort -u)" 2 \
	"every task has two GPUs in SLURM_STEP_GPUS"

out=$(timeout $step_timeout srun -N1 --gres=gpu:$ngpus sh -c 'echo "$SLURM_STEP_GPUS"' 2>&1)
is "$out" "$(seq -s, 0 $((ngpus - 1)))" "--gres=gpu:$ngpus gets all $ngpus GPUs of a node"

# Two jobs on one node: the second gets the GPUs the first does not hold.
dir=$(work_dir)
node=$(sinfo -h -N -o '%N' | head -n 1)
timeout $step_timeout srun -N1 -w "$node" --gres=gpu:2 \
	sh -c "echo \$SLURM_STEP_GPUS >'$dir/first'; while [ ! -e '$dir/second' ]; do sleep 0.1; done" &
first=$!
t=0
while [ ! -s "$dir/first" ] && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
second=$(timeout $step_timeout srun -N1 -w "$node" --gres=gpu:2 sh -c 'echo $SLURM_STEP_GPUS' 2>&1)
echo "$second" >"$dir/second"
wait $first
diag "first job: $(cat "$dir/first"), second job: $second"
is "$(printf '%s\n%s\n' "$(cat "$dir/first")" "$second" | tr ',' '\n' | sort -u | wc -l)" 4 \
	"two jobs on $node hold four distinct GPUs"

err=$(timeout $step_timeout srun -N1 --immediate=5 --gres=gpu:$((ngpus + 1)) true 2>&1)
rc=$?
diag "$err"
ok "--gres=gpu:$((ngpus + 1)) is refused" [ $rc -ne 0 ]
like "$err" "Requested node configuration is not available" "the refusal says why"
done_testing

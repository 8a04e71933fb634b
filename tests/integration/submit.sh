#!/bin/sh
# `aic submit` writes an sbatch script (nodes from -N or from the spec's
# GPUs, one exclusive aic-launch per node, --aic-job) and submits it; the
# job runs on the cluster and its summary lands in the submit directory,
# also when the spec's path is full of shell and #SBATCH syntax.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 13
dir=$(work_dir)
aic="$AIC_BUILD_DIR/launcher/aic"
cd "$dir" || bail "cannot enter $dir"
export PATH="$AIC_BUILD_DIR/launcher:$PATH"

cat >job.yaml <<SPEC
name: submitted
stages:
  train: {command: [sh, -c, "echo rank \$RANK on \$AIC_NODE"], ranks: 6, gpus: 1, cpus: 0}
SPEC
out=$("$aic" submit job.yaml --gpus-per-node 4 --wait -o "$dir/job.out" 2>&1)
is "$?" 0 "aic submit --wait exits 0"
diag "$out"
like "$out" "aic submit: \.aic/submit-[0-9]+\.sbatch \(2 nodes\)" "6 GPUs at 4 per node make 2 nodes"
script=$(ls .aic/submit-*.sbatch | head -n 1)
like "$(cat "$script")" "#SBATCH --nodes=2" "the script asks for 2 nodes"
like "$(cat "$script")" "#SBATCH --aic-job=$dir/job.yaml" "with --aic-job"
like "$(cat "$script")" "srun --no-kill --ntasks-per-node=1 --mpi=pmix aic-launch" \
	"and runs aic-launch over PMIx, a lost node not ending the step"
like "$(cat "$script")" "#SBATCH --no-kill" "nor the job"
is "$(python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['state'])")" succeeded \
	"the job's summary says it succeeded"
is "$("$aic" logs train | sed 's/ on n[0-9]*$//' | sort | tr '\n' ' ')" \
	"train/0: rank 0 train/1: rank 1 train/2: rank 2 train/3: rank 3 train/4: rank 4 train/5: rank 5 " \
	"and every rank ran"
is "$("$aic" logs train | awk '{print $NF}' | sort -u | wc -l)" 2 "on two nodes"

# A spec in a directory whose name is shell and #SBATCH syntax: sbatch and
# the batch shell must both pass the path on as it is.
odd='o $(touch pwned) `touch pwned` "dq" '"'"'sq'"'"' #h'
mkdir "$odd"
cat >"$odd/job.yaml" <<SPEC
stages:
  a: {command: [sh, -c, "echo spec=\$AIC_JOB_SPEC"], ranks: 1, cpus: 0}
SPEC
out=$(cd "$odd" && "$aic" submit job.yaml --gpus-per-node 4 --wait -o "$dir/odd.out" 2>&1)
is "$?" 0 "aic submit of a spec in an oddly named directory runs"
diag "$out"
is "$(cd "$odd" && "$aic" logs a/0)" "spec=$dir/$odd/job.yaml" "the job got the spec path as it is"
is "$(find "$dir" -name pwned | wc -l)" 0 "nothing in the path was run"

err=$("$aic" submit job.yaml --gpus-per-node 0 2>&1)
is "$?" 2 "a per-node GPU count below a process's need is refused"
done_testing

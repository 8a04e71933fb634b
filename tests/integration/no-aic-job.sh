#!/bin/sh
# `srun aic-launch job.yaml` without --aic-job, as a new user would type it:
# the step gets GPUs from SLURM (--gres) but no topology XML from the SPANK
# plugin, and hwloc on the node sees none of the cluster's GPUs. The job
# must fail saying which node, which GPUs SLURM gave, what the topology
# shows and how to fix it; with --aic-job the same spec runs.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 1 2
plan 6
dir=$(work_dir)
launch="$AIC_BUILD_DIR/launcher/aic-launch"
cd "$dir" || bail "cannot enter $dir"
cat >job.yaml <<SPEC
name: no-aic-job
stages:
  g: {command: [sh, -c, 'echo ran'], gpus: 1, cpus: 0}
SPEC

# Without the SPANK plugin's topology, aic-launch reads the node's own.
timeout $step_timeout env -u AIC_TOPO_XML srun -N1 --ntasks-per-node=1 --gres=gpu:2 --mpi=pmix \
	"$launch" job.yaml >srun.out 2>srun.err
rc=$?
diag "$(cat srun.err)"
isnt "$rc" 0 "without --aic-job, a GPU job whose node topology shows no GPUs fails"
like "$(cat srun.err)" "node '[^']+' was given GPUs [0-9]+,[0-9]+, but its topology \(host '[^']+'\) shows no GPUs" \
	"saying which node, which GPUs it was given and what its topology shows"
like "$(cat srun.err)" "the GPUs are those SLURM gave the step \(SLURM_STEP_GPUS" \
	"and that the GPUs come from SLURM"
like "$(cat srun.err)" "run the step with --aic-job=SPEC.*AIC_TOPO_XML.*--gres=gpu:N" \
	"and how to fix it"
like "$(cat srun.out)" "failed: a node's GPUs do not match its topology" "the summary says why"

timeout $step_timeout srun -N1 --ntasks-per-node=1 --gres=gpu:2 --mpi=pmix --aic-job=job.yaml \
	"$launch" >srun2.out 2>srun2.err
is "$?" 0 "with --aic-job the same spec runs"
done_testing

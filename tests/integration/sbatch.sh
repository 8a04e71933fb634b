#!/bin/sh
# sbatch of a multi-node script: the batch step runs on the first node, its
# srun (with PMIx) reaches every node, the job completes and its output and
# exit code are what the script produced.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 8
dir=$(work_dir)
hello="$AIC_BUILD_DIR/tests/integration/pmix_hello"

cat >"$dir/job.sh" <<JOB
#!/bin/sh
#SBATCH -N3
#SBATCH --ntasks-per-node=1
#SBATCH -o $dir/job.out
echo "batch on \$SLURMD_NODENAME nodes \$SLURM_JOB_NODELIST"
srun --mpi=pmix "$hello" | grep '^rank [0-9]* of ' | sort
echo "batch done"
JOB
out=$(timeout $step_timeout sbatch --wait --parsable "$dir/job.sh" 2>&1)
is "$?" 0 "sbatch --wait of a 3-node job exits 0"
job=$(printf '%s\n' "$out" | tail -n 1)
diag "job $job output:"
diag "$(cat "$dir/job.out")"
first=$(sinfo -h -N -o '%N' | sort | head -n 1)
like "$(head -n 1 "$dir/job.out")" "^batch on $first nodes " "the batch step runs on the first node"
is "$(grep -c '^rank [0-9]* of 3 ' "$dir/job.out")" 3 "the batch's srun ran three PMIx ranks"
is "$(awk '/^rank/ {print $8}' "$dir/job.out" | sort -u | wc -l)" 3 "on three nodes"
is "$(tail -n 1 "$dir/job.out")" "batch done" "the script ran to its end"
like "$(scontrol -o show job "$job")" "JobState=COMPLETED .*" "slurmctld records the job COMPLETED"

cat >"$dir/fail.sh" <<JOB
#!/bin/sh
#SBATCH -N3
#SBATCH -o $dir/fail.out
srun true
exit 3
JOB
out=$(timeout $step_timeout sbatch --wait --parsable "$dir/fail.sh" 2>&1)
is "$?" 3 "sbatch --wait returns the script's exit code 3"
job=$(printf '%s\n' "$out" | grep -E '^[0-9]+$' | tail -n 1)
like "$(scontrol -o show job "$job")" "JobState=FAILED .*ExitCode=3:0" "slurmctld records FAILED with 3:0"
done_testing

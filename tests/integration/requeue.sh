#!/bin/sh
# A requeued job (`scontrol requeue`: same job id, SLURM_RESTART_COUNT 1)
# runs again in the job directory its first run made, instead of failing
# with "cannot make the job directory ...: File exists": its logs hold both
# runs and its summary is the second run's.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 1
plan 7
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"
export PATH="$AIC_BUILD_DIR/launcher:$PATH"

# The first run waits to be requeued; the second finishes.
cat >job.yaml <<'SPEC'
name: requeued
stages:
  a:
    command: [sh, -c, 'echo "run ${SLURM_RESTART_COUNT:-0}"; if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then touch started; exec sleep 600; fi']
    ranks: 1
    cpus: 0
SPEC
cat >job.sh <<JOB
#!/bin/sh
#SBATCH -N1
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH -o $dir/job.out
#SBATCH --aic-job=$dir/job.yaml
srun --ntasks-per-node=1 --mpi=pmix aic-launch $dir/job.yaml
JOB
job=$(sbatch --parsable job.sh) || bail "sbatch failed"
wait_for 120 test -e started || bail "the first run did not start its worker"
requeue_job "$job"
wait_for 180 job_is "$job" COMPLETED
is "$(job_field "$job" JobState)" COMPLETED "the requeued job completes"
diag "$(cat job.out)"
jd=".aic/$job.0"
ok "no run fails on its old job directory" sh -c '! grep "File exists" job.out'
is "$(cat "$jd/logs/a.0.log" | tr '\n' ' ')" "run 0 run 1 " "one job directory holds both runs' logs"
is "$(python3 -c "import json; print(json.load(open('$jd/summary.json'))['state'])")" succeeded \
	"its summary is the second run's"
is "$(readlink .aic/latest)" "$job.0" ".aic/latest still points at it"
is "$(stat -c %a "$jd") $(stat -c %a "$jd/token")" "700 600" "it stays private"
is "$(ls -d .aic/*.*/ | wc -l)" 1 "and no second directory was made"
done_testing

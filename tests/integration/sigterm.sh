#!/bin/sh
# A cancel or a time limit under SLURM: slurmstepd sends SIGTERM to every
# process of the step, in no set order, and the job must end "cancelled",
# never "failed" (launcher/engine/agent.c, exited). First node 3's
# aic-launch alone gets it, as when slurmstepd reaches that agent before
# the head: the workers it then stops end cancelled, and the head ends the
# job so instead of counting failures and losing the node. Then scancel
# --signal=TERM reaches every process of the step: cancelled too.
. "$AIC_SRC_DIR/tests/lib/engine-job.sh"
need_cluster 3 4
plan 8
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"
mkdir -p out

go_worker <<WORKER
echo "\$\$" >"$dir/out/\$AIC_INDEX.pid"
WORKER
cat >job.yaml <<SPEC
name: sigterm-test
stages:
  w: {command: [sh, $dir/worker.sh], replicas: 3, gpus: 4, cpus: 0, restart: {max: 3, backoff_ms: 50}}
SPEC

all_started() { [ "$(ls out/*.pid 2>/dev/null | wc -l)" -eq 3 ]; }
state() { status_field "$dir" "d['state']"; }

# Node 3's agent first.
srun_step 120 first job.yaml --gres=gpu:4 &
srun_pid=$!
wait_for 60 all_started || bail "the 3 workers did not start: $(tail -n 5 first.err)"
victim=$(agent_of 2)
ok "found node 3's aic-launch" [ -n "$victim" ]
kill -TERM "$victim"
wait $srun_pid
ok "the job ends (srun exits non-zero)" [ $? -ne 0 ]
like "$(cat first.err)" "error: job cancelled: cancelled \(SIGTERM\): stage 'w' replica [0-9] on [^ ]+ and its agent were stopped by a signal" \
	"the head ends it cancelled, naming the node whose agent was stopped"
is "$(state)" cancelled "status.json says cancelled"
ok "no worker is left" wait_for 20 no_workers

# scancel --signal=TERM: every process of the step at once.
rm -rf out .aic/latest && mkdir out
job=$(sbatch_job job.yaml)
wait_for 60 all_started || bail "the batch job's 3 workers did not start"
scancel --signal=TERM "$job"
ok "the job ends after scancel --signal=TERM" wait_for 60 job_ended "$job"
is "$(state)" cancelled "cancelled, whichever process the signal reached first"
ok "no worker is left" wait_for 20 no_workers

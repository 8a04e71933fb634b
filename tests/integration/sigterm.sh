#!/bin/sh
# A cancel or a time limit under SLURM: slurmstepd sends SIGTERM to every
# process of the step, in no set order, and the job must end "cancelled",
# never "failed" (launcher/engine/agent.c, exited). First node 3's
# aic-launch alone gets it, as when slurmstepd reaches that agent before
# the head: the workers it then stops end cancelled, and the head ends the
# job so instead of counting failures and losing the node. Then scancel
# --signal=TERM reaches every process of the step: cancelled too.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 8
dir=$(work_dir)
launch="$AIC_BUILD_DIR/launcher/aic-launch"
cd "$dir" || bail "cannot enter $dir"
mkdir -p out

cat >worker.sh <<WORKER
#!/bin/sh
echo "\$\$" >"$dir/out/\$AIC_INDEX.pid"
while [ ! -e "$dir/go" ]; do sleep 0.1; done
WORKER
cat >job.yaml <<SPEC
name: sigterm-test
stages:
  w: {command: [sh, $dir/worker.sh], replicas: 3, gpus: 4, cpus: 0, restart: {max: 3, backoff_ms: 50}}
SPEC

all_started() { [ "$(ls out/*.pid 2>/dev/null | wc -l)" -eq 3 ]; }
# Workers and aic-launch processes of this test, on any node: the nodes share this machine's processes.
no_workers() { ! pgrep -f "$dir/worker.sh" >/dev/null; }
state() {
	python3 -c "import json; print(json.load(open('$dir/.aic/$(readlink .aic/latest)/status.json'))['state'])"
}

# Node 3's agent first.
timeout 120 srun -N3 --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix \
	--aic-job=job.yaml "$launch" >first.out 2>first.err &
srun_pid=$!
wait_for 60 all_started || bail "the 3 workers did not start: $(tail -n 5 first.err)"
victim=$(pgrep -f "$launch" | while read -r p; do
	[ "$(readlink /proc/$p/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
		tr '\0' '\n' <"/proc/$p/environ" | grep -qx 'SLURM_NODEID=2' && echo "$p"
done | head -n 1)
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
cat >batch.sh <<BATCH
#!/bin/sh
#SBATCH -N3
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --gres=gpu:4
#SBATCH -o $dir/batch.out
srun --mpi=pmix "$launch"
BATCH
job=$(sbatch --parsable --aic-job=job.yaml batch.sh)
wait_for 60 all_started || bail "the batch job's 3 workers did not start"
scancel --signal=TERM "$job"
job_gone() { ! squeue -h -j "$job" | grep -q .; }
ok "the job ends after scancel --signal=TERM" wait_for 60 job_gone
is "$(state)" cancelled "cancelled, whichever process the signal reached first"
ok "no worker is left" wait_for 20 no_workers

#!/bin/sh
# SIGTERM as a notice on the cluster (checkpoint.term_grace_s): a running
# examples/grpo-toy job, submitted with aic submit, is requeued with
# `scontrol requeue` (SLURM sends SIGTERM to the batch script and every
# process of the step, SIGKILL KillWait later): every stage checkpoints in
# term_grace_s, the run ends checkpointed saying SIGTERM, and the requeued
# run resumes from the checkpoint (step numbers continue, the reward goes
# on). Then `scancel` of a running aic submit job whose spec checkpoints:
# the job checkpoints and ends CANCELLED, not requeued by its script.
#
# The test cluster's KillWait is 5 s: term_grace_s is 4.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 1
plan 7
/usr/bin/python3 -c 'import numpy' 2>/dev/null || bail "Debian's python3-numpy is missing (scripts/deps)"
dir=$(work_dir)
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
grpo_copy "$dir" 4 0
sed -i -e 's/{BATCH: 16, LR: 4,/{BATCH: 16, LR: 4, STEP_DELAY_S: 1,/' \
	-e 's/^checkpoint: {grace_s: 20}/checkpoint: {grace_s: 20, term_grace_s: 4}/' "$dir/job.yaml"
grep -q 'term_grace_s: 4' "$dir/job.yaml" || bail "cannot set job.yaml's term_grace_s"
cd "$dir" || bail "cannot enter $dir"
export PATH="$AIC_BUILD_DIR/launcher:$PATH"

field() { job_field "$job" "$1"; }
ended() { case "$(field JobState)" in RUNNING | COMPLETING | CONFIGURING | PENDING | REQUEUED) return 1 ;; esac; }
at_step() {
	s=$(grep -c '^step ' "$jd/logs/train.0.log" 2>/dev/null)
	[ "${s:-0}" -ge "$1" ]
}

"$aic" submit job.yaml --gpus-per-node 4 -t 10 -o "$dir/job.out" >submit.out 2>&1 ||
	bail "aic submit failed: $(cat submit.out)"
job=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' submit.out)
jd="$dir/.aic/$job.0"
wait_for 120 at_step 4 || bail "the trainer did not reach step 4 (job $job $(field JobState) $(field Reason)): $(cat job.out 2>/dev/null)"
requeue_job "$job"
wait_for 240 ended
is "$(field JobState)" COMPLETED "the requeued job completes"
diag "$(cat job.out)"
is "$(/usr/bin/python3 -c "
import json
print([r['state'] for r in json.load(open('$jd/state.json'))['runs']])")" \
	"['checkpointed', 'succeeded']" "its first run ended checkpointed, the second succeeded"
like "$(/usr/bin/python3 -c "
import json
print(json.load(open('$jd/state.json'))['runs'][0]['reason'])")" \
	"^SIGTERM .*; every stage checkpointed$" "on SLURM's SIGTERM, every stage saved in term_grace_s"
diag "$(grep -E '^(resumed|checkpoint)' "$jd/logs/train.0.log" | tr '\n' ';')"
is "$(grpo_resumes "$jd" 4)" "True 1" "the trainer resumed from its checkpoint's step, step numbers continuing"
ln -sfn "$job.0" .aic/latest
is "$(grpo_counts)" "400 100 4 4" "every prompt item is trained on exactly once over both runs"

# scancel: the job checkpoints, and its script does not requeue it.
mkdir c && cd c || bail "cannot make $dir/c"
cat >w.py <<'PY'
import aic, time
w = aic.connect()
open("started", "w").close()
while True:
    if w.checkpoint_requested():
        w.checkpoint_done(None)
    time.sleep(0.1)
PY
printf 'name: c\ncheckpoint: {term_grace_s: 4}\nstages:\n  a: {command: [/usr/bin/python3, w.py], ranks: 1, cpus: 0}\n' >job.yaml
"$aic" submit job.yaml --gpus-per-node 4 -t 10 -o "$dir/c/job.out" >submit.out 2>&1 ||
	bail "aic submit failed: $(cat submit.out)"
job=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' submit.out)
wait_for 120 test -e started || bail "the worker did not start: $(cat job.out 2>/dev/null)"
scancel "$job"
# Until the batch script and every step are gone (COMPLETING ends then).
wait_for 60 ended
is "$(field JobState) $(field Restarts)" "CANCELLED 0" "scancel: the job ends CANCELLED, not requeued"
is "$(/usr/bin/python3 -c "
import json
r = json.load(open('.aic/$job.0/state.json'))['runs']
print(len(r), r[0]['state'], r[0]['reason'].split(' ')[0])")" "1 checkpointed SIGTERM" \
	"after checkpointing on the SIGTERM"
done_testing

#!/bin/sh
# examples/grpo-toy resumed where the trainer's first step after the resume
# holds only groups it trained on before the stop: the prompts read again
# since the earliest stage's checkpoint mark (with STEP_DELAY_S, rollout and
# reward answer the request a whole step before the trainer saves, so a
# whole step's prompts come again). Such a step updates nothing; the trainer
# must still publish a version, or rollout, which waits for the next
# version after its share of a step, and the trainer, which waits for
# groups, wait on each other: for WEIGHTS_WAIT_S (2 s as shipped) before
# rollout goes on with old weights. Here WEIGHTS_WAIT_S is an hour, so that
# such a wait is a hang, not a slow step: each resumed run must take a step.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
enter_work_dir grpo-resume-dups
plan 6

grpo_copy "$dir/r" 8 0
cd "$dir/r" || bail "no $dir/r"
sed -i -e 's/{BATCH: 16, LR: 4,/{BATCH: 16, LR: 4, STEP_DELAY_S: 0.3,/' \
	-e 's/QUOTA: 8,/QUOTA: 8, WEIGHTS_WAIT_S: 3600,/' job.yaml
grep -q 'WEIGHTS_WAIT_S: 3600' job.yaml && grep -q 'STEP_DELAY_S: 0.3' job.yaml ||
	bail "cannot set STEP_DELAY_S and WEIGHTS_WAIT_S in job.yaml"
steps() { grep -c '^step' .aic/latest/logs/train.0.log 2>/dev/null; }
steps_at_least() { [ "$(steps)" -ge "$1" ]; }
# Versions published with the same weights: steps that held only duplicates.
same_weights() { grep -c 'the same weights' .aic/latest/logs/train.0.log 2>/dev/null; }

"$aic" run job.yaml >>run.out 2>>run.err &
pid=$!
wait_for 60 steps_at_least 4 || diag "no step 4: $(tail -n 3 run.err)"
"$aic" stop --checkpoint >/dev/null
wait $pid
is "$?" 75 "grpo-toy stopped with a checkpoint after 4 steps: exit 75"
jd=$(readlink -f .aic/latest)
# Up to three resumes, until one began with a step of duplicates only (each
# does here, as a rule; fewer would test less, not wrongly).
stalled=0 resumes=0
while [ $resumes -lt 3 ] && [ "$(same_weights)" -eq 0 ]; do
	n=$(steps)
	"$aic" run --resume "$jd" job.yaml >>run.out 2>>run.err &
	pid=$!
	resumes=$((resumes + 1))
	wait_for 60 steps_at_least $((n + 2)) || stalled=$((stalled + 1))
	"$aic" stop --checkpoint >/dev/null
	wait $pid
done
diag "$resumes resumes; versions with the same weights (steps of duplicates only): $(same_weights)"
is "$stalled" 0 "every resumed run took its steps, whatever it read again"
timeout 120 "$aic" run --resume "$jd" job.yaml >>run.out 2>>run.err
is "$?" 0 "resumed once more, it runs to its end"
is "$(grpo_counts)" "800 100 8 8" "every prompt item is trained on exactly once over all the runs"
ok "prompts read again were dropped as duplicates: $(grpo_field duplicates)" [ "$(grpo_field duplicates)" -ge 1 ]
is "$(grpo_resumes "$jd" 4 | cut -d' ' -f1)" True "each resumed run went on from its checkpoint's step and version"
done_testing

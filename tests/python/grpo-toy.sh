#!/bin/sh
# examples/grpo-toy under `aic run`, shortened: the reward rises from chance
# to near solved, every prompt item is trained on exactly once, the CSV and
# the PNG are written; then again with a rollout replica killed (-9)
# mid-run: learning goes on and no prompt is lost; a training rank killed:
# the job fails (the toy has no checkpoint to restart from).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
enter_work_dir grpo
plan 19

grpo_copy "$dir/plain" 6 0
cd "$dir/plain" || bail "no $dir/plain"
start=$(date +%s)
"$aic" run job.yaml >run.out 2>run.err
is "$?" 0 "grpo-toy, 100 prompts x 6 epochs: the job succeeds"
diag "$(($(date +%s) - start)) s; $("$aic" logs train/0 | grep summary:)"
ok "reward.csv has a row per step" [ "$(wc -l <.aic/latest/reward.csv)" -gt 20 ]
is "$(python3 -c "
import json
m = json.load(open('.aic/latest/summary.json'))['metrics']['train']['reward']
rows = open('.aic/latest/reward.csv').read().split()[1:]
print(m['n'] == len(rows), m['last_step'] == len(rows), abs(m['last'] - float(rows[-1].split(',')[1])) < 1e-3)")" \
	"True True True" "and the same rewards went to metrics.jsonl and summary.json (w.metric)"
ok "reward.png is a PNG" sh -c 'head -c 8 .aic/latest/reward.png | grep -q PNG'
diag "mean reward, first 5 steps -> last 5: $(grpo_rewards)"
ok "the reward rises from near chance (< 0.3) to near solved (>= 0.8)" grpo_learned
is "$(grpo_counts)" "600 100 6 6" \
	"every prompt item is trained on exactly once (100 prompts, 6 epochs)"
is "$(grpo_stale)" 0 "no sample was dropped as stale (max_staleness: 1)"
ok "the training gang exchanges once a step, the gradient with the prompt keys" \
	[ "$(grpo_field exchanges)" -lt $((2 * $(grpo_field steps))) ]

# run_and_kill NAME STAGE INDEX STEP: runs a copy (with pretend generation
# time, so it lasts a few seconds), kills STAGE/INDEX with SIGKILL once
# training reaches STEP, and sets $rc to the job's exit status.
run_and_kill() {
	grpo_copy "$dir/$1" 6 0.01
	cd "$dir/$1" || bail "no $dir/$1"
	"$aic" run job.yaml >run.out 2>run.err &
	job=$!
	rk_step=$4
	at_step() { grep -q "^step $rk_step " .aic/latest/logs/train.0.log; }
	pid=$(kill_when "$2" "$3" at_step)
	ok "$2/$3 killed at step $4 (pid ${pid:-none})" [ -n "$pid" ]
	wait "$job"
	rc=$?
}

# A rollout replica killed mid-run: aic restarts it, its un-acked prompts
# are delivered again, and train drops any group made twice.
run_and_kill rollout rollout 0 10
is "$rc" 0 "a rollout replica killed mid-run: the job still succeeds"
like "$(cat run.err)" "stage 'rollout' replica 0 .*(killed|signal|status)" "aic saw the replica die"
like "$(cat run.err)" "restarting stage 'rollout' replica 0" "and restarted it"
diag "$("$aic" logs train/0 | grep summary:)"
ok "learning still reaches near solved" grpo_learned
is "$(grpo_counts)" "600 100 6 6" \
	"no prompt is lost and none is trained on twice"
is "$(grpo_stale)" 0 "no sample was dropped as stale"

# A training rank killed: without a checkpoint the gang cannot resume, and
# the spec says restart: {max: 0}, so the job fails rather than start over.
run_and_kill train train 1 5
is "$rc" 1 "a training rank killed: the job fails"
like "$(cat run.err)" "stage 'train'.* failed" "naming the training stage"
is "$(/usr/bin/python3 -c "import json; print(sum(p['state'] == 'running' for p in json.load(open('.aic/latest/status.json'))['procs']))")" \
	0 "and nothing is left running"
done_testing

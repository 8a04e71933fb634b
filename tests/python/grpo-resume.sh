#!/bin/sh
# examples/grpo-toy stopped twice with `aic stop --checkpoint` and resumed
# with `aic run --resume` (as a job requeued after its time limit is): the
# trainer resumes from its checkpoint (weights, version, what it trained
# on, the reward history), so the reward curve goes on where it stopped
# instead of starting again at chance, its step numbers continue in
# reward.csv and metrics.jsonl, every prompt item is still trained on
# exactly once, and the run ends as learned as an uninterrupted one. Each
# resumed run reads the prompts again only from where the checkpoints'
# marks left them (state.json's checkpoints.*.sources), not from the
# start: few prompts come to the trainer twice (it drops them by origin),
# where reading from the start would bring every prompt trained on before
# (over 400 of the 600) a second time.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
enter_work_dir grpo-resume
plan 10

# Pretend generation time, so that a run lasts long enough to be stopped twice.
grpo_copy "$dir/r" 6 0.03
cd "$dir/r" || bail "no $dir/r"
grpo_run_until 8
is "$rc" 75 "grpo-toy stopped with a checkpoint after 8 steps: exit 75"
jd=$(readlink -f .aic/latest)
grpo_run_until 20 --resume "$jd"
is "$rc" 75 "resumed, and stopped again after 20 steps in all"
"$aic" run --resume "$jd" job.yaml >>run.out 2>>run.err
is "$?" 0 "resumed again, it runs to its end"
is "$(python3 -c "import json; print([r['state'] for r in json.load(open('$jd/state.json'))['runs']])")" \
	"['checkpointed', 'checkpointed', 'succeeded']" "the journal holds the three runs"

diag "$(grep -E '^(resumed|checkpoint)' "$jd/logs/train.0.log" | tr '\n' ';')"
# Each resumed run starts from the step and version its checkpoint holds.
is "$(grpo_resumes "$jd" 8) $(grep -c '^step ' "$jd/logs/train.0.log" | awk '{ print ($1 > 20) ? "True" : "False" }')" \
	"True 2 True" "step numbers continue across runs, from each checkpoint's step and version"
is "$(python3 - "$jd" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/reward.csv")))
steps = [int(r["step"]) for r in rows]
pts = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
msteps = [p["step"] for p in pts if p["name"] == "reward"]
m = json.load(open(sys.argv[1] + "/summary.json"))["metrics"]["train"]["reward"]
print(steps == list(range(1, len(steps) + 1)), msteps == steps, m["n"] == len(steps))
PY
)" "True True True" "reward.csv, metrics.jsonl and summary.json hold every step once"
# No restart at chance (0.1): after the second stop, at 20 steps, the policy
# is well past it, and the steps right after resuming stay there.
ok "the reward after the second resume does not fall back to chance" python3 - "$jd" <<'PY'
import re, sys
log = open(sys.argv[1] + "/logs/train.0.log").read().splitlines()
at = [int(m.group(1)) for m in (re.match(r"resumed from version \d+, step (\d+)", l) for l in log) if m][-1]
r = [float(l.split()[3]) for l in log if l.startswith("step ")]
sys.exit(not (sum(r[at:at + 3]) / 3 >= 0.3 and sum(r[at:at + 3]) / 3 >= sum(r[at - 3:at]) / 3 - 0.2))
PY
diag "mean reward, first 5 steps -> last 5: $(grpo_rewards)"
ok "the reward rises from near chance (< 0.3) to near solved (>= 0.8), as without stops" grpo_learned
is "$(grpo_counts)" "600 100 6 6" "every prompt item is trained on exactly once over the three runs"
# At each stop: at most a step or two of prompts done after the earliest
# mark (the trainer's begin, the stateless stages' answers), 16 each.
dups=$(grpo_field duplicates)
ok "the resumed runs read few prompts twice ($dups of 600), not the source from its start" \
	[ "$dups" -lt 100 ]
done_testing

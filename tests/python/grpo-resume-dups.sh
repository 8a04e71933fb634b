#!/bin/sh
# examples/grpo-toy resumed where the trainer's first step after the resume
# holds only groups it trained on before the stop: the checkpoint's marks
# came before the saved step's acks (a SIGTERM's notice marks at the
# trainer's first poll, an unasked save may mark before another rank's
# acks are in, a mark may reach the acker before another node's acks), so
# the resumed run reads that step's prompts again. Such a step updates
# nothing; the trainer must still publish a version, or rollout, which
# waits for the next version after its share of a step, and the trainer,
# which waits for groups, wait on each other: for WEIGHTS_WAIT_S (2 s as
# shipped) before rollout goes on with old weights. Here WEIGHTS_WAIT_S is
# an hour, so that such a wait is a hang, not a slow step: each resumed run
# must take a step. A stop with `aic stop --checkpoint` marks after every
# rank's acks (grpo-resume-marks.sh), so before each resume the test puts
# the last lines trained on back into the checkpoint's progresses
# (state.json), as such an early mark leaves them.
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
# Versions published with the same weights: steps that held only duplicates.
same_weights() { grep -c 'the same weights' .aic/latest/logs/train.0.log 2>/dev/null; }

grpo_run_until 4
is "$rc" 75 "grpo-toy stopped with a checkpoint after 4 steps: exit 75"
jd=$(readlink -f .aic/latest)
# read_again: the 16 last lines (a step's) the ranks trained on are not
# done in the train checkpoint's progresses: a resume reads them again.
read_again() {
	/usr/bin/python3 - "$jd/state.json" <<'PY' || bail "cannot edit $jd/state.json"
import json, os, sys
path = sys.argv[1]
s = json.load(open(path))
ck = s["checkpoints"]["train"]
seen = set()
for rank, v in enumerate(ck["versions"]):
    with open(os.path.join(ck["dir"], "rank%d.%d.json" % (rank, v))) as f:
        seen |= set(tuple(k) for k in json.load(f)["seen"])
last = sorted(seen)[-16:]
for p in ck["sources"]:
    u = set(tuple(l) for l in p["prompts"]["unfinished"]) | set(last)
    p["prompts"]["unfinished"] = [list(l) for l in sorted(u)]
with open(path + ".tmp", "w") as f:
    json.dump(s, f)
os.rename(path + ".tmp", path)
PY
}
# Up to three resumes, until one began with a step of duplicates only (each
# does here, as a rule; fewer would test less, not wrongly).
stalled=0 resumes=0
while [ $resumes -lt 3 ] && [ "$(same_weights)" -eq 0 ]; do
	n=$(grpo_steps)
	read_again
	"$aic" run --resume "$jd" job.yaml >>run.out 2>>run.err &
	pid=$!
	resumes=$((resumes + 1))
	wait_for 60 grpo_steps_at_least $((n + 2)) || stalled=$((stalled + 1))
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

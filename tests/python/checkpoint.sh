#!/bin/sh
# Checkpoints under `aic run`: `aic stop --checkpoint` asks every worker
# (w.checkpoint_requested), records what they saved (w.checkpoint_done) in
# state.json and ends the job "checkpointed" (exit 75); `aic run --resume`
# starts each worker with AIC_RESUME naming its checkpoint, metrics and
# history continue, and a finished job is not run again. A gang counts only
# when every rank saved (none counted otherwise), and a spec changed
# incompatibly is refused with what changed. A stateful worker's source
# lines: the resumed run reads again exactly those its checkpoint does not
# hold, a line it acked after its checkpoint_begin (the state taken) but
# before its checkpoint_done included, and not the ones before. A worker
# that keeps no state answers with checkpoint_done(None): no checkpoint.
# A worker restarted within the run reports without a mark of its own: its
# earlier start's mark does not go with it, and the lines only that start
# took in are read again. A gang's checkpoint goes with each rank's own
# mark: lines a rank acked after its save, before the last rank's report
# made the gang's count, are read again.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
enter_work_dir checkpoint
plan 26

# The workers step and save their step (tests/lib/workers/stepper.py); a
# gang's ranks save the same version. SKIP_RANK never answers; run 2 ends 5
# steps after where it resumed.
spec() {
	cat <<YAML
name: ck
checkpoint: {grace_s: $1}
stages:
  train:
    command: [python3, $workers_dir/stepper.py]
    ranks: $2
    cpus: 0
    env: {SKIP_RANK: "$3", RUN_TO: "$4"}
  roll: {command: [python3, $workers_dir/stepper.py], replicas: 2, cpus: 0, env: {RUN_TO: "$4"}}
YAML
}
# run_until_saved YAML LOG PROC: runs YAML (output in LOG.out, LOG.err)
# and, once PROC's log says it saved, stops it with a checkpoint; sets $jd;
# returns aic run's exit status.
saved() { "$aic" logs "$1" 2>/dev/null | grep -q '^saved'; }
run_until_saved() {
	"$aic" run "$1" >"$2.out" 2>"$2.err" &
	pid=$!
	wait_for 30 saved "$3"
	jd=$(readlink -f .aic/latest)
	"$aic" stop --checkpoint >/dev/null 2>&1
	wait $pid
}

spec 60 2 "" "" >ck.yaml
"$aic" run ck.yaml >run1.out 2>run1.err &
pid=$!
wait_for 30 workers_ready 4 || diag "the workers did not start: $(cat run1.err)"
jd=$(readlink -f .aic/latest)
out=$("$aic" stop --checkpoint 2>&1)
is "$out" "aic: checkpoint and stop sent to the job in $jd" "aic stop --checkpoint is sent"
wait $pid
is "$?" 75 "the job ends with exit code 75 (requeue me)"
is "$(python3 -c "import json; print(json.load(open('$jd/summary.json'))['state'])")" checkpointed \
	"its summary says checkpointed"
is "$(aic_state "s['checkpoints']['train']['versions']")" "[1, 1]" "both ranks of the gang saved version 1"
roll=$(aic_state "s['checkpoints']['roll']['versions']")
like "$roll" '^\[[0-9]+, [0-9]+\]$' "each replica saved its own step ($roll)"
is "$(aic_state "[r['state'] for r in s['runs']]")" "['checkpointed']" "the journal has the run"
is "$(stat -c %a "$jd/checkpoints/train") $(ls "$jd/checkpoints/train" | sort | tr '\n' ' ')" \
	"700 0.1 1.1 " "the gang saved into its stage's private checkpoint directory"

rm -f ready.*
spec 60 2 "" yes >ck.yaml
"$aic" run --resume "$jd" ck.yaml >run2.out 2>run2.err
is "$?" 0 "aic run --resume runs the job to its end"
is "$("$aic" logs train/0 | grep -c '^start resume 1 ')$("$aic" logs train/1 | grep -c '^start resume 1 ')" \
	11 "the gang's ranks resume from version 1 (AIC_RESUME)"
r0=$(echo "$roll" | tr -d '[] ' | cut -d, -f1)
like "$("$aic" logs roll/0 | tail -n +2)" "start resume $r0 step $r0 dir roll" \
	"a replica resumes from its own step in its stage's directory"
is "$(python3 - "$jd" "$r0" <<'PY'
import json, sys
pts = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
steps = [p["step"] for p in pts if p["stage"] == "roll" and p["index"] == 0]
r0 = int(sys.argv[2])
# Run 1 counted from 1 past r0 (it kept stepping until asked); run 2 from r0 + 1 on.
print(steps[0], steps.index(r0 + 1) < len(steps), steps[-5:] == list(range(r0 + 1, r0 + 6)))
PY
)" "1 True True" "metrics continue: run 2's steps follow the checkpoint's"
is "$(aic_state "[r['state'] for r in s['runs']], [r['run'] for r in s['runs']]")" \
	"['checkpointed', 'succeeded'] [0, 1]" "the journal has both runs"
is "$("$aic" status --job "$jd" | sed -n 's/^\(run [0-9]*: [a-z]*\).*/\1/p' | tr '\n' ' ')" \
	"run 0: checkpointed run 1: succeeded " "aic status shows the job's runs"
like "$(python3 -c "import json; print(json.load(open('$jd/summary.json'))['metrics']['roll']['step']['n'])")" \
	'^[0-9]+$' "the summary's metrics count both runs"

"$aic" run --resume "$jd" ck.yaml >run3.out 2>run3.err
is "$?" 0 "a job that finished is not run again"
like "$(cat run3.out)" "finished in an earlier run" "and says why"

spec 60 3 "" yes >ck3.yaml
"$aic" run --resume "$jd" ck3.yaml >run4.out 2>run4.err
like "$?:$(tr '\n' ' ' <run4.err)" "^1:.*the spec changed since the job's earlier run.*stage 'train' ranks 2 -> 3" \
	"a spec with another gang size is refused, saying what changed"

# A rank that never answers: after grace_s the job ends, and the gang's
# checkpoint does not count for any rank (the replicas' do). The notice is
# SLURM's: SIGUSR1 to every process of the step, workers included (which
# ignore it and hear of the checkpoint from the engine).
rm -f ready.*
spec 1 2 1 "" >skip.yaml
"$aic" run skip.yaml >run5.out 2>run5.err &
pid=$!
wait_for 30 workers_ready 4 || diag "the workers did not start: $(cat run5.err)"
pids=$("$aic" status --json | python3 -c 'import json, sys; print(*[p["pid"] for p in json.load(sys.stdin)["procs"]])')
kill -USR1 $pids $pid
wait $pid
is "$?:$(aic_state "s['checkpoints']['train']['versions'], None not in s['checkpoints']['roll']['versions']")" \
	"75:[None, None] True" "a gang with a rank that did not save counts for none of them"

# A worker that takes in lines 1-3, takes its state (checkpoint_begin),
# acks lines 4 and 5 (done, but not in the state), then saves and reports.
# The resumed run must read 4 and 5 again (a snapshot at the report would
# lose them) and not 1-3 (its checkpoint holds them).
cat >idle.py <<'PY'
import aic, os, time
w = aic.connect()
print("resume", aic.resume(), flush=True)
while not os.path.exists("run1.done"):
    if w.checkpoint_requested():
        w.checkpoint_done(None)
    time.sleep(0.05)
PY
seq 1 20 | sed 's/.*/{"n": &}/' >lines.jsonl
cat >keep.yaml <<YAML
name: keep
checkpoint: {grace_s: 1}
stages:
  keep: {command: [python3, $workers_dir/line_checkpoints.py, keep], cpus: 0, inputs: [lines]}
  idle: {command: [python3, $dir/idle.py], cpus: 0}
channels:
  lines: {source: $dir/lines.jsonl, capacity: 4}
YAML
run_until_saved keep.yaml run6 keep/0
is "$?:$(aic_state "s['checkpoints']['keep']['versions']")" "75:[1]" \
	"the stateful worker's checkpoint counts ($("$aic" logs keep/0 | grep '^saved'))"
touch run1.done
"$aic" run --resume "$jd" keep.yaml >run7.out 2>run7.err
is "$?:$("$aic" logs keep/0 | grep '^line' | head -n 2 | tr '\n' ' ')" "0:line 4 line 5 " \
	"resumed, it reads lines 4 and 5 again (acked after its state was taken), not 1-3"
is "$(aic_state "s['checkpoints']['idle']['versions']") $("$aic" logs idle/0 | sort -u)" "[None] resume None" \
	"a worker that answered with checkpoint_done(None) has no checkpoint, and starts afresh"
is "$("$aic" logs keep/0 | python3 -c '
import sys
lines = [int(l.split()[1]) for l in sys.stdin if l.startswith("line ")]
print(sorted(lines) == list(range(4, 21)))')" True "and every line after, each once: none lost"

# Its first start takes in lines 1-5 (a mark after line 3) and dies before
# it saves; the restart takes line 6 and saves it, with no mark of its own.
mkdir again && cd again || bail "cannot make again/"
cat >again.yaml <<YAML
name: again
checkpoint: {grace_s: 1}
stages:
  again: {command: [python3, $workers_dir/line_checkpoints.py, again], cpus: 0, inputs: [lines], restart: {max: 1, backoff_ms: 100}}
channels:
  lines: {source: $dir/lines.jsonl, capacity: 4}
YAML
run_until_saved again.yaml run8 again/0
is "$?:$(aic_state "s['checkpoints']['again']['versions'], s['runs'][0]['restarts']")" \
	"75:[1] {'again': 1}" "restarted once, the worker saved a checkpoint ($("$aic" logs again/0 | grep '^saved'))"
"$aic" run --resume "$jd" again.yaml >run9.out 2>run9.err
is "$?:$("$aic" logs again/0 | python3 -c '
import sys
lines = [int(l.split()[1]) for l in sys.stdin if l.startswith("line ")]
print(sorted(set(lines) | {6}) == list(range(1, 21)), {1, 2, 3} <= set(lines))')" "0:True True" \
	"resumed, it reads again the lines its first start took in (1-5): none lost"
cd .. || bail "no .."

# Rank 0 takes in lines 1-2, saves, reports, then acks 3-4; only then does
# rank 1 mark, save and report, which makes the gang's checkpoint count.
mkdir gang && cd gang || bail "cannot make gang/"
cat >gang.yaml <<YAML
name: gang
checkpoint: {grace_s: 1}
stages:
  gang: {command: [python3, $workers_dir/line_checkpoints.py, gang], ranks: 2, cpus: 0, inputs: [lines]}
channels:
  lines: {source: $dir/lines.jsonl, capacity: 4}
YAML
run_until_saved gang.yaml run10 gang/1
is "$?:$(aic_state "s['checkpoints']['gang']['versions']")" "75:[1, 1]" \
	"the gang's checkpoint counts once rank 1 reports ($("$aic" logs gang/0 | grep '^saved'))"
"$aic" run --resume "$jd" gang.yaml >run11.out 2>run11.err
is "$?:$(cat "$jd"/logs/gang.*.log | python3 -c '
import sys
lines = [int(l.split()[1]) for l in sys.stdin if l.startswith("line ")]
print(sorted(lines) == list(range(3, 21)))')" "0:True" \
	"resumed, the gang reads 3 and 4 again (acked by rank 0 after its save) and every line after"
cd .. || bail "no .."
done_testing

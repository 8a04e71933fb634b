#!/bin/sh
# Checkpoints under `aic run`: `aic stop --checkpoint` asks every worker
# (w.checkpoint_requested), records what they saved (w.checkpoint_done) in
# state.json and ends the job "checkpointed" (exit 75); `aic run --resume`
# starts each worker with AIC_RESUME naming its checkpoint, metrics and
# history continue, and a finished job is not run again. A gang counts only
# when every rank saved (none counted otherwise), and a spec changed
# incompatibly is refused with what changed.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
enter_work_dir checkpoint
plan 18

# A gang's ranks save the same version (as ranks in lockstep do): the
# number of checkpoints so far; a replica saves its own step. SKIP_RANK
# never answers; run 2 ends 5 steps after where it resumed.
cat >ck.py <<'PY'
import aic, os, sys, time
w = aic.connect()
d, v = aic.checkpoint_dir(), aic.resume()
gang = w.stage == "train"
step = 0
if v is not None:
    with open(os.path.join(d, "%d.%d" % (w.index, v))) as f:
        step = int(f.read())
print("start resume %s step %d dir %s" % (v, step, os.path.basename(d)), flush=True)
first = step
def save(dir):
    version = (v or 0) + 1 if gang else step
    with open(os.path.join(dir, "%d.%d" % (w.index, version)), "w") as f:
        f.write(str(step))
        f.flush()
        os.fsync(f.fileno())
    print("saved", version, flush=True)
    return version
while True:
    step += 1
    w.metric("step", step, step)
    if step == first + 3:
        open("ready.%s.%d" % (w.stage, w.index), "w").close()
    if os.environ.get("SKIP_RANK") != str(w.index) and w.checkpoint(save):
        time.sleep(600)  # the job ends now
    if os.environ.get("RUN_TO") and step >= first + 5:
        break
    time.sleep(0.01)
PY
spec() {
	cat <<YAML
name: ck
checkpoint: {grace_s: $1}
stages:
  train:
    command: [python3, $dir/ck.py]
    ranks: $2
    cpus: 0
    env: {SKIP_RANK: "$3", RUN_TO: "$4"}
  roll: {command: [python3, $dir/ck.py], replicas: 2, cpus: 0, env: {RUN_TO: "$4"}}
YAML
}
# ready N: N workers have run 3 steps.
ready() { [ "$(ls ready.* | wc -l)" -ge "$1" ]; }
# state EXPR: a Python expression over state.json (s) of the newest job.
state() {
	python3 -c "import json; s = json.load(open('.aic/latest/state.json')); print($1)"
}

spec 60 2 "" "" >ck.yaml
"$aic" run ck.yaml >run1.out 2>run1.err &
pid=$!
wait_for 30 ready 4 || diag "the workers did not start: $(cat run1.err)"
jd=$(readlink -f .aic/latest)
out=$("$aic" stop --checkpoint 2>&1)
is "$out" "aic: checkpoint and stop sent to the job in $jd" "aic stop --checkpoint is sent"
wait $pid
is "$?" 75 "the job ends with exit code 75 (requeue me)"
is "$(python3 -c "import json; print(json.load(open('$jd/summary.json'))['state'])")" checkpointed \
	"its summary says checkpointed"
is "$(state "s['checkpoints']['train']['versions']")" "[1, 1]" "both ranks of the gang saved version 1"
roll=$(state "s['checkpoints']['roll']['versions']")
like "$roll" '^\[[0-9]+, [0-9]+\]$' "each replica saved its own step ($roll)"
is "$(state "[r['state'] for r in s['runs']]")" "['checkpointed']" "the journal has the run"
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
is "$(state "[r['state'] for r in s['runs']], [r['run'] for r in s['runs']]")" \
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
wait_for 30 ready 4 || diag "the workers did not start: $(cat run5.err)"
pids=$("$aic" status --json | python3 -c 'import json, sys; print(*[p["pid"] for p in json.load(sys.stdin)["procs"]])')
kill -USR1 $pids $pid
wait $pid
is "$?:$(state "s['checkpoints']['train']['versions'], None not in s['checkpoints']['roll']['versions']")" \
	"75:[None, None] True" "a gang with a rank that did not save counts for none of them"
done_testing

#!/bin/sh
# Stages that share GPUs in turns (colocate_with: {stage, mode: alternate})
# under `aic run`, on fake GPUs (an 8-GPU topology): a trainer and a
# rollout replica on one GPU, each taking and yielding it through
# tests/lib/workers/phase_turns.py, which prints every turn's timestamps.
# From those: the two are never inside at once on the same GPU, a rollout
# that wakes after a training turn sees the version it published, and
# w.phase_should_yield() cuts a long rollout at the batch the trainer asked
# in (not after its 100 batches). Then a rollout killed (-9) while it holds
# the GPU: the trainer goes on, and the rollout is restarted per its policy.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
enter_work_dir phases
plan 13
hgx="$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml"
check() { /usr/bin/python3 "$AIC_SRC_DIR/tests/lib/phase_check.py" "$@"; }

# spec NAME ROLLOUT_ENV: a trainer replica and a rollout replica alternating on one GPU.
spec() {
	cat >"$1.yaml" <<YAML
name: $1
stages:
  train:
    command: [/usr/bin/python3, $workers_dir/phase_turns.py]
    gpus: 1
    cpus: 0
    weights_to: w
    env: {ROLE: train, TURNS: 4, WORK_S: 0.05}
  rollout:
    command: [/usr/bin/python3, $workers_dir/phase_turns.py]
    gpus: 1
    cpus: 0
    weights_from: w
    colocate_with: {stage: train, mode: alternate}
    env: {ROLE: rollout, TURNS: 4, BATCHES: 100, BATCH_S: 0.02$2}
    restart: {max: 2, backoff_ms: 100}
YAML
}

spec alt ""
timeout 120 "$aic" run --topo "$hgx" alt.yaml >alt.out 2>alt.err
is "$?" 0 "a trainer and a rollout alternating on one GPU: the job succeeds"
logs=$(readlink -f .aic/latest)/logs
is "$(check stages "$logs")" "rollout=4 train=4" "each took its 4 turns"
is "$(check overlaps "$logs")" "0 8" "and never were both inside at once on the GPU"
is "$(check compose "$logs")" 0 "a rollout that woke after a training turn got the version it published"
cut=$(check cut "$logs" 100)
diag "rollout turns followed by a training turn, cut at the first yes, run whole: $cut"
like "$cut" "^([1-9]) \\1 0\$" "w.phase_should_yield() cut every such rollout turn where it first said yes"
is "$(python3 -c "
import json
p = json.load(open('.aic/latest/summary.json'))['phases'][0]
print(p['stages'], p['arbiter'], p['turns']['train']['count'], p['turns']['rollout']['count'],
      p['switches'] >= 1, p['turns']['train']['busy_ms'] > 0,
      sorted(set(e['event'] for e in p['timeline'])))")" \
	"['train', 'rollout'] agent 4 4 True True ['begin', 'end']" \
	"summary.json counts the turns, their time and the switches, with a timeline"

# A rollout killed while it holds the GPU: its connection closes, the GPU
# goes to the trainer, and the rollout is restarted (restart: {max: 2}).
spec crash ", CRASH_AT: 1"
timeout 120 "$aic" run --topo "$hgx" crash.yaml >crash.out 2>crash.err
is "$?" 0 "a rollout killed (-9) inside its turn: the job still succeeds"
logs=$(readlink -f .aic/latest)/logs
ok "it did crash holding the GPU" grep -q "crashing in turn 1" "$logs/rollout.0.log"
like "$(cat crash.err)" "restarting stage 'rollout' replica 0" "and was restarted per its policy"
is "$(check stages "$logs")" "rollout=5 train=4" \
	"the trainer took all its turns, the restarted rollout its own (1 before the crash)"
is "$(check overlaps "$logs")" "0 9" "never both inside at once"

# A stage that alternates with none holds its GPUs always: w.phase() goes in at once.
cat >solo.py <<'PY'
import aic
w = aic.connect()
for _ in range(3):
    with w.phase(release=lambda: print("released")):
        print("inside, asked to yield:", w.phase_should_yield())
try:
    w.phase_end()
except aic.Error as e:
    print("end outside a phase:", e.code)
PY
cat >solo.yaml <<YAML
name: solo
stages:
  solo: {command: [/usr/bin/python3, $dir/solo.py], gpus: 1, cpus: 0}
YAML
timeout 60 "$aic" run --topo "$hgx" solo.yaml >solo.out 2>solo.err
is "$?" 0 "a stage that alternates with none: w.phase() goes in at once"
is "$(sort .aic/latest/logs/solo.0.log | uniq -c | tr -s ' \n' ' ')" \
	" 1 end outside a phase: -22 3 inside, asked to yield: False 3 released " \
	"never asked to yield; release runs on the way out; an end outside a phase is -EINVAL"
done_testing

#!/bin/sh
# The C worker API's phases under `aic run` on fake GPUs (tests/c-api/worker.c
# phase): a trainer "t" and a rollout "r" sharing one GPU in turns
# (colocate_with: {stage: t, mode: alternate}) through aic_phase_begin,
# aic_phase_end and aic_phase_should_yield: never inside at once, the
# rollout sees the version the trainer published in the turn before, its
# long turns are cut at the first yes, and the misuses are refused.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
worker="$AIC_BUILD_DIR/tests/c-api/worker"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -x "$worker" ] || bail "no $worker"
enter_work_dir c-phases
plan 6
check() { /usr/bin/python3 "$AIC_SRC_DIR/tests/lib/phase_check.py" "$@"; }

cat >ph.yaml <<YAML
name: c-phases
stages:
  t: {command: [$worker, phase, 4], gpus: 1, cpus: 0, weights_to: w}
  r: {command: [$worker, phase, 4], gpus: 1, cpus: 0, weights_from: w,
      colocate_with: {stage: t, mode: alternate}}
YAML
timeout 120 "$aic" run --topo "$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml" ph.yaml \
	>run.out 2>run.err
is "$?" 0 "two C workers alternating on one GPU: the job succeeds"
logs=$(readlink -f .aic/latest)/logs
# phase_check.py knows the stages as train and rollout.
sed -i 's/^turn t /turn train /' "$logs/t.0.log"
sed -i 's/^turn r /turn rollout /' "$logs/r.0.log"
is "$(check overlaps "$logs")" "0 8" "never both inside at once"
is "$(check compose "$logs")" 0 "the rollout got the version the trainer published in the turn before"
like "$(check cut "$logs" 100)" "^([1-9]) \\1 0\$" "aic_phase_should_yield cut the rollout's turns at the first yes"
is "$(grep -h '^misuse' "$logs/t.0.log" "$logs/r.0.log" | sort | uniq -c | tr -s ' \n' ' ')" \
	" 2 misuse begin-inside ok 2 misuse end-outside ok " \
	"an end outside a phase is -EINVAL, a begin inside one -EALREADY"
is "$(python3 -c "
import json
p = json.load(open('.aic/latest/summary.json'))['phases'][0]
print(p['stages'], p['arbiter'], p['turns']['t']['count'], p['turns']['r']['count'])")" \
	"['t', 'r'] agent 4 4" "summary.json counts 4 turns each"
done_testing

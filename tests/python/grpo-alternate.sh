#!/bin/sh
# examples/grpo-toy in alternate mode (job-alternate.yaml) under `aic run`
# on fake GPUs (an 8-GPU topology): each rollout replica shares a training
# rank's GPU in turns, the training gang's ranks going in together (the
# head sequences a pair with a gang). From the turns' timestamps the
# workers print, rollout and training are never inside at once on the
# same GPU; the reward still rises from chance to >= 0.9, and every prompt
# is trained on exactly once.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
need_python_modules numpy matplotlib
enter_work_dir grpo-alt
plan 7
hgx="$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml"
check() { /usr/bin/python3 "$AIC_SRC_DIR/tests/lib/phase_check.py" "$@"; }

# u+w: make distcheck's source tree is read-only, and so would the copy be.
cp -r "$AIC_SRC_DIR/examples/grpo-toy/." . && chmod -R u+w . || bail "cannot copy the example"
sed -i "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: 0/" job-alternate.yaml
timeout 120 "$aic" run --topo "$hgx" job-alternate.yaml >run.out 2>run.err
is "$?" 0 "grpo-toy, rollout and training alternating on shared GPUs: the job succeeds"
logs=$(readlink -f .aic/latest)/logs
diag "$("$aic" logs train/0 | grep summary:)"
overlaps=$(check overlaps "$logs")
like "$overlaps" "^0 [0-9]{2,}\$" \
	"from the workers' timestamps, rollout and training are never inside at once on a GPU ($overlaps turns)"
is "$(check stages "$logs" | sed 's/=[0-9]*//g')" "rollout train" "both stages took turns"
ok "the reward rises from near chance (< 0.3) to >= 0.9" awk -v a="$(grpo_field reward-first)" \
	-v b="$(grpo_field reward-last)" 'BEGIN { exit !(a < 0.3 && b >= 0.9) }'
is "$(grpo_counts)" "800 100 8 8" "every prompt item is trained on exactly once (100 prompts, 8 epochs)"
is "$(grpo_stale)" 0 "no sample was dropped as stale"
is "$(python3 -c "
import json
p = json.load(open('.aic/latest/summary.json'))['phases'][0]
print(p['stages'], p['arbiter'], p['switches'] > 10, p['timeline'][0]['node'])")" \
	"['train', 'rollout'] head True None" "summary.json: the head sequenced the pair, switching every step"
done_testing

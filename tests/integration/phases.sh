#!/bin/sh
# Phases across nodes: a training gang of 2 ranks (3 of a node's 4 GPUs
# each, so a node apiece) alternating with 2 rollout replicas on their GPUs
# (colocate_with: {stage: train, mode: alternate}), through sbatch
# --aic-job on 3 nodes. A pair with a gang is sequenced by the head: the
# ranks go in together (they meet in a barrier inside every turn, which
# ranks let in one at a time would never pass), neither rollout is inside
# while a rank is, the rollouts on the other node see the version rank 0
# published in the turn before theirs, and w.phase_should_yield() cuts
# their long turns (tests/lib/workers/phase_turns.py).
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 8
/usr/bin/python3 -c 'import numpy' 2>/dev/null || bail "Debian's python3-numpy is missing (scripts/deps)"
dir=$(work_dir)
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
check() { /usr/bin/python3 "$AIC_SRC_DIR/tests/lib/phase_check.py" "$@"; }
cd "$dir" || bail "cannot enter $dir"

cat >job.yaml <<YAML
name: phases-gang
stages:
  train:
    command: [/usr/bin/python3, $workers_dir/phase_turns.py]
    ranks: 2
    gpus: 3
    cpus: 0
    weights_to: w
    env: {ROLE: train, TURNS: 5, WORK_S: 0.1}
    restart: {max: 0}
  rollout:
    command: [/usr/bin/python3, $workers_dir/phase_turns.py]
    replicas: 2
    gpus: 3
    cpus: 0
    weights_from: w
    colocate_with: {stage: train, mode: alternate}
    env: {ROLE: rollout, TURNS: 5, BATCHES: 100, BATCH_S: 0.02}
    restart: {max: 0}
YAML
sbatch_on_3 300
is "$?" 0 "a 2-rank gang alternating with 2 rollout replicas on 2 nodes: the job succeeds"
diag "$(cat job.out)"
logs=$(readlink -f .aic/latest)/logs
where=$(placement)
diag "placement: $where"
is "$(nodes_of rollout "$where") $(nodes_of train "$where")" \
	"2 2" "the rollout replicas and the training ranks each on two nodes"
is "$(check lockstep "$logs")" "0 5" "the ranks were inside every turn together (lockstep)"
is "$(check overlaps "$logs")" "0 20" "no rollout was inside while a rank on its GPUs was"
is "$(check compose "$logs")" 0 "a rollout that woke after a training turn got its version, on either node"
cut=$(check cut "$logs" 100)
diag "rollout turns followed by a training turn, cut at the first yes, run whole: $cut"
like "$cut" "^([1-9][0-9]*) \\1 0\$" "w.phase_should_yield() cut every such rollout turn where it first said yes"
is "$(/usr/bin/python3 -c "
import json
p = json.load(open('.aic/latest/summary.json'))['phases'][0]
print(p['arbiter'], p['turns']['train']['count'], p['switches'] >= 5)")" "head 5 True" \
	"summary.json: the head sequenced the pair, 5 training turns (one per step of the gang)"
ok "status.json has the pair too" /usr/bin/python3 -c "
import json, sys
sys.exit(json.load(open('.aic/latest/status.json'))['phases'][0]['stages'] != ['train', 'rollout'])"
done_testing

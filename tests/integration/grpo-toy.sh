#!/bin/sh
# examples/grpo-toy on the cluster, shortened, as a researcher submits it:
# sbatch --aic-job with one aic-launch per node. The job succeeds, the
# reward rises from chance to near solved, every prompt is trained on
# exactly once, and every step has its whole batch.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 8
dir=$(work_dir)
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
grpo_copy "$dir" 6 0
# GPUs spread the job over the nodes (cluster.sh).
spread_gpus "$dir/job.yaml"
# From the example's directory: the job directory is made under the submit
# directory, and the spec names its scripts from there.
cd "$dir" || bail "cannot enter $dir"

sbatch_on_3 300
is "$?" 0 "grpo-toy through sbatch --aic-job on 3 nodes: the job succeeds"
diag "$(cat job.out)"
is "$(latest_summary_state)" succeeded "its summary says it succeeded"
diag "$("$aic" logs train/0 | grep summary:)"
where=$(placement)
diag "placement: $where"
is "$(nodes_of train "$where")" 2 "the training ranks ran on two nodes"
ok "the reward rises from near chance (< 0.3) to near solved (>= 0.8)" grpo_learned
is "$(grpo_counts)" "600 100 6 6" "every prompt item is trained on exactly once"
is "$(grpo_stale)" 0 "no sample was dropped as stale"
# The training ranks on two nodes each take their share of a step: no
# node's agent pulls groups ahead that the other rank waits for (a channel
# several processes read has no prefetch), so every step has its 16
# groups, made with the weights it trains (the rollout waits for them).
is "$(/usr/bin/python3 -c "
import csv
rows = list(csv.DictReader(open('.aic/latest/reward.csv')))
print(sorted(set(int(r['groups']) for r in rows[:-1])), max(float(r['version_lag']) for r in rows))")" \
	"[16] 0.0" "every step but the last trains 16 groups, none made with older weights"
is "$(/usr/bin/python3 -c "
import json
steps = len(open('.aic/latest/reward.csv').read().split()) - 1
pts = [json.loads(l) for l in open('.aic/latest/metrics.jsonl')]
m = json.load(open('.aic/latest/summary.json'))['metrics']['train']['reward']
print(steps > 20 and m['n'] == steps and sum(p['name'] == 'reward' for p in pts) == steps)")" True \
	"the trainer's reward metric reached the head: a point per step in metrics.jsonl and summary.json"
done_testing

#!/bin/sh
# examples/torch-grpo on the cluster, as a researcher submits it: sbatch
# --aic-job with one aic-launch per node, the training gang's ranks on two
# nodes (DDP over gloo across them), the weight stream and the channels
# crossing nodes. The job succeeds and the reward rises from chance to
# >= 0.9.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 5
/usr/bin/python3 -c 'import torch, matplotlib' 2>/dev/null ||
	bail "Debian's python3-torch or python3-matplotlib is missing (scripts/deps)"
dir=$(work_dir)
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
if ! cp -r "$AIC_SRC_DIR/examples/torch-grpo/." "$dir" || ! chmod -R u+w "$dir"; then
	bail "cannot copy examples/torch-grpo to $dir"
fi
# GPUs spread the job over the nodes (cluster.sh). Stop at 0.92 (the
# example's target is 0.95), as tests/python/torch-grpo.sh does.
spread_gpus "$dir/job.yaml"
sed -i 's/TARGET: [0-9.]*/TARGET: 0.92/' "$dir/job.yaml"
grep -q 'TARGET: 0.92' "$dir/job.yaml" || bail "cannot set job.yaml's TARGET"
cd "$dir" || bail "cannot enter $dir"

sbatch_on_3 500
is "$?" 0 "torch-grpo through sbatch --aic-job on 3 nodes: the job succeeds"
diag "$(cat job.out)"
is "$(latest_summary_state)" succeeded "its summary says it succeeded"
diag "$("$aic" logs train/0 | grep -E '^rank|summary:')"
where=$(placement)
diag "placement: $where"
is "$(nodes_of train "$where")" 2 "the training ranks ran on two nodes"
is "$("$aic" logs train/1 | grep -c '^rank 1 of 2: DDP over gloo')" 1 "as one gloo DDP gang of 2"
rewards=$(/usr/bin/python3 - .aic/latest/reward.csv <<'PY'
import csv, sys
r = [float(row["mean_reward"]) for row in csv.DictReader(open(sys.argv[1]))]
print("%.3f %.3f" % (sum(r[:5]) / 5, sum(r[-5:]) / 5) if len(r) >= 15 else "too-few-steps 0")
PY
)
diag "mean reward, first 5 steps -> last 5: $rewards"
# shellcheck disable=SC2086 # two words
set -- $rewards
ok "the reward rises from near chance (< 0.35) to >= 0.9" \
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < 0.35 && b >= 0.9) }'
done_testing

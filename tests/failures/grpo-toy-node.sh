#!/bin/sh
# examples/grpo-toy on 4 nodes with a rollout replica on a node of its own;
# that node dies mid-training: the replica is placed again on the free
# node, gets the newest weights there, and training goes on to a mean
# reward of at least 0.9 over its last 5 steps; the job succeeds and no
# process is left anywhere.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 8
dir=$(work_dir)
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
grpo_copy "$dir" 8 0.01
# GPUs spread the job: a training rank with 3 of a node's 4 GPUs takes a
# node each (n1, n2), rollout replicas of one GPU fill the fourth GPU of
# both and the third goes to n3; n4 is left free for it.
sed -i -e 's/^    ranks: 2$/&\n    gpus: 3/' -e 's/^    replicas: 2$/    replicas: 3\n    gpus: 1/' \
	-e 's/QUOTA: 8/QUOTA: 6/' "$dir/job.yaml"
[ "$(grep -c '^    gpus: [13]$' "$dir/job.yaml")" = 2 ] || bail "cannot add GPUs to job.yaml"
cd "$dir" || bail "cannot enter $dir"

job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
steps() { [ -e "$(jobdir "$dir")/metrics.jsonl" ] && [ "$(grep -c '"reward"' "$(jobdir "$dir")/metrics.jsonl")" -ge "$1" ]; }
ok "training runs (5 steps)" wait_for 180 steps 5
victim=$(node_of "$dir" rollout 2)
diag "placement: $(status_field "$dir" "' '.join('%s/%d@%s' % (p['stage'], p['index'], p['node']) for p in d['procs'])")"
case "$victim" in n1 | n2) bail "rollout 2 shares a node with training ($victim)" ;; esac
at_loss=$(grep -c '"reward"' "$(jobdir "$dir")/metrics.jsonl")
fail_node "$victim"
running_again() { [ "$(status_field "$dir" "[p['state'] for p in d['procs'] if p['stage'] == 'rollout' and p['index'] == 2][0]")" = running ] && [ "$(node_of "$dir" rollout 2)" != "$victim" ]; }
ok "rollout 2 runs again on another node" wait_for 60 running_again
ok "the job ends" wait_for 300 failed_job_ended "$job" "$dir"
diag "$(tail -5 "$dir/job.out")"
is "$(summary_field "$dir" "d['state']")" succeeded "it succeeded"
is "$(summary_field "$dir" "[n['node'] for n in d['lost_nodes']]")" "['$victim']" \
	"summary.json names the lost node"
rewards=$(grpo_rewards)
diag "mean reward of the first and last 5 steps: $rewards"
ok "the mean reward of the last 5 steps is at least 0.9" \
	awk -v r="${rewards#* }" 'BEGIN { exit !(r >= 0.9) }'
diag "$("$aic" logs train/0 | grep summary:)"
steps_after() { [ "$(grep -c '"reward"' "$(jobdir "$dir")/metrics.jsonl")" -gt "$1" ]; }
ok "training went on after the loss (from step $at_loss)" steps_after $((at_loss + 5))
# The example's workers run from its directory: ours are those whose cwd is $dir.
no_workers() {
	for p in $(pgrep -f 'python3 (rollout|reward|train)\.py'); do
		[ "$(readlink "/proc/$p/cwd")" != "$dir" ] || return 1
	done
}
ok "no worker is left on any node" wait_for 30 no_workers
done_testing

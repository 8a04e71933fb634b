#!/bin/sh
# A gang of ranks {min: 2, max: 3}, one rank per node, loses a rank's node
# while the fourth node is busy: it goes on with 2 ranks on the nodes left
# (its workers see WORLD_SIZE=2 and meet as 2) and the job succeeds. The
# rank that is no longer needed shows as lost. No process is left anywhere.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 9
/usr/bin/python3 -c 'import numpy' 2>/dev/null || bail "Debian's python3-numpy is missing (scripts/deps)"
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

cat >hold.sh <<WORKER
#!/bin/sh
while [ ! -e "$dir/go" ]; do sleep 0.1; done
WORKER
# Four GPUs a rank: a node each (n1, n2, n3); 'hold' fills n4.
cat >job.yaml <<SPEC
name: gang-shrinks
stages:
  train:
    command: [/usr/bin/python3, $AIC_SRC_DIR/tests/lib/workers/gang_world.py]
    ranks: {min: 2, max: 3}
    gpus: 4
    cpus: 0
    env: {OUT_DIR: $dir, COLLECTIVE_DIR: $AIC_SRC_DIR/examples/grpo-toy}
  hold: {command: [sh, $dir/hold.sh], gpus: 4, cpus: 0}
SPEC
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
three() { [ "$(ls "$dir"/gang.*.3 2>/dev/null | wc -l)" -eq 3 ]; }
ok "the gang meets with 3 ranks" wait_for 120 three
victim=$(node_of "$dir" train 1)
[ "$victim" != "$(head_node)" ] || bail "rank 1 is on the head's node ($victim)"
fail_node "$victim"
two() { [ "$(ls "$dir"/gang.*.2 2>/dev/null | wc -l)" -eq 2 ]; }
ok "it meets again with 2 ranks, WORLD_SIZE=2" wait_for 90 two
is "$(cat "$dir/gang.0.2")" "$(cat "$dir/gang.1.2")" "both ranks agree on who is in the gang"
is "$(grep -c -- "$victim" "$dir/gang.0.2")" 0 "and the lost node is not in it"
is "$(status_field "$dir" "sorted((p['index'], p['state']) for p in d['procs'] if p['stage'] == 'train')")" \
	"[(0, 'running'), (1, 'running'), (2, 'lost')]" "status.json: ranks 0 and 1 run, rank 2 is lost"
touch go
ok "the job ends" wait_for 120 failed_job_ended "$job" "$dir"
diag "$(tail -5 "$dir/job.out")"
is "$(summary_field "$dir" "d['state']")" succeeded "it succeeded"
is "$(summary_field "$dir" "[n['node'] for n in d['lost_nodes']]")" "['$victim']" \
	"summary.json names the lost node"
no_workers() { ! pgrep -f "gang_world.py|$dir/hold.sh" >/dev/null; }
ok "no worker is left on any node" wait_for 30 no_workers
done_testing

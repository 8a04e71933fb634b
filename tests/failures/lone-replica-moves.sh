#!/bin/sh
# The one replica of a stage that reads a channel, on a node that dies
# while its producer has already put everything and exited, is placed
# again on a free node and does the work: the sink gets every item and the
# job succeeds. (The engine took a lone replica for one whose other
# replicas had finished the stage's work, and let the stage go: the job
# "succeeded" with nothing forwarded, or hung where a later stage waited.)
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 7
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

cat >"$dir/mid.sh" <<WORKER
#!/bin/sh
echo "\$AIC_NODE" >"$dir/mid.\$AIC_NODE"
while [ ! -e "$dir/go" ]; do sleep 0.1; done
exec /usr/bin/python3 "$AIC_SRC_DIR/tests/lib/workers/forward.py"
WORKER
env="PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so"
# A node each (4 GPUs): prod on n1 (the head's), mid on n2, n3 and n4 free.
cat >"$dir/job.yaml" <<SPEC
name: lone-replica-moves
stages:
  prod: {command: [/usr/bin/python3, $AIC_SRC_DIR/tests/lib/workers/produce.py], gpus: 4, cpus: 0,
         outputs: [nums], env: {N: 50, $env}}
  mid: {command: [sh, $dir/mid.sh], gpus: 4, cpus: 0, inputs: [nums], outputs: [fwd],
        env: {OUT: $dir/out, $env}}
channels:
  nums: {capacity: 64}
  fwd: {sink: out.jsonl}
SPEC
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
prod_done() { [ "$(status_field "$dir" "[p['state'] for p in d['procs'] if p['stage'] == 'prod'][0]")" = done ]; }
mid_started() { [ "$(ls "$dir"/mid.* 2>/dev/null | grep -c -v 'mid\.sh$')" -ge "$1" ]; }
ready() { wait_for 120 prod_done && wait_for 30 mid_started 1; }
ok "the producer has put its 50 items and exited, mid waits" ready
victim=$(node_of "$dir" mid 0)
[ "$victim" != "$(head_node)" ] || bail "mid is on the head's node ($victim)"
fail_node "$victim" || bail "nothing to fail on $victim"
ok "mid starts again on another node" wait_for 60 mid_started 2
diag "mid: $(ls "$dir"/mid.n* | sed 's/.*mid\.//' | tr '\n' ' ')"
touch go
ok "the job ends" wait_for 120 failed_job_ended "$job" "$dir"
diag "$(tail -5 "$dir/job.out")"
is "$(summary_field "$dir" "d['state']")" succeeded "it succeeded"
is "$(sort -u out.jsonl 2>/dev/null | wc -l)" 50 "the sink has the 50 items, through the moved replica"
nothing_left "$dir/mid.sh"
done_testing

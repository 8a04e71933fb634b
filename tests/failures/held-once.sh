#!/bin/sh
# A lost consumer's un-acked items come back once. 300 numbered source
# lines -> a stage of 3 replicas (4 GPUs each: one node each) that take one
# line at a time and put it on to the sink. Every replica first holds its
# line, un-acked, until the test lets go ($dir/hold), so the node crashed
# then (not the head's) holds items: its worker's line and what its agent
# pulled ahead for it. The head's agent, which reads the source and is the
# acker (launcher/dataplane/acker.c), puts those items back in the queue
# when their holder's link closes (chan_forget), and the node's loss makes
# it read again from the source every line whose processing went through
# the node (acker_node_lost): the same lines, twice, unless a line that
# goes back to the queue is taken out of the lines to read again. The sink
# must hold every line at least once and, since no replica ever puts
# anything while it holds a line, none twice.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 8
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

n=300
/usr/bin/python3 -c "for i in range($n): print('{\"i\": %d}' % i)" >lines.jsonl
cat >hold.py <<'PY'
"""Gets one line at a time; while $DIR/hold exists, holds it un-acked (and
says so in $DIR/holding.NODE); then puts it on and acks it."""
import os, time
import aic
w = aic.connect()
d = os.environ["DIR"]
while True:
    try:
        items = w.get("lines", max_items=1, timeout=120)
    except aic.Closed:
        break
    if os.path.exists(d + "/hold"):
        open("%s/holding.%s" % (d, os.environ.get("AIC_NODE", "?")), "w").close()
        while os.path.exists(d + "/hold"):
            time.sleep(0.05)
    for it in items:
        time.sleep(0.005)
        w.put("out", bytes(it.data))
    w.ack(items)
PY
cat >job.yaml <<SPEC
name: held-once
failure_timeout: 3s
stages:
  hold:
    command: [/usr/bin/python3, $dir/hold.py]
    replicas: 3
    gpus: 4
    cpus: 0
    inputs: [lines]
    outputs: [out]
    env: {DIR: $dir, PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so}
channels:
  lines: {source: lines.jsonl, capacity: 64}
  out: {sink: out.jsonl, capacity: 64}
SPEC
touch hold
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
holding() { [ "$(ls "$dir"/holding.* 2>/dev/null | wc -l)" -ge 3 ]; }
ok "the 3 replicas each hold a line" wait_for 180 holding
victim=$(status_field "$dir" "sorted({p['node'] for p in d['procs'] if p['stage'] == 'hold'} - {'$(head_node)'})[0]")
diag "processes on $(status_field "$dir" "sorted(p['stage'] + '@' + p['node'] for p in d['procs'])"); crashing $victim"
fail_node "$victim" crash || bail "cannot crash $victim"
declared() { grep -q "node '$victim' lost" "$dir/job.out"; }
ok "the head declares $victim lost" wait_for 120 declared
rm -f hold
ok "the job ends" wait_for 300 job_ended "$job"
diag "$(tail -5 "$dir/job.out")"
is "$(summary_field "$dir" "d['state']")" succeeded "the job goes on without $victim and succeeds"
is "$(summary_field "$dir" "d['channels']['lines']['redelivered'] > 0")" True \
	"the lost node's un-acked lines were put back in the queue"
check=$(/usr/bin/python3 -c "
import json, collections
seen = collections.Counter(json.loads(l)['i'] for l in open('out.jsonl'))
print('missing %d, twice %d' % (sum(1 for i in range($n) if not seen[i]),
      sum(c - 1 for c in seen.values())), sorted(i for i in seen if seen[i] > 1)[:20])
" 2>&1)
diag "$check"
like "$check" "^missing 0, " "the sink holds every line at least once"
like "$check" "^missing [0-9]*, twice 0 " "and none twice: each un-acked line came back once"
no_launchers() { ! pgrep -f "$launch" >/dev/null; }
ok "no aic-launch is left" wait_for 30 no_launchers
done_testing

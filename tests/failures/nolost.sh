#!/bin/sh
# No lost work (issue 14's (a)): 20,000 source lines -> a map stage of 3
# replicas (4 GPUs each: one node each) -> a slower collecting stage -> a
# sink. The maps outrun the collector, so their outputs queue on their
# nodes. A node with a map replica, not the head's nor the collector's, is
# failed mid-stream, the way AIC_FAIL_WAY says (tests/lib/failures.sh; this
# script crashes it, nolost-cut.sh cuts its link): the head declares it lost
# (at once for a crash, after failure_timeout, 3 s here, for a cut), its
# replica is placed again on the node left, and nothing of the job is left
# on it (a cut node's agent lost the head: it stops its workers and exits).
# The job goes on and succeeds, and the sink holds every source line
# at least once: the lines whose processing went through the lost node
# (outputs queued there, lines its replica held) are read again from the
# source (launcher/dataplane/acker.c). Every sink line names its origin
# (_aic_origin: source, epoch, line), which the map saw too, so duplicates
# are recognisable; they are under 5%. Without the replay, the outputs
# queued on the lost node are missing from the sink.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 12
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

n=20000
/usr/bin/python3 -c "for i in range($n): print('{\"i\": %d}' % i)" >lines.jsonl
cat >map.py <<'PY'
"""Gets one line at a time, puts it with the origin it saw and its node, then acks it."""
import json, os, time
import aic
w = aic.connect()
while True:
    try:
        items = w.get("lines", max_items=1, timeout=120)
    except aic.Closed:
        break
    for it in items:
        d = json.loads(it.data)
        o = it.origin
        d["seen"] = [o["source"], o["epoch"], o["line"]] if o else None
        d["node"] = os.environ.get("AIC_NODE", "?")
        w.put("mid", json.dumps(d).encode())
    w.ack(items)
PY
cat >collect.py <<'PY'
"""The bottleneck: 1 ms per item, 16 items at a time, each put on to the sink in order."""
import time
import aic
w = aic.connect()
while True:
    try:
        items = w.get("mid", max_items=16, timeout=120)
    except aic.Closed:
        break
    time.sleep(0.001 * len(items))
    for it in items:
        w.put("out", bytes(it.data))
    w.ack(items)
PY
cat >job.yaml <<SPEC
name: nolost
failure_timeout: 3s
stages:
  map:
    command: [/usr/bin/python3, $dir/map.py]
    replicas: 3
    gpus: 4
    cpus: 0
    inputs: [lines]
    outputs: [mid]
    env: {PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so}
  collect:
    command: [/usr/bin/python3, $dir/collect.py]
    cpus: 0
    inputs: [mid]
    outputs: [out]
    env: {PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so}
channels:
  lines: {source: lines.jsonl, capacity: 64}
  mid: {capacity: 64}
  out: {sink: out.jsonl, capacity: 64}
SPEC
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
sink_has() { [ "$(wc -l <"$dir/out.jsonl")" -ge "$1" ]; }
ok "the sink gets its first 3,000 lines" wait_for 180 sink_has 3000
# A node with a map replica, not the head's nor the collector's.
victim=$(status_field "$dir" "sorted({p['node'] for p in d['procs'] if p['stage'] == 'map'} - {'$(head_node)', '$(node_of "$dir" collect 0)'})[0]")
diag "processes on $(status_field "$dir" "sorted(p['stage'] + '@' + p['node'] for p in d['procs'])"); failing $victim ($fail_way) at $(wc -l <out.jsonl) lines"
t0=$(date +%s.%N)
fail_node "$victim" || bail "no aic-launch to kill on $victim"
declared() { grep -q "node '$victim' lost" "$dir/job.out"; }
ok "the head declares $victim lost" wait_for 120 declared
diag "declared lost $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s after the failure (failure_timeout 3 s; polled every 0.1 s)"
# While a cut node is still unreachable: its agent's own doing, not SLURM's.
ok "nothing of the job is left on $victim" wait_for 60 nothing_on "${victim#n}" aic-launch "$dir/"
# A cut node's step ends once its slurmstepd reaches srun again.
[ "$fail_way" != cut ] || restore_node
ok "the job ends" wait_for 300 failed_job_ended "$job" "$dir"
diag "$(tail -5 "$dir/job.out")"
is "$(summary_field "$dir" "d['state']")" succeeded "the job goes on without $victim and succeeds"
is "$(status_field "$dir" "sorted((p['node'] == '$victim', p['moves']) for p in d['procs'] if p['stage'] == 'map')")" \
	"[(False, 0), (False, 0), (False, 1)]" "its map replica moved once, to a node left"
like "$(cat "$dir/job.out")" "source lines? whose processing went through the lost node \(agent [0-9]+\) will be read again" \
	"the lines whose processing went through it are read again"

# Every line at least once; each line's origin is its source line (the sink's
# and the worker's view); duplicates, recognisable by origin, under 5%.
check=$(/usr/bin/python3 -c "
import json, collections
n = $n
seen = collections.Counter()
bad = 0
for l in open('out.jsonl'):
    d = json.loads(l)
    o = d['_aic_origin']
    want = ['lines', 0, d['i'] + 1]
    if [o['source'], o['epoch'], o['line']] != want or d['seen'] != want:
        bad += 1
    seen[d['i']] += 1
missing = sum(1 for i in range(n) if not seen[i])
dups = sum(seen.values()) - len(seen)
print('missing %d, origins wrong %d, duplicates %d (%s)' % (missing, bad, dups,
      'under 5%' if dups * 20 < n else 'over 5%'))
" 2>&1)
diag "$check"
like "$check" "^missing 0, " "the sink holds every source line at least once"
like "$check" "origins wrong 0, " "each sink line's origin (and what its worker saw) is its source line"
like "$check" "\(under 5%\)$" "duplicates are under 5%"
diag "sink lines by the node of their map replica: $(/usr/bin/python3 -c "
import json, collections
print(dict(collections.Counter(json.loads(l)['node'] for l in open('out.jsonl'))))")"
no_workers() { ! pgrep -f "$dir/map.py|$dir/collect.py" >/dev/null; }
ok "no worker is left on any node" wait_for 30 no_workers
no_launchers() { ! pgrep -f "$launch" >/dev/null; }
ok "nor any aic-launch" wait_for 30 no_launchers
done_testing

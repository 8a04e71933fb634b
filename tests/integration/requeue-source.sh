#!/bin/sh
# Issue 15's test (b) on the cluster: a 20,000-line source -> 3 map
# replicas (on 2 nodes) -> sink, requeued twice mid-stream (`scontrol
# requeue` once the sink holds a given count of lines: SIGTERM, then
# SIGKILL after KillWait) and run to its end by its third run, ends with
# every source line in the sink, exactly once after dedupe by _aic_origin,
# fewer than 1% written twice: each requeued run continues the source from
# state.json's progress instead of from line 1. The job is submitted with
# `aic submit`, so its batch script (the TERM trap, --requeue,
# --open-mode=append, the exit status) is the one users get.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 2
plan 6
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"
export PATH="$AIC_BUILD_DIR/launcher:$PATH"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
N=20000

# poll SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS seconds.
poll() {
	n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}
state() {
	scontrol -o show job "$job" >job.state 2>&1
	cat job.state >>job.states
	sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' job.state
}
is_state() { [ "$(state)" = "$1" ]; }
lines() { if [ -e out.jsonl ]; then wc -l <out.jsonl; else echo 0; fi; }
has_lines() { [ "$(lines)" -ge "$1" ] || { state >/dev/null; false; }; }
# requeue_at N: once the sink holds N lines, requeue the job and start it again at once.
requeue_at() {
	poll 300 has_lines "$1" || bail "the sink did not reach $1 lines ($(state)): $(tail -n 5 job.out); $(grep -o 'JobState=[A-Z_]* Reason=[^ ]*' job.states | uniq | tr '\n' ' ')"
	scontrol requeue "$job" || bail "scontrol requeue $job failed"
	poll 120 is_state PENDING || bail "job $job is '$(state)', not PENDING, after the requeue"
	diag "requeued at $(lines) sink lines"
	start_requeued "$job" || bail "cannot start job $job again"
}

cat >map.py <<'PY'
import json
import os
import time
import aic
w = aic.connect()
delay = float(os.environ["MAP_DELAY_S"])
while True:
    try:
        items = w.get("lines", max_items=8, timeout=10)
    except aic.Closed:
        break
    for it in items:
        v = json.loads(it.data)
        time.sleep(delay)
        w.put("out", json.dumps({"i": v["i"], "sq": v["i"] * v["i"], "by": w.replica}).encode())
    w.ack(items)
PY
/usr/bin/python3 -c "
for i in range($N):
    print('{\"i\": %d}' % i)" >in.jsonl
cat >job.yaml <<YAML
name: requeue-source
stages:
  map:
    command: [/usr/bin/python3, $dir/map.py]
    replicas: 3
    cpus: 0
    inputs: [lines]
    outputs: [out]
    env: {MAP_DELAY_S: 0.002, PYTHONPATH: "$PYTHONPATH", AIC_LIBRARY: "$AIC_LIBRARY"}
channels:
  lines: {source: in.jsonl, capacity: 32}
  out: {sink: out.jsonl, capacity: 32}
YAML
job=$("$AIC_BUILD_DIR/launcher/aic" submit job.yaml -N 2 --parsable -o "$dir/job.out" | tail -n 1)
case "$job" in
'' | *[!0-9]*) bail "aic submit gave no job id: '$job'" ;;
esac
requeue_at 5000
first=$(lines)
requeue_at $((first + 5000))
second=$(lines)
poll 300 is_state COMPLETED
is "$(state)" COMPLETED "the job, requeued at $first and $second sink lines, completes"
diag "$(tail -n 20 job.out)"
jd=".aic/$job.0"
is "$(/usr/bin/python3 -c "
import json
s = json.load(open('$jd/state.json'))
print(len(s['runs']), s['runs'][-1]['state'], s['sources']['lines']['progress'])")" \
	"3 succeeded {'done': True}" "its journal has three runs, the last one succeeded, the source done"
ok "mid-stream both times" [ "$first" -lt "$second" -a "$second" -lt "$N" ]
# shellcheck disable=SC2046 # four numbers
set -- $(/usr/bin/python3 - "$N" <<'PY'
import collections, json, sys
n = int(sys.argv[1])
seen, bad = collections.Counter(), 0
for l in open("out.jsonl"):
    v = json.loads(l)
    o = v["_aic_origin"]
    seen[(o["source"], o["epoch"], o["line"])] += 1
    bad += o["source"] != "lines" or o["epoch"] != 0 or v["i"] != o["line"] - 1 or v["sq"] != v["i"] ** 2
want = {("lines", 0, i) for i in range(1, n + 1)}
print(len(seen), sum(c - 1 for c in seen.values()), len(want - set(seen)), bad + len(set(seen) - want))
PY
)
diag "sink: $(lines) lines; $1 source lines, $2 written twice, $3 lost"
is "$1 $3 $4" "$N 0 0" "every source line is in the sink, none lost, each line its own"
ok "fewer than 1% written twice ($2 of $N)" [ $(($2 * 100)) -lt "$N" ]
ok "the runs continued the source: the sink is not restarted from line 1" \
	[ "$(lines)" -lt $((N + first / 2)) ]
done_testing

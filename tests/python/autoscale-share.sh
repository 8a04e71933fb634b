#!/bin/sh
# GPUs go where the work is, under `aic run` on a 4-GPU topology (fake
# GPUs from a fixture). Stage a grows to 3 GPUs on its backlog while b
# holds the fourth; once a's work is done and b's begins, b is short of
# room and a gives up a replica at once (long before its own
# down_after_s), and b takes the GPU it freed. And a stage with a backlog
# whose replicas are held back by a slow stage after it (their puts wait
# for room) is not busy, so it does not grow. Events are read from the
# summary, never from timing.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
topo="$AIC_SRC_DIR/tests/fixtures/topo/pcie-4gpu-nvlink-pairs.xml"
enter_work_dir autoscale-share
plan 7

/usr/bin/python3 -c "for i in range(200): print('{\"i\": %d}' % i)" >a.jsonl
cat >work.py <<'PY'
"""Lines of channel argv[1], slowly, to channel argv[2]."""
import sys, time
import aic
w = aic.connect()
while True:
    try:
        items = w.get(sys.argv[1], max_items=1)
    except aic.Closed:
        break
    for it in items:
        time.sleep(0.05)
        w.put(sys.argv[2], it.data)
    w.ack(items)
PY
sed 's/time.sleep(0.05)/time.sleep(float(sys.argv[3]))/' work.py >paced.py
cat >feed.py <<'PY'
"""Once the test says so, 200 items on lb."""
import os, time
import aic
w = aic.connect()
while not os.path.exists("go-b"):
    time.sleep(0.1)
for i in range(200):
    w.put("lb", b'{"b": %d}' % i)
PY
cat >job.yaml <<YAML
name: share
stages:
  a: {command: [/usr/bin/python3, work.py, la, oa], replicas: {min: 1, max: 4}, gpus: 1, cpus: 0,
      inputs: [la], outputs: [oa], autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 600}}
  b: {command: [/usr/bin/python3, work.py, lb, ob], replicas: {min: 1, max: 4}, gpus: 1, cpus: 0,
      inputs: [lb], outputs: [ob], autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 600}}
  feed: {command: [/usr/bin/python3, feed.py], cpus: 0, outputs: [lb]}
  hold: {command: [sh, -c, 'while [ ! -e go ]; do sleep 0.1; done'], cpus: 0, outputs: [la]}
channels:
  la: {source: a.jsonl}
  oa: {sink: oa.jsonl}
  ob: {sink: ob.jsonl}
YAML
"$aic" run job.yaml --topo "$topo" >run.out 2>run.err &
job=$!
# events STAGE ACTION: that stage's events of that kind in status.json, one per line.
events() {
	/usr/bin/python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, sys
for e in json.load(open(".aic/latest/status.json"))["autoscale"]["events"]:
    if e["stage"] == sys.argv[1] and e["action"] == sys.argv[2]:
        print(e["reason"])
PY
}
has() { [ "$(events "$1" "$2" | wc -l)" -ge "$3" ]; }
a_done() { has a up 2 && [ "$(cat oa.jsonl 2>/dev/null | wc -l)" -eq 200 ]; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds (polled every 0.2 s)
	t=$(($1 * 5))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.2
	done
}
ok "a grows to 3 replicas on its backlog, then finishes its lines" wait_for 90 a_done
touch go-b
ok "b, backlogged with no room left, grows onto the GPU a frees" wait_for 90 has b up 1
touch go
wait "$job"
is "$?" 0 "the job succeeds"
like "$(events a down)" "^stage 'b' is short of room and this one is idle \(busy 0\.[0-9]+\)" \
	"a gave up a replica for b, before its own down_after_s"
is "$(/usr/bin/python3 -c "
import json
ev = [(e['stage'], e['action']) for e in json.load(open('.aic/latest/summary.json'))['autoscale']['events']]
print(ev.index(('a', 'drained')) < ev.index(('b', 'up')))")" True "b grew only once a's replica had left"

# fast (0.01 s an item) feeds slow (0.05 s) through a channel of 4: fast's
# input has a backlog all along, but its replica waits for room to put.
rm -rf .aic
cat >held.yaml <<YAML
name: held
stages:
  fast: {command: [/usr/bin/python3, paced.py, la, mid, "0.01"], replicas: {min: 1, max: 3}, gpus: 1,
         cpus: 0, inputs: [la], outputs: [mid],
         autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 600}}
  slow: {command: [/usr/bin/python3, paced.py, mid, out, "0.05"], gpus: 1, cpus: 0, inputs: [mid],
         outputs: [out]}
channels:
  la: {source: a.jsonl}
  mid: {capacity: 4}
  out: {sink: held.jsonl}
YAML
"$aic" run held.yaml --topo "$topo" >held.out 2>held.err
is "$? $(sort -u held.jsonl | wc -l)" "0 200" "a fast stage before a slow one: every line arrives once"
is "$(/usr/bin/python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['autoscale']['events'])")" "[]" \
	"held back by the slow stage, the fast one never grows, backlog or not"
done_testing

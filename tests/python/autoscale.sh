#!/bin/sh
# Autoscaling inside the allocation, under `aic run` on a 4-GPU topology
# (fake GPUs from a fixture): a stage of slow replicas {min: 1, max: 6}
# behind a fast source grows to the 4 GPUs while the backlog lasts, and
# drains back to 1 once the source is dry (a stage that writes its input
# keeps the channel open until the test has seen that); every source line
# reaches the sink exactly once. Events are read from status.json, the
# summary and `aic status`, never from timing.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
topo="$AIC_SRC_DIR/tests/fixtures/topo/pcie-4gpu-nvlink-pairs.xml"
enter_work_dir autoscale
plan 14

n=400
/usr/bin/python3 -c "for i in range($n): print('{\"i\": %d}' % i)" >lines.jsonl
cat >job.yaml <<YAML
name: autoscale
stages:
  work:
    command: [/usr/bin/python3, $workers_dir/slow_lines.py, '0.05']
    replicas: {min: 1, max: 6}
    gpus: 1
    cpus: 0
    inputs: [lines]
    outputs: [out]
    autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 2}
  hold:
    command: [sh, -c, 'while [ ! -e go ]; do sleep 0.1; done']
    cpus: 0
    outputs: [lines]
channels:
  lines: {source: lines.jsonl, capacity: 32}
  out: {sink: out.jsonl}
YAML

"$aic" run job.yaml --topo "$topo" >run.out 2>run.err &
job=$!
# scaled ACTION COUNT: status.json has COUNT events of ACTION for stage work.
scaled() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
try:
    d = json.load(open(".aic/latest/status.json"))
except (OSError, ValueError):
    sys.exit(1)
ev = [e for e in d.get("autoscale", {}).get("events", [])
      if e["stage"] == "work" and e["action"] == sys.argv[1]]
sys.exit(0 if len(ev) >= int(sys.argv[2]) else 1)
PY
}
# wait_for SECONDS CMD...: until CMD succeeds (polled every 0.2 s); 1 when it never did.
wait_for() {
	t=$(($1 * 5))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.2
	done
}
ok "the backlog grows the stage to the 4 GPUs (3 scale-ups)" wait_for 90 scaled up 3
ok "once the source is dry, 3 replicas drain and exit" wait_for 90 scaled drained 3
status=$("$aic" status)
touch go
wait "$job"
is "$?" 0 "the job succeeds"
diag "$(grep autoscale: run.err)"

is "$(/usr/bin/python3 - <<'PY'
import collections, json
seen = collections.Counter(json.loads(l)["_aic_origin"]["line"] for l in open("out.jsonl"))
twice = [k for k, v in seen.items() if v > 1]
print(len(seen), len(twice), sorted(seen) == list(range(1, len(seen) + 1)))
PY
)" "$n 0 True" "every source line is in the sink exactly once"
summary() { /usr/bin/python3 -c "import json; d = json.load(open('.aic/latest/summary.json')); print($1)"; }
is "$(summary "[(e['action'], e['replicas']) for e in d['autoscale']['events']]")" \
	"[('up', 2), ('up', 3), ('up', 4), ('down', 3), ('drained', 3), ('down', 2), ('drained', 2), ('down', 1), ('drained', 1)]" \
	"the summary's events: up to 4 replicas (every GPU), back down to min 1"
is "$(summary "set(e['reason'] for e in d['autoscale']['events'] if e['action'] == 'drained')")" \
	"{'it exited with status 0 after draining'}" "each drained replica finished and exited by itself"
like "$(summary "d['autoscale']['events'][0]['reason']")" "^backlog [0-9]+ items?, busy" \
	"a scale-up says why: the backlog and the busy fraction"
like "$(summary "d['autoscale']['events'][3]['reason']")" "^no backlog, busy 0\.[0-9]+ \(target 0\.50\) for 2 s" \
	"a scale-down says why"
is "$(summary "d['autoscale']['stages']['work']['min'], d['autoscale']['stages']['work']['max'], d['autoscale']['stages']['work']['ups'], d['autoscale']['stages']['work']['downs']")" \
	"1 6 3 3" "the summary's stage: min, max, ups and downs"
like "$status" "autoscale: work up replica 3 on [^ ]+ at [0-9.]+ s \(4 running\): backlog" \
	"aic status shows each scale event"
is "$(summary "[s['processes'] for s in d['stages'] if s['stage'] == 'work'][0]")" 4 \
	"the summary counts the 4 replicas that ran, not the 6 slots"
like "$status" "work +replica 3 +- +- +idle " "a drained replica's slot is idle, on no node"
like "$(cat run.err)" "autoscale: stage 'work' drained: replica [0-9]" "the log has them"
is "$(grep -c ': [1-9][0-9]* lines$' .aic/latest/logs/work.*.log | awk -F: '$2 > 0' | wc -l)" 4 \
	"4 replicas took lines"
done_testing

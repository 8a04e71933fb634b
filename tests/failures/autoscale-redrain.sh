#!/bin/sh
# A draining replica whose node is lost is drained again where it moves
# (launcher/engine/autoscale.c's tick: the move makes its agent new, and
# that agent never had the SCALE_DOWN; it is sent once the new worker is
# connected). A stage of 4-GPU replicas (one per node) grows to 4 nodes on
# a backlog; replica 3 is held before its first get (a file the test made:
# it takes no item, so its node holds none), so when the backlog ends the
# scale-down's drain finds it busy; its node is crashed; replica 3 waits
# for room, is placed again where a drained replica left it, and must
# leave at once (its get is the channel's end) with status 0: without the
# second drain it would wait in its get until the drain's 60 s timeout
# stopped it with SIGTERM. Every source line reaches the sink exactly once.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 7
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

n=120
/usr/bin/python3 -c "for i in range($n): print('{\"i\": %d}' % i)" >lines.jsonl
cat >job.yaml <<YAML
name: redrain
stages:
  work: {command: [/usr/bin/python3, $AIC_SRC_DIR/tests/lib/workers/slow_lines.py, '0.2', $dir], replicas: {min: 1, max: 4}, gpus: 4, cpus: 0,
         inputs: [lines], outputs: [out],
         env: {PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so},
         autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 2}}
  hold: {command: [sh, -c, 'while [ ! -e $dir/go ]; do sleep 0.1; done'], cpus: 0, outputs: [lines]}
channels:
  lines: {source: lines.jsonl, capacity: 8}
  out: {sink: out.jsonl}
YAML
touch hold.3
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
trap 'touch "$dir/go"; rm -f "$dir/hold.3"; restore_node' EXIT
# events ACTION INDEX: how many of the work stage's autoscale events are ACTION for replica INDEX.
events() {
	status_field "$dir" "sum(e['action'] == '$1' and e['index'] == $2 for e in d.get('autoscale', {}).get('events', []))" 2>/dev/null || echo 0
}
drain_sent() { [ "$(events down 3)" -ge 1 ]; }
ok "replica 3, held, is drained once the backlog is over" wait_for 240 drain_sent
victim=$(node_of "$dir" work 3)
[ "$victim" != "$(head_node)" ] || bail "replica 3 is on the head's node ($victim)"
diag "replica 3 drains on $victim, held: crashing its node"
fail_node "$victim" || bail "nothing to fail on $victim"
rm -f hold.3
moved() { [ "$(status_field "$dir" "[p['moves'] for p in d['procs'] if p['stage'] == 'work' and p['index'] == 3][0]")" -ge 1 ]; }
ok "replica 3 is placed again on another node" wait_for 180 moved
drained() { [ "$(events drained 3)" -ge 1 ]; }
ok "and drained there" wait_for 180 drained
is "$(status_field "$dir" "[e['reason'] for e in d['autoscale']['events'] if e['action'] == 'drained' and e['index'] == 3][0]")" \
	"it exited with status 0 after draining" "it left at once when drained again (status 0, not the timeout's SIGTERM)"
touch go
ok "the job ends" wait_for 180 failed_job_ended "$job" "$dir"
is "$(summary_field "$dir" "d['state']")" succeeded "it succeeded"
is "$(/usr/bin/python3 -c "
import json
print(sorted(json.loads(l)['i'] for l in open('$dir/out.jsonl')) == list(range($n)))")" True \
	"every source line is in the sink exactly once"
done_testing

#!/bin/sh
# Spreading and autoscaling on the 3-node cluster (4 GPUs each). Three
# replicas of 1 GPU that never talk to each other take a node each. A
# stage of slow replicas {min: 1, max: 6} behind a fast source (read on
# rank 0's node: replicas elsewhere pull their items) grows over the nodes
# while the backlog lasts and drains back to 1 once the source is dry,
# items pulled to a draining replica's node going to it; every source line
# reaches the sink exactly once. Events from status.json, not timing.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 7
dir=$(work_dir)
launch="$AIC_BUILD_DIR/launcher/aic-launch"
cd "$dir" || bail "cannot enter $dir"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
run() { # run SPEC: the job on 3 nodes, in the foreground
	timeout 300 srun -N3 --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix \
		--aic-job="$1" "$launch" >"$1.out" 2>"$1.err"
}

cat >spread.yaml <<YAML
name: spread
stages:
  model: {command: [sh, -c, 'echo \$AIC_NODE'], replicas: 3, gpus: 1, cpus: 0}
YAML
run spread.yaml
is "$?" 0 "3 replicas of 1 GPU: the job succeeds"
is "$(/usr/bin/python3 -c "import json; print(len({p['node'] for p in json.load(open('.aic/latest/plan.json'))['procs']}))")" 3 \
	"they take a node each (placement: spread, the default)"

n=600
/usr/bin/python3 -c "for i in range($n): print('{\"i\": %d}' % i)" >lines.jsonl
cat >job.yaml <<YAML
name: autoscale
stages:
  work: {command: [/usr/bin/python3, $AIC_SRC_DIR/tests/lib/workers/slow_lines.py, '0.05'], replicas: {min: 1, max: 6}, gpus: 1, cpus: 0,
         inputs: [lines], outputs: [out],
         autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 2}}
  hold: {command: [sh, -c, 'while [ ! -e $dir/go ]; do sleep 0.1; done'], cpus: 0, outputs: [lines]}
channels:
  lines: {source: lines.jsonl, capacity: 64}
  out: {sink: out.jsonl}
YAML
run job.yaml &
job=$!
# count ACTION: the work stage's events of that kind in status.json.
count() {
	/usr/bin/python3 - "$1" <<'PY' 2>/dev/null || echo 0
import json, sys
d = json.load(open(".aic/latest/status.json"))
print(sum(e["action"] == sys.argv[1] for e in d.get("autoscale", {}).get("events", [])))
PY
}
grown() { [ "$(count up)" -ge 2 ] && [ "$(count drained)" -ge "$(count up)" ]; }
wait_for() { # wait_for SECONDS CMD...
	t=$(($1 * 5))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.2
	done
}
ok "the stage grows on its backlog and, once the source is dry, drains back to 1" wait_for 180 grown
touch go
wait "$job"
is "$?" 0 "the job succeeds"
is "$(/usr/bin/python3 -c "
import json
ev = json.load(open('.aic/latest/summary.json'))['autoscale']['events']
print(len({e['node'] for e in ev if e['action'] == 'up'}) >= 2, ev[-1]['replicas'])")" "True 1" \
	"it grew onto more than one node, and ended at its min"
is "$(/usr/bin/python3 - <<'PY'
import collections, json
seen = collections.Counter(json.loads(l)["_aic_origin"]["line"] for l in open("out.jsonl"))
print(len(seen), sum(v > 1 for v in seen.values()))
PY
)" "$n 0" "every source line is in the sink exactly once"
is "$(/usr/bin/python3 -c "
import json
print({e['reason'] for e in json.load(open('.aic/latest/summary.json'))['autoscale']['events'] if e['action'] == 'drained'})")" \
	"{'it exited with status 0 after draining'}" "each drained replica finished and exited by itself"
done_testing

#!/bin/sh
# Satellite allocations (issue 16, parts 2 and 3) on the 4-node cluster.
# A job on 2 nodes whose stage of 4-GPU replicas (one per node) is
# backlogged, with autoscale: {max_nodes: 2}, submits satellite jobs;
# their agents join, their replicas take at least 30% of the items, every
# source line reaches the sink exactly once, and once the backlog is over
# the satellites are drained and released while the job still runs (no
# pending or running satellite job in squeue). A second such job cancelled
# with scancel mid-run takes its satellites with it. A third whose
# satellite can never start (the other nodes are taken) runs and finishes
# normally, and its pending satellite is cancelled at the end. Every wait
# is for an event (status.json, squeue), with a deadline, not a timing.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 19
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

# satellites JOB: the satellite jobs of main job JOB that SLURM has, pending or running.
satellites() {
	squeue -h -t PD,R,CG -n "aic-sat-$1" -o %i 2>/dev/null
}
no_satellites() { [ -z "$(satellites "$1")" ]; }
# sat_field DIR EXPR: EXPR over status.json's satellites list (as s).
sat_field() {
	status_field "$1" "(lambda s: $2)(d.get('satellites', {}).get('satellites', []))" 2>/dev/null
}
sat_running() { [ "$(sat_field "$1" "sum(x['state'] == 'running' for x in s)")" -ge "${2:-1}" ]; }

# job NAME ITEMS HOLD [AUTOSCALE]: a job on 2 nodes: ITEMS lines through slow 4-GPU replicas
# (one per node, tagged with their node); with HOLD, a stage keeps the job open until
# NAME/go exists. AUTOSCALE: the top-level autoscale (default {max_nodes: 2, idle_s: 3}).
job() {
	mkdir -p "$dir/$1"
	/usr/bin/python3 -c "for i in range($2): print('{\"i\": %d}' % i)" >"$dir/$1/lines.jsonl"
	cat >"$dir/$1/job.yaml" <<YAML
name: sat-$1
stages:
  work: {command: [/usr/bin/python3, $dir/work.py], replicas: {min: 1, max: 8}, gpus: 4,
         cpus: 0, inputs: [lines], outputs: [out],
         env: {PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so},
         autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 2}}
YAML
	if [ "$3" = hold ]; then
		cat >>"$dir/$1/job.yaml" <<YAML
  hold: {command: [sh, -c, 'while [ ! -e $dir/$1/go ]; do sleep 0.1; done'], cpus: 0,
         outputs: [lines]}
YAML
	fi
	cat >>"$dir/$1/job.yaml" <<YAML
channels:
  lines: {source: lines.jsonl, capacity: 16}
  out: {sink: out.jsonl}
autoscale: ${4:-"{max_nodes: 2, idle_s: 3}"}
YAML
	cat >"$dir/$1/job.sh" <<JOB
#!/bin/sh
#SBATCH -N2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:4
#SBATCH --exclusive
#SBATCH -o $dir/$1/job.out
srun --mpi=pmix "$launch"
JOB
	(cd "$dir/$1" && sbatch --parsable --aic-job=job.yaml job.sh)
}
cat >work.py <<'PY'
import json, os, time
import aic
w = aic.connect()
node = os.environ["AIC_NODE"]
while True:
    try:
        items = w.get("lines", max_items=1)
    except aic.Closed:
        break
    for it in items:
        time.sleep(0.2)
        d = json.loads(bytes(it.data))
        d["node"] = node
        w.put("out", json.dumps(d).encode())
    w.ack(items)
PY

# (b) The backlog grows the job onto satellites, which are released once it is over.
main=$(job grow 400 hold) || bail "sbatch failed"
diag "job $main"
trap 'touch "$dir/grow/go"; scancel "$main" 2>/dev/null; restore_node' EXIT
ok "a satellite joins the job while it is backlogged" wait_for 180 sat_running "$dir/grow"
released() {
	[ "$(sat_field "$dir/grow" "len(s) > 0 and all(x['state'] == 'ended' for x in s)")" = True ] &&
		no_satellites "$main"
}
ok "once the backlog is over, every satellite is released and none is left in squeue" \
	wait_for 240 released
is "$(sat_field "$dir/grow" "sum(x['why'] == 'idle for 3 s' and x['joined_s'] is not None for x in s) >= 1")" \
	True "status.json says why a satellite that joined was released: idle for idle_s"
sat_nodes=$(sat_field "$dir/grow" "' '.join(sorted({x['node'] for x in s if x['node']}))")
diag "satellite nodes: $sat_nodes"
ok "the main job still runs" sh -c "squeue -h -j $main -t R | grep -q ."
touch "$dir/grow/go"
ok "the job ends" wait_for 120 job_ended "$main"
is "$(summary_field "$dir/grow" "d['state']")" succeeded "it succeeded"
is "$(/usr/bin/python3 -c "
import json
print(sorted(json.loads(l)['i'] for l in open('$dir/grow/out.jsonl')) == list(range(400)))")" True \
	"every source line is in the sink exactly once"
share=$(/usr/bin/python3 -c "
import json
sat = set('$sat_nodes'.split())
n = [json.loads(l)['node'] in sat for l in open('$dir/grow/out.jsonl')]
print(round(100 * sum(n) / len(n)))")
diag "the satellites' replicas processed $share% of the items"
ok "the satellites' replicas processed at least 30% of the items ($share%)" [ "$share" -ge 30 ]
like "$(cat "$(jobdir "$dir/grow")/events.jsonl")" '"ev":"satellite".*"action":"released"' \
	"events.jsonl has the release"
like "$("$aic" status --job "$(jobdir "$dir/grow")")" "satellite .*released" \
	"aic status shows the satellites"

# scancel of the main job takes its satellites with it.
main=$(job cancel 400 hold) || bail "sbatch failed"
diag "job $main"
ok "a satellite joins the second job" wait_for 180 sat_running "$dir/cancel"
scancel "$main"
ok "scancel of the main job: it ends" wait_for 120 job_ended "$main"
ok "and no satellite of it is left in squeue" wait_for 60 no_satellites "$main"
# Its agent would end it too, having lost the head: the head's own scancel is in its log.
like "$(cat "$dir/cancel/job.out")" "satellite of rank [0-9]+ \(job [0-9]+\) cancelled: the job ended" \
	"the head cancelled it (SIGTERM)"

# (c) A satellite that cannot start (its partition's nodes are taken, and stay so after the
# job): the job runs and finishes, and the head cancels the satellite at its end.
scontrol create PartitionName=aicsat Nodes=n3,n4 State=UP MaxTime=INFINITE ||
	bail "cannot create the partition aicsat"
blocker=$(sbatch --parsable -p aicsat -N2 --exclusive -J aic-blocker -o /dev/null --wrap 'sleep 600') ||
	bail "sbatch of the blocker failed"
trap 'scancel "$blocker" "$main" 2>/dev/null; scontrol delete PartitionName=aicsat; restore_node' EXIT
blocking() { squeue -h -j "$blocker" -t R | grep -q .; }
wait_for 60 blocking || bail "the blocker did not start"
main=$(job pend 150 "" "{max_nodes: 1, partition: aicsat, idle_s: 600}") || bail "sbatch failed"
diag "job $main, blocker $blocker"
pending() { [ "$(sat_field "$dir/pend" "sum(x['state'] == 'pending' for x in s)")" -ge 1 ]; }
ok "the backlogged job submits a satellite, which stays pending" wait_for 180 pending
ok "the job ends" wait_for 180 job_ended "$main"
is "$(summary_field "$dir/pend" "d['state']")" succeeded "it succeeded without its satellite"
ok "its pending satellite was cancelled" wait_for 60 no_satellites "$main"
is "$(summary_field "$dir/pend" "[(s['state'], s['why']) for s in d['satellites']['satellites']]")" \
	"[('ended', 'the job ended')]" "summary.json: the satellite ended with the job"
scancel "$blocker"
done_testing

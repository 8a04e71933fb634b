#!/bin/sh
# A stage with on_node_failure: fail ends the job when a node with one of
# its processes dies, with a reason that names the node and the stage; no
# process is left anywhere.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 5
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

cat >work.sh <<WORKER
#!/bin/sh
echo "\$AIC_NODE" >"$dir/work.\$AIC_INDEX"
while [ ! -e "$dir/go" ]; do sleep 0.1; done
WORKER
cat >job.yaml <<SPEC
name: fail-on-node-failure
stages:
  work: {command: [sh, $dir/work.sh], replicas: 2, gpus: 4, cpus: 0, on_node_failure: fail}
SPEC
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
both_started() { [ "$(ls "$dir"/work.[0-9]* 2>/dev/null | wc -l)" -eq 2 ]; }
ok "both replicas start" wait_for 120 both_started
victim=$(cat "$dir/work.1")
[ "$victim" != "$(head_node)" ] || bail "replica 1 is on the head's node ($victim)"
fail_node "$victim"
ok "the job ends" wait_for 120 failed_job_ended "$job" "$dir"
is "$(summary_field "$dir" "d['state']")" failed "it failed"
like "$(summary_field "$dir" "d['reason']")" \
	"node '$victim' was lost \\(.*\\) and stage 'work' has on_node_failure: fail" \
	"its reason names the node and the stage"
no_workers() { ! pgrep -f "$dir/work.sh" >/dev/null; }
ok "no worker is left on any node" wait_for 30 no_workers
done_testing

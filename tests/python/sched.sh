#!/bin/sh
# The engine's loop runs as SCHED_BATCH (launcher/engine/engine.c,
# AIC_SCHED_BATCH): a worker's frame that wakes it does not preempt the
# worker. Seen from a worker under `aic run`, whose parent is the engine:
#   by default the engine is SCHED_BATCH and the worker itself has the
#   normal policy back (aic_spawn_set_policy), and its item goes through
#   the engine to the sink;
#   AIC_SCHED_BATCH=0 leaves the engine with the normal policy;
#   a bad AIC_SCHED_BATCH is warned of, quoted, and the default is used.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir sched
plan 4

cat >probe.py <<'PY'
import os, aic
names = {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch", os.SCHED_IDLE: "idle"}
w = aic.connect()
w.put("c", b'{"x": 1}', wait=True)
print("engine %s worker %s" % (names.get(os.sched_getscheduler(os.getppid()), "?"),
                               names.get(os.sched_getscheduler(0), "?")), flush=True)
PY
cat >job.yaml <<YAML
stages:
  probe: {command: [python3, $dir/probe.py], cpus: 0, outputs: [c], restart: {max: 0}}
channels:
  c: {sink: out.jsonl}
YAML
# probe [ENV]: the job's exit status, then what the worker saw.
probe() {
	rm -f out.jsonl
	env -u AIC_SCHED_BATCH ${1:-} "$aic" run job.yaml >run.out 2>&1
	echo "$? $("$aic" logs probe/0) items $(wc -l <out.jsonl)"
}
is "$(probe)" "0 engine batch worker other items 1" \
	"by default the engine runs as SCHED_BATCH, its worker with the normal policy, and items go through"
is "$(probe AIC_SCHED_BATCH=1)" "0 engine batch worker other items 1" "AIC_SCHED_BATCH=1: the same"
is "$(probe AIC_SCHED_BATCH=0)" "0 engine other worker other items 1" "AIC_SCHED_BATCH=0: the engine keeps the normal policy"
got=$(probe AIC_SCHED_BATCH=yes)
is "$got $(grep -c 'AIC_SCHED_BATCH="yes" is neither 0 nor 1: the default, 1, is used' run.out)" \
	"0 engine batch worker other items 1 1" "AIC_SCHED_BATCH=yes: warned of, quoted, and the default is used"

#!/bin/sh
# SIGTERM as a notice under `aic run` (checkpoint.term_grace_s): in a job
# whose spec writes a checkpoint section, SIGTERM to the engine drains it
# as `aic stop --checkpoint` does (every stage checkpoints, the job ends
# "checkpointed", exit 75, saying SIGTERM), and `aic run --resume`
# continues from there. SIGTERM to the engine and every worker at once,
# as SLURM sends it to a whole step: the Python workers (AIC_TERM_NOTICE)
# survive it until they have checkpointed. A job without a checkpoint
# section, or with term_grace_s 0, is cancelled by SIGTERM as before (its
# workers are not told), and a second SIGTERM cancels a drain at once.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
enter_work_dir sigterm
plan 18

# The workers step and save their step (tests/lib/workers/stepper.py): a
# gang's ranks the number of checkpoints so far, a replica its step.
# NO_SAVE: never answers. RUN_TO: ends 5 steps after where it resumed.
# spec CHECKPOINT_SECTION [RUN_TO [NO_SAVE]]
spec() {
	cat <<YAML
name: st
$1
stages:
  train: {command: [python3, $workers_dir/stepper.py], ranks: 2, cpus: 0, env: {RUN_TO: "$2", NO_SAVE: "$3"}}
  roll: {command: [python3, $workers_dir/stepper.py], replicas: 2, cpus: 0, env: {RUN_TO: "$2", NO_SAVE: "$3"}}
YAML
}
summary() {
	python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['state'])"
}
# pids: every worker of the running job (SLURM signals them with the engine).
pids() {
	"$aic" status --json | python3 -c '
import json, sys
print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["procs"] if p.get("pid")))'
}

# SIGTERM to the engine alone: it asks the workers, as on any notice.
spec "checkpoint: {grace_s: 60, term_grace_s: 60}" >st.yaml
rm -f ready.*
"$aic" run st.yaml >run1.out 2>run1.err &
pid=$!
wait_for 30 workers_ready 4 || diag "the workers did not start: $(cat run1.err)"
jd=$(readlink -f .aic/latest)
kill -TERM $pid
wait $pid
is "$?" 75 "SIGTERM: the job ends with exit code 75 (checkpointed)"
is "$(summary)" checkpointed "its summary says checkpointed"
like "$(aic_state "s['runs'][-1]['reason']")" "^SIGTERM .*every stage checkpointed" \
	"the reason says SIGTERM, every stage checkpointed"
is "$(aic_state "s['checkpoints']['train']['versions']")" "[1, 1]" "both ranks of the gang counted"
roll=$(aic_state "s['checkpoints']['roll']['versions']")
like "$roll" '^\[[1-9][0-9]*, [1-9][0-9]*\]$' "each replica's checkpoint counted ($roll)"
like "$("$aic" logs train/0 | head -1)" "notice 60$" "workers are told (AIC_TERM_NOTICE)"

rm -f ready.*
spec "checkpoint: {grace_s: 60, term_grace_s: 60}" yes >st.yaml
"$aic" run --resume "$jd" st.yaml >run2.out 2>run2.err
is "$?" 0 "aic run --resume runs it to its end"
like "$("$aic" logs train/0 | grep '^start resume 1 ')" '^start resume 1 step [1-9]' \
	"the gang resumes from version 1, not step 0"
r0=$(echo "$roll" | tr -d '[] ' | cut -d, -f1)
is "$("$aic" logs roll/0 | grep -c "^start resume $r0 step $r0 ")" 1 \
	"a replica resumes from its step $r0, not step 0"

# SIGTERM to the engine and every worker at once, as SLURM's.
rm -f ready.* .aic/latest
spec "checkpoint: {grace_s: 60, term_grace_s: 60}" >st.yaml
"$aic" run st.yaml >run3.out 2>run3.err &
pid=$!
wait_for 30 workers_ready 4 || diag "the workers did not start: $(cat run3.err)"
kill -TERM $pid $(pids)
wait $pid
is "$?" 75 "SIGTERM to the engine and its workers: exit code 75"
is "$(aic_state "s['checkpoints']['train']['versions']")" "[1, 1]" \
	"the gang's ranks checkpointed before dying of SIGTERM"
like "$(aic_state "s['checkpoints']['roll']['versions']")" '^\[[1-9][0-9]*, [1-9][0-9]*\]$' \
	"so did the replicas"

# A second SIGTERM: cancelled at once, not after term_grace_s.
rm -f ready.* .aic/latest
spec "checkpoint: {grace_s: 60, term_grace_s: 60}" "" yes >st.yaml
"$aic" run st.yaml >run4.out 2>run4.err &
pid=$!
wait_for 30 workers_ready 4 || diag "the workers did not start: $(cat run4.err)"
kill -TERM $pid
for _ in $(seq 300); do
	grep -q "asking every stage for a checkpoint" run4.err && break
	sleep 0.1
done
kill -TERM $pid
wait $pid
isnt "$?" 75 "a second SIGTERM does not wait for the checkpoints"
is "$(summary)" cancelled "the job is cancelled"

# Without a checkpoint section, or with term_grace_s 0: SIGTERM cancels.
for section in "" "checkpoint: {term_grace_s: 0}"; do
	rm -f ready.* .aic/latest
	spec "$section" >st.yaml
	"$aic" run st.yaml >run5.out 2>run5.err &
	pid=$!
	wait_for 30 workers_ready 4 || diag "the workers did not start: $(cat run5.err)"
	kill -TERM $pid
	wait $pid
	rc=$?
	is "$rc $(summary)" "1 cancelled" "'$section': SIGTERM cancels the job"
	like "$("$aic" logs train/0 | head -1)" "notice None$" "'$section': workers are not told"
done

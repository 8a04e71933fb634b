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

state() {
	scontrol -o show job "$job" >job.state 2>&1
	cat job.state >>job.states
	sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' job.state
}
is_state() { [ "$(state)" = "$1" ]; }
has_lines() { [ "$(sink_lines)" -ge "$1" ] || { state >/dev/null; false; }; }
# requeue_at N: once the sink holds N lines, requeue the job and start it again at once.
requeue_at() {
	wait_for 300 has_lines "$1" || bail "the sink did not reach $1 lines ($(state)): $(tail -n 5 job.out); $(grep -o 'JobState=[A-Z_]* Reason=[^ ]*' job.states | uniq | tr '\n' ' ')"
	requeue_job "$job"
	diag "requeued at $(sink_lines) sink lines"
}

square_job requeue-source $N 0.002
job=$("$AIC_BUILD_DIR/launcher/aic" submit job.yaml -N 2 --parsable -o "$dir/job.out" | tail -n 1)
case "$job" in
'' | *[!0-9]*) bail "aic submit gave no job id: '$job'" ;;
esac
requeue_at 5000
first=$(sink_lines)
requeue_at $((first + 5000))
second=$(sink_lines)
wait_for 300 is_state COMPLETED
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
set -- $(square_tally $N)
diag "sink: $(sink_lines) lines; $1 source lines, $2 written twice, $3 lost"
is "$1 $3 $4" "$N 0 0" "every source line is in the sink, none lost, each line its own"
ok "fewer than 1% written twice ($2 of $N)" [ $(($2 * 100)) -lt "$N" ]
ok "the runs continued the source: the sink is not restarted from line 1" \
	[ "$(sink_lines)" -lt $((N + first / 2)) ]
done_testing

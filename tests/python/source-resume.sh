#!/bin/sh
# A resumed run continues each source where the work stopped (state.json's
# sources.<chan>.progress, from the acker at rank 0's agent; CONFIG's
# resume): a 20,000-line source -> 3 map replicas -> sink, stopped twice
# mid-stream (aic stop --checkpoint, then SIGTERM, each once the sink holds
# a given count of lines) and resumed with aic run --resume, ends with every
# source line in the sink, exactly once after dedupe by _aic_origin, fewer
# than 1% written twice; the same SIGKILLed (its whole process group, no
# notice) once the sink holds a random count of lines, then resumed, loses
# no line. A run that restarted its source from line 1 would write ~all of
# what came before a second time.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir source-resume
plan 15
N=20000

square_job resume $N 0.0005
echo 'checkpoint: {grace_s: 1}' >>job.yaml
trap 'kill -9 -- "-$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT

# wait_lines N: until the sink holds N lines (at most 120 s), the job still running.
wait_lines() {
	for _ in $(seq 2400); do
		[ "$(sink_lines)" -ge "$1" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# run ARGS...: aic run in a process group of its own ($pid leads it), in the background.
run() {
	setsid "$aic" run "$@" >>run.out 2>>run.err &
	pid=$!
}
# (b) stopped twice with notice, resumed twice.
run job.yaml
wait_lines 5000 || bail "the sink did not reach 5000 lines: $(tail -n 5 run.err)"
jd=$(readlink -f .aic/latest)
"$aic" stop --checkpoint >/dev/null 2>&1
wait "$pid"
is "$?" 75 "aic stop --checkpoint at 5000 sink lines: the job ends checkpointed (75)"
first=$(sink_lines)
ok "mid-stream: the sink holds fewer lines than the source ($first)" [ "$first" -lt "$N" ]
progress=$(python3 -c "import json; print(json.load(open('$jd/state.json'))['sources']['lines']['progress'])")
like "$progress" "'next': \[0, [0-9]+\]" "state.json has the source's progress ($(echo "$progress" | cut -c1-60))"

run --resume "$jd" job.yaml
wait_lines $((first + 5000)) || bail "the resumed sink did not grow: $(tail -n 5 run.err)"
kill -TERM "$pid"
wait "$pid"
rc=$?
second=$(sink_lines)
ok "SIGTERM to the resumed run 5000 lines later: it stops mid-stream (exit $rc, $second lines)" \
	[ "$rc" -ne 0 -a "$second" -lt "$N" ]
run --resume "$jd" job.yaml
wait "$pid"
is "$?" 0 "the second resume runs the job to its end"
set -- $(square_tally $N)
total=$(sink_lines)
diag "sink: $total lines, stopped at $first and $second; $1 source lines, $2 written twice, $3 lost"
is "$1 $3 $4" "$N 0 0" "every source line is in the sink, none lost, each line its own"
ok "fewer than 1% written twice ($2 of $N)" [ $(($2 * 100)) -lt "$N" ]
is "$(python3 -c "import json; print(json.load(open('$jd/state.json'))['sources']['lines']['progress'])")" \
	"{'done': True}" "state.json says the source is done"

# (c) SIGKILL to the whole process group at a random point, no notice.
# The journal is at most ~1 s old at the kill; the resumed run must start
# from what it holds (next, unfinished), so what is written twice is at most
# the sink lines the journal had not counted yet: an exact bound, not a
# timing one. The kill waits for the journal's first progress record, so a
# fast machine cannot kill before there is anything to resume from.
mkdir k && cp in.jsonl job.yaml k/ && cd k || bail "cannot copy the job"
at=$(awk -v s="$$" 'BEGIN { srand(s); print 2000 + int(rand() * 14000) }')
run job.yaml
wait_lines "$at" || bail "the sink did not reach $at lines: $(tail -n 5 run.err)"
jd=$(readlink -f .aic/latest)
# journalled: "next unfinished" of state.json's progress of lines (0 0 before any).
journalled() {
	/usr/bin/python3 - "$jd/state.json" <<'PY'
import json, sys
try:
    p = json.load(open(sys.argv[1]))["sources"]["lines"]["progress"]
except (OSError, ValueError, KeyError):
    print(0, 0)
else:
    print(p["next"][1] if "next" in p else 0, len(p.get("unfinished", [])))
PY
}
for _ in $(seq 400); do
	set -- $(journalled)
	[ "$1" -gt 1 ] && break
	sleep 0.05
done
kill -KILL -- "-$pid"
wait "$pid"
is "$?" 137 "SIGKILL to aic run's process group once the sink holds $at lines"
killed=$(sink_lines)
set -- $(journalled)
next=$1 unfinished=$2
ok "the journal had the source's progress at the kill (next line $next, $unfinished unfinished)" [ "$next" -gt 1 ]
# The kill may leave part of a line at the end of the job's events.jsonl
# (the head writes it through stdio); made so here when it did not, as
# the sink's in tests/python/sink-kill.sh. The resumed run appends after
# its last whole line.
[ "$(tail -c 1 "$jd/events.jsonl" | od -An -c | tr -d ' ')" = '\n' ] &&
	printf '{"kind": "proc", "stage": "ma' >>"$jd/events.jsonl"
whole=$(wc -l <"$jd/events.jsonl")
run --resume "$jd" job.yaml
wait "$pid"
is "$?" 0 "aic run --resume runs the killed job to its end"
like "$(cat run.err)" "events.jsonl ended in [0-9]+ bytes of a line cut short" \
	"it cut the part of a line the kill left at the end of events.jsonl"
is "$(/usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().split("\n")
print(lines[-1] == "" and all(isinstance(json.loads(l), dict) for l in lines[:-1]), len(lines) - 1 > int(sys.argv[2]))
' "$jd/events.jsonl" "$whole")" "True True" "events.jsonl is whole lines of JSON, the resumed run's after the killed run's"
set -- $(square_tally $N)
diag "sink: $(sink_lines) lines, killed at $killed; $1 source lines, $2 written twice, $3 lost"
is "$1 $3 $4" "$N 0 0" "no source line lost, each line its own"
most=$((killed - (next - 1) + unfinished))
ok "and it resumed from the journal: written twice ($2) <= sink lines past it ($most)" [ "$2" -le "$most" ]

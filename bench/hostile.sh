#!/bin/sh
# A job under `aic run` moving 100,000 items (256 B, one producer, one
# consumer) while 1,000 hostile connections (garbage, slowloris, oversized
# frames, wrong keys, silent ones; 500 on the head, 500 on the agent,
# each reconnected as soon as it is dropped) hammer it, beside the same job
# with none. Prints a JSON line per run: items delivered, the engine
# process's peak RSS (head and agent are one process under aic run, so
# this bounds the head's), seconds, and the hostile connections made.
# The job must deliver every item and stay under 64 MiB.
#
#   bench/hostile.sh [BUILD-DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${AIC_BUILD_DIR:-$top/build}}
work=$(mktemp -d /var/tmp/aic-bench-hostile.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cd "$work"
ch="$build/bench/channel"
hostile="$top/tests/lib/hostile.py"
n_items=100000
export AIC_LIBRARY="$build/lib/.libs/libaic.so"

cat >b.yaml <<SPEC
name: bench-hostile
stages:
  addr: {command: [sh, -c, 'echo \$AIC_AGENT >$work/agent.tmp && mv $work/agent.tmp $work/agent'], cpus: 0}
  put: {command: [sh, -c, 'while [ ! -e $work/go ]; do sleep 0.05; done; exec $ch put $n_items 256'],
        cpus: 0, outputs: [bench]}
  get: {command: [$ch, get], cpus: 0, inputs: [bench]}
channels:
  bench: {capacity: 1024}
SPEC

wait_file() { # wait_file PATH SECONDS
	t=$(($2 * 20))
	while [ ! -s "$1" ]; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.05
	done
}

run() { # run HOSTILE_CONNECTIONS
	rm -rf .aic go agent ready.* storm.*
	start=$(date +%s.%N)
	"$build/launcher/aic" run b.yaml >run.out 2>run.err &
	pid=$!
	wait_file agent 60 && wait_file .aic/latest/head 60 || { cat run.err >&2; exit 1; }
	storms=
	if [ "$1" -gt 0 ]; then
		half=$(($1 / 2))
		# shellcheck disable=SC2046
		python3 "$hostile" storm $(tr : ' ' <.aic/latest/head) $half ready.head >storm.head &
		storms="$storms $!"
		# shellcheck disable=SC2046
		python3 "$hostile" storm $(tr : ' ' <agent) $half ready.agent >storm.agent &
		storms="$storms $!"
		while [ ! -e ready.head ] || [ ! -e ready.agent ]; do sleep 0.1; done
	fi
	touch go
	hwm=0
	while kill -0 $pid 2>/dev/null; do
		h=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null || true)
		[ -n "$h" ] && hwm=$h
		sleep 0.2
	done
	rc=0
	wait $pid || rc=$?
	end=$(date +%s.%N)
	made=0
	for s in $storms; do kill -TERM "$s" 2>/dev/null || true; done
	for s in $storms; do wait "$s" || true; done
	[ "$1" -gt 0 ] && made=$(($(cat storm.head) + $(cat storm.agent)))
	items=$(sed -n 's/.*"items": \([0-9]*\).*/\1/p' .aic/latest/logs/get.0.log)
	log_lines=$(grep -c "rejected a connection" run.err || true)
	python3 -c "
import json, sys
hwm = int(sys.argv[4])
print(json.dumps({'what': 'hostile' if int(sys.argv[1]) else 'baseline',
                  'hostile_connections': int(sys.argv[1]), 'hostile_made': int(sys.argv[2]),
                  'rejection_log_lines': int(sys.argv[8]),
                  'items': int(sys.argv[3] or 0), 'items_expected': $n_items,
                  'peak_rss_mib': round(hwm / 1024, 1), 'seconds': round(float(sys.argv[6]) - float(sys.argv[5]), 2),
                  'job_exit': int(sys.argv[7]),
                  'ok': int(sys.argv[3] or 0) == $n_items and hwm < 64 * 1024 and int(sys.argv[7]) == 0}))
" "$1" "$made" "${items:-0}" "$hwm" "$start" "$end" "$rc" "$log_lines"
}
run 0
run 1000

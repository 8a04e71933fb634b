#!/bin/sh
# The engine's memory under a long stream of mixed item sizes (same node,
# `aic run`): one producer puts rounds of 8 x 64 B, 4 x 4 KiB, 2 x 64 KiB
# and 1 x 1 MiB items (every other round built in place) for SECONDS, one
# consumer gets and acks them (channel soak / channel get), and the `aic
# run` process's RSS (the head and the node's agent) is read from /proc
# every second. Prints one JSON line: the RSS after a tenth of the run
# (warm: rings, buffers and pools at their size), at the end and at its
# highest, every tenth of the run, and the items that went through. RSS
# must not grow: growth is end less warm.
#
#   bench/soak.sh [SECONDS] [BUILD-DIR]    (default 60 s; the issue's
#                                           1-hour soak: bench/soak.sh 3600)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
build=${2:-${AIC_BUILD_DIR:-$top/build}}
work=$(mktemp -d /var/tmp/aic-bench-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat >soak.yaml <<SPEC
name: bench-soak
stages:
  put: {command: [$build/bench/channel, soak, "$secs"], cpus: 0, outputs: [bench]}
  get: {command: [$build/bench/channel, get], cpus: 0, inputs: [bench]}
channels:
  bench: {capacity: 64}
SPEC
"$build/launcher/aic" run soak.yaml >run.out 2>&1 &
pid=$!
warm_at=$(((secs + 9) / 10))
t=0 warm=0 last=0 top_rss=0 series=
while kill -0 "$pid" 2>/dev/null; do
	rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
	if [ -n "$rss" ]; then
		last=$rss
		[ "$rss" -gt "$top_rss" ] && top_rss=$rss
		[ "$t" -eq "$warm_at" ] && warm=$rss
		[ $((t % warm_at)) -ne 0 ] || series="$series${series:+, }$rss"
	fi
	sleep 1
	t=$((t + 1))
done
wait "$pid" || { echo "soak: aic run failed: $(tail -3 run.out)" >&2; exit 1; }
items=$(sed -n 's/.*"items": \([0-9]*\).*/\1/p' .aic/latest/logs/get.0.log)
[ "$warm" -gt 0 ] || { echo "soak: the run ended before it was warm (${t} s)" >&2; exit 1; }
echo "{\"what\": \"soak\", \"seconds\": $secs, \"items\": $items, \"rss_warm_kib\": $warm, \"rss_end_kib\": $last, \"rss_max_kib\": $top_rss, \"growth_kib\": $((last - warm)), \"rss_every_tenth_kib\": [$series]}"

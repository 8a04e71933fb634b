#!/bin/sh
# The worker <-> agent path over its two transports in the same run: the
# agent's Unix domain socket (AIC_AGENT_UNIX, what workers use) and loopback
# TCP (AIC_AGENT; the workers run under `env -u AIC_AGENT_UNIX`, so they
# fall back to it), in alternating order (TCP first in odd repetitions).
# For each: 64 B items flat out (items/s), 64 B items at half that rate
# (put->get latency p50/p99), the idle control round trip, and grpo-toy
# (examples/grpo-toy, GEN_DELAY_S=0, EPOCHS passes) training steps/s.
# Prints JSON lines tagged with "rep" and "via" (bench/figures.py-style).
#
#   bench/agent-transport.sh [BUILD-DIR]   (REPS: $AIC_BENCH_REPS, default 5;
#                                           EPOCHS: $AIC_BENCH_GRPO_EPOCHS, default 30)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${AIC_BUILD_DIR:-$top/build}}
reps=${AIC_BENCH_REPS:-5}
epochs=${AIC_BENCH_GRPO_EPOCHS:-30}
py=/usr/bin/python3
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d /var/tmp/aic-bench-transport.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
ch="$build/bench/channel"
small=200000 rtt=20000

# prefix VIA: what goes before a worker's command for VIA (tcp: no Unix socket).
prefix() { [ "$1" = tcp ] && echo "/usr/bin/env, -u, AIC_AGENT_UNIX, " || echo ""; }

# chan VIA PUT N RATE: one producer, one consumer of 64 B items; the line
# of the consumer (PUT=put) or of the producer (PUT=rtt).
chan() {
	p=$(prefix "$1")
	n=", \"64\""
	[ "$2" = put ] || n=""
	cat >b.yaml <<SPEC
name: bench-transport
stages:
  put: {command: [$p$ch, $2, "$3"$n], cpus: 0, outputs: [bench],
        env: {INPLACE: "0", TOUCH: "1", GAP_US: "0", RATE: "$4"}}
  get: {command: [$p$ch, get], cpus: 0, inputs: [bench], env: {TOUCH: "1"}}
channels:
  bench: {capacity: 1024}
SPEC
	"$build/launcher/aic" run b.yaml >/dev/null 2>&1
	if [ "$2" = put ]; then cat .aic/latest/logs/get.0.log; else cat .aic/latest/logs/put.0.log; fi
	rm -rf .aic
}

# grpo VIA: grpo-toy's training steps/s.
grpo() {
	rm -rf g && cp -r "$top/examples/grpo-toy" g && chmod -R u+w g
	sed -i -e "s|command: \[/usr/bin/python3, |command: [$(prefix "$1")$py, |" \
		-e "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: 0/" -e "s/epochs: [0-9]*/epochs: $epochs/" g/job.yaml
	(cd g && "$build/launcher/aic" run job.yaml >run.out 2>&1) || { cat g/run.out >&2; exit 1; }
	$py - g/.aic/latest/reward.csv <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
t = float(rows[-1]["time_s"])
print(json.dumps({"what": "grpo", "steps": len(rows), "loop_s": t, "steps_per_s": round(len(rows) / t, 1)}))
PY
}

one() { # one VIA REP: every figure over VIA
	tag="s/^{/{\"rep\": $2, \"via\": \"$1\", /"
	line=$(chan "$1" put $small 0)
	echo "$line" | sed "$tag"
	rate=$(echo "$line" | sed -n 's/.*"items_per_s": \([0-9]*\).*/\1/p')
	chan "$1" put $small $((rate / 2)) |
		sed "s/\"what\": \"channel\"/\"what\": \"channel half rate\", \"rate\": $((rate / 2))/; $tag"
	chan "$1" rtt $rtt 0 | sed "$tag"
	grpo "$1" | sed "$tag"
}
i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then one tcp $i; one unix $i; else one unix $i; one tcp $i; fi
	i=$((i + 1))
done

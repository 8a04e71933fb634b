#!/bin/sh
# Channels on this machine under `aic run` (one producer, one consumer, same
# node), each beside a baseline that does the same work without a channel,
# in alternating order (REPS pairs; the baseline first in odd pairs, the
# channel first in even ones). Prints JSON lines, each tagged with its pair:
#   1 MiB items, put from a buffer: the producer fills a buffer and aic_put
#     copies it; the consumer reads every byte (TOUCH=1). Baseline: one
#     process fills a buffer, copies it into the next slot of a 16 MiB ring
#     (a producer's arena region) and reads the slot (channel local ... 1).
#   1 MiB items built in place (aic_put_buffer): the producer fills the item
#     where the consumer reads it. Baseline: fill the next slot of the ring,
#     read it (channel local ... 0).
#   64 B items, pipelined: items/s, beside 64 B messages over loopback TCP,
#     one write() each (tcp_stream msgs); and the put->get latency with the
#     producer flat out (queueing; no baseline).
#   One 64 B item in flight (the producer sleeps GAP_US before each put):
#     put->get latency, beside 64 B messages over loopback TCP sent the same
#     way (tcp_stream paced). A ping-pong would need a cycle of channels,
#     which the spec refuses.
#   64 B items at half the rate the flat-out run of the same pair reached
#     (RATE): the put->get latency p50/p99 of a channel that keeps up.
#   The control round trip worker -> agent -> worker, idle: a request and
#     its answer (aic_phase_should_yield, channel rtt), beside a loopback
#     TCP ping-pong of 64 B (tcp_stream pingpong).
#   Memory per in-flight item: the engine's peak RSS with HOLD_BIG 64 B
#     items held at once by a consumer that acks only at the end (channel
#     hold), less that with HOLD_SMALL, per item.
#
#   bench/channels.sh [BUILD-DIR]      (REPS: $AIC_BENCH_REPS, default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${AIC_BUILD_DIR:-$top/build}}
reps=${AIC_BENCH_REPS:-5}
work=$(mktemp -d /var/tmp/aic-bench-channels.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
ch="$build/bench/channel"
big=16000 small=500000 paced=4000 gap=500 rtt=20000 hold_small=2000 hold_big=100000

# run N SIZE CAPACITY INPLACE [GAP_US]: one producer, one consumer; the
# consumer's line. PUT (put, or rtt: then the producer's line is printed),
# GET (get, or hold), RATE (items/s, 0: flat out) and PUTCPUS from the
# environment. The producer reserves a core (PUTCPUS, default 1), as a
# job's stage that keeps a core busy would: the consumer (cpus: 0) and the
# engine run on the other cores (launcher/engine/cpu_pool.c). Runs of one
# item or one request at a time reserve none (PUTCPUS=0), as a stage that
# mostly waits would: on a VM a wake-up on the same core is the cheaper.
run() {
	cat >b.yaml <<SPEC
name: bench-channels
stages:
  put: {command: [$ch, ${PUT:-put}, "$1", "$2"], cpus: ${PUTCPUS:-1}, outputs: [bench],
        env: {INPLACE: "$4", TOUCH: "1", GAP_US: "${5:-0}", RATE: "${RATE:-0}"}}
  get: {command: [$ch, ${GET:-get}], cpus: 0, inputs: [bench], env: {TOUCH: "1"}}
channels:
  bench: {capacity: $3}
SPEC
	[ "${PUT:-put}" = put ] || sed -i 's/, "64"\]/]/' b.yaml # rtt N
	"$build/launcher/aic" run b.yaml >/dev/null 2>&1
	if [ "${PUT:-put}" = put ]; then cat .aic/latest/logs/get.0.log; else cat .aic/latest/logs/put.0.log; fi
	[ "${GET:-get}" = get ] || python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['engine_maxrss_kib'])" >rss.txt
	rm -rf .aic
}
# hold N: the engine's peak RSS (KiB) with N 64 B items held in flight at once.
hold() {
	GET=hold run "$1" 64 $(($1 + 64)) 0 >/dev/null
	cat rss.txt
}
# pair REP NAME 'BASELINE' 'AIC': both, in the order of REP, each line tagged.
pair() {
	if [ $(($1 % 2)) -eq 1 ]; then set -- "$1" "$2" "$3" "$4"; else set -- "$1" "$2" "$4" "$3"; fi
	for cmd in "$3" "$4"; do
		eval "$cmd" | sed "s/^{/{\"rep\": $1, \"pair\": \"$2\", /"
	done
}
i=1
while [ $i -le "$reps" ]; do
	pair $i put "\"$ch\" local $big 1048576 16777216 1" "run $big 1048576 16 0"
	pair $i inplace "\"$ch\" local $big 1048576 16777216 0" \
		"run $big 1048576 16 1 | sed 's/\"what\": \"channel\"/\"what\": \"channel in place\"/'"
	pair $i small "\"$build/bench/tcp_stream\" msgs $small 64" "run $small 64 1024 0" | tee small.json
	rate=$(sed -n 's/.*"what": "channel".*"items_per_s": \([0-9]*\).*/\1/p' small.json)
	RATE=$((rate / 2)) run $small 64 1024 0 |
		sed "s/\"what\": \"channel\"/\"what\": \"channel half rate\", \"rate\": $((rate / 2))/; s/^{/{\"rep\": $i, /"
	pair $i rtt "\"$build/bench/tcp_stream\" pingpong $rtt 64" "PUT=rtt PUTCPUS=0 run $rtt 64 1024 0"
	r1=$(hold $hold_small) r2=$(hold $hold_big)
	echo "{\"rep\": $i, \"what\": \"inflight memory\", \"items\": $hold_big, \"rss_kib\": [$r1, $r2], \"bytes_per_item\": $(((r2 - r1) * 1024 / (hold_big - hold_small)))}"
	pair $i paced "\"$build/bench/tcp_stream\" paced $paced 64 $gap" \
		"PUTCPUS=0 run $paced 64 16 0 $gap | sed 's/\"what\": \"channel\"/\"what\": \"channel paced\"/'"
	i=$((i + 1))
done

#!/bin/sh
# Channel throughput on this machine under `aic run` (one producer, one
# consumer, same node), beside memcpy of the same bytes in the same run:
# large items (1 MiB) for GB/s, put from a buffer (one copy, into shared
# memory) and built in place (aic_put_buffer: no copy), small items (64 B)
# for items/s and put->get latency. Prints JSON lines.
#
#   bench/channels.sh [BUILD-DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${AIC_BUILD_DIR:-$top/build}}
work=$(mktemp -d /var/tmp/aic-bench-channels.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
ch="$build/bench/channel"

run() { # run N SIZE CAPACITY [INPLACE]
	cat >b.yaml <<SPEC
name: bench-channels
stages:
  put: {command: [$ch, put, "$1", "$2"], cpus: 0, outputs: [bench], env: {INPLACE: "${4:-0}"}}
  get: {command: [$ch, get], cpus: 0, inputs: [bench]}
channels:
  bench: {capacity: $3}
SPEC
	"$build/launcher/aic" run b.yaml >/dev/null 2>&1
	cat .aic/latest/logs/get.0.log
	rm -rf .aic
}
echo "# large items: 10000 x 1 MiB, put (one copy) and built in place (aic_put_buffer)"
"$ch" memcpy 10000 1048576
"$ch" memcpy 10000 1048576 16777216
run 10000 1048576 16
run 10000 1048576 16 1 | sed 's/"what": "channel"/"what": "channel in place"/' 
echo "# small items: 200000 x 64 B"
"$ch" memcpy 200000 64
"$build/bench/tcp_stream" pingpong 20000 64
run 200000 64 1024

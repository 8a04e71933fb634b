#!/bin/sh
# Cross-node channel throughput on the local cluster (scripts/minicluster up,
# its env): a producer on n1, a consumer on n3, 1 MiB items put from a buffer
# (one copy, into the producer's shared memory) and built in place
# (aic_put_buffer), beside a raw TCP stream of the same bytes from n1's to
# n3's network namespace, in the same run; then a compressed channel of
# text-like items beside `zstd -b1` on the same bytes. Prints JSON lines.
#
#   bench/channels-cluster.sh [ITEMS]     (default 1000 x 1 MiB)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
n=${1:-1000}
work=$(mktemp -d "$build/bench-xchannels.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
addr3=$(scontrol show node n3 | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p')

nsenter --net=/run/netns/aicn3 "$build/bench/tcp_stream" recv 17999 >tcp.json &
sleep 0.3
nsenter --net=/run/netns/aicn1 "$build/bench/tcp_stream" send "$addr3" 17999 $((n * 1048576)) >/dev/null
wait
cat tcp.json

xchannel() { # xchannel COMPRESS FILL [INPLACE]: one producer on n1, one consumer on n3
	cat >x.yaml <<SPEC
name: bench-xchannels
stages:
  put: {command: [$build/bench/channel, put, "$n", "1048576"], gpus: 4, cpus: 0, outputs: [bench],
        env: {FILL: "$2", INPLACE: "${3:-0}"}}
  get: {command: [$build/bench/channel, get], gpus: 4, cpus: 0, inputs: [bench]}
channels:
  bench: {capacity: ${CAPACITY:-16}, compress: $1}
SPEC
	rm -rf .aic
	srun -N2 -w n1,n3 --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix \
		--aic-job=x.yaml "$build/launcher/aic-launch" >/dev/null 2>&1
	cat .aic/latest/logs/get.0.log
}
xchannel false zeros
xchannel false zeros 1 | sed 's/"what": "channel"/"what": "channel in place"/'
# How many of the puts (at the producer's agent) and pulls (at the consumer's) went through shared memory.
python3 -c "
import json; c = json.load(open('.aic/latest/summary.json'))['channels']['bench']
print(json.dumps({'what': 'arena items (puts + pulls)', 'items': c['arena_items'], 'of': 2 * $n}))
print(json.dumps({'what': 'agent peak RSS, KiB (arena pages it touched included)', 'value': json.load(open('.aic/latest/summary.json'))['agent_maxrss_kib']}))"

# Compression: text-like items (FILL=words, about 4:1) through a compressed
# channel, beside `zstd -b1` (the level the channel uses) on the same bytes.
xchannel true words
python3 -c "
import json; c = json.load(open('.aic/latest/summary.json'))['channels']['bench']
print(json.dumps({'what': 'channel zstd ratio', 'ratio': round(c['zstd_in_bytes'] / max(1, c['zstd_out_bytes']), 3)}))"
"$build/bench/channel" words 64 1048576 >words.bin
zstd -b1 -i2 -B1048576 words.bin 2>&1 | tr '\r' '\n' | grep -a 'MB/s' | tail -1 |
	sed -n 's/.*(x\([0-9.]*\)), *\([0-9.]*\) MB\/s, *\([0-9.]*\) MB\/s.*/{"what": "zstd -b1", "ratio": \1, "compress_MBps": \2, "decompress_MBps": \3}/p'

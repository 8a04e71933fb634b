#!/bin/sh
# Cross-node channel throughput on the local cluster (scripts/minicluster up,
# its env): a producer on n1, a consumer on n3, 1 MiB items put from a buffer
# (one copy, into the producer's shared memory) and built in place
# (aic_put_buffer), beside a raw TCP stream of the same bytes from n1's to
# n3's network namespace, in the same run; then a compressed channel of
# text-like items beside `zstd -b1` on the same bytes. REPS repetitions
# ($AIC_BENCH_REPS, default 5), the raw stream first in odd ones and last in
# even ones, zstd -b1 likewise around the compressed channel. Prints JSON
# lines, one per sample, each tagged with its repetition.
#
#   bench/channels-cluster.sh [ITEMS]     (default 6000 x 1 MiB; compressed:
#                                          ITEMS / 2, at most 1000)
#
# A plain sample of 6000 items takes about 2 s at 3 GB/s, where 2000 took
# 0.6 s: a moment's scheduling of 4 processes on 2 cores (or of another
# session's work) weighs less on it. The compressed channel moves 435 MB/s:
# 1000 items take 2.4 s already.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
n=${1:-6000}
reps=${AIC_BENCH_REPS:-5}
work=$(mktemp -d "$build/bench-xchannels.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
addr3=$(scontrol show node n3 | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p')

rawtcp() {
	nsenter --net=/run/netns/aicn3 "$build/bench/tcp_stream" recv 17999 >tcp.json &
	sleep 0.3
	nsenter --net=/run/netns/aicn1 "$build/bench/tcp_stream" send "$addr3" 17999 $((n * 1048576)) >/dev/null
	wait
	cat tcp.json
}
xchannel() { # xchannel COMPRESS FILL [INPLACE]: one producer on n1, one consumer on n3
	cat >x.yaml <<SPEC
name: bench-xchannels
stages:
  put: {command: [$build/bench/channel, put, "$items", "1048576"], gpus: 4, cpus: 0, outputs: [bench],
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
plain() {
	items=$n
	xchannel false zeros
	xchannel false zeros 1 | sed 's/"what": "channel"/"what": "channel in place"/'
}
compressed() {
	items=$((n / 2 < 1000 ? n / 2 : 1000))
	xchannel true words | python3 -c "
import json, sys
d = json.loads(sys.stdin.read())
c = json.load(open('.aic/latest/summary.json'))['channels']['bench']
print(json.dumps({'what': 'channel zstd', 'MBps': round(d['bytes'] / d['seconds'] / 1e6, 1)}))
print(json.dumps({'what': 'channel zstd ratio', 'ratio': round(c['zstd_in_bytes'] / max(1, c['zstd_out_bytes']), 3)}))"
}
# zstd -b1 (the level the channel uses) on the same text-like bytes.
"$build/bench/channel" words 64 1048576 >words.bin
zstdb() {
	zstd -b1 -i2 -B1048576 words.bin 2>&1 | tr '\r' '\n' | grep -a 'MB/s.*MB/s' | tail -1 |
		sed -n 's/.*(x\([0-9.]*\)), *\([0-9.]*\) MB\/s, *\([0-9.]*\) MB\/s.*/{"what": "zstd -b1", "ratio": \1, "compress_MBps": \2, "decompress_MBps": \3}/p'
}
i=1
while [ $i -le "$reps" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		rawtcp; plain; compressed; zstdb
	else
		plain; rawtcp; zstdb; compressed
	fi | sed "s/^{/{\"rep\": $i, /"
	i=$((i + 1))
done

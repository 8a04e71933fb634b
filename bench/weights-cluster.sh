#!/bin/sh
# Weight broadcast on the local cluster (scripts/minicluster up --nodes 4,
# its env): one version of SIZE bytes from a writer on one node to readers on
# 1 and on 3 other nodes, beside one raw TCP transfer of the same bytes
# between two of the same network namespaces, in the same run. A figure is
# the median over versions 2..N of the time from publish until the last
# reader has the version. Prints JSON lines.
#
#   bench/weights-cluster.sh [VERSIONS [SIZE]]   (default 6 x 48 MiB)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
n=${1:-6}
size=${2:-50331648}
work=$(mktemp -d "$build/bench-weights.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up --nodes 4; eval its env)" >&2; exit 1; }
[ "$(sinfo -h -o %D)" -ge 4 ] || { echo "bench: needs 4 nodes (scripts/minicluster up --nodes 4)" >&2; exit 1; }
addr2=$(scontrol show node n2 | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p')

nsenter --net=/run/netns/aicn2 "$build/bench/tcp_stream" recv 17998 >tcp.json &
sleep 0.3
nsenter --net=/run/netns/aicn1 "$build/bench/tcp_stream" send "$addr2" 17998 "$size"
wait
raw=$(python3 -c "import json; print(json.load(open('tcp.json'))['seconds'])")
echo "{\"what\": \"raw tcp, one transfer\", \"bytes\": $size, \"seconds\": $raw}"

broadcast() { # broadcast READERS: one writer and READERS readers, a node each
	cat >w.yaml <<SPEC
name: bench-weights
stages:
  pub: {command: [$build/bench/channel, wpub, "$n", "$size"], ranks: 1, gpus: 4, cpus: 0,
        weights_to: w}
  sub: {command: [$build/bench/channel, wrecv, "$n"], replicas: $1, gpus: 4, cpus: 0,
        weights_from: w}
SPEC
	rm -rf .aic
	srun -N$(($1 + 1)) --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix \
		--aic-job=w.yaml "$build/launcher/aic-launch" >/dev/null 2>&1
	cat .aic/latest/logs/sub.*.log | python3 -c "
import json, statistics, sys
by = {}
for line in sys.stdin:
    d = json.loads(line)
    by.setdefault(d['version'], []).append(d['seconds'])
last = [max(v) for k, v in sorted(by.items()) if k > 1 and len(v) == $1]
t = statistics.median(last)
print(json.dumps({'what': 'weights to $1 node(s)', 'bytes': $size, 'versions': len(last),
                  'seconds': round(t, 4), 'raw_tcp_seconds': $raw, 'ratio': round(t / $raw, 2)}))"
}
broadcast 1
broadcast 3

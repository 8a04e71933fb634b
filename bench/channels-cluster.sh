#!/bin/sh
# Cross-node channel throughput on the local cluster (scripts/minicluster up,
# its env): a producer on n1, a consumer on n3, 1 MiB items, beside a raw TCP
# stream of the same bytes from n1's to n3's network namespace, in the same
# run. Prints JSON lines.
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
nsenter --net=/run/netns/aicn1 "$build/bench/tcp_stream" send "$addr3" 17999 $((n * 1048576))
wait
cat tcp.json

cat >x.yaml <<SPEC
name: bench-xchannels
stages:
  put: {command: [$build/bench/channel, put, "$n", "1048576"], gpus: 4, cpus: 0, outputs: [bench]}
  get: {command: [$build/bench/channel, get], gpus: 4, cpus: 0, inputs: [bench]}
channels:
  bench: {capacity: 16}
SPEC
srun -N2 -w n1,n3 --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix --aic-job=x.yaml \
	"$build/launcher/aic-launch" >/dev/null 2>&1
cat .aic/latest/logs/get.0.log

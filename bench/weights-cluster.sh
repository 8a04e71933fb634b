#!/bin/sh
# Weight broadcast on the local cluster (scripts/minicluster up --nodes 4,
# its env): one version of SIZE bytes from a writer on one node to readers on
# 1 and on 3 other nodes, beside, in the same run, one raw TCP transfer of
# the same bytes between two of the same network namespaces, and a raw TCP
# chain n1 -> n2 -> n3 -> n4 (bench/tcp_stream relay: what the machine can
# do for 3 nodes, every hop sharing its cores). Each raw figure runs from the
# sender's first write to the last receiver's last byte (wall clocks of one
# machine; the median of 5 runs), cycling through a cache-warm 1 MiB buffer
# and, "memory to memory", from one buffer of SIZE into one on each node.
# A broadcast figure is the median over versions 2..N (one every 0.3 s) of
# the time from publish until the last reader has the version, with the
# writer publishing a buffer (aic_weights_publish: one copy, into the
# node's shared copy) and, "in place", filling that copy itself
# (aic_weights_buffer / aic_weights_commit: the clock starts at commit).
# Then all of it again with every node's link shaped to 1 Gbit/s
# (AIC_BENCH_LINK: a tc rate), where the network is the bottleneck as
# between real nodes, rather than this machine's cores. Prints JSON lines.
#
#   bench/weights-cluster.sh [VERSIONS [SIZE]]   (default 10 x 48 MiB)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
n=${1:-10}
size=${2:-50331648}
work=$(mktemp -d "$build/bench-weights.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up --nodes 4; eval its env)" >&2; exit 1; }
[ "$(sinfo -h -o %D)" -ge 4 ] || { echo "bench: needs 4 nodes (scripts/minicluster up --nodes 4)" >&2; exit 1; }
addr() { scontrol show node "$1" | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p'; }
ts="$build/bench/tcp_stream"

# raw1 NAME WHOLE HOPS...: a raw stream from n1 through the nodes HOPS (the
# last receives); WHOLE=1: from memory to memory (tcp_stream's WHOLE).
raw1() {
	name=$1
	export WHOLE=$2
	shift 2
	eval "last=\${$#}"
	nsenter --net=/run/netns/aic$last "$ts" recv 17998 "$size" >end.json &
	sleep 0.3
	prev=$last
	for hop in $(echo "$@" | tr ' ' '\n' | sed '$d' | tac); do
		nsenter --net=/run/netns/aic$hop "$ts" relay 17998 "$(addr "$prev")" 17998 "$size" &
		sleep 0.3
		prev=$hop
	done
	nsenter --net=/run/netns/aicn1 "$ts" send "$(addr "$prev")" 17998 "$size" >start.json
	wait
	python3 -c "
import json
s, e = json.load(open('start.json')), json.load(open('end.json'))
print(e['end_wall'] - s['start_wall'])"
}
# raw NAME WHOLE HOPS...: the median of 5 raw1 runs, a JSON line.
raw() {
	for i in 1 2 3 4 5; do raw1 "$@"; done | python3 -c "
import json, statistics, sys
t = [float(x) for x in sys.stdin]
print(json.dumps({'what': '$1', 'bytes': $size, 'runs': len(t), 'seconds': round(statistics.median(t), 4)}))"
}
raw "raw tcp, one transfer" 0 n2 | tee one.json
raw "raw tcp, one transfer, memory to memory" 1 n2
raw "raw tcp, chain to 3 nodes" 0 n2 n3 n4 | tee chain.json
raw "raw tcp, chain to 3 nodes, memory to memory" 1 n2 n3 n4
one=$(python3 -c "import json; print(json.load(open('one.json'))['seconds'])")
chain=$(python3 -c "import json; print(json.load(open('chain.json'))['seconds'])")
gap=300

broadcast() { # broadcast READERS INPLACE [LABEL]: one writer and READERS readers, a node each
	cat >w.yaml <<SPEC
name: bench-weights
stages:
  pub: {command: [$build/bench/channel, wpub, "$n", "$size"], ranks: 1, gpus: 4, cpus: 0,
        weights_to: w, env: {INPLACE: "$2", GAP_MS: "$gap"}}
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
print(json.dumps({'what': 'weights to $1 node(s)' + (', in place' if '$2' == '1' else '') + '${3:-}',
                  'bytes': $size, 'versions': len(last), 'seconds': round(t, 4),
                  'raw_tcp_seconds': $one, 'raw_chain_seconds': $chain, 'ratio': round(t / $one, 2)}))"
}
broadcast 1 0
broadcast 3 0
broadcast 1 1
broadcast 3 1

# The same with every node's link shaped to $LINK (tc tbf on eth0 in its
# namespace: the sender's side of each hop), so that what a transfer waits
# for is the network, as between real nodes, not this machine's cores: a
# chain to 3 nodes should then cost about one transfer plus a chunk per hop.
link=${AIC_BENCH_LINK:-1gbit}
shape() { # shape add|del
	for i in 1 2 3 4; do
		if [ "$1" = add ]; then
			nsenter --net=/run/netns/aicn$i tc qdisc add dev eth0 root tbf rate "$link" burst 1mb latency 200ms || return 1
		else
			nsenter --net=/run/netns/aicn$i tc qdisc del dev eth0 root 2>/dev/null || true
		fi
	done
}
if shape add 2>/dev/null; then
	trap 'shape del; rm -rf "$work"' EXIT
	raw "raw tcp, one transfer, $link links" 1 n2 | tee one.json
	raw "raw tcp, chain to 3 nodes, $link links" 1 n2 n3 n4 | tee chain.json
	one=$(python3 -c "import json; print(json.load(open('one.json'))['seconds'])")
	chain=$(python3 -c "import json; print(json.load(open('chain.json'))['seconds'])")
	n=5 gap=1000 # a version every second: each is sent whole before the next
	broadcast 1 1 ", $link links"
	broadcast 3 0 ", $link links"
	broadcast 3 1 ", $link links"
	shape del
else
	shape del
	echo "{\"what\": \"$link links\", \"skipped\": \"tc cannot shape eth0 in the nodes' namespaces\"}"
fi

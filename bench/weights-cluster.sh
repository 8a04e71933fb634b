#!/bin/sh
# Weight broadcast on the local cluster (scripts/minicluster up --nodes 4,
# its env): one version of SIZE bytes from a writer on one node to readers on
# 1 and on 3 other nodes, beside, in the same run, one raw TCP transfer of
# the same bytes between two of the same network namespaces, and a raw TCP
# chain n1 -> n2 -> n3 -> n4 (bench/tcp_stream relay: what the machine can
# do for 3 nodes, every hop sharing its cores). Each raw sample runs from
# the sender's first write to the last receiver's last byte (wall clocks of
# one machine), from one buffer of SIZE into one on each node, as a version
# goes. A broadcast sample is one of versions 3..N (one every 0.3 s): the
# time from publish until the last reader has the version (a version some
# reader skipped is counted as skipped, not timed), with the writer
# publishing a buffer (aic_weights_publish: one copy, into the
# node's shared copy) and, "in place", filling that copy itself
# (aic_weights_buffer / aic_weights_commit: the clock starts at commit).
# Each node, and each raw stream's end on it, runs on a core of its own where
# the machine has a core a node (see `on` below; AIC_BENCH_PIN=0: not).
# Then all of it again with every node's link shaped to 1 Gbit/s
# (AIC_BENCH_LINK: a tc rate), where the network is the bottleneck as
# between real nodes, rather than this machine's cores. Prints JSON lines.
#
# REPS repetitions ($AIC_BENCH_REPS, default 5), the raw streams first in
# odd ones and last in even ones; each raw stream RAWS times a repetition
# ($AIC_BENCH_RAWS, default 3), so that the baselines have about as many
# samples as the broadcasts' timed versions.
#
#   bench/weights-cluster.sh [VERSIONS [SIZE]]   (default 8 x 48 MiB a job)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
n=${1:-8}
size=${2:-50331648}
work=$(mktemp -d "$build/bench-weights.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up --nodes 4; eval its env)" >&2; exit 1; }
[ "$(sinfo -h -o %D)" -ge 4 ] || { echo "bench: needs 4 nodes (scripts/minicluster up --nodes 4)" >&2; exit 1; }
addr() { scontrol show node "$1" | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p'; }
ts="$build/bench/tcp_stream"

# The nodes share this machine's cores, which separate machines would not:
# node nK runs on core (K - 1) mod CORES, its slurmd and so its job steps
# (task/none: they keep slurmd's affinity) as well as the raw streams' ends
# there, so that two nodes share no core where the machine has a core a
# node, and neighbours in the chain share none on two cores. Left to the
# kernel, the two busy ends of a transfer share a core in some runs and not
# in others (raw TCP n1 -> n2 on 2 cores: 0.032-0.037 s on one core,
# 0.010-0.023 s on two). AIC_BENCH_PIN=0: the kernel places them.
ncores=$(nproc)
pin=${AIC_BENCH_PIN:-1}
all_cores=$(taskset -pc $$ | sed 's/.*: *//')
core_of() { echo $(((${1#n} - 1) % ncores)); }
pin_nodes() { # pin_nodes on|off: every node's slurmd to its core, or back to all
	[ "$pin" = 1 ] || return 0
	for k in 1 2 3 4; do
		for p in $(pgrep -f "^slurmd -N n$k\$"); do
			if [ "$1" = on ]; then c=$(core_of n$k); else c=$all_cores; fi
			taskset -pc "$c" "$p" >/dev/null
		done
	done
}
on() { # on NODE CMD...: CMD on NODE's core
	node=$1
	shift
	if [ "$pin" = 1 ]; then taskset -c "$(core_of "$node")" "$@"; else "$@"; fi
}
trap 'pin_nodes off; rm -rf "$work"' EXIT
pin_nodes on

# raw NAME HOPS...: one raw stream from n1 through the nodes HOPS (the last
# receives), from one buffer of SIZE into one on each node; a JSON line.
raw() {
	name=$1
	shift
	eval "last=\${$#}"
	WHOLE=1 on "$last" nsenter --net=/run/netns/aic$last "$ts" recv 17998 "$size" >end.json &
	sleep 0.3
	prev=$last
	for hop in $(echo "$@" | tr ' ' '\n' | sed '$d' | tac); do
		WHOLE=1 on "$hop" nsenter --net=/run/netns/aic$hop "$ts" relay 17998 "$(addr "$prev")" 17998 "$size" &
		sleep 0.3
		prev=$hop
	done
	WHOLE=1 on n1 nsenter --net=/run/netns/aicn1 "$ts" send "$(addr "$prev")" 17998 "$size" >start.json
	wait
	python3 -c "
import json
s, e = json.load(open('start.json')), json.load(open('end.json'))
print(json.dumps({'what': '$name', 'link': $link, 'bytes': $size, 'seconds': round(e['end_wall'] - s['start_wall'], 4)}))"
}

broadcast() { # broadcast READERS INPLACE: one writer and READERS readers, a node each
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
	# Versions 3..N: the first two of a job touch fresh memory and come out
	# several times slower. One that a reader skipped (a newer one overtook
	# it) is counted, not timed: it has no "last reader has it".
	cat .aic/latest/logs/sub.*.log | python3 -c "
import json, sys
by = {}
for line in sys.stdin:
    d = json.loads(line)
    by.setdefault(d['version'], []).append(d['seconds'])
want = range(3, $n + 1)
t = [round(max(by[v]), 4) for v in want if len(by.get(v, [])) == $1]
print(json.dumps({'what': 'weights', 'nodes': $1, 'in_place': '$2' == '1', 'link': $link,
                  'bytes': $size, 'versions': len(want), 'skipped': len(want) - len(t), 'seconds': t}))"
}
# raws NAME HOPS...: raw RAWS times.
raws() {
	k=1
	while [ $k -le "$raws" ]; do raw "$@"; k=$((k + 1)); done
}
# round: one repetition, raw streams and broadcasts, in the order of REP.
round() {
	if [ $(($1 % 2)) -eq 1 ]; then
		raws "raw tcp, one transfer" n2
		raws "raw tcp, chain to 3 nodes" n2 n3 n4
	fi
	for b in $broadcasts; do broadcast "${b%,*}" "${b#*,}"; done
	if [ $(($1 % 2)) -eq 0 ]; then
		raws "raw tcp, chain to 3 nodes" n2 n3 n4
		raws "raw tcp, one transfer" n2
	fi
}
reps=${AIC_BENCH_REPS:-5}
raws=${AIC_BENCH_RAWS:-3}
link=None gap=300 broadcasts="1,0 3,0 1,1 3,1"
i=1
while [ $i -le "$reps" ]; do round $i | sed "s/^{/{\"rep\": $i, /"; i=$((i + 1)); done

# The same with every node's link shaped to $LINK (tc tbf on eth0 in its
# namespace: the sender's side of each hop), so that what a transfer waits
# for is the network, as between real nodes, not this machine's cores: a
# chain to 3 nodes should then cost about one transfer plus a chunk per hop.
rate=${AIC_BENCH_LINK:-1gbit}
shape() { # shape add|del
	for k in 1 2 3 4; do
		if [ "$1" = add ]; then
			nsenter --net=/run/netns/aicn$k tc qdisc add dev eth0 root tbf rate "$rate" burst 1mb latency 200ms || return 1
		else
			nsenter --net=/run/netns/aicn$k tc qdisc del dev eth0 root 2>/dev/null || true
		fi
	done
}
if shape add 2>/dev/null; then
	trap 'shape del; pin_nodes off; rm -rf "$work"' EXIT
	# 48 MiB take 0.4 s at 1 Gbit/s: a version every 0.6 s is sent whole before the next.
	link="'$rate'" n=4 gap=600 broadcasts="1,1 3,0 3,1"
	i=1
	while [ $i -le "$reps" ]; do round $i | sed "s/^{/{\"rep\": $i, /"; i=$((i + 1)); done
	shape del
else
	shape del
	echo "{\"what\": \"$rate links\", \"skipped\": \"tc cannot shape eth0 in the nodes' namespaces\"}"
fi

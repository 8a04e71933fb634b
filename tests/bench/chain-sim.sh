#!/bin/sh
# build/bench/chain_sim keeps working (bench/scale-weights): a version
# goes down a chain and down a binary tree of 16 simulated nodes on
# loopback, every node gets every byte, and the model is printed beside
# the measurement; bad arguments are refused naming the value. No time is
# judged: the machine may be loaded.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
sim=$AIC_BUILD_DIR/bench/chain_sim
plan 5

field() { /usr/bin/python3 -c 'import json, sys; x = json.loads(sys.argv[1]); print(x[sys.argv[2]])' "$1" "$2"; }
for topo in chain tree; do
	out=$(timeout 60 "$sim" $topo 16 262144 32768 40000000 2>&1)
	is "$(field "$out" topo) $(field "$out" nodes) $(field "$out" bytes)" "$topo 16 262144" \
		"a $topo of 16 nodes: every node had all 262144 bytes [$out]"
done
# The chain's model: (S + (N - 2) c) / R = (262144 + 14 * 32768) / 4e7 s.
is "$(field "$(timeout 60 "$sim" chain 16 262144 32768 40000000)" model_s)" 0.018 "the chain's model, (S + (N-2) c) / R"
err=$("$sim" chain 1 262144 32768 40000000 2>&1)
is "$?" 2 "one node is refused"
like "$err" "bad arguments: N '1'" "naming the value"

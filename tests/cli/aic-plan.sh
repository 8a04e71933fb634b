#!/bin/sh
# `aic plan` on every fixture topology, its JSON, and its errors.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
fx="$AIC_SRC_DIR/tests/fixtures"
grpo="$fx/specs/grpo.yaml"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A spec that any node with a GPU (or none) can run.
cat >"$tmp/small.yaml" <<YAML
name: small
stages:
  gen: {command: [gen], replicas: {min: 1, max: 64}, gpus: 1, cpus: 0}
YAML
cat >"$tmp/cpu.yaml" <<YAML
stages:
  work: {command: [work], replicas: 2}
YAML
# A fixture's GPU count from its table, not from aic (empty: no row).
fixture_gpus() { awk -v f="${1#"$fx"/}" '$1 == f {print $2}' "$fx/topo-counts.txt"; }
# 3 tests per fixture with GPUs, 2 per other, 21 others.
n_tests=22
for xml in "$fx"/topo/*.xml "$fx"/hwloc/*.xml; do
	n=$(fixture_gpus "$xml")
	n_tests=$((n_tests + (${n:-0} > 0 ? 3 : 2)))
done
plan $n_tests
for xml in "$fx"/topo/*.xml "$fx"/hwloc/*.xml; do
	name=$(basename "$xml")
	n=$(fixture_gpus "$xml")
	ok "$name has its row in tests/fixtures/topo-counts.txt" [ -n "$n" ]
	if [ "${n:-0}" -gt 0 ]; then
		out=$("$aic" plan "$tmp/small.yaml" --topo "$xml" --json 2>&1)
		is "$?" 0 "aic plan on $name exits 0"
		is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["procs"]))')" \
			"$n" "$name: an elastic 1-GPU stage gets all $n GPUs"
	else
		out=$("$aic" plan "$tmp/cpu.yaml" --topo "$xml" 2>&1)
		is "$?" 0 "aic plan of a CPU stage on $name exits 0"
	fi
done

out=$("$aic" plan "$grpo" --topo "$fx/topo/hgx-h100-8gpu.xml" --nodes 2)
is "$?" 0 "grpo on two HGX nodes"
diag "$out"
like "$out" "^plan for 'grpo-toy': 12 processes on 2 nodes, 16 of 16 GPUs" "summary line"
like "$out" "train +rank 0 +hgx1-1 +0 +- +0,16 +0 +mlx5_0 +0000:18:00.0" "rank 0 on GPU 0 with its NIC"
like "$out" "rollout +replica 0 +hgx1-1 +4,5 +NV18 " "rollout pairs on NVLink"
json=$("$aic" plan "$grpo" --topo "$fx/topo/hgx-h100-8gpu.xml" --nodes 2 --json)
is "$(printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = [x for x in d["procs"] if x["stage"] == "train" and x["index"] == 3][0]
print(d["job"], len(d["nodes"]), p["kind"], p["node"], p["local_rank"], p["gpus"][0]["busid"], p["cpus"], p["numa"], p["nic"])')" \
	"grpo-toy 2 rank hgx1-1 3 0000:5d:00.0 3,19 0 mlx5_3" "--json: rank 3's node, local rank, GPU, CPUs, NIC"

out=$("$aic" plan "$grpo" --topo "$fx/topo/pcie-4gpu-nvlink-pairs.xml" --topo "$fx/topo/pcie-8gpu-2socket.xml")
is "$?" 0 "two different topologies, one --topo each"
like "$out" "on 2 nodes \(pcie4, pcie8\)|on 2 nodes, 12 of 12 GPUs" "named after their hosts"

err=$("$aic" plan "$grpo" --topo "$fx/topo/pcie-4gpu-nvlink-pairs.xml" 2>&1)
is "$?" 1 "grpo does not fit one 4-GPU box"
like "$err" "^aic: stage 'rollout' does not fit: it needs 1 replica of 2 GPUs and 1 core, 0 fit; free after placing 'train': pcie4 0 GPUs 12 cores" \
	"and says what is free"
printf 'stages:\n  t: {command: t,\n       gpus: 9}\n' >"$tmp/big.yaml"
err=$("$aic" plan "$tmp/big.yaml" --topo "$fx/topo/hgx-h100-8gpu.xml" --nodes 4 2>&1)
is "$?" 1 "9 GPUs per replica on 8-GPU nodes fails"
is "$err" "$tmp/big.yaml:3:14: stage 't' needs 9 GPUs per replica; the largest node, 'hgx1-1', has 8" \
	"at the spec position of gpus"
printf 'stages:\n  t: {command: t, replica: 2}\n' >"$tmp/bad.yaml"
err=$("$aic" plan "$tmp/bad.yaml" --topo "$fx/topo/cpu-only.xml" 2>&1)
is "$?" 1 "a bad spec exits 1"
is "$err" "$tmp/bad.yaml:2:19: stage 't': unknown key 'replica'; did you mean 'replicas'?" "with file:line:column"
# Replicas that never talk to each other spread over the nodes; a gang
# and a stage that asks to pack do not; each process says why it went there.
cat >"$tmp/pipe.yaml" <<YAML
name: pipe
stages:
  decode: {command: d, cpus: 0, inputs: [videos], outputs: [frames]}
  model: {command: m, replicas: {min: 1, max: 12}, gpus: 1, cpus: 0, inputs: [frames],
          outputs: [scores]}
  aggregate: {command: a, cpus: 0, inputs: [scores], outputs: [results]}
  train: {command: t, ranks: 2, gpus: 1, cpus: 0}
channels:
  videos: {source: v.jsonl}
  results: {sink: o.jsonl}
YAML
where() { # the nodes of stage $2's processes, and the first one's reason
	"$aic" plan "$1" --topo "$fx/topo/pcie-4gpu-nvlink-pairs.xml" --nodes 3 --json |
		python3 -c 'import json, sys
d = json.load(sys.stdin)
p = [x for x in d["procs"] if x["stage"] == sys.argv[1]]
s = [x for x in d["stages"] if x["name"] == sys.argv[1]][0]
print(" ".join(x["node"] for x in p), "|", p[0]["why"], "|", s["min"], s["max"], s["placed"], s["allows"], s["placement"])' "$2"
}
sed 's/max: 12}/max: 3}/' "$tmp/pipe.yaml" >"$tmp/pipe3.yaml"
is "$(where "$tmp/pipe3.yaml" model)" \
	"pcie4-1 pcie4-2 pcie4-3 | spread: fewest of its stage here, GPUs as well linked | 1 3 3 3 spread" \
	"3 replicas of 1 GPU on 3 nodes take a node each, and say why"
is "$(where "$tmp/pipe3.yaml" train)" "pcie4-1 pcie4-1 | gang: fewest nodes, best-linked GPUs | 2 2 2 2 pack" \
	"a gang still packs on one node"
sed 's/cpus: 0, inputs: \[frames\],/cpus: 0, placement: pack, inputs: [frames],/' "$tmp/pipe3.yaml" >"$tmp/pack.yaml"
is "$(where "$tmp/pack.yaml" model)" \
	"pcie4-1 pcie4-1 pcie4-2 | pack: best-linked free GPUs, then the fullest node | 1 3 3 3 pack" \
	"placement: pack fills the fullest node first (the gang's) before another"
is "$(where "$tmp/pipe.yaml" model | sed 's/.*| //')" "1 12 10 10 spread" \
	"the stage's min and max, what the plan placed and what the allocation allows it"
out=$("$aic" plan "$tmp/pipe.yaml" --topo "$fx/topo/pcie-4gpu-nvlink-pairs.xml" --nodes 3)
like "$out" "model +replicas +1 +12 +10 +10 +spread +starts 1, busy 0.80, up 5 s, down 30 s" \
	"the table shows them too, and how the stage autoscales (it reads a channel)"
like "$out" "decode +replicas +1 +1 +1 +1 +spread +-" "a fixed stage does not autoscale"

err=$("$aic" plan 2>&1)
is "$?" 2 "no spec is a usage error"
err=$("$aic" plan "$grpo" --nodes 0 2>&1)
is "$?" 2 "--nodes 0 is a usage error"
like "$err" "invalid --nodes '0'" "naming the value"
done_testing

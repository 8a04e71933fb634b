#!/bin/sh
# `aic topo` on every fixture topology: the table, --json, --gres-conf and
# --features, and its errors.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
fx="$AIC_SRC_DIR/tests/fixtures"

# expect FIXTURE: "GPUS NICS NVLINK-PAIRS" from the fixtures' own table.
expect() { awk -v f="$1" '$1 == f {print $2, $3, $4}' "$fx/topo-counts.txt"; }
# 6 tests per fixture, 18 others.
set -- "$fx"/topo/*.xml "$fx"/hwloc/*.xml
plan $((6 * $# + 18))
for xml in "$fx"/topo/*.xml "$fx"/hwloc/*.xml; do
	name=$(basename "$xml")
	want=$(expect "${xml#"$fx"/}")
	ok "$name has its row in tests/fixtures/topo-counts.txt" [ -n "$want" ]
	set -- $want
	ngpus=${1-} nnics=${2-}
	out=$("$aic" topo --topo "$xml" 2>&1)
	is "$?" 0 "aic topo $name exits 0"
	like "$(printf '%s\n' "$out" | head -n 1)" ", $ngpus GPUs?, $nnics NICs?\$" \
		"$name: the summary line says $ngpus GPUs and $nnics NICs"
	is "$(printf '%s\n' "$out" | grep -c '^GPU[0-9]')" "$ngpus" "$name: one matrix row per GPU"
	json=$("$aic" topo --topo "$xml" --json)
	is "$(printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
g = d["gpus"]
print(len(g), len(d["nics"]), sum(g[i]["links"][j].startswith("NV") for i in range(len(g)) for j in range(i + 1, len(g))))')" \
		"$want" "$name: --json is valid JSON with every GPU, every NIC and the NVLink pairs"
	gres=$("$aic" topo --topo "$xml" --gres-conf)
	is "$(printf '%s\n' "$gres" | grep -c '^NodeName=')" "$ngpus" "$name: --gres-conf has a line per GPU"
done

out=$("$aic" topo --topo "$fx/topo/hgx-h100-8gpu.xml")
like "$out" "^hgx1: 2 packages, 2 NUMA nodes, 16 cores, 32 CPUs, 8 GPUs, 10 NICs" "HGX summary line"
like "$out" "GPU0 +X +NV18 +NV18 +NV18 +NV18 +NV18 +NV18 +NV18 +NODE +NODE +PIX " "HGX GPU0 row: NVSwitch, its own NIC on PIX"
like "$out" "NIC2: mlx5_0 \(InfiniBand/RoCE, ibp25s0, 0000:19:00.0, NUMA 0\)" "HGX NIC legend"
out=$("$aic" topo --topo "$fx/topo/pcie-4gpu-nvlink-pairs.xml")
like "$out" "GPU0 +X +PIX +NV4 +NODE" "PCIe box: NVLink bridge between GPU0 and GPU2"

gres=$("$aic" topo --topo "$fx/topo/hgx-h100-8gpu.xml" --gres-conf)
like "$gres" "^NodeName=hgx1 Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-7 Links=-1,18,18,18,18,18,18,18$" \
	"gres.conf line for GPU0: type, cores of its socket, NVLink counts"
like "$gres" "File=/dev/nvidia7 Cores=8-15 Links=18,18,18,18,18,18,18,-1" "and for GPU7"
gres=$("$aic" topo --topo "$fx/topo/pcie-4gpu-nvlink-pairs.xml" --gres-conf)
like "$gres" "File=/dev/nvidia1 Cores=0-15 Links=0,-1,0,4" "PCIe box: only the bridge counts as links"
is "$("$aic" topo --topo "$fx/topo/hgx-h100-8gpu.xml" --features | tr '\n' ' ')" \
	"gpu_h100 gpus_8 nvswitch nvlink ib numa_2 " "HGX node features"
is "$("$aic" topo --topo "$fx/topo/cpu-only.xml" --features | tr '\n' ' ')" "numa_1 " "CPU-only node features"
is "$(AIC_TOPO_XML="$fx/topo/cpu-only.xml" "$aic" topo | head -n 1)" \
	"cpu1: 1 package, 1 NUMA node, 4 cores, 8 CPUs, 0 GPUs, 1 NIC" "AIC_TOPO_XML picks the topology"
ok "aic topo without --topo reads this machine" "$aic" topo

err=$("$aic" topo --topo /nonexistent.xml 2>&1)
is "$?" 1 "a missing topology file exits 1"
is "$err" "aic: cannot read topology '/nonexistent.xml': No such file or directory" "and says why"
err=$("$aic" topo --json --features 2>&1)
is "$?" 2 "conflicting modes exit 2"
err=$("$aic" frobnicate 2>&1)
is "$?" 2 "an unknown command exits 2"
is "$err" "aic: 'frobnicate' is not an aic command (see 'aic --help')" "and names it"
like "$("$aic" --help)" "plan SPEC \[--topo XML\]\.\.\. \[--nodes N\] \[--json\]" "--help lists plan"
is "$("$aic" --version)" "aic $(sed -n 's/^AC_INIT(\[aic\], \[\([^]]*\)\].*/\1/p' "$AIC_SRC_DIR/configure.ac")" \
	"--version prints the configure version"
done_testing

#!/bin/sh
# Bootstrap on the local cluster: srun start to "every agent registered" and
# to the end of a job of trivial workers, beside a bare `srun -N3 true` and
# a bare PMIx fence (tests/integration/pmix_hello) in the same run. Also the
# agents' peak RSS. Needs `scripts/minicluster up` and its env.
#
#   bench/bootstrap.sh [RUNS]     (default 10; prints JSON lines, medians)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
runs=${1:-10}
work=$(mktemp -d "$build/bench-bootstrap.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
cat >job.yaml <<SPEC
name: bench
stages:
  w: {command: [true], replicas: 3, cpus: 0}
SPEC

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ms() { echo $(($(date +%s%N) / 1000)); }

time_cmd() { # time_cmd FILE CMD...: appends wall ms
	f=$1
	shift
	a=$(ms)
	"$@" >/dev/null 2>&1
	b=$(ms)
	echo "$(( (b - a) / 1000 ))" >>"$f"
}

i=0
while [ $i -lt "$runs" ]; do
	time_cmd srun.ms srun -N3 --ntasks-per-node=1 true
	time_cmd fence.ms srun -N3 --ntasks-per-node=1 --mpi=pmix \
		/usr/bin/time -f "%M" -a -o hello-rss.kib "$build/tests/integration/pmix_hello"
	PMIX_HELLO_FENCE_MS=1 srun -N3 --ntasks-per-node=1 --mpi=pmix "$build/tests/integration/pmix_hello" \
		2>&1 >/dev/null | sed -n 's/^fence_ms //p' >>fence-only.ms
	time_cmd aic.ms srun -N3 --ntasks-per-node=1 --cpus-per-task=2 --mpi=pmix --aic-job=job.yaml \
		/usr/bin/time -f "%M" -a -o rss.kib "$build/launcher/aic-launch"
	python3 -c "import json; print(int(json.load(open('.aic/latest/summary.json'))['registered_s'] * 1000))" >>reg.ms
	i=$((i + 1))
done
s=$(median <srun.ms)
f=$(median <fence.ms)
a=$(median <aic.ms)
r=$(median <reg.ms)
rss=$(sort -n rss.kib | tail -n 1)
hrss=$(sort -n hello-rss.kib | tail -n 1)
fo=$(median <fence-only.ms)
echo "{\"name\": \"bootstrap\", \"metric\": \"srun start to job end, 3 nodes, 3 trivial workers\", \"value\": $a, \"unit\": \"ms\", \"baseline\": \"srun -N3 true\", \"baseline_value\": $s, \"ratio\": $(python3 -c "print(round($a / $s, 2))"), \"runs\": $runs}"
echo "{\"name\": \"bootstrap-fence\", \"metric\": \"srun start to job end\", \"value\": $a, \"unit\": \"ms\", \"baseline\": \"srun -N3 --mpi=pmix (bare PMIx fence)\", \"baseline_value\": $f, \"ratio\": $(python3 -c "print(round($a / $f, 2))"), \"runs\": $runs}"
echo "{\"name\": \"registration\", \"metric\": \"head start to every agent registered\", \"value\": $r, \"unit\": \"ms\", \"baseline\": \"one PMIx fence with data across the 3 nodes (pmix_hello)\", \"baseline_value\": $fo, \"runs\": $runs}"
echo "{\"name\": \"agent-rss\", \"metric\": \"peak RSS of aic-launch (head node)\", \"value\": $rss, \"unit\": \"KiB\", \"baseline\": \"peak RSS of a bare PMIx client (pmix_hello)\", \"baseline_value\": $hrss, \"runs\": $runs}"

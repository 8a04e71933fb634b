#!/bin/sh
# Bootstrap on the local cluster: srun start to "every agent registered" and
# to the end of a job of trivial workers, beside a bare `srun -N3 true` and
# a bare PMIx job (tests/integration/pmix_hello: one fence with data) in the
# same run, the three in rotating order; the registration and the PMIx
# fence are both timed from srun's start. Also the peak RSS of aic-launch
# and of pmix_hello. Needs `scripts/minicluster up` and its env.
#
#   bench/bootstrap.sh [RUNS]     (default 5; prints one JSON line per sample)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
runs=${1:-5}
work=$(mktemp -d "$build/bench-bootstrap.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
cat >job.yaml <<SPEC
name: bench
stages:
  w: {command: [true], replicas: 3, cpus: 0}
SPEC
wall() { date +%s.%N; }
ms() { python3 -c "import sys; print(round(1000 * (float(sys.argv[2]) - float(sys.argv[1])), 1))" "$@"; }

bare() {
	a=$(wall)
	srun -N3 --ntasks-per-node=1 true >/dev/null 2>&1
	echo "{\"what\": \"srun true\", \"rep\": $i, \"ms\": $(ms "$a" "$(wall)")}"
}
pmix() {
	rm -f hello-rss.kib
	a=$(wall)
	PMIX_HELLO_FENCE_MS=1 srun -N3 --ntasks-per-node=1 --mpi=pmix /usr/bin/time -f "%M" -a -o hello-rss.kib \
		"$build/tests/integration/pmix_hello" >/dev/null 2>hello.err
	b=$(wall)
	f=$(sed -n 's/^fence_wall //p' hello.err)
	[ -n "$f" ] || { cat hello.err >&2; echo "bench: pmix_hello printed no fence_wall" >&2; exit 1; }
	echo "{\"what\": \"pmix job\", \"rep\": $i, \"ms\": $(ms "$a" "$b")}"
	echo "{\"what\": \"fence returned\", \"rep\": $i, \"ms\": $(ms "$a" "$f")}"
	echo "{\"what\": \"pmix rss\", \"rep\": $i, \"kib\": $(sort -n hello-rss.kib | tail -n 1)}"
}
aicjob() {
	rm -rf .aic rss.kib
	a=$(wall)
	srun -N3 --ntasks-per-node=1 --cpus-per-task=2 --mpi=pmix --aic-job=job.yaml \
		/usr/bin/time -f "%M" -a -o rss.kib "$build/launcher/aic-launch" >/dev/null 2>&1
	b=$(wall)
	echo "{\"what\": \"aic job\", \"rep\": $i, \"ms\": $(ms "$a" "$b")}"
	# The head's start on the wall clock: summary.json's mtime less its wall_s.
	python3 - "$a" "$i" <<'PY'
import json, os, sys
f = ".aic/latest/summary.json"
s = json.load(open(f))
start = os.stat(f).st_mtime - s["wall_s"]
print(json.dumps({"what": "registered", "rep": int(sys.argv[2]),
                  "ms": round(1000 * (start + s["registered_s"] - float(sys.argv[1])), 1)}))
PY
	echo "{\"what\": \"aic rss\", \"rep\": $i, \"kib\": $(sort -n rss.kib | tail -n 1)}"
}
i=1
while [ $i -le "$runs" ]; do
	case $((i % 3)) in
	1) bare; pmix; aicjob ;;
	2) aicjob; bare; pmix ;;
	0) pmix; aicjob; bare ;;
	esac
	i=$((i + 1))
done

#!/bin/bash
# select/cons_tres_aic beside SLURM's cons_tres: the same stream of mixed
# jobs replayed on two fresh local clusters, one after the other (8 nodes,
# 2 interleaved NVLink domains: aic_nvl:0 on odd nodes, aic_nvl:1 on even).
# Prints one JSON line per plugin:
#   aic_in_domain   fraction of the aic jobs (--aic-job, multi-node) that
#                   ran inside one NVLink domain
#   main_us_per_job, backfill_us_per_job
#                   slurmctld's scheduling time per job it evaluated (sdiag:
#                   mean cycle / mean depth, main scheduler and backfill)
#   makespan_s      first submission to the last job's end
#
#   bench/select.sh [JOBS [SEED]]     (default 40 jobs, seed 1; root)
#
# It brings its clusters up and down itself (scripts/minicluster), so no
# cluster may be up when it starts.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
jobs=${1:-40}
seed=${2:-1}
nodes=8
mc=$top/scripts/minicluster
state_dir=${AIC_MINICLUSTER_DIR:-/var/tmp/aic-minicluster}

[ -e "$build/plugins/select/.libs/select_cons_tres_aic.so" ] ||
	{ echo "bench: select_cons_tres_aic.so not built (configure --with-slurm-src)" >&2; exit 1; }
[ ! -f "$state_dir/cluster.env" ] ||
	{ echo "bench: a cluster is already up in '$state_dir'" >&2; exit 1; }
work=$(mktemp -d "$build/bench-select.XXXXXX")
trap '"$mc" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
printf 'name: bench-select\nstages:\n  a: {command: "true", ranks: 2, gpus: 0}\n' >"$work/job.yaml"

# The stream, the same for both plugins: per job "aic|plain NODES SECONDS";
# every other job on average is an aic job, sizes 1-3 nodes, 1-4 s long.
awk -v n="$jobs" -v seed="$seed" 'BEGIN {
	srand(seed)
	for (i = 0; i < n; i++)
		printf "%s %d %d\n", (rand() < 0.5 ? "aic" : "plain"), 1 + int(rand() * 3), 1 + int(rand() * 4)
}' >"$work/stream"

run() {
	local select=$1 kind n secs id t0 t1 main_cycle main_depth bf_cycle bf_depth
	"$mc" up --nodes $nodes --gpus-per-node 0 --nvl-domains 2 --select "$select" --build "$build" \
		>"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
	eval "$("$mc" env)"
	mkdir -p "$work/$select"
	sdiag --reset >/dev/null
	t0=$(date +%s.%N)
	while read -r kind n secs; do
		# The job records its own nodes: there is no accounting database.
		id=$(sbatch --parsable -o /dev/null -N "$n" --exclusive \
			$([ "$kind" = aic ] && echo --aic-job="$work/job.yaml") \
			--wrap "echo $kind \$SLURM_JOB_NODELIST >$work/$select/\$SLURM_JOB_ID; sleep $secs")
		: "$id"
	done <"$work/stream"
	while [ -n "$(squeue -h)" ]; do sleep 0.2; done
	t1=$(date +%s.%N)
	sdiag >"$work/$select.sdiag"
	"$mc" down >/dev/null
	unset SLURM_CONF
	# sdiag: the first "Mean cycle"/"Mean depth cycle" are the main
	# scheduler's, the second pair backfill's ("Mean cycle" in microseconds).
	read -r main_cycle bf_cycle < <(awk -F: '/^[ \t]*Mean cycle:/ {gsub(/ /, "", $2); printf "%s ", $2} END {print ""}' "$work/$select.sdiag")
	read -r main_depth bf_depth < <(awk -F: '/^[ \t]*(Mean depth cycle|Depth Mean):/ {gsub(/ /, "", $2); printf "%s ", $2} END {print ""}' "$work/$select.sdiag")
	for f in "$work/$select"/*; do
		[ -e "$f" ] || continue
		read -r kind list <"$f"
		[ "$kind" = aic ] || continue
		# n<i> is in domain (i-1) mod 2; expand n[1,3-5] without SLURM.
		python3 - "$list" <<'PY'
import re, sys
s = sys.argv[1]
m = re.fullmatch(r"n(?:\[(.*)\]|(\d+))", s)
ids = []
if m.group(2):
    ids = [int(m.group(2))]
else:
    for part in m.group(1).split(","):
        a, _, b = part.partition("-")
        ids += range(int(a), int(b or a) + 1)
print(len(ids), len({(i - 1) % 2 for i in ids}))
PY
	done >"$work/$select.domains"
	awk -v plugin="$([ "$select" = aic ] && echo cons_tres_aic || echo cons_tres)" -v jobs="$jobs" -v seed="$seed" -v nodes=$nodes \
		-v t0="$t0" -v t1="$t1" -v mc="${main_cycle:-0}" -v md="${main_depth:-0}" \
		-v bc="${bf_cycle:-0}" -v bd="${bf_depth:-0}" '
		$1 > 1 { multi++; if ($2 == 1) inside++ }
		END {
			printf "{\"bench\":\"select\",\"plugin\":\"%s\",\"nodes\":%d,\"nvl_domains\":2,\"jobs\":%d,\"seed\":%d,", plugin, nodes, jobs, seed
			printf "\"aic_multinode_jobs\":%d,\"aic_in_domain\":%.3f,", multi, (multi ? inside / multi : 0)
			printf "\"main_us_per_job\":%.1f,\"backfill_us_per_job\":%.1f,\"makespan_s\":%.1f}\n", (md > 0 ? mc / md : 0), (bd > 0 ? bc / bd : 0), t1 - t0
		}' "$work/$select.domains"
}

run aic
run cons_tres

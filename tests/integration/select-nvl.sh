#!/bin/sh
# select/cons_tres_aic on 6 nodes in 2 interleaved NVLink domains (node
# features aic_nvl:0 on n1 n3 n5, aic_nvl:1 on n2 n4 n6), beside SLURM's
# cons_tres on the same cluster with the same jobs in the same order:
#   - jobs without --aic-job are placed exactly as cons_tres places them;
#   - with n1 busy, a 2-node aic job lands inside one domain (n3 n5), where
#     cons_tres splits it (n2 n3);
#   - topology: strict waits while no domain has room, then runs inside one;
#     prefer runs at once, split; a strict job larger than every domain is
#     refused at submission; sbatch --test-only (WILL_RUN) answers in a domain.
. "$AIC_SRC_DIR/tests/lib/select-cluster.sh"
need_select_clusters
plan 21

settle() {
	# No job left and every node idle again: the next scenario starts clean.
	scancel --user=root >/dev/null 2>&1
	t=0
	while [ -n "$(squeue -h)" ] || [ "$(sinfo -h -N -o %t | sort -u)" != idle ]; do
		t=$((t + 1))
		[ $t -le 300 ] || return 1
		sleep 0.1
	done
}

# Plain jobs of several shapes, each placed before the next is submitted.
plain_sequence() {
	out=""
	for args in "-N1 --exclusive" "-n1" "-N2 --exclusive" "-N1 -n2" "-n1" "-N1 --exclusive"; do
		# shellcheck disable=SC2086
		j=$(submit $args)
		wait_state "$j" RUNNING || out="$out [$j not running]"
		out="$out $j:$(nodes_of "$j" | tr ' ' ,)"
	done
	echo "$out"
}

# The aic scenario: n1 busy, then a 2-node aic job, then a 2-node plain job.
aic_scenario() {
	busy=$(submit -w n1 --exclusive)
	wait_state "$busy" RUNNING
	aic=$(submit -N2 --exclusive --aic-job="$work/prefer.yaml")
	wait_state "$aic" RUNNING || echo "aic job $aic did not start"
	plain=$(submit -N2 --exclusive)
	wait_state "$plain" RUNNING || echo "plain job $plain did not start"
	aic_nodes=$(nodes_of "$aic")
	plain_nodes=$(nodes_of "$plain")
}

# --- select/cons_tres_aic ------------------------------------------------
cluster_up --nvl-domains 2 --select aic
is "$(scontrol show config | sed -n 's/^SelectType *= *//p')" select/cons_tres_aic "SelectType is select/cons_tres_aic"
aic_plain=$(plain_sequence)
ok "jobs settle" settle
aic_scenario
diag "cons_tres_aic: aic job on '$aic_nodes', plain job on '$plain_nodes'"
is "$(echo "$aic_nodes" | wc -w)" 2 "aic job runs on 2 nodes"
is "$(nvl_of "$aic_nodes")" 0 "aic job lands inside NVLink domain 0, the best fit (2 free nodes)"
like "$(grep 'cons_tres_aic: JobId='"$aic"' ' "$state_dir/log/slurmctld.log")" \
	"placed inside domain nvl:0" "slurmctld logs the domain it chose"
ok "jobs settle" settle

# prefer vs strict, with one busy node in each domain (2 free nodes each).
b1=$(submit -w n1 --exclusive)
b2=$(submit -w n2 --exclusive)
wait_state "$b1" RUNNING && wait_state "$b2" RUNNING
p=$(submit -N3 --exclusive --aic-job="$work/prefer.yaml")
ok "topology: prefer runs at once when no domain has room" wait_state "$p" RUNNING
is "$(nvl_of "$(nodes_of "$p")")" "0 1" "and spans both domains"
scancel "$p"
wait_gone "$p"
s=$(submit -N3 --exclusive --aic-job="$work/strict.yaml")
# Four nodes are free, so only the plugin can keep the job waiting, and
# "Resources" says the scheduler tried to place it and could not.
is "$(wait_reason "$s")" "PENDING Resources" "topology: strict waits while no domain has 3 free nodes"
scancel "$b1"
ok "strict runs once domain 0 has room" wait_state "$s" RUNNING 60
is "$(nodes_of "$s")" "n1 n3 n5" "inside domain 0"
ok "jobs settle" settle

out=$(sbatch --parsable -N4 --exclusive --aic-job="$work/strict.yaml" --wrap true 2>&1)
rc=$?
ok "a strict job larger than every domain is refused at submission" [ $rc -ne 0 ]
like "$out" "configuration is not available" "with SLURM's reason"
out=$(sbatch --test-only -N4 --exclusive --aic-job="$work/prefer.yaml" --wrap true 2>&1)
like "$out" "to start at" "prefer: the same job is accepted (sbatch --test-only)"
b1=$(submit -w n1 --exclusive)
wait_state "$b1" RUNNING
out=$(sbatch --test-only -N3 --exclusive --aic-job="$work/strict.yaml" --wrap true 2>&1)
like "$out" "to start at .* on nodes n\[1,3,5\]|to start at .* on nodes n\[2,4,6\]" \
	"WILL_RUN: strict --test-only answers with one domain ($out)"
ok "jobs settle" settle
cluster_down

# --- SLURM's cons_tres, same cluster, same jobs --------------------------
cluster_up --nvl-domains 2
cons_plain=$(plain_sequence)
ok "jobs settle" settle
aic_scenario
diag "cons_tres: aic job on '$aic_nodes', plain job on '$plain_nodes'"
is "$(nvl_of "$aic_nodes")" "0 1" "cons_tres splits the same aic job across both domains"
cluster_down

diag "plain jobs, cons_tres_aic:$aic_plain"
diag "plain jobs, cons_tres:    $cons_plain"
is "$aic_plain" "$cons_plain" "jobs without --aic-job are placed exactly as cons_tres places them"
like "$aic_plain" "^( [0-9]+:n[0-9n,]+){6}$" "and all six of them ran"
done_testing

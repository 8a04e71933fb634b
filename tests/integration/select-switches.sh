#!/bin/sh
# select/cons_tres_aic with leaf switches: 6 nodes under 2 leaf switches
# (topology.conf: s0 = n1-n3, s1 = n4-n6, TopologyParam=TopoOptional), beside
# SLURM's cons_tres on the same cluster with the same jobs. With n1 and n2
# busy, a 2-node aic job lands inside s1, where cons_tres splits it (n3 n4).
. "$AIC_SRC_DIR/tests/lib/select-cluster.sh"
need_select_clusters
plan 5

scenario() {
	b1=$(submit -w n1 --exclusive)
	b2=$(submit -w n2 --exclusive)
	wait_state "$b1" RUNNING && wait_state "$b2" RUNNING
	aic=$(submit -N2 --exclusive --aic-job="$work/prefer.yaml")
	wait_state "$aic" RUNNING || echo "aic job $aic did not start"
	aic_nodes=$(nodes_of "$aic")
}

cluster_up --switches 2 --select aic
like "$(scontrol show topology 2>&1)" "SwitchName=s1 .*Nodes=n\[4-6\]" "scontrol show topology lists the leaf switches"
scenario
diag "cons_tres_aic: aic job on '$aic_nodes'"
is "$(echo "$aic_nodes" | wc -w)" 2 "aic job runs on 2 nodes"
is "$(switch_of "$aic_nodes")" s1 "aic job lands inside leaf switch s1"
like "$(grep 'cons_tres_aic: JobId='"$aic"' ' "$state_dir/log/slurmctld.log")" \
	"placed inside domain switch:s1" "slurmctld logs the switch it chose"
cluster_down

cluster_up --switches 2
scenario
diag "cons_tres: aic job on '$aic_nodes'"
is "$(switch_of "$aic_nodes")" "s0 s1" "cons_tres splits the same job across both switches"
cluster_down
done_testing

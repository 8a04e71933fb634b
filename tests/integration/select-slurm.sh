#!/bin/sh
# SLURM keeps working under select/cons_tres_aic (NVLink domains and leaf
# switches together): sinfo, squeue, scontrol show job, srun into a running
# job, scontrol reconfigure, and a slurmctld restart with running jobs,
# which keep their nodes; aic jobs are still placed by the plugin after
# each, on the exact nodes its best fit picks and cons_tres's first fit
# does not.
#
# 6 nodes: NVLink domains nvl:0 = n1 n3 n5 and nvl:1 = n2 n4 n6; leaf
# switches s0 = n1-n3 and s1 = n4-n6. Every aic job asks for 2 whole nodes.
. "$AIC_SRC_DIR/tests/lib/select-cluster.sh"
need_select_clusters
plan 27

cluster_up --nvl-domains 2 --switches 2 --select aic
# n1 and n2 busy: cons_tres would take n3 n4 (both NVLink domains, both
# switches). nvl:0 and nvl:1 have exactly 2 free nodes each; of equal fits
# the plugin takes the domain named first (NVLink domains come before
# switches, nvl:0 first): n3 n5.
b1=$(submit -w n1 --exclusive)
b2=$(submit -w n2 --exclusive)
wait_state "$b1" RUNNING && wait_state "$b2" RUNNING
a=$(submit -N2 --exclusive --aic-job="$work/prefer.yaml")
ok "an aic job runs" wait_state "$a" RUNNING
a_nodes=$(nodes_of "$a")
is "$a_nodes" "n3 n5" "with n1 n2 busy, inside NVLink domain 0, where cons_tres takes n3 n4"
scancel "$b1" "$b2"
wait_gone "$b1" && wait_gone "$b2"
# A plain job shares n1: from now on n2, n4 and n6 are the idle nodes, and
# the best fit for 2 of them is s1 (n4 n6), the one domain with exactly 2
# (nvl:1 has 3, s0 1, nvl:0 none).
p=$(submit -n1 -w n1)
ok "a plain job runs" wait_state "$p" RUNNING
p_nodes=$(nodes_of "$p")

is "$(sinfo -h -N -o %N | sort -u | wc -l)" "$select_nodes" "sinfo lists every node"
like "$(sinfo -h -o '%f' | tr '\n' ' ')" "aic_nvl:0" "sinfo shows the aic_nvl features"
like "$(squeue -h -o '%i %T' | tr '\n' ' ')" "$a RUNNING.*$p RUNNING|$p RUNNING.*$a RUNNING" "squeue lists both jobs"
like "$(scontrol show job "$a")" "JobState=RUNNING" "scontrol show job works"
like "$(scontrol show node n1)" "AvailableFeatures=aic_nvl:0" "scontrol show node works"
is "$(timeout $step_timeout srun --jobid="$a" --overlap -N2 hostname 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')" \
	"$a_nodes" "srun runs a step inside the aic job's allocation"

ok "scontrol reconfigure succeeds" scontrol reconfigure
ok "slurmctld answers after reconfigure" scontrol ping
is "$(squeue -h -j "$a" -o %T)" RUNNING "the aic job still runs"
is "$(nodes_of "$a")" "$a_nodes" "on the same nodes"
b=$(submit -N2 --exclusive --aic-job="$work/prefer.yaml")
ok "a new aic job runs after reconfigure" wait_state "$b" RUNNING
b_nodes=$(nodes_of "$b")
is "$b_nodes" "n4 n6" "inside leaf switch s1, the best fit"

pid=$(cat "$state_dir/run/slurmctld.pid")
kill "$pid"
t=0
while kill -0 "$pid" 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
ok "slurmctld stopped" sh -c "! kill -0 $pid 2>/dev/null"
# The tag lets scripts/minicluster down find the new daemon.
env AIC_MINICLUSTER="$state_dir" slurmctld
t=0
while ! scontrol ping >/dev/null 2>&1 && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
ok "slurmctld answers after a restart" scontrol ping
is "$(squeue -h -j "$a" -o %T) $(squeue -h -j "$b" -o %T) $(squeue -h -j "$p" -o %T)" \
	"RUNNING RUNNING RUNNING" "every job survived the restart"
is "$(nodes_of "$a") | $(nodes_of "$b") | $(nodes_of "$p")" "$a_nodes | $b_nodes | $p_nodes" \
	"on the same nodes"
like "$(scontrol show job "$b")" "JobState=RUNNING" "scontrol show job works after the restart"
scancel "$b"
wait_gone "$b"
c=$(submit -N2 --exclusive --aic-job="$work/prefer.yaml")
ok "a new aic job runs after the restart" wait_state "$c" RUNNING
c_nodes=$(nodes_of "$c")
is "$c_nodes" "n4 n6" "inside leaf switch s1 again"
is "$(timeout $step_timeout srun --jobid="$c" --overlap -N2 hostname 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')" \
	"$c_nodes" "srun runs a step in it"
out=$(scontrol create reservation ReservationName=aic-nodes StartTime=now Duration=10 Users=root \
	NodeCnt=1 Flags=ignore_jobs 2>&1)
like "$out" "created" "a NodeCnt= reservation is created (resv_test goes to cons_tres)"
out=$(scontrol create reservation ReservationName=aic-cores StartTime=now Duration=10 Users=root \
	CoreCnt=1 Nodes=n6 Flags=ignore_jobs 2>&1)
like "$out" "CoreCnt or CPUCnt is only supported" \
	"a CoreCnt= reservation is refused (the documented limitation of a new plugin id)"
is "$(grep -c 'error.*cons_tres_aic\|cons_tres_aic.*error\|fatal' "$state_dir/log/slurmctld.log")" 0 \
	"slurmctld logged no error from the plugin"
ok "slurmctld is still running" scontrol ping
cluster_down
done_testing

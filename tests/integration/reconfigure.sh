#!/bin/sh
# The cluster survives `scontrol reconfigure`: the daemons re-read their
# configuration (plugstack.conf included) and the next PMIx step runs.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 6
hello="$AIC_BUILD_DIR/tests/integration/pmix_hello"

ok "scontrol reconfigure succeeds" scontrol reconfigure
t=0
while [ "$(sinfo -h -N -o '%t' | grep -cE '^(idle|mix|alloc)$')" -ne "$nnodes" ] && [ $t -lt 300 ]; do
	sleep 0.1
	t=$((t + 1))
done
is "$(sinfo -h -N -o '%t' | sort -u)" idle "all $nnodes nodes are idle again"
ok "slurmctld answers" scontrol ping
out=$(timeout $step_timeout srun -N"$nnodes" --ntasks-per-node=1 --mpi=pmix "$hello" 2>&1)
is "$?" 0 "a PMIx step after reconfigure exits 0"
is "$(printf '%s\n' "$out" | grep -c '^rank [0-9]* of ')" "$nnodes" "with one rank per node"
like "$(srun --help 2>&1)" '--aic-job' "the SPANK plugin is still loaded"
done_testing

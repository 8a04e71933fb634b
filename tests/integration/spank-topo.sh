#!/bin/sh
# Which topology file slurmstepd reads for topo_xml=.../%n.xml
# (scripts/minicluster writes etc/topo/nN.xml): its own node's, whatever
# SLURMD_NODENAME the user sends. A user who could choose it could point
# root's slurmstepd at a FIFO (the step hangs, unkillable, and the node
# drains) or at any file; inside an sbatch job, every srun carried the
# batch host's name and each node read that host's file.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
dir=$(work_dir)
topo="$AIC_MINICLUSTER_DIR/etc/topo"
# scripts/minicluster writes them: without them (another cluster) the test
# cannot run, which scripts/check's cluster must never be.
if [ ! -f "$topo/n1.xml" ]; then
	[ -z "${AIC_INTEGRATION_REQUIRED:-}" ] || bail "no per-node topology files ($topo/n1.xml)"
	skip_all "the cluster has no per-node topology files ($topo/n1.xml)"
fi
plan 7
cd "$dir" || bail "cannot enter $dir"
cp "$AIC_SRC_DIR/tests/fixtures/specs/grpo.yaml" job.yaml
show='echo "$SLURMD_NODENAME $AIC_TOPO_XML $AIC_LOCAL_SIZE"'

# A FIFO where a hostile SLURMD_NODENAME would lead. Whatever happens, it is
# opened for writing at the end, so that a slurmstepd blocked on it (the
# bug) gets unstuck instead of draining the node for the tests after this.
fifo="$topo/evil.xml"
rm -f "$fifo"
mkfifo "$fifo" || bail "cannot make the FIFO '$fifo'"
unstick() {
	if [ -p "$fifo" ]; then
		exec 3<>"$fifo"
		exec 3>&-
		rm -f "$fifo"
	fi
}
trap unstick EXIT

out=$(SLURMD_NODENAME=evil timeout $step_timeout srun -N3 --ntasks-per-node=1 --aic-job=job.yaml \
	sh -c "$show" 2>&1)
is "$?" 0 "srun with SLURMD_NODENAME=evil runs"
unstick
diag "$out"
is "$(printf '%s\n' "$out" | sort)" "n1 $topo/n1.xml 1
n2 $topo/n2.xml 1
n3 $topo/n3.xml 1" "each node read its own topology, not the FIFO the user named"

out=$(SLURMD_NODENAME=../../../tmp/x timeout $step_timeout srun -N1 --aic-job=job.yaml \
	sh -c "$show" 2>&1)
is "$?" 0 "srun with SLURMD_NODENAME=../../../tmp/x runs"
like "$out" "^n1 $topo/n1.xml 1\$" "the user's path is not used"

# Inside sbatch, the sruns inherit the batch host's SLURMD_NODENAME.
cat >batch.sh <<JOB
#!/bin/sh
#SBATCH -N3
#SBATCH -o $dir/batch.out
srun -N3 --ntasks-per-node=1 sh -c '$show'
JOB
timeout $step_timeout sbatch --parsable --wait --aic-job=job.yaml batch.sh >/dev/null 2>&1
is "$?" 0 "sbatch --aic-job runs"
diag "$(cat batch.out)"
is "$(sort batch.out)" "n1 $topo/n1.xml 1
n2 $topo/n2.xml 1
n3 $topo/n3.xml 1" "inside sbatch each node reads its own topology"

is "$(sinfo -h -N -o '%t' | sort -u | tr '\n' ' ')" "idle " "no node was drained"
done_testing

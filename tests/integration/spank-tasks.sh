#!/bin/sh
# The compute-node side of the SPANK plugin: every task of an --aic-job step
# gets its share of the step's GPUs, cores local to them, its NIC as an NCCL
# hint and the AIC_* variables, as the node's topology (topo_xml=, written by
# scripts/minicluster from this machine's CPUs: 4 GPUs in NVLink pairs 0-1
# and 2-3, one InfiniBand NIC per socket) says they should.
#
# The expected answers come from the machine, so the test runs on any core
# count: the GPUs' bus ids, NUMA nodes and local CPUs from hwloc's own reading
# of that topology, each step's cores from SLURM (scontrol show job -d), and
# each task's cores by the placement rule the plugin follows (lib/place.c):
# an equal share of the step's cores, those local to the task's GPUs first,
# lowest first, then the others.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 13
dir=$(work_dir)
cp "$AIC_SRC_DIR/tests/fixtures/specs/grpo.yaml" "$dir/job.yaml"
# Every node has the same hardware; each reads its own file (topo_xml=%n).
topo=${AIC_MINICLUSTER_DIR:-/var/tmp/aic-minicluster}/etc/topo/n1.xml
[ -r "$topo" ] || bail "no node topology '$topo' (scripts/minicluster writes it)"

# What each task prints; local task 0 also prints its node's cores in the
# job (SLURM's CPU_IDs, with the job's hostlists expanded).
cat >"$dir/show.sh" <<'EOF'
#!/bin/sh
echo "$SLURMD_NODENAME $SLURM_LOCALID gpus=$AIC_GPUS cuda=$AIC_CUDA_DEVICES bus=$AIC_GPU_BUSIDS numa=$AIC_NUMA_NODE peers=$AIC_NVLINK_PEERS nic=$AIC_NIC hca=${NCCL_IB_HCA-unset} cpus=$AIC_CPUS allowed=$(sed -n "s/^Cpus_allowed_list:\t*//p" /proc/self/status) bind=$AIC_BIND node=$AIC_NODE_RANK/$AIC_NODE_COUNT local=$AIC_LOCAL_RANK/$AIC_LOCAL_SIZE order=$CUDA_DEVICE_ORDER"
[ "$SLURM_LOCALID" = 0 ] || exit 0
scontrol show job -d "$SLURM_JOB_ID" | grep -o 'Nodes=[^ ]* CPU_IDs=[^ ]*' |
	while read -r nodes ids; do
		for n in $(scontrol show hostnames "${nodes#Nodes=}"); do
			[ "$n" != "$SLURMD_NODENAME" ] || echo "alloc $n ${ids#CPU_IDs=}"
		done
	done
EOF

# expand LIST: a CPU list with its ranges expanded, ascending ("0-2,8" -> "0,1,2,8").
expand() {
	printf '%s\n' "$1" | tr ',' '\n' |
		awk -F- 'NF == 1 && $1 != "" {print $1} NF == 2 {for (i = $1; i <= $2; i++) print i}' |
		sort -n | tr '\n' ',' | sed 's/,$//'
}

# The lines of a step's output with every CPU list expanded, and the node's
# allocation lines left out.
tasks() {
	printf '%s\n' "$1" | grep -v '^alloc ' | while read -r line; do
		c=$(printf '%s\n' "$line" | sed -n 's/.* cpus=\([^ ]*\) .*/\1/p')
		a=$(printf '%s\n' "$line" | sed -n 's/.* allowed=\([^ ]*\) .*/\1/p')
		printf '%s\n' "$line" | sed "s/ cpus=[^ ]* / cpus=$(expand "$c") /; s/ allowed=[^ ]* / allowed=$(expand "$a") /"
	done
}

# alloc OUT NODE: the node's cores in the step's job, expanded.
alloc() {
	expand "$(printf '%s\n' "$1" | sed -n "s/^alloc $2 //p")"
}

# The topology's facts, read by hwloc (not by the plugin's own parser).
hw() { hwloc-calc --if xml -i "$topo" "$@"; }
gpu_pus() { expand "$(hw --intersect pu "os=cuda$1")"; }
gpu_numa() { hw --intersect numa "os=cuda$1"; }
gpu_bus() {
	hwloc-info --if xml -i "$topo" --ancestor pci "os=cuda$1" | sed -n 's/.*PCI bus id = //p'
}
nics=$(lstopo-no-graphics --if xml -i "$topo" | sed -n 's/.*OpenFabrics(OpenFabrics) "\([^"]*\)".*/\1/p')
# The InfiniBand NIC on a NUMA node.
nic_on() {
	for nic in $nics; do
		[ "$(hw --intersect numa "os=$nic")" != "$1" ] || {
			echo "$nic"
			return
		}
	done
}

# closest ALLOC GPUS...: the cores of each task (one line per task, whose
# GPUs are the arguments in order) under closest binding, in a step with
# the cores ALLOC. With fewer cores than tasks, every task has them all.
closest() {
	a=$1
	shift
	for gpus; do
		l=""
		for g in $(echo "$gpus" | tr ',' ' '); do l="$l,$(gpu_pus "$g")"; done
		echo "${l#,}"
	done | awk -v alloc="$a" '
	{ local_cpus[NR] = $0 }
	END {
		n = split(alloc, cpu, ",")
		share = int(n / NR)
		for (t = 1; t <= NR; t++) {
			if (share == 0) {
				print alloc
				continue
			}
			split(local_cpus[t], l, ",")
			for (k in is_local)
				delete is_local[k]
			for (k in l)
				is_local[l[k]] = 1
			got = 0
			for (k in mine)
				delete mine[k]
			for (pass = 0; pass < 2; pass++)
				for (i = 1; i <= n && got < share; i++)
					if (!(cpu[i] in used) && (pass || (cpu[i] in is_local))) {
						used[cpu[i]] = mine[cpu[i]] = 1
						got++
					}
			out = ""
			for (i = 1; i <= n; i++)
				if (cpu[i] in mine)
					out = out (out == "" ? "" : ",") cpu[i]
			print out
		}
	}'
}

# want NODE TASK GPUS PEERS CPUS NODE_RANK NODES LOCAL_SIZE: the line that
# task prints under closest binding, with SLURM's CUDA_VISIBLE_DEVICES (the
# GPUs' own indices).
want() {
	bus=""
	for g in $(echo "$3" | tr ',' ' '); do bus="$bus${bus:+,}$(gpu_bus "$g")"; done
	numa=$(gpu_numa "${3%%,*}")
	nic=$(nic_on "$numa")
	echo "$1 $2 gpus=$3 cuda=$3 bus=$bus numa=$numa peers=$4 nic=$nic hca==$nic cpus=$5 allowed=$5 bind=closest node=$6/$7 local=$2/$8 order=PCI_BUS_ID"
}

# run SRUN-OPTIONS...: the step's output, sorted. One-node steps name n1:
# the node a previous step just left may still be completing.
run() {
	timeout $step_timeout srun "$@" sh "$dir/show.sh" 2>&1 | sort
}

# per_node NODES TASKS: srun's options for TASKS tasks on each of NODES
# nodes. Nodes with one CPU take two tasks only overcommitted, and SLURM
# then refuses --ntasks-per-node above the CPUs: ask for the total (which
# block distribution spreads evenly); each task then has the step's core.
if [ "$(sinfo -h -N -n n1 -o %c)" -ge 2 ]; then
	per_node() { echo "-N$1 --ntasks-per-node=$2"; }
else
	per_node() { echo "-N$1 -n$(($1 * $2)) --overcommit"; }
fi

# Two tasks per node, four GPUs: one NVLink pair and the cores nearest it each.
out=$(run $(per_node 3 2) --gres=gpu:4 --aic-job="$dir/job.yaml")
diag "$out"
for n in 1 2 3; do
	c=$(closest "$(alloc "$out" n$n)" 0,1 2,3)
	diag "n$n: step cores $(alloc "$out" n$n), task cores $(echo "$c" | tr '\n' ' ')"
	is "$(tasks "$out" | grep "^n$n 0 ")" \
		"$(want n$n 0 0,1 "" "$(echo "$c" | sed -n 1p)" $((n - 1)) 3 2)" \
		"n$n task 0: GPUs 0,1, the cores nearest them, their NIC"
	is "$(tasks "$out" | grep "^n$n 1 ")" \
		"$(want n$n 1 2,3 "" "$(echo "$c" | sed -n 2p)" $((n - 1)) 3 2)" \
		"n$n task 1: GPUs 2,3, the cores nearest them, their NIC"
done

# Two tasks, two GPUs (SLURM gives 0 and 1, an NVLink pair on one socket):
# one GPU each, NVLink peers of each other; the second task gets what cores
# the first leaves.
out=$(run $(per_node 1 2) -w n1 --gres=gpu:2 --aic-job="$dir/job.yaml")
diag "$out"
c=$(closest "$(alloc "$out" n1)" 0 1)
is "$(tasks "$out" | grep "^n1 0 ")" "$(want n1 0 0 1 "$(echo "$c" | sed -n 1p)" 0 1 2)" \
	"1 GPU per task: task 0 on GPU 0, its NVLink peer is GPU 1"
is "$(tasks "$out" | grep "^n1 1 ")" "$(want n1 1 1 0 "$(echo "$c" | sed -n 2p)" 0 1 2)" \
	"task 1 on GPU 1, on the cores left"

# A second job on the same node holds GPUs 2,3: CUDA ordinals follow CUDA_VISIBLE_DEVICES.
out=$(run -N1 -w n1 --ntasks-per-node=1 --gres=gpu:2 --aic-job="$dir/job.yaml" --aic-nccl=off \
	--export=ALL,CUDA_VISIBLE_DEVICES=2,3)
diag "$out"
like "$out" "hca=unset" "--aic-nccl=off sets no NCCL_IB_HCA"
NCCL_IB_HCA=mine out=$(NCCL_IB_HCA=mine run -N1 --gres=gpu:4 --aic-job="$dir/job.yaml")
like "$out" "hca=mine" "a user's own NCCL_IB_HCA is kept"

# Binding modes: none puts every task on all of the step's cores; slurm
# leaves SLURM's binding, which under task/none is every CPU slurmd has
# (this machine's, as this test sees them).
out=$(run $(per_node 1 2) -w n1 --gres=gpu:4 --aic-job="$dir/job.yaml" --aic-bind=none)
is "$(tasks "$out" | sed -n 's/.*allowed=\([^ ]*\) bind=\([^ ]*\).*/\1 \2/p' | sort -u)" \
	"$(alloc "$out" n1) none" "--aic-bind=none: tasks on all the step's cores"
out=$(run $(per_node 1 2) -w n1 --gres=gpu:4 --aic-job="$dir/job.yaml" --aic-bind=slurm)
is "$(tasks "$out" | sed -n 's/.*allowed=\([^ ]*\) bind=\([^ ]*\).*/\1 \2/p' | sort -u)" \
	"$(expand "$(sed -n 's/^Cpus_allowed_list:\t*//p' /proc/self/status)") slurm" \
	"--aic-bind=slurm: aic leaves the binding alone"

# A one-task step: the task gets all four GPUs and stays on the step's cores.
out=$(run -N1 -n1 -w n1 --gres=gpu:4 --aic-job="$dir/job.yaml")
diag "$out"
c=$(alloc "$out" n1)
like "$(tasks "$out" | grep '^n1 0 ')" "gpus=0,1,2,3 cuda=0,1,2,3 .* cpus=$c allowed=$c " \
	"one task gets all GPUs and the step's cores ($c)"
done_testing

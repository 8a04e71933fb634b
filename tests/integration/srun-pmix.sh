#!/bin/sh
# A multi-node `srun --mpi=pmix` step: every task has its own PMIx rank, node
# name and address, and the PMIx modex (put, fence, get) crosses the nodes.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 20
hello="$AIC_BUILD_DIR/tests/integration/pmix_hello"
[ -x "$hello" ] || bail "'$hello' not built (configure found no PMIx?)"

# check_step NODES TASKS_PER_NODE: run pmix_hello and check what every rank saw.
check_step() {
	n=$1
	per=$2
	total=$((n * per))
	out=$(timeout $step_timeout srun -N"$n" --ntasks-per-node="$per" --mpi=pmix "$hello" 2>&1)
	is "$?" 0 "srun -N$n --ntasks-per-node=$per --mpi=pmix exits 0"
	diag "$out"
	self=$(printf '%s\n' "$out" | grep '^rank [0-9]* of ')
	is "$(printf '%s\n' "$self" | awk '{print $2}' | sort -n | tr '\n' ' ')" \
		"$(seq 0 $((total - 1)) | tr '\n' ' ')" "ranks are 0..$((total - 1)), each once"
	is "$(printf '%s\n' "$self" | awk '{print $4}' | sort -u)" "$total" "every rank sees job size $total"
	is "$(printf '%s\n' "$self" | awk '{print $6}' | sort -u | wc -l)" 1 "one PMIx namespace"
	like "$(printf '%s\n' "$self" | awk 'NR==1 {print $6}')" '^slurm\.pmix\.[0-9]+\.[0-9]+$' \
		"namespace is slurm.pmix.<job>.<step>"
	is "$(printf '%s\n' "$self" | awk '{print $8}' | sort | uniq -c | awk '{print $1}' | sort -u)" \
		"$per" "$per task(s) on each node"
	is "$(printf '%s\n' "$self" | awk '{print $8}' | sort -u | wc -l)" "$n" "tasks on $n distinct nodes"
	is "$(printf '%s\n' "$self" | awk '$2 != $12' | wc -l)" 0 "PMIX_RANK matches the PMIx rank"
	bad=0
	for line in $(printf '%s\n' "$self" | awk '{print $8 "=" $10}'); do
		node=${line%%=*}
		addr=${line#*=}
		[ "$(node_addr "$node")" = "$addr" ] || {
			diag "node $node reports address $addr, slurm.conf says $(node_addr "$node")"
			bad=1
		}
	done
	is "$bad" 0 "each task's address is its node's NodeAddr"
	# Rank r saw rank q at exactly the node,addr that q reported for itself.
	want=$(printf '%s\n' "$self" | awk '{print $2 " " $8 "," $10}' | sort)
	seen=$(printf '%s\n' "$out" | awk '/ sees rank / {print $5 " " $7}' | sort | uniq -c |
		awk -v t="$total" '$1 == t {print $2 " " $3}')
	is "$seen" "$want" "every rank read every rank's modex value"
}

check_step 3 1
check_step 3 2
done_testing

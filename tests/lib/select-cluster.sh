# Shared setup for the select plugin's integration tests (select-*.sh).
#
# Unlike the other integration tests, these bring their own clusters up and
# down (scripts/minicluster, 6 nodes, no GPUs), one after the other: the
# same scenario under select/cons_tres_aic and under SLURM's cons_tres. So
# they run when no cluster is up (`make check-select`, which scripts/check
# runs after the other integration tests), and skip when the plugin was not
# built (configure without --with-slurm-src) or when not root; under
# AIC_INTEGRATION_REQUIRED (scripts/check) each of these fails instead.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"

mc="$AIC_SRC_DIR/scripts/minicluster"
select_so="$AIC_BUILD_DIR/plugins/select/.libs/select_cons_tres_aic.so"
state_dir=${AIC_MINICLUSTER_DIR:-/var/tmp/aic-minicluster}
select_nodes=6

need_select_clusters() {
	[ -e "$select_so" ] ||
		cannot_run "select_cons_tres_aic.so not built (configure --with-slurm-src=DIR; scripts/deps makes DIR)"
	[ "$(id -u)" -eq 0 ] || cannot_run "needs root: the test brings its own SLURM clusters up"
	[ ! -f "$state_dir/cluster.env" ] ||
		cannot_run "a cluster is already up in '$state_dir'; these tests bring their own up"
	unset SLURM_CONF
	trap cluster_down EXIT
	work=$(work_dir)
	# Every aic job here is one 2-rank stage: the spec only has to be valid.
	for p in prefer strict; do
		printf 'name: sel-%s\ntopology: %s\nstages:\n  a: {command: "true", ranks: 2, gpus: 0}\n' \
			"$p" "$p" >"$work/$p.yaml"
	done
}

# cluster_up ARGS...: a fresh 6-node cluster with minicluster's ARGS.
# Only a cluster this script brought up is ever taken down.
ours=0
cluster_up() {
	[ ! -f "$state_dir/cluster.env" ] || bail "another cluster came up in '$state_dir'"
	ours=1
	if ! "$mc" up --nodes "$select_nodes" --gpus-per-node 0 --build "$AIC_BUILD_DIR" "$@" \
		>"$work/up.log" 2>&1; then
		sed 's/^/# /' "$work/up.log"
		bail "minicluster up $* failed"
	fi
	eval "$("$mc" env)"
	diag "cluster up: $*"
}

cluster_down() {
	[ "$ours" -eq 1 ] || return 0
	ours=0
	if [ -n "${SLURM_CONF:-}" ] && [ -f "$state_dir/log/slurmctld.log" ] && [ -n "${work:-}" ]; then
		cp "$state_dir/log/slurmctld.log" "$work/slurmctld.$(date +%s%N).log" 2>/dev/null || true
	fi
	"$mc" down >/dev/null 2>&1 || true
	unset SLURM_CONF
}

# submit SBATCH-ARGS...: prints the new job's id; every job sleeps until cancelled.
submit() {
	sbatch --parsable -o /dev/null "$@" --wrap 'sleep 600'
}

# wait_state ID STATE [SECONDS]: until the job is in STATE; fails on timeout.
wait_state() {
	t=0
	while [ "$(squeue -h -j "$1" -o %T 2>/dev/null)" != "$2" ]; do
		t=$((t + 1))
		[ $t -le $((${3:-30} * 10)) ] || return 1
		sleep 0.1
	done
}

# wait_reason ID [SECONDS]: until the scheduler has considered the pending
# job (its Reason is no longer None), then prints "STATE REASON"; fails on
# timeout.
wait_reason() {
	t=0
	while [ "$(squeue -h -j "$1" -o %r 2>/dev/null)" = None ]; do
		t=$((t + 1))
		[ $t -le $((${2:-30} * 10)) ] || return 1
		sleep 0.1
	done
	squeue -h -j "$1" -o '%T %r'
}

# nodes_of ID: the job's nodes, one line, space-separated ("n3 n5").
nodes_of() {
	scontrol show hostnames "$(squeue -h -j "$1" -o %N)" | tr '\n' ' ' | sed 's/ $//'
}

# nvl_of NODES: the distinct aic_nvl ids of the nodes under --nvl-domains 2.
nvl_of() {
	for n in $1; do echo $(((${n#n} - 1) % 2)); done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# switch_of NODES: the distinct leaf switches under --switches 2 (n1-3: s0, n4-6: s1).
switch_of() {
	for n in $1; do echo "s$(((${n#n} - 1) * 2 / select_nodes))"; done | sort -u | tr '\n' ' ' |
		sed 's/ $//'
}

# wait_gone ID [SECONDS]: until the job neither waits, runs nor completes.
wait_gone() {
	t=0
	while [ -n "$(squeue -h -j "$1" -t PD,CF,R,CG 2>/dev/null)" ]; do
		t=$((t + 1))
		[ $t -le $((${2:-30} * 10)) ] || return 1
		sleep 0.1
	done
}

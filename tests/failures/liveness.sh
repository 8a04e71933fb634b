#!/bin/sh
# Liveness on the 4-node cluster (issue 14): heartbeats, failure_timeout,
# the registration deadline and the bounded wait at the end.
#   (i)   a job whose work finishes while a node without work (n4) is cut
#         succeeds, its head exits, and its log names n4;
#   (ii)  with the head's node (n1) cut, the agents on n2..n4 see it, stop
#         their workers and exit: no process of the job is left on them;
#   (iii) a node cut while its worker runs (n3) is declared lost, named in
#         the head's log;
#   (e)   an agent that never registers (on n4, TCP to the head's port is
#         routed into a black hole: a next hop whose MAC nobody has) is
#         named, rank and node, when the job ends; and that agent, whose
#         connect never completes, gives up its handshake and exits.
# Jobs are submitted with sbatch --no-kill and srun --no-kill, so that SLURM
# does not end them when it finds the node dead itself (after 30 s); every
# wait is for an event, with a generous bound. Each cut node is restored in
# a trap, and each job cancelled and waited for before the next.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 19
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

# The nodes are cut here whatever AIC_FAIL_WAY says (fail_node N cut); (e)
# also routes a port into a black hole, undone with the cut node.
hole=
restore() {
	if [ -n "$hole" ]; then
		ip -n aicn4 rule del pref 101 2>/dev/null || true
		ip -n aicn4 route flush table 101 2>/dev/null || true
		ip -n aicn4 neigh del 10.99.0.250 dev eth0 2>/dev/null || true
		hole=
	fi
	restore_node
}
trap restore EXIT
trap 'restore; exit 1' INT TERM

has_summary() { [ -s "$(jobdir "$dir/$1")/summary.json" ]; }
summary() { summary_field "$dir/$1" "$2"; }
logged() { grep -q -- "$2" "$dir/$1/job.out"; }

# A worker that says where it runs, then waits for its go-ahead file.
worker() {
	cat <<W
[sh, -c, 'echo \$AIC_NODE >"$dir/$1/started.\$AIC_INDEX"; while [ ! -e "$dir/$1/go" ]; do sleep 0.1; done']
W
}
# work_job PART OPTIONS: submits PART/job.yaml, the job liveness-PART of one
# stage, `work`, of such workers, with OPTIONS (its replicas and GPUs);
# prints the job id.
work_job() {
	mkdir -p "$dir/$1"
	cat >"$dir/$1/job.yaml" <<SPEC
name: liveness-$1
stages:
  work: {command: $(worker "$1"), $2, cpus: 0}
SPEC
	submit_job "$dir/$1"
}
# started PART N: N of PART's workers have started.
started() { [ "$(ls "$dir/$1"/started.* 2>/dev/null | wc -l)" -eq "$2" ]; }

# --- (i) the work finishes while a node without work is cut -----------------
job=$(work_job done "gpus: 1") || bail "sbatch failed"
diag "(i) job $job"
ok "(i) the worker starts" wait_for 120 test -s done/started.0
where=$(cat done/started.0)
[ "$where" != n4 ] || bail "the one worker is on n4, the node to cut"
fail_node n4 cut
t0=$(date +%s)
touch done/go
ok "(i) the head finishes (summary.json)" wait_for 120 has_summary done
diag "(i) the head finished $(($(date +%s) - t0)) s after the cut (failure_timeout 10 s)"
is "$(summary done "d['state']")" succeeded "(i) the job succeeded"
ok "(i) the head's aic-launch and the live agents exit (n1..n3)" wait_for 60 nothing_on 1,2,3 aic-launch
ok "(i) its log names n4 as not answering at the end" \
	logged done "the agent on node 'n4' (rank 3).*\(no frame for\|did not confirm the end\)"
restore
cancel_job "$job"

# --- (ii) the head's node is cut ---------------------------------------------
job=$(work_job headcut "replicas: 4, gpus: 4") || bail "sbatch failed"
diag "(ii) job $job"
ok "(ii) the 4 workers start, one per node" wait_for 120 started headcut 4
is "$(sort headcut/started.* | uniq | wc -l)" 4 "(ii) on 4 different nodes"
ok "(ii) their agents run on n2..n4" test -n "$(node_procs 2 aic-launch)"
fail_node n1 cut
ok "(ii) no worker is left on n2..n4" wait_for 120 nothing_on 2,3,4 "$dir/headcut/go"
ok "(ii) no aic-launch is left on n2..n4" wait_for 60 nothing_on 2,3,4 aic-launch
# aic's doing, not SLURM's: SLURM has not found n1 dead yet (SlurmdTimeout 30 s).
isnt "$(sinfo -h -n n1 -o %t | tr -d '*')" down "(ii) before SLURM sets n1 down"
restore
cancel_job "$job"

# --- (iii) a node with a worker is cut while the job runs --------------------
job=$(work_job lost "replicas: 4, gpus: 4") || bail "sbatch failed"
diag "(iii) job $job"
ok "(iii) the 4 workers start" wait_for 120 started lost 4
fail_node n3 cut
ok "(iii) the head declares n3 lost" wait_for 120 logged lost "node 'n3' (rank 2) is lost"
ok "(iii) and says why" logged lost "no frame for"
touch lost/go
restore
cancel_job "$job"

# --- (e) an agent that never registers ----------------------------------------
# n4's aic-launch waits for `start` (test code, not the engine's): once the
# head listens (before bootstrap's fence, which n4 has not reached), n4's
# TCP to the head's port (only that port: PMIx and SLURM go on) is routed
# via 10.99.0.250, a neighbour with a MAC no one has, so its SYNs vanish
# without an error; then n4 starts.
mkdir -p noreg
cat >noreg/job.yaml <<SPEC
name: liveness-noreg
stages:
  work: {command: [true], cpus: 0}
SPEC
cat >noreg/wrap.sh <<'W'
#!/bin/sh
if [ "$SLURM_NODEID" = 3 ]; then
	while [ ! -e "$(dirname "$0")/start" ]; do sleep 0.1; done
fi
exec "$@"
W
chmod +x noreg/wrap.sh
job=$(submit_job "$dir/noreg" "$dir/noreg/wrap.sh") || bail "sbatch failed"
diag "(e) job $job"
head_port() {
	ip netns exec aicn1 ss -ltnpH 2>/dev/null | grep aic-launch |
		sed -n 's/.* 10\.99\.0\.11:\([0-9]*\) .*/\1/p' | head -n 1
}
listening() { [ -n "$(head_port)" ]; }
ok "(e) the head listens" wait_for 120 listening
port=$(head_port)
hole=1
ip -n aicn4 neigh add 10.99.0.250 lladdr 02:00:00:00:00:99 dev eth0 nud permanent
ip -n aicn4 route add 10.99.0.11/32 via 10.99.0.250 table 101
ip -n aicn4 rule add to 10.99.0.11 ipproto tcp dport "$port" table 101 pref 101
touch noreg/start
ok "(e) the head gives up" wait_for 120 has_summary noreg
like "$(summary noreg "d['reason']")" "1 of 4 agents did not register within 10000 ms: rank 3 on node 'n4'\$" \
	"(e) the reason names rank 3 and node n4, and only them"
ok "(e) n4's agent gives up its handshake and exits" wait_for 60 nothing_on 4 aic-launch
ok "(e) saying why" wait_for 60 logged noreg "lost the connection to the head (no handshake within 10 s)"
restore
cancel_job "$job"
done_testing

#!/bin/sh
# A gang's checkpoint across nodes holds every line its ranks acked before
# they marked it: a resumed run reads none of them again. A 2-rank gang,
# one rank a node (3 of a node's 4 GPUs each), takes the lines of a source
# a few at a time and acks them; `aic stop --checkpoint` asks for a
# checkpoint, and the ranks do what examples/grpo-toy's trainer does: agree
# on the step in an all-gather, poll (a round trip to the agent, after
# their acks), all-gather again, then mark (aic_checkpoint_begin), save
# the lines they acked and report. The engine counts a line in a rank's
# checkpoint when it was done at that rank's mark (state.json:
# checkpoints.train.sources, one progress per rank), and a resumed run
# reads again every line not done in all of them. The other rank's acks
# reach the acker (rank 0's agent) on its own agent's link, here held back
# 400 ms (AIC_ACKER_BATCH_MS) so that a mark comes first: the acker must
# ask the other agents for their updates before it takes the mark's
# snapshot (launcher/dataplane/marks.c), or the lines the other node's
# rank acked in the last steps are read again. Each item here is a line's
# whole tree, so nothing but the marks decides. Then examples/grpo-toy
# the same way, where a batch of rollout or reward ties 8 lines' trees
# together: none of its lines trained on is read again either, which also
# needs every step to have its whole batch (a channel read by several
# processes has no prefetch: with one, 16 of 80 were read again).
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 2 4
plan 10
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
dir=$(work_dir)
aic="$AIC_BUILD_DIR/launcher/aic"
cd "$dir" || bail "cannot enter $dir"
cp "$AIC_SRC_DIR/examples/grpo-toy/collective.py" . || bail "no examples/grpo-toy/collective.py"
seq 1 5000 >lines.txt
cat >job.yaml <<'EOF'
name: gang-marks
stages:
  train:
    command: [/usr/bin/python3, rank.py]
    ranks: 2
    gpus: 3
    inputs: [lines]
    restart: {max: 0}
channels:
  lines: {source: lines.txt, capacity: 16}
checkpoint: {grace_s: 20}
EOF
cat >rank.py <<'EOF'
import json, os, time
import aic, collective

gang = collective.Gang()
w = aic.connect()
acked, step, saved = [], 0, False
while True:
    ckpt = w.checkpoint_requested()
    try:
        items = w.get("lines", max_items=2, timeout=0.2)
    except aic.Closed:
        items = []
    acked += [[it.origin["epoch"], it.origin["line"]] for it in items]
    w.ack(items)
    step += 1
    if any(m["ckpt"] for m, _ in gang.allgather({"ckpt": ckpt})) and not saved:
        w.checkpoint_requested()  # a round trip, after this rank's acks
        gang.allgather(None)  # every rank's acks are in at its agent
        w.checkpoint_begin()
        path = os.path.join(aic.checkpoint_dir(), "rank%d.%d.json" % (gang.rank, step))
        with open(path, "w") as f:
            json.dump(acked, f)
        print("checkpoint at step %d: %d lines acked" % (step, len(acked)), flush=True)
        w.checkpoint_done(step)
        saved = True  # and goes on with what is left: acks after the mark
    time.sleep(0.02)
EOF
cat >job.sh <<EOF
#!/bin/sh
#SBATCH -N2
#SBATCH --ntasks-per-node=1
#SBATCH -o $dir/job-%j.out
srun --mpi=pmix "$launch"
EOF
export AIC_ACKER_BATCH_MS=400

ended() { [ -z "$(squeue -h -j "$job" -o %i 2>/dev/null)" ]; }
# running: both ranks have run a while (status.json says running).
running() { [ "$(status_field "$dir" "sum(p['state'] == 'running' for p in d['procs'])")" = 2 ]; }
# again: "N M L": of the lines the ranks acked (N), how many a resumed run
# would read again (M), by state.json's progresses; and how many lines it
# would skip that no rank acked before its mark (L: lost).
again() {
	/usr/bin/python3 - "$(jobdir "$dir")/state.json" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
ck = s["checkpoints"]["train"]
acked = set()
for rank, v in enumerate(ck["versions"]):
    with open(os.path.join(ck["dir"], "rank%d.%d.json" % (rank, v))) as f:
        acked |= set(tuple(k) for k in json.load(f))
def done(p, line):
    return p.get("done") or (tuple(line) < tuple(p["next"]) and list(line) not in p["unfinished"])
# Lost: a line done in every progress that no rank acked before its mark.
ps = [p["lines"] for p in ck["sources"]]
end = min(tuple(p["next"]) for p in ps if not p.get("done"))
lost = [l for l in ((0, n) for n in range(1, 5001)) if l < end and all(done(p, l) for p in ps) and l not in acked]
print(len(acked), len(set(l for p in ps for l in acked if not done(p, l))), len(lost))
PY
}
for i in 1 2; do
	job=$(sbatch --parsable --aic-job=job.yaml job.sh) || bail "sbatch failed"
	wait_for 120 running || bail "job $job does not run: $(cat job-*.out 2>/dev/null)"
	sleep 3
	nodes=$(status_field "$dir" "' '.join(sorted(set(p['node'] for p in d['procs'])))")
	"$aic" stop --job "$(jobdir "$dir")" --checkpoint >stop.out 2>&1
	wait_for 120 ended || diag "job $job is still in squeue"
	is "$(/usr/bin/python3 -c "import json; print(json.load(open('$(jobdir "$dir")/state.json'))['runs'][0]['state'])")" \
		checkpointed "run $i (job $job): the gang on two nodes ($nodes) stopped with a checkpoint"
	# shellcheck disable=SC2046 # two words
	set -- $(again)
	ok "run $i: none of the $1 lines the ranks acked is read again on resume (read again: $2)" \
		test "${1:-0}" -ge 100 -a "${2:-1}" -eq 0
	is "${3:-}" 0 "run $i: no line counted done that no rank acked before its mark (lost)"
	diag "$(grep -h 'checkpoint at' "$(jobdir "$dir")"/logs/train.*.log | tr '\n' ';')"
	rm -rf .aic
done
# Each mark waited for the other node's answer, not for MARK_WAIT_MS (the
# acker's log: the head's node's aic-launch, in the jobs' output).
is "$(cat job-*.out | grep -c "waited [0-9]* ms for agents' updates")" 0 \
	"no mark's snapshot was taken without the other agents' answers"
# examples/grpo-toy, its training ranks on two nodes, stopped the same
# way after a few steps: none of the lines it trained on is read again.
# (Its rollout and reward batches tie 8 lines' trees together: a line
# trained on is done once its batch's 7 other groups are trained too,
# which every step's whole batch of 16 makes so.)
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
grpo_copy "$dir/grpo" 40 0.01
sed -i -e 's/^    ranks: 2$/&\n    gpus: 3/' -e 's/^    replicas: 2$/&\n    gpus: 1/' "$dir/grpo/job.yaml"
[ "$(grep -c '^    gpus: [13]$' "$dir/grpo/job.yaml")" = 2 ] || bail "cannot add GPUs to job.yaml"
{ cp job.sh grpo/ && cd grpo; } || bail "no $dir/grpo"
trained() { [ "$(grep -cs '^step ' "$(jobdir .)/logs/train.0.log")" -ge "$1" ]; }
job=$(sbatch --parsable --aic-job=job.yaml job.sh) || bail "sbatch failed"
wait_for 120 trained 5 || bail "job $job does not train: $(cat ../job-"$job".out 2>/dev/null)"
"$aic" stop --job "$(jobdir .)" --checkpoint >stop.out 2>&1
wait_for 120 ended || diag "job $job is still in squeue"
# shellcheck disable=SC2046 # two words
set -- $(grpo_reread "$(jobdir .)")
is "$(/usr/bin/python3 -c "import json; print(json.load(open('$(jobdir .)/state.json'))['runs'][0]['state'])") ${1:-0} ${2:-}" \
	"checkpointed $1 0" "grpo-toy on two nodes: stopped with a checkpoint, none of the $1 lines trained on read again"
ok "at least 5 steps' lines trained on ($1)" test "${1:-0}" -ge 80
cd "$dir" || bail "no $dir"

# A bad AIC_ACKER_BATCH_MS is said, quoted, on every node, and the job runs.
job=$(AIC_ACKER_BATCH_MS=soon sbatch --parsable --aic-job=job.yaml job.sh) || bail "sbatch failed"
wait_for 120 running || bail "job $job does not run: $(cat "job-$job.out" 2>/dev/null)"
scancel "$job"
wait_for 120 ended || diag "job $job is still in squeue"
is "$(grep -c 'AIC_ACKER_BATCH_MS="soon" is not a number of milliseconds from 0 to 10000: the default, 0, is used' "job-$job.out")" 2 \
	"AIC_ACKER_BATCH_MS=soon: warned of on both nodes, quoted, and the job runs"
done_testing

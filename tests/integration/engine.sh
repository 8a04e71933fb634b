#!/bin/sh
# The engine on the 3-node cluster: aic-launch bootstraps over PMIx, the
# head places a 4-rank gang and two replica stages, every worker runs where
# the plan says with the right environment; kill -9 of a replica restarts
# only it, kill -9 of a gang rank restarts the gang; a connection without
# the token is refused while the job goes on; exhausting restarts fails the
# job with every process gone; scancel leaves no process on any node.
. "$AIC_SRC_DIR/tests/lib/engine-job.sh"
need_cluster 3 4
plan 27
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"
mkdir -p out

# Each worker writes what it sees, then waits for the test's go-ahead.
go_worker <<WORKER
f="$dir/out/\$AIC_STAGE.\$AIC_INDEX"
{
	echo "node=\$(hostname) gpus=\$CUDA_VISIBLE_DEVICES aic_gpus=\$AIC_GPUS role=\${ROLE-none}"
	echo "rank=\${RANK-} world=\${WORLD_SIZE-} local=\${LOCAL_RANK-}/\${LOCAL_WORLD_SIZE-} master=\${MASTER_ADDR-}:\${MASTER_PORT-}"
	echo "replica=\${AIC_REPLICA-}/\${AIC_REPLICAS-} order=\$CUDA_DEVICE_ORDER token=\${#AIC_TOKEN}"
} >"\$f.tmp"
mv "\$f.tmp" "\$f.env"
echo "\$\$" >>"\$f.pids"
WORKER
cat >job.yaml <<SPEC
name: engine-test
stages:
  train: {command: [sh, $dir/worker.sh], ranks: 4, gpus: 1, cpus: 0, restart: {max: 2, backoff_ms: 50}}
  gen: {command: [sh, $dir/worker.sh], replicas: 2, gpus: 1, cpus: 0, env: {ROLE: gen},
        restart: {max: 2, backoff_ms: 50}}
  reward: {command: [sh, $dir/worker.sh], replicas: 2, cpus: 0}
SPEC

all_env() { [ "$(ls out/*.env 2>/dev/null | wc -l)" -eq 8 ]; }
# field STAGE INDEX KEY: one process's field in status.json
field() {
	status_field "$dir" "[p for p in d['procs'] if p['stage'] == '$1' and p['index'] == $2][0]['$3']"
}
# restarts_running STAGE: the distinct (restarts, state) pairs of a stage's processes
restarts_running() {
	status_field "$dir" "sorted(set((p['restarts'], p['state']) for p in d['procs'] if p['stage'] == '$1'))"
}

srun_step 300 srun job.yaml --gres=gpu:4 &
srun_pid=$!
ok "all 8 workers start" wait_for 30 all_env
is "$(workers)" 8 "the 8 are seen running (what 'no worker is left' looks for)"
jd=$(jobdir "$dir")
diag "job directory $jd"
diag "$(cat srun.err)"
like "$(cat "$jd/head")" "^10\.99\.0\.[0-9]+:[0-9]+$" "the head is at its node's cluster address, not a loopback one"

# Every worker is where the plan put it, with the environment it implies.
check=$(python3 - "$jd/plan.json" <<'PY'
import json, sys, subprocess
plan = json.load(open(sys.argv[1]))
addr = {}
for n in ("n1", "n2", "n3"):
    out = subprocess.run(["scontrol", "show", "node", n], capture_output=True, text=True).stdout
    addr[n] = out.split("NodeAddr=")[1].split()[0]
bad = []
procs = plan["procs"]
ranks = [p for p in procs if p["stage"] == "train"]
r0 = [p for p in ranks if p["index"] == 0][0]
masters = set()
for p in procs:
    env = dict(kv.split("=", 1) for line in open("out/%s.%d.env" % (p["stage"], p["index"])) for kv in line.split())
    name = "%s/%d" % (p["stage"], p["index"])
    want_gpus = ",".join(str(g) for g in p["gpus"])
    if env["node"] != p["node"]:
        bad.append("%s on %s, plan says %s" % (name, env["node"], p["node"]))
    if env["gpus"] != want_gpus or env["aic_gpus"] != want_gpus:
        bad.append("%s gpus %s, plan %s" % (name, env["gpus"], want_gpus))
    if env["order"] != "PCI_BUS_ID" or env["token"] != "64":
        bad.append("%s: CUDA_DEVICE_ORDER or AIC_TOKEN missing" % name)
    if p["stage"] == "train":
        local = sorted(q["index"] for q in ranks if q["node"] == p["node"])
        want = "rank=%d world=4 local=%d/%d master=%s:" % (p["index"], local.index(p["index"]), len(local), addr[r0["node"]])
        got = "rank=%s world=%s local=%s master=%s" % (env["rank"], env["world"], env["local"], env["master"])
        if not got.startswith(want):
            bad.append("%s: %s, want %s" % (name, got, want))
        masters.add(env["master"])
    else:
        if env["replica"] != "%d/2" % p["index"]:
            bad.append("%s replica %s" % (name, env["replica"]))
        if env["role"] != ("gen" if p["stage"] == "gen" else "none"):
            bad.append("%s ROLE %s" % (name, env["role"]))
if len(masters) != 1:
    bad.append("gang ranks disagree on MASTER_ADDR:PORT: %s" % masters)
gpus = [(p["node"], g) for p in procs for g in p["gpus"]]
if len(gpus) != len(set(gpus)) or len(gpus) != 6:
    bad.append("GPUs shared or missing: %s" % gpus)
print("\n".join(bad) if bad else "ok")
PY
)
is "$check" ok "every worker runs on the plan's node and GPUs with the right environment"
diag "train/0: $(cat out/train.0.env | tr '\n' ' ')"

# A connection without the token is refused; the job goes on.
refused=$(PYTHONPATH="$AIC_SRC_DIR/tests/lib" python3 - "$jd/head" <<'PY'
import socket, sys
from aicnet import handshake
host, port = open(sys.argv[1]).read().strip().rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
t, m = handshake(s, "f" * 64, {"role": "agent", "rank": 1}, verify=False)
print(t, m["error"])
PY
)
is "$refused" "3 wrong or missing job token" "a connection with a wrong token gets REJECT"
like "$("$aic" status --job "$jd")" "^job 'engine-test' running, 3 nodes" "and the job is still running"

# kill -9 of a replica: only it restarts.
gen_pid=$(field gen 0 pid)
train_pids=$(for r in 0 1 2 3; do field train $r pid; done | tr '\n' ' ')
kill -9 "$gen_pid"
gen_restarted() { [ "$(field gen 0 restarts)" = 1 ] && [ "$(field gen 0 state)" = running ] &&
	[ "$(field gen 0 pid)" != "$gen_pid" ]; }
ok "the killed replica restarts with a new process" wait_for 20 gen_restarted
is "$(for r in 0 1 2 3; do field train $r pid; done | tr '\n' ' ')" "$train_pids" "the gang was not touched"
is "$(field gen 1 restarts) $(field reward 0 restarts) $(field reward 1 restarts)" "0 0 0" \
	"nor the other replicas"

# kill -9 of a gang rank: the whole gang restarts.
kill -9 "$(field train 2 pid)"
gang_restarted() { [ "$(restarts_running train)" = "[(1, 'running')]" ]; }
ok "the gang restarts, every rank running again" wait_for 30 gang_restarted
new=$(for r in 0 1 2 3; do field train $r pid; done | tr '\n' ' ')
is "$(printf '%s\n%s\n' "$new" "$train_pids" | tr ' ' '\n' | grep -v '^$' | sort | uniq -d | wc -l)" 0 \
	"every rank has a new process"

touch go
wait $srun_pid
is "$?" 0 "the job then succeeds: srun exits 0"
is "$(python3 -c "import json;d=json.load(open('$jd/summary.json'));print(d['state'],[(s['stage'],s['restarts']) for s in d['stages']])")" \
	"succeeded [('train', 1), ('gen', 1), ('reward', 0)]" "summary.json: state and restarts per stage"
like "$(cat srun.out)" "aic: job 'engine-test' succeeded" "the summary is printed"
ok "no worker is left" no_workers

# Exhausting restarts fails the job, non-zero, with every process gone.
rm -f go
cat >fail.yaml <<SPEC
stages:
  bad: {command: [sh, -c, "exit 3"], restart: {max: 1, backoff_ms: 10}, cpus: 0}
  slow: {command: [sh, $dir/worker.sh], replicas: 2, cpus: 0}
SPEC
srun_step 120 fail fail.yaml
ok "a stage out of restarts fails the job (srun exits non-zero)" [ $? -ne 0 ]
like "$(cat fail.err)" "error: job failed: stage 'bad' replica 0 failed \(exit status 3\) and has used its 1 restart" \
	"saying why"
ok "no worker is left" wait_for 10 no_workers

# A node's agent dies (kill -9) under a plain srun step (no --no-kill): the
# head declares the node lost (tests/failures/ show what it recovers under
# --no-kill). srun does not end the step for a killed task (no
# --kill-on-bad-exit): the job goes on until the go-ahead, and srun's exit
# status then says a task was killed (128 + SIGKILL), not the timeout's 124.
rm -rf out && mkdir out
srun_step 120 lost job.yaml --gres=gpu:4 &
srun_pid=$!
ok "the 8 workers start again" wait_for 30 all_env
victim=$(agent_of 2)
ok "found node 3's aic-launch" [ -n "$victim" ]
kill -9 "$victim"
lost_said() { grep -q "lost: the agent on node" lost.err; }
wait_for 30 lost_said || diag "the head has not said that the node is lost: $(cat lost.err)"
touch go
wait $srun_pid
is "$?" 137 "srun exits 137: its task on that node was killed"
like "$(cat lost.err)" "error: node 'n[0-9]' lost: the agent on node 'n[0-9]' disconnected" "the head says which agent was lost"
ok "no worker survives" wait_for 20 no_workers

# scancel: the agents stop their workers; nothing survives on any node.
rm -rf out go && mkdir out
job=$(sbatch_job job.yaml)
ok "the batch job's 8 workers start" wait_for 60 all_env
scancel "$job"
ok "the job ends after scancel" wait_for 60 job_ended "$job"
ok "no worker survives on any node" wait_for 20 no_workers
ok "nor any aic-launch" wait_for 20 no_launchers
done_testing

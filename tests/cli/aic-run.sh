#!/bin/sh
# `aic run`: the engine on this machine, no SLURM. The same spec as the
# cluster test (a 4-rank gang and two replica stages, on an 8-GPU HGX
# topology), then restarts, failure, and the job tools: status, logs, stop.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/wait.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
hgx="$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml"
dir=$(mktemp -d /var/tmp/aic-run-test.XXXXXX)
trap 'touch "$dir/go"; rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
mkdir out

cat >worker.sh <<WORKER
#!/bin/sh
echo "node=\$AIC_NODE gpus=\$CUDA_VISIBLE_DEVICES rank=\${RANK-} world=\${WORLD_SIZE-} local=\${LOCAL_RANK-} replica=\${AIC_REPLICA-} role=\${ROLE-none}" >"$dir/out/\$AIC_STAGE.\$AIC_INDEX"
echo "hello from \$AIC_STAGE \$AIC_INDEX"
while [ ! -e "$dir/go" ]; do sleep 0.05; done
WORKER
cat >job.yaml <<SPEC
name: run-test
stages:
  train: {command: [sh, $dir/worker.sh], ranks: 4, gpus: 1, cpus: 0}
  gen: {command: [sh, $dir/worker.sh], replicas: 2, gpus: 1, cpus: 0, env: {ROLE: gen}}
  reward: {command: [sh, $dir/worker.sh], replicas: 2, cpus: 0}
SPEC

all_out() { [ "$(ls out | wc -l)" -eq 8 ]; }
# A worker is a process whose command line holds the script's path (sh
# runs it by name); the test's own processes never do (count_procs: not a
# worker's child before its exec).
workers() { count_procs "$dir/worker.sh"; }
no_workers() { [ "$(workers)" -eq 0 ]; }

# 27 tests, and 2 more of aic-launch when it is built (with PMIx).
if [ -x "$AIC_BUILD_DIR/launcher/aic-launch" ]; then plan 29; else plan 27; fi
"$aic" run --topo "$hgx" job.yaml >run.out 2>run.err &
pid=$!
ok "aic run starts all 8 workers" wait_for 20 all_out
is "$(workers)" 8 "the 8 are seen running (what 'no worker is left' looks for)"
jd="$dir/.aic/$(readlink .aic/latest)"
is "$(stat -c %a "$jd") $(stat -c %a "$jd/token")" "700 600" "the job directory is 0700, its token 0600"
# The same placement aic plan computes, and the environment it implies.
plan=$("$aic" plan job.yaml --topo "$hgx" --json)
check=$(printf '%s' "$plan" | python3 -c '
import json, sys
plan = json.load(sys.stdin)
bad = []
for p in plan["procs"]:
    env = dict(kv.split("=", 1) for kv in open("out/%s.%d" % (p["stage"], p["index"])).read().split())
    gpus = ",".join(str(g["index"]) for g in p["gpus"])
    if env["gpus"] != gpus:
        bad.append("%s/%d: gpus %s, plan %s" % (p["stage"], p["index"], env["gpus"], gpus))
    if p["stage"] == "train" and (env["rank"], env["world"], env["local"]) != (str(p["index"]), "4", str(p["local_rank"])):
        bad.append("train/%d: %s" % (p["index"], env))
    if p["stage"] != "train" and env["replica"] != str(p["index"]):
        bad.append("%s/%d: %s" % (p["stage"], p["index"], env))
print("\n".join(bad) if bad else "ok")')
is "$check" ok "workers run on the GPUs aic plan shows, with RANK/WORLD_SIZE/LOCAL_RANK"

st=$("$aic" status)
like "$st" "^job 'run-test' running, 1 node" "aic status finds the job through .aic/latest"
is "$(printf '%s\n' "$st" | grep -c ' running ')" 8 "and lists 8 running processes"
like "$("$aic" status --json)" '"state": "running"' "aic status --json"
is "$("$aic" logs gen/1)" "hello from gen 1" "aic logs STAGE/N prints one worker's log"
is "$("$aic" logs train | sort | tr '\n' ' ')" \
	"train/0: hello from train 0 train/1: hello from train 1 train/2: hello from train 2 train/3: hello from train 3 " \
	"aic logs STAGE prints every rank's, prefixed"
touch go
wait $pid
is "$?" 0 "the job succeeds"
like "$(cat run.out)" "aic: job 'run-test' succeeded: every process finished" "and says so"
ok "no worker is left" no_workers

# Restarts, then a stop.
rm -f go
cat >flaky.yaml <<SPEC
stages:
  flaky: {command: [sh, -c, "n=\$(cat n 2>/dev/null || echo 0); echo \$((n+1)) >n; [ \$n -ge 1 ] && exec sh $dir/worker.sh; exit 2"],
          cpus: 0, restart: {max: 2, backoff_ms: 10}}
SPEC
"$aic" run flaky.yaml >flaky.out 2>flaky.err &
pid=$!
restarted() {
	st=$("$aic" status) && printf '%s\n' "$st" | grep -q "^job 'flaky' running" &&
		printf '%s\n' "$st" | grep -q ' running .* 1 '
}
ok "a failed replica restarts" wait_for 20 restarted
# A tool's connection still open when the job ends must be freed, not leaked.
# The holder says when the head has welcomed it, then holds the connection
# until the head closes it (exit 0), or fails.
PYTHONPATH="$AIC_SRC_DIR/tests/lib" python3 - "$dir/.aic/latest" "$dir/held" <<'HOLD' &
import socket, sys
from aicnet import WELCOME, closed, handshake
d = sys.argv[1]
host, port = open(d + "/head").read().strip().rsplit(":", 1)
s = socket.create_connection((host, int(port)))
t, m = handshake(s, open(d + "/token").read(), {"role": "cli"})
if t != WELCOME:
    sys.exit("no WELCOME: type %d" % t)
open(sys.argv[2], "w").close()
if not closed(s, 60):
    sys.exit("the head did not close the connection")
HOLD
holder=$!
ok "a tool connects to the head and is welcomed" wait_for 20 [ -e held ]
like "$("$aic" stop)" "aic: stop sent" "aic stop"
wait $pid
rc=$?
is "$rc" 0 "a stopped job exits 0, with the tool still connected"
[ $rc -eq 0 ] || diag "$(cat flaky.err)"
wait $holder
is "$?" 0 "the tool stayed connected until the job ended and closed it"
like "$(cat flaky.out)" "aic: job 'flaky' stopped: stopped by aic stop" "and reports it was stopped"
ok "no worker is left" no_workers

printf 'stages:\n  bad: {command: [sh, -c, "exit 5"], restart: {max: 1, backoff_ms: 1}}\n' >bad.yaml
"$aic" run bad.yaml >bad.out 2>bad.err
is "$?" 1 "a stage out of restarts fails the job with exit status 1"
like "$(cat bad.err)" "stage 'bad' replica 0 failed \(exit status 5\) and has used its 1 restart" "saying why"
printf 'stages:\n  x: {command: [no-such-program-here], restart: {max: 0}}\n' >missing.yaml
"$aic" run missing.yaml >/dev/null 2>missing.err
is "$?" 1 "a missing program fails the job"
like "$("$aic" logs x/0)" "aic: cannot run 'no-such-program-here': No such file or directory" \
	"and its log says why"
# summary.json's engine_cpu_s is the engine's own CPU time (user and
# system), not its workers': here one worker burns 0.5 s of CPU.
printf 'stages:\n  burn: {command: [python3, -c, "import time\\nwhile time.process_time() < 0.5: pass"], cpus: 0}\n' >burn.yaml
"$aic" run burn.yaml >/dev/null 2>&1
ok "summary.json: engine_cpu_s, the engine's own CPU time, not its worker's" python3 -c '
import json, sys
s = json.load(open(".aic/latest/summary.json"))
print("# engine_cpu_s:", s.get("engine_cpu_s"))
sys.exit(not 0 < s["engine_cpu_s"] < 0.5)'
# A worker reaches its agent at AIC_AGENT with AIC_TOKEN, its stage's
# credential; a wrong one is refused, and the agent proves it knows it.
cat >hello.py <<'HELLO'
import os, socket, sys
sys.path.insert(0, os.environ["TESTLIB"])
from aicnet import handshake
host, port = os.environ["AIC_AGENT"].rsplit(":", 1)
for token in (os.environ["AIC_TOKEN"], "0" * 64):
    s = socket.create_connection((host, int(port)))
    print(handshake(s, token, {"role": "worker", "stage": "w"}, verify=token[0] != "0")[0])
HELLO
printf 'stages:\n  w: {command: [python3, %s/hello.py], cpus: 0, env: {TESTLIB: %s}}\n' "$dir" "$AIC_SRC_DIR/tests/lib" >agent.yaml
"$aic" run agent.yaml >/dev/null 2>&1
is "$("$aic" logs w/0 | tr '\n' ' ')" "2 3 " "the agent welcomes its worker (2) and refuses a wrong token (3)"

if [ -x "$AIC_BUILD_DIR/launcher/aic-launch" ]; then
	err=$(env -u PMIX_NAMESPACE "$AIC_BUILD_DIR/launcher/aic-launch" job.yaml 2>&1)
	is "$?" 2 "aic-launch outside srun --mpi=pmix exits 2"
	like "$err" "no PMIx server: start aic-launch with 'srun --mpi=pmix'" "and says how to start it"
fi

err=$("$aic" status --job /nonexistent 2>&1)
is "$?" 1 "aic status of no job fails"
like "$err" "aic: no job directory '/nonexistent'" "naming it"
done_testing

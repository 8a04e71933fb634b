#!/bin/sh
# Restart-to-ready on the local cluster (scripts/minicluster up, its env):
# examples/grpo-toy runs across 3 nodes with one aic-launch per node; while
# it trains, rollout replica 0 is killed with SIGKILL (KILLS times, a few
# steps apart). A figure is the time from the kill until the head has the
# new process running (status.json: its state and uptime_s, against the
# file's mtime) and until the new process has connected to its agent
# (aic.connect() returned: bench/busy.py records when). The restart is
# timed without the spec's backoff (backoff_ms: 0; the shipped spec's is
# printed beside it). Before each kill, the baseline: the same worker
# started afresh with aic_spawn (bench/spawn worker), timed until it reaches
# aic.connect() (bench/busy.py with AIC_BENCH_START_ONLY=1), on the same
# machine while the job runs. Prints one JSON line per kill and per spawn.
#
#   bench/restart-cluster.sh [KILLS]     (default 10, 4 training steps apart)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
kills=${1:-10}
py=/usr/bin/python3
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
work=$(mktemp -d "$build/bench-restart.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }

backoff=$(sed -n 's/.*restart: {max: [0-9]*, backoff_ms: \([0-9]*\)}.*/\1/p' "$top/examples/grpo-toy/job.yaml" | head -n 1)
cp -r "$top/examples/grpo-toy/." .
chmod -R u+w .
# Every stage under bench/busy.py (it records when aic.connect returned);
# pretend generation long enough to kill at leisure; no restart backoff (the
# figure is aic's, not the spec's wait); fake GPUs spread the job over the
# nodes (as tests/integration/grpo-toy.sh), so the restart crosses them.
sed -i -e "s|command: \[/usr/bin/python3, |command: [$py, $top/bench/busy.py, |" \
	-e "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: 0.02/" \
	-e "s/restart: {max: 3, backoff_ms: 200}/restart: {max: $kills, backoff_ms: 0}/" \
	-e 's/^    ranks: 2$/&\n    gpus: 3/' -e 's/^    replicas: 2$/&\n    gpus: 2/' job.yaml
[ "$(grep -c 'busy.py\|backoff_ms: 0\|^    gpus: [23]$' job.yaml)" = 6 ] ||
	{ echo "bench: cannot adapt job.yaml" >&2; exit 1; }

srun -N3 --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix --aic-job=job.yaml \
	"$build/launcher/aic-launch" >job.out 2>&1 &
job=$!
$py - "$kills" "$build/bench/spawn" "$top/bench/busy.py" >kills.jsonl <<'PY' || { kill "$job"; wait "$job"; exit 1; }
import json, os, signal, subprocess, sys, time

kills = int(sys.argv[1])
spawn = [sys.argv[2], "worker", "spawn.log", "/usr/bin/python3", sys.argv[3], "rollout.py"]
status = ".aic/latest/status.json"
deadline = time.time() + 120


def rollout0():
    """(pid, restarts, state, started_at) of rollout/0, or None; started_at
    is when the head heard it had started: the file's mtime less its uptime."""
    try:
        st = os.stat(status)
        s = json.load(open(status))
    except (OSError, ValueError):
        return None
    for p in s["procs"]:
        if p["stage"] == "rollout" and p["index"] == 0:
            return p["pid"], p["restarts"], p["state"], st.st_mtime - p["uptime_s"]
    return None


def steps():
    try:
        return sum(line.startswith("step ") for line in open(".aic/latest/logs/train.0.log"))
    except OSError:
        return 0


for k in range(kills):
    while steps() < 4 + 4 * k:  # a few steps after the start or the last restart
        if time.time() > deadline:
            sys.exit("bench: grpo-toy did not reach step %d" % (4 + 4 * k))
        time.sleep(0.01)
    # The baseline, in the same conditions: the same worker started afresh.
    # The rollout stage's environment as far as start-up goes: one BLAS thread.
    base = subprocess.run(spawn, env=dict(os.environ, AIC_BENCH_START_ONLY="1", OMP_NUM_THREADS="1"),
                          stdout=subprocess.PIPE, check=True).stdout.decode()
    print(base.strip(), flush=True)
    r = rollout0()
    while not r or r[2] != "running":
        if time.time() > deadline:
            sys.exit("bench: rollout/0 is not running")
        time.sleep(0.01)
        r = rollout0()
    pid, restarts = r[0], r[1]
    os.kill(pid, signal.SIGKILL)
    killed = time.time()
    while True:
        r = rollout0()
        if r and r[1] > restarts and r[2] == "running" and r[0] != pid:
            break
        if time.time() > deadline:
            sys.exit("bench: rollout/0 was not restarted")
        time.sleep(0.002)
    print(json.dumps({"what": "killed", "pid": pid, "new_pid": r[0], "killed_at": killed,
                      "running_at": r[3]}), flush=True)
PY
wait "$job" || { cat job.out >&2; echo "bench: grpo-toy failed on the cluster" >&2; exit 1; }
# When each new process connected: from its bench/busy.py record.
$py - "$backoff" <<'PY'
import glob, json, sys
conn = {}
for f in glob.glob(".aic/latest/busy/rollout.0.*.json"):
    d = json.load(open(f))
    conn[d["pid"]] = d["connected_at"]
for line in open("kills.jsonl"):
    k = json.loads(line)
    if k["what"] != "killed":
        print(line.strip())
        continue
    print(json.dumps({"what": "kill", "pid": k["pid"], "shipped_backoff_ms": int(sys.argv[1]),
                      "to_running_ms": round(1000 * (k["running_at"] - k["killed_at"]), 1),
                      "to_connected_ms": round(1000 * (conn[k["new_pid"]] - k["killed_at"]), 1)
                      if k["new_pid"] in conn else None}))
PY

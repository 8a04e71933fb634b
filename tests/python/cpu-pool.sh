#!/bin/sh
# A stage's reserved cores are its own (launcher/engine/cpu_pool.c): under
# `aic run`, while a stage with `cpus: 1` runs, the engine (the workers'
# parent) and a stage with `cpus: 0` run on the other cores, every thread
# and child of that stage included, though they were there before it
# (hot.py fails until they are, and is started again a second later);
# once the reserving stage has exited they have every core back.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ "$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')" -ge 2 ] ||
	skip_all "needs two CPUs"
enter_work_dir cpu-pool
plan 5

# shared.py: a thread and a child first; then, once hot.py has written its
# cores, what it, its threads, its child and the engine may run on (when
# that has changed, 5 s at most); once hot.py has gone, the same again.
cat >shared.py <<'PY'
import json, os, subprocess, threading, time
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()
child = subprocess.Popen(["sleep", "60"])
open("shared.ready", "w").close()
all = json.load(open("all.json"))
def cores(pid):
    return sorted(os.sched_getaffinity(pid))
def seen():
    return {"self": cores(0), "threads": sorted({tuple(cores(int(t))) for t in os.listdir("/proc/self/task")}),
            "child": cores(child.pid), "engine": cores(os.getppid())}
def after(cond):
    end = time.time() + 10
    while not cond() and time.time() < end:
        time.sleep(0.01)
while not os.path.exists("hot.json"):
    time.sleep(0.01)
after(lambda: cores(0) != all)
time.sleep(0.1)
during = seen()
open("shared.seen", "w").close()
after(lambda: not os.path.exists("hot.alive") and cores(0) == all)
time.sleep(0.1)
print(json.dumps({"during": during, "after": seen()}), flush=True)
child.kill()
PY
cat >hot.py <<'PY'
import json, os, sys, time
if not os.path.exists("shared.ready"):
    sys.exit(1)
open("hot.alive", "w").close()
json.dump(sorted(os.sched_getaffinity(0)), open("hot.json.tmp", "w"))
os.rename("hot.json.tmp", "hot.json")
end = time.time() + 20
while not os.path.exists("shared.seen") and time.time() < end:
    time.sleep(0.01)
os.unlink("hot.alive")
PY
python3 -c 'import json, os; print(json.dumps(sorted(os.sched_getaffinity(0))))' >all.json
cat >job.yaml <<YAML
stages:
  shared: {command: [python3, $dir/shared.py], cpus: 0, restart: {max: 0}}
  hot: {command: [python3, $dir/hot.py], cpus: 1, restart: {max: 1, backoff_ms: 1000}}
YAML
"$aic" run job.yaml >run.out 2>&1
is "$?" 0 "the job ran" || diag "$(cat run.out)"
"$aic" logs shared/0 >shared.out 2>&1
# check EXPR: EXPR over all (every core), hot (the reserved ones), s (shared.py's line).
check() {
	python3 -c "
import json, os
all = json.load(open('all.json')); hot = json.load(open('hot.json'))
s = json.loads(open('shared.out').read().strip().splitlines()[-1])
rest = [c for c in all if c not in hot]
print($1)" 2>&1
}
is "$(check 'len(hot), len(rest) == len(all) - 1')" "1 True" "the reserving stage has one core of its own"
is "$(check '[s["during"][k] == rest for k in ("self", "child", "engine")], s["during"]["threads"] == [rest]')" \
	"[True, True, True] True" "while it runs, the shared stage, its threads, its child and the engine are off its core" ||
	diag "$(cat hot.json shared.out)"
is "$(check '[s["after"][k] == all for k in ("self", "child", "engine")], s["after"]["threads"] == [all]')" \
	"[True, True, True] True" "once it has exited, they have every core back" || diag "$(cat hot.json shared.out)"
rm -f hot.json shared.ready
n=$(AIC_LOG=debug "$aic" run job.yaml 2>&1 | grep -c 'shared cores now')
is "$([ "$n" -ge 2 ] && echo yes)" yes "the engine says when the shared cores change (debug)"

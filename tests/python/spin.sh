#!/bin/sh
# Spinning before sleeping (AIC_SPIN_US=50; lib/spin.h) follows activity
# and ends: a worker blocked in a get that nothing answers for 2 s, and the
# engine meanwhile, use next to no CPU time (a spin that did not end would
# use up to the whole 2 s of a free core), right after a burst of items
# through both. A bad AIC_SPIN_US is warned of, quoted, and the job runs.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir spin
plan 5

cat >put.py <<'PY'
# 2,000 items, then 2 s of nothing while the consumer waits, then one more.
# The engine is this process's parent: its CPU time over the quiet 2 s.
import os, time, aic
def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
w = aic.connect()
for i in range(2000):
    w.put("c", b"x" * 64)
w.put("c", b"sync", wait=True)
time.sleep(0.2)  # the burst's spins end
c0 = cpu(os.getppid())
time.sleep(2)
print("engine_cpu %.3f" % (cpu(os.getppid()) - c0), flush=True)
w.put("c", b"last", wait=True)
PY
cat >get.py <<'PY'
import time, aic
w = aic.connect()
n = 0
while True:
    items = w.get("c", max_items=64)
    w.ack(items)
    n += len(items)
    if any(bytes(i.data) == b"sync" for i in items):
        break
t, c = time.monotonic(), time.process_time()
items = w.get("c")  # nothing comes for 2 s
print("waited %.1f cpu %.3f got %s" % (time.monotonic() - t, time.process_time() - c, bytes(items[0].data).decode()), flush=True)
w.ack(items)
PY
cat >job.yaml <<YAML
stages:
  put: {command: [python3, $dir/put.py], cpus: 0, outputs: [c], restart: {max: 0}}
  get: {command: [python3, $dir/get.py], cpus: 0, inputs: [c], restart: {max: 0}}
channels:
  c: {capacity: 4096}
YAML
AIC_SPIN_US=50 "$aic" run job.yaml >run.out 2>&1
is "$?" 0 "the job runs (AIC_SPIN_US=50; the default is 0)"
got=$("$aic" logs get/0 | sed -n 's/^waited \([0-9.]*\) cpu \([0-9.]*\) got \(.*\)/\1 \2 \3/p')
set -- $got
ok "the consumer waited in get for the last item (${1:-?} s)" python3 -c "assert float('${1:-0}') >= 1.9 and '${3:-}' == 'last'"
ok "and used ${2:-?} s of CPU meanwhile (< 0.3: its spin ended)" python3 -c "assert float('${2:-9}') < 0.3"
cpu=$("$aic" logs put/0 | sed -n 's/^engine_cpu //p')
ok "the engine used ${cpu:-?} s of CPU in the 2 quiet seconds (< 0.3: its spin ended)" python3 -c "assert float('${cpu:-9}') < 0.3"

AIC_SPIN_US=abc "$aic" run job.yaml >bad.out 2>&1
is "$? $(grep -c 'AIC_SPIN_US="abc" is not a number of microseconds from 0 to 10000: the default, 0, is used' bad.out)" "0 1" \
	"AIC_SPIN_US=abc: warned of, quoted, and the job runs"

#!/bin/sh
# Spinning before sleeping (AIC_SPIN_US; lib/spin.h), with the default
# budget: it is scoped to control round trips and ends.
#   A worker blocked in a get that nothing answers for 2 s, and the engine
#   meanwhile, use next to no CPU time (a spin that did not end would use
#   up to the whole 2 s of a free core), right after a burst of items and
#   a loop of control requests through both.
#   Which waits try to spin is seen without timing, by the one thing every
#   spin that starts does whether or not a core is free for it: read
#   /proc/loadavg (lib/spin.c, aic_spin_worth) once its answer is not there
#   at once. Under strace, a job of data only (paced puts, gets that wait
#   for each, weights published and received) reads it never, neither the
#   engine nor the workers; a loop of control requests
#   (aic_phase_should_yield) reads it, and gets every answer; with
#   AIC_SPIN_US=0 the same loop reads it never.
# A bad AIC_SPIN_US is warned of, quoted, and the job runs.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
command -v strace >/dev/null || bail "no strace (scripts/deps installs it)"
need_python_modules numpy
enter_work_dir spin
plan 9

cat >put.py <<'PY'
# 2,000 items and 2,000 control round trips, then 2 s of nothing while the
# consumer waits, then one more item. The engine is this process's parent:
# its CPU time over the quiet 2 s.
import os, time, aic
def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
w = aic.connect()
for i in range(2000):
    w.put("c", b"x" * 64)
    w.phase_should_yield()
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
env -u AIC_SPIN_US "$aic" run job.yaml >run.out 2>&1
is "$?" 0 "the job runs (AIC_SPIN_US unset: the default budget)"
got=$("$aic" logs get/0 | sed -n 's/^waited \([0-9.]*\) cpu \([0-9.]*\) got \(.*\)/\1 \2 \3/p')
set -- $got
ok "the consumer waited in get for the last item (${1:-?} s)" python3 -c "assert float('${1:-0}') >= 1.9 and '${3:-}' == 'last'"
ok "and used ${2:-?} s of CPU meanwhile (< 0.3: it did not spin, or its spin ended)" python3 -c "assert float('${2:-9}') < 0.3"
cpu=$("$aic" logs put/0 | sed -n 's/^engine_cpu //p')
ok "the engine used ${cpu:-?} s of CPU in the 2 quiet seconds (< 0.3: its spin ended)" python3 -c "assert float('${cpu:-9}') < 0.3"

# Data only: 200 puts 5 ms apart, each waited for by a get, and 50
# versions of weights published, each waited for by a receive.
cat >data-put.py <<'PY'
import time, numpy, aic
w = aic.connect()
p = w.weights("p")
for i in range(200):
    time.sleep(0.005)
    w.put("c", b"x" * 64, wait=True)
    if i % 4 == 3:
        p.publish({"a": numpy.full(1024, i, numpy.float32)}, i // 4 + 1)
w.put("c", b"last", wait=True)
PY
cat >data-get.py <<'PY'
import aic
w = aic.connect()
p = w.weights("p")
n, v = 0, 0
while True:
    items = w.get("c")
    w.ack(items)
    n += len(items)
    if bytes(items[-1].data) == b"last":
        break
    if n % 4 == 0 and v < 50:
        v = p.receive(min_version=v + 1)[1]
print("got %d, version %d" % (n, v), flush=True)
PY
cat >data.yaml <<YAML
stages:
  put: {command: [/usr/bin/python3, $dir/data-put.py], cpus: 0, outputs: [c], weights_to: p, restart: {max: 0}}
  get: {command: [/usr/bin/python3, $dir/data-get.py], cpus: 0, inputs: [c], weights_from: p, restart: {max: 0}}
channels:
  c: {capacity: 16}
YAML
# The loop of control requests: 2,000 phase polls.
cat >poll.py <<'PY'
import aic
w = aic.connect()
print("answers %d" % sum(1 for i in range(2000) if w.phase_should_yield() is False), flush=True)
PY
cat >poll.yaml <<YAML
stages:
  poll: {command: [python3, $dir/poll.py], cpus: 0, restart: {max: 0}}
YAML
# spins SPEC [ENV]: the job's exit status, then how often its processes read /proc/loadavg.
# LeakSanitizer cannot work under ptrace (it aborts the engine at exit in
# the sanitizer stage): off for these runs only.
spin_asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:detect_leaks=0}
spins() {
	env -u AIC_SPIN_US ${spin_asan:+ASAN_OPTIONS=$spin_asan} ${2:-} strace -f -qq -e trace=openat -e signal=none -o trace.out "$aic" run "$1" >run.out 2>&1
	echo "$? $(grep -c '"/proc/loadavg"' trace.out)"
}
got=$(spins data.yaml)
is "$got $("$aic" logs get/0)" "0 0 got 201, version 50" "data only: every item and version came, and no wait of the engine's or a worker's tried to spin"
got=$(spins poll.yaml)
is "${got% *} $("$aic" logs poll/0)" "0 answers 2000" "a loop of control requests gets its 2,000 answers"
ok "and its waits tried to spin (read /proc/loadavg ${got#* } times)" test "${got#* }" -gt 0
got=$(spins poll.yaml AIC_SPIN_US=0)
is "$got $("$aic" logs poll/0)" "0 0 answers 2000" "AIC_SPIN_US=0: the same loop gets its answers, and nothing tries to spin"

AIC_SPIN_US=abc "$aic" run job.yaml >bad.out 2>&1
is "$? $(grep -c 'AIC_SPIN_US="abc" is not a number of microseconds from 0 to 10000: the default, 50, is used' bad.out)" "0 1" \
	"AIC_SPIN_US=abc: warned of, quoted, and the job runs"

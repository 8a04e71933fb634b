#!/bin/sh
# A worker waiting for its agent sleeps until the answer comes, and is not
# woken before: a consumer blocked in a get, each item coming 2 ms after
# the one before, is switched out about once an item (its voluntary
# context switches, /proc/self/status), not twice. A read that sleeps on
# the agent's Unix socket was woken each time the agent read a frame of
# the worker's (the kernel wakes every sleeper on a socket when the data it
# sent are taken, for room to write): once for the GET it had just sent,
# only to sleep again (lib/worker/conn.c, read_ahead, sleeps in poll).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir wakeups
plan 3

cat >put.py <<'PY'
import time, aic
w = aic.connect()
for i in range(300):
    time.sleep(0.002)
    w.put("c", b"x" * 64)
PY
cat >get.py <<'PY'
import aic
def switches():
    for line in open("/proc/self/status"):
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
w = aic.connect()
n, s = 0, None
while True:
    try:
        items = w.get("c", max_items=1)
    except aic.Closed:
        break
    if s is None:
        s = switches()  # from the first item on: each get waits 2 ms
    w.ack(items)
    n += len(items)
print("items %d switches %d" % (n, switches() - s), flush=True)
PY
cat >job.yaml <<'YAML'
name: wakeups
stages:
  put: {command: [/usr/bin/python3, put.py], outputs: [c], cpus: 0}
  get: {command: [/usr/bin/python3, get.py], inputs: [c], cpus: 0}
channels:
  c: {capacity: 8}
YAML
"$aic" run job.yaml >run.out 2>&1
is "$?" 0 "the job runs"
# shellcheck disable=SC2046 # four words
set -- $("$aic" logs get/0)
is "$1 $2" "items 300" "the consumer gets the 300 items, one get each"
ok "and is switched out at most 1.3 times an item ($4 times in 299 gets)" \
	awk -v s="${4:-999}" 'BEGIN { exit !(s <= 1.3 * 299) }'
done_testing

#!/bin/sh
# Data integrity under `aic run`: what a job is told it delivered, it did.
# A sink on a full filesystem fails the job, naming the file and the error,
# and leaves only whole lines in it. A get of many large items gets fewer,
# never a frame over the limit, and an item over the limit is refused at
# put time. A producer that exits right after its last pipelined puts
# loses none of them. Stale items in a full channel make room for the
# producer waiting on it. Under a file-size limit the engine does not
# die of SIGXFSZ: it says why it has no arena and the job runs. Gangs
# whose rank 0 share a node get distinct rendezvous ports. A channel's
# capacity_bytes stops a producer as its capacity in items does. A worker
# that SLURM's SIGTERM (a cancel, a time limit) reaches before the engine
# is cancelled with the job, not a failure.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir data-integrity
plan 18

# skip N REASON: N tests skipped.
skip() {
	for _ in $(seq "$1"); do
		tap_n=$((tap_n + 1))
		echo "ok $tap_n - # SKIP $2"
	done
}

# A sink on a 256 KiB tmpfs, 20,000 lines of 64 bytes for it (1.3 MB): the
# write fails with ENOSPC. The job must fail, say so, and the file must hold
# a prefix of the lines, each whole (nothing acked that is not written).
cat >sprod.py <<'PY'
import aic
w = aic.connect()
for i in range(20000):
    w.put("out", b'{"i": %6d, "pad": "%s"}' % (i, b"x" * 40))
PY
cat >sink.yaml <<YAML
stages:
  p: {command: [python3, $dir/sprod.py], cpus: 0, outputs: [out]}
channels:
  out: {sink: full/out.jsonl, capacity: 64}
YAML
mkdir full
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=256k aic-test-full full 2>/dev/null; then
	skip 4 "cannot mount a small tmpfs (needs root)"
else
	trap 'umount "$dir/full"; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
	"$aic" run sink.yaml >sink.out 2>sink.err
	rc=$?
	is "$rc" 1 "a sink on a full filesystem fails the job (and the engine does not crash)"
	like "$(cat sink.err)" "cannot write its sink 'full/out.jsonl': No space left on device" \
		"naming the sink and the error"
	unlike=$(grep -Evc '^\{"i": +[0-9]+, "pad": "x{40}"\}$' full/out.jsonl)
	n=$(wc -l <full/out.jsonl)
	is "$unlike $(awk '{ if ($2 + 0 != NR - 1) bad++ } END { print bad + 0 }' full/out.jsonl)" "0 0" \
		"every line in the sink is whole, in order ($n of 20000 lines)"
	is "$(python3 -c "import json; print(json.load(open('.aic/latest/status.json'))['state'])")" \
		failed "status.json says the job failed"
	diag "$(tail -n 3 sink.err)"
fi

# 40 items of 5 MB, all queued before the consumer asks for 16 at a time,
# inline (the consumer does not map the arena): 16 of them (80 MB) would
# make a frame over the 64 MiB limit. Then one item of 64 MiB - 20 bytes
# (it would fit in a PUT, not in an ITEMS frame): refused at put time; and
# one of exactly the limit, which goes through.
cat >bprod.py <<'PY'
import aic, os
w = aic.connect()
for i in range(40):
    w.put("big", bytes([i]) * 5000000, wait=(i == 39))
try:
    w.put("big", b"x" * ((64 << 20) - 20), wait=True)
    print("over the limit: accepted")
except aic.Error as e:
    print("over the limit: %s" % e)
w.put("big", b"m" * ((64 << 20) - 64), wait=True)
open(os.environ["GO"], "w").close()
PY
cat >bcons.py <<'PY'
import aic, os, time
os.environ.pop("AIC_ARENA", None)  # items come inline, in the frame
w = aic.connect()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.05)
sizes, bad, most = [], 0, 0
while True:
    try:
        items = w.get("big", max_items=16, timeout=60)
    except aic.Closed:
        break
    most = max(most, len(items))
    for it in items:
        sizes.append(len(it.data))
        bad += it.data != it.data[:1] * len(it.data)
    w.ack(items)
print("%d items, %d of 5000000 bytes, %d at the limit, %d corrupt, at most %d a get"
      % (len(sizes), sizes.count(5000000), sizes.count((64 << 20) - 64), bad, most))
PY
cat >big.yaml <<YAML
stages:
  p: {command: [python3, $dir/bprod.py], cpus: 0, outputs: [big], env: {GO: $dir/go}}
  c: {command: [python3, $dir/bcons.py], cpus: 0, inputs: [big], env: {GO: $dir/go},
      restart: {max: 0}}
channels:
  big: {capacity: 64}
YAML
timeout 300 "$aic" run big.yaml >big.out 2>big.err
is "$?" 0 "a get of 16 items of 5 MB: the job succeeds"
is "$("$aic" logs c/0)" "41 items, 40 of 5000000 bytes, 1 at the limit, 0 corrupt, at most 13 a get" \
	"every item arrives intact, 13 at most in a frame"
is "$("$aic" logs p/0)" "over the limit: aic put on 'big': Message too long" \
	"an item over the limit (64 MiB - 64 bytes) is refused at put time"
diag "$(tail -n 3 big.err)"

# A producer pipelines 70 puts into a channel of 16 and exits at once
# (libc's exit: no close to wait for their answers, no Python finalizer),
# before anyone reads: 54
# of its puts wait at the agent for room (fewer than the 64 a producer may
# have unanswered, so it never blocks), the last may still be in the
# socket when the agent sees the process end. Every one must arrive. Run
# several times: the race between the exit and the socket's last frames
# goes either way.
cat >lprod.py <<'PY'
import aic, ctypes, os
w = aic.connect()
for i in range(70):
    w.put("q", b"%d" % i)
open(os.environ["GO"], "w").close()
ctypes.CDLL(None).exit(0)
PY
cat >lcons.py <<'PY'
import aic, os, time
w = aic.connect()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.02)
got = []
while True:
    try:
        items = w.get("q", max_items=32, timeout=60)
    except aic.Closed:
        break
    got += [int(it.data) for it in items]
    w.ack(items)
print("%d items, %d distinct, missing %s" % (len(got), len(set(got)),
      sorted(set(range(70)) - set(got))[:5]))
PY
cat >last.yaml <<YAML
stages:
  p: {command: [python3, $dir/lprod.py], cpus: 0, outputs: [q], env: {GO: $dir/go}}
  c: {command: [python3, $dir/lcons.py], cpus: 0, inputs: [q], env: {GO: $dir/go}}
channels:
  q: {capacity: 16}
YAML
runs= lost=
for k in 1 2 3 4 5 6 7 8; do
	rm -f go
	timeout 120 "$aic" run last.yaml >last.out 2>last.err || runs="$runs $k:rc$?"
	got=$("$aic" logs c/0)
	[ "$got" = "70 items, 70 distinct, missing []" ] || lost="$lost $k:[$got]"
done
is "$runs" "" "8 runs of a producer that exits right after 70 pipelined puts: each succeeds"
is "$lost" "" "and each delivers all 70 items"

# Producer and consumer on one node, no timeouts. The producer fills the
# channel (capacity 4) with items made with version 0 and has 6 more
# waiting for room, then a last one made with version 9; only then does the
# trainer publish version 9 (max_staleness 2) and get. Every queued item is
# stale: dropping them must let the waiting ones in (and drop those too),
# and the last one must arrive.
cat >strain.py <<'PY'
import aic, os, time
import numpy as np
w = aic.connect()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.02)
w.weights("policy").publish({"v": np.array([9])}, 9)
got = []
while True:
    try:
        items = w.get("samples", max_items=16)
    except aic.Closed:
        break
    got += [it.version for it in items]
    w.ack(items)
print(" ".join(str(v) for v in got))
PY
cat >sgen.py <<'PY'
import aic, os
w = aic.connect()
for i in range(10):
    w.put("samples", b"x%d" % i, version=0)
open(os.environ["GO"], "w").close()
w.put("samples", b"fresh", version=9, wait=True)
PY
cat >stale.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/strain.py], cpus: 0, inputs: [samples], weights_to: policy,
          env: {GO: $dir/go}}
  gen: {command: [/usr/bin/python3, $dir/sgen.py], cpus: 0, outputs: [samples], weights_from: policy,
        env: {GO: $dir/go}}
channels:
  samples: {capacity: 4}
weights:
  policy: {max_staleness: 2}
YAML
rm -f go
if ! /usr/bin/python3 -c "import numpy" 2>/dev/null; then
	skip 2 "Debian's python3 has no numpy (scripts/deps installs it)"
else
	# timeout: a deadlock would otherwise hang the test (no timing is measured).
	timeout 120 "$aic" run stale.yaml >stale.out 2>stale.err
	is "$?" 0 "a channel full of stale items and a producer waiting for room: the job ends"
	is "$("$aic" logs train/0) $(python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['channels']['samples']['stale_dropped'])")" \
		"9 10" "the fresh item arrives, the 10 stale ones are dropped"
fi

# A 10 MB file-size limit (ulimit -f counts 512-byte blocks in sh): the
# node's arena (hundreds of MiB, in a memfd) cannot be that large.
cat >xprod.py <<'PY'
import aic
w = aic.connect()
for i in range(100):
    w.put("q", b"%d" % i)
PY
cat >xcons.py <<'PY'
import aic
w = aic.connect()
n = 0
while True:
    try:
        items = w.get("q", max_items=16, timeout=60)
    except aic.Closed:
        break
    n += len(items)
    w.ack(items)
print(n)
PY
cat >xfsz.yaml <<YAML
stages:
  p: {command: [python3, $dir/xprod.py], cpus: 0, outputs: [q]}
  c: {command: [python3, $dir/xcons.py], cpus: 0, inputs: [q]}
YAML
/bin/sh -c 'ulimit -f 20000 && exec "$0" run xfsz.yaml' "$aic" >xfsz.out 2>xfsz.err
is "$? $("$aic" logs c/0)" "0 100" "under ulimit -f the job runs, every item arrives (no SIGXFSZ)"
like "$(cat xfsz.err)" "no shared-memory arena on this node \([0-9]+ bytes: File too large, over this process's file-size limit \(ulimit -f\)\)" \
	"saying why there is no arena"

# Six gangs of two ranks on one node: six rendezvous ports, all different
# (each found free by the kernel; none a fixed fallback).
{
	echo "stages:"
	for g in 1 2 3 4 5 6; do
		echo "  g$g: {command: [sh, -c, 'echo \$MASTER_PORT'], ranks: 2, cpus: 0}"
	done
} >gangs.yaml
"$aic" run gangs.yaml >gangs.out 2>gangs.err
ports=$(for g in 1 2 3 4 5 6; do "$aic" logs g$g/0; done | sort -u | grep -c '^[0-9][0-9]*$')
is "$ports" 6 "six gangs on one node: six distinct rendezvous ports"

# capacity_bytes 1M: three items of 300 kB fit, the fourth waits for a
# consumer's ack (its put times out while none reads), then goes through.
cat >cbprod.py <<'PY'
import aic, os
w = aic.connect()
for i in range(3):
    w.put("q", bytes([i]) * 300000, timeout=30)
try:
    w.put("q", b"\x03" * 300000, timeout=0.3)
    print("not blocked")
except TimeoutError:
    print("blocked")
open(os.environ["GO"], "w").close()
w.put("q", b"\x03" * 300000, timeout=60)
print("unblocked")
PY
cat >cbcons.py <<'PY'
import aic, os, time
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.02)
w = aic.connect()
got = []
while True:
    try:
        items = w.get("q", max_items=1, timeout=60)
    except aic.Closed:
        break
    got += ["%d:%d" % (it.data[0], len(it.data)) for it in items]
    w.ack(items)
print(" ".join(got))
PY
cat >cb.yaml <<YAML
stages:
  p: {command: [python3, $dir/cbprod.py], cpus: 0, outputs: [q], env: {GO: $dir/go}}
  c: {command: [python3, $dir/cbcons.py], cpus: 0, inputs: [q], env: {GO: $dir/go}}
channels:
  q: {capacity: 1000, capacity_bytes: 1M}
YAML
rm -f go
"$aic" run cb.yaml >cb.out 2>cb.err
is "$? $("$aic" logs p/0 | tr '\n' ' ')" "0 blocked unblocked " \
	"capacity_bytes 1M: the 4th item of 300 kB waits for room"
is "$("$aic" logs c/0)" "0:300000 1:300000 2:300000 3:300000" "and every item arrives, in order"

# As SLURM does on a time limit, SIGTERM to the worker and then to the
# engine; the worker's death is seen first (the test waits for it to be
# gone before signalling the engine). With no restarts allowed, counting
# it as a failure would fail the job instead of cancelling it.
cat >term.yaml <<YAML
stages:
  s: {command: [python3, -c, 'import time; print("up", flush=True); time.sleep(600)'], cpus: 0,
      restart: {max: 0}}
YAML
"$aic" run term.yaml >term.out 2>term.err &
engine=$!
up() { [ "$("$aic" logs s/0)" = up ]; }
wait_for 30 up
wpid=$(aic_pid s 0)
kill -TERM "$wpid"
while kill -0 "$wpid" 2>/dev/null; do sleep 0.05; done
kill -TERM "$engine"
wait "$engine"
state=$(python3 -c "import json; s = json.load(open('.aic/latest/status.json')); print(s['state'], s['procs'][0]['restarts'])")
is "$state" "cancelled 0" "a worker stopped by SIGTERM just before the engine: the job is cancelled"
like "$(cat term.err)" "job cancelled: cancelled \(SIGTERM\)" "and says so"
done_testing

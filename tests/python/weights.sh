#!/bin/sh
# Weight streams under `aic run`: a gang's rank 0 publishes 5 versions of
# named numpy arrays; 3 rollout replicas get every version they ask for
# byte-identical and in order; a receive with nothing new times out.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
enter_work_dir weights
plan 8

cat >job.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $workers_dir/weight_versions.py, publish], ranks: 2, cpus: 0,
          weights_to: policy, env: {MISUSE: "1"}}
  roll: {command: [/usr/bin/python3, $workers_dir/weight_versions.py, receive], replicas: 3, cpus: 0,
         weights_from: policy}
YAML
"$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "rank 0 publishes, 3 replicas receive: the job succeeds"
diag "$("$aic" logs roll)"
is "$("$aic" logs roll | grep -c '!')" 0 "every version is byte-identical and newer than the last"
is "$("$aic" logs roll | awk '{print $(NF-1), $NF}' | sort -u)" "5 timeout" \
	"each replica reaches version 5, then times out waiting for 6"

# Staleness: the trainer is at version 9 with max_staleness 2, so items made
# with versions 0..6 never reach it; they are counted in the summary.
cat >strain.py <<'PY'
import aic, os
import numpy as np
w = aic.connect()
w.weights("policy").publish({"v": np.array([9])}, 9)
open(os.environ["GO"], "w").close()
got = []
while True:
    try:
        items = w.get("samples", max_items=16, timeout=30)
    except aic.Closed:
        break
    got += [it.version for it in items]
    w.ack(items)
print(" ".join(str(v) for v in sorted(got)))
PY
cat >sgen.py <<'PY'
import aic, os, time
w = aic.connect()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.01)
w.weights("policy").receive(min_version=9, timeout=30)
for v in range(10):
    w.put("samples", b"x%d" % v, version=v)
PY
cat >stale.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/strain.py], cpus: 0, inputs: [samples], weights_to: policy,
          env: {GO: $dir/go}}
  gen: {command: [/usr/bin/python3, $dir/sgen.py], cpus: 0, outputs: [samples], weights_from: policy,
        env: {GO: $dir/go}}
weights:
  policy: {max_staleness: 2}
YAML
"$aic" run stale.yaml >stale.out 2>stale.err
is "$?" 0 "the staleness job succeeds"
is "$("$aic" logs train/0)" "7 8 9" "only items within max_staleness of the newest version arrive"
is "$(python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['channels']['samples']['stale_dropped'])")" \
	7 "the 7 stale items are counted in summary.json"

# A version larger than a frame (64 MiB) goes through the node's arena, and
# a reader's version stays intact while newer ones are published: the
# reader holds its slot until it is given a newer version.
cat >bigpub.py <<'PY'
import aic, glob, os, time
import numpy as np
w = aic.connect()
n = 25_000_000  # 100 MB of float32
w.weights("policy").publish({"w": np.full(n, 1, np.float32)}, 1)
while len(glob.glob(os.environ["GO"] + ".held.*")) < 2:
    time.sleep(0.02)
for v in range(2, 7):
    w.weights("policy").publish({"w": np.full(n, v, np.float32)}, v)
open(os.environ["GO"] + ".done", "w").close()
PY
cat >bigread.py <<'PY'
import aic, os, sys, time
import numpy as np
sys.path.insert(0, os.environ["WORKERS"])
from in_arena import in_arena
w = aic.connect()
# copy=False: read-only views of the node's shared copy, no copy at all.
arrs, v = w.weights("policy").receive(min_version=1, timeout=60, copy=False)
open(os.environ["GO"] + ".held.%d" % w.index, "w").close()
while not os.path.exists(os.environ["GO"] + ".done"):
    time.sleep(0.02)
# Version 1, read after versions 2..6 were published: still intact, never copied.
print("v%d %s %d %s %s" % (v, "intact" if (arrs["w"] == 1).all() else "overwritten",
                           arrs["w"].nbytes > 64 << 20, "ro" if not arrs["w"].flags.writeable else "rw",
                           "in-arena" if in_arena(arrs["w"]) else "copied"))
arrs, v6 = w.weights("policy").receive(min_version=6, timeout=60)
print("v%d %s" % (v6, "intact" if (arrs["w"] == 6).all() else "corrupt"))
PY
cat >big.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/bigpub.py], cpus: 0, weights_to: policy, env: {GO: $dir/big}}
  roll: {command: [/usr/bin/python3, $dir/bigread.py], replicas: 2, cpus: 0, weights_from: policy,
         env: {GO: $dir/big, WORKERS: $workers_dir}}
YAML
"$aic" run big.yaml >big.out 2>big.err
is "$?" 0 "100 MB versions, 2 readers: the job succeeds"
is "$("$aic" logs roll | sed 's/^[^ ]* //' | sort | uniq -c | awk '{$1=$1; print}' | tr '\n' ';')" "2 v1 intact 1 ro in-arena;2 v6 intact;" \
	"each reader's version 1, read-only and in place (inside its mapping of the arena), stays intact while 5 newer ones are published; version 6 arrives intact"
done_testing

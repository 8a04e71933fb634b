#!/bin/sh
# Weights over NCCL under `aic run`, with the fake NCCL of tests/fake (host
# memory for device memory, TCP for the broadcast; the real library on a
# GPU node): a writer's 5 versions reach 3 readers byte-identical and in
# order, only a descriptor passing through the engine; without an NCCL the
# calls fail saying why; a process outside the group is refused.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
fake=$AIC_FAKE_NCCL
[ -e "$fake" ] || bail "no $fake (make check builds it)"
enter_work_dir nccl
plan 5

cat >train.py <<'PY'
import aic
import numpy as np
w = aic.connect()
if w.rank == 0:
    buf = np.empty(1_000_000, np.float32)   # the "GPU" tensor
    for v in range(1, 6):
        buf[:] = np.random.default_rng(v).standard_normal(buf.size)
        w.weights("policy").publish_device(buf.ctypes.data, buf.nbytes, v)
    print("published 5")
PY
cat >roll.py <<'PY'
import aic
import numpy as np
w = aic.connect()
buf = np.zeros(1_000_000, np.float32)
v, seen = 0, []
while v < 5:
    n, v2 = w.weights("policy").receive_device(buf.ctypes.data, buf.nbytes, min_version=v + 1, timeout=30)
    same = n == buf.nbytes and np.array_equal(buf, np.random.default_rng(v2).standard_normal(buf.size).astype(np.float32))
    seen.append("%d%s" % (v2, "" if same and v2 == v + 1 else "!"))
    v = v2
print(" ".join(seen))
PY
cat >job.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/train.py], ranks: 2, cpus: 0, weights_to: policy,
          env: {AIC_NCCL_LIBRARY: $fake}}
  roll: {command: [/usr/bin/python3, $dir/roll.py], replicas: 3, cpus: 0, weights_from: policy,
         env: {AIC_NCCL_LIBRARY: $fake}}
YAML
"$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "rank 0 broadcasts 5 versions over NCCL to 3 replicas: the job succeeds"
diag "$("$aic" logs roll)"
is "$("$aic" logs roll | sed 's/^[^ ]* //' | sort | uniq -c | awk '{$1=$1; print}')" "3 1 2 3 4 5" \
	"every replica (all 3) gets versions 1..5 in order, byte-identical"
# The writer refills its buffer as soon as a publish returns: the readers'
# byte-identical copies (above) say the broadcast was over by then.
is "$("$aic" logs train/0)" "published 5" "the writer's 5 publishes return, each before its buffer is refilled"

# No NCCL at all (this machine has no libnccl.so.2): a clear error, not a crash.
cat >nolib.py <<'PY'
import aic
w = aic.connect()
try:
    w.weights("policy").publish_device(0, 16, 1)
except aic.Error as e:
    print(e)
PY
cat >nolib.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/nolib.py], cpus: 0, weights_to: policy,
          env: {AIC_NCCL_LIBRARY: $dir/no-such-libnccl.so.2}}
  roll: {command: "true", cpus: 0, weights_from: policy}
YAML
"$aic" run nolib.yaml >nolib.out 2>nolib.err
like "$("$aic" logs train/0)" "NCCL is not available: .*no-such-libnccl.so.2" \
	"without NCCL, publish_device fails saying which library could not be loaded"

# Only the writer's rank 0 publishes: rank 1 of the gang is refused.
cat >rank1.py <<'PY'
import aic, errno
w = aic.connect()
if w.rank == 1:
    try:
        w.weights("policy").publish_device(0, 16, 1)
    except aic.Error as e:
        print("refused" if e.code == -errno.EPERM else e)
PY
cat >rank1.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/rank1.py], ranks: 2, cpus: 0, weights_to: policy}
  roll: {command: "true", cpus: 0, weights_from: policy}
YAML
"$aic" run rank1.yaml >rank1.out 2>rank1.err
is "$("$aic" logs train/1)" "refused" "a gang's rank 1 may not publish (-EPERM)"
done_testing

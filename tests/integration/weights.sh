#!/bin/sh
# Weight streams across the cluster: a gang's rank 0 publishes 5 versions of
# named numpy arrays; every rollout replica on the other nodes receives them
# byte-identical, versions strictly increasing, up to the last, and then
# times out asking for a newer one.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 10
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

cat >job.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $workers_dir/weight_versions.py, publish], ranks: 2, gpus: 2,
          cpus: 0, weights_to: policy}
  roll: {command: [/usr/bin/python3, $workers_dir/weight_versions.py, receive], replicas: 4, gpus: 2,
         cpus: 0, weights_from: policy, env: {OUT: $dir/res}}
weights:
  policy: {max_staleness: 1}
YAML
srun_step 300 job job.yaml --gres=gpu:4
is "$?" 0 "a gang publishing 5 versions to 4 rollout replicas: the job succeeds"
diag "$(cat res.* 2>/dev/null)"
# The nodes other than rank 0's (from plan.json), where the replicas must
# have run (the host each one reported).
others() {
	python3 -c "
import json
procs = json.load(open('.aic/latest/plan.json'))['procs']
r0 = [p['node'] for p in procs if p['stage'] == 'train' and p['index'] == 0][0]
print(' '.join(sorted(set(p['node'] for p in procs) - {r0})))"
}
is "$(cut -d' ' -f1 res.* | sort -u | tr '\n' ' ')" "$(others) " \
	"the replicas ran on the two nodes other than rank 0's"
bad=$(grep -c '!' res.* | awk -F: '{s += $2} END {print s + 0}')
is "$bad" 0 "every version received is byte-identical and newer than the last"
is "$(awk '{print $(NF-1), $NF}' res.* | sort | uniq -c | awk '{$1=$1; print}')" "4 5 timeout" \
	"every replica (all 4) reaches version 5, then times out waiting for 6"

# From a C writer (tests/c-api/worker): versions of 10 MiB published from a
# buffer (sent down the chain piece by piece while copied) and written in
# place (announced every 3 MiB) reach readers on both other nodes intact.
cat >c.yaml <<YAML
stages:
  pub: {command: [$AIC_BUILD_DIR/tests/c-api/worker, wpub, "6", "$((10 * 1048576 + 7))"], ranks: 2,
        gpus: 2, cpus: 0, weights_to: w}
  sub: {command: [$AIC_BUILD_DIR/tests/c-api/worker, wrecv, "6"], replicas: 4, gpus: 2, cpus: 0,
        weights_from: w}
YAML
srun_step 300 c c.yaml --gres=gpu:4
is "$?" 0 "a C writer's 10 MiB versions to 4 readers across nodes: the job succeeds"
cat .aic/latest/logs/sub.*.log >crecv
is "$(grep -vc ' ok$' crecv) $(grep -c '^6 ok$' crecv)" "0 4" \
	"every version received is byte-identical; every reader reaches version 6"
is "$(python3 -c "import json; print(' '.join(sorted(set(p['node'] for p in json.load(open('.aic/latest/plan.json'))['procs'] if p['stage'] == 'sub'))))")" \
	"n2 n3" "the readers are on both other nodes (a chain of two)"

# The NCCL path across nodes, with the fake NCCL of tests/fake (TCP between
# the nodes' addresses): 3 versions from rank 0 to 4 replicas on other nodes.
fake="$AIC_BUILD_DIR/tests/fake/.libs/libfake_nccl.so"
cat >ntrain.py <<'PY'
import aic
import numpy as np
w = aic.connect()
if w.rank == 0:
    buf = np.empty(2_000_000, np.float32)
    for v in range(1, 4):
        buf[:] = v
        w.weights("policy").publish_device(buf.ctypes.data, buf.nbytes, v)
PY
cat >nroll.py <<'PY'
import aic, os, socket
import numpy as np
w = aic.connect()
buf = np.zeros(2_000_000, np.float32)
seen = []
for want in range(1, 4):
    n, v = w.weights("policy").receive_device(buf.ctypes.data, buf.nbytes, min_version=want, timeout=60)
    seen.append("%d%s" % (v, "" if v == want and (buf == v).all() else "!"))
open(os.environ["OUT"] + ".%d" % w.index, "w").write("%s %s\n" % (socket.gethostname(), " ".join(seen)))
PY
cat >nccl.yaml <<YAML
stages:
  train: {command: [/usr/bin/python3, $dir/ntrain.py], ranks: 2, gpus: 2, cpus: 0, weights_to: policy,
          env: {AIC_NCCL_LIBRARY: $fake}}
  roll: {command: [/usr/bin/python3, $dir/nroll.py], replicas: 4, gpus: 2, cpus: 0,
         weights_from: policy, env: {OUT: $dir/nres, AIC_NCCL_LIBRARY: $fake}}
YAML
srun_step 300 nccl nccl.yaml --gres=gpu:4
is "$?" 0 "weights over (fake) NCCL to 4 replicas across nodes: the job succeeds"
diag "$(cat nres.* 2>/dev/null)"
is "$(cut -d' ' -f2- nres.* | sort | uniq -c | awk '{$1=$1; print}')" "4 1 2 3" \
	"every replica (all 4) gets versions 1..3, intact"
is "$(cut -d' ' -f1 nres.* | sort -u | tr '\n' ' ')" "$(others) " \
	"and they ran on the two nodes other than rank 0's"
done_testing

#!/bin/sh
# Sandboxes across the cluster (python/aic/sandbox.py): 6 replicas, 2 per
# node, each holding 34 bubblewrap sandboxes, 204 in all, open at once (a
# barrier in the shared work directory: every replica has made its
# sandboxes before any runs a task in them); a task in each answers. In
# one per replica, the agent that answers outside cannot be reached
# (network: none).
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 5
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
dir=$(work_dir)
launch="$AIC_BUILD_DIR/launcher/aic-launch"
cd "$dir" || bail "cannot enter $dir"
command -v bwrap >/dev/null || cannot_run "no bwrap (Debian's bubblewrap)"

cat >env.py <<'PY'
import aic, os, socket, sys, time
n, want = 34, 6
me = "%s.%s" % (os.environ["AIC_STAGE"], os.environ["AIC_INDEX"])
host, port = os.environ["AIC_AGENT"].rsplit(":", 1)
out = os.path.join(os.environ["OUT"], me)
boxes = [aic.Sandbox() for _ in range(n)]
open(out + ".up", "w").close()
while len([f for f in os.listdir(os.environ["OUT"]) if f.endswith(".up")]) < want:
    time.sleep(0.1)  # the barrier: every replica's sandboxes are up
ok = sum(b.run(["echo", "ok"])["stdout"] == "ok\n" for b in boxes)
alive = sum(b._p.poll() is None for b in boxes)
inside = boxes[0].run(["python3", "-c", "import socket, sys; s = socket.socket(); "
                       "s.settimeout(5); print(s.connect_ex((sys.argv[1], int(sys.argv[2]))))",
                       host, port])["stdout"].strip()
outside = socket.socket().connect_ex((host, int(port)))
with open(out + ".res", "w") as f:
    f.write("%s %d %d %s %d\n" % (os.environ["AIC_NODE"], ok, alive, inside, outside))
for b in boxes:
    b.close()
PY
mkdir -p res
cat >job.yaml <<YAML
stages:
  env: {command: [/usr/bin/python3, $dir/env.py], replicas: 6, gpus: 2, cpus: 0,
        sandbox: {network: none, tmpfs_mb: 4, timeout_s: 30}, env: {OUT: $dir/res}}
YAML
timeout 600 srun -N3 --ntasks-per-node=1 --cpus-per-task=2 --gres=gpu:4 --mpi=pmix \
	--aic-job=job.yaml "$launch" >job.out 2>job.err
is "$?" 0 "6 replicas holding 34 sandboxes each: the job succeeds"
diag "$(cat res/*.res 2>/dev/null)"
is "$(cut -d' ' -f1 res/*.res | sort -u | wc -l)" 3 "the replicas ran on the 3 nodes"
is "$(awk '{s += $2} END {print s + 0}' res/*.res)" 204 "a task answered in each of the 204 sandboxes"
is "$(awk '{s += $3} END {print s + 0}' res/*.res)" 204 "all 204 were open at once, after the barrier"
is "$(awk '$4 != 0 && $5 == 0 {n++} END {print n + 0}' res/*.res)" 6 \
	"in each replica the agent answers outside and cannot be reached inside"

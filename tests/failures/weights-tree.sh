#!/bin/sh
# Weight versions down a tree (AIC_WEIGHTS_TREE=always) on 4 nodes: the
# writer's node is the origin and the readers' three nodes form the heap
# origin -> r0 -> {r1, r2}, so r0 forwards every chunk to two children.
# A C writer's 10 MiB versions (from a buffer and written in place) reach
# every reader on every node byte-identical. The 4-node failure cluster
# is the one with enough nodes for a node with two children.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 4 4
plan 4
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

cat >c.yaml <<YAML
stages:
  pub: {command: [$AIC_BUILD_DIR/tests/c-api/worker, wpub, "6", "$((10 * 1048576 + 7))"], ranks: 2,
        gpus: 2, cpus: 0, weights_to: w}
  sub: {command: [$AIC_BUILD_DIR/tests/c-api/worker, wrecv, "6"], replicas: 6, gpus: 2, cpus: 0,
        weights_from: w}
YAML
AIC_WEIGHTS_TREE=always AIC_LOG=debug timeout 300 srun -N4 --ntasks-per-node=1 --cpus-per-task=2 \
	--gres=gpu:4 --mpi=pmix --aic-job=c.yaml "$launch" >c.out 2>c.err
is "$?" 0 "a C writer's 10 MiB versions down a tree to 6 readers on 3 nodes: the job succeeds"
cat .aic/latest/logs/sub.*.log >crecv
is "$(grep -vc ' ok$' crecv) $(grep -c '^6 ok$' crecv)" "0 6" \
	"every version received is byte-identical; every reader reaches version 6"
is "$(python3 -c "import json; p = json.load(open('.aic/latest/plan.json'))['procs']
print(len(set(x['node'] for x in p if x['stage'] == 'sub') - set(x['node'] for x in p if x['stage'] == 'pub')))")" \
	3 "the readers are on the three nodes other than the writer's"
ok "the origin sent the versions down a tree" grep -q "down a tree" c.err

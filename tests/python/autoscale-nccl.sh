#!/bin/sh
# A weight stream's NCCL group (AIC_WEIGHTS_NCCL) leaves out the readers of
# an autoscaled stage: its replicas come and go, and a collective waits for
# every member, so a group counting its idle slots would hang the writer's
# publish. The writer and a fixed reader stage form the group; the
# autoscaled readers get no AIC_WEIGHTS_NCCL (they read the stream through
# the agents). AIC_REPLICAS of an autoscaled replica is its stage's max,
# the bound of AIC_REPLICA (doc/aic.1).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
topo="$AIC_SRC_DIR/tests/fixtures/topo/pcie-4gpu-nvlink-pairs.xml"
enter_work_dir autoscale-nccl
plan 4

echo '{"i": 0}' >lines.jsonl
cat >job.yaml <<'YAML'
name: autoscale-nccl
stages:
  train: {command: [sh, -c, 'echo "${AIC_WEIGHTS_NCCL:-none}" >train.env'], gpus: 1, cpus: 0,
          weights_to: policy}
  fixed: {command: [sh, -c, 'echo "${AIC_WEIGHTS_NCCL:-none}" >fixed.env'], gpus: 1, cpus: 0,
          weights_from: policy}
  roll: {command: [sh, -c, 'echo "${AIC_WEIGHTS_NCCL:-none} $AIC_REPLICA/$AIC_REPLICAS" >roll.env'],
         replicas: {min: 1, max: 3}, gpus: 0, cpus: 0, inputs: [lines], weights_from: policy}
channels:
  lines: {source: lines.jsonl}
YAML
"$aic" run job.yaml --topo "$topo" >run.out 2>&1
is "$?" 0 "the job succeeds"
is "$(cat train.env)" "policy:0:2" "the writer's group: itself and the fixed reader, not the autoscaled slots"
is "$(cat fixed.env)" "policy:1:2" "the fixed reader is rank 1 of 2"
is "$(cat roll.env)" "none 0/3" "an autoscaled reader has no NCCL group; AIC_REPLICAS is its max"
done_testing

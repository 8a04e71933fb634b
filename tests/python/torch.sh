#!/bin/sh
# aic.torch under `aic run` (workers: tests/lib/workers/torch_state.py):
# state dicts of every dtype (bfloat16 included) round-trip byte-exact
# through a weight stream, with receive(), receive_into() and over the
# stand-in NCCL, and numpy readers read the same blob; receive_into()
# loads a 64 MiB state in place without a second copy (the parameters keep
# their storage, and peak RSS grows by one copy: the pages of the node's
# shared copy it reads); a DataLoader over a ChannelDataset, two consumer
# replicas, sees every item of a channel exactly once.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy torch
enter_work_dir torch
plan 12
ts="/usr/bin/python3 $workers_dir/torch_state.py"

cat >job.yaml <<YAML
stages:
  train: {command: "$ts publish", ranks: 2, cpus: 0, weights_to: policy}
  roll: {command: "$ts receive", replicas: 2, cpus: 0, weights_from: policy}
  np: {command: "$ts numpy", cpus: 0, weights_from: policy}
YAML
"$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "rank 0 publishes 3 state dicts of 12 dtypes; 2 torch readers and a numpy reader: the job succeeds"
diag "$("$aic" logs roll)"
# Each reader prints a "V:ok" per call (receive(), then receive_into()).
is "$("$aic" logs roll | sed 's/^[^ ]* //' | tr ' ' '\n' | grep -vc ':ok$')" 0 \
	"every version the readers got was byte-exact, with dtype, shape and meta, from receive() and receive_into()"
is "$("$aic" logs roll | awk '{ print $NF }' | sort | uniq -c | awk '{$1=$1; print}')" "2 3:ok" \
	"and both got the last one"
is "$("$aic" logs np | sed 's/^[^ ]* //')" "v3 bytes-ok bf16=<u2 f32=<f4" \
	"a numpy reader reads the same blob: every tensor's bytes, bfloat16 as uint16"

if [ -e "$AIC_FAKE_NCCL" ]; then
	cat >nccl.yaml <<YAML
stages:
  train: {command: "$ts publish", ranks: 2, cpus: 0, weights_to: policy,
          env: {NCCL: "1", AIC_NCCL_LIBRARY: $AIC_FAKE_NCCL}}
  roll: {command: "$ts receive", replicas: 2, cpus: 0, weights_from: policy,
         env: {NCCL: "1", AIC_NCCL_LIBRARY: $AIC_FAKE_NCCL}}
YAML
	"$aic" run nccl.yaml >nccl.out 2>nccl.err
	is "$?" 0 "the same over NCCL (the stand-in: host memory): the job succeeds"
	# NCCL is collective: every reader receives every version.
	is "$("$aic" logs roll | sed 's/^[^ ]* //' | sort | uniq -c | awk '{$1=$1; print}')" "2 1:ok 2:ok 3:ok" \
		"both readers' receive_into() gets every version byte-exact over NCCL"
else
	bail "no $AIC_FAKE_NCCL (make check builds it)"
fi

cat >big.yaml <<YAML
stages:
  train: {command: "$ts big-publish", cpus: 0, weights_to: policy, env: {BIG_MIB: "64"}}
  roll: {command: "$ts big-into", cpus: 0, weights_from: policy, env: {BIG_MIB: "64"}}
YAML
"$aic" run big.yaml >big.out 2>big.err
is "$?" 0 "a 64 MiB state dict received into a module: the job succeeds"
out=$("$aic" logs roll/0)
diag "$out"
like "$out" "^pointers same values ok " "the parameters keep their storage and hold the new values"
growth=${out##* }
ok "peak RSS grows by about one copy ($growth x the state: the shared pages read), not two" \
	awk -v g="$growth" 'BEGIN { exit !(g > 0.5 && g < 1.15) }'

cat >loader.yaml <<YAML
stages:
  gen: {command: "$ts produce 500", cpus: 0, outputs: [items]}
  eat: {command: "$ts loader", replicas: 2, cpus: 0, inputs: [items]}
YAML
"$aic" run loader.yaml >loader.out 2>loader.err
is "$?" 0 "500 items to 2 consumers through DataLoaders: the job succeeds"
seen=$("$aic" logs eat | sed -n 's/^[^ ]* \([0-9][0-9 ]*\)$/\1/p' | tr ' ' '\n' | sort -n | tr '\n' ' ')
is "$seen" "$(seq 0 499 | tr '\n' ' ')" "the two DataLoaders see every item exactly once between them"
is "$("$aic" logs eat | grep -c ' refused$')" 2 "num_workers=2 is refused with a clear error"
done_testing

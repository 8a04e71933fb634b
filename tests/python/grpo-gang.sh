#!/bin/sh
# examples/grpo-toy's training gang under `aic run`, on made-up groups
# (tests/lib/workers/grpo_exchange.py): a step costs the gang one exchange,
# the gradient going with the prompt keys; a prompt item held by both
# ranks in one step (after a redelivery) is trained on once, by rank 0,
# and costs a second exchange; one trained on before, or held twice by one
# rank, is dropped without one.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
enter_work_dir grpo-gang
plan 5

cat >job.yaml <<YAML
stages:
  gx: {command: [/usr/bin/python3, $workers_dir/grpo_exchange.py, $AIC_SRC_DIR/examples/grpo-toy],
       ranks: 2, cpus: 0}
YAML
"$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "a gang of 2 ranks does three steps of train.exchange()"
diag "$("$aic" logs gx)"
is "$("$aic" logs gx | grep -c 'sum ok$')" 6 \
	"every rank sums the gradient of exactly the groups to train on, every step"
is "$("$aic" logs gx | sed -n 's/.*: step 1 exchanges \([0-9]*\) .*/\1/p' | sort -u)" 1 \
	"no prompt item held twice: one exchange"
is "$("$aic" logs gx | sed -n 's/.*: step 2 exchanges \([0-9]*\) .*dups \([0-9]*\) .*/\1 \2/p' | sort -u)" "3 1" \
	"one held by both ranks: rank 1 drops it, a second exchange"
is "$("$aic" logs gx | sed -n 's/.*: step 3 exchanges \([0-9]*\) .*dups \([0-9]*\) .*/\1 \2/p' | sort -u)" "4 2" \
	"one trained on before, one held twice by a rank: both dropped, one exchange"
done_testing

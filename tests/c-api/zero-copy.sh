#!/bin/sh
# The C worker API's zero-copy halves under `aic run` (tests/c-api/worker.c):
# items built in place (aic_put_buffer/commit, some discarded, some put with
# aic_put) arrive intact, exactly once, the discarded ones never; weight
# versions published from a buffer (sent on piece by piece; the buffer
# overwritten as soon as publish returns) and written in place
# (aic_weights_written announcing each 3 MiB) reach every reader
# byte-identical; misuses are refused. Consumers get at least 4 items at
# a time (aic_get_min: fewer at the end; a least over the most is refused).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
worker="$AIC_BUILD_DIR/tests/c-api/worker"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -x "$worker" ] || bail "no $worker"
enter_work_dir c-api
plan 12

cat >items.yaml <<YAML
name: c-items
stages:
  prod: {command: [$worker, put, "300"], replicas: 2, cpus: 0, outputs: [c], weights_to: w}
  cons: {command: [$worker, get], replicas: 2, cpus: 0, inputs: [c], weights_from: w}
channels:
  c: {capacity: 8}
YAML
"$aic" run items.yaml >items.out 2>items.err
is "$?" 0 "600 items built in place by 2 C producers: the job succeeds"
cat .aic/latest/logs/cons.*.log >got
# Per producer: 300 - the discarded (i % 7 == 6 and not i % 5 == 4).
want=$(python3 -c "print(2 * sum(1 for i in range(300) if not (i % 7 == 6 and i % 5 != 4)))")
is "$(wc -l <got) $(cut -d' ' -f1,2 got | sort -u | wc -l) $(grep -vc ' ok$' got)" "$want $want 0" \
	"every committed item arrives once and intact"
is "$(awk '$3 % 7 == 6 && $3 % 5 != 4' got | wc -l)" 0 "the discarded items never arrive"
log=$(cat .aic/latest/logs/prod.0.log)
like "$log" "long commit: .*nvalid argument" "a commit longer than its buffer is refused"
like "$log" "second weight buffer: .*busy" "a second weight buffer at once is refused"
like "$log" "commit of another buffer: .*nvalid argument" "committing a buffer not given is refused"
like "$log" "commit after discard: .*nvalid argument" "a discarded weight buffer cannot be committed, and the next one can be had"

# aic_item_origin: an item from a source line says which (source, pass,
# line: blank lines count), one a worker made from nothing has none.
printf 'a\n\nb\nc\n' >three.jsonl
cat >origins.yaml <<YAML
name: c-origins
stages:
  prod: {command: [$worker, put, "20"], cpus: 0, outputs: [c], weights_to: w}
  cons: {command: [$worker, get], cpus: 0, inputs: [c], weights_from: w}
  src: {command: [$worker, origins, s], cpus: 0, inputs: [s]}
channels:
  s: {source: three.jsonl, epochs: 2}
YAML
"$aic" run origins.yaml >origins.out 2>origins.err
is "$?" 0 "a C worker reads items' origins: the job succeeds"
is "$(sort .aic/latest/logs/src.0.log | tr '\n' ,)" "s 0 1 a,s 0 3 b,s 0 4 c,s 1 1 a,s 1 3 b,s 1 4 c," \
	"each source line's item names its source, pass and line"

cat >weights.yaml <<YAML
name: c-weights
stages:
  pub: {command: [$worker, wpub, "6", "$((10 * 1048576 + 7))"], ranks: 2, cpus: 0, weights_to: w}
  sub: {command: [$worker, wrecv, "6"], replicas: 3, cpus: 0, weights_from: w}
YAML
"$aic" run weights.yaml >weights.out 2>weights.err
is "$?" 0 "6 versions of 10 MiB, published and written in place: the job succeeds"
cat .aic/latest/logs/sub.*.log >recv
is "$(grep -vc ' ok$' recv) $(grep -c '^6 ok$' recv)" "0 3" \
	"every version received is byte-identical; every reader reaches version 6"
is "$(cat .aic/latest/logs/pub.*.log)" "" \
	"the writer maps each slot it wrote in place read-only again once committed"
done_testing

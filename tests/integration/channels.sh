#!/bin/sh
# Channels across the 3-node cluster: 100,000 items through a 3-stage
# pipeline (producers on n1, a forwarding stage on n2, consumers on n3)
# arrive exactly once, also when a forwarder and a consumer are killed
# mid-stream (their un-acked items are redelivered; duplicates are dropped
# by the producer's key); a frame without the token to an agent is refused
# while the job goes on; large items of every size class arrive intact.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3 4
plan 21
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"

# Each stage packs (placement: pack): replicas spread over the nodes by
# default, and this test wants every item to cross two nodes.
spec() { # spec DIE_AFTER PROBE: prod (n1) -> nums -> mid (n2) -> fwd -> cons (n3)
	cat <<YAML
name: channels
stages:
  prod: {command: [python3, $workers_dir/produce.py], replicas: 2, gpus: 2, cpus: 0, outputs: [nums],
         placement: pack,
         env: {N: "50000"}}
  mid: {command: [python3, $workers_dir/forward.py], replicas: 2, gpus: 2, cpus: 0, inputs: [nums],
        placement: pack,
        outputs: [fwd], env: {OUT: $dir/out, DIE_AFTER: "$1"}, restart: {max: 2, backoff_ms: 50}}
  cons: {command: [python3, $workers_dir/consume.py], replicas: 2, gpus: 2, cpus: 0, inputs: [fwd],
         placement: pack,
         env: {OUT: $dir/out, DIE_AFTER: "$1", PROBE: "$2", CHAN: fwd, BATCH: "64", TIMEOUT: "30"},
         restart: {max: 2, backoff_ms: 50}}
channels:
  nums: {capacity: 1024}
  fwd: {capacity: 1024}
YAML
}
run() { srun_step 300 "$1" "$1" --gres=gpu:4; }
placement() {
	python3 -c "import json; d=json.load(open('.aic/latest/plan.json')); print(' '.join(sorted(set(p['stage']+'@'+p['node'] for p in d['procs']))))"
}
unique() { awk '{print $3}' out.[0-9] | sort -u | wc -l; }

spec 0 "$dir/probe" >a.yaml
run a.yaml
is "$?" 0 "100,000 items through 3 stages on 3 nodes: the job succeeds"
is "$(placement)" "cons@n3 mid@n2 prod@n1" "producers on n1, forwarders on n2, consumers on n3"
is "$(cat out.[0-9] | wc -l) $(unique)" "100000 100000" "every item arrives exactly once"
# PUT_ERR for the two puts, ERROR for the unknown stream and type (an ACK of
# nothing held is no error), then the close.
is "$(cat probe 2>/dev/null)" "3 | 3 | 109 109 106 106 closed" \
	"mid-stream, an agent refuses a HELLO without the token and bytes not the protocol, answers malformed frames with errors, closes a connection over the size limit"
diag "probe: $(cat probe 2>/dev/null); the job went on (above)"

rm -f out.* probe
spec 20000 "" >b.yaml
run b.yaml
is "$?" 0 "a forwarder and a consumer killed mid-stream: the job still succeeds"
ok "the forwarder did die" [ -e out.mid-died ]
ok "and the consumer" [ -e out.died ]
like "$(cat b.yaml.err)" "un-acked items? of a lost consumer will be delivered again" \
	"their un-acked items are delivered again"
is "$(unique)" 100000 "after dropping duplicates, all 100,000 items arrived"
diag "$(cat out.[0-9] | wc -l) lines for 100000 items"

# compress: true: items travel between agents as zstd frames, and arrive intact.
rm -f out.*
cat >zprod.py <<'PY'
import aic, os
w = aic.connect()
for i in range(int(os.environ["N"])):
    w.put("nums", (b"%d:%d:" % (w.index, i)) + b"abcdefgh" * 128)
PY
sed -e "s|$workers_dir/produce.py|$dir/zprod.py|" -e 's|N: "50000"|N: "10000"|' \
	-e 's|nums: {capacity: 1024}|nums: {capacity: 1024, compress: true}|' a.yaml >z.yaml
grep -q 'compress: true' z.yaml || bail "z.yaml has no compress"
run z.yaml
is "$?" 0 "a compressed channel across nodes: the job succeeds"
is "$(cat out.[0-9] | wc -l) $(unique)" "20000 20000" "every 1 KiB item arrives exactly once"
is "$(awk '{print $3}' out.[0-9] | grep -cv '^[0-9]*:[0-9]*:\(abcdefgh\)\{128\}$')" 0 "and intact"
zin=$(python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['channels']['nums']['zstd_in_bytes'])")
zout=$(python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['channels']['nums']['zstd_out_bytes'])")
diag "zstd between agents: $zin bytes -> $zout"
ok "they crossed the network compressed (at least 10:1 for this data)" \
	sh -c '[ "$1" -gt 0 ] && [ $(($2 * 10)) -lt "$1" ]' _ "$zin" "$zout"
rm -f probe

# Large items of every size class across nodes (sent from the producer's
# arena by reference, read straight into the consumer agent's arena), with
# a consumer killed mid-stream: every item arrives intact, exactly once
# after dropping duplicates.
rm -f out.*
cat >bprod.py <<'PY'
import aic, os, random
w = aic.connect()
sizes = [1, 4095, 4096, 65535, 65536, 65537, 1048576, 1048577, 1500000]
r = random.Random(w.index)
sizes += [r.randrange(1, 1600000) for _ in range(int(os.environ["N"]) - len(sizes))]
for i, n in enumerate(sizes):
    w.put("nums", b"%d:%d:%d:" % (w.index, i, n) + random.Random(w.index * 100000 + i).randbytes(n))
PY
cat >bcons.py <<'PY'
import aic, os, random
w = aic.connect()
out = open(os.environ["OUT"] + ".%d" % w.index, "a")
marker = os.environ["OUT"] + ".died"
seen = 0
while True:
    try:
        items = w.get("fwd", max_items=4, timeout=30)
    except aic.Closed:
        break
    for it in items:
        d = bytes(it.data)
        p, i, n = (int(x) for x in d.split(b":", 3)[:3])
        body = d.split(b":", 3)[3]
        ok = len(body) == n and body == random.Random(p * 100000 + i).randbytes(n)
        out.write("%d %d %d:%d %s\n" % (it.producer, it.id, p, i, "ok" if ok else "BAD"))
    out.flush()
    seen += len(items)
    if w.index == 0 and seen >= 60 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    w.ack(items)
PY
sed -e "s|$workers_dir/produce.py|$dir/bprod.py|" -e "s|$workers_dir/consume.py|$dir/bcons.py|" -e 's|N: "50000"|N: "150"|' \
	-e 's|nums: {capacity: 1024}|nums: {capacity: 16}|' -e 's|fwd: {capacity: 1024}|fwd: {capacity: 16}|' \
	a.yaml >big.yaml
run big.yaml
is "$?" 0 "items of 1 B to 1.5 MB across nodes, a consumer killed: the job succeeds"
ok "the consumer did die" [ -e out.died ]
is "$(unique) $(grep -c BAD out.[0-9] | awk -F: '{s += $2} END {print s + 0}')" "300 0" \
	"every item arrives intact, exactly once after dropping duplicates"
diag "$(cat out.[0-9] | wc -l) lines for 300 items"

# A source read on one node feeds consumers on all three.
python3 -c 'for i in range(3000): print("{\"prompt\": %d}" % i)' >prompts.jsonl
cat >src.py <<'PY'
import aic, os, socket, time
w = aic.connect()
out = open(os.environ["OUT"] + ".%d" % w.index, "a")
# Start together: the source's own node must not drain it before the others ask.
open(os.environ["OUT"] + ".ready.%d" % w.index, "w").close()
while sum(os.path.exists(os.environ["OUT"] + ".ready.%d" % i) for i in range(3)) < 3:
    time.sleep(0.02)
while True:
    try:
        items = w.get("prompts", max_items=8, timeout=30)
    except aic.Closed:
        break
    out.write("".join("%s %s\n" % (socket.gethostname(), it.data.decode()) for it in items))
    w.ack(items)
    time.sleep(0.001 * len(items))
PY
cat >src.yaml <<YAML
stages:
  gen: {command: [python3, $dir/src.py], replicas: 3, gpus: 4, cpus: 0, inputs: [prompts],
        env: {OUT: $dir/src}}
channels:
  prompts: {source: prompts.jsonl, epochs: 2, capacity: 32}
YAML
run src.yaml
is "$?" 0 "a 3,000-line source, 2 epochs, consumers on 3 nodes: the job succeeds"
is "$(cat src.[0-9] | wc -l) $(cut -d' ' -f2- src.[0-9] | sort | uniq -c | awk '{print $1}' | sort -u)" \
	"6000 2" "every line arrives once per epoch"
# Work-queue semantics: who gets what depends on demand, but a source read
# on one node must reach consumers on others.
ok "the source's items reach consumers on other nodes" [ "$(cut -d' ' -f1 src.[0-9] | sort -u | wc -l)" -ge 2 ]
diag "consumed on: $(cut -d' ' -f1 src.[0-9] | sort | uniq -c | tr '\n' ' ')"

# Source -> stage on 3 nodes -> one sink file: every answer once.
cat >sink.yaml <<YAML
stages:
  xf: {command: [python3, $workers_dir/upper.py], replicas: 3, gpus: 4, cpus: 0, inputs: [prompts],
       outputs: [answers], env: {BATCH: "8", TIMEOUT: "30"}}
channels:
  prompts: {source: prompts.jsonl, capacity: 32}
  answers: {sink: answers.jsonl, capacity: 32}
YAML
run sink.yaml
is "$?" 0 "source -> stage on 3 nodes -> sink: the job succeeds"
is "$(wc -l <answers.jsonl) $(sort -u answers.jsonl | wc -l)" "3000 3000" \
	"the sink has every answer exactly once"
done_testing

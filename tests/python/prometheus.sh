#!/bin/sh
# The head's Prometheus metrics under `aic run`: /metrics, on the port the
# job directory's "metrics" file names, parses with Prometheus' own text
# parser (python3-prometheus-client) while the job runs, with job, stage,
# process and channel labels, and each GPU's use from NVML (the stand-in
# NVML, tests/fake/fake_nvml.c, on the 8-GPU topology); bound off the
# loopback it wants the bearer key of metrics.key; --metrics-textfile
# writes the same text, and at the job's end its counters are summary.json's.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules prometheus_client
enter_work_dir prometheus
plan 11

cat >m.py <<'PY'
import aic
w = aic.connect()
for step in range(50):
    w.metric("reward", step / 50.0, step)
PY
# spec LISTEN: producers, consumers (one killed once: replica 0 after 500 of
# the 10,000 items, which it gets however unevenly the two share them: the
# producers start once it is connected, or replica 1 could take them all
# while replica 0's python starts), a worker metric, and a gate that keeps
# the job running until the file "go" exists.
spec() {
	cat <<YAML
name: prom-test
stages:
  prod: {command: [python3, $workers_dir/produce.py], replicas: 2, cpus: 0, outputs: [nums],
         env: {N: "5000", PAD: "0", START_AFTER: $dir/ready.0}}
  cons: {command: [python3, $workers_dir/consume.py], replicas: 2, cpus: 0, inputs: [nums],
         env: {OUT: $dir/out, DIE_AFTER: "500", PAD: "0", READY: $dir/ready}, restart: {max: 2, backoff_ms: 10}}
  train: {command: [python3, $dir/m.py], cpus: 0}
  gate: {command: [sh, -c, 'while [ ! -e $dir/go ]; do sleep 0.05; done'], cpus: 0}
metrics: {listen: "$1"}
YAML
}
# scrape [KEY]: /metrics once every process but the gate is done and the
# counters show every item acked (the text is remade every second).
cat >scrape.py <<'PY'
import os, sys, time, urllib.request, urllib.error
from prometheus_client.parser import text_string_to_metric_families
url = open(".aic/latest/metrics").read().strip()
req = urllib.request.Request(url.replace("0.0.0.0", "127.0.0.1"))
if len(sys.argv) > 1:
    req.add_header("Authorization", "Bearer " + sys.argv[1])
want_gpus = int(os.environ.get("WANT_GPUS", "0"))
for _ in range(600):
    try:
        text = urllib.request.urlopen(req, timeout=10).read().decode()
    except urllib.error.HTTPError as e:
        print("HTTP", e.code); sys.exit()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    samples = lambda name: fams[name].samples if name in fams else []
    acked = [s.value for s in samples("aic_channel_acked")]
    up = {s.labels["process"]: s.value for s in samples("aic_process_up")}
    gpus = sorted((s.labels["gpu"], s.value) for s in samples("aic_gpu_utilization_ratio"))
    # Every item acked, only the gate left, and the GPUs (sampled every second) in.
    if acked == [10000] and sum(up.values()) == 1 and len(gpus) >= want_gpus:
        break
    time.sleep(0.05)
labels = set()
for f in fams.values():
    for s in f.samples:
        labels |= set(s.labels)
used = {s.value for s in samples("aic_gpu_memory_used_bytes")}
total = {s.value for s in samples("aic_gpu_memory_total_bytes")}
print("parsed", len(fams), sorted(labels), fams["aic_job_up"].samples[0].value, up["gate/0"])
print("gpus", len(gpus), {v for g, v in gpus}, used, total)
PY
spec 127.0.0.1 >a.yaml
# Every GPU of hgx-h100-8gpu.xml 37% busy, 1 GiB of 81559 MiB used.
for b in 18 2a 3a 5d 9a ab ba db; do echo "0000:$b:00.0 usage 37 1024 81559"; done >nvml.txt
AIC_NVML_LIBRARY="$AIC_BUILD_DIR/tests/fake/.libs/libfake_nvml.so" AIC_FAKE_NVML="$dir/nvml.txt" \
	"$aic" run --topo "$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml" \
	--metrics-textfile "$dir/aic.prom" a.yaml >a.out 2>a.err &
pid=$!
for _ in $(seq 600); do [ -s .aic/latest/metrics ] && break; sleep 0.05; done
like "$(cat .aic/latest/metrics 2>&1)" "^http://127.0.0.1:[0-9]+/metrics$" \
	"the job directory says where /metrics is: the loopback, an ephemeral port"
out=$(WANT_GPUS=8 /usr/bin/python3 scrape.py 2>&1)
like "$out" "^parsed 17 \['channel', 'gpu', 'job', 'name', 'node', 'process', 'stage'\] 1.0 1.0$" \
	"/metrics parses with Prometheus' parser while the job runs, with its labels"
like "$out" "gpus 8 \{0.37\} \{1073741824.0\} \{85520809984.0\}" \
	"each GPU's utilisation and memory, as NVML says"
ok "no key is written for the loopback" [ ! -e .aic/latest/metrics.key ]
touch go
wait $pid
is "$?" 0 "the job succeeds"
# The textfile at the end against summary.json.
is "$(/usr/bin/python3 - <<'PY'
import json
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open("aic.prom").read())}
s = json.load(open(".aic/latest/summary.json"))
def one(family, **labels):
    return next(x.value for x in fams[family].samples if all(x.labels[k] == v for k, v in labels.items()))
c = s["channels"]["nums"]
chans = [one("aic_channel_" + k, channel="nums") == c[k] for k in ("items", "acked", "bytes")]
chans.append(one("aic_channel_stale_dropped", channel="nums") == c["stale_dropped"])
stages = [one("aic_stage_restarts", stage=st["stage"]) == st["restarts"] for st in s["stages"]]
points = one("aic_worker_metric_points", stage="train", name="reward") == s["metrics"]["train"]["reward"]["n"]
print(all(chans), c["items"], all(stages), one("aic_stage_restarts", stage="cons"), points,
      one("aic_worker_metric", stage="train", name="reward"), one("aic_job_up"))
PY
)" "True 10000 True 1.0 True 0.98 0.0" \
	"the textfile at the end: channel counters, restarts and metric points are summary.json's"

# Off the loopback: a bearer key is needed.
rm -f go ready.*
spec 0.0.0.0 >b.yaml
"$aic" run b.yaml >b.out 2>b.err &
pid=$!
for _ in $(seq 600); do [ -s .aic/latest/metrics.key ] && break; sleep 0.05; done
like "$(cat .aic/latest/metrics)" "^http://0.0.0.0:[0-9]+/metrics$" "bound as metrics.listen says"
is "$(/usr/bin/python3 scrape.py 2>&1)" "HTTP 401" "without the key: 401"
is "$(/usr/bin/python3 scrape.py wrong-key 2>&1)" "HTTP 401" "with a wrong key: 401"
like "$(/usr/bin/python3 scrape.py "$(cat .aic/latest/metrics.key)" 2>&1)" "^parsed 14 " \
	"with metrics.key as a bearer token: the metrics"
touch go
wait $pid
is "$?" 0 "that job succeeds too"
done_testing

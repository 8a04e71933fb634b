#!/bin/sh
# An autoscaled service under `aic run` on a 4-GPU topology (fake GPUs
# from a fixture): a service stage, replicas {min: 1, max: 3}, that also
# works through a channel's backlog grows to 3 replicas and drains back to
# 1. Its endpoints follow: a client calling w.endpoints() sees 1, then 3
# ready replicas, then 1 again; status.json's "services" and `aic status`
# list each replica's host:port, number and readiness while 3 run, and
# only the one left after the drain. Every step is read from status.json
# or the client's output, never from timing.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
topo="$AIC_SRC_DIR/tests/fixtures/topo/pcie-4gpu-nvlink-pairs.xml"
enter_work_dir service-autoscale
plan 9

n=300
/usr/bin/python3 -c "for i in range($n): print('{\"i\": %d}' % i)" >lines.jsonl
cat >llm.py <<'PY'
"""A service replica: answers HTTP on AIC_PORT, and works through "lines" slowly."""
import http.server, os, threading, time
import aic

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["AIC_PORT"])), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
w = aic.connect()
while True:
    try:
        items = w.get("lines", max_items=1)
    except aic.Closed:
        break
    time.sleep(0.05)
    w.ack(items)
PY
cat >client.py <<'PY'
"""Prints the service's endpoints each time they change, until the file 'go' exists."""
import os, time
import aic
w = aic.connect()
last = None
while not os.path.exists("go"):
    eps = w.endpoints("llm")
    now = sorted((e["replica"], e["ready"]) for e in eps)
    if now != last:
        print("endpoints", len(eps), "ready", sum(e["ready"] for e in eps),
              " ".join("%d:%s" % (e["replica"], e["addr"]) for e in eps), flush=True)
        last = now
    time.sleep(0.05)
PY
cat >job.yaml <<YAML
name: service-autoscale
stages:
  llm:
    command: [/usr/bin/python3, llm.py]
    replicas: {min: 1, max: 3}
    gpus: 1
    cpus: 0
    inputs: [lines]
    service: {ready: {http: /health}}
    autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 2}
  client: {command: [/usr/bin/python3, client.py], cpus: 0}
  hold:
    command: [sh, -c, 'while [ ! -e go ]; do sleep 0.1; done']
    cpus: 0
    outputs: [lines]
channels:
  lines: {source: lines.jsonl, capacity: 32}
YAML

"$aic" run job.yaml --topo "$topo" >run.out 2>run.err &
job=$!
# services N READY: status.json lists N endpoints of llm, READY of them ready,
# each with a host:port and a distinct replica number.
services() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, re, sys
try:
    d = json.load(open(".aic/latest/status.json"))
except (OSError, ValueError):
    sys.exit(1)
eps = d.get("services", {}).get("llm", [])
ok = all(re.fullmatch(r"[^:]+:[0-9]+", e["addr"]) for e in eps)
ok = ok and len(set(e["replica"] for e in eps)) == len(eps)
sys.exit(0 if ok and len(eps) == int(sys.argv[1]) and
         sum(e["ready"] for e in eps) == int(sys.argv[2]) else 1)
PY
}
drained() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(".aic/latest/status.json"))
sys.exit(0 if sum(e["action"] == "drained" for e in d["autoscale"]["events"]) >= 2 else 1)' 2>/dev/null
}
ok "the backlog grows the service to 3 replicas, all ready in status.json" wait_for 90 services 3 3
status=$("$aic" status)
ok "once the source is dry, 2 replicas drain" wait_for 90 drained
ok "status.json then lists the 1 replica left, ready" wait_for 30 services 1 1
status_after=$("$aic" status)
touch go
wait "$job"
is "$?" 0 "the job succeeds (services stop once the others are done)"
diag "$status"
is "$(echo "$status" | grep -c '^service llm: replica [0-2] at [^ ]*:[0-9]* ready$')" 3 \
	"aic status shows the 3 replicas' endpoints: number, host:port, ready"
is "$(echo "$status_after" | grep -c '^service llm: ')" 1 "and the 1 left after the drain"
out=$("$aic" logs client | sed 's/^client\/0: //')
diag "$out"
is "$(echo "$out" | grep -cvE '^endpoints [0-3] ready [0-3]( [0-2]:[^ :]+:[0-9]+)*$')" 0 \
	"every list the client saw names replicas 0 to 2, each at a host:port"
like "$out" "^endpoints 3 ready 3 " "then 3, as the service scales up"
like "$(echo "$out" | tail -1)" "^endpoints 1 ready 1 " "and 1 again after it scales down"

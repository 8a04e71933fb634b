#!/bin/sh
# Service stages under `aic run`: 3 replicas of a tiny HTTP server with an
# HTTP readiness check. A client stage sees the 3 through w.endpoints and
# AIC_ENDPOINTS, talks to each, kills one (it leaves the list and comes
# back restarted), makes another fail its checks (it is restarted), and
# publishes weight versions that every replica, restarted ones included,
# reports. The job ends when the client is done; the services are then
# stopped. Everything is followed by events (the engine's log lines, the
# replicas' pids and answers), never by timing.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
enter_work_dir services
plan 13

cat >svc.py <<'PY'
# A service replica: /health (500 once /sick was asked), /pid, /version
# (the newest weights received), /die (exits 1 after answering).
import aic, http.server, os, threading
w = aic.connect()
state = {"version": 0, "sick": False}

def weights():
    while True:
        try:
            _, v = w.weights("policy").receive(min_version=state["version"] + 1, timeout=3600)
        except aic.Error:
            continue
        state["version"] = v

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
    def do_GET(self):
        if self.path == "/health":
            self.answer(500 if state["sick"] else 200, b"ok")
        elif self.path == "/pid":
            self.answer(200, str(os.getpid()).encode())
        elif self.path == "/version":
            self.answer(200, str(state["version"]).encode())
        elif self.path == "/sick":
            state["sick"] = True
            self.answer(200, b"sick")
        elif self.path == "/die":
            self.answer(200, b"bye")
            os._exit(1)
        else:
            self.answer(404, b"")

threading.Thread(target=weights, daemon=True).start()
http.server.ThreadingHTTPServer(("", int(os.environ["AIC_PORT"])), H).serve_forever()
PY

cat >client.py <<'PY'
import aic, json, os, sys, time, urllib.request
import numpy as np
w = aic.connect()
pol = w.weights("policy")

def get(addr, path):
    with urllib.request.urlopen("http://%s%s" % (addr, path), timeout=30) as r:
        return r.read().decode()

def ready():
    return {e["replica"]: e["addr"] for e in w.endpoints("llm", ready_only=True)}

def wait(cond):
    # Waits for an event the engine reports through the endpoints (no deadline: the
    # test's own timeout bounds it).
    while True:
        v = cond()
        if v:
            return v
        time.sleep(0.02)

init = json.loads(os.environ["AIC_ENDPOINTS"])
print("initial", sorted(init), flush=True)
eps = wait(lambda: (lambda r: r if len(r) == 3 else None)(ready()))
print("ready", len(eps), "replicas", sorted(eps), flush=True)
print("answers", sorted(get(a, "/health") for a in eps.values()), flush=True)
pids = {i: get(a, "/pid") for i, a in eps.items()}

def restarted(i):
    r = ready()
    try:
        return i in r and get(r[i], "/pid") != pids[i]
    except OSError:
        return False

# Replica 1 exits: it leaves the list (the engine logs it) and comes back as a new process.
get(eps[1], "/die")
wait(lambda: restarted(1))
print("replica 1 back", flush=True)
# Replica 2 fails its readiness checks: the engine restarts it.
get(eps[2], "/sick")
wait(lambda: restarted(2))
print("replica 2 back", flush=True)
for v in (1, 2):
    pol.publish({"w": np.array([v])}, v)
    eps = wait(lambda: (lambda r: r if len(r) == 3 else None)(ready()))
    wait(lambda: all(get(a, "/version") == str(v) for a in eps.values()))
    print("version", v, "reached", len(eps), "replicas", flush=True)
try:
    w.endpoints("client")
except aic.Error as e:
    print("not a service:", e.code, flush=True)
PY

cat >job.yaml <<YAML
stages:
  llm: {command: [/usr/bin/python3, $dir/svc.py], replicas: 3, cpus: 0, weights_from: policy,
        service: {port: auto, ready: {http: /health}, ready_timeout_s: 60},
        restart: {max: 5, backoff_ms: 100}}
  client: {command: [/usr/bin/python3, $dir/client.py], cpus: 0, weights_to: policy}
YAML
timeout ${SVC_TIMEOUT:-300} "$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "the job succeeds once the client is done, its services stopped"
out=$("$aic" logs client)
diag "$out"
like "$out" "initial \['llm'\]" "AIC_ENDPOINTS lists the service at the client's start"
like "$out" "ready 3 replicas \[0, 1, 2\]" "the client sees the 3 replicas ready"
like "$out" "answers \['ok', 'ok', 'ok'\]" "each answers through its discovered endpoint"
# The engine's log: replica 1 left the list, then was ready again.
events=$(grep -o "service 'llm' replica 1 at [^ ]* \(left\|is ready\)" job.err | sed 's/ at [^ ]*//')
is "$(echo "$events" | head -3 | tr '\n' '|')" \
	"service 'llm' replica 1 is ready|service 'llm' replica 1 left|service 'llm' replica 1 is ready|" \
	"a replica that exits leaves the list and returns when restarted"
like "$out" "replica 1 back" "the client reaches the restarted replica"
like "$(cat job.err)" "service 'llm' replica 2 on [^ ]* failed 3 readiness checks in a row.*restarting it" \
	"a replica failing its checks is restarted"
like "$out" "replica 2 back" "and comes back as a new process"
like "$out" "version 2 reached 3 replicas" "a new weight version reaches every replica"
like "$out" "not a service: -2" "endpoints of a stage that is no service: -ENOENT"
is "$(python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['state'])")" \
	succeeded "summary.json: succeeded"

# A replica that never answers its check within ready_timeout_s is
# restarted; when its restarts are spent, the job fails, saying why.
cat >slow.yaml <<YAML
stages:
  deaf: {command: "exec sleep 600", cpus: 0, service: {ready: {tcp: true}, ready_timeout_s: 1},
         restart: {max: 1, backoff_ms: 100}}
  client: {command: "exec sleep 600", cpus: 0}
YAML
timeout 60 "$aic" run slow.yaml >slow.out 2>slow.err
is "$?" 1 "a service that never becomes ready fails the job once its restarts are spent"
is "$(grep -c "service 'deaf' replica 0 on [^ ]* did not pass its readiness check within 1 s" slow.err)" 2 \
	"each of its 2 runs was killed for missing its readiness deadline"

#!/bin/sh
# Agentic stages on this machine, each beside its baseline in the same run,
# in alternating order (REPS samples a side). Prints raw JSON lines:
#   Sandboxed tasks (python/aic/sandbox.py): a sandbox made, `true` run in
#     it, torn down (per second), and `true` run in one reused sandbox;
#     beside a bare `bwrap` (the same namespaces and mounts) running `true`,
#     and a plain fork/exec of `true` (subprocess.run), from the same Python
#     process.
#   Service requests under `aic run`: the latency of an HTTP GET to a
#     service replica found through w.endpoints() before each request,
#     beside the same GET to an identical server on loopback that no engine
#     knows (both a new connection per request, from the same client).
#
#   bench/agentic.sh [BUILD-DIR]      (REPS: $AIC_BENCH_REPS, default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${AIC_BUILD_DIR:-$top/build}}
reps=${AIC_BENCH_REPS:-5}
work=$(mktemp -d /var/tmp/aic-bench-agentic.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
export AIC_LIBRARY="$build/lib/.libs/libaic.so" PYTHONPATH="$top/python"

/usr/bin/python3 - "$reps" <<'PY'
import json, subprocess, sys, time
from aic.sandbox import Sandbox
reps, n = int(sys.argv[1]), 20
cfg = {"rootfs": None, "network": "none", "tmpfs_mb": 16, "timeout_s": 10}
# The bare bubblewrap command line a sandbox runs a task with, from an
# unstarted Sandbox (no task server): what it costs without aic around it.
plain = object.__new__(Sandbox)
plain.config, plain.runtime, plain._kind, plain._mount = dict(cfg, image=None), "bwrap", None, None
bare = plain.argv(["true"])

def rate(what, fn, count):
    t = time.perf_counter()
    for _ in range(count):
        fn()
    print(json.dumps({"what": what, "per_s": count / (time.perf_counter() - t)}), flush=True)

def made():
    with Sandbox(cfg) as sb:
        sb.run(["true"])

kept = Sandbox(cfg)
kinds = [("sandbox made, true, torn down", made, n),
         ("true in a kept sandbox", lambda: kept.run(["true"]), 5 * n),
         ("bare bwrap true", lambda: subprocess.run(bare, check=True), n),
         ("fork/exec true", lambda: subprocess.run(["true"], check=True), 5 * n)]
for r in range(reps):
    for what, fn, count in (kinds if r % 2 == 0 else kinds[::-1]):
        rate(what, fn, count)
kept.close()
PY

cat >srv.py <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
port = int(os.environ.get("AIC_PORT") or sys.argv[1])
http.server.ThreadingHTTPServer(("127.0.0.1" if len(sys.argv) > 1 else "", port), H).serve_forever()
PY
cat >cli.py <<'PY'
import aic, http.client, json, os, statistics, time
w = aic.connect()
reps, n, direct = int(os.environ["REPS"]), 200, ("127.0.0.1", int(os.environ["DIRECT"]))
while not w.endpoints("svc", ready_only=True):
    time.sleep(0.01)

def get(addr):
    c = http.client.HTTPConnection(*addr, timeout=30)
    c.request("GET", "/")
    c.getresponse().read()
    c.close()

def discovered():
    e = w.endpoints("svc", ready_only=True)[0]["addr"].rsplit(":", 1)
    get((e[0], int(e[1])))

for r in range(reps):
    for what, fn in ([("discovered", discovered), ("direct", lambda: get(direct))][::1 - 2 * (r % 2)]):
        us = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            us.append((time.perf_counter() - t) * 1e6)
        print(json.dumps({"what": what, "us": statistics.median(us)}), flush=True)
PY
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 srv.py "$port" &
srv=$!
cat >b.yaml <<SPEC
name: bench-agentic
stages:
  svc: {command: [/usr/bin/python3, $work/srv.py], cpus: 0, service: {ready: {http: /}}}
  cli: {command: [/usr/bin/python3, $work/cli.py], cpus: 0, env: {REPS: "$reps", DIRECT: "$port"}}
SPEC
rc=0
"$build/launcher/aic" run b.yaml >/dev/null 2>&1 || rc=$?
kill "$srv"
cat .aic/latest/logs/cli.0.log
exit $rc

#!/bin/sh
# A service replica on a node that dies is placed again on a free node,
# and the endpoints a client reads follow it: the client, which asks
# w.endpoints() and then the replica itself where it runs, hears first the
# lost node, then the new one, from the same replica number. The job ends
# when the client does, its services stopped.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 6
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

cat >svc.py <<'PY'
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = os.environ["AIC_NODE"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
open(os.path.join(os.environ["OUT"], "svc.%s.%s" % (os.environ["AIC_INDEX"], os.environ["AIC_NODE"])), "w").close()
http.server.ThreadingHTTPServer(("", int(os.environ["AIC_PORT"])), H).serve_forever()
PY
cat >cli.py <<'PY'
import aic, os, time, urllib.request
w = aic.connect()
out = os.environ["OUT"]
while not os.path.exists(os.path.join(out, "go")):
    for e in w.endpoints("svc", ready_only=True):
        try:
            node = urllib.request.urlopen("http://%s/" % e["addr"], timeout=5).read().decode()
        except OSError:
            continue
        with open(os.path.join(out, "seen.%d" % e["replica"]), "a") as f:
            f.write("%s %s\n" % (node, e["addr"]))
    time.sleep(0.2)
PY
# Two service replicas of four GPUs (n1, n2), the client beside the head.
cat >job.yaml <<SPEC
name: service-moves
stages:
  svc:
    command: [/usr/bin/python3, $dir/svc.py]
    replicas: 2
    gpus: 4
    cpus: 0
    service: {ready: {http: /}}
    env: {OUT: $dir}
  cli:
    command: [/usr/bin/python3, $dir/cli.py]
    cpus: 0
    env: {OUT: $dir, PYTHONPATH: $AIC_SRC_DIR/python, AIC_LIBRARY: $AIC_BUILD_DIR/lib/.libs/libaic.so}
SPEC
job=$(submit_job "$dir") || bail "sbatch failed"
diag "job $job"
victim_seen() { [ -s "$dir/seen.1" ]; }
ok "the client reaches replica 1 through its endpoint" wait_for 120 victim_seen
victim=$(node_of "$dir" svc 1)
[ "$victim" != "$(head_node)" ] || bail "replica 1 is on the head's node ($victim)"
is "$(cut -d' ' -f1 "$dir/seen.1" | sort -u)" "$victim" "on its node, $victim"
fail_node "$victim" || bail "no aic-launch to kill on $victim"
elsewhere() { grep -qv "^$victim " "$dir/seen.1"; }
ok "after the node is lost, the client reaches replica 1 on another node" wait_for 120 elsewhere
new=$(grep -v "^$victim " "$dir/seen.1" | tail -1)
diag "replica 1 moved from $victim to $new"
ok "the new node is where aic placed it" [ -e "$dir/svc.1.${new%% *}" ]
touch go
ok "the job ends" wait_for 120 failed_job_ended "$job" "$dir"
is "$(summary_field "$dir" "d['state']")" succeeded "it succeeded, its services stopped"
done_testing

#!/bin/sh
# aic dashboard in headless Chromium, for examples/grpo-toy under `aic run`
# on an 8-GPU topology (each process on a GPU), with a rollout replica
# killed mid-run and a gate stage that holds the job open until told: the
# live page says the job runs; once it has ended, the same page (the job
# directory now finished) places every process on its node and GPU, draws
# the reward chart with a point per training step and the channels'
# backlog series, and lists the killed replica's exit and restart. The
# screenshot is saved beside the test's log (tests/python/dashboard.png).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
need_python_modules numpy matplotlib
command -v chromium >/dev/null || bail "no chromium (scripts/deps installs it)"
hgx="$AIC_SRC_DIR/tests/fixtures/topo/hgx-h100-8gpu.xml"
shot="$AIC_BUILD_DIR/tests/python/dashboard.png"
enter_work_dir dashboard
plan 9

grpo_copy "$dir/g" 6 0.01
cd "$dir/g" || bail "no $dir/g"
# A GPU for each process (the toy does not use it), and a gate that keeps the job running.
sed -i 's/^    cpus: \([01]\)$/    cpus: \1\n    gpus: 1/' job.yaml
sed -i "s|^channels:|  gate: {command: [sh, -c, 'while [ ! -e $dir/go ]; do sleep 0.05; done'], cpus: 0}\nchannels:|" job.yaml
"$aic" run --topo "$hgx" job.yaml >run.out 2>run.err &
job=$!
at_step() { grep -q "^step 10 " .aic/latest/logs/train.0.log; }
pid=$(kill_when rollout 0 at_step)
ok "rollout/0 killed at step 10 (pid ${pid:-none})" [ -n "$pid" ]
trap '[ -n "${dash:-}" ] && kill "$dash"; touch "$dir/go"; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
"$aic" dashboard >dash.out 2>dash.err &
dash=$!
for _ in $(seq 200); do grep -q "^aic dashboard: http" dash.out && break; sleep 0.05; done
url=$(sed -n 's/^aic dashboard: //p' dash.out)
like "$url" "^http://127.0.0.1:[0-9]+/$" "aic dashboard serves on the loopback"
# browse ARGS...: Chromium, headless, the page run for up to 10 s of its own time.
browse() {
	timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$dir/chromium" --virtual-time-budget=10000 "$@" 2>>chromium.err
}
# Live: wait until every stage but the gate has finished, then look.
for _ in $(seq 1200); do
	/usr/bin/python3 -c "import json, sys; sys.exit(sum(p['state'] != 'done' for p in json.load(open('.aic/latest/status.json'))['procs']) != 1)" 2>/dev/null && break
	sleep 0.05
done
browse --dump-dom "$url" >live.html
like "$(tr -d '\n' <live.html | grep -o '<span id="state".*<span id="live">[^<]*')" \
	'class="badge running">running<.*\(live\)' "the live page says the job runs"
touch "$dir/go"
wait "$job"
is "$?" 0 "the job succeeds"
browse --dump-dom "$url" >ended.html
browse --window-size=1400,1900 --screenshot="$shot" "$url" >/dev/null
ok "a screenshot is saved ($shot)" [ -s "$shot" ]

cat >check.py <<'PY'
import json, sys
from html.parser import HTMLParser

class Page(HTMLParser):
    """The elements with data- attributes, each with the chain of its ancestors' attributes."""
    def __init__(self):
        super().__init__()
        self.stack, self.found, self.text = [], [], {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        a["_tag"] = tag
        self.stack.append(a)
        self.found.append((a, list(self.stack)))
    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()["_tag"] != tag:
            pass
    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["_text"] = self.stack[-1].get("_text", "") + data

p = Page()
p.feed(open(sys.argv[1]).read())
st = json.load(open(".aic/latest/status.json"))
misplaced = []
for proc in st["procs"]:
    name = "%s/%d" % (proc["stage"], proc["index"])
    for g in proc["gpus"] or ["cpu"]:
        if not any(a.get("data-proc") == name and
                   any(x.get("data-node") == proc["node"] for x in up) and
                   any(x.get("data-gpu") == str(g) for x in up)
                   for a, up in p.found):
            misplaced.append((name, g))
print("placed:", len(st["procs"]), sum(1 for pr in st["procs"] if pr["gpus"]), misplaced)
steps = len(open(".aic/latest/reward.csv").read().split()) - 1
reward = [a for a, _ in p.found if a.get("data-chart") == "train/reward"]
print("reward:", steps > 10, [int(a["data-points"]) for a in reward] == [steps])
backlog = [a for a, _ in p.found if a.get("data-chart") == "backlog samples"]
print("backlog:", len(backlog), int(backlog[0]["data-points"]) >= 2 if backlog else None)
ev = [(a.get("data-ev"), a.get("_text", "")) for a, _ in p.found if a.get("data-proc") == "rollout/0" and a["_tag"] == "li"]
print("events:", any(e == "exit" and "status -9" in t for e, t in ev), any(e == "restart" for e, t in ev))
PY
out=$(/usr/bin/python3 check.py ended.html 2>&1)
diag "$out"
like "$out" "placed: 6 5 \[\]" "every process is drawn on its node and GPU (the gate without one)"
like "$out" "reward: True True" "the reward chart has a point per training step"
like "$out" "backlog: 1 True" "a channel's backlog is drawn as a series"
like "$out" "events: True True" "the killed replica's exit (status -9) and its restart are in the events"
done_testing

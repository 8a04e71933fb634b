#!/bin/sh
# aic timeline on a job directory whose events.jsonl is written here (the
# lines doc/design/observe.md lists), for what a single-node run under
# `aic run` cannot show: two nodes, one lost with a replica on it, the
# replica placed again on the other; two stages taking turns (phases);
# events out of time order (agents' come late); a line cut short by a
# crash. And its errors.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
dir=$(mktemp -d /var/tmp/aic-timeline-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
plan 7

mkdir -m 700 job
cat >job/events.jsonl <<'EV'
{"ev":"placed","job":"t","run":0,"nodes":[{"rank":0,"node":"a","gpus":[0,1]},{"rank":1,"node":"b","gpus":[0,1]}],"procs":[{"proc":0,"stage":"w","kind":"replica","index":0,"node":"a","gpus":[0]},{"proc":1,"stage":"w","kind":"replica","index":1,"node":"b","gpus":[0]}],"channels":["c"],"weights":[],"t":100.0}
{"ev":"start","proc":0,"stage":"w","kind":"replica","index":0,"node":"a","gpus":[0],"pid":10,"t":100.1}
{"ev":"start","proc":1,"stage":"w","kind":"replica","index":1,"node":"b","gpus":[0],"pid":11,"t":100.1}
{"ev":"node_lost","rank":1,"node":"b","why":"cut","t":102.0}
{"ev":"restart","proc":1,"stage":"w","kind":"replica","index":1,"node":"a","gpus":[1],"restarts":0,"moves":1,"t":102.1}
{"ev":"start","proc":1,"stage":"w","kind":"replica","index":1,"node":"a","gpus":[1],"pid":12,"t":102.2}
{"ev":"chan","rank":0,"node":"a","chan":"c","queued":5,"inflight":1,"items":10,"acked":4,"bytes":100,"stale":0,"t":100.5}
{"ev":"chan","rank":0,"node":"a","chan":"c","queued":0,"inflight":0,"items":20,"acked":20,"bytes":200,"stale":0,"t":101.5}
{"ev":"phase","group":0,"node":"a","stage":"w","event":"begin","t":100.2}
{"ev":"phase","group":0,"node":"a","stage":"w","event":"end","turn_us":300000.0,"t":100.5}
{"ev":"phase","group":0,"node":"a","stage":"v","event":"begin","switch_us":40.0,"t":100.5}
{"ev":"phase","group":0,"node":"a","stage":"v","event":"end","turn_us":500000.0,"t":101.0}
{"ev":"exit","proc":0,"stage":"w","kind":"replica","index":0,"node":"a","gpus":[0],"status":0,"t":103.0}
{"ev":"exit","proc":1,"stage":"w","kind":"replica","index":1,"node":"a","gpus":[1],"status":0,"t":103.5}
{"ev":"end","state":"succeeded","reason":"every process finished","exit_code":0,"t":103.6}
{"ev":"chan","rank":0,"node":"a","ch
EV
"$aic" timeline --job job -o trace.json
is "$?" 0 "aic timeline reads it, the line cut short skipped"
out=$(/usr/bin/python3 - <<'PY'
import json
evs = json.load(open("trace.json"))["traceEvents"]
pid = {e["args"]["name"]: e["pid"] for e in evs if e["name"] == "process_name"}
tname = {(e["pid"], e["tid"]): e["args"]["name"] for e in evs if e["name"] == "thread_name"}
lives = sorted((tname[(e["pid"], e["tid"])], e["pid"] == pid["node b"], round(e["ts"] / 1e6, 1), round(e["dur"] / 1e6, 1), e["args"]["exit"])
               for e in evs if e["ph"] == "X" and e["name"] == "w/1")
print(sorted(pid), lives)
print([(e["name"], e["pid"] == pid["node b"]) for e in evs if e["ph"] == "i" and e["pid"]])
turns = [(tname[(e["pid"], e["tid"])], e["pid"] == pid["node a"], e["name"], round(e["dur"] / 1e6, 1))
         for e in evs if e["ph"] == "X" and e["cat"] == "phase"]
print(turns)
rate = [e["args"]["acked/s"] for e in evs if e["name"] == "throughput c"]
print(rate, [e["ts"] for e in evs if e["ph"] == "C"] == sorted(e["ts"] for e in evs if e["ph"] == "C"))
PY
)
diag "$out"
like "$out" "\['job', 'node a', 'node b'\] \[\('GPU 0', True, 0.1, 1.9, 'lost with its node'\), \('GPU 1', False, 2.2, 1.3, 0\)\]" \
	"the lost replica's life ends at the loss on node b; its second runs on node a's GPU 1"
like "$out" "\[\('node lost', True\), \('w/1 lost', True\), \('restart w/1', False\)\]" \
	"the loss and the lost life are instants on node b; the restart on node a"
like "$out" "\[16.0\] True" "throughput from consecutive samples (16 acked in 1 s), in time order"
like "$out" "\[\('phases, pair 0', True, 'w', 0.3\), \('phases, pair 0', True, 'v', 0.5\)\]" \
	"each phase turn a slice on its pair's track of its node"
"$aic" timeline --job "$dir/nowhere" >/dev/null 2>err
isnt "$?" 0 "no such job directory: an error"
mkdir -m 700 empty
"$aic" timeline --job empty >/dev/null 2>err
like "$(cat err)" "cannot read '.*/empty/events.jsonl': No such file or directory" \
	"a job directory without events.jsonl: an error naming it"
done_testing

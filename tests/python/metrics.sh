#!/bin/sh
# Metrics under `aic run`: points reported by workers (w.metric, aic_metric)
# reach the job directory's metrics.jsonl, one line each with stage, index,
# name, value and step, and summary.json has count, last, min and max per
# stage and name; a value that is not finite is written as a string; bad
# names are refused in the worker and nothing reaches the file for them.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
enter_work_dir metrics
plan 9

cat >m.py <<'PY'
import aic
w = aic.connect()
for step in range(100):
    w.metric("loss", 1.0 / (step + 1) + w.index, step)
w.metric("tokens_per_s", 1234.5)
w.metric("grad_norm", float("nan"), 100)
bad = 0
for name in ("", "x" * 129, "a\nb"):
    try:
        w.metric(name, 1.0)
    except aic.Error:
        bad += 1
print("refused", bad)
PY
cat >m.yaml <<YAML
name: metrics-test
stages:
  train: {command: [python3, $dir/m.py], replicas: 2, cpus: 0}
YAML
"$aic" run m.yaml >m.out 2>m.err
is "$?" 0 "a job whose 2 workers report 102 points each succeeds"
is "$("$aic" logs train/0) $("$aic" logs train/1)" "refused 3 refused 3" \
	"an empty name, one over 128 bytes and one with a control character are refused"
is "$(python3 - <<'PY'
import json
lines = [json.loads(l) for l in open(".aic/latest/metrics.jsonl")]
loss = sorted((p["index"], p["step"], p["value"]) for p in lines if p["name"] == "loss")
ok = (len(lines) == 204 and len(loss) == 200
      and all(p["stage"] == "train" and isinstance(p["t"], float) for p in lines)
      and loss == sorted((i, s, 1.0 / (s + 1) + i) for i in (0, 1) for s in range(100)))
tps = [p for p in lines if p["name"] == "tokens_per_s"]
nan = [p for p in lines if p["name"] == "grad_norm"]
print(ok, len(tps), tps[0]["step"], tps[0]["value"], len(nan), nan[0]["value"], nan[0]["step"])
PY
)" "True 2 None 1234.5 2 nan 100" "every point is a line of metrics.jsonl: stage, index, name, value, step"
is "$(python3 - <<'PY'
import json
m = json.load(open(".aic/latest/summary.json"))["metrics"]["train"]
l = m["loss"]
print(l["n"], l["last_step"], l["min"], l["max"], m["tokens_per_s"]["n"], m["grad_norm"]["last"], "min" in m["grad_norm"])
PY
)" "200 99 0.01 2.0 2 nan False" "summary.json: count, last step, min and max per stage and name"
table=$("$aic" metrics)
is "$?" 0 "aic metrics reads the job's metrics"
like "$table" "train +loss +200 +(0.01|1.01) +99 +0.01 +2 *$" "a row per stage and name: count, last, step, min, max"
like "$table" "train +grad_norm +2 +nan +100 +- +-" "a value that is not finite shows as it was reported"
is "$("$aic" metrics --json | python3 -c "import json, sys; print(json.load(sys.stdin) == json.load(open('.aic/latest/summary.json'))['metrics'])")" \
	True "aic metrics --json is what summary.json has"
"$aic" metrics --job "$dir/nowhere" >/dev/null 2>&1
isnt "$?" 0 "aic metrics of no job fails"
done_testing

#!/bin/sh
# examples/agentic-toy under `aic run`: the policy service writes programs,
# sandboxed environment replicas run them against tests, GRPO trains; the
# reward rises from chance to >= 0.8, every step's weights reach the
# service, and the hostile programs (rm -rf /, a fork bomb) ran and harmed
# nothing outside their sandboxes.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy
command -v bwrap >/dev/null || skip_all "no bwrap (Debian's bubblewrap)"
enter_work_dir agentic
plan 6

cp "$AIC_SRC_DIR"/examples/agentic-toy/*.py "$AIC_SRC_DIR"/examples/agentic-toy/*.yaml \
	"$AIC_SRC_DIR"/examples/agentic-toy/tasks.jsonl . || bail "cannot copy the example"
echo precious >marker
timeout 600 "$aic" run job.yaml >run.out 2>run.err
is "$?" 0 "agentic-toy: the job succeeds once training is done, its service stopped"
train=$("$aic" logs train | sed 's/^train\/0: //')
diag "$(echo "$train" | awk '/^step/ {printf "%s ", $4}')"
is "$(echo "$train" | python3 -c "
import sys
r = [float(l.split()[3]) for l in sys.stdin if l.startswith('step ')]
first, last = sum(r[:3]) / 3, sum(r[-3:]) / 3
print(len(r) >= 10, first < 0.4, last >= 0.8)")" "True True True" \
	"the reward rises from near chance (< 0.4) to >= 0.8"
like "$(echo "$train" | grep '^step' | tail -1)" "versions \[.*[1-9][0-9]\]" \
	"the service answered with the newest weights (version >= 10 late in training)"
env=$("$aic" logs env)
diag "$env"
is "$(echo "$env" | python3 -c "
import json, sys
n = {}
for l in sys.stdin:
    if 'hostile programs run:' in l:
        for k, v in json.loads(l.split('run: ', 1)[1]).items():
            n[k] = n.get(k, 0) + v
print(n.get('rm -rf /', 0) > 0, n.get('fork bomb', 0) > 0)")" "True True" \
	"programs running rm -rf / and a fork bomb were run"
is "$(cat marker; ls tasks.py job.yaml | wc -l)" "precious
2" "and harmed nothing outside their sandboxes"
like "$(cat run.err)" "service 'policy' replica 0 at [^ ]* left" "the policy service was stopped at the end"

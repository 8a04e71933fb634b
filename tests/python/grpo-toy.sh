#!/bin/sh
# examples/grpo-toy under `aic run`, shortened: the reward rises from chance
# to near solved, every prompt item is trained on exactly once, the CSV and
# the PNG are written; then again with a rollout replica killed (-9)
# mid-run: learning goes on and no prompt is lost.
. "$AIC_SRC_DIR/tests/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/worker-api.sh"
/usr/bin/python3 -c 'import numpy, matplotlib' 2>/dev/null ||
	bail "Debian's python3-numpy or python3-matplotlib is missing (scripts/deps)"
dir=$(mktemp -d /var/tmp/aic-grpo-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# copy NAME EPOCHS GEN_DELAY_S: a copy of the example, shortened.
copy() {
	cp -r "$AIC_SRC_DIR/examples/grpo-toy" "$dir/$1" || bail "cannot copy the example"
	sed -i -e "s/epochs: [0-9]*/epochs: $2/" -e "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: $3/" \
		"$dir/$1/job.yaml"
	grep -q "epochs: $2," "$dir/$1/job.yaml" || bail "job.yaml has no 'epochs:' to shorten"
}
# field NAME: a number from train/0's summary line, e.g. `field prompts`.
field() {
	"$aic" logs train/0 | sed -n "s/.*summary:.* $1 \([0-9.]*\).*/\1/p"
}
# rewards: "first last" mean rewards of the first and last 5 steps of reward.csv.
rewards() {
	/usr/bin/python3 - .aic/latest/reward.csv <<'PY'
import csv, sys
r = [float(row["mean_reward"]) for row in csv.DictReader(open(sys.argv[1]))]
print("%.3f %.3f" % (sum(r[:5]) / 5, sum(r[-5:]) / 5) if len(r) >= 10 else "too-few-steps")
PY
}
# Learned: from near chance (0.1) to near solved, by a clear margin.
learned() {
	set -- $(rewards)
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < 0.3 && b >= 0.8 && b - a >= 0.5) }'
}
stale() {
	/usr/bin/python3 -c 'import json; print(sum(c["stale_dropped"] for c in json.load(open(".aic/latest/summary.json"))["channels"].values()))'
}

copy plain 6 0
cd "$dir/plain" || bail "no $dir/plain"
start=$(date +%s)
"$aic" run job.yaml >run.out 2>run.err
is "$?" 0 "grpo-toy, 100 prompts x 6 epochs: the job succeeds"
diag "$(($(date +%s) - start)) s; $("$aic" logs train/0 | grep summary:)"
ok "reward.csv has a row per step" [ "$(wc -l <.aic/latest/reward.csv)" -gt 20 ]
ok "reward.png is a PNG" sh -c 'head -c 8 .aic/latest/reward.png | grep -q PNG'
diag "mean reward, first 5 steps -> last 5: $(rewards)"
ok "the reward rises from near chance (< 0.3) to near solved (>= 0.8)" learned
is "$(field prompts) $(field ids) $(field min-per-id) $(field max-per-id)" "600 100 6 6" \
	"every prompt item is trained on exactly once (100 prompts, 6 epochs)"
is "$(stale)" 0 "no sample was dropped as stale (max_staleness: 1)"

# A rollout replica killed mid-run: aic restarts it, its un-acked prompts
# are delivered again, and train drops any group made twice.
copy kill 6 0.01
cd "$dir/kill" || bail "no $dir/kill"
"$aic" run job.yaml >run.out 2>run.err &
job=$!
at_step_10() { grep -q '^step 10 ' .aic/latest/logs/train.0.log; }
pid=$(kill_when rollout 0 at_step_10)
ok "rollout/0 killed at step 10 (pid ${pid:-none})" [ -n "$pid" ]
wait "$job"
is "$?" 0 "a rollout replica killed mid-run: the job still succeeds"
like "$(cat run.err)" "stage 'rollout' replica 0 .*(killed|signal|status)" "aic saw the replica die"
like "$(cat run.err)" "restarting stage 'rollout' replica 0" "and restarted it"
diag "$("$aic" logs train/0 | grep summary:)"
ok "learning still reaches near solved" learned
is "$(field prompts) $(field ids) $(field min-per-id) $(field max-per-id)" "600 100 6 6" \
	"no prompt is lost and none is trained on twice"
is "$(stale)" 0 "no sample was dropped as stale"
done_testing

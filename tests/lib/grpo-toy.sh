# shellcheck shell=sh disable=SC2154
# Sourced by the tests that run examples/grpo-toy (tests/python/grpo-*.sh
# under `aic run`, tests/integration/grpo-toy.sh and resume-grpo.sh and
# tests/failures/grpo-toy-node.sh on the cluster), after tap.sh or
# cluster.sh: the example's workers need python/aic (worker-api.sh) and
# Debian's numpy and matplotlib, or the test bails out. The tests cd into
# the copy before using the checks.
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
need_python_modules numpy matplotlib
aic="$AIC_BUILD_DIR/launcher/aic"

# grpo_copy DIR EPOCHS GEN_DELAY_S: a copy of the example in DIR, shortened.
grpo_copy() {
	# u+w: make distcheck's source tree is read-only, and so would the copy be.
	if ! mkdir -p "$1" || ! cp -r "$AIC_SRC_DIR/examples/grpo-toy/." "$1" || ! chmod -R u+w "$1"; then
		bail "cannot copy the example to $1"
	fi
	sed -i -e "s/epochs: [0-9]*/epochs: $2/" -e "s/GEN_DELAY_S: [0-9.]*/GEN_DELAY_S: $3/" "$1/job.yaml"
	grep -q "epochs: $2," "$1/job.yaml" || bail "job.yaml has no 'epochs:' to shorten"
}
# grpo_steps: how many steps train/0 has logged in all (in the copy).
grpo_steps() { grep -c '^step' .aic/latest/logs/train.0.log 2>/dev/null; }
grpo_steps_at_least() { [ "$(grpo_steps)" -ge "$1" ]; }
# grpo_run_until N [AIC-RUN-OPTION...]: in the copy, runs the job (`aic run
# OPTIONS job.yaml`, its output added to run.out and run.err) and stops it
# with a checkpoint once train/0 has logged N steps in all; $rc: aic run's
# exit status.
grpo_run_until() {
	_n=$1
	shift
	"$aic" run "$@" job.yaml >>run.out 2>>run.err &
	_pid=$!
	wait_for 60 grpo_steps_at_least "$_n" || diag "no step $_n: $(tail -n 3 run.err)"
	"$aic" stop --checkpoint >/dev/null
	wait $_pid
	# shellcheck disable=SC2034 # the caller's
	rc=$?
}
# grpo_field NAME: a number from train/0's summary line, e.g. `grpo_field prompts`.
grpo_field() {
	"$aic" logs train/0 | sed -n "s/.*summary:.* $1 \([0-9.]*\).*/\1/p"
}
# grpo_counts: "prompt-items prompt-ids min-per-id max-per-id" from the summary.
grpo_counts() {
	echo "$(grpo_field prompts) $(grpo_field ids) $(grpo_field min-per-id) $(grpo_field max-per-id)"
}
# grpo_rewards: "first last" mean rewards of the first and last 5 steps of reward.csv.
grpo_rewards() {
	/usr/bin/python3 - .aic/latest/reward.csv <<'PY'
import csv, sys
r = [float(row["mean_reward"]) for row in csv.DictReader(open(sys.argv[1]))]
print("%.3f %.3f" % (sum(r[:5]) / 5, sum(r[-5:]) / 5) if len(r) >= 10 else "too-few-steps")
PY
}
# grpo_learned: from near chance (0.1) to near solved, by a clear margin.
grpo_learned() {
	# shellcheck disable=SC2046 # two words: first and last
	set -- $(grpo_rewards)
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < 0.3 && b >= 0.8 && b - a >= 0.5) }'
}
# grpo_stale: samples dropped for staleness, over every channel (summary.json).
grpo_stale() {
	/usr/bin/python3 -c 'import json; print(sum(c["stale_dropped"] for c in json.load(open(".aic/latest/summary.json"))["channels"].values()))'
}
# grpo_resumes JOBDIR MIN_STEP: "OK RESUMES" of train/0's log in JOBDIR: OK
# is True when its step numbers count 1, 2, 3... across every run and each
# "resumed from version V, step S" came at step S (no step lost or done
# twice), with S >= MIN_STEP and V, S those of a "checkpoint at step S,
# version V" before it (V is S + 1 but for steps of duplicates only, each a
# version of its own); RESUMES, how many there were.
grpo_resumes() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
ok, steps, resumed, saved = True, 0, 0, set()
for line in open(sys.argv[1] + "/logs/train.0.log").read().splitlines():
    if line.startswith("step "):
        steps += 1
        ok &= int(line.split()[1]) == steps
    m = re.match(r"checkpoint at step (\d+), version (\d+)", line)
    if m:
        saved.add((int(m.group(1)), int(m.group(2))))
    m = re.match(r"resumed from version (\d+), step (\d+)", line)
    if m:
        resumed += 1
        s, v = int(m.group(2)), int(m.group(1))
        ok &= s == steps and (s, v) in saved and v >= s + 1 and steps >= int(sys.argv[2])
print(ok, resumed)
PY
}
# grpo_reread JOBDIR: "N M" of the job's last checkpoint: of the lines its
# training ranks trained on (N, each rank's saved "seen"), how many a
# resumed run would read again (M: not done in every rank's progress,
# state.json's checkpoints.train.sources).
grpo_reread() {
	/usr/bin/python3 - "$1/state.json" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
ck = s["checkpoints"]["train"]
seen = set()
for rank, v in enumerate(ck["versions"]):
    with open(os.path.join(ck["dir"], "rank%d.%d.json" % (rank, v))) as f:
        seen |= set(tuple(k) for k in json.load(f)["seen"])
def done(p, line):
    return p.get("done") or (tuple(line) < tuple(p["next"]) and list(line) not in p["unfinished"])
again = set(l for p in ck["sources"] for l in seen if not done(p["prompts"], l))
print(len(seen), len(again))
PY
}

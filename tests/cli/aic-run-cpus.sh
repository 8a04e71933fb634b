#!/bin/sh
# Without SLURM, cpus: is a wish: `aic run` of more one-core replicas than
# the machine has cores runs them all, sharing cores, and says so; `aic
# plan` shows the same for one node, and with --nodes (as under SLURM,
# where cpus: reserves cores) refuses the job.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
# 4 cores (8 PUs): 5 replicas of one core never fit, whatever this machine has.
xml="$AIC_SRC_DIR/tests/fixtures/topo/cpu-only.xml"
dir=$(mktemp -d /var/tmp/aic-run-cpus.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
plan 7
mkdir out
cat >job.yaml <<SPEC
name: five
stages:
  w: {command: [sh, -c, 'echo ran >$dir/out/\$AIC_INDEX'], replicas: 5, cpus: 1}
SPEC

"$aic" run --topo "$xml" job.yaml >run.out 2>run.err
rc=$?
is "$rc" 0 "aic run of 5 one-core replicas on a 4-core topology succeeds"
is "$(ls out | wc -l)" 5 "every replica ran"
like "$(cat run.err)" "note: node '[^']*' has [0-9]+ cores? for processes that ask for 5 \(cpus:\): they share them" \
	"aic run says the cores are shared"

plan=$("$aic" plan job.yaml --topo "$xml" 2>&1)
like "$plan" "aic: note: node 'cpu1' has 4 cores for processes that ask for 5" \
	"aic plan for one node shares cores with a note"
notes=$("$aic" plan job.yaml --topo "$xml" --json |
	python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin).get("notes", [])))')
like "$notes" "node 'cpu1' has 4 cores for processes that ask for 5 .*they share them" \
	"aic plan --json carries the note"
"$aic" plan job.yaml --topo "$xml" --nodes 1 >plan.out 2>plan.err
is "$?" 1 "aic plan --nodes 1 (as under SLURM) refuses it"
like "$(cat plan.err)" "stage 'w' does not fit: it needs 5 replicas of 1 core, 4 fit" \
	"and says the stage does not fit"
done_testing

#!/bin/sh
# The C sandbox API under `aic run` (aic_sandbox_open, _run, _reset,
# _close; tests/c-api/worker.c sandbox): a C replica of a stage with
# `sandbox:` runs tasks in it and reads each one's output, exit status and
# timeout; the job directory, the agent, its own process and the token are
# out of reach inside (each beside the same from outside, which works); a
# loop is killed at its time limit; a reset clears /tmp; a config of its own
# (network: job) reaches the agent; misuses get their codes, a missing image
# -EIO with the image named on standard error.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
worker="$AIC_BUILD_DIR/tests/c-api/worker"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -x "$worker" ] || bail "no $worker"
command -v bwrap >/dev/null || skip_all "no bwrap (Debian's bubblewrap)"
enter_work_dir c-sandbox
plan 12

cat >job.yaml <<YAML
stages:
  env: {command: [$worker, sandbox], cpus: 0, sandbox: {network: none, timeout_s: 20}}
YAML
timeout 300 "$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "the C sandboxed stage's job succeeds"
out=$("$aic" logs env | sed 's/^env\/0: //')
diag "$out"
like "$out" "^stdin 0 0 'hello sandbox'" "a task reads its standard input; its output comes back"
like "$out" "^exit 3 0 ''" "a task's exit status comes back"
like "$out" "^outside job 1 proc 1" "outside, the job directory and the worker's /proc entry are there"
like "$out" "^job-dir 2 0 ''" "inside, the job directory is out of reach"
like "$out" "^host-pid 1 0 ''" "inside, the worker's process cannot be seen"
like "$out" "^token-env 1 0 '0'" "inside, no AIC_ variable (no token)"
is "$(echo "$out" | grep -E '^(agent|agent-job) ' | tr '\n' '|')" "agent 0 0 '111'|agent-job 0 0 '0'|" \
	"the agent cannot be reached inside; with network: job it can (beside: outside works)"
like "$out" "^loop -9 1 ''" "a task looping forever is killed at its timeout"
is "$(echo "$out" | grep -E '^(tmp|reset|after-reset) ' | tr '\n' '|')" \
	"tmp 0 0 'kept'|reset 0|after-reset 0 0 'gone'|" "a reset clears /tmp"
is "$(echo "$out" | grep -E '^(run-|open-)' | tr '\n' '|')" \
	"run-null -22|run-negative -22|open-config 0|open-missing-image -5|open-no-env -2|open-null -22|" \
	"misuses: -EINVAL; a missing image -EIO; no AIC_SANDBOX -ENOENT"
like "$("$aic" logs env)" "image '/nonexistent/env.sqsh': No such file or directory" \
	"the missing image is named on standard error"

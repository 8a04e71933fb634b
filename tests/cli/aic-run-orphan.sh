#!/bin/sh
# `aic run` whose head refuses its own agent (launcher/engine/engine.c,
# end_orphan): the job fails, saying why, instead of the head waiting
# forever for an agent that has gone. The refusal is a real one, made
# deterministic under gdb: aic run stops at its first uv_run (the head
# listens, its agent's connection is made, nothing is read yet), a
# stranger connects then, and with AIC_NET_MAX_PENDING=1 the head,
# accepting both in order, pushes out the oldest connection waiting to
# authenticate: its own agent's (REJECT, "too many connections waiting to
# authenticate").
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
hostile="$AIC_SRC_DIR/tests/lib/hostile.py"
command -v gdb >/dev/null 2>&1 || skip_all "no gdb to stop aic run at its first uv_run"
dir=$(mktemp -d /var/tmp/aic-orphan-test.XXXXXX)
# The engine is `aic run`, its job directory run-PID: whatever is left of it goes.
cleanup() {
	pid=$(readlink "$dir/.aic/latest" 2>/dev/null | sed -n 's/^run-\([0-9]*\)$/\1/p')
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir" || bail "no $dir"
plan 4

printf 'name: orphan\nstages:\n  w: {command: [sleep, "600"], cpus: 0}\n' >job.yaml
AIC_NET_MAX_PENDING=1 timeout 120 gdb -q -batch -nx \
	-ex 'set startup-with-shell off' -ex 'set breakpoint pending on' \
	-ex 'break uv_run' -ex run \
	-ex "shell python3 '$hostile' hold \$(tr : ' ' <.aic/latest/head)" \
	-ex delete -ex continue -ex 'quit $_exitcode' \
	--args "$aic" run job.yaml >run.out 2>run.err
is "$?" 1 "aic run ends with a failure when its head refused its own agent (not a hang)"
like "$(cat run.err)" "the head refused this agent: too many connections waiting to authenticate" \
	"the head did refuse it (the stranger pushed it out)"
like "$(cat run.out run.err)" "job 'orphan' failed: the local agent ended: the head refused this agent" \
	"and aic run says why"
is "$(python3 -c "import json; print(json.load(open('.aic/latest/status.json'))['state'])")" \
	failed "status.json says the job failed"

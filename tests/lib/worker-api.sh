# Sourced by tests whose workers use python/aic: where the library and the
# package are. An AIC_LIBRARY already set wins (the sanitizer stage of
# scripts/check gives Python the plain build's library: an ASan .so cannot
# load into python3). It brings wait.sh along: kill_when waits with wait_for.
. "$AIC_SRC_DIR/tests/lib/wait.sh"
AIC_LIBRARY=${AIC_LIBRARY:-"$AIC_BUILD_DIR/lib/.libs/libaic.so"}
PYTHONPATH="$AIC_SRC_DIR/python"
export AIC_LIBRARY PYTHONPATH
# The stand-in NCCL (tests/fake/fake_nccl.c) of the same build as the library.
AIC_FAKE_NCCL="${AIC_LIBRARY%/lib/.libs/*}/tests/fake/.libs/libfake_nccl.so"
# Python workers that tests under `aic run` and on the cluster share.
workers_dir="$AIC_SRC_DIR/tests/lib/workers"

# aic_pid STAGE INDEX: the pid of a running job's process (from `aic status`
# in the current directory; the caller sets $aic).
aic_pid() {
	"$aic" status --json | /usr/bin/python3 -c '
import json, sys
print(next(p["pid"] for p in json.load(sys.stdin)["procs"]
           if p["stage"] == sys.argv[1] and p["index"] == int(sys.argv[2])))' "$1" "$2"
}

# aic_state EXPR: a Python expression over state.json (as s) of the newest
# job in the current directory.
aic_state() {
	python3 -c "import json; s = json.load(open('.aic/latest/state.json')); print($1)"
}

# workers_ready N: N workers have marked ready.* in the current directory
# (workers/stepper.py does after 3 steps).
workers_ready() {
	[ "$(ls ready.* 2>/dev/null | wc -l)" -ge "$1" ]
}

# kill_when STAGE INDEX CMD...: waits for CMD to succeed (up to 30 s);
# then kills STAGE/INDEX of the running job with SIGKILL and prints its
# pid. Prints nothing when CMD never succeeded.
kill_when() {
	kw_stage=$1 kw_index=$2
	shift 2
	wait_for 30 "$@" || return 0
	kw_pid=$(aic_pid "$kw_stage" "$kw_index") && kill -9 "$kw_pid" && echo "$kw_pid"
}

# need_python_modules MOD...: bails out (the test cannot run) unless Debian's
# /usr/bin/python3 imports every one (scripts/deps installs them).
need_python_modules() {
	/usr/bin/python3 -c "import $(echo "$@" | tr ' ' ',')" 2>/dev/null ||
		bail "Debian's python3 lacks one of: $* (scripts/deps installs them)"
}

# enter_work_dir NAME: a fresh directory for this test's files, entered and
# set as $dir; removed at exit unless KEEP is set (to look at a failure).
enter_work_dir() {
	dir=$(mktemp -d "/var/tmp/aic-$1-test.XXXXXX") || bail "cannot make a work directory"
	trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
	cd "$dir" || bail "no $dir"
}

# square_job NAME N MAP_DELAY_S: in the current directory, a source of N
# lines {"i": 0} to {"i": N-1} (in.jsonl) and a job NAME (job.yaml) whose 3
# workers/square.py replicas map it to the sink out.jsonl, each item taking
# MAP_DELAY_S; sink_lines: how many lines out.jsonl holds (0 before it
# exists).
square_job() {
	/usr/bin/python3 -c "
for i in range($2):
    print('{\"i\": %d}' % i)" >in.jsonl
	cat >job.yaml <<YAML
name: $1
stages:
  map:
    command: [/usr/bin/python3, $workers_dir/square.py]
    replicas: 3
    cpus: 0
    inputs: [lines]
    outputs: [out]
    env: {MAP_DELAY_S: $3, PYTHONPATH: "$PYTHONPATH", AIC_LIBRARY: "$AIC_LIBRARY"}
channels:
  lines: {source: in.jsonl, capacity: 32}
  out: {sink: out.jsonl, capacity: 32}
YAML
}
sink_lines() {
	if [ -e out.jsonl ]; then wc -l <out.jsonl; else echo 0; fi
}

# square_tally N: "unique twice lost bad" of out.jsonl, the sink of
# square.py's items from a source of N numbered lines on channel "lines",
# by _aic_origin: source lines seen, extra copies, source lines missing,
# and lines that are not their origin's square (or from elsewhere).
square_tally() {
	/usr/bin/python3 - "$1" <<'PY'
import collections, json, sys
n = int(sys.argv[1])
seen, bad = collections.Counter(), 0
for l in open("out.jsonl"):
    v = json.loads(l)
    o = v["_aic_origin"]
    seen[(o["source"], o["epoch"], o["line"])] += 1
    bad += o["source"] != "lines" or o["epoch"] != 0 or v["i"] != o["line"] - 1 or v["sq"] != v["i"] ** 2
want = {("lines", 0, i) for i in range(1, n + 1)}
print(len(seen), sum(c - 1 for c in seen.values()), len(want - set(seen)), bad + len(set(seen) - want))
PY
}

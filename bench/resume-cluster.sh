#!/bin/sh
# Checkpoint-and-exit and resume of examples/grpo-toy on the local cluster
# (scripts/minicluster up, its env; one node is enough), beside the same
# job's cold start and SLURM's own teardown, in the same run. Each
# repetition submits grpo-toy with `aic submit` (its batch script, as users
# get it; more epochs, so that the job is still training when the notice
# comes) and polls, every 10 ms, squeue and the trainer's log:
#   cold start    the job started (squeue's CONFIGURING or RUNNING) -> the
#                 trainer's first "step" line;
#   exit          after step 3, the notice (`scancel -b -s USR1`, what
#                 --signal=B:USR1 sends before a time limit) -> the job no
#                 longer RUNNING or COMPLETING: every stage checkpointed,
#                 aic-launch ended, the batch script requeued the job and
#                 SLURM released the allocation;
#   resume        the requeued job started again (its ~2-minute BeginTime
#                 cut short with StartTime=now+1, as SLURM's delay is none
#                 of aic's; +1: tests/lib/cluster.sh, start_requeued, says
#                 why not now) -> the trainer's "resumed from
#                 version" line (the checkpoint loaded), and -> its first
#                 step after it (workers running from the checkpoint);
#   cancel        then `scancel` of the resumed job -> no longer RUNNING or
#                 COMPLETING: SLURM ending the same job without a
#                 checkpoint, the baseline for exit.
# Cold start always comes before its resume and exit before cancel: they
# are the same job's, in that order. Prints one JSON line per repetition.
#
#   bench/resume-cluster.sh [REPS]     (default 5)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
reps=${1:-5}
py=/usr/bin/python3
scontrol ping >/dev/null || { echo "bench: no cluster (scripts/minicluster up; eval its env)" >&2; exit 1; }
$py -c 'import numpy, matplotlib' 2>/dev/null ||
	{ echo "bench: Debian's python3-numpy or python3-matplotlib is missing (scripts/deps)" >&2; exit 1; }
export AIC_LIBRARY="${AIC_LIBRARY:-$build/lib/.libs/libaic.so}" PYTHONPATH="$top/python"
export PATH="$build/launcher:$PATH"
work=$(mktemp -d "$build/bench-resume.XXXXXX")
job=
cleanup() {
	[ -n "$job" ] || [ ! -s "$work/job" ] || job=$(cat "$work/job")
	[ -z "$job" ] || scancel "$job" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

for rep in $(seq "$reps"); do
	d=$work/rep-$rep
	mkdir -p "$d"
	cp -r "$top/examples/grpo-toy/." "$d"
	chmod -R u+w "$d"
	sed -i 's/epochs: [0-9]*/epochs: 40/' "$d/job.yaml"
	grep -q 'epochs: 40,' "$d/job.yaml" || { echo "bench: job.yaml has no 'epochs:' to lengthen" >&2; exit 1; }
	cd "$d"
	# The poller submits, so that it is polling before SLURM can start the job.
	$py - "$rep" "$work/job" <<'PY' || { tail -n 30 "$d/job.out" >&2; exit 1; }
import json, os, subprocess, sys, time

rep = int(sys.argv[1])
out = subprocess.run(["aic", "submit", "job.yaml", "--parsable", "-o", os.path.abspath("job.out")],
                     capture_output=True, text=True)
job = out.stdout.strip().split("\n")[-1]
if out.returncode or not job.isdigit():
    sys.exit("bench: aic submit failed: %s%s" % (out.stdout, out.stderr))
with open(sys.argv[2], "w") as f:  # for the shell's cleanup
    f.write(job)
log = ".aic/%s.0/logs/train.0.log" % job


def state():
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True,
                          text=True).stdout.strip()


# What squeue says of a job that has ended (or nothing, once it has gone).
ENDED = ("", "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
         "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT")


def until(what, test, limit=180, live=False):
    """Polls test() every 10 ms; returns the monotonic time it first held.

    live: what is awaited needs the job running, so a job that has ended
    (asked every second) fails the wait at once rather than at its limit.
    """
    deadline = time.monotonic() + limit
    asked = time.monotonic()
    while True:
        now = time.monotonic()
        if test():
            return now
        if now > deadline:
            sys.exit("bench: %s not within %d s (job %s is '%s')" % (what, limit, job, state()))
        if live and now - asked >= 1:
            asked, st = now, state()
            if st in ENDED and not test():
                sys.exit("bench: %s: job %s ended first ('%s'; %s)" % (what, job, st, log))
        time.sleep(0.01)


def lines(prefix):
    try:
        with open(log) as f:
            return [l for l in f if l.startswith(prefix)]
    except OSError:
        return []


def released():
    return state() not in ("RUNNING", "COMPLETING")


def started():
    """The allocation granted: CONFIGURING while prologs run, then RUNNING."""
    return state() in ("CONFIGURING", "RUNNING")


# The first state seen: PENDING, or the cold start's sample is short.
first_state = state()
start = until("the job running", started)
first = until("the first step", lambda: lines("step "), live=True)
until("step 3", lambda: len(lines("step ")) >= 3, live=True)
subprocess.run(["scancel", "-b", "-s", "USR1", job], check=True)
notice = time.monotonic()
gone = until("the allocation released", released)
runs = json.load(open(".aic/%s.0/state.json" % job))["runs"]
if runs[-1]["state"] != "checkpointed":
    sys.exit("bench: the job ended '%s', not checkpointed: %s" % (runs[-1]["state"],
                                                                   runs[-1].get("reason")))
until("the job requeued", lambda: state() == "PENDING", 60)
subprocess.run(["scontrol", "update", "JobId=" + job, "StartTime=now+1"], check=True)
steps = len(lines("step "))
start2 = until("the requeued job running", started)
loaded = until("the checkpoint loaded", lambda: lines("resumed from version"), live=True)
resumed = until("a step after the resume", lambda: len(lines("step ")) > steps, live=True)
subprocess.run(["scancel", job], check=True)
cancel = time.monotonic()
gone2 = until("the cancelled job's allocation released", released)
ms = lambda a, b: round(1000 * (b - a), 1)
print(json.dumps({"what": "resume", "rep": rep, "cold_start_ms": ms(start, first),
                  "exit_ms": ms(notice, gone), "resume_loaded_ms": ms(start2, loaded),
                  "resume_step_ms": ms(start2, resumed), "cancel_ms": ms(cancel, gone2),
                  "steps_before": steps, "first_state": first_state, "resumed_at": lines("resumed from version")[0].strip()}))
PY
	job=$(cat "$work/job")
	while squeue -h -j "$job" 2>/dev/null | grep -q .; do sleep 0.2; done
	job=
	rm -f "$work/job"
	cd "$work"
done

"""A stage of an alternating pair (colocate_with: {stage, mode: alternate}) for
the phase tests (tests/python/phases.sh, tests/integration/phases.sh).

  ROLE=train    publishes version 1 of stream "w" (rank or replica 0), then
                TURNS turns: each takes the GPUs, works WORK_S seconds, and
                (rank or replica 0) publishes version K + 2; a gang's ranks also wait for each other inside
                every turn (a barrier of files in AIC_JOB_DIR), as a
                collective would, so ranks let in one by one never finish
  ROLE=rollout  TURNS turns: each takes the GPUs, receives "w" (min_version 0:
                whatever the agent gives first) and works up to BATCHES
                batches of BATCH_S seconds, asking w.phase_should_yield()
                after each and ending the turn at the first yes

Every turn is one line on stdout, for the test to read from the job's logs:

  turn STAGE INDEX K BEGIN END ASK VERSION BATCHES YESES GPUS

BEGIN: when the turn began (after the grant), END: when it ended (before
the yield), ASK: when it was asked for, all time.time_ns(); VERSION: the
weights version the turn published (train) or received first (rollout);
BATCHES: the batches it worked; YESES: how many should_yield polls said yes
(a rollout ends at its first); GPUS: NODE:INDEX,... from AIC_NODE and
CUDA_VISIBLE_DEVICES.

CRASH_AT=K: the process kills itself (SIGKILL) inside its turn K on its first
run (no file crashed.STAGE.INDEX in AIC_JOB_DIR yet), holding the GPUs.
"""
import os
import signal
import sys
import time

import aic

ROLE = os.environ.get("ROLE", "train")
TURNS = int(os.environ.get("TURNS", "5"))
WORK_S = float(os.environ.get("WORK_S", "0.05"))
BATCHES = int(os.environ.get("BATCHES", "3"))
BATCH_S = float(os.environ.get("BATCH_S", "0.02"))
CRASH_AT = int(os.environ.get("CRASH_AT", "-1"))
JOB_DIR = os.environ.get("AIC_JOB_DIR", ".")


def gpus():
    """This process's GPUs as NODE:INDEX,... (indices repeat from node to node)."""
    node = os.environ.get("AIC_NODE", "-")
    return ",".join("%s:%s" % (node, g) for g in os.environ.get("CUDA_VISIBLE_DEVICES", "-").split(","))


def barrier(w, k):
    """Waits until every rank of the gang is inside turn k (files, as a collective would)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return
    d = os.path.join(JOB_DIR, "barrier")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "%d.%d" % (k, w.index)), "w").close()
    deadline = time.monotonic() + 60
    while not all(os.path.exists(os.path.join(d, "%d.%d" % (k, r))) for r in range(world)):
        if time.monotonic() > deadline:
            sys.exit("rank %d: the gang's other ranks never came into turn %d" % (w.index, k))
        time.sleep(0.005)


def maybe_crash(w, k):
    mark = os.path.join(JOB_DIR, "crashed.%s.%d" % (w.stage, w.index))
    if k == CRASH_AT and not os.path.exists(mark):
        open(mark, "w").close()
        print("crashing in turn %d" % k, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def main():
    w = aic.connect()
    stream = w.weights("w")
    version = 1
    if ROLE == "train" and w.index == 0:
        stream.publish({"v": [version]}, version)  # outside any turn: rollout may go first
    for k in range(TURNS):
        ask = time.time_ns()
        w.phase_begin()
        begin = time.time_ns()
        batches = yeses = 0
        if ROLE == "train":
            barrier(w, k)
            maybe_crash(w, k)
            time.sleep(WORK_S)
            version = k + 2
            if w.index == 0:
                stream.publish({"v": [version]}, version)
        else:
            _, version = stream.receive(min_version=0, timeout=60)
            maybe_crash(w, k)
            while batches < BATCHES:
                time.sleep(BATCH_S)
                batches += 1
                if w.phase_should_yield():
                    yeses += 1
                    break
        end = time.time_ns()
        w.phase_end()
        print("turn %s %d %d %d %d %d %d %d %d %s" % (w.stage, w.index, k, begin, end, ask,
                                                      version, batches, yeses, gpus()),
              flush=True)
    w.close()


if __name__ == "__main__":
    main()

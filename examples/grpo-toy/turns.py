"""Turns on shared GPUs for grpo-toy's alternate mode (job-alternate.yaml:
rollout has colocate_with: {stage: train, mode: alternate}, and both stages
PHASES=alternate). Without PHASES=alternate every call here does nothing,
so rollout.py and train.py run as in job.yaml.

A rollout replica holds the GPUs for a turn of up to QUOTA groups, ends it
early when training waits (w.phase_should_yield()), then waits for the next
weights outside its turn; a training rank holds them for one step (a gang's
ranks go in together). Each turn is a line in the process's log,

  turn STAGE INDEX K BEGIN END ASK VERSION GROUPS YIELDED GPUS

(time.time_ns(); GPUS as NODE:INDEX,...; the format of tests/lib/workers/phase_turns.py, which
tests/lib/phase_check.py reads).
"""
import os
import time

ON = os.environ.get("PHASES") == "alternate"


def gpus():
    """This process's GPUs as NODE:INDEX,... (indices repeat from node to node)."""
    node = os.environ.get("AIC_NODE", "-")
    return ",".join("%s:%s" % (node, g) for g in os.environ.get("CUDA_VISIBLE_DEVICES", "-").split(","))


class Turns:
    def __init__(self, w):
        self.w, self.k, self.holding = w, 0, False
        self.on = ON
        self.ask = self.begin_ns = 0

    def begin(self):
        """Takes the GPUs (blocks until this stage holds them); True when a turn began."""
        if not self.on or self.holding:
            return False
        self.ask = time.time_ns()
        self.w.phase_begin()
        self.begin_ns = time.time_ns()
        self.holding = True
        return True

    def should_yield(self):
        return self.on and self.holding and self.w.phase_should_yield()

    def end(self, version, work=0, yielded=False):
        """Gives the GPUs up (on a GPU: free device memory, or put the engine to sleep, first)."""
        if not self.holding:
            return
        end = time.time_ns()
        self.holding = False
        self.w.phase_end()
        print("turn %s %d %d %d %d %d %d %d %d %s" % (
            self.w.stage, self.w.index, self.k, self.begin_ns, end, self.ask, version, work,
            int(yielded), gpus()), flush=True)
        self.k += 1

"""Rollout: samples a group of answers per prompt from the current policy.

Reads prompts (the spec's JSONL source), writes one item per prompt to
`samples` with all GROUP answers, tagged with the weights version that made
them, and acks the prompt only after that put: a replica killed in between
loses nothing (aic redelivers the prompt; train drops the second group by
its origin, the prompt's line).

A replica does not run more than one version ahead of the trainer: after its
share of a training step (QUOTA groups) it waits for the next weights. That
keeps samples on-policy enough for max_staleness: 1, under which aic drops
samples made with weights two versions old (and their prompts would be lost).
It takes the next share's prompts before that wait, while the trainer trains,
so that the new weights' share starts without a round trip for its prompts.

A replica keeps no state worth saving: asked for a checkpoint, it says so
at once (checkpoint_done(None)), and a later run starts it afresh with the
newest weights. A later run reads again only the prompts
whose training the trainer's checkpoint does not hold: aic keeps the
source's progress with each checkpoint.
"""
import json
import os
import time

import numpy as np

import aic
import policy
import turns

GROUP = int(os.environ.get("GROUP", "8"))
QUOTA = int(os.environ.get("QUOTA", "8"))
# How long to wait for new weights before going on with the old ones: the
# trainer may be short of groups at the end of an epoch or after a restart.
WAIT_S = float(os.environ.get("WEIGHTS_WAIT_S", "2"))
# Seconds of pretend generation per group: a real rollout engine is the slow
# stage of RL; this makes the toy's run long enough to watch (aic status).
GEN_DELAY_S = float(os.environ.get("GEN_DELAY_S", "0"))


def checkpoint(w):
    """Asked for a checkpoint: nothing to save (the job's sources are not held back)."""
    if w.checkpoint_requested():
        w.checkpoint_done(None)


def main():
    w = aic.connect()
    stream = w.weights("policy")
    params, version = stream.receive(min_version=1, timeout=120)
    rng = np.random.default_rng([w.replica, os.getpid()])
    made = 0  # groups made with `version`
    done = 0
    turn = turns.Turns(w)
    while True:
        if turn.begin():  # alternate mode: a turn on the GPUs, with the newest weights
            params, version = stream.receive(min_version=version, timeout=120)
            made = 0
        try:
            # The rest of this version's share at once, or once it is made
            # the next version's: one round trip for the batch, and never
            # more prompts than the step needs.
            items = w.get("prompts", max_items=QUOTA - made if made < QUOTA else QUOTA, timeout=1)
        except aic.Closed:
            break
        if not items:
            checkpoint(w)
            if turn.should_yield():  # nothing to do: training may have the GPUs
                turn.end(version, made, True)
            continue
        if made >= QUOTA and not turn.on:
            # This version's share is made: wait for the next weights before
            # answering more prompts. The prompts are taken first, while the
            # trainer trains: when the weights come, the next share starts
            # at once, without a round trip for its prompts.
            try:
                params, version = stream.receive(min_version=version + 1, timeout=WAIT_S)
                made = 0
            except TimeoutError:
                pass
        elif made:  # newer weights already (the trainer stepped early)? (made 0: just received)
            try:
                params, version = stream.receive(min_version=version + 1, timeout=0)
                made = 0
            except TimeoutError:
                pass
        # Before the puts, after any wait for weights: after a SIGTERM the
        # reward stage answers and goes, and a put into the full samples
        # channel would then never return.
        checkpoint(w)
        prompts = [json.loads(it.data) for it in items]
        p = policy.probs(params, policy.encode(prompts))
        for prompt, row in zip(prompts, p):
            answers = rng.choice(policy.ANSWERS, size=GROUP, p=row)
            if GEN_DELAY_S:  # time.sleep(0) still gives the core away: not at 0
                time.sleep(GEN_DELAY_S)
            out = dict(prompt, answers=answers.tolist(), version=version)
            w.put("samples", json.dumps(out).encode(), version=version)
        # Puts are pipelined, and the ack goes after them on the same
        # connection: the agent has taken the groups (and keeps a put still
        # waiting for room, also if this replica dies) before it hears of
        # the ack, so acking without waiting for them cannot lose them
        # (reward.py does the same).
        w.ack(items)
        made += len(items)
        done += len(items)
        yielded = turn.should_yield()
        if turn.holding and (made >= QUOTA or yielded):
            turn.end(version, made, yielded)
            try:  # the next turn waits for the step training takes now, outside the GPUs
                stream.receive(min_version=version + 1, timeout=WAIT_S)
            except TimeoutError:
                pass
    print("rollout %d: %d prompts, last weights version %d" % (w.replica, done, version), flush=True)


if __name__ == "__main__":
    main()

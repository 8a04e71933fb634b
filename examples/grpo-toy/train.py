"""Train: a gang of ranks doing GRPO on the scored groups, weights to rollout.

Every step each rank takes up to BATCH/WORLD_SIZE groups from `scored`; the
ranks exchange which prompts they hold (collective.Gang, over MASTER_ADDR:
MASTER_PORT), drop groups already trained on (a prompt line read again, after
a node was lost or on resume, makes a second group of the same origin: the
source's pass and line), compute the policy gradient of
their own groups and sum the gradients over the gang, so every rank applies
the same update and holds the same weights. Rank 0 publishes them as the
next version (also after a step whose groups were all duplicates: the same
weights, so that rollout, which waits for a version after its share of a
step, goes on at once), logs the step's mean reward, and writes reward.csv and
reward.png into OUT_DIR (default: AIC_JOB_DIR, the job's
directory under aic).

Checkpoints: when aic asks (the job's time limit is near, or `aic stop
--checkpoint`), the ranks agree on it in the step's all-gather, each saves
its state after the step (weights, version, what it has trained on, and on
rank 0 the reward history) under AIC_CHECKPOINT_DIR and reports the
weights version as the checkpoint's; then they wait for the job's end. A
later run loads the checkpoint AIC_RESUME names, publishes those weights
again and goes on from the next step: the reward curve and the step
numbers continue. The ranks ack a step's groups before they save (so the
state holds every prompt acked) and, once every rank's acks are in
(sync_acks), call checkpoint_begin(): aic then reads again only the
prompts done after that (at least once: one trained on already is
dropped as a duplicate). STEP_DELAY_S (default 0)
lengthens each step, for tests that need a run longer than an allocation.
CKPT_EVERY=N (default 0: never) also saves, unasked, every N weight
versions, so that a job killed without notice resumes from there.

The update is GRPO's without the clipping: with one update per batch and
samples at most one version old the probability ratio stays near 1, so the
objective reduces to sum over groups of mean_i A_i * log pi(y_i | x), with
the group-relative advantage A_i = (r_i - mean(r)) / (std(r) + eps).
"""
import json
import math
import os
import sys
import time

import numpy as np

import aic
import collective
import policy
import turns

BATCH = int(os.environ.get("BATCH", "16"))  # groups per step, all ranks together
LR = float(os.environ.get("LR", "4"))
# A rank that waits this long for its share of the step's groups takes part
# in the step with what it has: at the end of the data, or while a rollout
# replica restarts.
IDLE_S = float(os.environ.get("IDLE_S", "0.5"))
OUT_DIR = os.environ.get("OUT_DIR") or os.environ.get("AIC_JOB_DIR", ".")
STEP_DELAY_S = float(os.environ.get("STEP_DELAY_S", "0"))
CKPT_EVERY = int(os.environ.get("CKPT_EVERY", "0"))
EPS = 1e-6


def ckpt_path(d, rank, version):
    return os.path.join(d, "rank%d.%d.json" % (rank, version))


def save(d, rank, state):
    """Writes the state durably (a new file, fsync, rename): aic counts it once reported."""
    path = ckpt_path(d, rank, state["version"])
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(path + ".tmp", path)
    fd = os.open(d, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def group_gradient(params, groups):
    """Sum over groups of the mean over samples of A_i * d log pi(y_i|x) / dW."""
    grad = np.zeros_like(params["W"])
    if not groups:
        return grad
    x = policy.encode(groups)
    p = policy.probs(params, x)
    for xi, pi, g in zip(x, p, groups):
        r = np.asarray(g["rewards"])
        adv = (r - r.mean()) / (r.std() + EPS)
        # d log softmax(z)_y / dz = onehot(y) - p, for each sample.
        dz = -np.outer(adv, pi)
        dz[np.arange(len(r)), g["answers"]] += adv
        grad += np.outer(xi, dz.mean(axis=0))
    return grad


def new_here(keys, seen):
    """Per key [epoch, line, id]: its prompt item is neither in seen nor earlier in keys."""
    here, out = set(), []
    for epoch, line, _ in keys:
        out.append((epoch, line) not in seen and (epoch, line) not in here)
        here.add((epoch, line))
    return out


def step_sums(params, groups, new, version):
    """What the gang sums in a step: the gradient of the new groups, then the sum of their
    mean rewards, their number and the sum of their version lags."""
    mine = [g for g, n in zip(groups, new) if n]
    return np.concatenate([group_gradient(params, mine).ravel(),
                           [sum(np.mean(g["rewards"]) for g in mine), len(mine),
                            sum(version - g["version"] for g in mine)]])


def exchange(gang, params, version, groups, keys, seen, per_id, meta):
    """The step's exchange in the gang: (parts, fresh, total, duplicates).

    Every rank gives its groups and their keys [epoch, line, id] (a group's
    origin is its prompt's line: (pass, line) of the source), and meta;
    parts is every rank's meta (with its keys) in rank order. A prompt item
    is trained on once: by the first holder in rank order, unless it is in
    seen already; seen and per_id take in the step's new ones, every rank
    reaching the same verdict. fresh says which of this rank's groups are
    new, total is step_sums() over every rank's new groups, and duplicates
    counts the groups dropped.

    Each rank's gradient goes with its keys, over the groups new as far as
    it can tell (new_here), so a step costs the gang one round trip; only
    when another rank holds the same prompt item in this step (after a
    redelivery) is the verdict not that guess, and a second exchange sums
    the right groups.
    """
    parts = gang.allgather(dict(meta, keys=keys),
                           step_sums(params, groups, new_here(keys, seen), version))
    guesses = [new_here(m["keys"], seen) for m, _ in parts]
    verdict, dups = [], 0
    for m, _ in parts:
        verdict.append([])
        for epoch, line, prompt_id in m["keys"]:
            new = (epoch, line) not in seen
            if new:
                seen.add((epoch, line))
                per_id[prompt_id] = per_id.get(prompt_id, 0) + 1
            else:
                dups += 1
            verdict[-1].append(new)
    fresh = verdict[gang.rank]
    if verdict == guesses:
        total = np.sum([a for _, a in parts], axis=0)
    else:
        total = gang.allreduce(step_sums(params, groups, fresh, version))
    return parts, fresh, total, dups


def sync_acks(w, gang):
    """Before a rank marks its checkpoint: every rank's acks of the step are in.

    A rank's mark (checkpoint_begin) counts the lines whose items were all
    acked before it, by any rank; the rest are read again on resume. A
    group's line is one tree with items held by both ranks (reward scores
    a batch of both replicas' samples at once, each group tied to every
    sample of the batch), so a rank that marked before the other's ack
    came counted none of the step's lines done: a resumed run read the
    whole step again and spent its first step on duplicates. Each rank's
    poll is a round trip (a real one once asked: lib/worker/checkpoint.c)
    that its agent answers after its acks; the all-gather then holds every
    rank until every rank's acks are in, so the marks come after all of
    them. (An unasked save, CKPT_EVERY, may poll without a round trip: its
    mark may still miss another rank's acks, and a resume then reads them
    again, as before.)
    """
    w.checkpoint_requested()
    gang.allgather(None)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r[0] for r in rows], [r[1] for r in rows], marker=".")
    ax.axhline(1 / policy.ANSWERS, color="gray", ls="--", lw=1, label="chance")
    ax.set_xlabel("training step")
    ax.set_ylabel("mean reward")
    ax.set_ylim(0, 1.05)
    ax.set_title("grpo-toy: a+b mod 10")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    gang = collective.Gang()
    w = aic.connect()
    stream = w.weights("policy")
    params = policy.init()
    version = 1
    seen = set()  # prompt items (pass, line) trained on, the same on every rank
    per_id = {}  # prompt id -> times trained on (once per epoch)
    dups = 0
    rows = []  # (step, mean reward, seconds, groups, mean version lag)
    t0 = time.monotonic()
    resume = aic.resume()
    if resume is not None:
        with open(ckpt_path(aic.checkpoint_dir(), gang.rank, resume)) as f:
            st = json.load(f)
        params, version = {"W": np.asarray(st["W"])}, st["version"]
        seen = set(tuple(k) for k in st["seen"])
        per_id = {int(k): v for k, v in st["per_id"].items()}
        dups, rows = st["dups"], [tuple(r) for r in st["rows"]]
        t0 -= rows[-1][2] if rows else 0
        print("resumed from version %d, step %d" % (version, len(rows)), flush=True)
    if gang.rank == 0:
        stream.publish(params, version)
    per_rank = math.ceil(BATCH / gang.world)
    turn = turns.Turns(w)
    closed = False
    while True:
        # Polled while the step's groups are still to come: the poll is a
        # round trip, off the step's path here. (What a resumed run reads
        # again goes by checkpoint_begin() below, not by this poll.)
        ckpt = w.checkpoint_requested()
        held = []
        while not closed and len(held) < per_rank:
            # One get waits for all the groups the step still needs
            # (min_items), one round trip where a get per group that came
            # made several. It gives fewer at IDLE_S (then the step goes on
            # with them: no later than IDLE_S after the last group came, as
            # before), when the channel is full, or at its end.
            want = per_rank - len(held)
            asked = time.monotonic()
            try:
                items = w.get("scored", max_items=want, min_items=want, timeout=IDLE_S)
            except aic.Closed:
                closed = True
                break
            held += items
            if not items or (len(items) < want and time.monotonic() - asked >= IDLE_S):
                break
        groups = [json.loads(it.data) for it in held]
        # A group's origin is its prompt's line: (pass, line) of the source.
        keys = [[it.origin["epoch"], it.origin["line"], g["id"]] for it, g in zip(held, groups)]
        turn.begin()  # alternate mode: the step on the GPUs, every rank at once
        # One rank may hear of a checkpoint before another: all save at the same step.
        parts, fresh, total, d = exchange(gang, params, version, groups, keys, seen, per_id,
                                          {"closed": closed, "ckpt": ckpt})
        dups += d
        mine = [g for g, new in zip(groups, fresh) if new]
        grad, (reward_sum, n, lag) = total[:-3].reshape(params["W"].shape), total[-3:]
        if n > 0:
            params = {"W": params["W"] + LR * grad}
            version += 1
            if gang.rank == 0:
                stream.publish(params, version)
                row = (len(rows) + 1, reward_sum / n, time.monotonic() - t0, int(n), lag / n)
                rows.append(row)
                w.metric("reward", row[1], row[0])  # .aic/latest/metrics.jsonl, summary.json
                w.metric("version_lag", row[4], row[0])
                print("step %d reward %.3f groups %d lag %.2f t %.1fs" %
                      (row[0], row[1], row[3], row[4], row[2]))
                sys.stdout.flush()
        elif any(m["keys"] for m, _ in parts):
            # Every group of the step was trained on before (prompts read again
            # on resume, or after a replica was lost): no update, but the same
            # weights as the next version, which tells rollout that its share
            # was taken. Rollout waits for a version after its share; without
            # one it would wait WEIGHTS_WAIT_S while this gang waited for it.
            version += 1
            if gang.rank == 0:
                stream.publish(params, version)
                print("version %d: the same weights, every group of the step trained on before"
                      % version, flush=True)
        turn.end(version, len(mine))
        w.ack(held)
        asked = any(meta["ckpt"] for meta, _ in parts)
        if asked or (CKPT_EVERY and n > 0 and version % CKPT_EVERY == 0):
            sync_acks(w, gang)
            w.checkpoint_begin()  # the state saved holds every group acked so far
            save(aic.checkpoint_dir(), gang.rank,
                 {"W": params["W"].tolist(), "version": version, "seen": sorted(seen),
                  "per_id": per_id, "dups": dups, "rows": rows})
            # Said before checkpoint_done: once every stage is done, the job
            # may end at once (on SLURM's SIGTERM it does), this process too.
            print("checkpoint at step %d, version %d" % (len(rows), version), flush=True)
            w.checkpoint_done(version)
            while asked:  # the job ends now; what would come next is the next run's
                time.sleep(1)
        if all(meta["closed"] for meta, _ in parts):
            break
        if STEP_DELAY_S:  # time.sleep(0) still gives the core away: not at 0
            time.sleep(STEP_DELAY_S)
    gang.close()
    if gang.rank != 0:
        return
    with open(os.path.join(OUT_DIR, "reward.csv"), "w") as f:
        f.write("step,mean_reward,time_s,groups,version_lag\n")
        for r in rows:
            f.write("%d,%.4f,%.3f,%d,%.2f\n" % r)
    if rows:
        plot(rows, os.path.join(OUT_DIR, "reward.png"))
    k = max(1, min(5, len(rows) // 4))
    first = np.mean([r[1] for r in rows[:k]]) if rows else 0.0
    last = np.mean([r[1] for r in rows[-k:]]) if rows else 0.0
    counts = sorted(per_id.values()) or [0]
    # One line of `name value` pairs, for people and tests: "prompts" counts
    # prompt items (lines x epochs) trained on, each once whatever happened.
    print("summary: steps %d prompts %d ids %d min-per-id %d max-per-id %d duplicates %d "
          "exchanges %d reward-first %.3f reward-last %.3f seconds %.1f" %
          (len(rows), len(seen), len(per_id), counts[0], counts[-1], dups, gang.exchanges,
           first, last, time.monotonic() - t0))

if __name__ == "__main__":
    main()

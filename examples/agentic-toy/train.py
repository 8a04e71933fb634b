"""The GRPO trainer: each group's rewards, normalised within the group, weight the
gradient of the chosen programs' log-probabilities; a step of BATCH groups updates the
logits and publishes them as the next weight version, which the policy service loads."""
import json
import os

import aic
import numpy as np

import tasks

BATCH = int(os.environ.get("BATCH", "4"))
LR = float(os.environ.get("LR", "4"))

w = aic.connect()
stream = w.weights("policy")
logits = np.zeros((len(tasks.TASKS), len(tasks.BODIES)))
step, batch = 0, []


def update(groups):
    global logits
    grad = np.zeros_like(logits)
    for g in groups:
        r = np.array(g["rewards"])
        if r.std() == 0:
            continue
        adv = (r - r.mean()) / r.std()
        row = logits[g["task"]]
        p = np.exp(row - row.max())
        p /= p.sum()
        for c, a in zip(g["choices"], adv):
            onehot = np.zeros_like(p)
            onehot[c] = 1
            grad[g["task"]] += a * (onehot - p) / len(r)
    logits = logits + LR * grad / len(groups)


stream.publish({"logits": logits}, 1)
while True:
    try:
        items = w.get("groups", max_items=BATCH - len(batch), timeout=1)
    except aic.Closed:
        break
    batch += [json.loads(it.data) for it in items]
    w.ack(items)
    if len(batch) < BATCH:
        continue
    step += 1
    mean = float(np.mean([np.mean(g["rewards"]) for g in batch]))
    w.metric("reward", mean, step)
    print("step %d reward %.3f versions %s" % (step, mean, sorted({g["version"] for g in batch})),
          flush=True)
    update(batch)
    stream.publish({"logits": logits}, step + 1)
    batch = []
print("train: %d steps" % step, flush=True)

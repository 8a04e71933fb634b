"""grpo-toy's training loop in one process, without aic: the compute baseline.

    python3 bench/grpo_inproc.py EXAMPLE-DIR [EPOCHS]

The same work per step as examples/grpo-toy under aic: BATCH prompts (in
the source's order, EPOCHS passes over prompts.jsonl), GROUP answers
sampled from the current policy for each (rollout.py), a 0/1 reward per
answer (reward.py), train.py's group_gradient and update, with the same
policy.py and the same BATCH, GROUP and LR (read from job.yaml's env), but
no channels, no weight stream, no gang, no JSON in between, no pretend
generation delay. Prints one JSON line: steps, groups, loop seconds, steps/s and
the mean reward of the first and last 5 steps.
"""
import json
import os
import sys
import time
import types

import grpo_spec  # bench/, beside this script

example = os.path.abspath(sys.argv[1])
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else None
sys.path.insert(0, example)
# train.py imports aic and collective for its main(); group_gradient needs neither.
sys.modules.setdefault("aic", types.ModuleType("aic"))
sys.modules.setdefault("collective", types.ModuleType("collective"))

import numpy as np  # noqa: E402

import policy  # noqa: E402
import train  # noqa: E402


def main():
    batch, group, lr, n_epochs = grpo_spec.job(example, epochs)
    prompts = [json.loads(line) for line in open(os.path.join(example, "prompts.jsonl"))]
    stream = prompts * n_epochs
    rng = np.random.default_rng(0)
    params = policy.init()
    rewards = []
    t0 = time.monotonic()
    for s in range(0, len(stream), batch):
        chunk = stream[s:s + batch]
        p = policy.probs(params, policy.encode(chunk))
        groups = []
        for prompt, row in zip(chunk, p):
            answers = rng.choice(policy.ANSWERS, size=group, p=row)
            groups.append(dict(prompt, answers=answers.tolist(),
                               rewards=[policy.correct(prompt, a) for a in answers]))
        params = {"W": params["W"] + lr * train.group_gradient(params, groups)}
        rewards.append(float(np.mean([np.mean(g["rewards"]) for g in groups])))
    t = time.monotonic() - t0
    print(json.dumps({"what": "grpo in-process", "steps": len(rewards), "groups": len(stream),
                      "seconds": round(t, 4),
                      "steps_per_s": round(len(rewards) / t, 1),
                      "reward_first": round(float(np.mean(rewards[:5])), 3),
                      "reward_last": round(float(np.mean(rewards[-5:])), 3)}))


if __name__ == "__main__":
    main()

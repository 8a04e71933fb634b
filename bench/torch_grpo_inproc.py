"""examples/torch-grpo's training loop in one process, without aic: the baseline.

    python3 bench/torch_grpo_inproc.py EXAMPLE-DIR STEPS

The same work per step as examples/torch-grpo under aic: BATCH prompts,
GROUP answers each sampled with the current policy (policy.sample, as
rollout.py does), checked (policy.correct, as reward.py), GRPO's loss and
an Adam step (as train.py, on one process instead of a 2-rank gang), with
the same policy.py and the same BATCH, GROUP and LR (read from job.yaml's
env), but no channels, no weight stream, no JSON, no gang. One torch
thread, as each process of the example has. Prints one JSON line: steps,
loop seconds, steps/s and the mean reward of the first and last 5 steps.
"""
import json
import os
import re
import sys
import time

example = os.path.abspath(sys.argv[1])
steps = int(sys.argv[2])
sys.path.insert(0, example)

import torch  # noqa: E402

import policy  # noqa: E402


def spec_value(text, key):
    m = re.search(r"\b%s: ([0-9.e-]+)" % key, text)
    if not m:
        sys.exit("torch_grpo_inproc: no '%s:' in job.yaml" % key)
    return float(m.group(1))


def main():
    torch.set_num_threads(1)
    spec = open(os.path.join(example, "job.yaml")).read()
    batch, group = int(spec_value(spec, "BATCH")), int(spec_value(spec, "GROUP"))
    model = policy.Policy()
    opt = torch.optim.Adam(model.parameters(), lr=spec_value(spec, "LR"))
    gen = torch.Generator().manual_seed(1)
    rewards = []
    t0 = time.monotonic()
    for _ in range(steps):
        x = policy.prompts(batch, gen)
        y = policy.sample(model, x, group, gen)
        c = policy.correct(x, y)
        opt.zero_grad()
        (policy.loss(model, x, y, c) / batch).backward()
        opt.step()
        rewards.append(c.mean().item())
    t = time.monotonic() - t0
    print(json.dumps({"what": "torch-grpo in-process", "steps": steps, "seconds": round(t, 4),
                      "steps_per_s": round(steps / t, 3),
                      "reward_first": round(sum(rewards[:5]) / 5, 3),
                      "reward_last": round(sum(rewards[-5:]) / 5, 3)}))


if __name__ == "__main__":
    main()

"""Rollout on a GPU: samples GROUP answers per prompt with the newest policy.

The same protocol as examples/grpo-toy/rollout.py (ack after put, at most
one version ahead of the trainer), with the policy on CUDA. aic sets
CUDA_VISIBLE_DEVICES to this replica's GPU, so it is cuda:0 here.
"""
import json
import os

import torch

import aic
from model import Policy, prompts_to_tensors, receive_weights

GROUP = int(os.environ.get("GROUP", "8"))
QUOTA = int(os.environ.get("QUOTA", "16"))


@torch.no_grad()
def main():
    device = torch.device("cuda", 0)
    w = aic.connect()
    stream = w.weights("policy")
    model = Policy().to(device).eval()
    version = receive_weights(stream, model, 1, timeout=300)
    made = 0
    while True:
        try:
            items = w.get("prompts", max_items=QUOTA, timeout=10)
        except aic.Closed:
            break
        if not items:
            continue
        try:  # wait for the next version once this one made our share of a step
            version = receive_weights(stream, model, version + 1,
                                      timeout=2 if made >= QUOTA else 0)
            made = 0
        except TimeoutError:
            pass
        prompts = [json.loads(it.data) for it in items]
        probs = torch.softmax(model(*prompts_to_tensors(prompts, device)), dim=-1)
        answers = torch.multinomial(probs, GROUP, replacement=True).cpu().tolist()
        for i, (it, p, ans) in enumerate(zip(items, prompts, answers)):
            out = dict(p, key=list(it.key()), answers=ans, version=version)
            w.put("samples", json.dumps(out).encode(), version=version, wait=i == len(items) - 1)
        w.ack(items)
        made += len(items)


if __name__ == "__main__":
    main()

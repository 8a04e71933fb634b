"""Rollout on a GPU: samples GROUP answers per prompt with the newest policy.

The same protocol as examples/grpo-toy/rollout.py (ack after put, at most
one version ahead of the trainer), with the policy on CUDA. aic sets
CUDA_VISIBLE_DEVICES to this replica's GPU, so it is cuda:0 here.
"""
import json
import os

import torch

import aic
from model import Policy, prompts_to_tensors, receive_weights, receive_weights_host

GROUP = int(os.environ.get("GROUP", "8"))
QUOTA = int(os.environ.get("QUOTA", "16"))
# job-alternate.yaml: rollout shares the trainer's GPUs in turns (doc/aic-job.5, PHASES).
ALTERNATE = os.environ.get("PHASES") == "alternate"


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


def sleep_engine():
    """What a turn ends with: the GPU memory goes back before training allocates its own.
    A vLLM engine would be put to sleep here instead (llm.sleep(level=1): weights offloaded,
    KV cache freed), and woken at the start of the next turn (llm.wake_up())."""
    torch.cuda.empty_cache()


@torch.no_grad()
def main_alternate():
    """Turns on the trainer's GPU: each takes the GPU (w.phase()), loads the newest weights
    (the step training just published: aic makes the receive wait for it), samples up to
    QUOTA prompts or until training waits (w.phase_should_yield()), frees the memory, and
    waits for the next weights outside the GPU."""
    device = torch.device("cuda", 0)
    w = aic.connect()
    stream = w.weights("policy")
    model = Policy().to(device).eval()
    version = 0
    while True:
        made = 0
        with w.phase(release=sleep_engine):
            # vLLM: llm.wake_up() here, then load the new weights into the engine.
            version = receive_weights_host(stream, model, max(version, 1), timeout=300)
            while made < QUOTA and not w.phase_should_yield():
                try:
                    items = w.get("prompts", max_items=QUOTA - made, timeout=10)
                except aic.Closed:
                    return
                if not items:
                    break
                prompts = [json.loads(it.data) for it in items]
                probs = torch.softmax(model(*prompts_to_tensors(prompts, device)), dim=-1)
                answers = torch.multinomial(probs, GROUP, replacement=True).cpu().tolist()
                for i, (it, p, ans) in enumerate(zip(items, prompts, answers)):
                    out = dict(p, key=list(it.key()), answers=ans, version=version)
                    w.put("samples", json.dumps(out).encode(), version=version,
                          wait=i == len(items) - 1)
                w.ack(items)
                made += len(items)
        try:  # training takes its step now; its weights start the next turn
            stream.receive(min_version=version + 1, timeout=10)
        except TimeoutError:
            pass


if __name__ == "__main__":
    main_alternate() if ALTERNATE else main()

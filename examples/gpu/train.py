"""GRPO training on GPUs: a gang of ranks, gradients averaged with NCCL.

aic starts the ranks like torchrun (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT) with one GPU each in CUDA_VISIBLE_DEVICES, so
init_process_group("nccl") needs nothing more. Every step the ranks
all_gather the prompt keys they hold (dropping redelivered duplicates, as
examples/grpo-toy/train.py does), all_reduce their gradients and step the
same optimizer; rank 0 broadcasts the weights to rollout GPU to GPU over
aic's weight stream (NCCL).
"""
import json
import os
import time

import torch
import torch.distributed as dist

import aic
from model import Policy, prompts_to_tensors, publish_weights, publish_weights_host

BATCH = int(os.environ.get("BATCH", "32"))
LR = float(os.environ.get("LR", "3e-3"))
IDLE_S = float(os.environ.get("IDLE_S", "0.5"))
# job-alternate.yaml: rollout shares these GPUs in turns; a step is one turn of the whole gang.
# Weights then go through host memory: NCCL's broadcast needs the readers running.
ALTERNATE = os.environ.get("PHASES") == "alternate"
publish = publish_weights_host if ALTERNATE else publish_weights


def main():
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", 0)
    torch.manual_seed(0)  # the same initial weights on every rank
    model = Policy().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    # Gradients exist on every rank from the start: a rank with no groups
    # this step still takes part in the all_reduce, with zeros.
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    w = aic.connect()
    stream = w.weights("policy")
    version = 1
    if rank == 0:
        publish(stream, model, version)
    seen, closed, t0 = set(), False, time.monotonic()
    while True:
        held = []
        while not closed and len(held) < BATCH // world:
            try:
                items = w.get("scored", max_items=BATCH // world - len(held), timeout=IDLE_S)
            except aic.Closed:
                closed = True
                break
            if not items:
                break
            held += items
        groups = [json.loads(it.data) for it in held]
        every = [None] * world
        dist.all_gather_object(every, ([tuple(g["key"]) for g in groups], closed))
        fresh = []
        for r, (keys, _) in enumerate(every):
            for k in keys:
                if r == rank:
                    fresh.append(k not in seen)
                seen.add(k)
        if ALTERNATE:  # the GPU for this step: the gang's ranks go in together
            w.phase_begin()
        mine = [g for g, new in zip(groups, fresh) if new]
        n = torch.tensor([len(mine), sum(sum(g["rewards"]) / len(g["rewards"]) for g in mine)],
                         device=device, dtype=torch.float64)
        dist.all_reduce(n)
        count, reward_sum = n.tolist()
        opt.zero_grad(set_to_none=False)
        if mine:
            r = torch.tensor([g["rewards"] for g in mine], device=device)
            adv = (r - r.mean(1, keepdim=True)) / (r.std(1, unbiased=False, keepdim=True) + 1e-6)
            y = torch.tensor([g["answers"] for g in mine], device=device)
            logp = torch.log_softmax(model(*prompts_to_tensors(mine, device)), -1).gather(1, y)
            # Divided by the gang's group count: the all_reduce sum is the mean.
            (-(adv * logp).mean(1).sum() / count).backward()
        for p in model.parameters():
            dist.all_reduce(p.grad)
        if count > 0:
            opt.step()
            version += 1
            if rank == 0:
                publish(stream, model, version)
                print("step %d reward %.3f groups %d t %.1fs" %
                      (version - 1, reward_sum / count, count, time.monotonic() - t0), flush=True)
        if ALTERNATE:  # memory back before the rollout wakes on this GPU
            torch.cuda.empty_cache()
            w.phase_end()
        w.ack(held)
        if all(c for _, c in every):
            break
    if rank == 0:
        print("summary: steps %d prompts %d" % (version - 1, len(seen)))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Train: a gang of ranks doing GRPO with DDP over gloo; weights to rollout.

aic starts the gang like torchrun (RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT), so torch.distributed.init_process_group("gloo") needs no
arguments. Every step each rank takes BATCH / WORLD_SIZE scored groups from
`scored` through a DataLoader over aic.torch.ChannelDataset, computes
GRPO's loss on them (policy.loss), and DDP averages the gradients, so every
rank applies the same Adam update. Rank 0 then publishes the weights with
aic.torch (one copy, into the node's shared copy) as version step + 1,
reports the step's mean reward with w.metric, and writes reward.csv and
reward.png into OUT_DIR (default: AIC_JOB_DIR).

The run ends after MAX_STEPS steps, or once the mean reward of the last 5
steps reaches TARGET: rank 0 decides, the ranks agree in the step's
all-reduce, and rank 0 publishes a last version with meta {"stop": true}
that ends the rollout replicas; the ranks then drain `scored` until it
closes, so the job ends with nothing left over.
"""
import json
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import aic
import aic.torch
import policy

BATCH = int(os.environ.get("BATCH", "32"))  # groups per step, all ranks together
LR = float(os.environ.get("LR", "1e-3"))
MAX_STEPS = int(os.environ.get("MAX_STEPS", "300"))
TARGET = float(os.environ.get("TARGET", "0.95"))
OUT_DIR = os.environ.get("OUT_DIR") or os.environ.get("AIC_JOB_DIR", ".")


def collate(groups):
    """Scored groups -> prompts (n, L), answers (n, G, L), rewards (n, G, L), versions (n,)."""
    return (torch.tensor([g["x"] for g in groups]), torch.tensor([g["y"] for g in groups]),
            torch.tensor([g["c"] for g in groups]), torch.tensor([g["version"] for g in groups]))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r[0] for r in rows], [r[1] for r in rows], marker=".")
    ax.axhline(1 / policy.DIGITS, color="gray", ls="--", lw=1, label="chance")
    ax.set_xlabel("training step")
    ax.set_ylabel("mean reward")
    ax.set_ylim(0, 1.05)
    ax.set_title("torch-grpo: sort %d digits (0-%d)" % (policy.LENGTH, policy.DIGITS - 1))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    print("rank %d of %d: DDP over %s, master %s:%s" % (rank, world, dist.get_backend(),
          os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]), flush=True)
    w = aic.connect()
    weights = aic.torch.Weights(w, "policy")
    model = DDP(policy.Policy())
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    version = 1
    if rank == 0:
        weights.publish(model.module, version)
    per_rank = -(-BATCH // world)
    data = aic.torch.ChannelDataset(w, "scored", decode=json.loads, batch=per_rank)
    loader = iter(torch.utils.data.DataLoader(data, batch_size=per_rank, collate_fn=collate))
    rows = []  # (step, mean reward, seconds, groups, mean version lag)
    t0 = time.monotonic()
    stop = False
    while not stop:
        x, y, c, made = next(loader)
        opt.zero_grad()
        (policy.loss(model, x, y, c) / per_rank).backward()  # DDP averages over the ranks
        opt.step()
        version += 1
        # The step's sums of rewards, groups and version lags, over the ranks.
        tot = torch.tensor([c.mean((1, 2)).sum().item(), len(c), (version - 1 - made).sum().item()],
                           dtype=torch.float64)
        dist.all_reduce(tot)
        mean, lag = tot[0].item() / tot[1].item(), tot[2].item() / tot[1].item()
        step = len(rows) + 1
        rows.append((step, mean, time.monotonic() - t0, int(tot[1].item()), lag))
        recent = [row[1] for row in rows[-5:]]
        # Every rank has the same rows, so every rank reaches the same verdict.
        stop = step >= MAX_STEPS or (len(recent) == 5 and sum(recent) / 5 >= TARGET)
        if rank == 0:
            weights.publish(model.module, version, meta={"stop": True} if stop else None)
            w.metric("reward", mean, step)  # .aic/latest/metrics.jsonl, summary.json
            w.metric("version_lag", lag, step)
            print("step %d reward %.3f groups %d lag %.2f t %.1fs" %
                  (step, mean, rows[-1][3], lag, rows[-1][2]), flush=True)
    # Rollout ends on the last version; what it made before is drained,
    # through the same iterator: one left suspended would hold its last
    # items un-acked, and the channel would never end.
    drained = sum(len(batch[0]) for batch in loader)
    dist.destroy_process_group()
    if rank != 0:
        return
    with open(os.path.join(OUT_DIR, "reward.csv"), "w") as f:
        f.write("step,mean_reward,time_s,groups,version_lag\n")
        for row in rows:
            f.write("%d,%.4f,%.3f,%d,%.2f\n" % row)
    plot(rows, os.path.join(OUT_DIR, "reward.png"))
    k = min(5, len(rows))
    print("summary: steps %d reward-first %.3f reward-last %.3f seconds %.1f drained %d" %
          (len(rows), sum(r[1] for r in rows[:k]) / k, sum(r[1] for r in rows[-k:]) / k,
           time.monotonic() - t0, drained), flush=True)


if __name__ == "__main__":
    main()

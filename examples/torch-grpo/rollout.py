"""Rollout: samples GROUP answers per prompt with the current policy, in torch.

Each replica makes its own prompts (random digits to sort) and writes one
item per prompt to `samples`: the prompt, its GROUP answers and the
weights version that made them. It samples CHUNK prompts at a time, all
their answers in one batched, no_grad pass per token.

Weights come from the trainer through aic.torch: receive_into() loads each
new version into this replica's model in place. A replica does not run
more than one version ahead of the trainer: after its share of a training
step (QUOTA prompts) it waits up to WAIT_S for the next version, so that
samples stay on-policy (the spec's max_staleness: 1 drops older ones). The
trainer's last version carries meta {"stop": true}: the replica ends.

A replica holds nothing another one needs: killed, aic restarts it and it
starts again from the newest weights.
"""
import json
import os

import torch

import aic
import aic.torch
import policy

GROUP = int(os.environ.get("GROUP", "8"))
QUOTA = int(os.environ.get("QUOTA", "16"))
CHUNK = int(os.environ.get("CHUNK", "8"))
WAIT_S = float(os.environ.get("WAIT_S", "2"))


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    w = aic.connect()
    weights = aic.torch.Weights(w, "policy")
    model = policy.Policy().eval()
    version = weights.receive_into(model, min_version=1, timeout=120)
    gen = torch.Generator().manual_seed(w.replica * 1000003 + os.getpid())
    made, done = 0, 0  # prompts made with `version`, and in all
    while not weights.meta.get("stop"):
        try:  # newer weights: wait for them once this version made our share
            version = weights.receive_into(model, min_version=version + 1,
                                           timeout=WAIT_S if made >= QUOTA else 0)
            made = 0
            continue  # the newest might say stop
        except TimeoutError:
            pass
        x = policy.prompts(CHUNK, gen)
        y = policy.sample(model, x, GROUP, gen)
        for i in range(CHUNK):
            item = {"x": x[i].tolist(), "y": y[i].tolist(), "version": version}
            w.put("samples", json.dumps(item).encode(), version=version)
        made += CHUNK
        done += CHUNK
    print("rollout %d: %d prompts, last weights version %d" % (w.replica, done, version), flush=True)


if __name__ == "__main__":
    main()

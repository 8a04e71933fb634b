"""Model (one GPU per replica in the spec): classifies every frame.

The "classifier" is a fixed random linear layer and a softmax over LABELS,
in numpy: the point is the pipeline's shape, not the model. MODEL_DELAY_S
stands in for the accelerator's time per video, which makes this the slow
stage; more replicas (the spec's `replicas`) share its work.
"""
import base64
import json
import os
import time

import numpy as np

import aic

LABELS = ["safe", "violence", "spam", "adult"]
DELAY = float(os.environ.get("MODEL_DELAY_S", "0.02"))


def main():
    w = aic.connect()
    weights = np.random.default_rng(0).standard_normal((32, len(LABELS))) * 0.3
    print("model %d: CUDA_VISIBLE_DEVICES=%s" % (w.replica, os.environ.get("CUDA_VISIBLE_DEVICES", "")),
          flush=True)
    n = 0
    while True:
        try:
            items = w.get("frames", max_items=4, timeout=10)
        except aic.Closed:
            break
        for it in items:
            v = json.loads(it.data)
            x = np.frombuffer(base64.b64decode(v.pop("frames")), dtype=np.float32).reshape(v.pop("shape"))
            z = x @ weights
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            time.sleep(DELAY)
            v.update(probs=np.round(p, 4).tolist(), replica=w.replica)
            w.put("scores", json.dumps(v).encode())
        w.ack(items)
        n += len(items)
    print("model %d: %d videos" % (w.replica, n))


if __name__ == "__main__":
    main()

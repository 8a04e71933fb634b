"""Decode (CPU): turns each video record into frame features for the model.

Stands in for a video decoder plus a frozen feature extractor: the frames
are pseudo-random vectors drawn from the record's seed, so the same video
always decodes to the same frames, whichever replica (or retry) decodes it.
"""
import base64
import json

import numpy as np

import aic

DIM = 32


def decode(video):
    rng = np.random.default_rng(video["seed"])
    return rng.standard_normal((video["frames"], DIM)).astype(np.float32)


def main():
    w = aic.connect()
    n = 0
    while True:
        try:
            items = w.get("videos", max_items=8, timeout=10)
        except aic.Closed:
            break
        for it in items:
            video = json.loads(it.data)
            frames = decode(video)
            out = {"id": video["id"], "uri": video["uri"], "key": list(it.key()),
                   "shape": list(frames.shape),
                   "frames": base64.b64encode(frames.tobytes()).decode()}
            w.put("frames", json.dumps(out).encode())
        w.ack(items)
        n += len(items)
    print("decode %d: %d videos" % (w.replica, n))


if __name__ == "__main__":
    main()

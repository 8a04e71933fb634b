#!/usr/bin/env python3
"""Writes videos.jsonl to stdout: N synthetic "videos" (default 200).

    python3 make_videos.py [N] > videos.jsonl

A record names a video and the seed its frames are made from (decode.py);
the committed file is this script's output with the default.
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
rng = random.Random(11)
for i in range(n):
    print(json.dumps({"id": i, "uri": "s3://videos/clip-%05d.mp4" % i,
                      "frames": rng.randint(4, 12), "seed": rng.randrange(2**31)}))

#!/usr/bin/env python3
"""Writes prompts.jsonl to stdout: every "a+b mod 10" question with a, b in
0..9, shuffled with a fixed seed (the committed file is its output)."""
import json
import random

pairs = [(a, b) for a in range(10) for b in range(10)]
random.Random(7).shuffle(pairs)
for i, (a, b) in enumerate(pairs):
    print(json.dumps({"id": i, "q": "%d+%d mod 10" % (a, b), "a": a, "b": b}))

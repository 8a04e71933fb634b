"""The first stage of the channel tests' pipelines (tests/python/channels.sh,
tests/integration/channels.sh): puts N items on "nums", "INDEX:I" for I in
0..N-1, so that every item is known by its producer's key.

With PAD=n, each item is followed by n bytes of "x" (larger items, which a
consumer checks arrived whole). With START_AFTER=FILE, the first put waits
until FILE exists (consume.py's READY: a consumer is there to take items).
"""
import os
import time

import aic

w = aic.connect()
start_after = os.environ.get("START_AFTER")
deadline = time.monotonic() + 60
while start_after and not os.path.exists(start_after) and time.monotonic() < deadline:
    time.sleep(0.01)
pad = b"x" * int(os.environ.get("PAD", "0"))
for i in range(int(os.environ["N"])):
    w.put("nums", b"%d:%d" % (w.index, i) + pad)

"""The map stage of the source-resume tests (tests/python/source-resume.sh,
tests/integration/requeue-source.sh): gets {"i": I} items from "lines" and
puts {"i": I, "sq": I * I, "by": REPLICA} on "out", one out per item in and
in order, so each gets its input's origin (_aic_origin, which the sink's
tally checks against I); acks each batch after its puts. MAP_DELAY_S: the
time each item takes, so that a stop lands mid-stream.
"""
import json
import os
import time

import aic

w = aic.connect()
delay = float(os.environ["MAP_DELAY_S"])
while True:
    try:
        items = w.get("lines", max_items=8, timeout=10)
    except aic.Closed:
        break
    for it in items:
        v = json.loads(it.data)
        time.sleep(delay)
        w.put("out", json.dumps({"i": v["i"], "sq": v["i"] * v["i"], "by": w.replica}).encode())
    w.ack(items)

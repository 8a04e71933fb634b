"""The stage between a source and a sink in the channel tests
(tests/python/channels.sh, tests/integration/channels.sh): gets lines from
"prompts", puts each upper-cased on "answers", then acks them. BATCH and
TIMEOUT are each get's (16, 10 s).
"""
import os

import aic

w = aic.connect()
batch = int(os.environ.get("BATCH", "16"))
timeout = float(os.environ.get("TIMEOUT", "10"))
while True:
    try:
        items = w.get("prompts", max_items=batch, timeout=timeout)
    except aic.Closed:
        break
    for it in items:
        w.put("answers", it.data.upper())
    w.ack(items)

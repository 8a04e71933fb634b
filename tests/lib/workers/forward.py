"""The middle stage of the channel tests' 3-stage pipelines (tests/python/channels.sh,
tests/integration/channels.sh): gets items from "nums", puts each on "fwd", acks.

With DIE_AFTER=N, replica 0 dies once (exit 9) after N items, with a batch forwarded
but not acked: those are delivered again, so forwarded twice (duplicates the final
consumer drops by key). $OUT.mid-died marks that it happened.
"""
import os

import aic

w = aic.connect()
die_after = int(os.environ.get("DIE_AFTER", "0"))
marker = os.environ["OUT"] + ".mid-died"
seen = 0
while True:
    try:
        items = w.get("nums", max_items=64, timeout=30)
    except aic.Closed:
        break
    for it in items:
        w.put("fwd", it.data)
    seen += len(items)
    if die_after and w.index == 0 and seen >= die_after and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    w.ack(items)

"""The middle stage of the channel tests' 3-stage pipelines (tests/python/channels.sh,
tests/integration/channels.sh): gets items from "nums", puts each on "fwd", acks.

With DIE_AFTER=N, replica 0 dies once (exit 9) after N items, with a batch forwarded
(every put answered) but not acked: those are delivered again, so forwarded twice
(duplicates the final consumer drops by key), one duplicate for each item the
agent redelivered. $OUT.mid-died marks that it happened.
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
    seen += len(items)
    dying = die_after and w.index == 0 and seen >= die_after and not os.path.exists(marker)
    for k, it in enumerate(items):
        # Before dying, the last put waits for its answer, which comes after
        # every earlier one's: the whole batch has then been forwarded.
        w.put("fwd", it.data, wait=dying and k == len(items) - 1)
    if dying:
        open(marker, "w").close()
        os._exit(9)
    w.ack(items)

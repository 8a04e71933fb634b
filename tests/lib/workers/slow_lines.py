"""The slow middle stage of the autoscale tests (tests/python/autoscale.sh,
tests/integration/autoscale.sh, tests/failures/autoscale-redrain.sh): takes
"lines" one item at a time, waits DELAY seconds, puts it on "out", acks it,
and at the end prints how many lines this replica took.

    slow_lines.py DELAY [HOLD_DIR]

With HOLD_DIR, a replica waits before its first get while HOLD_DIR/hold.INDEX
exists (the test holds that replica).
"""
import os
import sys
import time

import aic

delay = float(sys.argv[1])
hold = sys.argv[2] if len(sys.argv) > 2 else None
w = aic.connect()
while hold and os.path.exists("%s/hold.%d" % (hold, w.index)):
    time.sleep(0.1)
done = 0
while True:
    try:
        items = w.get("lines", max_items=1)
    except aic.Closed:
        break
    for it in items:
        time.sleep(delay)
        w.put("out", it.data)
    w.ack(items)
    done += len(items)
print("replica %d: %d lines" % (w.index, done), flush=True)

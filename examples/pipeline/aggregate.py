"""Aggregate: one verdict per video from its frames' scores, into the sink.

A video's label is the argmax of its frames' mean probabilities; it is
flagged when any frame is confident (> FLAG_AT) of an unsafe label. Items a
dead replica had not acked come again: the first copy of each source item
(by the key decode passed on) is kept, so the sink gets every video once.
"""
import json
import os

import numpy as np

import aic

LABELS = ["safe", "violence", "spam", "adult"]
FLAG_AT = float(os.environ.get("FLAG_AT", "0.95"))


def main():
    w = aic.connect()
    seen = set()
    flagged = dups = 0
    by_label = dict.fromkeys(LABELS, 0)
    while True:
        try:
            items = w.get("scores", max_items=16, timeout=10)
        except aic.Closed:
            break
        for it in items:
            v = json.loads(it.data)
            key = tuple(v["key"])
            if key in seen:
                dups += 1
                continue
            seen.add(key)
            p = np.asarray(v["probs"])
            label = LABELS[int(p.mean(axis=0).argmax())]
            flag = bool((p[:, 1:] > FLAG_AT).any())
            by_label[label] += 1
            flagged += flag
            w.put("results", json.dumps({"id": v["id"], "uri": v["uri"], "label": label,
                                         "flagged": flag, "frames": len(p),
                                         "model_replica": v["replica"]}).encode())
        w.ack(items)
    print("aggregate: %d videos, %d flagged, %d duplicates dropped, labels %s" %
          (len(seen), flagged, dups, json.dumps(by_label)))


if __name__ == "__main__":
    main()

"""Reward: scores every answer of a group against the verifiable task.

It keeps no state: asked for a checkpoint, it says so at once (None).
"""
import json

import aic
import policy


def main():
    w = aic.connect()
    n = 0
    while True:
        try:
            items = w.get("samples", max_items=8, timeout=1)
        except aic.Closed:
            break
        # Before the puts: after a SIGTERM the trainer saves and stops taking
        # groups, and a put into the full scored channel would never return.
        if w.checkpoint_requested():
            w.checkpoint_done(None)
        for it in items:
            s = json.loads(it.data)
            s["rewards"] = [policy.correct(s, a) for a in s["answers"]]
            w.put("scored", json.dumps(s).encode())
        w.ack(items)
        n += len(items)
    print("reward %d: scored %d groups" % (w.replica, n))


if __name__ == "__main__":
    main()

"""The stateful workers of tests/python/checkpoint.sh: each takes in lines
of the source channel "lines" (acking each as it takes it), takes its state
(w.checkpoint_begin), saves it as CHECKPOINT_DIR/INDEX.1 and reports
version 1, each in the order its case needs (argv[1]). Resumed, each prints
"resumed STATE" (a gang's ranks excepted) and then "line N" for every line
it reads, to the end.

keep:  takes lines 1-3, takes its state, acks 4 and 5, then saves 1-3 and
       reports; it never answers the stop.
again: its first start takes 1-5 (state taken after 3) and dies before it
       saves; restarted, it takes line 6, saves it and reports, with no
       mark of its own.
gang:  rank 0 takes 1-2, saves and reports, then acks 3-4 and marks
       rank0.after; only then does rank 1 take its state, save and report.
"""
import json
import os
import sys
import time

import aic

w = aic.connect()
d, v = aic.checkpoint_dir(), aic.resume()
case = sys.argv[1]


def take(n):
    got = []
    while len(got) < n:
        got += w.get("lines", max_items=1, timeout=10)
    w.ack(got)
    return [it.origin["line"] for it in got]


def save(state):
    with open(os.path.join(d, "%d.1" % w.index), "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    w.checkpoint_done(1)


if v is not None:
    if case != "gang":
        print("resumed", json.load(open(os.path.join(d, "%d.%d" % (w.index, v)))), flush=True)
    while True:
        try:
            print("line", take(1)[0], flush=True)
        except aic.Closed:
            break
    sys.exit(0)

if case == "keep":
    state = take(3)
    w.checkpoint_begin()
    after = take(2)
    save(state)
    print("saved", state, "then acked", after, flush=True)
elif case == "again" and not os.path.exists("again.died"):
    take(3)
    w.checkpoint_begin()
    take(2)
    open("again.died", "w").close()
    os._exit(1)
elif case == "again":
    state = take(1)
    save(state)
    print("saved", state, flush=True)
elif w.index == 0:
    state = take(2)
    w.checkpoint_begin()
    save(state)
    after = take(2)
    print("saved", state, "then acked", after, flush=True)
    open("rank0.after", "w").close()
else:
    while not os.path.exists("rank0.after"):
        time.sleep(0.05)
    w.checkpoint_begin()
    save([])
    print("saved", flush=True)
time.sleep(600)  # no answer to the stop: the checkpoint of version 1 stays

"""Weight versions for the weight-stream tests (tests/python/weights.sh,
tests/integration/weights.sh), on the stream "policy":

  weight_versions.py publish   rank 0 of the gang publishes versions 1..5,
                               each the arrays of arrays(version)
  weight_versions.py receive   receives newer versions until 5, then asks
                               for 6, and prints "HOST V V ... timeout": a
                               version followed by "!" was not
                               byte-identical to arrays(V) or not newer than
                               the last; "timeout" says that asking for 6
                               timed out, as it must (there is none)

With MISUSE=1, the publisher also tries a publish that fails half way (an
array numpy cannot lay out as bytes) before version 5, which must publish
nothing and leave the stream usable, and then publishes version 2 again,
which is older than the newest and must be ignored. With OUT set, the
receiver also writes its line to $OUT.INDEX.
"""
import os
import socket
import sys
import time

import numpy as np

import aic

LAST = 5


def arrays(v):
    rng = np.random.default_rng(v)
    return {"layer.w": rng.standard_normal((512, 256)).astype(np.float32),
            "layer.b": np.arange(v, v + 8, dtype=np.int64),
            # several 1 MiB chunks down a chain of agents, the last one short
            "layer.big": rng.integers(0, 256, 3 * 2**20 + 5, dtype=np.uint8)}


def publish(w):
    misuse = bool(os.environ.get("MISUSE"))
    if w.rank != 0:
        return
    for v in range(1, LAST + 1):
        if v == LAST and misuse:
            try:
                w.weights("policy").publish({"layer.w": np.zeros((512, 256), np.float32),
                                             "x": np.array([object()])}, v)
                print("bad publish went through")
            except ValueError:
                pass
        w.weights("policy").publish(arrays(v), v)
        time.sleep(0.1)
    if misuse:
        w.weights("policy").publish({"layer.w": np.zeros((512, 256), np.float32)}, 2)


def receive(w):
    v, seen = 0, []
    while v < LAST:
        got, v2 = w.weights("policy").receive(min_version=v + 1, timeout=60)
        want = arrays(v2)
        same = sorted(got) == sorted(want) and all(np.array_equal(got[k], want[k]) for k in want)
        seen.append("%d%s" % (v2, "" if same and v2 > v else "!"))
        v = v2
    try:
        w.weights("policy").receive(min_version=LAST + 1, timeout=0.2)
        seen.append("no-timeout!")
    except TimeoutError:
        seen.append("timeout")
    line = "%s %s" % (socket.gethostname(), " ".join(seen))
    print(line)
    if os.environ.get("OUT"):
        open(os.environ["OUT"] + ".%d" % w.index, "w").write(line + "\n")


{"publish": publish, "receive": receive}[sys.argv[1]](aic.connect())

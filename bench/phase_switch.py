"""One stage of an alternating pair for bench/phases.sh: TURNS turns with no
work in them, each a JSON line {"what": "turn", "stage", "index", "k",
"begin", "end"} (time.time_ns(): BEGIN as aic_phase_begin returns, END just
before aic_phase_end is called); after each turn, outside it, one timed
aic_phase_should_yield() round trip to the node's agent, {"what": "round
trip", "us"}: the control round trip a switch is weighed against. The
first turn lasts until the other stage waits, so that the two alternate.
"""
import json
import os
import time

import aic


def main():
    w = aic.connect()
    for k in range(int(os.environ.get("TURNS", "50"))):
        w.phase_begin()
        begin = time.time_ns()
        # The first turn lasts until the other stage waits: from then on the two alternate.
        deadline = time.monotonic() + 30
        while k == 0 and not w.phase_should_yield() and time.monotonic() < deadline:
            time.sleep(0.001)
        end = time.time_ns()
        w.phase_end()
        a = time.perf_counter_ns()
        w.phase_should_yield()
        rt = (time.perf_counter_ns() - a) / 1000
        print(json.dumps({"what": "turn", "stage": w.stage, "index": w.index, "k": k,
                          "begin": begin, "end": end}))
        print(json.dumps({"what": "round trip", "us": rt}), flush=True)
    w.close()


if __name__ == "__main__":
    main()

"""Runs a Python worker with its waits timed: bench/busy.py SCRIPT [ARGS...].

A stage's command becomes [python3, bench/busy.py, rollout.py] and the
worker runs unchanged (as __main__, from its own directory), but every call
into aic and every gang collective is timed: get, put, ack, weights
publish/receive (python/aic) and allgather/allreduce (the example's
collective.py, when the worker uses it). When aic.connect() returns, the
process writes $AIC_JOB_DIR/busy/STAGE.INDEX.PID.json with the wall-clock
time (time.time()) of that moment; at exit it adds its wall time since
then and the seconds spent in each kind of call (a killed process leaves
only the first record). Busy = wall - those seconds: time in the worker's
own code (on a shared machine, including time it waited for a core).
cpu_s is the process's CPU time (user and system) from that moment to the
end of its last call into aic or its gang, so that what a stage does after
its loop (train.py's plot) is left out.

With AIC_BENCH_START_ONLY=1 the worker goes no further than aic.connect():
the process prints {"ready_at": WALL-CLOCK} and exits, without an agent.
bench/spawn worker times that: a worker started afresh, up to the point
where a restarted one connects (bench/restart-cluster.sh's baseline).
"""
import atexit
import json
import os
import runpy
import sys
import time

script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))

import aic  # noqa: E402 (after the worker's directory is on the path)

waits = {"get": 0.0, "put": 0.0, "ack": 0.0, "weights": 0.0, "gang": 0.0}
state = {"depth": 0, "worker": None, "t0": None, "connected": None, "cpu0": 0.0, "cpu_last": 0.0}


def timed(kind, fn):
    def call(*args, **kwargs):
        if state["depth"]:  # a collective made of collectives counts once
            return fn(*args, **kwargs)
        state["depth"] += 1
        t = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            waits[kind] += time.monotonic() - t
            state["depth"] -= 1
            state["cpu_last"] = time.process_time()
    return call


aic.Worker.get = timed("get", aic.Worker.get)
aic.Worker.put = timed("put", aic.Worker.put)
aic.Worker.ack = timed("ack", aic.Worker.ack)
aic.Weights.receive = timed("weights", aic.Weights.receive)
aic.Weights.publish = timed("weights", aic.Weights.publish)
try:
    import collective
    collective.Gang.allgather = timed("gang", collective.Gang.allgather)
    collective.Gang.allreduce = timed("gang", collective.Gang.allreduce)
except ImportError:
    pass

_connect = aic.connect


def record(**fields):
    stage, index = state["worker"]
    out = os.path.join(os.environ.get("AIC_JOB_DIR", "."), "busy")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "%s.%d.%d.json" % (stage, index, os.getpid())), "w") as f:
        json.dump(dict(stage=stage, index=index, pid=os.getpid(),
                       connected_at=state["connected"], **fields), f)


def connect():
    if os.environ.get("AIC_BENCH_START_ONLY") == "1":
        print(json.dumps({"ready_at": time.time()}), flush=True)
        os._exit(0)
    w = _connect()
    if state["worker"] is None:
        state.update(worker=(w.stage, w.index), t0=time.monotonic(), connected=time.time(),
                     cpu0=time.process_time())
        record()  # now, for a process that will be killed before its exit
    return w


aic.connect = connect


@atexit.register
def report():
    if state["worker"] is None:
        return
    wall = time.monotonic() - state["t0"]
    record(wall_s=wall, wait_s=waits, busy_s=wall - sum(waits.values()),
           cpu_s=max(0.0, state["cpu_last"] - state["cpu0"]))


runpy.run_path(script, run_name="__main__")

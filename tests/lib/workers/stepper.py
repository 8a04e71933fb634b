"""The checkpointing workers of tests/python/checkpoint.sh and sigterm.sh:
each steps a counter (the metric "step"), marks ready.STAGE.INDEX in the
working directory after 3 steps, and answers a checkpoint request
(w.checkpoint) by saving its step as CHECKPOINT_DIR/INDEX.VERSION, then
sleeps until the job ends. A gang's ranks (stage "train") save the same
version, as ranks in lockstep do: the number of checkpoints so far; a
replica saves its own step. Its first line says where it started:
"start resume VERSION step STEP dir DIR notice AIC_TERM_NOTICE".

SKIP_RANK=I: rank I never answers; NO_SAVE (non-empty): no worker answers;
RUN_TO (non-empty): ends 5 steps after where it started.
"""
import os
import time

import aic

w = aic.connect()
d, v = aic.checkpoint_dir(), aic.resume()
gang = w.stage == "train"
step = 0
if v is not None:
    with open(os.path.join(d, "%d.%d" % (w.index, v))) as f:
        step = int(f.read())
print("start resume %s step %d dir %s notice %s"
      % (v, step, os.path.basename(d), os.environ.get("AIC_TERM_NOTICE")), flush=True)
first = step
answers = not os.environ.get("NO_SAVE") and os.environ.get("SKIP_RANK") != str(w.index)


def save(dir):
    version = (v or 0) + 1 if gang else step
    with open(os.path.join(dir, "%d.%d" % (w.index, version)), "w") as f:
        f.write(str(step))
        f.flush()
        os.fsync(f.fileno())
    print("saved", version, flush=True)
    return version


while True:
    step += 1
    w.metric("step", step, step)
    if step == first + 3:
        open("ready.%s.%d" % (w.stage, w.index), "w").close()
    if answers and w.checkpoint(save):
        time.sleep(600)  # the job ends now
    if os.environ.get("RUN_TO") and step >= first + 5:
        break
    time.sleep(0.01)

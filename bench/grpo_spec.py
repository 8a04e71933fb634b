"""What grpo-toy's baselines read of examples/grpo-toy/job.yaml.

    job(EXAMPLE-DIR, EPOCHS or None) -> (batch, group, lr, epochs)

BATCH, GROUP and LR from the stages' env, and the prompts channel's
epochs unless EPOCHS is given: the same work per step as the job.
"""
import os
import re
import sys


def job(example, epochs=None):
    spec = open(os.path.join(example, "job.yaml")).read()

    def value(key):
        m = re.search(r"\b%s: ([0-9.]+)" % key, spec)
        if not m:
            sys.exit("%s: no '%s:' in %s/job.yaml" % (os.path.basename(sys.argv[0]), key, example))
        return float(m.group(1))

    return int(value("BATCH")), int(value("GROUP")), value("LR"), epochs or int(value("epochs"))

"""A rank of examples/grpo-toy's training gang, doing train.exchange() on
made-up groups: grpo_exchange.py EXAMPLE-DIR (tests/python/grpo-gang.sh).

Three steps, the same on every rank: no prompt item held twice; one held by
both ranks in the same step (after a redelivery: rank 0 trains on it, rank
1 drops it); and one trained on before plus one that rank 1 holds twice.
After each step a rank prints one line,

  step K exchanges N fresh [..] dups D sum ok|WRONG

N: the gang's exchanges so far; ok: the summed gradient and counts are
those of the groups that should be trained on, and only those.
"""
import os
import sys

sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402

import collective  # noqa: E402
import train  # noqa: E402


def group(line, prompt_id, answers, rewards, version):
    return {"a": prompt_id // 10, "b": prompt_id % 10, "id": prompt_id, "answers": answers,
            "rewards": rewards, "version": version, "line": line}


def main():
    gang = collective.Gang()
    rng = np.random.default_rng(7)
    params = {"W": rng.normal(size=(100, 10))}
    version = 3
    # Per step, per rank: the (epoch, line) of each group it holds; and which
    # of them are to be trained on.
    steps = [
        ([[1, 2], [3, 4]], [[True, True], [True, True]]),
        ([[5, 6], [6, 7]], [[True, True], [False, True]]),
        ([[1, 8], [9, 9]], [[False, True], [True, False]]),
    ]
    seen, per_id = set(), {}
    for k, (lines, want) in enumerate(steps, 1):
        held = [[group(ln, ln * 7 % 100, [ln % 10, 3, 5, 7], [1.0, 0.0, float(ln % 2), 0.0],
                       version - ln % 2) for ln in lines[r]] for r in range(gang.world)]
        keys = [[0, g["line"], g["id"]] for g in held[gang.rank]]
        parts, fresh, total, dups = train.exchange(gang, params, version, held[gang.rank], keys,
                                                   seen, per_id, {"step": k})
        expect = np.sum([train.step_sums(params, held[r], want[r], version)
                         for r in range(gang.world)], axis=0)
        ok = (fresh == want[gang.rank] and [m["step"] for m, _ in parts] == [k] * gang.world
              and np.allclose(total, expect))
        print("step %d exchanges %d fresh %s dups %d sum %s" %
              (k, gang.exchanges, fresh, dups, "ok" if ok else "WRONG"), flush=True)
    gang.close()


if __name__ == "__main__":
    main()

"""Checks on the turns that tests/lib/workers/phase_turns.py (and grpo-toy in
alternate mode) print, one line each, into a job's logs:

  turn STAGE INDEX K BEGIN END ASK VERSION BATCHES YESES GPUS

  phase_check.py overlaps LOGDIR   pairs of turns of different stages that
                                   share a GPU and overlap in time, then the
                                   number of turns: "0 12" is right
  phase_check.py compose LOGDIR    rollout turns that received an older
                                   version than the train turns ended before
                                   they began had published (a wake after a
                                   publish must see it): "0" is right
  phase_check.py cut LOGDIR        rollout turns followed by a train turn,
                                   those of them ended at their first
                                   should_yield yes, and those that worked
                                   every batch: "N N 0" is right
  phase_check.py lockstep LOGDIR   train turns K whose ranks were not all
                                   inside at once, then the turns: "0 N"
  phase_check.py stages LOGDIR     the stages with turns, and their counts
"""
import glob
import os
import sys


def turns(logdir):
    out = []
    for path in sorted(glob.glob(os.path.join(logdir, "*.log"))):
        with open(path, errors="replace") as f:
            for line in f:
                p = line.split()
                if len(p) == 11 and p[0] == "turn":
                    out.append({"stage": p[1], "index": int(p[2]), "k": int(p[3]),
                                "begin": int(p[4]), "end": int(p[5]), "ask": int(p[6]),
                                "version": int(p[7]), "batches": int(p[8]), "yeses": int(p[9]),
                                "gpus": set(p[10].split(","))})
    return out


def overlaps(t):
    bad = 0
    for i, a in enumerate(t):
        for b in t[i + 1:]:
            if a["stage"] != b["stage"] and a["gpus"] & b["gpus"] and \
                    a["begin"] < b["end"] and b["begin"] < a["end"]:
                bad += 1
                print("overlap: %s/%d turn %d and %s/%d turn %d on GPUs %s" %
                      (a["stage"], a["index"], a["k"], b["stage"], b["index"], b["k"],
                       ",".join(sorted(a["gpus"] & b["gpus"]))), file=sys.stderr)
    return "%d %d" % (bad, len(t))


def compose(t):
    trains = [x for x in t if x["stage"] == "train"]
    bad = 0
    for r in (x for x in t if x["stage"] == "rollout"):
        before = [x["version"] for x in trains if x["end"] <= r["begin"]]
        if before and r["version"] < max(before):
            bad += 1
            print("stale: rollout/%d turn %d got %d after version %d" %
                  (r["index"], r["k"], r["version"], max(before)), file=sys.stderr)
    return "%d" % bad


def cut(t, batches):
    trains = [x for x in t if x["stage"] == "train"]
    followed = at_first_yes = whole = 0
    for r in (x for x in t if x["stage"] == "rollout"):
        if not any(x["begin"] >= r["end"] and x["gpus"] & r["gpus"] for x in trains):
            continue
        followed += 1
        at_first_yes += r["yeses"] == 1
        whole += r["batches"] >= batches
    return "%d %d %d" % (followed, at_first_yes, whole)


def lockstep(t):
    by_k = {}
    for x in t:
        if x["stage"] == "train":
            by_k.setdefault(x["k"], []).append(x)
    bad = sum(1 for xs in by_k.values()
              if len(xs) > 1 and max(x["begin"] for x in xs) >= min(x["end"] for x in xs))
    return "%d %d" % (bad, len(by_k))


def stages(t):
    n = {}
    for x in t:
        n[x["stage"]] = n.get(x["stage"], 0) + 1
    return " ".join("%s=%d" % kv for kv in sorted(n.items()))


def main():
    what, logdir = sys.argv[1], sys.argv[2]
    t = turns(logdir)
    if what == "overlaps":
        print(overlaps(t))
    elif what == "compose":
        print(compose(t))
    elif what == "cut":
        print(cut(t, int(sys.argv[3])))
    elif what == "lockstep":
        print(lockstep(t))
    elif what == "stages":
        print(stages(t))
    else:
        sys.exit("phase_check.py: unknown check '%s'" % what)


if __name__ == "__main__":
    main()

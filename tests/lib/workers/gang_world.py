"""A gang rank for the node-failure tests (tests/failures/gang-shrinks.sh).

It meets the other ranks (examples/grpo-toy's collective.Gang over
MASTER_ADDR:MASTER_PORT, from COLLECTIVE_DIR), checks that the ranks that
answer are exactly 0..WORLD_SIZE-1, writes OUT_DIR/gang.RANK.WORLD with its
node, waits for OUT_DIR/go and leaves with the others (a last all-gather).
"""
import os
import sys
import time

sys.path.insert(0, os.environ["COLLECTIVE_DIR"])
import collective  # noqa: E402

out = os.environ["OUT_DIR"]
gang = collective.Gang(timeout=120)
parts = gang.allgather({"rank": gang.rank, "node": os.environ["AIC_NODE"]})
ranks = [m["rank"] for m, _ in parts]
if ranks != list(range(gang.world)) or gang.world != int(os.environ["WORLD_SIZE"]):
    sys.exit("rank %d: the gang answered %s, WORLD_SIZE is %s" % (gang.rank, ranks, os.environ["WORLD_SIZE"]))
name = "%s/gang.%d.%d" % (out, gang.rank, gang.world)
with open(name + ".tmp", "w") as f:
    f.write(" ".join(m["node"] for m, _ in parts) + "\n")
os.rename(name + ".tmp", name)
while not os.path.exists(os.path.join(out, "go")):
    time.sleep(0.1)
gang.allgather(None)
print("rank %d of %d done" % (gang.rank, gang.world), flush=True)

#!/bin/sh
# What a lost node looks like in the job's events and its timeline, on the
# 4-node cluster: a replica on a node that dies is placed again on another;
# events.jsonl then has the node's loss, every node's channel samples, and
# the replica's restart on its new node; `aic timeline` draws a track per
# node, the loss as an instant on the lost node's, and two lives of the
# replica, the first ending there (lost with its node), the second on its
# new node.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 5
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

# Two replicas that put 5000 items each, a node each; replica 1's fails.
move_replica observe-node 5000
touch go
ok "the job ends" wait_for 120 failed_job_ended "$job" "$dir"
restore_node
jd=$(jobdir "$dir")
is "$(/usr/bin/python3 - "$jd/events.jsonl" "$victim" "$new" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
victim, new = sys.argv[2], sys.argv[3]
lost = [e["node"] for e in evs if e["ev"] == "node_lost"]
restart = [(e["node"], e["moves"]) for e in evs if e["ev"] == "restart" and e["stage"] == "work" and e["index"] == 1]
sampled = sorted({e["node"] for e in evs if e["ev"] == "chan"})
print(lost == [victim], restart == [(new, 1)], len(sampled) >= 2, evs[-1]["ev"])
PY
)" "True True True end" "events.jsonl: the loss, the restart on the new node, samples from more than one node"
"$aic" timeline --job "$jd" -o trace.json
is "$(/usr/bin/python3 - "$victim" "$new" <<'PY'
import json, sys
victim, new = sys.argv[1], sys.argv[2]
evs = json.load(open("trace.json"))["traceEvents"]
pid = {e["args"]["name"]: e["pid"] for e in evs if e["name"] == "process_name"}
# A life is a slice on each of its 4 GPUs' tracks: one per life here.
lives = sorted({(e["pid"], e["args"]["exit"]) for e in evs if e["ph"] == "X" and e["name"] == "work/1"}, key=str)
lost = [e["pid"] for e in evs if e["ph"] == "i" and e["name"] == "node lost"]
print(len([n for n in pid if n.startswith("node ")]) == 4, lost == [pid["node " + victim]],
      lives == sorted([(pid["node " + victim], "lost with its node"), (pid["node " + new], 0)], key=str))
PY
)" "True True True" "aic timeline: a track per node, the loss on the lost node's, the replica's two lives"
done_testing

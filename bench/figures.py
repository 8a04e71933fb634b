"""Turns one benchmark's raw JSON lines (stdin) into bench/run's figures.

    python3 bench/figures.py KIND < RAW

KIND is the benchmark: spawn (build/bench/spawn), channels
(bench/channels.sh), grpo (bench/grpo-toy.sh), bootstrap, channels-cluster,
weights-cluster, restart-cluster (bench/*.sh of those names). Prints one
JSON line per figure:

    {"bench": ..., "figure": ..., "value": ..., "unit": ...,
     "baseline": ..., "baseline_value": ..., "ratio": value / baseline_value}

Every baseline was measured in the same run as its figure (a busy
fraction's is the ideal, 1). Exits 1, naming what is missing, when the raw
output lacks a line it needs.
"""
import json
import statistics
import sys


def out(bench, figure, value, unit, baseline=None, baseline_value=None, **extra):
    line = {"bench": bench, "figure": figure, "value": value, "unit": unit,
            "baseline": baseline, "baseline_value": baseline_value,
            "ratio": round(value / baseline_value, 3) if baseline_value else None}
    line.update(extra)
    print(json.dumps(line))


def find(lines, what, key="what", nth=0):
    hits = [x for x in lines if x.get(key) == what]
    if len(hits) <= nth:
        sys.exit("figures: no '%s' line (%s #%d) in the benchmark's output" % (what, key, nth + 1))
    return hits[nth]


def spawn(lines):
    s = find(lines, "spawn", "name")
    out("spawn", "processes/s, aic_spawn + pidfd wait", s["value"], "1/s",
        "posix_spawn + waitpid of /bin/true", s["baseline_value"], n=s["n"])


def channels(lines):
    big_copy, ring, big = find(lines, "memcpy"), find(lines, "memcpy into a ring"), find(lines, "channel")
    small_copy, small = find(lines, "memcpy", nth=1), find(lines, "channel", nth=1)
    b = "channel-same-node"
    out(b, "GBps, %d x 1 MiB" % big["items"], big["GBps"], "GB/s",
        "memcpy round a %d MiB ring" % (ring["ring_bytes"] >> 20), ring["GBps"])
    out(b, "GBps, %d x 1 MiB" % big["items"], big["GBps"], "GB/s",
        "memcpy into one 1 MiB buffer", big_copy["GBps"])
    ip = find(lines, "channel in place")
    out(b, "GBps, %d x 1 MiB built in place (aic_put_buffer)" % ip["items"], ip["GBps"], "GB/s",
        "memcpy round a %d MiB ring" % (ring["ring_bytes"] >> 20), ring["GBps"])
    out(b, "put->get latency p50, 1 MiB", big["lat_p50_us"], "us",
        "one memcpy of 1 MiB round the ring", round(1e6 * ring["seconds"] / ring["items"], 1),
        p99_us=big["lat_p99_us"])
    out(b, "items/s, %d x 64 B" % small["items"], small["items_per_s"], "1/s",
        "memcpy of the same 64 B items", round(small_copy["items"] / small_copy["seconds"]))
    ping = find(lines, "tcp pingpong")
    out(b, "put->get latency p50, 64 B, producer flat out", small["lat_p50_us"], "us",
        "one-way loopback TCP latency of 64 B, idle (half a round trip)", ping["one_way_p50_us"],
        p99_us=small["lat_p99_us"])


def grpo(lines):
    base = find(lines, "grpo in-process")
    fast = [x for x in lines if x.get("what") == "grpo aic run" and x["gen_delay_s"] == 0]
    if not fast:
        sys.exit("figures: no 'grpo aic run' line with gen_delay_s 0")
    rate = statistics.median(x["steps"] / x["loop_s"] for x in fast)
    wall = statistics.median(x["wall_s"] for x in fast)
    out("grpo-toy", "training steps/s under aic run (GEN_DELAY_S=0, median of %d)" % len(fast),
        round(rate, 1), "1/s", "the same GRPO loop in one process, no aic",
        base["steps_per_s"], steps=fast[0]["steps"], reward_last=fast[0]["reward_last"],
        baseline_reward_last=base["reward_last"])
    out("grpo-toy", "whole job wall time, aic run (GEN_DELAY_S=0, median of %d)" % len(fast),
        wall, "s", "python3 bench/grpo_inproc.py, start to exit", base["wall_s"])
    for x in lines:
        if x.get("what") == "grpo aic run" and x["gen_delay_s"] > 0:
            out("grpo-toy", "training loop time as shipped (GEN_DELAY_S=%g)" % x["gen_delay_s"],
                x["loop_s"], "s", "pretend generation alone (groups x delay / replicas)",
                x["gen_floor_s"], steps=x["steps"], reward_last=x["reward_last"])
    busy = {}
    for x in lines:
        if x.get("what") == "busy":
            b = busy.setdefault((x["gen_delay_s"], x["stage"]), {"wall_s": 0.0, "busy_s": 0.0, "wait_s": {}})
            b["wall_s"] += x["wall_s"]
            b["busy_s"] += x["busy_s"]
            for k, v in x["wait_s"].items():
                b["wait_s"][k] = round(b["wait_s"].get(k, 0.0) + v, 3)
    if not busy:
        sys.exit("figures: no 'busy' lines (bench/busy.py wrote nothing)")
    for (delay, stage), b in sorted(busy.items(), reverse=True):
        out("grpo-toy-busy", "busy fraction of stage %s (GEN_DELAY_S=%g)" % (stage, delay),
            round(b["busy_s"] / b["wall_s"], 3), "fraction", "ideal", 1.0,
            wall_s=round(b["wall_s"], 3), wait_s=b["wait_s"])


def bootstrap(lines):
    a, f = find(lines, "bootstrap", "name"), find(lines, "bootstrap-fence", "name")
    r, m = find(lines, "registration", "name"), find(lines, "agent-rss", "name")
    out("bootstrap", "srun start -> job end, 3 nodes, 3 trivial workers (median of %d)" % a["runs"],
        a["value"], "ms", a["baseline"], a["baseline_value"])
    out("bootstrap", "srun start -> job end, 3 nodes, 3 trivial workers (median of %d)" % a["runs"],
        f["value"], "ms", "srun -N3 --mpi=pmix pmix_hello (bare PMIx fence)", f["baseline_value"])
    out("bootstrap", "head start -> every agent registered", r["value"], "ms", r["baseline"],
        r["baseline_value"])
    out("bootstrap", "peak RSS of aic-launch, head node", m["value"], "KiB", m["baseline"],
        m["baseline_value"])


def channels_cluster(lines):
    tcp = find(lines, "raw tcp")
    ch, zch = find(lines, "channel"), find(lines, "channel", nth=1)
    zr, zb = find(lines, "channel zstd ratio"), find(lines, "zstd -b1")
    out("channel-cross-node", "GBps n1 -> n3, %d x 1 MiB, put" % ch["items"], ch["GBps"], "GB/s",
        "raw TCP stream n1 -> n3", tcp["GBps"])
    ip = find(lines, "channel in place")
    out("channel-cross-node", "GBps n1 -> n3, %d x 1 MiB, built in place" % ip["items"], ip["GBps"],
        "GB/s", "raw TCP stream n1 -> n3", tcp["GBps"])
    out("channel-compress", "compression ratio, text-like items", zr["ratio"], "x",
        "zstd -b1 on the same bytes", zb["ratio"])
    mbps = round(zch["bytes"] / zch["seconds"] / 1e6, 1)
    out("channel-compress", "payload MB/s through a compressed channel n1 -> n3", mbps, "MB/s",
        "zstd -b1 compress, one core", zb["compress_MBps"])
    series = round(1 / (1 / zb["compress_MBps"] + 1 / zb["decompress_MBps"]), 1)
    out("channel-compress", "payload MB/s through a compressed channel n1 -> n3", mbps, "MB/s",
        "zstd -b1 compress + decompress in series", series)


def weights_cluster(lines):
    chain = find(lines, "raw tcp, chain to 3 nodes")
    for how, what in (("", "publish"), (", in place", "commit (written in place)")):
        for n in (1, 3):
            w = find(lines, "weights to %d node(s)%s" % (n, how))
            fig = "%s -> last reader has it, %d MiB to %d node(s), median of %d" % (
                what, w["bytes"] >> 20, n, w["versions"])
            out("weights-broadcast", fig, w["seconds"], "s",
                "one raw TCP transfer of the same bytes", w["raw_tcp_seconds"])
            if n == 3:
                out("weights-broadcast", fig, w["seconds"], "s",
                    "raw TCP chain n1 -> n2 -> n3 -> n4 of the same bytes", chain["seconds"])
    # The same with every link shaped (bench/weights-cluster.sh: AIC_BENCH_LINK), if tc could.
    shaped = [x for x in lines if x.get("what", "").startswith("raw tcp, one transfer, ")
              and x["what"].endswith(" links")]
    if not shaped:
        skip = [x for x in lines if x.get("what", "").endswith(" links") and "skipped" in x]
        if skip:
            print(json.dumps({"bench": "weights-broadcast-shaped", "skipped": skip[0]["skipped"]}))
        return
    link = shaped[0]["what"][len("raw tcp, one transfer, "):]
    for n, how, what in ((1, ", in place", "commit (written in place)"), (3, "", "publish"),
                         (3, ", in place", "commit (written in place)")):
        w = find(lines, "weights to %d node(s)%s, %s" % (n, how, link))
        out("weights-broadcast-shaped", "%s -> last reader has it, %d MiB to %d node(s), %s, median of %d"
            % (what, w["bytes"] >> 20, n, link, w["versions"]), w["seconds"], "s",
            "one raw TCP transfer of the same bytes, %s" % link, w["raw_tcp_seconds"])


def restart_cluster(lines):
    s, r = find(lines, "srun -N1 true"), find(lines, "restart")
    out("restart", "kill -9 of a rollout replica -> new one running (status.json), median of %d"
        % r["kills"], r["median_to_running_ms"], "ms", "srun -N1 true (median of 5)",
        s["median_ms"], each_ms=r["to_running_ms"])
    if r["median_to_connected_ms"] is not None:
        out("restart", "kill -9 of a rollout replica -> new one connected to its agent, median of %d"
            % len(r["to_connected_ms"]), r["median_to_connected_ms"], "ms",
            "srun -N1 true (median of 5)", s["median_ms"], each_ms=r["to_connected_ms"])


KINDS = {"spawn": spawn, "channels": channels, "grpo": grpo, "bootstrap": bootstrap,
         "channels-cluster": channels_cluster, "weights-cluster": weights_cluster,
         "restart-cluster": restart_cluster}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in KINDS:
        sys.exit("usage: figures.py {%s} < RAW" % ",".join(KINDS))
    lines = []
    for text in sys.stdin:
        text = text.strip()
        if text.startswith("{"):
            lines.append(json.loads(text))
    KINDS[sys.argv[1]](lines)

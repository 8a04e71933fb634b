"""Turns one benchmark's raw JSON lines (stdin) into bench/run's figures.

    python3 bench/figures.py KIND < RAW

KIND is the benchmark: spawn (build/bench/spawn), channels
(bench/channels.sh), soak (bench/soak.sh), grpo (bench/grpo-toy.sh), observe (bench/observe.sh), phases (bench/phases.sh),
autoscale (bench/autoscale.sh), satellite (bench/satellite.sh),
torch (bench/torch-grpo.sh), scale (bench/scale), agentic (bench/agentic.sh),
bootstrap, channels-cluster, weights-cluster, restart-cluster,
liveness-cluster, recover-cluster, resume-cluster, grpo-cluster (bench/*.sh of those
names). Every raw line is one sample; aic's samples and the baseline's
were taken in alternating order in the same run (resume-cluster's in the
order one job has them). Prints one JSON line per figure:

    {"bench": ..., "figure": ..., "unit": ...,
     "value": median, "min": ..., "max": ..., "n": samples,
     "baseline": ... or null, "baseline_value": median, "baseline_min": ...,
     "baseline_max": ..., "baseline_n": ..., "ratio": value / baseline_value,
     "difference": value - baseline_value, "baseline_does": one sentence}

A figure with no baseline (latency under load, a busy fraction) has
"baseline": null and says why in "baseline_does". Exits 1, naming what is
missing, when the raw output lacks a line it needs or a check fails.
"""
import json
import statistics
import sys


def sig(x, digits=4):
    """x rounded to `digits` significant digits (an int when it is one)."""
    if x == 0 or x is None:
        return x
    r = float("%.*g" % (digits, x))
    return int(r) if r == int(r) and abs(r) >= 10 ** (digits - 1) else r


def out(bench, figure, values, unit, baseline=None, baseline_values=None, does=None, pairs=None,
        **extra):
    if not values:
        sys.exit("figures: no samples for '%s'" % figure)
    line = {"bench": bench, "figure": figure, "unit": unit,
            "value": sig(statistics.median(values)), "min": sig(min(values)),
            "max": sig(max(values)), "n": len(values), "baseline": baseline}
    if baseline is not None:
        if not baseline_values:
            sys.exit("figures: no baseline samples for '%s'" % figure)
        b = statistics.median(baseline_values)
        line.update(baseline_value=sig(b), baseline_min=sig(min(baseline_values)),
                    baseline_max=sig(max(baseline_values)), baseline_n=len(baseline_values),
                    ratio=round(statistics.median(values) / b, 3) if b else None,
                    difference=sig(statistics.median(values) - b, 3))
        # Samples taken in pairs (one of each per repetition): the spread of the pairs' ratios;
        # or the ratios the caller paired otherwise (`pairs`, e.g. a repetition's medians).
        if pairs is None and len(values) == len(baseline_values):
            pairs = [v / bv for v, bv in zip(values, baseline_values) if bv]
        if pairs and len(pairs) > 1:
            line.update(ratio_min=round(min(pairs), 3), ratio_max=round(max(pairs), 3))
    line["baseline_does"] = does
    line.update(extra)
    print(json.dumps(line))


def pick(lines, what, key, **match):
    """Every line whose "what" is `what` (and whose other fields are as in
    `match`): its `key`s, in the order they were measured."""
    vals = [x[key] for x in lines if x.get("what") == what
            and all(x.get(k) == v for k, v in match.items())]
    if not vals:
        sys.exit("figures: no '%s' line%s in the benchmark's output" % (
            what, "".join(" with %s=%s" % kv for kv in match.items())))
    return vals


def spawn(lines):
    out("spawn", "processes/s, aic_spawn + pidfd wait of /bin/true", pick(lines, "aic_spawn", "per_s"),
        "1/s", "posix_spawn + waitpid", pick(lines, "posix_spawn", "per_s"),
        does="posix_spawn and waitpid of the same /bin/true, one at a time, in the same process")


def channels(lines):
    b = "channel-same-node"
    out(b, "GB/s, 1 MiB items, aic_put (fill a buffer, put; the consumer reads every byte)",
        pick(lines, "channel", "GBps", pair="put"), "GB/s",
        "fill, copy into a 16 MiB ring, read", pick(lines, "local copy", "GBps"),
        does="one process fills a 1 MiB buffer, memcpy's it into the next slot of a 16 MiB ring "
             "and reads the slot: the channel's work on one core, without the second process")
    out(b, "GB/s, 1 MiB items built in place (aic_put_buffer; the consumer reads every byte)",
        pick(lines, "channel in place", "GBps"), "GB/s",
        "fill a ring slot, read it", pick(lines, "local fill", "GBps"),
        does="one process fills the next 1 MiB slot of a 16 MiB ring and reads it: the same bytes "
             "written and read, on one core, without the second process")
    out(b, "items/s, 64 B items, pipelined puts", pick(lines, "channel", "items_per_s", pair="small"),
        "1/s", "64 B messages over loopback TCP", pick(lines, "tcp msgs", "items_per_s"),
        does="one process writes 64 B messages to a loopback TCP socket, one write() each; "
             "another reads them, up to 64 a read")
    for p in ("p50", "p99"):
        out(b, "put->get latency %s, 64 B, one item in flight (a put every 500 us)" % p,
            pick(lines, "channel paced", "lat_%s_us" % p), "us",
            "loopback TCP, one message in flight", pick(lines, "tcp paced", "lat_%s_us" % p),
            does="a writer sleeps 500 us, stamps a 64 B message and writes it to a loopback TCP "
                 "socket; the reader's clock minus the stamp")
    for p in ("p50", "p99"):
        out(b, "put->get latency %s, 64 B, producer at half its flat-out rate" % p,
            pick(lines, "channel half rate", "lat_%s_us" % p), "us",
            "loopback TCP, one message in flight", pick(lines, "tcp paced", "lat_%s_us" % p),
            does="a writer sleeps 500 us, stamps a 64 B message and writes it to a loopback TCP "
                 "socket; the reader's clock minus the stamp", rate=pick(lines, "channel half rate", "rate"))
    for p in ("p50", "p99"):
        out(b, "control round trip %s, worker -> agent -> worker, idle (aic_phase_should_yield)" % p,
            pick(lines, "control rtt", "lat_%s_us" % p), "us",
            "loopback TCP ping-pong of 64 B", pick(lines, "tcp pingpong", "lat_%s_us" % p),
            does="one process writes 64 B to a loopback TCP socket and waits for another to "
                 "echo them back, one message at a time")
    out(b, "engine memory per in-flight 64 B item (held by a consumer, not acked)",
        pick(lines, "inflight memory", "bytes_per_item"), "B",
        does="none: the engine's peak RSS with 100,000 items held at once less that with 2,000, "
             "per item; the item itself is 64 B of payload and a 52 B header")
    for p in ("p50", "p99"):
        out(b, "put->get latency %s, 64 B, producer flat out (queueing)" % p,
            pick(lines, "channel", "lat_%s_us" % p, pair="small"), "us",
            does="none: with the producer flat out this is how long an item waits in a full "
                 "channel (capacity / rate), a property of the load, not of the channel")


def grpo(lines):
    base = [x for x in lines if x.get("what") == "grpo in-process"]
    fast = [x for x in lines if x.get("what") == "grpo aic run" and x["gen_delay_s"] == 0]
    slow = [x for x in lines if x.get("what") == "grpo aic run" and x["gen_delay_s"] > 0]
    if not base or not fast or not slow:
        sys.exit("figures: grpo needs 'grpo in-process' and 'grpo aic run' lines of both delays")
    # The same work or no comparison: every run beside the baseline trains on
    # as many groups, and so does every run as shipped. A run under aic may
    # split them into one step more (a short last step), so the figure is
    # groups/s, and the step counts are shown beside it.
    for runs in (base + fast, slow):
        groups = {x["groups"] for x in runs}
        if len(groups) != 1:
            sys.exit("figures: grpo-toy trained on different numbers of groups: %s" % sorted(groups))
    groups = {x["groups"] for x in base + fast}
    steps = lambda xs: "%d" % xs[0] if min(xs) == max(xs) else "%d-%d" % (min(xs), max(xs))
    out("grpo-toy", "groups/s trained under aic run, GEN_DELAY_S=0 (%d groups; steps: %s, baseline %s)"
        % (groups.pop(), steps([x["steps"] for x in fast]), steps([x["steps"] for x in base])),
        [x["groups"] / x["loop_s"] for x in fast], "1/s",
        "the same GRPO loop in one process", [x["groups"] / x["seconds"] for x in base],
        does="bench/grpo_inproc.py: the same prompts, sampling, reward, group_gradient and update "
             "with the spec's BATCH, GROUP and LR, in one process: no channels, weight stream or gang")
    pipes = [x for x in lines if x.get("what") == "grpo pipes"]
    if pipes:
        if {x["groups"] for x in pipes} != {x["groups"] for x in fast}:
            sys.exit("figures: grpo-toy over pipes trained on another number of groups")
        out("grpo-toy", "groups/s trained under aic run, GEN_DELAY_S=0, beside its processes "
            "over pipes", [x["groups"] / x["loop_s"] for x in fast], "1/s",
            "the job's five processes over pipes", [x["groups"] / x["seconds"] for x in pipes],
            does="bench/grpo_pipes.py: two rollout, one reward and two training processes (each "
                 "rank on a core) doing the job's work with its code and JSON, the weights and "
                 "items over pipes, the gang's sums over collective.Gang: no channels, acks, "
                 "checkpoint polls or engine")
        relay = [x for x in lines if x.get("what") == "grpo pipes relay"]
        if relay:
            out("grpo-toy", "groups/s trained under aic run, GEN_DELAY_S=0, beside its processes "
                "over pipes through a relay", [x["groups"] / x["loop_s"] for x in fast], "1/s",
                "the job's five processes over pipes through a relay",
                [x["groups"] / x["seconds"] for x in relay],
                does="bench/grpo_pipes.py --relay: the pipes above, each through one more "
                     "process (bench/relay: poll, read, write) as aic's items and weights go "
                     "through the node's agent: the least that hop costs")
        out("grpo-toy", "groups/s, the job's five processes over pipes (no aic), GEN_DELAY_S=0",
            [x["groups"] / x["seconds"] for x in pipes], "1/s",
            "the same GRPO loop in one process", [x["groups"] / x["seconds"] for x in base],
            does="bench/grpo_inproc.py: what the machine gives this job's shape without aic, "
                 "against one process")
    out("grpo-toy", "whole job wall time, aic run, GEN_DELAY_S=0", [x["wall_s"] for x in fast], "s",
        "python3 bench/grpo_inproc.py, start to exit", [x["wall_s"] for x in base],
        does="the one-process loop above, from its start to its exit (interpreter and numpy "
             "start-up included, as aic run's figure includes its workers')")
    out("grpo-toy", "engine CPU time per training step, aic run, GEN_DELAY_S=0",
        [1000 * x["engine_cpu_s"] / x["steps"] for x in fast], "ms",
        does="none: the aic run process's own user and system time (head and agent, not the "
             "workers; summary.json's engine_cpu_s) over the whole job, start-up included, "
             "divided by its training steps")
    delay = slow[0]["gen_delay_s"]
    out("grpo-toy", "training loop time as shipped (GEN_DELAY_S=%g)" % delay,
        [x["loop_s"] for x in slow], "s", "pretend generation alone",
        [x["gen_floor_s"] for x in slow],
        does="arithmetic, not a run: groups x GEN_DELAY_S / rollout replicas, the least time the "
             "pretend generation takes however well the rest overlaps it")
    # Where a step's CPU time goes at GEN_DELAY_S=0: each stage's processes
    # (from aic.connect() to their last call into aic) and the engine, per
    # training step, beside the one-process loop's (one thread: its loop
    # time). Runs and baselines pair in the order they were measured.
    cpu = {}
    for x in lines:
        if x.get("what") == "busy" and x["gen_delay_s"] == 0 and "cpu_s" in x:
            cpu.setdefault(x["stage"], []).append(1000 * x["cpu_s"] / x["steps"])
    for stage, per_step in sorted(cpu.items()):
        out("grpo-toy", "CPU time per training step, stage %s (all its processes), GEN_DELAY_S=0"
            % stage, per_step, "ms",
            does="none: bench/busy.py's cpu_s (user and system, from aic.connect() to the "
                 "process's last call into aic) summed over the stage, divided by the steps")
    runs = [x for x in fast if "workers_cpu_s" in x]
    if runs:
        out("grpo-toy", "CPU time per training step, every stage and the engine, GEN_DELAY_S=0",
            [1000 * (x["workers_cpu_s"] + x["engine_cpu_s"]) / x["steps"] for x in runs], "ms",
            "the same GRPO loop in one process", [1000 * x["seconds"] / x["steps"] for x in base],
            does="bench/grpo_inproc.py's loop time per step: one thread, so its CPU time as near "
                 "as a wall clock tells (the engine's share includes its start-up)")
    runs = {}
    for x in lines:
        if x.get("what") == "busy":
            runs.setdefault((x["gen_delay_s"], x["stage"]), []).append(x["busy_s"] / x["wall_s"])
    if not runs:
        sys.exit("figures: no 'busy' lines (bench/busy.py wrote nothing)")
    for (d, stage), fractions in sorted(runs.items(), reverse=True):
        out("grpo-toy-busy", "busy fraction of stage %s (GEN_DELAY_S=%g)" % (stage, d), fractions,
            "fraction", does="none: 1 would be a stage that never waits for aic or its gang")


def observe(lines):
    b = "observe"
    pk = lambda what, key, on: [x[key] for x in lines if x.get("what") == what and x.get("observe") is on]
    for what, key, unit, figure in (
            ("channel small", "items_per_s", "1/s", "items/s, 64 B items pipelined, with events and metrics"),
            ("grpo", "groups_per_s", "1/s", "grpo-toy groups/s trained, first 49 steps (GEN_DELAY_S=0), with events and metrics"),
            ("grpo", "wall_s", "s", "grpo-toy whole job wall time (GEN_DELAY_S=0), with events and metrics")):
        on, off = pk(what, key, True), pk(what, key, False)
        if not on or not off:
            sys.exit("figures: observe needs '%s' lines with and without (observe: true, false)" % what)
        out(b, figure, on, unit, "the same, AIC_OBSERVE=0", off,
            does="the same job in the same run with AIC_OBSERVE=0: no events.jsonl, agent sampling, "
                 "item spans or /metrics (the three per-item counters stay)")


def bootstrap(lines):
    b = "bootstrap"
    aic = pick(lines, "aic job", "ms")
    out(b, "srun start -> job end, 3 nodes, 3 trivial workers", aic, "ms", "srun -N3 true",
        pick(lines, "srun true", "ms"),
        does="srun -N3 --ntasks-per-node=1 true: a SLURM step of nothing, start to end")
    out(b, "srun start -> job end, 3 nodes, 3 trivial workers", aic, "ms",
        "srun -N3 --mpi=pmix pmix_hello", pick(lines, "pmix job", "ms"),
        does="srun -N3 --mpi=pmix tests/integration/pmix_hello: PMIx init, a put, one fence "
             "with data, a get of every rank's value, finalize")
    out(b, "srun start -> every agent registered with the head", pick(lines, "registered", "ms"), "ms",
        "srun start -> pmix_hello's fence returned", pick(lines, "fence returned", "ms"),
        does="srun -N3 --mpi=pmix pmix_hello, from the same srun start to the moment rank 0's "
             "PMIx_Fence (with data) returned: the rendezvous every PMIx job pays")
    out(b, "peak RSS of aic-launch, largest of the 3 nodes", pick(lines, "aic rss", "kib"), "KiB",
        "peak RSS of pmix_hello", pick(lines, "pmix rss", "kib"),
        does="the peak RSS of a bare PMIx client (pmix_hello), largest of the 3 nodes, in the "
             "same runs")


def channels_cluster(lines):
    b = "channel-cross-node"
    tcp = pick(lines, "raw tcp", "GBps")
    does = ("tcp_stream: one process in n1's network namespace writes the same bytes in 1 MiB "
            "writes to one in n3's, which reads them: no framing, no agents")
    out(b, "GB/s n1 -> n3, 1 MiB items, aic_put", pick(lines, "channel", "GBps"), "GB/s",
        "raw TCP stream n1 -> n3", tcp, does=does)
    out(b, "GB/s n1 -> n3, 1 MiB items, built in place", pick(lines, "channel in place", "GBps"),
        "GB/s", "raw TCP stream n1 -> n3", tcp, does=does)
    c = "channel-compress"
    out(c, "compression ratio, text-like 1 MiB items", pick(lines, "channel zstd ratio", "ratio"), "x",
        "zstd -b1 on the same bytes", pick(lines, "zstd -b1", "ratio"),
        does="zstd -b1 -B1048576 (the channel's level, 1 MiB blocks) on the items the producer sends")
    out(c, "payload MB/s through a compressed channel n1 -> n3", pick(lines, "channel zstd", "MBps"),
        "MB/s", "zstd -b1 compress, one core", pick(lines, "zstd -b1", "compress_MBps"),
        does="zstd -b1 -B1048576 compressing the same bytes on one core, in memory: a channel "
             "compresses on its producing agent's one event loop")


def rep_ratios(xs, lines, what, link):
    """Per repetition ("rep"), the median of the versions timed in xs over the median of the
    raw samples of `what` (and `link`) in lines: each a ratio of two sides sampled in the same
    repetition, minutes apart at most, where the machine's state moves the raw transfer as
    much as aic."""
    raws = [x for x in lines if x.get("what") == what and x.get("link") == link]
    out = []
    for rep in sorted({x.get("rep") for x in xs if x.get("rep") is not None}):
        t = [s for x in xs if x.get("rep") == rep for s in x["seconds"]]
        b = [r["seconds"] for r in raws if r.get("rep") == rep]
        if t and b and statistics.median(b):
            out.append(statistics.median(t) / statistics.median(b))
    return out


def weights_cluster(lines):
    groups = {}
    for x in lines:
        if x.get("what") == "weights":
            groups.setdefault((x["nodes"], x["in_place"], x.get("link")), []).append(x)
    if not groups:
        sys.exit("figures: no 'weights' lines in the benchmark's output")
    for (nodes, in_place, link), xs in sorted(groups.items(), key=lambda kv: (kv[0][2] or "", kv[0][:2])):
        t = [s for x in xs for s in x["seconds"]]
        skipped = sum(x["skipped"] for x in xs)
        what = "commit (written in place)" if in_place else "publish"
        shaped = ", %s links" % link if link else ""
        fig = "%s -> last reader has it, %d MiB to %d node(s)%s" % (what, xs[0]["bytes"] >> 20, nodes,
                                                                   shaped)
        extra = {"skipped_versions": skipped, "versions": sum(x["versions"] for x in xs)}
        bench = "weights-broadcast-shaped" if link else "weights-broadcast"
        if not t:  # nothing to time, but a figure to account for
            print(json.dumps({"bench": bench, "skipped": "%s: every one of %d versions was skipped"
                              % (fig, extra["versions"])}))
            continue
        one = pick(lines, "raw tcp, one transfer", "seconds", link=link)
        out(bench, fig, t, "s", "one raw TCP transfer%s" % shaped, one,
            pairs=rep_ratios(xs, lines, "raw tcp, one transfer", link),
            does="tcp_stream from n1's namespace to n2's: the same bytes once, from the first "
                 "write to the last byte read%s" % (" (every link shaped)" if link else ""), **extra)
        if nodes == 3:
            out(bench, fig, t, "s", "raw TCP chain n1 -> n2 -> n3 -> n4%s" % shaped,
                pick(lines, "raw tcp, chain to 3 nodes", "seconds", link=link),
                pairs=rep_ratios(xs, lines, "raw tcp, chain to 3 nodes", link),
                does="tcp_stream relays: n1 sends, n2 and n3 pass each read on as it comes, n4 "
                     "reads; from the first write to n4's last byte", **extra)
    for x in lines:  # the shaped part, when tc could not shape (a count is a weights line's)
        if isinstance(x.get("skipped"), str):
            print(json.dumps({"bench": "weights-broadcast-shaped", "skipped": x["skipped"]}))


def restart_cluster(lines):
    b = "restart"
    kills = [x for x in lines if x.get("what") == "kill"]
    backoff = kills[0]["shipped_backoff_ms"] if kills else None
    out(b, "kill -9 of a rollout replica -> the head has the new one running (status.json)",
        [x["to_running_ms"] for x in kills], "ms",
        does="none: aic's own pidfd event, head decision and spawn, timed by status.json's mtime "
             "(a coarse clock: a sample can be off by a tick or two, even below zero); the shipped "
             "spec waits backoff_ms: %s before restarting, not included here" % backoff)
    conn = [x["to_connected_ms"] for x in kills if x.get("to_connected_ms") is not None]
    out(b, "kill -9 of a rollout replica -> the new one has connected to its agent", conn, "ms",
        "aic_spawn of the same worker until it would connect",
        pick(lines, "spawn worker", "ms"),
        does="bench/spawn worker: aic_spawn of the same python3 bench/busy.py rollout.py, timed "
             "until it reaches aic.connect() (interpreter start-up and imports), on the same machine "
             "while the job runs; the shipped backoff_ms: %s is excluded from both" % backoff)


def liveness_cluster(lines):
    b = "node-failure-detection"
    cuts = [x for x in lines if x.get("what") == "detect"]
    timeout = cuts[0]["failure_timeout_ms"] if cuts else None
    out(b, "link cut -> node declared lost by aic (failure_timeout %s ms)" % timeout,
        pick(lines, "detect", "aic_ms"), "ms", "link cut -> SLURM sets the node DOWN",
        pick(lines, "detect", "slurm_ms"),
        does="slurmctld's own detection in the same run (SlurmdTimeout 30 s in the test "
             "cluster), polled with sinfo every 10 ms from the same cut")

def torch_grpo(lines):
    base = pick(lines, "torch-grpo in-process", "steps_per_s")
    out("torch-grpo", "training steps/s under aic run (2 rollout replicas, reward, 2-rank DDP gang; "
        "%s steps)" % sorted(set(pick(lines, "torch-grpo aic run", "steps"))),
        pick(lines, "torch-grpo aic run", "steps_per_s"), "1/s",
        "the same loop in one process", base,
        does="bench/torch_grpo_inproc.py: the same policy.py, batch, group size and Adam step, "
             "sampling, checking and training in turn in one process, one torch thread, no aic")
    mib = sorted(set(pick(lines, "aic.torch publish", "mib")))
    for other, does in (("torch.save /dev/shm", "torch.save of the same state dict to a file in /dev/shm"),
                        ("memcpy", "memmove of each tensor's bytes into one preallocated buffer of "
                                   "their size, in the same process")):
        out("torch-publish", "ms to publish a %s MiB state dict (8 tensors, f32 and bf16), "
            "aic.torch.Weights.publish" % mib[0], pick(lines, "aic.torch publish", "ms"), "ms",
            other, pick(lines, other, "ms"), does=does)


def recover_cluster(lines):
    b = "recover"
    lost = [x for x in lines if x.get("what") == "lost"]
    srun = pick(lines, "srun", "ms")
    out(b, "node lost (SIGKILL of everything on it) -> the head has its replica running on another node",
        [x["to_running_ms"] for x in lost], "ms", "srun -N1 true", srun,
        does="SLURM starting one task on one node of the same cluster and returning, timed in the "
             "same run just before each crash; aic's figure includes noticing the loss (the "
             "agent's links close), placing the replica again and spawning it (status.json's "
             "mtime, a coarse clock)")
    out(b, "node lost -> the replacement replica's first instruction",
        [x["to_started_ms"] for x in lost], "ms", "srun -N1 true", srun,
        does="as above; the replacement writes the time as it starts (sh, then python3)")


def phases(lines):
    b = "phases"
    for pair, who in (("agent", "a replica pair, sequenced by the node's agent"),
                      ("head", "a 2-rank gang with 2 replicas, sequenced by the head")):
        out(b, "phase switch: aic_phase_end -> the other stage's aic_phase_begin returns, " + who,
            pick(lines, "switch", "us", pair=pair), "us", "one control round trip to the agent",
            pick(lines, "round trip", "us", pair=pair),
            does="aic_phase_should_yield() from Python, timed by the same workers between their "
                 "turns in the same run: one frame to the node's agent and its answer")


def resume_cluster(lines):
    b = "checkpoint-resume"
    reps = [x for x in lines if x.get("what") == "resume"]
    if not reps:
        sys.exit("figures: no 'resume' lines in the benchmark's output")
    cancel = [x["cancel_ms"] for x in reps]
    cold = [x["cold_start_ms"] for x in reps]
    out(b, "grpo-toy: notice (SIGUSR1) -> every stage checkpointed, allocation released",
        [x["exit_ms"] for x in reps], "ms", "scancel -> allocation released", cancel,
        does="scancel of the same job's resumed run (SIGTERM, no checkpoint) until squeue no "
             "longer has it RUNNING or COMPLETING: SLURM ending the same job, in the same run")
    does = ("the same job's first run, from its start (squeue's CONFIGURING or RUNNING) to the "
            "trainer's first step line: a start with nothing to load, in the same run")
    out(b, "grpo-toy: requeued job start -> checkpoint loaded (the trainer's resumed line)",
        [x["resume_loaded_ms"] for x in reps], "ms", "cold start -> first step", cold, does=does)
    out(b, "grpo-toy: requeued job start -> first step from the checkpoint",
        [x["resume_step_ms"] for x in reps], "ms", "cold start -> first step", cold, does=does)


def grpo_cluster(lines):
    b = "grpo-cluster"
    runs = [x for x in lines if x.get("what") == "grpo cluster run"]
    base = [x for x in lines if x.get("what") == "grpo in-process"]
    if not runs or not base:
        sys.exit("figures: grpo-cluster needs 'grpo cluster run' and 'grpo in-process' lines")
    groups = {x["groups"] for x in runs + base}
    if len(groups) != 1:
        sys.exit("figures: grpo-toy trained on different numbers of groups: %s" % sorted(groups))
    steps = [x["steps"] for x in runs]
    steps = "%d" % steps[0] if min(steps) == max(steps) else "%d-%d" % (min(steps), max(steps))
    out(b, "groups/s trained, examples/grpo-toy on 2 nodes, a training rank on each, GEN_DELAY_S=0 "
        "(%d groups; steps: %s)" % (groups.pop(), steps),
        [x["groups"] / x["loop_s"] for x in runs], "1/s",
        "the same GRPO loop in one process", [x["groups"] / x["seconds"] for x in base],
        does="bench/grpo_inproc.py on this machine, alternating with the runs: the same prompts, "
             "sampling, reward, group_gradient and update in one process, nothing crossing a link")
    out(b, "mean version lag of the trained groups, grpo-toy on 2 nodes, GEN_DELAY_S=0",
        [x["lag"] for x in runs], "versions",
        does="none: the trainer's weights version less the one each group was made with, over "
             "every group; the example waits for new weights before each share of a step, so "
             "0 unless a step lacked groups that another node held")


def autoscale(lines):
    b = "autoscale"
    auto = [x for x in lines if x.get("what") == "autoscale"]
    fixed = [x for x in lines if x.get("what") == "fixed"]
    if not auto or not fixed:
        sys.exit("figures: autoscale needs 'autoscale' and 'fixed' lines")
    does = ("the same job with the work stage's replicas fixed at its max (4, every GPU), "
            "runs alternating with the autoscaled ones")
    out(b, "GPU busy fraction of a backlogged stage (a burst, then a trickle), replicas "
        "{min: 1, max: 4} autoscaled", [x["gpu_busy"] for x in auto], "fraction",
        "4 fixed replicas", [x["gpu_busy"] for x in fixed], does=does)
    out(b, "whole job wall time, autoscaled", [x["wall_s"] for x in auto], "s",
        "4 fixed replicas", [x["wall_s"] for x in fixed], does=does)
    out(b, "GPU-seconds the work stage held, autoscaled", [x["gpu_s"] for x in auto], "s",
        "4 fixed replicas", [x["gpu_s"] for x in fixed], does=does)
    ramp = [x["ramp_s"] for x in auto if x.get("ramp_s") is not None]
    out(b, "time from a backlog to a new replica taking items (inside the allocation)", ramp, "s",
        "the policy's up_after_s", [float(x["up_after_s"]) for x in auto if x.get("ramp_s") is not None],
        does="no run: the wait autoscale's up_after_s asks for before it adds a replica; the rest "
             "is the decision tick (1 s), the spawn and the worker's start-up")


def satellite(lines):
    b = "satellite"
    sat = pick(lines, "satellite", "backlog_to_items_s")
    empty = pick(lines, "sbatch-empty", "to_running_s")
    does = ("an empty one-node job of the same cluster, from sbatch to its script's first "
            "instruction, in the same run, alternating with the satellite runs")
    out(b, "time from a backlog to a new replica taking items (through a satellite allocation)",
        sat, "s", "sbatch -> running, an empty job", empty, does=does + "; the satellite's "
        "figure adds up_after_s (1 s), the decision tick, squeue, the join, the spawn and the "
        "worker's start-up")
    out(b, "satellite: the head's sbatch -> its agent joined", pick(lines, "satellite",
        "submit_to_join_s"), "s", "sbatch -> running, an empty job", empty, does=does)


# bench/scale's figures: (raw key, figure, unit, factor from the raw value).
SCALE = (
    ("welcomed_s", "bootstrap: first HELLO -> every agent welcomed", "ms", 1000),
    ("placed_first_s", "bootstrap: first HELLO -> placed (CONFIG at the first agent)", "ms", 1000),
    ("placed_s", "bootstrap: first HELLO -> placed (CONFIG at every agent)", "ms", 1000),
    ("bootstrap_s", "bootstrap: first HELLO -> every process running", "ms", 1000),
    ("place_s", "placement solver alone (lib/place)", "ms", 1000),
    ("bootstrap_cpu_s", "head CPU time during bootstrap", "ms", 1000),
    ("head_rss_mib", "head RSS in steady state", "MiB", 1),
    ("head_maxrss_mib", "head peak RSS", "MiB", 1),
    ("head_cpu_s", "head CPU time, whole run", "s", 1),
    ("steady_bytes_per_s", "steady state: bytes/s at the head", "KB/s", 1e-3),
    ("steady_msgs_per_s", "steady state: messages/s at the head", "msg/s", 1),
    ("steady_cpu_frac", "steady state: head CPU", "%", 100),
    ("status_s", "STATUS round trip (aic status's request)", "ms", 1000),
    ("aic_status_s", "aic status, the command", "ms", 1000),
    ("status_write_s", "status.json write", "ms", 1000),
    ("replica_restart_s", "replica crash -> running again", "ms", 1000),
    ("gang_restart_s", "gang rank crash -> every rank running again", "ms", 1000),
    ("node_lost_detect_s", "node silent -> NODE_LOST at every agent (failure_timeout 5 s)",
     "ms", 1000),
    ("node_lost_recover_s", "node silent -> its replicas running elsewhere", "ms", 1000),
)


def scale(lines):
    nodes = sorted({x["nodes"] for x in lines if "nodes" in x})
    if not nodes:
        sys.exit("figures: no bench/scale samples")
    for n in nodes:
        mine = [x for x in lines if x.get("nodes") == n]
        procs = [x["value"] for x in mine if x.get("figure") == "procs"]
        if not procs:
            sys.exit("figures: no 'procs' line for %d nodes in bench/scale's output" % n)
        gang = [x["value"] for x in mine if x.get("figure") == "gang_ranks"]
        for key, figure, unit, k in SCALE:
            vals = [x["value"] * k for x in mine if x.get("figure") == key]
            vals += [x[key] * k for x in mine if key in x and x[key] >= 0]
            wall = [x["stage_wall_s"] for x in mine if "stage_wall_s" in x]
            out("scale", figure, vals, unit, nodes=n, procs=int(procs[0]),
                gang_ranks=int(gang[0]) if gang else 0, stage_wall_s=wall[0] if wall else None,
                does="no baseline: the figure is read against N (bench/scale)")


def agentic(lines):
    b = "agentic"
    out(b, "sandboxed tasks/s: a sandbox made, true run in it, torn down",
        pick(lines, "sandbox made, true, torn down", "per_s"), "1/s", "bare bwrap true",
        pick(lines, "bare bwrap true", "per_s"),
        does="bwrap with the same namespaces and mounts running true, from the same Python "
             "process: the sandbox without aic's task server")
    out(b, "sandboxed tasks/s: true run in a kept sandbox (aic.Sandbox.run)",
        pick(lines, "true in a kept sandbox", "per_s"), "1/s", "fork/exec true",
        pick(lines, "fork/exec true", "per_s"),
        does="subprocess.run of true, unsandboxed, from the same Python process")
    out(b, "service request latency: an HTTP GET through w.endpoints() (lookup included)",
        pick(lines, "discovered", "us"), "us", "a direct loopback HTTP GET",
        pick(lines, "direct", "us"),
        does="the same GET (new connection each) from the same client to an identical "
             "server on loopback that no engine knows; each sample is the median of 200")


def soak(lines):
    b = "channel-soak"
    x = pick(lines, "soak", "seconds")
    out(b, "engine RSS growth over a %d s soak of mixed item sizes (end less warm)" % x[0],
        pick(lines, "soak", "growth_kib"), "KiB",
        does="none: 0 is no growth; warm is the RSS after a tenth of the run",
        items=pick(lines, "soak", "items")[0])
    out(b, "engine RSS at the end of a %d s soak of mixed item sizes" % x[0],
        pick(lines, "soak", "rss_end_kib"), "KiB", does="none")


KINDS = {"spawn": spawn, "channels": channels, "soak": soak, "grpo": grpo, "observe": observe,
         "autoscale": autoscale, "bootstrap": bootstrap,
         "channels-cluster": channels_cluster, "weights-cluster": weights_cluster,
         "restart-cluster": restart_cluster, "liveness-cluster": liveness_cluster,
         "recover-cluster": recover_cluster, "phases": phases,
         "resume-cluster": resume_cluster, "torch": torch_grpo, "scale": scale,
         "agentic": agentic, "satellite": satellite, "grpo-cluster": grpo_cluster}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in KINDS:
        sys.exit("usage: figures.py {%s} < RAW" % ",".join(KINDS))
    lines = []
    for text in sys.stdin:
        text = text.strip()
        if text.startswith("{"):
            lines.append(json.loads(text))
    KINDS[sys.argv[1]](lines)

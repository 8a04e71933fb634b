"""grpo-toy's five processes wired with pipes instead of aic: the IPC baseline.

    python3 bench/grpo_pipes.py [--relay PROGRAM] EXAMPLE-DIR [EPOCHS]

The shape of examples/grpo-toy under aic, on this machine, with each of
aic's calls replaced by the least the operating system offers: two rollout
replicas, one reward process and a training gang of two ranks, each rank on
a core of its own (the job's `cpus: 1`; the others on any core). Each step
rank 0 writes the new weights (the blob aic's Python publish makes) into a
pipe to each replica; a replica takes its 8 of the step's 16 prompts (JSON
lines, as the source gives them), samples a group of answers for each with
rollout.py's code and writes each group as JSON into one pipe to reward
(one write, atomic); reward scores each group and writes it to the rank
whose turn it is; each rank reads its 8 groups and does train.py's step
with the example's own gang (collective.Gang over loopback TCP): the same
gradient, the same all-gather of the sums, the same update. No channels,
no acks, no checkpoint polls, no engine: what five processes that pass
the same JSON cost on this machine. With --relay (bench/relay, built from
bench/relay.c) every pipe goes through one more process that forwards
what it reads: the weights to both replicas, the groups to reward, the
scored groups to each rank; aic's items and weights go worker -> the
node's agent -> worker, so this is the least such a hop costs. Prints one JSON line: steps, groups,
loop seconds (rank 0's, from its first publish to its last step, as
grpo-toy's reward.csv), steps/s, the first and last 5 steps' mean reward.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

import grpo_spec  # bench/, beside this script

args = sys.argv[1:]
relay_program = None
if args[:1] == ["--relay"] and len(args) > 1:
    relay_program, args = os.path.abspath(args[1]), args[2:]
if not args:
    sys.exit("usage: grpo_pipes.py [--relay PROGRAM] EXAMPLE-DIR [EPOCHS]")
example = os.path.abspath(args[0])
epochs = int(args[1]) if len(args) > 1 else None
sys.path.insert(0, example)

import numpy as np  # noqa: E402

import collective  # noqa: E402
import policy  # noqa: E402
import train  # noqa: E402

from aic import _layout, _pack_into, _unpack  # noqa: E402  (the blob aic's publish makes)

_LEN = struct.Struct("!I")


def send(fd, data):
    """One frame, one write: atomic on a pipe up to PIPE_BUF, so two writers never interleave."""
    frame = _LEN.pack(len(data)) + data
    while frame:
        frame = frame[os.write(fd, frame):]


class Reader:
    """Frames from a pipe, read in large pieces."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def _fill(self, n):
        while len(self.buf) < n:
            got = os.read(self.fd, 1 << 16)
            if not got:
                raise EOFError
            self.buf += got

    def frame(self):
        self._fill(_LEN.size)
        (n,) = _LEN.unpack_from(self.buf)
        self._fill(_LEN.size + n)
        data, self.buf = self.buf[_LEN.size:_LEN.size + n], self.buf[_LEN.size + n:]
        return data


def blob(params, version):
    head, parts, total = _layout(params)
    view = memoryview(bytearray(total))
    _pack_into(view, head, parts)
    return struct.pack("!Q", version) + bytes(view)


def rollout(replica, stream, batch, group, steps, wfd, out):
    weights = Reader(wfd)
    rng = np.random.default_rng([replica, os.getpid()])
    share = batch // 2
    for s in range(steps):
        b = weights.frame()
        version = struct.unpack_from("!Q", b)[0]
        params = _unpack(b[8:])
        lines = stream[s * batch + replica * share:s * batch + (replica + 1) * share]
        prompts = [json.loads(line) for line in lines]
        p = policy.probs(params, policy.encode(prompts))
        for prompt, row in zip(prompts, p):
            answers = rng.choice(policy.ANSWERS, size=group, p=row)
            send(out, json.dumps(dict(prompt, answers=answers.tolist(), version=version)).encode())


def reward(steps, batch, inp, outs):
    samples = Reader(inp)
    for n in range(steps * batch):
        s = json.loads(samples.frame())
        s["rewards"] = [policy.correct(s, a) for a in s["answers"]]
        send(outs[n % 2], json.dumps(s).encode())


def trainer(rank, steps, batch, lr, inp, wfds, result):
    os.environ.update(RANK=str(rank))
    os.sched_setaffinity(0, {rank % os.cpu_count()})
    gang = collective.Gang()
    scored = Reader(inp)
    params, version, seen, rows = policy.init(), 1, set(), []
    t0 = time.monotonic()
    if rank == 0:
        for fd in wfds:
            send(fd, blob(params, version))
    for s in range(steps):
        groups = [json.loads(scored.frame()) for _ in range(batch // 2)]
        keys = [[0, s * batch + i, g["id"]] for i, g in enumerate(groups)]  # the origins aic gives
        new = train.new_here(keys, seen)
        parts = gang.allgather({"keys": keys}, train.step_sums(params, groups, new, version))
        for m, _ in parts:
            seen.update((e, line) for e, line, _ in m["keys"])
        total = np.sum([a for _, a in parts], axis=0)
        grad, (reward_sum, n, _) = total[:-3].reshape(params["W"].shape), total[-3:]
        params = {"W": params["W"] + lr * grad}
        version += 1
        if rank == 0:
            if s + 1 < steps:
                for fd in wfds:
                    send(fd, blob(params, version))
            rows.append(reward_sum / n)
    t = time.monotonic() - t0
    gang.close()
    if rank == 0:
        os.write(result, json.dumps({"seconds": t, "rewards": rows}).encode())


def main():
    batch, group, lr, n_epochs = grpo_spec.job(example, epochs)
    if batch % 2:
        sys.exit("grpo_pipes: BATCH %d is not even (two replicas, two ranks)" % batch)
    stream = [line for line in open(os.path.join(example, "prompts.jsonl"))] * n_epochs
    steps = len(stream) // batch
    with socket.socket() as s:  # a free port for the gang
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                      AIC_TOKEN="grpo-pipes", OMP_NUM_THREADS="1")
    samples, weights = os.pipe(), [os.pipe(), os.pipe()]
    scored, result = [os.pipe(), os.pipe()], os.pipe()
    kids = []

    def child(fn, *args):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 (said, and the parent fails)
                print("grpo_pipes: %s: %r" % (fn.__name__, e), file=sys.stderr)
                code = 1
            os._exit(code)
        kids.append(pid)

    # Where each process writes: the reader's pipe, or with --relay one the relay reads.
    to_reward, to_rank, to_rollouts = samples[1], [scored[0][1], scored[1][1]], [weights[0][1], weights[1][1]]
    relay = None
    if relay_program:
        hop = {"samples": os.pipe(), "scored0": os.pipe(), "scored1": os.pipe(), "weights": os.pipe()}
        routes = {"samples": [samples[1]], "scored0": [scored[0][1]], "scored1": [scored[1][1]],
                  "weights": [weights[0][1], weights[1][1]]}
        argv = [relay_program] + ["%d:%s" % (hop[k][0], ",".join(map(str, v))) for k, v in routes.items()]
        # Only the routes' descriptors survive the exec (Python's pipes are close-on-exec).
        relay = subprocess.Popen(argv, pass_fds=[hop[k][0] for k in hop] + sum(routes.values(), []))
        to_reward, to_rank = hop["samples"][1], [hop["scored0"][1], hop["scored1"][1]]
        to_rollouts = [hop["weights"][1]]
    for r in (0, 1):
        child(rollout, r, stream, batch, group, steps, weights[r][0], to_reward)
    child(reward, steps, batch, samples[0], to_rank)
    child(trainer, 1, steps, batch, lr, scored[1][0], [], result[1])
    child(trainer, 0, steps, batch, lr, scored[0][0], to_rollouts, result[1])
    os.close(result[1])
    out = b""
    while True:
        got = os.read(result[0], 1 << 16)
        if not got:
            break
        out += got
    failed = [pid for pid in kids if os.waitpid(pid, 0)[1] != 0]
    if relay:  # its inputs' other ends are open in this process: it ends when told
        if relay.poll() is not None:
            failed.append(relay.pid)
        relay.terminate()
        relay.wait()
    if failed or not out:
        sys.exit("grpo_pipes: %d of its processes failed" % len(failed))
    r = json.loads(out)
    print(json.dumps({"what": "grpo pipes relay" if relay else "grpo pipes", "steps": len(r["rewards"]), "groups": steps * batch,
                      "seconds": round(r["seconds"], 4),
                      "steps_per_s": round(len(r["rewards"]) / r["seconds"], 1),
                      "reward_first": round(float(np.mean(r["rewards"][:5])), 3),
                      "reward_last": round(float(np.mean(r["rewards"][-5:])), 3)}))


if __name__ == "__main__":
    main()

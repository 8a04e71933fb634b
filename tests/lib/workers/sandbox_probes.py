"""What a sandbox must keep out of reach, probed from a worker: shared by
tests/python/sandbox.sh (bubblewrap over the node's own files) and
tests/python/sandbox-image.sh (an image as the sandbox's root), which assert
on the lines these print.

Each probe runs a task in the sandbox (python/aic/sandbox.py) and prints
"NAME STATUS TIMED_OUT 'STDOUT'" (the first 60 characters of its output);
each "out of reach" inside has its twin outside (outside()), done by the
worker itself, which must work: a probe that fails for another reason (no
job directory, no agent) would otherwise pass. The test writes "precious"
to ./marker, a host file the sandbox must neither read nor harm.

    sys.path.insert(0, WORKERS_DIR)
    import sandbox_probes as probes
    probes.outside()
    with aic.Sandbox() as sb:
        probes.out_of_reach(sb)   # job-dir, marker, token-env, agent, agent-unix, host-pid
        probes.writable(sb)       # tmp (writes /tmp/f), ro
        probes.timeouts(sb)       # task loop, task a, task b
        ...                       # the test's own probes
        probes.harm(sb)           # rm, bomb
    probes.marker_after()         # outside marker after
"""
import os
import socket
import threading

HOST, PORT = os.environ["AIC_AGENT"].rsplit(":", 1)
JOB = os.environ["AIC_JOB_DIR"]
MARKER = os.path.join(os.getcwd(), "marker")
# A task that prints connect_ex's answer for the agent's endpoint (0: reached).
CONNECT = ["python3", "-c", "import socket, sys; s = socket.socket(); "
           "print(s.connect_ex((sys.argv[1], int(sys.argv[2]))))", HOST, PORT]
# The same for the agent's Unix domain socket (AIC_AGENT_UNIX "@name": the
# abstract namespace, "\0name").
UNIX = os.environ["AIC_AGENT_UNIX"]
UCONNECT = ["python3", "-c", "import socket, sys; s = socket.socket(socket.AF_UNIX); "
            "print(s.connect_ex(chr(0) + sys.argv[1][1:]))", UNIX]


def check(sb, name, cmd, **kw):
    """Runs cmd in sb (kw: sb.run's), prints its line, returns its result."""
    r = sb.run(cmd, **kw)
    print(name, r["status"], r["timed_out"], repr(r["stdout"].strip()[:60]), flush=True)
    return r


def outside():
    """The twins outside: "outside agent 0", "outside unix 0", "outside job
    True marker True"."""
    print("outside agent", socket.socket().connect_ex((HOST, int(PORT))), flush=True)
    print("outside unix", socket.socket(socket.AF_UNIX).connect_ex("\0" + UNIX[1:]), flush=True)
    print("outside job", os.path.isdir(JOB), "marker", os.path.exists(MARKER), flush=True)


def out_of_reach(sb, host_file=None):
    """The job directory and the marker (and host_file, as "etc", when
    given) cannot be read; no AIC_ variable (so no token) is set; the
    agent refuses the connection, over TCP and over its Unix socket; the worker's own process is not seen."""
    check(sb, "job-dir", ["ls", JOB])
    check(sb, "marker", ["cat", MARKER])
    if host_file:
        check(sb, "etc", ["cat", host_file])
    check(sb, "token-env", "env | grep -c AIC_ || true")
    check(sb, "agent", CONNECT)
    check(sb, "agent-unix", UCONNECT)
    check(sb, "host-pid", ["test", "-e", "/proc/%d" % os.getpid()])


def writable(sb):
    """/tmp is writable (it keeps "kept" in /tmp/f); /usr is not."""
    check(sb, "tmp", "echo kept >/tmp/f && cat /tmp/f")
    check(sb, "ro", "touch /usr/x")


def timeouts(sb):
    """Three tasks at once with a 2 s timeout: one loops forever and is
    killed, the two beside it finish ("task NAME STATUS TIMED_OUT OUT")."""
    res = {}

    def go(k, cmd):
        res[k] = sb.run(cmd, timeout=2)

    ts = [threading.Thread(target=go, args=(k, c)) for k, c in
          [("loop", "while :; do :; done"), ("a", "sleep 0.5; echo a"), ("b", "echo b")]]
    [t.start() for t in ts]
    [t.join() for t in ts]
    for k in ("loop", "a", "b"):
        print("task", k, res[k]["status"], res[k]["timed_out"], res[k]["stdout"].strip(),
              flush=True)


def harm(sb):
    """`rm -rf /` and a fork bomb; the test then checks that the marker,
    and what it expects of the sandbox, are still there."""
    check(sb, "rm", "rm -rf --no-preserve-root / 2>/dev/null; echo done", timeout=30)
    check(sb, "bomb", "f() { f | f & }; f; sleep 1", timeout=5)


def marker_after():
    """The marker after the sandbox's harm: "outside marker after precious"."""
    print("outside marker after", open(MARKER).read().strip(), flush=True)

"""Sandboxed tasks (doc/aic-job.5, SANDBOXES; the threat model is doc/SECURITY.md).

A replica of a stage with `sandbox:` runs untrusted commands (model-written
programs, tools) through a Sandbox: one bubblewrap sandbox per Sandbox
object, created once and reused for many tasks, with a small task server
inside it that runs each task in its own process group under its own time
limit. A task past its limit is killed with its whole group; the tasks
beside it go on.

    sb = aic.Sandbox()                     # from AIC_SANDBOX, set by the engine
    r = sb.run(["python3", "-c", code], stdin="1 2 3", timeout=5)
    r["status"], r["stdout"], r["timed_out"]

run() is thread-safe: tasks submitted from several threads run at once in
the same sandbox.
"""
import json
import os
import shutil
import subprocess
import threading

__all__ = ["Sandbox", "SandboxError"]

# The most output kept of a task, per stream.
_OUTPUT_MAX = 1 << 20
# The most processes of the sandbox's user a task may have (a fork bomb stops there).
_NPROC = 256
# Who runs the sandbox when the replica is root: nobody, so that the limits hold.
_NOBODY = 65534

# The task server, run by the sandbox's python3: JSON lines in, JSON lines out.
_SERVER = r"""
import json, os, resource, signal, subprocess, sys, threading
OUT_MAX, NPROC = %d, %d
lock = threading.Lock()

def limits():
    os.setsid()
    resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

def answer(m):
    with lock:
        sys.stdout.write(json.dumps(m) + "\n")
        sys.stdout.flush()

def task(req):
    r = {"id": req["id"], "status": None, "stdout": "", "stderr": "", "timed_out": False}
    try:
        p = subprocess.Popen(req["argv"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=limits, cwd="/tmp",
                             env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"})
    except OSError as e:
        r["status"], r["stderr"] = 127, str(e)
        return answer(r)
    try:
        out, err = p.communicate(req["stdin"].encode(), timeout=req["timeout"])
    except subprocess.TimeoutExpired:
        r["timed_out"] = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            # What left the group (setsid) may hold the pipes: stop reading after a while.
            out, err = p.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = b"", b""
    p.wait()
    r["status"] = p.returncode
    r["stdout"] = out[:OUT_MAX].decode(errors="replace")
    r["stderr"] = err[:OUT_MAX].decode(errors="replace")
    answer(r)

for line in sys.stdin:
    threading.Thread(target=task, args=(json.loads(line),), daemon=True).start()
""" % (_OUTPUT_MAX, _NPROC)


class SandboxError(Exception):
    """The sandbox could not start, or ended under a task (a task may kill it: it is then
    made anew for the next task)."""


def _system_binds():
    """The node's /usr read-only, and /bin, /lib... as they are (links into /usr on a
    merged-/usr system): what a sandbox without a rootfs sees of the node, and no more."""
    args = ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


class Sandbox:
    def __init__(self, config=None):
        """config: a dict as AIC_SANDBOX holds ({rootfs, network, tmpfs_mb, timeout_s});
        by default AIC_SANDBOX itself."""
        if config is None:
            text = os.environ.get("AIC_SANDBOX")
            if not text:
                raise SandboxError("no AIC_SANDBOX: the stage has no 'sandbox' in the spec")
            config = json.loads(text)
        self.config = dict({"rootfs": None, "network": "none", "tmpfs_mb": 64,
                            "timeout_s": 10}, **config)
        self._lock = threading.Lock()
        self._waiting = {}
        self._next = 0
        self._p = None
        self._start()

    def argv(self, command):
        """The bubblewrap command line that runs `command` in this sandbox."""
        c = self.config
        bwrap = shutil.which("bwrap")
        if not bwrap:
            raise SandboxError("no 'bwrap' on this node (Debian's bubblewrap)")
        a = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
             "--disable-userns", "--clearenv",
             "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
        if c["network"] == "job":
            a.append("--share-net")
        if c["rootfs"]:
            a += ["--ro-bind", c["rootfs"], "/"]
        else:
            a += _system_binds()
        a += ["--proc", "/proc", "--dev", "/dev",
              "--size", str(int(c["tmpfs_mb"]) << 20), "--tmpfs", "/tmp", "--chdir", "/tmp",
              # The root (bwrap's own tmpfs, holding the links to /usr) and /dev read-only
              # too, so that a task cannot take /bin or /dev/null away from the next one.
              "--remount-ro", "/dev", "--remount-ro", "/"]
        if os.geteuid() == 0:
            # Root's limits do not hold (RLIMIT_NPROC): the sandbox runs as nobody.
            a = ["setpriv", "--reuid", str(_NOBODY), "--regid", str(_NOBODY),
                 "--clear-groups", "--inh-caps=-all"] + a
        return a + ["--"] + command

    def _start(self):
        self._p = subprocess.Popen(
            self.argv(["python3", "-c", _SERVER]), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, close_fds=True, cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        threading.Thread(target=self._read, args=(self._p,), daemon=True).start()

    def _read(self, p):
        for line in p.stdout:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                w = self._waiting.pop(r.get("id"), None)
            if w:
                w[1].update(r)
                w[0].set()
        # The sandbox ended: every task still waiting in it fails.
        with self._lock:
            gone = [w for i, w in list(self._waiting.items()) if w[2] is p]
            for i in [i for i, w in self._waiting.items() if w[2] is p]:
                del self._waiting[i]
        for w in gone:
            w[1]["error"] = "the sandbox ended"
            w[0].set()

    def run(self, command, stdin="", timeout=None):
        """Runs command (a list, or a string for /bin/sh -c) in the sandbox with stdin, and
        returns {"status": exit code or -signal, "stdout", "stderr", "timed_out"}; a task
        past timeout (default: the spec's timeout_s) is killed with its process group.
        Raises SandboxError when the sandbox ended under it (the next run makes a new one)."""
        if isinstance(command, str):
            command = ["/bin/sh", "-c", command]
        ev, res = threading.Event(), {}
        with self._lock:
            if self._p.poll() is not None:
                self._start()
            self._next += 1
            i = self._next
            self._waiting[i] = (ev, res, self._p)
            req = {"id": i, "argv": list(command), "stdin": stdin,
                   "timeout": timeout or self.config["timeout_s"]}
            try:
                self._p.stdin.write((json.dumps(req) + "\n").encode())
                self._p.stdin.flush()
            except OSError:
                del self._waiting[i]
                raise SandboxError("the sandbox ended")
        ev.wait()
        if "error" in res:
            raise SandboxError(res["error"])
        return {k: res[k] for k in ("status", "stdout", "stderr", "timed_out")}

    def reset(self):
        """Ends the sandbox and makes a new one: a clean /tmp, no process left."""
        self.close()
        with self._lock:
            self._start()

    def close(self):
        p, self._p = self._p, self._p
        if p and p.poll() is None:
            p.stdin.close()
            p.kill()
            p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Sandboxed tasks (doc/aic-job.5, SANDBOXES; the threat model is doc/SECURITY.md).

A replica of a stage with `sandbox:` runs untrusted commands (model-written
programs, tools) through a Sandbox: one sandbox per Sandbox object, created
once and reused for many tasks, with a small task server inside it that
runs each task in its own process group under its own time limit. A task
past its limit is killed with its whole group; the tasks beside it go on.

The sandbox is bubblewrap's (the built-in default) over the node's /usr, a
rootfs directory, or an image: a directory or a squashfs file (mounted with
squashfuse) for bubblewrap, or, with a container runtime on the node, a
squashfs or SIF file or a SCHEME:// reference for enroot, apptainer or
podman (the `runtime` key, `auto` by default: see _choose).

    sb = aic.Sandbox()                     # from AIC_SANDBOX, set by the engine
    r = sb.run(["python3", "-c", code], stdin="1 2 3", timeout=5)
    r["status"], r["stdout"], r["timed_out"]

run() is thread-safe: tasks submitted from several threads run at once in
the same sandbox.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
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

answer({"id": 0})  # started: the sandbox is set up
for line in sys.stdin:
    threading.Thread(target=task, args=(json.loads(line),), daemon=True).start()
""" % (_OUTPUT_MAX, _NPROC)


class SandboxError(Exception):
    """The sandbox could not start, or ended under a task (a task may kill it: it is then
    made anew for the next task)."""


def _die_with_parent():
    """In a child before exec: SIGTERM when the worker ends, however it ends."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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


def _kind(image):
    """What an image is: "ref" (SCHEME://...), "dir", "squashfs" or "sif"; raises
    SandboxError naming it when it is missing or none of these."""
    if "://" in image:
        return "ref"
    if os.path.isdir(image):
        return "dir"
    try:
        with open(image, "rb") as f:
            head = f.read(128)
    except OSError as e:
        raise SandboxError("image '%s': %s" % (image, e.strerror))
    if head[:4] == b"hsqs":
        return "squashfs"
    if b"SIF_MAGIC" in head:
        return "sif"
    raise SandboxError("image '%s' is neither a directory, a squashfs image, a SIF image "
                       "nor a SCHEME:// reference" % image)


# What each runtime can run, and, for runtime auto, who runs each kind of image, first
# present first. A squashfs image goes to bubblewrap only when no runtime that reads it
# natively is there (squashfuse is the built-in way).
_RUNS = {"bwrap": ("dir", "squashfs"), "apptainer": ("dir", "squashfs", "sif", "ref"),
         "enroot": ("squashfs", "ref"), "podman": ("dir", "ref")}
_AUTO = {"dir": ("bwrap",), "squashfs": ("enroot", "apptainer", "bwrap"),
         "sif": ("apptainer",), "ref": ("apptainer", "enroot", "podman")}
# The programs each runtime needs on the node, and where they come from.
_NEEDS = {"bwrap": (("bwrap", "Debian's bubblewrap"),),
          "squashfuse": (("squashfuse", "Debian's squashfuse"),),
          "apptainer": (("apptainer", "apptainer.org"),),
          "enroot": (("enroot", "NVIDIA's enroot"),), "podman": (("podman", "Debian's podman"),)}


def _missing(runtime, kind):
    """The first program `runtime` needs for an image of `kind` that is not installed,
    as (program, package), or None."""
    needs = list(_NEEDS[runtime])
    if runtime == "bwrap" and kind == "squashfs":
        needs += _NEEDS["squashfuse"]
    for prog, pkg in needs:
        if not shutil.which(prog):
            return prog, pkg
    return None


def _choose(config):
    """(runtime, image kind or None) for a sandbox's config; raises SandboxError naming the
    value when the image is missing, the runtime cannot run it or is not installed."""
    image, runtime = config.get("image"), config.get("runtime") or "auto"
    node = socket.gethostname()
    if not image:
        if runtime not in ("auto", "bwrap"):
            raise SandboxError("runtime '%s' needs an 'image'" % runtime)
        runtime, kind = "bwrap", None
    else:
        kind = _kind(image)
        if runtime == "auto":
            for r in _AUTO[kind]:
                if not _missing(r, kind):
                    return r, kind
            raise SandboxError("image '%s' needs %s, and none is installed on %s" % (
                image, " or ".join("'%s'" % _missing(r, kind)[0] for r in _AUTO[kind]), node))
        if runtime not in _RUNS:
            raise SandboxError("unknown runtime '%s'" % runtime)
        if kind not in _RUNS[runtime]:
            raise SandboxError("runtime '%s' cannot run image '%s' (a %s)" % (
                runtime, image, {"ref": "reference", "dir": "directory"}.get(kind, kind)))
    gone = _missing(runtime, kind)
    if gone:
        raise SandboxError("runtime '%s' asked for, but '%s' is not installed on %s "
                           "(%s)" % (runtime, gone[0], node, gone[1]))
    return runtime, kind


class Sandbox:
    def __init__(self, config=None):
        """config: a dict as AIC_SANDBOX holds ({rootfs, image, runtime, network, tmpfs_mb,
        timeout_s}); by default AIC_SANDBOX itself. Raises SandboxError when the image or
        its runtime is not there."""
        if config is None:
            text = os.environ.get("AIC_SANDBOX")
            if not text:
                raise SandboxError("no AIC_SANDBOX: the stage has no 'sandbox' in the spec")
            config = json.loads(text)
        self.config = dict({"rootfs": None, "image": None, "runtime": "auto",
                            "network": "none", "tmpfs_mb": 64, "timeout_s": 10}, **config)
        self.runtime, self._kind = _choose(self.config)
        self._lock = threading.Lock()
        self._waiting = {}
        self._next = 0
        self._p = None
        # A private directory for what the runtime keeps (enroot's container, apptainer's
        # cache), removed at close().
        self._dir = None
        self._mount = None  # a squashfs image's mount point while a sandbox starts
        self._fuses = []    # the squashfuse of each sandbox made, until it ends
        self._name = "aic-%d-%d" % (os.getpid(), id(self) & 0xffffff)
        try:
            self._prepare()
            self._start()
        except BaseException:
            self.close()
            raise

    def _private_dir(self):
        self._dir = tempfile.mkdtemp(prefix="aic-sandbox-")
        if os.geteuid() == 0:
            # The sandbox runs as nobody (see argv): the runtime keeps its files here.
            os.chown(self._dir, _NOBODY, _NOBODY)
        return self._dir

    def _prepare(self):
        """What the runtime needs once per Sandbox, kept across reset(): its private
        directory, a container created by enroot."""
        image = self.config["image"]
        if self.runtime in ("enroot", "apptainer", "podman"):
            self._private_dir()
        if self.runtime == "enroot":
            src = image
            if self._kind == "ref":
                src = os.path.join(self._dir, "image.sqsh")
                self._run_runtime(["enroot", "import", "--output", src, image])
            self._run_runtime(["enroot", "create", "--name", self._name, src])

    def _runtime_env(self):
        """The environment a container runtime runs with: nothing of the job's (no
        token), its state in the sandbox's private directory."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if self.runtime == "podman":
            # Its image store is the user's, found from these.
            env.update((k, os.environ[k]) for k in ("HOME", "XDG_RUNTIME_DIR")
                       if k in os.environ)
        elif self._dir:
            env.update(HOME=self._dir, ENROOT_DATA_PATH=self._dir + "/data",
                       ENROOT_RUNTIME_PATH=self._dir + "/run",
                       ENROOT_CACHE_PATH=self._dir + "/cache",
                       ENROOT_TEMP_PATH=self._dir, APPTAINER_CACHEDIR=self._dir + "/cache",
                       XDG_RUNTIME_DIR=self._dir)
        return env

    def _as_nobody(self, argv):
        if os.geteuid() != 0:
            return argv
        # Root's limits do not hold (RLIMIT_NPROC): the sandbox runs as nobody.
        return ["setpriv", "--reuid", str(_NOBODY), "--regid", str(_NOBODY),
                "--clear-groups", "--inh-caps=-all"] + argv

    def _run_runtime(self, argv):
        r = subprocess.run(self._as_nobody(argv), stdin=subprocess.DEVNULL,
                           capture_output=True, env=self._runtime_env(), cwd="/")
        if r.returncode != 0:
            raise SandboxError("image '%s': %s failed: %s" % (
                self.config["image"], " ".join(argv[:2]),
                r.stderr.decode(errors="replace").strip()[-500:]))

    def argv(self, command):
        """The command line that runs `command` in this sandbox."""
        return getattr(self, "_argv_" + self.runtime)(command)

    def _argv_apptainer(self, command):
        c = self.config
        # --containall: its own PID and IPC namespaces, a clean environment, no home,
        # /tmp or working directory of the host's; --no-privs: no capability as root.
        a = ["apptainer", "exec", "--containall", "--cleanenv", "--no-privs",
             "--no-mount", "bind-paths", "--writable-tmpfs", "--pwd", "/tmp"]
        if c["network"] != "job":
            a += ["--net", "--network", "none"]
        return self._as_nobody(a + [c["image"]] + command)

    def _argv_enroot(self, command):
        # enroot gives a mount and a user namespace only: the network, PID, IPC and UTS
        # namespaces are unshare's, around it.
        # As root, unshare makes them before the drop to nobody; otherwise in a user
        # namespace of its own.
        u = ["unshare", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
        if self.config["network"] != "job":
            u.append("--net")
        if os.geteuid() != 0:
            u += ["--user", "--map-current-user"]
        return u + ["--"] + self._as_nobody(["enroot", "start", "--rw", self._name] + command)

    def _argv_podman(self, command):
        c = self.config
        a = ["podman", "run", "--rm", "-i", "--name", self._name,
             "--network", "host" if c["network"] == "job" else "none",
             "--read-only", "--tmpfs", "/tmp:rw,size=%dm" % int(c["tmpfs_mb"]),
             "--cap-drop", "all", "--security-opt", "no-new-privileges",
             "--ipc", "private", "--pid", "private", "--workdir", "/tmp",
             "--ulimit", "nproc=%d:%d" % (_NPROC, _NPROC), "--ulimit", "core=0:0"]
        if os.geteuid() == 0:
            a += ["--user", "%d:%d" % (_NOBODY, _NOBODY)]
        if self._kind == "dir":
            a += ["--rootfs", c["image"]]
        else:
            a.append(c["image"])
        return a + command

    def _argv_bwrap(self, command):
        """The bubblewrap command line that runs `command` in this sandbox."""
        c = self.config
        bwrap = shutil.which("bwrap")
        if not bwrap:
            raise SandboxError("no 'bwrap' on this node (Debian's bubblewrap)")
        rootfs = self._mount or (c["image"] if self._kind == "dir" else c["rootfs"])
        if self._kind == "squashfs" and not self._mount:
            raise SandboxError("a squashfs image's sandbox is made by run(), not argv()")
        a = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
             "--disable-userns", "--clearenv",
             "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
        if c["network"] == "job":
            a.append("--share-net")
        if rootfs:
            a += ["--ro-bind", rootfs, "/"]
        else:
            a += _system_binds()
        a += ["--proc", "/proc", "--dev", "/dev",
              "--size", str(int(c["tmpfs_mb"]) << 20), "--tmpfs", "/tmp", "--chdir", "/tmp",
              # The root (bwrap's own tmpfs, holding the links to /usr) and /dev read-only
              # too, so that a task cannot take /bin or /dev/null away from the next one.
              "--remount-ro", "/dev", "--remount-ro", "/"]
        return self._as_nobody(a + ["--"] + command)

    def _mount_image(self):
        """Mounts the squashfs image for the next sandbox, on a mount point of its own
        that the sandbox's user can reach, and returns squashfuse's process."""
        image = self.config["image"]
        self._mount = tempfile.mkdtemp(prefix="aic-sandbox-")
        if os.geteuid() == 0:
            os.chown(self._mount, _NOBODY, _NOBODY)
        # allow_other lets the sandbox's nobody read what root mounted.
        opts = ["-o", "allow_other"] if os.geteuid() == 0 else []
        fuse = subprocess.Popen(["squashfuse", "-f"] + opts + [image, self._mount],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        while not os.path.ismount(self._mount):
            try:
                fuse.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            os.rmdir(self._mount)
            raise SandboxError("image '%s': squashfuse: %s" % (
                image, fuse.stderr.read().decode(errors="replace").strip()))
        return fuse

    def _detach(self):
        """Takes the image's mount off the node once the sandbox holds it (bwrap bound it
        in its own mount namespace): no mount of it is left on the node, however the
        worker ends, and squashfuse exits when the sandbox does."""
        if os.geteuid() == 0:
            import ctypes
            if ctypes.CDLL(None, use_errno=True).umount2(self._mount.encode(), 2):  # MNT_DETACH
                raise SandboxError("cannot detach '%s': %s" % (
                    self._mount, os.strerror(ctypes.get_errno())))
        else:
            subprocess.run(["fusermount3", "-u", "-z", self._mount], check=True)
        os.rmdir(self._mount)
        self._mount = None

    def _start(self):
        fuse = self._mount_image() if self._kind == "squashfs" and self.runtime == "bwrap" else None
        try:
            p = subprocess.Popen(
                self.argv(["python3", "-c", _SERVER]), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, close_fds=True, cwd="/", env=self._runtime_env())
            if fuse:
                self._fuses.append(fuse)
                # Its first line says the sandbox is set up, holding the image.
                hello = p.stdout.readline()
                self._detach()
                if not hello:
                    p.wait()
                    raise SandboxError("image '%s': the sandbox ended as it started (status "
                                       "%s)" % (self.config["image"], p.returncode))
        except BaseException:
            if fuse and self._mount:
                fuse.terminate()
                fuse.wait()
                os.rmdir(self._mount)
                self._mount = None
            raise
        self._p = p
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
        self._stop()
        with self._lock:
            self._start()

    def _stop(self):
        p = self._p
        if p and p.poll() is None:
            p.stdin.close()
            p.kill()
            p.wait()
        if p and self.runtime == "podman":
            # Killing podman's client leaves its container: remove it by name.
            subprocess.run(["podman", "rm", "-f", "-i", self._name], capture_output=True,
                           env=self._runtime_env())
        for fuse in self._fuses:
            # The sandbox gone, its image's last mount went with it: squashfuse ends.
            try:
                fuse.wait(timeout=10)
            except subprocess.TimeoutExpired:
                fuse.kill()
                fuse.wait()
        self._fuses = []

    def close(self):
        """Ends the sandbox and releases its image (its squashfuse ends, enroot's container
        is removed). Idempotent."""
        self._stop()
        d, self._dir = self._dir, None
        if d:
            shutil.rmtree(d, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _serve(argv):
    """`python3 -c 'import aic.sandbox as s, sys; sys.exit(s._serve(sys.argv))' [CONFIG]`:
    one Sandbox (CONFIG as AIC_SANDBOX holds, by
    default AIC_SANDBOX itself) served on stdin and stdout for the C API
    (aic_sandbox_open, lib/worker/sandbox.c), one JSON line each way per request, in
    order: {"argv", "stdin", "timeout"} runs a task and answers run()'s dict; {"op":
    "reset"} answers {"ok": true}; a failure answers {"error"}. The first line out is
    {"ready": RUNTIME} or {"error"}; the sandbox is closed at the end of stdin."""
    import sys

    def say(m):
        sys.stdout.write(json.dumps(m) + "\n")
        sys.stdout.flush()

    try:
        sb = Sandbox(json.loads(argv[1]) if len(argv) > 1 else None)
    except (SandboxError, ValueError) as e:
        sys.stderr.write("aic: sandbox: %s\n" % e)
        say({"error": str(e)})
        return 1
    say({"ready": sb.runtime})
    with sb:
        for line in sys.stdin:
            try:
                req = json.loads(line)
                if req.get("op") == "reset":
                    sb.reset()
                    say({"ok": True})
                else:
                    say(sb.run(list(req["argv"]), stdin=req.get("stdin") or "",
                               timeout=req.get("timeout") or None))
            except (SandboxError, ValueError, KeyError, TypeError) as e:
                say({"error": str(e)})
    return 0

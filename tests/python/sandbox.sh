#!/bin/sh
# Sandboxed tasks under `aic run` (python/aic/sandbox.py): a replica of a
# stage with `sandbox:` runs tasks in one bubblewrap sandbox. Inside it the
# host's files, the job directory, the agent and the host's processes are
# out of reach, /tmp is writable and the rest read-only; a task looping
# forever is killed at its timeout while the tasks beside it finish; `rm
# -rf /` and a fork bomb harm nothing outside; many tasks share the
# sandbox. Each "out of reach" is checked against the same thing done
# outside the sandbox, which must work (the probes, shared with
# sandbox-image.sh: tests/lib/workers/sandbox_probes.py).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
command -v bwrap >/dev/null || skip_all "no bwrap (Debian's bubblewrap)"
enter_work_dir sandbox
plan 18

echo precious >marker
cat >env.py <<'PY'
import aic, json, os, sys
sys.path.insert(0, sys.argv[1])
import sandbox_probes as probes
cfg = json.loads(os.environ["AIC_SANDBOX"])
print("config", cfg["network"], cfg["tmpfs_mb"], cfg["timeout_s"], flush=True)

probes.outside()
with aic.Sandbox() as sb:
    first = sb._p.pid
    probes.out_of_reach(sb, host_file="/etc/hostname")
    probes.writable(sb)
    probes.timeouts(sb)
    many = [sb.run(["cat", "/tmp/f"])["stdout"].strip() for _ in range(50)]
    print("many", len(many), set(many), "same", sb._p.pid == first, flush=True)
    probes.harm(sb)
    probes.check(sb, "after", "test -c /dev/null && python3 -c 'print(1 + 1)'")
probes.marker_after()
with aic.Sandbox(dict(cfg, network="job")) as sb:
    probes.check(sb, "agent-job", probes.CONNECT)
PY
cat >job.yaml <<YAML
stages:
  env: {command: [/usr/bin/python3, $dir/env.py, $workers_dir], cpus: 0,
        sandbox: {network: none, tmpfs_mb: 16, timeout_s: 20}}
YAML
timeout 300 "$aic" run job.yaml >job.out 2>job.err
is "$?" 0 "the sandboxed stage's job succeeds"
out=$("$aic" logs env | sed 's/^env\/0: //')
diag "$out"
like "$out" "config none 16 20" "AIC_SANDBOX carries the stage's sandbox"
like "$out" "outside agent 0" "outside, the agent answers"
like "$out" "outside job True marker True" "outside, the job directory and the marker are there"
is "$(echo "$out" | grep -E '^(job-dir|marker|etc) ' | awk '{print $2}' | tr '\n' ' ')" "2 1 1 " \
	"inside, the job directory and host files are out of reach"
like "$out" "token-env 0 False '0'" "inside, no AIC_ variable (no token)"
like "$out" "agent 0 False '111'" "inside, the agent cannot be reached (connection refused)"
like "$out" "outside unix 0" "outside, the agent's Unix socket answers"
like "$out" "agent-unix 0 False '111'" "inside, nor its Unix socket (another network namespace)"
like "$out" "host-pid 1 " "inside, the host's processes cannot be seen"
like "$out" "tmp 0 False 'kept'" "/tmp is writable"
like "$out" "ro 1 " "the rest is read-only"
is "$(echo "$out" | grep '^task ' | sort | tr '\n' '|')" \
	"task a 0 False a|task b 0 False b|task loop -9 True |" \
	"a task looping forever is killed at its timeout, its neighbours finish"
like "$out" "many 50 {'kept'} same True" "50 tasks run in the same sandbox"
like "$out" "after 0 False '2'
outside marker after precious" "rm -rf / and a fork bomb harm nothing outside, nor the sandbox"
like "$out" "agent-job 0 False '0'" "with network: job, the agent is reachable (no token, though)"

# rootfs: a directory of its own, relative to the spec's directory: the
# sandbox sees it as /, and nothing of the node's /usr it does not hold.
mkdir -p img/usr/lib img/etc img/proc img/dev img/tmp
for d in /usr/bin /usr/lib/python3* /usr/lib/x86_64-linux-gnu /usr/lib64; do
	[ -e "$d" ] && cp -al "$d" "img$d" 2>/dev/null || cp -a "$d" "img$d"
done
ln -s usr/bin img/bin; ln -s usr/lib img/lib; ln -s usr/lib64 img/lib64
echo image >img/etc/marker
chmod 755 img "$dir"  # a root job's sandbox runs as nobody, who must reach it
cat >img.py <<'PY'
import aic
with aic.Sandbox() as sb:
    r = sb.run("cat /etc/marker; ls /usr/share >/dev/null 2>&1 || echo no-share")
    print("img", r["status"], r["stdout"].split(), flush=True)
PY
cat >img.yaml <<YAML
stages:
  env: {command: [/usr/bin/python3, $dir/img.py], cpus: 0, sandbox: {rootfs: img}}
YAML
timeout 300 "$aic" run img.yaml >img.out 2>img.err
is "$?" 0 "a sandbox with its own rootfs runs"
like "$("$aic" logs env)" "img 0 \\['image', 'no-share'\\]" \
	"it sees the rootfs as /, not the node's /usr"

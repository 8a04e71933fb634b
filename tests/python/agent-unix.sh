#!/bin/sh
# A worker reaches its agent over a Unix domain socket (AIC_AGENT_UNIX, in
# the abstract namespace) when it has one, else over TCP (AIC_AGENT): each
# connection below is made by a child of the worker with its environment
# changed, and which kind of socket it holds once connected is read from
# /proc (a socket's inode listed in /proc/net/unix is a Unix one). Over the
# Unix socket the credential is checked as over TCP: a wrong one is refused.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir agent-unix
plan 7

cat >child.py <<'PY'
# Connects, then prints how: "unix", "tcp", or the error.
import os, aic
try:
    w = aic.connect()
except aic.Error as e:
    print("error", e.code)
    raise SystemExit
unix = set()
for line in open("/proc/net/unix").readlines()[1:]:
    unix.add(line.split()[6])
kinds = set()
for fd in os.listdir("/proc/self/fd"):
    try:
        t = os.readlink("/proc/self/fd/" + fd)
    except OSError:
        continue
    if t.startswith("socket:["):
        kinds.add("unix" if t[8:-1] in unix else "tcp")
print(" ".join(sorted(kinds)))
w.close()
PY
cat >parent.py <<'PY'
import os, subprocess, sys
print("name", os.environ.get("AIC_AGENT_UNIX", "")[:5], flush=True)
def child(name, **change):
    env = dict(os.environ)
    for k, v in change.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    out = subprocess.run([sys.executable, sys.argv[1]], env=env, capture_output=True, text=True)
    print(name, out.stdout.strip() or out.stderr.strip()[-200:], flush=True)
child("default")
child("unix-only", AIC_AGENT=None)
child("tcp-only", AIC_AGENT_UNIX=None)
child("fallback", AIC_AGENT_UNIX="@aic-no-such-socket-here")
child("wrong-token", AIC_AGENT=None, AIC_TOKEN="0" * 64)
child("neither", AIC_AGENT=None, AIC_AGENT_UNIX="@aic-no-such-socket-here")
PY
cat >job.yaml <<YAML
stages:
  w: {command: [python3, $dir/parent.py, $dir/child.py], cpus: 0, restart: {max: 0}}
YAML
"$aic" run job.yaml >run.out 2>&1
is "$?" 0 "the job runs"
log=$("$aic" logs w/0)
line() { echo "$log" | sed -n "s/^$1 //p"; }
is "$(line name)" "@aic-" "a worker is given its agent's abstract Unix socket"
is "$(line default)" "unix" "with both, it connects over the Unix socket (and holds no TCP one)"
is "$(line unix-only)" "unix" "without AIC_AGENT, over the Unix socket alone"
is "$(line tcp-only)" "tcp" "without AIC_AGENT_UNIX, over TCP as before"
is "$(line fallback)" "tcp" "a Unix socket no one listens on falls back to TCP"
is "$(line wrong-token) / $(line neither)" "error -1004 / error -111" \
	"a wrong credential over the Unix socket is refused (AIC_EAUTH); none reached: ECONNREFUSED"

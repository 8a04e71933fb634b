#!/bin/sh
# bench/grpo_pipes.py keeps working (bench/grpo-toy.sh's IPC baselines):
# grpo-toy's five processes over pipes, and through bench/relay, train
# every step's groups and learn; the relay passes every byte of each route
# to each of its outputs and refuses a bad route naming it. No time is
# judged: the machine may be loaded.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
plan 7
export AIC_LIBRARY="$AIC_BUILD_DIR/lib/.libs/libaic.so" PYTHONPATH="$AIC_SRC_DIR/python"
relay=$AIC_BUILD_DIR/bench/relay
field() { /usr/bin/python3 -c 'import json, sys; x = json.loads(sys.argv[1]); print(x[sys.argv[2]])' "$1" "$2"; }
# 8 epochs of 100 prompts, 16 a step: 50 steps, as the example as shipped.
for how in "" "--relay $relay"; do
	out=$(timeout 120 /usr/bin/python3 "$AIC_SRC_DIR/bench/grpo_pipes.py" $how "$AIC_SRC_DIR/examples/grpo-toy" 8 2>&1)
	is "$(field "$out" what 2>&1) $(field "$out" steps 2>&1) $(field "$out" groups 2>&1)" \
		"grpo pipes${how:+ relay} 50 800" "${how:-pipes}: 50 steps of 16 groups [$out]"
	is "$(/usr/bin/python3 -c 'import json, sys; x = json.loads(sys.argv[1]); print(int(x["reward_last"] > 0.5 > x["reward_first"]))' "$out" 2>&1)" \
		1 "${how:-pipes}: the policy learns (mean reward from chance to over 0.5) [$out]"
done
# The relay alone: 3 MiB from a pipe to two others, every byte to each.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 3145728 /dev/urandom >"$tmp/in"
/usr/bin/python3 - "$relay" "$tmp" <<'PY' >"$tmp/out" 2>&1
import hashlib, os, subprocess, sys, threading
relay, tmp = sys.argv[1], sys.argv[2]
data = open(tmp + "/in", "rb").read()
src, a, b = os.pipe(), os.pipe(), os.pipe()
p = subprocess.Popen([relay, "%d:%d,%d" % (src[0], a[1], b[1])], pass_fds=[src[0], a[1], b[1]])
for fd in (src[0], a[1], b[1]):
    os.close(fd)
got = {}
def drain(name, fd):
    chunks = []
    while True:
        c = os.read(fd, 1 << 16)
        if not c:
            break
        chunks.append(c)
    got[name] = b"".join(chunks)
ts = [threading.Thread(target=drain, args=(n, fd)) for n, fd in (("a", a[0]), ("b", b[0]))]
for t in ts:
    t.start()
view = memoryview(data)
while view:
    view = view[os.write(src[1], view):]
os.close(src[1])
for t in ts:
    t.join()
print(p.wait(), got["a"] == data, got["b"] == data, len(got["a"]))
PY
is "$(cat "$tmp/out")" "0 True True 3145728" "the relay passes every byte to each output and ends at its input's end"
err=$("$relay" 3:x 2>&1)
is "$?" 2 "a bad route is refused"
like "$err" "bad route '3:x'" "naming it"

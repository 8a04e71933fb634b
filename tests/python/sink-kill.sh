#!/bin/sh
# A sink acks only what is written (launcher/dataplane/source_sink.c): a
# batch is acked after fflush and fsync, and the agent's debug log says
# how many lines it has acked so far. SIGKILL loses what stdio still
# buffers, not what the kernel has, so every acked line must be whole in
# the file whenever the agent dies. A producer puts numbered lines as fast
# as it can; the engine is stopped (SIGSTOP) 40 times mid-stream, each
# time once more lines were acked, and the file must then hold at least
# the acked count of lines; at last it is SIGKILLed mid-stream: the file
# holds at least every acked line, each whole and in order, and at most a
# part of the next one after them. A later run appending to that sink
# first cuts the part off (its item was never acked), with a warning, so
# that every line stays whole.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/wait.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir sink-kill
plan 10

cat >prod.py <<'PY'
import os
import time
import aic
open("prod.pid", "w").write(str(os.getpid()))
w = aic.connect()
# Mid-stream is where the test stops it, after some 10,000 lines; the
# bound only keeps a broken engine from filling the disk.
for i in range(2000000):
    w.put("out", b'{"i": %9d, "pad": "%s"}' % (i, b"x" * 40))
while True:
    time.sleep(60)
PY
cat >job.yaml <<YAML
stages:
  p: {command: [python3, $dir/prod.py], cpus: 0, outputs: [out]}
channels:
  out: {sink: out.jsonl}
YAML
# The engine and the producer go whatever happens.
trap 'kill -9 "$pid" "$(cat prod.pid 2>/dev/null)" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT

# The last count of acked lines the engine logged (0: none yet), from the
# log's end: such a line comes with every batch, and the log grows.
acked() {
	tail -c 65536 run.err | sed -n "s/.*: \([0-9]*\) lines of sink '.*\/out.jsonl' written and acked\$/\1/p" |
		tail -n 1 | grep . || echo 0
}
grew() { [ "$(acked)" -gt "$1" ]; }
stopped() { [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" = T ]; }

AIC_LOG=debug "$aic" run job.yaml >run.out 2>run.err &
pid=$!
wait_for 60 grew 1000 || bail "no line acked: $(tail -n 5 run.err)"
bad= prev=$(acked)
for _ in $(seq 40); do
	wait_for 60 grew "$prev" || bail "the sink stopped: $(tail -n 5 run.err)"
	kill -STOP "$pid"
	wait_for 60 stopped || bail "the engine did not stop"
	a=$(acked)
	n=$(wc -l <out.jsonl)
	[ "$n" -ge "$a" ] || bad="$bad $n<$a"
	prev=$a
	kill -CONT "$pid"
done
is "${bad:-none}" none "40 times stopped mid-stream, the sink had at least the lines it acked (lines<acked: ${bad:-none})"

wait_for 60 grew "$prev" || bail "the sink stopped: $(tail -n 5 run.err)"
kill -KILL "$pid"
wait "$pid"
is "$?" 137 "the engine is SIGKILLed mid-stream"
a=$(acked)
n=$(wc -l <out.jsonl)
ok "after it, the file has at least the $a lines acked ($n)" test "$n" -ge "$a" -a "$a" -gt "$prev"
# Each whole line is the producer's next, byte for byte; the rest, a prefix of the one after.
cat >check.py <<'PY'
data = open("out.jsonl", "rb").read()
cut = data.rfind(b"\n") + 1
lines, tail = data[:cut].split(b"\n")[:-1], data[cut:]
line = lambda i: b'{"i": %9d, "pad": "%s"}' % (i, b"x" * 40)
print(sum(l != line(i) for i, l in enumerate(lines)), line(len(lines)).startswith(tail))
PY
set -- $(python3 check.py)
is "$1" 0 "every line in it is whole, the producer's, in order"
is "$2" True "and after them at most a part of the next line"

# A later run appends to the sink. A part of a line at its end (what the
# kill left, or, when the kill fell between lines, the same made here) is
# cut off first: appended to, it would join the next line into one that
# is not JSON. A file with no line end in its last 64 MiB is no file of
# aic's lines: the run refuses it, naming it, and leaves it as it was.
whole=$(wc -l <out.jsonl)
[ "$(tail -c 1 out.jsonl | od -An -c | tr -d ' ')" = '\n' ] &&
	printf '{"i": %9d, "pad": "xxx' "$whole" >>out.jsonl
part=$(($(wc -c <out.jsonl) - $(head -n "$whole" out.jsonl | wc -c)))
cat >prod2.py <<'PY'
import aic
w = aic.connect()
for i in range(3):
    w.put("out", b'{"then": %d}' % i)
PY
sed 's/prod.py/prod2.py/' job.yaml >job2.yaml
"$aic" run job2.yaml >run2.out 2>run2.err
is "$?" 0 "a later run appends to the sink the kill left"
like "$(cat run2.err)" "sink '[^']*out.jsonl' ended in $part bytes of a line cut short \\(\"\{.i.: " \
	"it warns of the $part bytes of a line it cut off, quoting them"
cat >check2.py <<'PY'
import json, sys
whole = int(sys.argv[1])
lines = open("out.jsonl", "rb").read().split(b"\n")
line = lambda i: b'{"i": %9d, "pad": "%s"}' % (i, b"x" * 40)
ok = lines[-1] == b"" and all(lines[i] == line(i) for i in range(whole))
ok = ok and [json.loads(l) for l in lines[whole:-1]] == [{"then": i} for i in range(3)]
print(ok, len(lines) - 1)
PY
is "$(python3 check2.py "$whole")" "True $((whole + 3))" \
	"the file is the $whole whole lines, then the new run's 3: every line whole"

head -c $((65 << 20)) /dev/zero | tr '\0' x >out.jsonl
"$aic" run job2.yaml >run3.out 2>run3.err
rc=$?
like "$(tr '\n' ' ' <run3.err) exit $rc" "sink '[^']*out.jsonl' has no line end in its last [0-9]* bytes.* exit [1-9]" \
	"a sink with no line end in its last 64 MiB: the run fails, saying so"
is "$(wc -c <out.jsonl) $(tr -d x <out.jsonl | wc -c)" "$((65 << 20)) 0" "and the file is left as it was"

#!/bin/sh
# What a worker inherits from its agent: its standard streams and its
# channel arena, not the agent's other descriptors. A source or sink file
# left open in a worker (no close-on-exec) is a descriptor the user's code
# can write through, and one that keeps the file open after the agent is
# done with it.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir fds

python3 -c 'for i in range(100): print("{\"prompt\": %d}" % i)' >prompts.jsonl
cat >fds.py <<'PY'
# Lists this process's descriptors (but the one listing them) as
# "FD TARGET" lines into $OUT.INDEX, then moves every prompt to answers.
import os
import aic

w = aic.connect()
d = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
lines = []
for fd in sorted(int(f) for f in os.listdir(d)):
    if fd == d:
        continue
    try:
        lines.append("%d %s" % (fd, os.readlink("/proc/self/fd/%d" % fd)))
    except OSError:
        pass
os.close(d)
with open(os.environ["OUT"] + ".%d" % w.index, "w") as f:
    f.write("\n".join(lines) + "\n")
while True:
    try:
        items = w.get("prompts", max_items=16, timeout=10)
    except aic.Closed:
        break
    for it in items:
        w.put("answers", it.data.upper())
    w.ack(items)
PY
cat >job.yaml <<YAML
stages:
  xf: {command: [python3, $dir/fds.py], replicas: 2, cpus: 0, inputs: [prompts], outputs: [answers],
       env: {OUT: $dir/fds}}
channels:
  prompts: {source: prompts.jsonl, capacity: 8}
  answers: {sink: answers.jsonl, capacity: 8}
YAML
# aic run starts with nothing but its standard streams, so that whatever
# else a worker holds came from aic, not from whoever runs this test.
python3 -c 'import os, sys; os.closerange(3, 1 << 16); os.execv(sys.argv[1], sys.argv[1:])' \
	"$aic" run job.yaml >run.out 2>run.err
is "$?" 0 "the job succeeds"
is "$(wc -l <answers.jsonl)" 100 "and its sink has every line"
diag "$(cat fds.0)"
is "$(cat fds.0 fds.1 | grep -c -e "$dir/prompts.jsonl" -e "$dir/answers.jsonl")" 0 \
	"no worker holds the source or the sink open"
# Its own connection to the agent aside, the arena (a memfd or a file in
# /dev/shm) is the one descriptor a worker gets on purpose.
is "$(cat fds.0 fds.1 | grep -v -e '^[012] ' -e ' socket:' -e 'memfd:' -e '/dev/shm/' | wc -l)" 0 \
	"nor any other descriptor of its agent's"
done_testing

#!/bin/sh
# Hostile peers (launcher/net/conn.h), with real sockets, against `aic run`:
# before authenticating, a connection that announces a 64 MiB frame is
# dropped on its header alone, a HELLO over 4 KiB is refused, one that
# stays silent is dropped after AIC_NET_HELLO_MS, and at most
# AIC_NET_MAX_PENDING are kept (the oldest goes); a wrong key gets REJECT, the job token is in no worker's
# environment and a worker's credential does not open the head; and a fake
# server that does not know the token gets neither it nor a proof from the
# CLI or a worker, which refuse it. The job goes on and succeeds throughout.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/wait.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
hostile="$AIC_SRC_DIR/tests/lib/hostile.py"
enter_work_dir hostile
plan 26

cat >worker.sh <<'W'
#!/bin/sh
echo "$AIC_AGENT" >agent.tmp && mv agent.tmp agent
env >env.$AIC_INDEX
while [ ! -e go ]; do sleep 0.05; done
W
printf 'name: hostile-test\nstages:\n  w: {command: [sh, %s/worker.sh], cpus: 0}\n' "$dir" >job.yaml

started() { [ -s agent ] && [ -s .aic/latest/head ]; }
hp() { tr ':' ' ' <"$1"; }

AIC_NET_MAX_PENDING=4 "$aic" run job.yaml >run.out 2>run.err &
pid=$!
wait_for 60 started || bail "the job did not start: $(cat run.err)"
for ep in head agent; do
	[ $ep = head ] && f=.aic/latest/head || f=agent
	# shellcheck disable=SC2046
	is "$(python3 "$hostile" oversized $(hp $f))" closed \
		"the $ep drops a connection announcing a 64 MiB frame before authenticating, on its header"
	# shellcheck disable=SC2046
	is "$(python3 "$hostile" frame $(hp $f) 5120)" "a frame of 5120 bytes before authentication" \
		"the $ep refuses a HELLO of 5 KiB (the cap before authentication is 4 KiB)"
	# shellcheck disable=SC2046
	is "$(python3 "$hostile" frame $(hp $f) 4000)" "frame 17" "and answers one of 4,000 bytes with CHALLENGE"
	# shellcheck disable=SC2046
	is "$(python3 "$hostile" cap $(hp $f) 5)" "too many connections waiting to authenticate" \
		"the $ep keeps at most AIC_NET_MAX_PENDING connections waiting, dropping the oldest"
	# shellcheck disable=SC2046
	is "$(python3 "$hostile" wrong $(hp $f) agent)" "3 wrong or missing job token" \
		"the $ep refuses a wrong key"
done
# shellcheck disable=SC2046
is "$(python3 "$hostile" garbage $(hp .aic/latest/head) 200)" 200 "the head closes 200 connections that send garbage"
logged=$(grep -c "rejected a connection" run.err)
ok "and its log does not grow with them (at most 16 lines, then one per power of two: $logged)" \
	test "$logged" -le 30
token=$(cat .aic/latest/token)
is "$(grep -c "$token" env.0)" 0 "the job token is in no worker's environment"
cred=$(sed -n 's/^AIC_TOKEN=//p' env.0)
is "$cred" "$(python3 -c "import sys; sys.path.insert(0, '$AIC_SRC_DIR/tests/lib'); import aicnet; print(aicnet.worker_key('$token', 'w'))")" \
	"a worker's AIC_TOKEN is its stage's credential"
# shellcheck disable=SC2046
is "$(python3 -c "
import socket, sys
sys.path.insert(0, '$AIC_SRC_DIR/tests/lib')
from aicnet import handshake
s = socket.create_connection(('$(cut -d: -f1 .aic/latest/head)', $(cut -d: -f2 .aic/latest/head)))
t, m = handshake(s, '$cred', {'role': 'cli'}, verify=False)
print(t, m.get('error'))")" "3 wrong or missing job token" "which does not open the head"
like "$("$aic" status)" "^job 'hostile-test' running" "the job goes on"
touch go
wait $pid
is "$?" 0 "and succeeds"

# A silent connection is dropped after AIC_NET_HELLO_MS.
rm -f go agent
AIC_NET_HELLO_MS=300 "$aic" run job.yaml >run2.out 2>run2.err &
pid=$!
wait_for 60 started || bail "the job did not start: $(cat run2.err)"
# shellcheck disable=SC2046
is "$(python3 "$hostile" idle $(hp .aic/latest/head))" "no handshake within 300 ms" \
	"the head drops a connection that does not authenticate in time"
# shellcheck disable=SC2046
is "$(python3 "$hostile" idle $(hp agent))" "no handshake within 300 ms" "and so does the agent"
touch go
wait $pid
is "$?" 0 "the job succeeds"

# Only frames before the peer's proof are small: a WELCOME of over 4 KiB
# (80 channels with long names) reaches the worker once the agent proved
# the key.
python3 - "$dir" >big.yaml <<'PY'
import sys
names = ["channel_with_a_rather_long_name_for_a_large_welcome_%02d" % i for i in range(80)]
print("name: big-welcome\nstages:")
print("  p: {command: [true], cpus: 0, outputs: [%s]}" % ", ".join(names))
print("  w: {command: [python3, %s/big.py, %s], cpus: 0, inputs: [%s]}" % (sys.argv[1], names[-1], ", ".join(names)))
print("channels:")
for n in names:
    print("  %s: {}" % n)
PY
cat >big.py <<'PY'
import sys
import aic
w = aic.connect()
try:
    w.get(sys.argv[1], timeout=60)
except aic.Closed:
    print("closed")
PY
"$aic" run big.yaml >big.out 2>big.err
is "$?" 0 "a job whose WELCOME is over 4 KiB succeeds"
is "$("$aic" logs w/0)" closed "and its worker knows the last of its 80 channels"

# A fake server that does not know the token, for the CLI and a worker.
python3 "$hostile" fake-server port "$token" 2 w >fake.out &
fake=$!
wait_for 60 test -s port || bail "no fake server"
# A job directory the CLI trusts (the user's own, private): only the server is fake.
mkdir -m 700 fakejob
(umask 077 && printf '%s' "$token" >fakejob/token && echo "127.0.0.1:$(cat port)" >fakejob/head)
err=$("$aic" status --job fakejob 2>&1)
isnt "$?" 0 "aic status to a server that does not know the token fails"
like "$err" "does not know the job token" "saying so"
AIC_AGENT=127.0.0.1:$(cat port) AIC_TOKEN=$cred AIC_STAGE=w python3 -c '
import aic
try:
    aic.connect()
    print("connected")
except aic.Error as e:
    print(e)' >worker.out 2>&1
like "$(cat worker.out)" "authentication failed" "a worker refuses it too"
wait $fake
is "$(cat fake.out)" nothing "the fake server got neither the token, a credential nor a proof"

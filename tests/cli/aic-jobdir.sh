#!/bin/sh
# Job directories someone else could have planted in a shared submit
# directory: aic run refuses a .aic that is a link, open to others or
# another user's; aic status and aic stop never send the job token to the
# address in a head file they do not trust. A listener stands in for the
# attacker's head and records what reaches it. The cases with another
# owner need root (chown); without it they are left out.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
topo="$AIC_SRC_DIR/tests/fixtures/topo/cpu-only.xml"
dir=$(mktemp -d /var/tmp/aic-jobdir-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
chmod 755 "$dir"
root=no
[ "$(id -u)" -eq 0 ] && root=yes
token=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

cat >job.yaml <<'SPEC'
stages:
  a: {command: [sh, -c, 'echo hi'], cpus: 0}
SPEC

# aic run and a planted .aic.
mkdir elsewhere
ln -s elsewhere .aic
err=$("$aic" run --topo "$topo" job.yaml 2>&1)
isnt "$?" 0 "aic run refuses a .aic that is a symbolic link"
like "$err" "'$dir/\.aic' is a symbolic link" "and says so"
is "$(ls elsewhere)" "" "nothing is made where the link points"
rm .aic
mkdir .aic
chmod 777 .aic
err=$("$aic" run --topo "$topo" job.yaml 2>&1)
isnt "$?" 0 "aic run refuses a .aic open to others"
like "$err" "'$dir/\.aic' is open to other users \(mode 0777\)" "and says so"
is "$(ls .aic)" "" "and makes nothing in it"
if [ $root = yes ]; then
	chmod 700 .aic
	chown nobody .aic
	err=$("$aic" run --topo "$topo" job.yaml 2>&1)
	isnt "$?" 0 "aic run refuses another user's .aic"
	like "$err" "'$dir/\.aic' belongs to uid [0-9]*, not to you" "and says so"
fi
rm -rf .aic
"$aic" run --topo "$topo" job.yaml >/dev/null 2>&1
is "$?" 0 "aic run works with a .aic of its own"
real=$(readlink -f .aic/latest)

# The attacker's head: records every byte sent to it until a connection says END.
listen() {
	rm -f port got
	python3 - "$dir" <<'PY' &
import os, socket, sys
d = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(d + "/port.tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(d + "/port.tmp", d + "/port")
got = b""
while True:
    c, _ = s.accept()
    data = c.recv(65536)
    c.close()
    if data == b"END":
        break
    got += data
with open(d + "/got", "wb") as f:
    f.write(got)
PY
	listener=$!
	while [ ! -e port ] && kill -0 $listener 2>/dev/null; do sleep 0.05; done
	port=$(cat port)
}
stop_listening() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).sendall(b"END")' "$port"
	wait $listener
}

# A job directory with a token and the attacker's address in head.
fake() {
	rm -rf "$1"
	mkdir -p "$1"
	chmod 700 "$1"
	cp "$real/token" "$1/token"
	echo "127.0.0.1:$port" >"$1/head"
}

listen
fake .aic/open
chmod 777 .aic/open
err=$("$aic" status --job .aic/open 2>&1)
isnt "$?" 0 "aic status refuses a job directory open to others"
like "$err" "is open to other users" "and says so"
"$aic" stop --job .aic/open >/dev/null 2>&1
isnt "$?" 0 "and so does aic stop"

mkdir -p shared
chmod 777 shared
fake shared/job
err=$("$aic" status --job shared/job 2>&1)
isnt "$?" 0 "aic status refuses a job directory others could swap"
like "$err" "'$dir/shared' can be changed by other users" "and says so"

fake .aic/linkhead
echo "127.0.0.1:$port" >linkhead
rm .aic/linkhead/head
ln -s "$dir/linkhead" .aic/linkhead/head
err=$("$aic" status --job .aic/linkhead 2>&1)
isnt "$?" 0 "aic status refuses a head file that is a link"

# The victim's token through a link, in a directory of the attacker's making.
fake .aic/linktoken
rm .aic/linktoken/token
ln -s "$real/token" .aic/linktoken/token
err=$("$aic" status --job .aic/linktoken 2>&1)
isnt "$?" 0 "aic status refuses a token file that is a link"

if [ $root = yes ]; then
	fake .aic/theirs
	chown -R nobody .aic/theirs
	err=$("$aic" status --job .aic/theirs 2>&1)
	isnt "$?" 0 "aic status refuses another user's job directory"
	like "$err" "belongs to uid [0-9]*, not to you" "and says so"
	"$aic" stop --job .aic/theirs >/dev/null 2>&1
	isnt "$?" 0 "and so does aic stop"

	fake .aic/theirhead
	chown nobody .aic/theirhead/head
	err=$("$aic" status --job .aic/theirhead 2>&1)
	isnt "$?" 0 "aic status refuses a head file of another user's"
	like "$err" "head' is not a file of yours: not trusted" "and says so"

	# The default .aic/latest, in someone else's .aic.
	mkdir other
	(cd other && mkdir .aic && chmod 700 .aic && fake .aic/1 && ln -s 1 .aic/latest &&
		chown nobody .aic)
	err=$(cd other && "$aic" status 2>&1)
	isnt "$?" 0 "aic status refuses .aic/latest in another user's .aic"
fi
stop_listening
is "$(wc -c <got)" 0 "no byte reached the untrusted heads"

# The control: the CLI does talk to the head of a trusted job directory (its
# HELLO reaches the listener; the token itself never travels, see hostile.sh).
listen
fake .aic/mine
"$aic" status --job .aic/mine >/dev/null 2>&1
stop_listening
like "$(cat got)" '"role": ?"cli"' "a trusted head file is contacted (the listener works)"
done_testing

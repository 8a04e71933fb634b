#!/bin/sh
# Data integrity under `aic run`: what a job is told it delivered, it did.
# A sink on a full filesystem fails the job, naming the file and the error,
# and leaves only whole lines in it.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -e "$AIC_LIBRARY" ] || bail "no $AIC_LIBRARY"
enter_work_dir data-integrity
plan 4

# skip N REASON: N tests skipped.
skip() {
	for _ in $(seq "$1"); do
		tap_n=$((tap_n + 1))
		echo "ok $tap_n - # SKIP $2"
	done
}

# A sink on a 256 KiB tmpfs, 20,000 lines of 64 bytes for it (1.3 MB): the
# write fails with ENOSPC. The job must fail, say so, and the file must hold
# a prefix of the lines, each whole (nothing acked that is not written).
cat >sprod.py <<'PY'
import aic
w = aic.connect()
for i in range(20000):
    w.put("out", b'{"i": %6d, "pad": "%s"}' % (i, b"x" * 40))
PY
cat >sink.yaml <<YAML
stages:
  p: {command: [python3, $dir/sprod.py], cpus: 0, outputs: [out]}
channels:
  out: {sink: full/out.jsonl, capacity: 64}
YAML
mkdir full
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=256k aic-test-full full 2>/dev/null; then
	skip 4 "cannot mount a small tmpfs (needs root)"
else
	trap 'umount "$dir/full"; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
	"$aic" run sink.yaml >sink.out 2>sink.err
	rc=$?
	is "$rc" 1 "a sink on a full filesystem fails the job (and the engine does not crash)"
	like "$(cat sink.err)" "cannot write its sink 'full/out.jsonl': No space left on device" \
		"naming the sink and the error"
	unlike=$(grep -Evc '^\{"i": +[0-9]+, "pad": "x{40}"\}$' full/out.jsonl)
	n=$(wc -l <full/out.jsonl)
	is "$unlike $(awk '{ if ($2 + 0 != NR - 1) bad++ } END { print bad + 0 }' full/out.jsonl)" "0 0" \
		"every line in the sink is whole, in order ($n of 20000 lines)"
	is "$(python3 -c "import json; print(json.load(open('.aic/latest/status.json'))['state'])")" \
		failed "status.json says the job failed"
	diag "$(tail -n 3 sink.err)"
fi
done_testing

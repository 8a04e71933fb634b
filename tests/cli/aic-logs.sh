#!/bin/sh
# aic logs on a job directory made by hand: every process's log, whatever
# its index (a stage may have up to 100000 processes), and a clear error
# for an index that cannot be one.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
dir=$(mktemp -d /var/tmp/aic-logs-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
job="$dir/job"
mkdir -m 700 "$job" "$job/logs"
echo '{}' >"$job/summary.json"
for i in 0 1 1500 2000 99999; do
	echo "line of $i" >"$job/logs/r.$i.log"
done
echo "other stage" >"$job/logs/rr.3.log"

is "$("$aic" logs r --job "$job")" "r/0: line of 0
r/1: line of 1
r/1500: line of 1500
r/2000: line of 2000
r/99999: line of 99999" "aic logs STAGE prints every process's log, in index order"
is "$("$aic" logs r/2000 --job "$job")" "line of 2000" "aic logs STAGE/2000"
is "$("$aic" logs r/99999 --job "$job")" "line of 99999" "aic logs STAGE/99999"
for bad in 100000 -1 1x x '' 99999999999999999999; do
	err=$("$aic" logs "r/$bad" --job "$job" 2>&1)
	is "$?" 2 "aic logs r/$bad is a usage error"
	is "$err" "aic logs: invalid process index '$bad' in 'r/$bad': expected STAGE/N with N from 0 to 99999" \
		"naming the index"
done
err=$("$aic" logs r/7 --job "$job" 2>&1)
is "$?" 1 "a process without a log"
is "$err" "aic: no logs for 'r/7' in $job/logs" "says so"
done_testing

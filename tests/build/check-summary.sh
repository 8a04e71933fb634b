#!/bin/sh
# scripts/check's verdict over the stages' test-suite logs: every skip is
# listed with its reason, one that tests/expected-skips does not name fails
# the check, and the last line states the skips. The logs here are written
# by automake's own TAP driver from small TAP scripts, as `make check` does.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
plan 12
check="$AIC_SRC_DIR/scripts/check"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# suite NAME TAP-LINES...: the global log of a test tests/NAME.sh that prints those lines.
suite() {
	name=$1
	shift
	printf '%s\n' "$@" >"$tmp/$name.tap"
	(cd "$tmp" && env AM_TAP_AWK=awk sh "$AIC_SRC_DIR/build-aux/tap-driver.sh" \
		--test-name "tests/$name.sh" --log-file "$name.log" --trs-file "$name.trs" \
		--color-tests no --enable-hard-errors yes --expect-failure no -- \
		cat "$name.tap" >/dev/null)
	# The header automake writes, then the test's section (as a non-PASS result has).
	{
		res=$(sed -n 's/^:global-test-result: //p' "$tmp/$name.trs")
		for r in PASS SKIP XFAIL FAIL XPASS ERROR; do
			printf '# %s: %d\n' "$r" "$(grep -c "^:test-result: $r" "$tmp/$name.trs")"
		done
		echo
		echo "$res: tests/$name"
		echo "$res: tests/$name" | sed 's/./=/g'
		echo
		cat "$tmp/$name.log"
	} >"$tmp/$name-suite.log"
}

printf 'tests/rss.sh\tpeak RSS under AddressSanitizer$\n# a comment\n' >"$tmp/allow"
summary() {
	AIC_EXPECTED_SKIPS="$tmp/allow" "$check" --summary "$@" 2>&1
}

suite rss '1..2' 'ok 1 - works' 'ok 2 - # SKIP peak RSS under AddressSanitizer'
out=$(summary "$tmp/rss-suite.log")
rc=$?
is "$rc" 0 "an expected skip passes"
is "$(printf '%s\n' "$out" | tail -n 1)" \
	"check: 1 passed, 0 failed, 1 skipped (1 expected: tests/rss.sh)" "and the last line states it"
like "$out" "expected skip: tests/rss.sh: peak RSS under AddressSanitizer" "with its reason"

suite cluster '1..0 # SKIP no SLURM cluster'
out=$(summary "$tmp/rss-suite.log" "$tmp/cluster-suite.log")
rc=$?
is "$rc" 1 "a skip that is not expected fails"
like "$out" "UNEXPECTED skip: tests/cluster.sh: no SLURM cluster" "it is listed with its reason"
is "$(printf '%s\n' "$out" | tail -n 1)" \
	"check: 1 passed, 0 failed, 2 skipped (1 expected: tests/rss.sh; 1 UNEXPECTED: tests/cluster.sh)" \
	"the last line counts it"

suite other '1..1' 'ok 1 - # SKIP something else'
out=$(summary "$tmp/other-suite.log")
is "$?" 1 "a skip of an allowed test with another reason fails"

suite fine '1..2' 'ok 1 - a' 'ok 2 - b'
out=$(summary "$tmp/fine-suite.log")
is "$?:$out" "0:check: 2 passed, 0 failed, 0 skipped" "no skip: no detail"

suite bad '1..2' 'ok 1 - a' 'not ok 2 - b'
out=$(summary "$tmp/bad-suite.log")
is "$?:$(printf '%s\n' "$out" | tail -n 1)" "1:check: 1 passed, 1 failed, 0 skipped" "a failure fails"

# A skip counted in the header but not listed (a log cut short) cannot be checked.
sed '/^SKIP: tests\/rss.sh 2/d' "$tmp/rss-suite.log" >"$tmp/cut-suite.log"
out=$(summary "$tmp/cut-suite.log")
is "$?" 1 "a skip without its line fails"
like "$out" "count 1 skips but list 0" "and says so"

printf 'tests/rss.sh peak RSS\n' >"$tmp/allow"
out=$(summary "$tmp/rss-suite.log")
like "$?:$out" "^1:.*bad line" "a malformed tests/expected-skips fails"
done_testing

#!/bin/sh
# SLURM's own regression tests give the same results with aic's plugins
# loaded (spank_aic.so required in plugstack.conf, and
# SelectType=select/cons_tres_aic) as without them: the short list of
# scripts/slurm-regress (tests/slurm-regress/subset) on fresh 3-node
# clusters (issue 26), with the plugins, and without them only the tests
# that did not pass with them (--compare --rerun-failed: a test that passes
# with the plugins loaded was not broken by them). One TAP line per SLURM
# test: it passed with aic's plugins, or its result (PASS, FAIL or SKIP) is
# the same without them, or the test is listed flaky in
# tests/slurm-regress/known-failures; and one for the whole run: no failure
# there that known-failures does not name.
#
# Like the select tests it brings its own clusters up and down, so it runs
# when no cluster is up (`make check-slurm-regress`; scripts/check holds the
# machine's cluster lock around it and says so with AIC_CLUSTER_LOCKED=1).
. "$AIC_SRC_DIR/tests/lib/cluster.sh"

[ "$(id -u)" -eq 0 ] || cannot_run "needs root: the test brings its own SLURM clusters up"
command -v expect >/dev/null || cannot_run "no 'expect' (scripts/deps installs it)"
[ -e "$AIC_BUILD_DIR/plugins/select/.libs/select_cons_tres_aic.so" ] ||
	cannot_run "select_cons_tres_aic.so not built (configure --with-slurm-src=DIR; scripts/deps makes DIR)"
[ ! -f "${AIC_MINICLUSTER_DIR:-/var/tmp/aic-minicluster}/cluster.env" ] ||
	cannot_run "a cluster is already up; this test brings its own up"
unset SLURM_CONF

list=$AIC_SRC_DIR/tests/slurm-regress/subset
tests=$(sed -e 's/#.*//' "$list" | awk 'NF { print $1 }')
plan $(($(echo "$tests" | wc -l) + 1))

work=$(work_dir)
rc=0
AIC_REGRESS_DIR=$work "$AIC_SRC_DIR/scripts/slurm-regress" --compare --rerun-failed --subset --build "$AIC_BUILD_DIR" \
	>"$work/out.log" 2>&1 || rc=$?
sed 's/^/# /' "$work/out.log"
[ -f "$work/results/both.tsv" ] || bail "scripts/slurm-regress did not finish (exit $rc)"

# result MODE TEST: PASS, FAIL or SKIP (a new failure is a FAIL).
result() {
	awk -F'\t' -v t="$2" '$1 == t { sub(/!$/, "", $2); print $2 }' "$work/results/$1.tsv"
}
flaky=$(awk -F'\t' '$2 == "flaky" { print $1 }' "$AIC_SRC_DIR/tests/slurm-regress/known-failures")
for t in $tests; do
	a=$(result none "$t")
	b=$(result both "$t")
	if [ -z "$a" ]; then
		# Not run without aic: only a test that passed with it is not.
		is "$b" PASS "$t: passes with aic's plugins (so they did not break it)"
	elif [ -z "$b" ]; then
		ok "$t: ran both ways (without aic: '$a', with: '$b')" false
	elif echo "$flaky" | grep -qx "$t"; then
		ok "$t: $a without aic, $b with (listed flaky)" true
	else
		is "$b" "$a" "$t: the same result with aic's plugins as without ($a)"
	fi
done
is "$(cat "$work/results/none.tsv" "$work/results/both.tsv" | awk -F'\t' '$2 == "FAIL!"' | cut -f1,4)" "" \
	"no failure that tests/slurm-regress/known-failures does not list"

#!/bin/sh
# configure's --with-X[=DIR] contract: a dependency that is asked for and
# missing stops configure with a message naming it; --without-X builds
# without it.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
if [ -f "$AIC_SRC_DIR/config.status" ]; then
	skip_all "the source tree is configured in place; configure-options needs a VPATH build"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plan 11
mkdir "$tmp/empty-prefix"

run_configure() {
	rm -rf "$tmp/b"
	mkdir "$tmp/b"
	(cd "$tmp/b" && "$AIC_SRC_DIR/configure" --cache-file="$tmp/config.cache" "$@" >out 2>&1)
	rc=$?
	out=$(cat "$tmp/b/out")
	return $rc
}

run_configure --with-zstd=/nonexistent/zstd
ok "--with-zstd=/nonexistent stops configure" [ $? -ne 0 ]
like "$out" "--with-zstd='/nonexistent/zstd': no such directory" "naming the directory"

run_configure --with-pmix="$tmp/empty-prefix"
ok "--with-pmix=DIR without PMIx in DIR stops configure" [ $? -ne 0 ]
like "$out" "--with-pmix was given but PMIx .* was not found" "naming the dependency"

run_configure --with-slurm-src="$tmp/empty-prefix"
ok "--with-slurm-src=DIR that is no SLURM tree stops configure" [ $? -ne 0 ]
like "$out" "is not a SLURM source tree" "saying why"

mkdir -p "$tmp/unconfigured/src/common"
: >"$tmp/unconfigured/src/common/select.h"
run_configure --with-slurm-src="$tmp/unconfigured"
ok "--with-slurm-src=DIR with an unconfigured SLURM tree stops configure" [ $? -ne 0 ]
like "$out" "is not configured \(no config.h\)" "saying so"

run_configure --without-slurm --without-pmix --without-hwloc
rc=$?
is "$rc" 0 "--without-slurm --without-pmix --without-hwloc configures"
like "$out" "slurm \(SPANK\): +no" "and the summary says SLURM is off"
like "$out" "pmix: +no" "and PMIx is off"
if [ $rc -ne 0 ]; then diag "$out"; fi
done_testing

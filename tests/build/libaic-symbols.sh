#!/bin/sh
# libaic.so is what every worker process loads, so it is held to its
# contract: installed, it exports exactly the functions aic.h declares and
# needs nothing it does not define itself; aic.h is the one header
# installed, and compiles and links alone; neither it nor a Python worker
# (python/aic) loads libyaml or hwloc; and python/aic's AIC_E* codes are
# the header's.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
header="$AIC_SRC_DIR/lib/aic.h"
built="$AIC_BUILD_DIR/lib/.libs/libaic.so"
[ -e "$built" ] || bail "no $built (build first)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The last 5 tests need a python3.
if command -v python3 >/dev/null; then plan 15; else plan 10; fi

# A make of our own, not a part of the `make check` that runs this script.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$AIC_BUILD_DIR" install DESTDIR="$tmp/dest" \
	>"$tmp/install.log" 2>&1
rc=$?
is "$rc" 0 "make install DESTDIR=... succeeds"
[ $rc -eq 0 ] || bail "$(tail -5 "$tmp/install.log")"

headers=$(cd "$tmp/dest" && find . -name '*.h' | sed 's|.*/include/||' | sort | tr '\n' ' ')
is "$headers" "aic.h " "it installs one header, aic.h"
lib=$(find "$tmp/dest" -name libaic.so | head -1)
[ -n "$lib" ] || bail "make install installed no libaic.so"
includedir=$(cd "$tmp/dest" && find . -name aic.h | head -1)
includedir="$tmp/dest/$(dirname "$includedir")"

# The functions aic.h declares: a declaration starts in column 0 with its
# return type; comments, the enum and the struct do not.
sed -n 's/^[a-z][a-z_ ]*[ *]\(aic_[a-z0-9_]*\)(.*/\1/p' "$header" | sort >"$tmp/declared"
nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort >"$tmp/exported"
ok "aic.h declares the worker API (found $(wc -l <"$tmp/declared") functions)" \
	grep -qx aic_worker_connect "$tmp/declared"
extra=$(comm -13 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
is "$extra" "" "the installed libaic.so exports nothing aic.h does not declare"
missing=$(comm -23 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
is "$missing" "" "and every function aic.h declares (lib/libaic.lds lists them)"
undefined=$(nm -D --undefined-only "$lib" | awk '$2 ~ /^aic_/ { print $2 }' | tr '\n' ' ')
is "$undefined" "" "it leaves no aic_* symbol undefined (all its sources are linked in)"

needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
diag "libaic.so needs: $needed"
bad=$(echo "$needed" | tr ' ' '\n' | grep -E 'yaml|hwloc' | tr '\n' ' ')
is "$bad" "" "it does not link libyaml or hwloc"
crypto=$(echo "$needed" | tr ' ' '\n' | grep -E 'nettle|crypto|ssl|gnutls|sodium' | sed 's/\.so.*//' | tr '\n' ' ')
is "$crypto" "libnettle " "its one crypto library is nettle (HMAC for the handshake)"

# What a C worker does with the installed files: #include <aic.h>, -laic.
cat >"$tmp/worker.c" <<'EOF'
#include <aic.h>

int main(void)
{
	struct aic_worker *w;
	int rc = aic_worker_connect(&w);

	return aic_error_name(AIC_ECLOSED) && aic_strerror(rc) ? 0 : 1;
}
EOF
${CC:-cc} -Wall -Wextra -Wstrict-prototypes -Werror -I"$includedir" -o "$tmp/worker" \
	"$tmp/worker.c" -L"$(dirname "$lib")" -laic >"$tmp/cc.log" 2>&1
rc=$?
is "$rc" 0 "a C worker compiles against the installed aic.h alone and links with -laic"
[ $rc -eq 0 ] || diag "$(cat "$tmp/cc.log")"
LD_LIBRARY_PATH="$(dirname "$lib")" "$tmp/worker"
is "$?" 0 "and runs: outside an aic job, aic_worker_connect fails cleanly"

# A Python worker: python/aic loads the installed libaic (as under aic run)
# and its maps are read from inside.
if ! command -v python3 >/dev/null; then
	diag "no python3: the Python checks are not run"
	done_testing
fi
AIC_LIBRARY="$lib" PYTHONPATH="$AIC_SRC_DIR/python" python3 -c '
import aic
print("\n".join(line.split()[-1] for line in open("/proc/self/maps") if "/" in line))
' >"$tmp/maps" 2>"$tmp/py.log"
rc=$?
is "$rc" 0 "a Python worker imports aic"
[ $rc -eq 0 ] || diag "$(cat "$tmp/py.log")"
ok "its process maps libaic" grep -q 'libaic\.so' "$tmp/maps"
mapped=$(grep -E 'yaml|hwloc' "$tmp/maps" | sort -u | tr '\n' ' ')
is "$mapped" "" "and no libyaml or hwloc"

# The AIC_E* codes: python/aic reads them from the library; they are aic.h's.
sed -n 's/^[[:space:]]*\(AIC_E[A-Z]*\) = \(-[0-9]*\),.*/\1 \2/p' "$header" | sort >"$tmp/codes.h"
AIC_LIBRARY="$lib" PYTHONPATH="$AIC_SRC_DIR/python" python3 -c '
import aic
for name, code in aic._codes.items():
    print(name, code)
' | sort >"$tmp/codes.py"
ok "aic.h defines AIC_E* codes (found $(wc -l <"$tmp/codes.h"))" grep -q '^AIC_ECLOSED ' "$tmp/codes.h"
is "$(tr '\n' ' ' <"$tmp/codes.py")" "$(tr '\n' ' ' <"$tmp/codes.h")" \
	"python/aic's AIC_E* codes are aic.h's, read from the library"
done_testing

#!/bin/sh
# The tarball is complete: every file git tracks is in it, but for the few
# listed below as left out on purpose. `make distcheck` proves that the
# tarball builds and passes the quick tests; this proves that nothing the
# slower tests, the benchmarks, the examples or the docs need was
# forgotten in an EXTRA_DIST (a file missing there is found by neither
# `make check` nor a build from git). It reads `make distdir`, the tree
# that `make dist` tars.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
# A build from the tarball has no git history to compare with.
[ -e "$AIC_SRC_DIR/.git" ] || skip_all "not a git checkout (a build from the tarball)"
command -v git >/dev/null || bail "a git checkout but no git to read it"
plan 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Tracked files that the tarball leaves out on purpose, one a line: a
# path, a tab, and why.
cat >"$tmp/left-out" <<'EOF'
.gitignore	git's own, nothing in a tarball reads it
.clang-format	an editor's setting for changes made in git
EOF

# A make of our own, not a part of the `make check` that runs this script.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$AIC_BUILD_DIR" distdir distdir="$tmp/dist" \
	>"$tmp/distdir.log" 2>&1
rc=$?
is "$rc" 0 "make distdir succeeds"
[ $rc -eq 0 ] || bail "$(tail -5 "$tmp/distdir.log")"

(cd "$tmp/dist" && find . -type f -o -type l) | sed 's|^\./||' | sort >"$tmp/in-tarball"
git -C "$AIC_SRC_DIR" ls-files -z >"$tmp/git.z" || bail "git ls-files failed in $AIC_SRC_DIR"
# Files deleted in the work tree but not yet in the index are not the tarball's to have.
tr '\0' '\n' <"$tmp/git.z" | while IFS= read -r f; do
	[ -e "$AIC_SRC_DIR/$f" ] && printf '%s\n' "$f"
done | sort >"$tmp/tracked"
cut -f1 "$tmp/left-out" | sort >"$tmp/left-out-paths"

missing=$(comm -23 "$tmp/tracked" "$tmp/in-tarball" | comm -23 - "$tmp/left-out-paths")
is "$missing" "" "every file git tracks is in the tarball (or listed as left out)"
[ -z "$missing" ] && diag "$(wc -l <"$tmp/tracked") tracked files, $(wc -l <"$tmp/in-tarball") in the tarball"
[ -z "$missing" ] || diag "add them to an EXTRA_DIST (Makefile.am, */local.mk), or to the list above with why"

# A stale entry would hide a file that later takes its name.
stale=$({
	comm -23 "$tmp/left-out-paths" "$tmp/tracked"
	comm -12 "$tmp/left-out-paths" "$tmp/in-tarball"
} | tr '\n' ' ')
is "$stale" "" "every file listed as left out is tracked and not in the tarball"
done_testing

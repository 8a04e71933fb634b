#!/bin/sh
# The packaging files agree with the build: aic.spec parses with rpmspec and
# packs into a source RPM, splits into the same packages as debian/control,
# ties the select plugin to exactly one SLURM release and the SPANK plugin
# to one major.minor; and configure, debian/changelog, aic.spec and
# python/pyproject.toml carry one version. (tests/packages/install.sh builds
# and installs the Debian packages; it needs root and a cluster.)
. "$AIC_SRC_DIR/tests/lib/tap.sh"
command -v rpmspec >/dev/null && command -v rpmbuild >/dev/null ||
	skip_all "no rpmspec/rpmbuild (Debian's rpm package: scripts/deps)"
command -v dpkg-parsechangelog >/dev/null || skip_all "no dpkg-parsechangelog (dpkg-dev: scripts/deps)"
plan 6
spec="$AIC_SRC_DIR/aic.spec"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rpmspec -P --define 'slurm_version 22.05.8' "$spec" >"$tmp/spec" 2>"$tmp/err"
is "$?" 0 "rpmspec -P parses aic.spec"
[ -s "$tmp/err" ] && diag "$(cat "$tmp/err")"
is "$(sed -n 's/^Requires: *\(slurm [<>=].*\)/\1/p' "$tmp/spec" | tr '\n' ';')" \
	"slurm >= 22.05, slurm < 22.05.99;slurm = 22.05.8;" \
	"the SPANK plugin requires SLURM's major.minor, the select plugin exactly its release"

rpm_pkgs=$(rpmspec -q --define 'slurm_version 22.05.8' --qf '%{name}\n' "$spec" 2>/dev/null |
	sed 's/^libaic-devel$/libaic-dev/' | sort | tr '\n' ' ')
deb_pkgs=$(sed -n 's/^Package: //p' "$AIC_SRC_DIR/debian/control" | sort | tr '\n' ' ')
is "$rpm_pkgs" "$deb_pkgs" "aic.spec and debian/control make the same packages (-devel for -dev)"

version=$(sed -n 's/^PACKAGE_VERSION = //p' "$AIC_BUILD_DIR/Makefile")
v_rpm=$(rpmspec -q --srpm --define 'slurm_version 22.05.8' --qf '%{version}' "$spec" 2>/dev/null)
v_deb=$(cd "$AIC_SRC_DIR" && dpkg-parsechangelog -S Version)
v_py=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$AIC_SRC_DIR/python/pyproject.toml")
is "$v_rpm $v_deb $v_py" "$version $version $version" \
	"aic.spec, debian/changelog and python/pyproject.toml have configure's version ($version)"

# A source RPM needs only the spec and the tarball it names.
mkdir -p "$tmp/src/aic-$version" "$tmp/top"
cp "$spec" "$tmp/src/aic-$version/"
tar -czf "$tmp/src/aic-$version.tar.gz" -C "$tmp/src" "aic-$version"
rpmbuild -bs --define "_topdir $tmp/top" --define "_sourcedir $tmp/src" \
	--define 'slurm_version 22.05.8' "$spec" >"$tmp/bs.log" 2>&1
is "$?" 0 "rpmbuild -bs packs a source RPM"
ok "named aic-$version-1.src.rpm" [ -f "$tmp/top/SRPMS/aic-$version-1.src.rpm" ]
done_testing

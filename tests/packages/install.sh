#!/bin/sh
# What a cluster admin does with aic's Debian packages, on this machine:
# build them from the source tree (dpkg-buildpackage, lintian), install
# them, bring up a 3-node cluster of the installed packages (minicluster
# --installed, with the installed select plugin), run examples/hello.yaml
# across the 3 nodes with sbatch --aic-job and the installed aic-launch, run
# grpo-toy with `aic run` from a directory outside the source tree with no
# AIC_LIBRARY or PYTHONPATH, pip-install ./python into a venv, then purge
# the packages and check that nothing of them is left.
#
# Installing changes the machine for everyone, so this runs alone (under
# the cluster lock, like every cluster test): it refuses to start while a
# cluster is up or any of the packages is installed, and purges them on
# every exit.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
plan 22
[ "$(id -u)" -eq 0 ] || bail "needs root (installs packages, runs a cluster)"
for c in dpkg-buildpackage lintian dh_python3 git; do
	command -v "$c" >/dev/null || bail "'$c' not found: run scripts/deps"
done
pkgs="aic libaic0 libaic-dev python3-aic slurm-spank-aic slurm-select-aic"
installed() {
	for p in $pkgs; do
		s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
		[ -z "$s" ] || [ "$s" = not-installed ] || echo "$p"
	done
}
[ -z "$(installed)" ] || bail "already installed (purge them first): $(installed | tr '\n' ' ')"
mc="$AIC_SRC_DIR/scripts/minicluster"
"$mc" status >/dev/null 2>&1 && bail "a minicluster is up: take it down first"
[ ! -e "${AIC_MINICLUSTER_DIR:-/var/tmp/aic-minicluster}" ] ||
	bail "'${AIC_MINICLUSTER_DIR:-/var/tmp/aic-minicluster}' exists: run '$mc down' first"

# Not under /tmp: the cluster's nodes each mount their own.
work=$(mktemp -d /var/tmp/aic-packages.XXXXXX) || bail "cannot make a work directory"
cleanup() {
	"$mc" down >/dev/null 2>&1
	# shellcheck disable=SC2046
	[ -z "$(installed)" ] || dpkg --purge $(installed) >"$work/purge-trap.log" 2>&1
	# The build and install logs stay for a failed run.
	if [ "$tap_failed" -eq 0 ] && [ "$tap_n" = "$tap_plan" ]; then
		rm -rf "$work"
	else
		echo "# logs kept in $work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A copy of the tree's files, so that the build (dh_autoreconf, debian/build)
# leaves the source tree alone; uncommitted files are part of it.
mkdir "$work/src"
(cd "$AIC_SRC_DIR" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work/src") ||
	bail "cannot copy the source tree (is '$AIC_SRC_DIR' a git checkout?)"
# make check has run the tests that debian/rules would (nocheck).
(cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -uc -us) \
	>"$work/build.log" 2>&1
rc=$?
is "$rc" 0 "dpkg-buildpackage -b -uc -us builds the packages"
[ $rc -eq 0 ] || bail "$(tail -n 20 "$work/build.log")"
debs=""
for p in $pkgs; do
	f=$(ls "$work"/"${p}"_*.deb 2>/dev/null)
	[ -n "$f" ] && debs="$debs $f"
done
is "$(echo $debs | wc -w)" 6 "it makes the six packages: $pkgs"
lintian "$work"/aic_*.changes >"$work/lintian.log" 2>&1
diag "lintian: $(grep -c . "$work/lintian.log") tags"
is "$(grep '^E:' "$work/lintian.log" | tr '\n' ' ')" "" "lintian reports no error"

# shellcheck disable=SC2086
dpkg -i $debs >"$work/install.log" 2>&1
rc=$?
is "$rc" 0 "dpkg -i installs them"
[ $rc -eq 0 ] || bail "$(tail -n 20 "$work/install.log")"
for p in $pkgs; do dpkg -L "$p"; done | sort -u >"$work/files"
conf=/etc/slurm/plugstack.conf.d/aic.conf
is "$(grep -v '^[[:space:]]*#' "$conf" | grep '[^[:space:]]')" "" \
	"the installed $conf is all comments: nothing changes until the admin enables it"

# Everything from here on sees only what the packages installed: no build
# tree on PATH, no AIC_LIBRARY, PYTHONPATH or source directory.
clean_env() {
	env -i HOME="$HOME" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 ${SLURM_CONF:+SLURM_CONF="$SLURM_CONF"} "$@"
}
is "$(clean_env sh -c 'command -v aic; command -v aic-launch' | tr '\n' ' ')" \
	"/usr/bin/aic /usr/bin/aic-launch " "aic and aic-launch are the installed ones"
is "$(cd / && clean_env /usr/bin/python3 -c 'import aic; print(aic.__file__, aic.AIC_ECLOSED < 0)')" \
	"/usr/lib/python3/dist-packages/aic/__init__.py True" \
	"python3 imports the installed aic, which loads the installed libaic"

clean_env "$mc" up --installed --select aic --nodes 3 --gpus-per-node 4 >"$work/up.log" 2>&1
rc=$?
is "$rc" 0 "minicluster up --installed --select aic: a cluster of the installed plugins"
[ $rc -eq 0 ] || bail "$(tail -n 5 "$work/up.log")"
eval "$(clean_env "$mc" env)"
slurm_libdir=$(sed -n 's/^PluginDir=//p' "$SLURM_CONF")
is "$(sed -n 's/^required \([^ ]*\) .*/\1/p' "$AIC_MINICLUSTER_DIR/etc/plugstack.conf")" \
	"$slurm_libdir/spank_aic.so" "its plugstack.conf loads the installed spank_aic.so"
like "$(scontrol show config | grep '^SelectType ')" "select/cons_tres_aic$" \
	"slurmctld runs the installed select plugin"

# hello.yaml on all three nodes, as a user submits it.
mkdir "$work/hello"
cp "$AIC_SRC_DIR/examples/hello.yaml" "$work/hello/"
cat >"$work/hello/batch.sh" <<EOF
#!/bin/sh
#SBATCH -N3
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --gres=gpu:4
#SBATCH -o $work/hello/batch.out
echo "launcher: \$(command -v aic-launch)"
srun --no-kill --mpi=pmix aic-launch
EOF
(cd "$work/hello" && clean_env timeout 300 sbatch --wait --aic-job=hello.yaml batch.sh) \
	>"$work/hello/sbatch.out" 2>&1
rc=$?
is "$rc" 0 "sbatch --aic-job=hello.yaml runs hello on the installed packages"
[ $rc -eq 0 ] || diag "$(cat "$work/hello/sbatch.out" "$work/hello/batch.out" 2>/dev/null)"
like "$(cat "$work/hello/batch.out" 2>/dev/null)" "launcher: /usr/bin/aic-launch" \
	"the job ran the installed aic-launch"
is "$(cd "$work/hello" && /usr/bin/python3 -c "
import json
s = json.load(open('.aic/latest/status.json'))
print(s['nodes'], len(s['procs']), json.load(open('.aic/latest/summary.json'))['state'])" 2>&1)" \
	"3 6 succeeded" "the job ran on 3 nodes (an agent on each), placed its 6 processes and succeeded"
"$mc" down >"$work/down.log" 2>&1
is "$?" 0 "the cluster goes down"
unset SLURM_CONF AIC_MINICLUSTER_DIR

# grpo-toy with `aic run`: Python workers find the aic module and libaic
# where the packages put them.
aic=/usr/bin/aic
grpo_dir=$work/grpo
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
grpo_copy "$grpo_dir" 4 0
(cd "$grpo_dir" && clean_env timeout 300 aic run job.yaml) >"$work/grpo.out" 2>&1
rc=$?
is "$rc" 0 "grpo-toy under the installed aic run, with no AIC_LIBRARY or PYTHONPATH"
[ $rc -eq 0 ] || diag "$(tail -n 20 "$work/grpo.out")"
is "$(cd "$grpo_dir" && /usr/bin/python3 -c "import json; print(json.load(open('.aic/latest/summary.json'))['state'])" 2>&1)" \
	succeeded "its summary says it succeeded"
ok "the installed aic has its dashboard's page (aic dashboard serves it)" \
	test -s /usr/share/aic/dashboard/index.html -a -s /usr/share/aic/dashboard/dashboard.js

# pip install ./python into a venv: the module is the venv's, the library the
# installed one. The venv sees Debian's setuptools and wheel (no package index).
clean_env /usr/bin/python3 -m venv --system-site-packages "$work/venv" >"$work/pip.log" 2>&1 &&
	cp -r "$AIC_SRC_DIR/python" "$work/python" &&
	clean_env "$work/venv/bin/pip" install -q --no-build-isolation --no-index "$work/python" \
		>>"$work/pip.log" 2>&1
rc=$?
is "$rc" 0 "pip install ./python into a venv"
[ $rc -eq 0 ] || diag "$(tail -n 5 "$work/pip.log")"
is "$(cd / && clean_env "$work/venv/bin/python" -c 'import aic; print(aic.__file__, aic.AIC_ECLOSED < 0)' 2>&1)" \
	"$work/venv/lib/python3.$(/usr/bin/python3 -c 'import sys; print(sys.version_info[1])')/site-packages/aic/__init__.py True" \
	"the venv imports its own aic, which loads the installed libaic"

# shellcheck disable=SC2086
dpkg --purge $pkgs >"$work/purge.log" 2>&1
is "$?" 0 "dpkg --purge removes the packages"
left=""
while read -r f; do
	[ -d "$f" ] && continue
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$work/files"
left="$left $(ls -d /usr/lib/python3/dist-packages/aic "$conf"* 2>/dev/null | tr '\n' ' ')"
is "$(echo $left)" "" "no file of theirs is left (python caches and $conf included)"
is "$(grep -rl 'aic' /etc/slurm/plugstack.conf /etc/slurm/plugstack.conf.d 2>/dev/null | tr '\n' ' ')$(installed)" "" \
	"no plugstack entry names aic, and no package is left installed"
done_testing

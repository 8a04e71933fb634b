#!/bin/bash
# The select plugin at cluster size, inside a real slurmctld: 1,024 nodes
# (State=CLOUD: defined, never registered, as SLURM's power saving knows
# them: the scheduler allocates them and "resumes" them with /bin/true;
# ResumeTimeout is an hour, so an allocated node stays allocated) in D
# NVLink domains (aic_nvl:<id>, 1024/D consecutive nodes each). A busy
# pattern first (plain jobs of 1 to 16 nodes until about BUSY% of the
# nodes are allocated), then a stream of JOBS aic jobs (--aic-job, 2 to 16
# nodes, exclusive), under select/cons_tres_aic and then under SLURM's own
# select/cons_tres, each on a fresh controller. Prints one JSON line per
# plugin:
#   main_us_per_job  slurmctld's main scheduler, time per job it looked at
#                    (sdiag after the stream: mean cycle / mean depth)
#   in_domain        fraction of the stream's allocated jobs inside one
#                    NVLink domain
#   allocated        the stream's jobs allocated (the rest wait: no room)
#
#   bench/select-scale.sh [DOMAINS [JOBS [BUSY]]]   (default 64 40 70; root)
#
# It needs no node daemon; it starts its own munged and slurmctld on
# 127.0.0.1 (ports 16917/16918) and stops them. Run it under the cluster
# lock, as every SLURM daemon on this machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${AIC_BUILD_DIR:-$top/build}
domains=${1:-64}
jobs=${2:-40}
busy=${3:-70}
nodes=1024
for v in "$domains" "$jobs" "$busy"; do
	case $v in *[!0-9]* | "") echo "bench/select-scale: bad argument '$v' (a number)" >&2; exit 2 ;; esac
done
[ $((nodes % domains)) -eq 0 ] && [ "$domains" -ge 1 ] ||
	{ echo "bench/select-scale: DOMAINS '$domains' must divide $nodes" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench/select-scale: needs root (munged, slurmctld)" >&2; exit 2; }
so=$build/plugins/select/.libs/select_cons_tres_aic.so
[ -e "$so" ] || { echo "bench/select-scale: no '$so' (configure --with-slurm-src)" >&2; exit 2; }
libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/slurm-wlm
dir=$(mktemp -d /var/tmp/aic-select-scale.XXXXXX)
chmod 755 "$dir"
munged_pid= ctld_pid=
stop() {
	[ -z "$ctld_pid" ] || { kill "$ctld_pid" 2>/dev/null; wait "$ctld_pid" 2>/dev/null || true; }
	ctld_pid=
}
cleanup() {
	stop
	[ -z "$munged_pid" ] || kill "$munged_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

# munge on a private socket.
mkdir -p "$dir/munge/run" "$dir/plugins" "$dir/log"
head -c 1024 /dev/urandom >"$dir/munge/munge.key"
chmod 600 "$dir/munge/munge.key"
chmod 711 "$dir/munge"
chown -R munge:munge "$dir/munge"
runuser -u munge -- munged --socket="$dir/munge/run/munge.sock" --key-file="$dir/munge/munge.key" \
	--log-file="$dir/munge/munged.log" --pid-file="$dir/munge/run/munged.pid" \
	--seed-file="$dir/munge/munged.seed"
munged_pid=$(cat "$dir/munge/run/munged.pid")
for f in "$build"/plugins/*/.libs/*.so; do ln -sf "$f" "$dir/plugins/"; done
printf 'name: scale\nstages:\n  a: {command: "true", ranks: 2, gpus: 0}\n' >"$dir/job.yaml"
echo "optional $dir/plugins/spank_aic.so" >"$dir/plugstack.conf"

conf() {
	local select=$1 d per=$((nodes / domains))
	mkdir -p "$dir/ctld-$select"
	cat <<EOF
ClusterName=aicscale
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=16917
SlurmdPort=16918
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/run/munge.sock
StateSaveLocation=$dir/ctld-$select
SlurmctldPidFile=$dir/slurmctld.pid
SlurmctldLogFile=$dir/log/slurmctld-$select.log
SlurmctldDebug=info
PluginDir=$dir/plugins:$libdir
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/$select
SelectTypeParameters=CR_Core
MailProg=/bin/true
SuspendProgram=/bin/true
ResumeProgram=/bin/true
SuspendTime=3600
SuspendTimeout=60
ResumeTimeout=3600
ResumeRate=0
SuspendRate=0
MaxJobCount=100000
MinJobAge=3600
SlurmdTimeout=0
NodeName=DEFAULT CPUs=8 Boards=1 SocketsPerBoard=2 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=4096 State=CLOUD
EOF
	for d in $(seq 0 $((domains - 1))); do
		printf 'NodeName=n[%04d-%04d] Features=aic_nvl:%d\n' $((d * per + 1)) $(((d + 1) * per)) "$d"
	done
	echo "PartitionName=all Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
}

# The same jobs for both plugins: the busy pattern's sizes, then the stream's.
awk -v seed=7 -v n="$jobs" -v target=$((nodes * busy / 100)) 'BEGIN {
	srand(seed)
	for (t = 0; t < target; t += k) { k = 1 + int(rand() * 16); print "busy", k }
	for (i = 0; i < n; i++) print "aic", 2 + int(rand() * 15)
}' >"$dir/jobs"

run() {
	local select=$1 kind k id main_cycle main_depth
	export SLURM_CONF=$dir/slurm-$select.conf
	conf "$select" >"$SLURM_CONF"
	slurmctld -D -c >"$dir/log/ctld-$select.out" 2>&1 &
	ctld_pid=$!
	for _ in $(seq 300); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
	scontrol ping >/dev/null 2>&1 || { echo "bench/select-scale: slurmctld ($select) did not answer; see $dir/log" >&2; tail -5 "$dir/log/slurmctld-$select.log" >&2; exit 1; }
	: >"$dir/ids-$select"
	while read -r kind k; do
		[ "$kind" = busy ] || continue
		sbatch --parsable -o /dev/null -N "$k" --exclusive --wrap true >/dev/null
	done <"$dir/jobs"
	# Every busy job allocated (the main scheduler and backfill got to them all).
	for _ in $(seq 600); do [ -z "$(squeue -h -t PD -o %i)" ] && break; sleep 0.2; done
	sdiag --reset >/dev/null
	while read -r kind k; do
		[ "$kind" = aic ] || continue
		sbatch --parsable -o /dev/null -N "$k" --exclusive --aic-job="$dir/job.yaml" --wrap true >>"$dir/ids-$select"
	done <"$dir/jobs"
	# The main scheduler runs on every submission and every minute; give it the stream's.
	sleep 5
	sdiag >"$dir/sdiag-$select"
	squeue -h -j "$(paste -sd, "$dir/ids-$select")" -o '%T %N' >"$dir/stream-$select" || true
	read -r main_cycle < <(awk -F: '/^[ \t]*Mean cycle:/ {gsub(/ /, "", $2); print $2; exit}' "$dir/sdiag-$select")
	read -r main_depth < <(awk -F: '/^[ \t]*Mean depth cycle:/ {gsub(/ /, "", $2); print $2; exit}' "$dir/sdiag-$select")
	python3 - "$select" "$domains" "$busy" "$jobs" "${main_cycle:-0}" "${main_depth:-0}" \
		"$dir/stream-$select" <<'PY'
import json, re, sys
select, domains, busy, jobs, cycle, depth, path = sys.argv[1:]
per = 1024 // int(domains)
alloc = inside = 0
for line in open(path):
    state, _, nodelist = line.strip().partition(" ")
    if state == "PENDING" or not nodelist:
        continue
    ids = []
    m = re.fullmatch(r"n(?:\[(.*)\]|(\d+))", nodelist)
    if m.group(2):
        ids = [int(m.group(2))]
    else:
        for part in m.group(1).split(","):
            a, _, b = part.partition("-")
            ids += range(int(a), int(b or a) + 1)
    alloc += 1
    inside += len({(i - 1) // per for i in ids}) == 1
print(json.dumps({"bench": "select-scale", "plugin": select, "nodes": 1024,
                  "domains": int(domains), "busy_pct": int(busy), "jobs": int(jobs),
                  "main_us_per_job": round(float(cycle) / float(depth), 1) if float(depth) else None,
                  "main_mean_cycle_us": float(cycle), "main_mean_depth": float(depth),
                  "allocated": alloc, "in_domain": round(inside / alloc, 3) if alloc else None}))
PY
	stop
}

run cons_tres_aic
run cons_tres

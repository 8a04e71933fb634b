#!/bin/sh
# bench/scale 64 keeps working: a real head and 64 simulated agents
# (build/bench/scale_sim) bootstrap, place 504 processes (a 256-rank gang
# and replicas, one GPU each), restart a replica and the gang, recover a
# silent node's replicas, and stop; every figure is printed and plotted.
# The head keeps all of its agents while they authenticate at once, even
# above AIC_NET_MAX_PENDING (8 here), which bounds only strangers.
# No figure is judged by its value: the machine may be loaded.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
	bail "Debian's python3 lacks matplotlib (scripts/deps installs it)"
dir=$(mktemp -d /var/tmp/aic-scale-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
plan 8

AIC_NET_MAX_PENDING=8 AIC_SCALE_STEADY_S=1 AIC_BUILD_DIR=$AIC_BUILD_DIR \
	timeout 120 "$AIC_SRC_DIR/bench/scale" --plot "$dir/png" 64 >"$dir/out" 2>"$dir/err"
is "$?" 0 "bench/scale 64 succeeds (64 agents connecting at once, AIC_NET_MAX_PENDING=8)$(
	[ -s "$dir/err" ] && printf ' [%s]' "$(tail -n 2 "$dir/err" | tr '\n' ' ')")"
fig() { /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    x = json.loads(l)
    if x["figure"].startswith(sys.argv[2]):
        print(x[sys.argv[3]])
        break
' "$dir/out" "$1" "$2"; }
is "$(fig "bootstrap: first HELLO -> every process running" procs)" 504 \
	"every one of the 504 processes (8 GPUs x 63 nodes) ran"
is "$(fig "gang rank crash" gang_ranks)" 256 "the 256-rank gang restarted whole"
is "$(fig "placement solver" stage_wall_s | awk '{ print ($1 >= 0 && $1 < 120) ? "sane" : $1 }')" sane \
	"summary.json's wall_s of the restarted gang is at most the run's (not an end before its start)"
is "$(grep -c '"nodes": 64' "$dir/out")" 19 "19 figures for N = 64"
is "$(fig "node silent -> its replicas" n)" 1 "a silent node's replicas ran elsewhere"
ok "the overview plot is written" test -s "$dir/png/scale.png"
is "$(find "$dir/png" -name 'scale-*.png' | wc -l)" 19 "and one plot per figure"

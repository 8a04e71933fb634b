#!/bin/sh
# A replica on a node that dies is placed again on a node with free GPUs,
# runs there, and the job succeeds: its items reach the sink through its
# new node (the data plane learns who produces the channel now), the lost
# node is named in aic status, status.json and summary.json, and the
# process shows its new node and its move. No process is left anywhere.
# The node is failed the way AIC_FAIL_WAY says (tests/lib/failures.sh):
# this script crashes it; replica-moves-agent-kill.sh SIGKILLs only its
# aic-launch, whose worker (a shell loop that never talks to the agent)
# must die by PR_SET_PDEATHSIG, before the go-ahead lets it finish.
. "$AIC_SRC_DIR/tests/lib/failures.sh"
need_cluster 4 4
plan 12
dir=$(work_dir)
cd "$dir" || bail "cannot enter $dir"

# Two replicas that put 50 items each, a node each; replica 1's fails.
move_replica replica-moves 50
running_there() {
	[ "$(status_field "$dir" "[(p['node'], p['state']) for p in d['procs'] if p['stage'] == 'work' and p['index'] == 1][0]")" = "('$new', 'running')" ]
}
ok "status.json shows it running on its new node" wait_for 30 running_there
is "$(status_field "$dir" "[p['moves'] for p in d['procs'] if p['stage'] == 'work' and p['index'] == 1][0]")" 1 \
	"and that it moved once"
like "$("$aic" status --job "$(jobdir "$dir")")" "node '$victim' lost at [0-9.]+ s: " "aic status names the lost node"
ok "nothing of the job is left on $victim" wait_for 60 nothing_on "${victim#n}" aic-launch "$dir/work.sh"
touch go
ok "the job ends" wait_for 120 failed_job_ended "$job" "$dir"
diag "$(tail -5 "$dir/job.out")"
is "$(summary_field "$dir" "d['state']")" succeeded "it succeeded"
is "$(summary_field "$dir" "[n['node'] for n in d['lost_nodes']]")" "['$victim']" \
	"summary.json names the lost node"
is "$(sort -u out.jsonl | wc -l)" 100 "the sink has the 100 items of both replicas, the moved one's too"
nothing_left "$dir/work.sh"
done_testing

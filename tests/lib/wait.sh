# shellcheck shell=sh
# Sourced by the shell tests that wait for an event (cluster.sh sources it
# for the cluster's tests): a wait is for the event, with a generous
# deadline, never a sleep of a guessed length.

# wait_for SECONDS CMD...: until CMD succeeds (polled every 0.1 s, its
# stderr dropped); 1 when it never did within SECONDS.
wait_for() {
	wf_t=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		wf_t=$((wf_t - 1))
		[ $wf_t -gt 0 ] || return 1
		sleep 0.1
	done
}

# count_procs PATTERN: how many processes' command lines match PATTERN
# (pgrep -f), less those whose parent matches too: a shell script's child
# between fork and exec (its `sleep`) still has the script's command line.
count_procs() {
	cp_pids=" $(pgrep -f "$1" | tr '\n' ' ') "
	cp_n=0
	for cp_p in $cp_pids; do
		cp_pp=$(ps -o ppid= -p "$cp_p" 2>/dev/null | tr -d ' ')
		case "$cp_pids" in *" $cp_pp "*) ;; *) [ -z "$cp_pp" ] || cp_n=$((cp_n + 1)) ;; esac
	done
	echo "$cp_n"
}

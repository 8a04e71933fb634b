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

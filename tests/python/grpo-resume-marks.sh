#!/bin/sh
# examples/grpo-toy stopped with `aic stop --checkpoint`: the gang's
# checkpoint holds every line the trainer trained on before it saved, so
# a resumed run reads none of them again. The engine counts a line in a
# rank's checkpoint when all its items were acked before that rank's mark
# (state.json: checkpoints.train.sources, one progress per rank), and a
# group's line has items both ranks hold: a rank that marked before the
# other rank's acks of the step came left the whole step's lines to be
# read again, and the resumed run's first step trained on duplicates only
# (bench/resume-cluster.sh: its first step a step later). Here each stop's
# checkpoint is checked line by line: every (pass, line) in a rank's saved
# `seen` is done in every rank's progress.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
enter_work_dir grpo-resume-marks
plan 6

# none_again TRAINED AGAIN: at least 3 steps' lines trained on, none read again.
none_again() { [ "$1" -ge 48 ] && [ "$2" -eq 0 ]; }
for i in 1 2 3; do
	# A copy each: .aic/latest is the run's own from the start.
	grpo_copy "$dir/r$i" 40 0.01
	cd "$dir/r$i" || bail "no $dir/r$i"
	grpo_run_until 3
	is "$rc" 75 "run $i stopped with a checkpoint: exit 75"
	# shellcheck disable=SC2046 # two words
	set -- $(grpo_reread .aic/latest)
	ok "run $i: none of the $1 lines trained on is read again on resume (read again: $2)" \
		none_again "$1" "$2"
done
done_testing

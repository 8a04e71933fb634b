#!/bin/sh
# examples/grpo-toy killed without notice (SIGKILL to `aic run`, its
# workers dying with it) after saving checkpoints unasked every 4 weight
# versions (CKPT_EVERY): `aic run --resume` continues from the last one
# state.json counted, nothing of the source is lost (every prompt item is
# trained on exactly once in the end; the steps after that checkpoint are
# redone), and the run ends learned. The resumed run reads the prompts
# again from the checkpoint's mark (the trainer's checkpoint_begin), not
# from the start: the prompts trained on twice are those of the steps
# after it (4 at most, 16 prompts each), not all of the 14 steps'.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
. "$AIC_SRC_DIR/tests/lib/grpo-toy.sh"
need_python_modules numpy matplotlib
enter_work_dir grpo-kill
plan 7

grpo_copy "$dir/k" 6 0.03
cd "$dir/k" || bail "no $dir/k"
sed -i 's/{BATCH: 16, LR: 4,/{BATCH: 16, LR: 4, CKPT_EVERY: 4,/' job.yaml
grep -q 'CKPT_EVERY: 4' job.yaml || bail "cannot set CKPT_EVERY in job.yaml"
"$aic" run job.yaml >run.out 2>run.err &
pid=$!
for _ in $(seq 600); do
	[ "$(grep -c '^step' .aic/latest/logs/train.0.log 2>/dev/null)" -ge 14 ] && break
	sleep 0.1
done
kill -9 $pid
wait $pid
is "$?" 137 "the job is killed with SIGKILL after 14 steps, no notice"
jd=$(readlink -f .aic/latest)
v=$(python3 -c "
import json
a, b = json.load(open('$jd/state.json'))['checkpoints']['train']['versions']
print(a if a == b and a % 4 == 0 else 'none: %s %s' % (a, b))")
like "$v" '^[0-9]+$' "state.json has the gang's last checkpoint, saved unasked (version $v)"
"$aic" run --resume "$jd" job.yaml >>run.out 2>>run.err
is "$?" 0 "aic run --resume runs it to its end"
like "$(grep '^resumed' "$jd/logs/train.0.log")" "^resumed from version $v," \
	"the trainer resumed from that checkpoint"
ok "the reward rises from near chance (< 0.3) to near solved (>= 0.8)" grpo_learned
is "$(grpo_counts)" "600 100 6 6" "every prompt item is trained on exactly once: nothing of the source is lost"
dups=$(grpo_field duplicates)
ok "the resumed run read few prompts twice ($dups of 600), not the source from its start" \
	[ "$dups" -lt 100 ]
done_testing

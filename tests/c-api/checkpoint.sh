#!/bin/sh
# The C worker API's checkpoints under `aic run` (tests/c-api/worker.c
# ckpt): the callback form (aic_checkpoint) saves when `aic stop
# --checkpoint` asks, the job ends checkpointed (75), and `aic run --resume`
# gives each replica AIC_RESUME (aic_checkpoint_resume) naming what it
# saved, under its stage's aic_checkpoint_dir(). The callback marks the
# state it takes (aic_checkpoint_begin). Told no once, a worker asks again
# without writing to its agent until a request comes (CKPT_NOTICE).
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
worker="$AIC_BUILD_DIR/tests/c-api/worker"
. "$AIC_SRC_DIR/tests/lib/worker-api.sh"
[ -x "$worker" ] || bail "no $worker"
enter_work_dir c-ckpt
plan 6

cat >ck.yaml <<YAML
name: c-ckpt
checkpoint: {grace_s: 30}
stages:
  s: {command: [$worker, ckpt], replicas: 2, cpus: 0}
YAML
"$aic" run ck.yaml >run1.out 2>run1.err &
pid=$!
wait_for 30 test -e ready
"$aic" stop --checkpoint >/dev/null
wait $pid
is "$?" 75 "asked, both C workers save through the callback and the job ends checkpointed"
jd=$(readlink -f .aic/latest)
is "$(cat "$jd"/logs/s.0.log "$jd"/logs/s.1.log | grep -c '^polls wrote 0$')" 2 \
	"asked every step and told no, a worker makes no round trip after the first"
saved="$(sed -n 's/^saved //p' "$jd/logs/s.0.log") $(sed -n 's/^saved //p' "$jd/logs/s.1.log")"
is "$(python3 -c "import json; print(*json.load(open('$jd/state.json'))['checkpoints']['s']['versions'])")" \
	"$saved" "state.json counts the versions they saved ($saved)"
is "$(cat "$jd/checkpoints/s/0.${saved% *}")" "${saved% *}" "in the stage's checkpoint directory"
"$aic" run --resume "$jd" ck.yaml >run2.out 2>run2.err
is "$?" 0 "resumed, the job runs to its end"
is "$(grep -h '^resume yes' "$jd"/logs/s.0.log "$jd"/logs/s.1.log | cut -d' ' -f4 | tr '\n' ' ')" \
	"${saved% *} ${saved#* } " "each loads its own checkpoint (AIC_RESUME)"
done_testing

#!/bin/sh
# aic submit and the job's end: the script asks SLURM for a notice before
# the time limit (--signal=B:USR1@, the spec's grace_s plus a margin; a
# user's --signal wins), appends to its output across requeues, passes the
# notice on to aic-launch, and requeues the job when aic-launch exits 75
# (checkpointed), but not after a SIGTERM (scancel, preemption: SLURM
# requeues what it means to). --chain N submits N allocations, each after the one
# before, continuing the first one's job directory; --resume DIR continues
# DIR. Fake sbatch, srun and scontrol record what they are given.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
. "$AIC_SRC_DIR/tests/lib/wait.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
dir=$(mktemp -d /var/tmp/aic-submit-resume-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
plan 16
mkdir bin
# sbatch: keeps the script and its arguments; with --parsable prints a job id (101, 102, ...).
cat >bin/sbatch <<FAKE
#!/bin/sh
for a in "\$@"; do last=\$a; done
n=\$(cat "$dir/n" 2>/dev/null || echo 100); n=\$((n + 1)); echo \$n >"$dir/n"
cp "\$last" "$dir/script"
printf '%s\n' "\$*" >>"$dir/sbatch.args"
printf '%s\n' "\${AIC_RESUME_DIR:-none}" >>"$dir/sbatch.resume"
case "\$*" in *--parsable*) echo "\$n" ;; esac
FAKE
# srun: exits with \$SRUN_RC at once, or on SIGUSR1 when SRUN_RC is "usr1".
cat >bin/srun <<FAKE
#!/bin/sh
if [ "\$SRUN_RC" = usr1 ]; then
	trap 'echo usr1 >"$dir/srun.got"; exit 75' USR1
	touch "$dir/srun.ready"
	for _ in \$(seq 300); do sleep 0.1; done
	exit 1
fi
if [ "\$SRUN_RC" = term ]; then
	trap 'echo term >"$dir/srun.got"; exit 75' TERM
	touch "$dir/srun.ready"
	for _ in \$(seq 300); do sleep 0.1; done
	exit 1
fi
exit \$SRUN_RC
FAKE
cat >bin/scontrol <<FAKE
#!/bin/sh
printf '%s\n' "\$*" >>"$dir/scontrol.args"
FAKE
chmod +x bin/sbatch bin/srun bin/scontrol
export PATH="$dir/bin:$PATH"
printf 'checkpoint: {grace_s: 30}\nstages:\n  a: {command: [true]}\n' >job.yaml

"$aic" submit job.yaml >out 2>&1
is "$?" 0 "aic submit runs sbatch"
is "$(grep -E '^#SBATCH --(signal|open-mode|requeue)' script | tr '\n' ' ')" \
	"#SBATCH --signal=B:USR1@90 #SBATCH --open-mode=append #SBATCH --requeue " \
	"the script asks for SIGUSR1 grace_s + 60 s before the end, appends, may be requeued"
"$aic" submit job.yaml --signal=B:USR1@300 >out 2>&1
is "$(grep -c -- '--signal' script) $(tail -n 1 sbatch.args)" "0 --signal=B:USR1@300 .aic/$(basename "$(ls -t .aic/*.sbatch | head -n 1)")" \
	"a --signal given wins"

SLURM_JOB_ID=7 SRUN_RC=75 sh script
is "$?" 75 "the script exits with aic-launch's 75"
is "$(cat scontrol.args)" "requeue 7" "and requeues the job"
rm -f scontrol.args
SLURM_JOB_ID=7 SRUN_RC=3 sh script
is "$?:$(cat scontrol.args 2>/dev/null)" "3:" "another exit status is passed on, and no requeue"

SLURM_JOB_ID=8 SRUN_RC=usr1 sh script &
pid=$!
wait_for 10 test -e srun.ready
kill -USR1 $pid
wait $pid
is "$?:$(cat srun.got 2>/dev/null)" "75:usr1" "the notice to the batch shell reaches the step"
is "$(cat scontrol.args)" "requeue 8" "which, checkpointed, is requeued"

rm -f scontrol.args srun.ready srun.got
SLURM_JOB_ID=9 SRUN_RC=term sh script &
pid=$!
for _ in $(seq 100); do [ -e srun.ready ] && break; sleep 0.1; done
kill -TERM $pid
wait $pid
is "$?:$(cat srun.got 2>/dev/null)" "75:term" "SIGTERM to the batch shell reaches the step"
is "$(cat scontrol.args 2>/dev/null)" "" "which, checkpointed on SIGTERM, the script does not requeue"

rm -f sbatch.args sbatch.resume n
"$aic" submit job.yaml --chain 3 -t 1 >out 2>&1
is "$?" 0 "aic submit --chain 3 submits"
is "$(grep -c '^Submitted batch job' out)" 3 "three allocations"
is "$(cut -d' ' -f1-3 sbatch.args | tr '\n' '|')" \
	"--parsable -t 1|--parsable --dependency=afterany:101 -t|--parsable --dependency=afterany:102 -t|" \
	"each after the one before"
is "$(tr '\n' ' ' <sbatch.resume)" "none $dir/.aic/101.0 $dir/.aic/101.0 " \
	"the later ones continue the first one's job directory"
is "$(grep -c 'scontrol requeue' script)" 0 "a chain is continued, not requeued"

mkdir -p .aic/5.0
rm -f sbatch.resume
"$aic" submit job.yaml --resume .aic/5.0 >out 2>&1
is "$(cat sbatch.resume)" "$dir/.aic/5.0" "--resume DIR continues DIR"
done_testing

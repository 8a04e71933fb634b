#!/bin/sh
# aic submit with a spec path full of shell and sbatch syntax: the script
# it writes must pass the path on literally, to srun (through the shell)
# and to --aic-job (through sbatch's #SBATCH parser), and run nothing of
# it. A fake sbatch on PATH keeps the script; a fake srun records what the
# shell gives it.
. "$AIC_SRC_DIR/tests/lib/tap.sh"
aic="$AIC_BUILD_DIR/launcher/aic"
dir=$(mktemp -d /var/tmp/aic-submit-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || bail "no $dir"
mkdir bin
cat >bin/sbatch <<FAKE
#!/bin/sh
for a in "\$@"; do last=\$a; done
cp "\$last" "$dir/script"
printf '%s\n' "\$@" >"$dir/sbatch.args"
FAKE
# The fake srun can also play a job's end: write the head's status.json
# (FAKE_STATE), wait for a signal (FAKE_WAIT), exit FAKE_RC.
cat >bin/srun <<FAKE
#!/bin/sh
for a in "\$@"; do last=\$a; done
printf '%s' "\$last" >"$dir/srun.last"
printf '%s\\n' "\$*" >>"$dir/srun.runs"
if [ -n "\$FAKE_STATE" ]; then
	mkdir -p "\$SLURM_SUBMIT_DIR/.aic/\$SLURM_JOB_ID.0"
	printf '{\\n  "job": "j",\\n  "state": "%s",\\n  "procs": []\\n}\\n' "\$FAKE_STATE" \\
		>"\$SLURM_SUBMIT_DIR/.aic/\$SLURM_JOB_ID.0/status.json"
fi
printf '%s %s\\n' "\$AIC_BATCH_NODE" "\$AIC_BATCH_PID" >"$dir/srun.batch"
# The head's end while srun still waits (for a lost node's task).
if [ -n "\$FAKE_ENDED" ]; then
	kill -USR2 "\$AIC_BATCH_PID"
fi
if [ -n "\$FAKE_WAIT" ]; then
	trap 'echo "srun got \$FAKE_WAIT" >"$dir/srun.signal"; exit \$FAKE_RC' "\$FAKE_WAIT"
	echo \$\$ >"$dir/srun.waiting"
	# Bounded, so that a signal never passed on fails the test, not hangs it.
	i=0
	while [ \$i -lt 300 ]; do sleep 1; i=\$((i + 1)); done
	exit 99
fi
exit \${FAKE_RC:-0}
FAKE
chmod +x bin/sbatch bin/srun

odd='s $(touch pwned1) `touch pwned2` "dq" '"'"'sq'"'"' #h \x ;'
mkdir "$odd"
printf 'stages:\n  a: {command: [true], gpus: 1}\n' >"$odd/job.yaml"
spec="$dir/$odd/job.yaml"

out=$(PATH="$dir/bin:$PATH" "$aic" submit "$odd/job.yaml" 2>&1)
is "$?" 0 "aic submit with an odd spec path runs sbatch"
like "$out" "aic submit: \.aic/submit-[0-9]+\.sbatch \(1 node\)" "naming its script"
ok "sbatch was given the script" [ -s script ]

# The shell, as the batch step runs it.
(cd "$dir/bin" && PATH="$dir/bin:$PATH" sh "$dir/script")
is "$(cat srun.last)" "$spec" "srun gets the spec path as it is"
is "$(find "$dir" -name 'pwned*' | wc -l)" 0 "nothing in the path was run"

# sbatch's reading of '#SBATCH --aic-job=...': get_argument() in
# src/sbatch/opt.c, step by step (whitespace is tested before a backslash).
got=$(python3 - script <<'PY'
import sys
for line in open(sys.argv[1]):
    if not line.startswith("#SBATCH --aic-job="):
        continue
    p = line[len("#SBATCH "):]
    i, arg, esc, quoted, q = 0, "", False, False, None
    while i < len(p) and (quoted or not p[i].isspace()) and p[i] != "\n":
        c = p[i]
        if esc:
            esc = False
        elif c == "\\":
            esc = True
            i += 1
            continue
        elif quoted:
            if c == q:
                quoted = False
                i += 1
                continue
        elif c in "\"'":
            quoted, q = True, c
            i += 1
            continue
        elif c == "#":
            break
        arg += c
        i += 1
    if quoted:
        arg = "unmatched quote"
    print(arg[len("--aic-job="):], end="")
PY
)
is "$got" "$spec" "sbatch reads --aic-job as the spec path"

# What SLURM needs to never cancel, requeue or rerun a job aic can finish
# (launcher/cli/submit.c's script_run). The script runs as the batch step
# would: SLURM_SUBMIT_DIR and SLURM_JOB_ID set, srun the fake one.
batch() {
	(cd "$dir/bin" && PATH="$dir/bin:$PATH" SLURM_SUBMIT_DIR="$dir/sub" SLURM_JOB_ID=7 sh "$dir/script")
}
mkdir sub
like "$(grep -x '#SBATCH --no-kill' script)" . "the job is --no-kill: a lost node does not end it"
like "$(grep '^srun ' script)" "^srun --no-kill " "nor its step"
rm -f srun.runs
FAKE_STATE=succeeded FAKE_RC=137 batch
is "$?" 0 "the job's outcome is the head's: succeeded, though an agent was killed (srun 137)"
FAKE_STATE=failed FAKE_RC=1 batch
is "$?" 1 "a failed job fails"
rm -rf sub/.aic
FAKE_RC=3 batch
is "$?" 3 "without a status.json, srun's exit status"
FAKE_STATE=succeeded batch
rm -f srun.runs
SLURM_RESTART_COUNT=1 batch 2>err
is "$?" 0 "a requeued run of a job that succeeded exits 0"
ok "without running it again" [ ! -e srun.runs ]
like "$(cat err)" "aic: job 7 succeeded before SLURM requeued it" "and says why"
FAKE_STATE=failed batch
rm -f srun.runs
SLURM_RESTART_COUNT=1 batch
ok "a requeued run of a job that had not succeeded runs it" [ -s srun.runs ]
rm -f srun.waiting srun.signal
PATH="$dir/bin:$PATH" SLURM_SUBMIT_DIR="$dir/sub" SLURM_JOB_ID=7 FAKE_WAIT=USR1 FAKE_RC=5 \
	sh "$dir/script" &
pid=$!
while [ ! -e srun.waiting ] && kill -0 $pid 2>/dev/null; do sleep 0.1; done
kill -USR1 $pid
wait $pid
is "$?" 5 "the script waits for srun after a signal"
is "$(cat srun.signal 2>/dev/null)" "srun got USR1" "and passes the signal on to srun (--signal=B:USR1)"
kill "$(cat srun.waiting)" 2>/dev/null

# The head's SIGUSR2 (aic-launch.c's batch_notify) ends the script with the
# head's outcome while srun still waits for the task of a lost node.
rm -f srun.waiting srun.batch
PATH="$dir/bin:$PATH" SLURM_SUBMIT_DIR="$dir/sub" SLURM_JOB_ID=7 SLURMD_NODENAME=n1 \
	FAKE_STATE=succeeded FAKE_ENDED=1 FAKE_WAIT=HUP sh "$dir/script"
is "$?" 0 "the head's end ends the script while srun still waits, with its outcome"
is "$(cut -d' ' -f1 srun.batch)" n1 "the script tells aic-launch its node"
like "$(cut -d' ' -f2 srun.batch)" '^[0-9]+$' "and its pid"
kill "$(cat srun.waiting)" 2>/dev/null
PATH="$dir/bin:$PATH" SLURM_SUBMIT_DIR="$dir/sub" SLURM_JOB_ID=7 SLURMD_NODENAME=n1 \
	FAKE_STATE=failed FAKE_ENDED=1 FAKE_WAIT=HUP sh "$dir/script"
is "$?" 1 "a failed job ended by the head fails"
kill "$(cat srun.waiting)" 2>/dev/null
PATH="$dir/bin:$PATH" SLURM_SUBMIT_DIR="$dir/sub" SLURM_JOB_ID=7 SLURMD_NODENAME=n1 \
	FAKE_STATE=checkpointed FAKE_ENDED=1 FAKE_WAIT=HUP sh "$dir/script"
is "$?" 75 "a checkpointed one exits 75, as the head does"
kill "$(cat srun.waiting)" 2>/dev/null

mkdir "$(printf 'nl\nx')"
printf 'stages:\n  a: {command: [true]}\n' >"$(printf 'nl\nx')/job.yaml"
rm -f script
err=$(PATH="$dir/bin:$PATH" "$aic" submit "$(printf 'nl\nx')/job.yaml" 2>&1)
is "$?" 1 "a spec path with a line break is refused"
like "$err" "aic submit: the spec path '.*nl" "naming it"
ok "sbatch was not run" [ ! -e script ]
done_testing

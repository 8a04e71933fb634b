#!/bin/sh
# The user's side of the SPANK plugin: a bad spec is refused by srun and
# sbatch before anything is queued, with file:line:column; a good one's
# canonical AIC_JOB reaches the job record (PrologSlurmctld), every node's
# prolog and the batch environment; srun inside an sbatch job inherits the
# job's spec, and its own --aic-job wins.
. "$AIC_SRC_DIR/tests/lib/cluster.sh"
need_cluster 3
plan 19
dir=$(work_dir)
prologs="$AIC_MINICLUSTER_DIR/prolog"
cd "$dir" || bail "cannot enter $dir"
cp "$AIC_SRC_DIR/tests/fixtures/specs/grpo.yaml" good.yaml
printf 'stages:\n  a: {command: c,\n      replica: 2}\n' >bad.yaml

# Job ids are consecutive: a refused job must not use one up.
first=$(sbatch --parsable -N1 -o /dev/null --wrap true)
err=$(timeout $step_timeout srun -N1 --aic-job=bad.yaml true 2>&1)
is "$?" 1 "srun --aic-job=bad.yaml fails"
like "$err" "^srun: error: aic: bad.yaml:3:7: stage 'a': unknown key 'replica'; did you mean 'replicas'\?" \
	"srun says where and what"
err=$(timeout $step_timeout sbatch --aic-job=bad.yaml --wrap true 2>&1)
is "$?" 1 "sbatch --aic-job=bad.yaml fails"
like "$err" "^sbatch: error: aic: bad.yaml:3:7: stage 'a': unknown key 'replica'" "sbatch says where and what"
err=$(timeout $step_timeout srun -N1 --aic-job=missing.yaml true 2>&1)
like "$err" "aic: srun --aic-job: cannot read 'missing.yaml': No such file or directory" "a missing spec is named"
next=$(sbatch --parsable -N1 -o /dev/null --wrap true)
is "$next" "$((first + 1))" "no job was queued for the bad specs"

want="v=1;spec=$dir/good.yaml;name=grpo-toy;stages=3;procs=14;gpus=20;max_gpus=2;topology=prefer"
cat >batch.sh <<JOB
#!/bin/sh
#SBATCH -N2
#SBATCH -o $dir/batch.out
echo "batch AIC_JOB=\$AIC_JOB"
echo "batch SLURM_SPANK_AIC_JOB=\$SLURM_SPANK_AIC_JOB"
srun -N2 --ntasks-per-node=1 sh -c 'echo "inherited \$SLURMD_NODENAME \$AIC_JOB_SPEC"'
cp good.yaml other.yaml
srun -N1 --aic-job=other.yaml sh -c 'echo "override \$AIC_JOB_SPEC \$AIC_JOB"'
JOB
job=$(timeout $step_timeout sbatch --parsable --wait --aic-job=good.yaml batch.sh 2>&1)
is "$?" 0 "sbatch --aic-job=good.yaml runs"
diag "$(cat batch.out)"
is "$(cat "$prologs/$job.ctld.env" 2>/dev/null | grep '^SPANK_AIC_JOB=')" "SPANK_AIC_JOB=$want" \
	"the job record carries AIC_JOB (PrologSlurmctld sees it)"
is "$(cat "$prologs/$job".n*.env 2>/dev/null | grep -c "^SPANK_AIC_JOB=$want\$")" 2 \
	"both nodes' prologs see SPANK_AIC_JOB"
like "$(cat batch.out)" "batch AIC_JOB=$want" "the batch script sees AIC_JOB"
like "$(cat batch.out)" "batch SLURM_SPANK_AIC_JOB=$want" "and SLURM_SPANK_AIC_JOB"
is "$(grep -c "^inherited n[0-9]* $dir/good.yaml\$" batch.out)" 2 "an srun in the job inherits the spec"
like "$(cat batch.out)" "override $dir/other.yaml v=1;spec=$dir/other.yaml;" "an srun's own --aic-job wins"

err=$(timeout $step_timeout srun -N1 --aic-job=good.yaml --aic-job=bad.yaml true 2>&1)
ok "two different --aic-job on one command line fail" [ $? -ne 0 ]
like "$err" "aic: --aic-job given twice: 'good.yaml' and 'bad.yaml'" "naming both"
err=$(timeout $step_timeout srun -N1 --aic-job=good.yaml --aic-bind=tight true 2>&1)
ok "a bad --aic-bind fails" [ $? -ne 0 ]
like "$err" "aic: invalid --aic-bind 'tight': expected closest, slurm or none" "naming the value"
err=$(timeout $step_timeout srun -N1 --aic-nccl=maybe true 2>&1)
like "$err" "aic: invalid --aic-nccl 'maybe': expected auto or off" "a bad --aic-nccl is named"
ok "the same --aic-job twice is fine" timeout $step_timeout srun -N1 --aic-job=good.yaml --aic-job=good.yaml true
done_testing

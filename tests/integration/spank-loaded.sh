#!/bin/sh
# plugstack.conf loads aic's SPANK plugin from the build: --aic-job appears
# in srun and sbatch, its value reaches every task, and a contradiction on
# the command line is refused.
. "$AIC_SRC_DIR/tests/integration/lib.sh"
need_cluster 3

like "$(srun --help 2>&1)" '--aic-job=SPEC' "srun --help lists --aic-job"
like "$(sbatch --help 2>&1)" '--aic-job=SPEC' "sbatch --help lists --aic-job"

out=$(timeout $step_timeout srun -N3 --aic-job=/shared/grpo.yaml sh -c 'echo "$SLURMD_NODENAME $AIC_JOB_SPEC"' 2>&1)
is "$?" 0 "srun --aic-job exits 0"
diag "$out"
is "$(printf '%s\n' "$out" | awk '$2 == "/shared/grpo.yaml" {print $1}' | sort -u | wc -l)" 3 \
	"every node's task sees AIC_JOB_SPEC"

out=$(timeout $step_timeout srun -N3 sh -c 'echo "${AIC_JOB_SPEC-unset}"' 2>&1)
is "$(printf '%s\n' "$out" | sort -u)" unset "without --aic-job the plugin stays out of the way"

err=$(timeout $step_timeout srun -N1 --aic-job=a.yaml --aic-job=b.yaml true 2>&1)
rc=$?
ok "a conflicting repeat of --aic-job fails" [ $rc -ne 0 ]
like "$err" "aic: --aic-job given twice: 'a.yaml' and 'b.yaml'" "and says which values conflict"
done_testing

/*
 * Unit tests for the SPANK plugin's parts that do not need slurmstepd:
 * option callbacks (args.c), plugstack.conf arguments (plugstack.c), the
 * canonical AIC_JOB value (job.c) and the per-task plan and environment
 * (task_plan.c). SLURM's spank_* and slurm_error are provided here: the
 * plugin resolves them from SLURM at load time, the tests from this file.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "args.h"
#include "error.h"
#include "job.h"
#include "plugstack.h"
#include "task_plan.h"

/* --- the SPANK API, as far as these parts use it --------------------- */

static char last_error[1024];
static int n_errors;
static int n_registered;

void slurm_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	n_errors++;
}

spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
	(void)sp;
	assert_non_null(opt->cb);
	n_registered++;
	return ESPANK_SUCCESS;
}

const char *spank_strerror(spank_err_t err)
{
	(void)err;
	return "spank error";
}

spank_err_t spank_job_control_setenv(spank_t sp, const char *var, const char *val, int overwrite)
{
	(void)sp;
	(void)var;
	(void)val;
	(void)overwrite;
	return ESPANK_SUCCESS;
}

static void reset(void)
{
	aic_spank_args_reset();
	last_error[0] = '\0';
	n_errors = 0;
	unsetenv("SLURM_SPANK__SLURM_SPANK_OPTION_aic_aic_job");
	unsetenv("_SLURM_SPANK_OPTION_aic_aic_job");
}

/* --- args.c ---------------------------------------------------------- */

static void registers_three_options(void **state)
{
	(void)state;
	n_registered = 0;
	assert_int_equal(aic_spank_args_register(NULL), 0);
	assert_int_equal(n_registered, 3);
}

static void job_option(void **state)
{
	(void)state;
	reset();
	assert_int_equal(aic_spank_job_cb(0, "a.yaml", 0), 0);
	assert_string_equal(aic_spank_args.job, "a.yaml");
	/* The same value again (SLURM calls back twice) is fine. */
	assert_int_equal(aic_spank_job_cb(0, "a.yaml", 0), 0);
	/* A different one on the same command line is an error, naming both. */
	assert_int_equal(aic_spank_job_cb(0, "b.yaml", 0), -1);
	assert_string_equal(last_error, "aic: --aic-job given twice: 'a.yaml' and 'b.yaml'");
	assert_string_equal(aic_spank_args.job, "a.yaml");
	/* In slurmstepd the last value wins. */
	assert_int_equal(aic_spank_job_cb(0, "c.yaml", 1), 0);
	assert_string_equal(aic_spank_args.job, "c.yaml");
	assert_int_equal(aic_spank_job_cb(0, "", 0), -1);
	assert_string_equal(last_error, "aic: --aic-job needs a job spec path");
	assert_int_equal(aic_spank_job_cb(0, NULL, 0), -1);
}

/* An srun inside an sbatch --aic-job job: the inherited value yields to the flag. */
static void inherited_job_is_overridden(void **state)
{
	(void)state;
	reset();
	setenv("SLURM_SPANK__SLURM_SPANK_OPTION_aic_aic_job", "batch.yaml", 1);
	assert_int_equal(aic_spank_job_cb(0, "batch.yaml", 0), 0);
	assert_true(aic_spank_args.job_inherited);
	assert_int_equal(aic_spank_job_cb(0, "step.yaml", 0), 0);
	assert_string_equal(aic_spank_args.job, "step.yaml");
	assert_false(aic_spank_args.job_inherited);
	/* Once the command line has spoken, a third different value conflicts. */
	assert_int_equal(aic_spank_job_cb(0, "third.yaml", 0), -1);
	reset();
	setenv("_SLURM_SPANK_OPTION_aic_aic_job", "batch.yaml", 1);
	assert_int_equal(aic_spank_job_cb(0, "batch.yaml", 0), 0);
	assert_int_equal(aic_spank_job_cb(0, "step.yaml", 0), 0);
	reset();
}

static void bind_and_nccl_options(void **state)
{
	(void)state;
	reset();
	assert_int_equal(aic_spank_args.bind, AIC_BIND_UNSET);
	assert_int_equal(aic_spank_bind_cb(0, "none", 0), 0);
	assert_int_equal(aic_spank_args.bind, AIC_BIND_NONE);
	assert_int_equal(aic_spank_bind_cb(0, "none", 0), 0);
	assert_int_equal(aic_spank_bind_cb(0, "slurm", 0), -1);
	assert_string_equal(last_error, "aic: --aic-bind given twice: 'none' and 'slurm'");
	assert_int_equal(aic_spank_bind_cb(0, "tight", 0), -1);
	assert_string_equal(last_error, "aic: invalid --aic-bind 'tight': expected closest, slurm or none");
	assert_int_equal(aic_spank_bind_cb(0, "closest", 1), 0);
	assert_int_equal(aic_spank_args.bind, AIC_BIND_CLOSEST);

	assert_int_equal(aic_spank_args.nccl, -1);
	assert_int_equal(aic_spank_nccl_cb(0, "off", 0), 0);
	assert_int_equal(aic_spank_args.nccl, 0);
	assert_int_equal(aic_spank_nccl_cb(0, "auto", 0), -1);
	assert_string_equal(last_error, "aic: --aic-nccl given twice: 'off' and 'auto'");
	assert_int_equal(aic_spank_nccl_cb(0, "maybe", 0), -1);
	assert_string_equal(last_error, "aic: invalid --aic-nccl 'maybe': expected auto or off");
	reset();
}

/* --- plugstack.c ----------------------------------------------------- */

static void plugstack_arguments(void **state)
{
	struct aic_spank_config cfg;
	char *ok[] = {"topo_xml=/etc/aic/%n.xml", "default_bind=slurm", "nccl_hints=off"};
	char *bad[] = {"topo_xml=", "default_bind=tight", "nccl_hints=maybe", "frobnicate=1"};

	(void)state;
	reset();
	assert_int_equal(aic_spank_config_parse(&cfg, 0, NULL), 0);
	assert_string_equal(cfg.topo_xml, "");
	assert_int_equal(cfg.default_bind, AIC_BIND_CLOSEST);
	assert_int_equal(cfg.nccl_hints, 1);

	assert_int_equal(aic_spank_config_parse(&cfg, 3, ok), 0);
	assert_string_equal(cfg.topo_xml, "/etc/aic/%n.xml");
	assert_int_equal(cfg.default_bind, AIC_BIND_SLURM);
	assert_int_equal(cfg.nccl_hints, 0);
	assert_int_equal(n_errors, 0);

	/* Every bad argument is reported, and the plugin fails closed. */
	assert_int_equal(aic_spank_config_parse(&cfg, 4, bad), -1);
	assert_int_equal(n_errors, 4);
	assert_string_equal(last_error, "aic: plugstack.conf: unknown argument 'frobnicate=1' "
					"(known: topo_xml=, default_bind=, nccl_hints=)");
	reset();
	assert_int_equal(aic_spank_config_parse(&cfg, 1, &bad[1]), -1);
	assert_string_equal(last_error, "aic: plugstack.conf: invalid default_bind 'tight': "
					"expected closest, slurm or none");
}

/* --- job.c ----------------------------------------------------------- */

static void canonical_job_value(void **state)
{
	static const char text[] = "name: grpo\n"
				   "stages:\n"
				   "  gen: {command: g, replicas: {min: 1, max: 4}, gpus: 2,"
				   " inputs: [p], outputs: [s], weights_from: w}\n"
				   "  train: {command: t, ranks: 2, gpus: 1, inputs: [s], weights_to: w,"
				   " colocate_with: gen}\n"
				   "channels: {p: {source: p.jsonl}}\n";
	struct aic_spec *spec;
	char buf[256];

	(void)state;
	assert_int_equal(aic_spec_parse(text, strlen(text), "j.yaml", &spec, NULL), 0);
	assert_int_equal(aic_spank_job_value(spec, "/home/u/a;b%.yaml", buf, sizeof(buf)), 0);
	/* Colocated ranks add processes, not GPUs; ';' and '%' are escaped. */
	assert_string_equal(buf, "v=1;spec=/home/u/a%3Bb%25.yaml;name=grpo;stages=2;procs=6;gpus=8;"
				 "max_gpus=2;topology=prefer");
	assert_int_equal(aic_spank_job_value(spec, "/x.yaml", buf, 16), -ENAMETOOLONG);
	aic_spec_free(spec);
}

/* --- task_plan.c ----------------------------------------------------- */

static struct aic_topo *fixture(const char *name)
{
	char path[4096];
	struct aic_topo *t = NULL;

	snprintf(path, sizeof(path), "%s/tests/fixtures/topo/%s", getenv("AIC_SRC_DIR"), name);
	assert_int_equal(aic_topo_load_xml(path, &t, NULL), 0);
	return t;
}

/* The environment of task i as one line, in a fixed order. */
static const char *env_line(const struct aic_task_plan_input *in, const struct aic_task_plan *p,
			    int i, const char *cvd, bool nccl)
{
	static char buf[2048];
	char **env = aic_task_env(in, p, i, cvd, nccl), **e;
	size_t o = 0;

	assert_non_null(env);
	buf[0] = '\0';
	for (e = env; *e; e++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "", *e);
	aic_task_env_free(env);
	return buf;
}

/* An HGX node, a step with all 8 GPUs and 32 CPUs, 8 tasks: one GPU each. */
static void plan_hgx_eight_tasks(void **state)
{
	struct aic_topo *t = fixture("hgx-h100-8gpu.xml");
	static const int gpus[] = {0, 1, 2, 3, 4, 5, 6, 7};
	struct aic_task_plan_input in = {.topo = t, .step_gpus = gpus, .n_step_gpus = 8, .n_tasks = 8};
	struct aic_task_plan *p;

	(void)state;
	in.step_cpus = t->cpus;
	assert_int_equal(aic_task_plan_new(&in, &p, NULL), 0);
	assert_string_equal(env_line(&in, p, 0, "0,1,2,3,4,5,6,7", true),
			    "AIC_LOCAL_RANK=0 AIC_LOCAL_SIZE=8 AIC_GPUS=0 AIC_GPU_BUSIDS=0000:18:00.0 "
			    "AIC_CUDA_DEVICES=0 AIC_NVLINK_PEERS=1,2,3,4,5,6,7 AIC_NUMA_NODE=0 "
			    "AIC_NIC=mlx5_0 AIC_CPUS=0-1,16-17 CUDA_DEVICE_ORDER=PCI_BUS_ID "
			    "NCCL_IB_HCA==mlx5_0");
	assert_string_equal(env_line(&in, p, 5, "0,1,2,3,4,5,6,7", false),
			    "AIC_LOCAL_RANK=5 AIC_LOCAL_SIZE=8 AIC_GPUS=5 AIC_GPU_BUSIDS=0000:ab:00.0 "
			    "AIC_CUDA_DEVICES=5 AIC_NVLINK_PEERS=0,1,2,3,4,6,7 AIC_NUMA_NODE=1 "
			    "AIC_NIC=mlx5_5 AIC_CPUS=10-11,26-27 CUDA_DEVICE_ORDER=PCI_BUS_ID");
	aic_task_plan_free(p);
	aic_topo_free(t);
}

/* SLURM gave GPUs 4-7 (CUDA_VISIBLE_DEVICES=4,5,6,7) and 4 cores: 2 tasks of 2 GPUs. */
static void plan_partial_step(void **state)
{
	struct aic_topo *t = fixture("hgx-h100-8gpu.xml");
	static const int gpus[] = {4, 5, 6, 7};
	struct aic_task_plan_input in = {.topo = t, .step_gpus = gpus, .n_step_gpus = 4, .n_tasks = 2};
	struct aic_task_plan *p;

	(void)state;
	aic_cpuset_parse(&in.step_cpus, "8-11,24-27");
	assert_int_equal(aic_task_plan_new(&in, &p, NULL), 0);
	assert_string_equal(env_line(&in, p, 0, "4,5,6,7", true),
			    "AIC_LOCAL_RANK=0 AIC_LOCAL_SIZE=2 AIC_GPUS=4,5 "
			    "AIC_GPU_BUSIDS=0000:9a:00.0,0000:ab:00.0 AIC_CUDA_DEVICES=0,1 "
			    "AIC_NVLINK_PEERS=6,7 AIC_NUMA_NODE=1 AIC_NIC=mlx5_4 AIC_CPUS=8-9,24-25 "
			    "CUDA_DEVICE_ORDER=PCI_BUS_ID NCCL_IB_HCA==mlx5_4,mlx5_5");
	assert_string_equal(env_line(&in, p, 1, NULL, true),
			    "AIC_LOCAL_RANK=1 AIC_LOCAL_SIZE=2 AIC_GPUS=6,7 "
			    "AIC_GPU_BUSIDS=0000:ba:00.0,0000:db:00.0 AIC_CUDA_DEVICES=6,7 "
			    "AIC_NVLINK_PEERS=4,5 AIC_NUMA_NODE=1 AIC_NIC=mlx5_6 AIC_CPUS=10-11,26-27 "
			    "CUDA_DEVICE_ORDER=PCI_BUS_ID NCCL_IB_HCA==mlx5_6,mlx5_7");
	aic_task_plan_free(p);
	aic_topo_free(t);
}

/* More tasks than GPUs and cores: every task sees all GPUs and may use every CPU. */
static void plan_more_tasks_than_gpus(void **state)
{
	struct aic_topo *t = fixture("pcie-4gpu-nvlink-pairs.xml");
	static const int gpus[] = {1, 3};
	struct aic_task_plan_input in = {.topo = t, .step_gpus = gpus, .n_step_gpus = 2, .n_tasks = 4};
	struct aic_task_plan *p;

	(void)state;
	aic_cpuset_parse(&in.step_cpus, "0,16,1,17");
	assert_int_equal(aic_task_plan_new(&in, &p, NULL), 0);
	assert_string_equal(env_line(&in, p, 3, "1,3", true),
			    "AIC_LOCAL_RANK=3 AIC_LOCAL_SIZE=4 AIC_GPUS=1,3 "
			    "AIC_GPU_BUSIDS=0000:12:00.0,0000:42:00.0 AIC_CUDA_DEVICES=0,1 "
			    "AIC_NVLINK_PEERS= AIC_NUMA_NODE=0 AIC_NIC=mlx5_0 AIC_CPUS=0-1,16-17 "
			    "CUDA_DEVICE_ORDER=PCI_BUS_ID NCCL_IB_HCA==mlx5_0");
	aic_task_plan_free(p);
	aic_topo_free(t);
}

static void plan_cpu_only_and_errors(void **state)
{
	struct aic_topo *t = fixture("cpu-only.xml");
	static const int gpus[] = {0};
	struct aic_task_plan_input in = {.topo = t, .n_tasks = 2};
	struct aic_task_plan *p;
	char *errors = NULL;

	(void)state;
	in.step_cpus = t->cpus;
	assert_int_equal(aic_task_plan_new(&in, &p, NULL), 0);
	assert_string_equal(env_line(&in, p, 1, NULL, true),
			    "AIC_LOCAL_RANK=1 AIC_LOCAL_SIZE=2 AIC_GPUS= AIC_GPU_BUSIDS= "
			    "AIC_CUDA_DEVICES= AIC_NVLINK_PEERS= AIC_NUMA_NODE=0 AIC_NIC=eno1 "
			    "AIC_CPUS=2-3,6-7 CUDA_DEVICE_ORDER=PCI_BUS_ID");
	aic_task_plan_free(p);

	/* SLURM's GPU 0 does not exist in a GPU-less topology: topo_xml= is wrong. */
	in.step_gpus = gpus;
	in.n_step_gpus = 1;
	assert_int_equal(aic_task_plan_new(&in, &p, &errors), -EINVAL);
	assert_null(p);
	assert_string_equal(errors, "aic: the step has GPU 0, but the topology of 'cpu1' has 0 GPUs: "
				    "is topo_xml= right for this node?\n");
	free(errors);
	aic_topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registers_three_options),
		cmocka_unit_test(job_option),
		cmocka_unit_test(inherited_job_is_overridden),
		cmocka_unit_test(bind_and_nccl_options),
		cmocka_unit_test(plugstack_arguments),
		cmocka_unit_test(canonical_job_value),
		cmocka_unit_test(plan_hgx_eight_tasks),
		cmocka_unit_test(plan_partial_step),
		cmocka_unit_test(plan_more_tasks_than_gpus),
		cmocka_unit_test(plan_cpu_only_and_errors),
	};
	return aic_test_run(tests);
}

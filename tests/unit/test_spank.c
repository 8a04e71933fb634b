/*
 * Unit tests for the SPANK plugin's parts that do not need slurmstepd:
 * option callbacks (args.c), plugstack.conf arguments (plugstack.c), the
 * canonical AIC_JOB value (job.c), the per-task plan and environment
 * (task_plan.c) and how the node's topology file is found and opened
 * (topo_file.c). SLURM's spank_* and slurm_error are provided here: the
 * plugin resolves them from SLURM at load time, the tests from this file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aic_test.h"
#include "args.h"
#include "error.h"
#include "fixture.h"
#include "job.h"
#include "plugstack.h"
#include "task_plan.h"
#include "topo_file.h"

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
	char *bad[] = {"topo_xml=", "default_bind=tight", "nccl_hints=maybe", "frobnicate=1",
		       "topo_xml=etc/%n.xml"};

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
	/* A relative path would be read from the job's working directory. */
	assert_int_equal(aic_spank_config_parse(&cfg, 1, &bad[4]), -1);
	assert_string_equal(last_error, "aic: plugstack.conf: invalid topo_xml 'etc/%n.xml': "
					"expected an absolute path");
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
	struct aic_topo *t = fixture_topo("topo", "hgx-h100-8gpu.xml");
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
	struct aic_topo *t = fixture_topo("topo", "hgx-h100-8gpu.xml");
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
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
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
	struct aic_topo *t = fixture_topo("topo", "cpu-only.xml");
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

/* --- topo_file.c ---------------------------------------------------- */

static char topo_dir[] = "/tmp/aic-test-spank-XXXXXX";

static void topo_dir_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", topo_dir, name);
}

static void copy_fixture(const char *name, const char *to)
{
	char src[4096], dst[4096], cmd[8400];

	snprintf(src, sizeof(src), "%s/tests/fixtures/topo/%s", getenv("AIC_SRC_DIR"), name);
	topo_dir_path(dst, sizeof(dst), to);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	assert_int_equal(system(cmd), 0);
}

/*
 * Loads path in a child process, which a watchdog alarm kills if the load
 * blocks: the bug this guards against is a hang, and a hang must fail the
 * test, not stop the suite. The alarm is no timing assertion: a load that
 * returns at all returns at once. Returns the load's code (>= -255), or
 * 1000 + the signal that ended the child.
 */
static int load_in_child(const char *path, size_t max, char *errors, size_t len)
{
	int pipefd[2], status;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct aic_topo *t = NULL;
		char *err = NULL;
		int rc;

		close(pipefd[0]);
		alarm(60);
		rc = aic_spank_topo_load(path, max, &t, &err);
		if (err && write(pipefd[1], err, strlen(err)) < 0)
			_exit(255);
		aic_topo_free(t);
		free(err);
		_exit(-rc);
	}
	close(pipefd[1]);
	n = read(pipefd[0], errors, len - 1);
	errors[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return -WEXITSTATUS(status);
}

static void topo_node_name(void **state)
{
	char buf[256], host[256];

	(void)state;
	/* slurmstepd's own environment holds slurmd's NodeName. */
	setenv("SLURMD_NODENAME", "gpu-17", 1);
	assert_int_equal(aic_spank_node_name(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "gpu-17");
	assert_int_equal(aic_spank_node_name(buf, 4), -ENAMETOOLONG);
	unsetenv("SLURMD_NODENAME");
	assert_int_equal(aic_spank_node_name(buf, sizeof(buf)), 0);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(buf, host);
}

static void topo_path_from_pattern(void **state)
{
	static const char *bad[] = {"../../../tmp/x", "..", "a/b", "/etc/passwd", "", "n1..", NULL};
	char buf[64], *errors = NULL;
	size_t i;

	(void)state;
	assert_int_equal(aic_spank_topo_path("/etc/aic/%n.xml", "n1", buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "/etc/aic/n1.xml");
	assert_int_equal(
		aic_spank_topo_path("/etc/aic/%n/%n-100%.xml", "gpu-3", buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "/etc/aic/gpu-3/gpu-3-100%.xml");
	/* Without %n the node name does not matter. */
	assert_int_equal(aic_spank_topo_path("/etc/aic/dgx.xml", "..", buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "/etc/aic/dgx.xml");
	for (i = 0; bad[i]; i++) {
		char want[256];

		assert_int_equal(
			aic_spank_topo_path("/etc/aic/%n.xml", bad[i], buf, sizeof(buf), &errors),
			-EINVAL);
		snprintf(want, sizeof(want),
			 "aic: node name '%s' cannot be part of a file name: "
			 "topo_xml=/etc/aic/%%n.xml\n",
			 bad[i]);
		assert_string_equal(errors, want);
		free(errors);
	}
	assert_int_equal(aic_spank_topo_path("/etc/aic/%n.xml",
					     "a-rather-long-node-name-0123456789", buf, 32,
					     &errors),
			 -EINVAL);
	assert_string_equal(errors, "aic: topo_xml=/etc/aic/%n.xml is too long for node "
				    "'a-rather-long-node-name-0123456789'\n");
	free(errors);
}

static void topo_regular_file_loads(void **state)
{
	char path[4096], errors[1024];
	struct aic_topo *t = NULL;

	(void)state;
	copy_fixture("cpu-only.xml", "n1.xml");
	topo_dir_path(path, sizeof(path), "n1.xml");
	assert_int_equal(aic_spank_topo_load(path, AIC_SPANK_TOPO_MAX, &t, NULL), 0);
	assert_non_null(t);
	assert_string_equal(t->host, "cpu1");
	assert_int_equal(t->n_gpus, 0);
	aic_topo_free(t);
	assert_int_equal(load_in_child(path, AIC_SPANK_TOPO_MAX, errors, sizeof(errors)), 0);
	assert_string_equal(errors, "");
}

static void topo_fifo_refused(void **state)
{
	char path[4096], errors[1024], want[4200];

	(void)state;
	topo_dir_path(path, sizeof(path), "fifo.xml");
	assert_int_equal(mkfifo(path, 0600), 0);
	/* No writer ever opens it: a blocking open or read would wait for ever. */
	assert_int_equal(load_in_child(path, AIC_SPANK_TOPO_MAX, errors, sizeof(errors)), -EINVAL);
	snprintf(want, sizeof(want), "aic: topology '%s' is not a regular file\n", path);
	assert_string_equal(errors, want);
	/* Nor a directory or a device. */
	assert_int_equal(load_in_child(topo_dir, AIC_SPANK_TOPO_MAX, errors, sizeof(errors)),
			 -EINVAL);
	assert_int_equal(load_in_child("/dev/zero", AIC_SPANK_TOPO_MAX, errors, sizeof(errors)),
			 -EINVAL);
	assert_string_equal(errors, "aic: topology '/dev/zero' is not a regular file\n");
}

static void topo_symlink_refused(void **state)
{
	char path[4096], errors[1024], want[4200];

	(void)state;
	copy_fixture("cpu-only.xml", "real.xml");
	topo_dir_path(path, sizeof(path), "link.xml");
	assert_int_equal(symlink("real.xml", path), 0);
	assert_int_equal(load_in_child(path, AIC_SPANK_TOPO_MAX, errors, sizeof(errors)), -ELOOP);
	snprintf(want, sizeof(want),
		 "aic: topology '%s' is a symbolic link; topo_xml= must name the file itself\n",
		 path);
	assert_string_equal(errors, want);
}

static void topo_oversized_refused(void **state)
{
	char path[4096], errors[1024], want[4200];
	int fd;

	(void)state;
	/* A sparse file one byte over the limit: refused before a byte is read. */
	topo_dir_path(path, sizeof(path), "huge.xml");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)AIC_SPANK_TOPO_MAX + 1), 0);
	close(fd);
	assert_int_equal(load_in_child(path, AIC_SPANK_TOPO_MAX, errors, sizeof(errors)), -EFBIG);
	snprintf(want, sizeof(want), "aic: topology '%s' has %u bytes, more than the %u read\n",
		 path, AIC_SPANK_TOPO_MAX + 1, AIC_SPANK_TOPO_MAX);
	assert_string_equal(errors, want);
	/* A real topology over a smaller limit. */
	copy_fixture("cpu-only.xml", "small.xml");
	topo_dir_path(path, sizeof(path), "small.xml");
	assert_int_equal(load_in_child(path, 100, errors, sizeof(errors)), -EFBIG);
	/* A missing file says so. */
	topo_dir_path(path, sizeof(path), "n404.xml");
	assert_int_equal(load_in_child(path, AIC_SPANK_TOPO_MAX, errors, sizeof(errors)), -ENOENT);
	snprintf(want, sizeof(want), "aic: cannot read topology '%s': No such file or directory\n",
		 path);
	assert_string_equal(errors, want);
}

static int topo_setup(void **state)
{
	(void)state;
	snprintf(topo_dir, sizeof(topo_dir), "/tmp/aic-test-spank-XXXXXX");
	return mkdtemp(topo_dir) ? 0 : -1;
}

static int topo_teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", topo_dir);
	return system(cmd) == 0 ? 0 : -1;
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
		cmocka_unit_test(topo_node_name),
		cmocka_unit_test(topo_path_from_pattern),
		cmocka_unit_test_setup_teardown(topo_regular_file_loads, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(topo_fifo_refused, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(topo_symlink_refused, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(topo_oversized_refused, topo_setup, topo_teardown),
	};
	return aic_test_run(tests);
}

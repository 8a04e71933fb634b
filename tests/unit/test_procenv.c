/*
 * The per-process environment (lib/procenv.h): the rules every launcher
 * shares, pinned against the fixture topologies.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "fixture.h"
#include "procenv.h"
#include "strbuf.h"

/* A process on `gpus` (-1 ends the list), its CPUs and NUMA node, its NIC as the solver picks. */
static struct aic_proc proc(const struct aic_topo *t, const int *gpus, const char *cpus, int numa)
{
	struct aic_proc p;

	memset(&p, 0, sizeof(p));
	for (; *gpus >= 0; gpus++)
		p.gpus[p.n_gpus++] = *gpus;
	aic_cpuset_parse(&p.cpus, cpus);
	p.numa = numa;
	p.nic = p.n_gpus ? t->gpus[p.gpus[0]].nic : -1;
	return p;
}

/* The environment as one line, in its fixed order. */
static const char *env_line(const struct aic_procenv_in *in)
{
	static char buf[2048];
	char **env = NULL, **e;
	size_t o = 0;

	assert_int_equal(aic_procenv(in, &env), 0);
	assert_non_null(env);
	buf[0] = '\0';
	for (e = env; *e; e++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "", *e);
	aic_strv_free(env);
	return buf;
}

#define ALL                                                                                        \
	(AIC_PROCENV_PLACE | AIC_PROCENV_TOPO | AIC_PROCENV_CUDA_ORDINALS |                       \
	 AIC_PROCENV_CUDA_VISIBLE | AIC_PROCENV_NCCL)

/* HGX: one NIC per GPU behind its PCIe switch; a process gets its GPUs' rails, in GPU order. */
static void hgx_rails(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "hgx-h100-8gpu.xml");
	static const int one[] = {0, -1}, two[] = {5, 4, -1};
	struct aic_proc p = proc(t, one, "0-1,16-17", 0);
	struct aic_procenv_in in = {.topo = t, .proc = &p, .what = ALL};

	(void)state;
	assert_string_equal(env_line(&in),
			    "AIC_GPUS=0 AIC_GPU_BUSIDS=0000:18:00.0 CUDA_VISIBLE_DEVICES=0 "
			    "AIC_CUDA_DEVICES=0 AIC_NVLINK_PEERS=1,2,3,4,5,6,7 AIC_NUMA_NODE=0 "
			    "AIC_NIC=mlx5_0 AIC_CPUS=0-1,16-17 CUDA_DEVICE_ORDER=PCI_BUS_ID "
			    "NCCL_IB_HCA==mlx5_0");
	p = proc(t, two, "8-9", 1);
	in.what = AIC_PROCENV_PLACE | AIC_PROCENV_NCCL;
	assert_string_equal(env_line(&in), "AIC_GPUS=5,4 AIC_NUMA_NODE=1 AIC_NIC=mlx5_5 AIC_CPUS=8-9 "
					   "NCCL_IB_HCA==mlx5_5,mlx5_4");
	aic_topo_free(t);
}

/*
 * Only InfiniBand at a GPU's nearest class counts: on this PCIe box GPUs 0
 * and 1 are nearest an Ethernet NIC (mlx5_0 is across the sockets) and get
 * no hint; GPUs 6 and 7 share mlx5_0, listed once.
 */
static void pcie_nearest_only(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-8gpu-2socket.xml");
	static const int far[] = {0, 1, -1}, near[] = {6, 7, -1}, mixed[] = {0, 6, -1};
	struct aic_proc p = proc(t, far, "8", 1);
	struct aic_procenv_in in = {.topo = t, .proc = &p, .what = AIC_PROCENV_PLACE | AIC_PROCENV_NCCL};

	(void)state;
	assert_string_equal(env_line(&in), "AIC_GPUS=0,1 AIC_NUMA_NODE=1 AIC_NIC=eno1 AIC_CPUS=8");
	p = proc(t, near, "0", 0);
	assert_string_equal(env_line(&in),
			    "AIC_GPUS=6,7 AIC_NUMA_NODE=0 AIC_NIC=mlx5_0 AIC_CPUS=0 NCCL_IB_HCA==mlx5_0");
	p = proc(t, mixed, "0,8", -1);
	assert_string_equal(env_line(&in),
			    "AIC_GPUS=0,6 AIC_NUMA_NODE=-1 AIC_NIC=eno1 AIC_CPUS=0,8 NCCL_IB_HCA==mlx5_0");
	aic_topo_free(t);
}

/* A tie in path class goes to InfiniBand; NVLink peers are among the node's GPUs only. */
static void pcie_pairs(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	static const int g0[] = {0, -1}, node[] = {0, 1, 3};
	struct aic_proc p = proc(t, g0, "0-31", 0);
	struct aic_procenv_in in = {.topo = t, .proc = &p, .what = AIC_PROCENV_TOPO | AIC_PROCENV_NCCL};

	(void)state;
	assert_string_equal(env_line(&in),
			    "AIC_GPU_BUSIDS=0000:11:00.0 AIC_NVLINK_PEERS=2 NCCL_IB_HCA==mlx5_0");
	in.node_gpus = node;
	in.n_node_gpus = 3;
	assert_string_equal(env_line(&in), "AIC_GPU_BUSIDS=0000:11:00.0 AIC_NVLINK_PEERS= "
					   "NCCL_IB_HCA==mlx5_0");
	aic_topo_free(t);
}

/*
 * CUDA's view. SLURM's CUDA_VISIBLE_DEVICES follows SLURM_STEP_GPUS, renumbered
 * under device cgroups: GPU 3 of a step holding 2,3 is entry "1" there, and
 * ordinal 1; without renumbering, entry "3", still ordinal 1; with nothing
 * set, every GPU is visible and GPU 3 is ordinal 3.
 */
static void cuda_view(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	static const int g3[] = {3, -1}, step[] = {2, 3}, other[] = {1, -1};
	struct aic_proc p = proc(t, g3, "0", 0);
	struct aic_procenv_in in = {.topo = t,
				    .proc = &p,
				    .node_gpus = step,
				    .n_node_gpus = 2,
				    .visible = "0,1",
				    .what = AIC_PROCENV_CUDA_VISIBLE | AIC_PROCENV_CUDA_ORDINALS};

	(void)state;
	assert_string_equal(env_line(&in), "CUDA_VISIBLE_DEVICES=1 AIC_CUDA_DEVICES=1 "
					   "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	in.visible = "2,3";
	assert_string_equal(env_line(&in), "CUDA_VISIBLE_DEVICES=3 AIC_CUDA_DEVICES=1 "
					   "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	in.visible = NULL;
	assert_string_equal(env_line(&in), "CUDA_VISIBLE_DEVICES=3 AIC_CUDA_DEVICES=3 "
					   "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	/* Entries need not be numbers (GPU UUIDs), nor the list as long as the step's. */
	in.visible = "GPU-aa,GPU-bb";
	assert_string_equal(env_line(&in), "CUDA_VISIBLE_DEVICES=GPU-bb AIC_CUDA_DEVICES=1 "
					   "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	in.visible = "GPU-aa";
	assert_string_equal(env_line(&in), "CUDA_VISIBLE_DEVICES=3 AIC_CUDA_DEVICES= "
					   "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	/* A GPU not among the step's is named by its index, and is not visible. */
	p = proc(t, other, "0", 0);
	in.visible = "2,3";
	assert_string_equal(env_line(&in), "CUDA_VISIBLE_DEVICES=1 AIC_CUDA_DEVICES= "
					   "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	aic_topo_free(t);
}

/* No GPUs: empty lists, the placement's NIC, no NCCL hint; nothing asked for: an empty array. */
static void cpu_only(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "cpu-only.xml");
	static const int none[] = {-1};
	struct aic_proc p = proc(t, none, "2-3,6-7", 0);
	struct aic_procenv_in in = {.topo = t, .proc = &p, .what = ALL};
	char **env = NULL;

	(void)state;
	p.nic = 0;
	assert_string_equal(env_line(&in),
			    "AIC_GPUS= AIC_GPU_BUSIDS= CUDA_VISIBLE_DEVICES= AIC_CUDA_DEVICES= "
			    "AIC_NVLINK_PEERS= AIC_NUMA_NODE=0 AIC_NIC=eno1 AIC_CPUS=2-3,6-7 "
			    "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	in.what = 0;
	assert_int_equal(aic_procenv(&in, &env), 0);
	assert_non_null(env);
	assert_null(env[0]);
	aic_strv_free(env);
	aic_topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hgx_rails),
		cmocka_unit_test(pcie_nearest_only),
		cmocka_unit_test(pcie_pairs),
		cmocka_unit_test(cuda_view),
		cmocka_unit_test(cpu_only),
	};

	return aic_test_run(tests);
}

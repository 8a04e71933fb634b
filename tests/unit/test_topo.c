#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aic_test.h"
#include "error.h"
#include "topo.h"
#include "topo_json.h"

static char *fixture(const char *name)
{
	const char *src = getenv("AIC_SRC_DIR");
	static char path[4096];

	if (!strncmp(name, "shared:", 7))
		snprintf(path, sizeof(path), "%s/tests/fixtures/hwloc/%s", src ? src : ".",
			 name + 7);
	else
		snprintf(path, sizeof(path), "%s/tests/fixtures/topo/%s", src ? src : ".", name);
	return path;
}

static struct aic_topo *load(const char *name)
{
	struct aic_topo *t = NULL;
	char *errors = NULL;
	int rc = aic_topo_load_xml(fixture(name), &t, &errors);

	if (rc != 0)
		fprintf(stderr, "%s", errors ? errors : "no message\n");
	assert_int_equal(rc, 0);
	assert_null(errors);
	return t;
}

/* The link matrix as nvidia-smi prints it, one row per GPU. */
static char *matrix(const struct aic_topo *t)
{
	static char buf[8192];
	size_t o = 0, a, b;
	char l[8];

	buf[0] = '\0';
	for (a = 0; a < t->n_gpus; a++) {
		for (b = 0; b < t->n_gpus; b++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", b ? " " : "",
					      aic_link_name(aic_topo_link(t, a, b),
							    aic_topo_nvlinks(t, a, b), l, sizeof(l)));
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\n");
	}
	return buf;
}

static const char *cpus(const struct aic_cpuset *s)
{
	static char buf[256];
	return aic_cpuset_format(s, buf, sizeof(buf));
}

static void cpuset_ops(void **state)
{
	struct aic_cpuset a, b, c;
	char buf[64];

	(void)state;
	assert_int_equal(aic_cpuset_parse(&a, "0-3,8,10-11"), 0);
	assert_int_equal(aic_cpuset_count(&a), 7);
	assert_string_equal(aic_cpuset_format(&a, buf, sizeof(buf)), "0-3,8,10-11");
	assert_int_equal(aic_cpuset_parse(&b, "2-9"), 0);
	aic_cpuset_and(&c, &a, &b);
	assert_string_equal(aic_cpuset_format(&c, buf, sizeof(buf)), "2-3,8");
	aic_cpuset_or(&c, &a, &b);
	assert_string_equal(aic_cpuset_format(&c, buf, sizeof(buf)), "0-11");
	aic_cpuset_andnot(&c, &a, &b);
	assert_string_equal(aic_cpuset_format(&c, buf, sizeof(buf)), "0-1,10-11");
	assert_int_equal(aic_cpuset_first(&b), 2);
	assert_int_equal(aic_cpuset_next(&b, 9), -1);
	assert_int_equal(aic_cpuset_parse(&a, "1023"), 0);
	assert_int_equal(aic_cpuset_first(&a), 1023);
	assert_false(aic_cpuset_set(&a, 1024));
	assert_false(aic_cpuset_isset(&a, -1));
	assert_int_equal(aic_cpuset_parse(&a, ""), 0);
	assert_true(aic_cpuset_empty(&a));
	assert_string_equal(aic_cpuset_format(&a, buf, sizeof(buf)), "");
	assert_int_equal(aic_cpuset_parse(&a, "3-1"), -EINVAL);
	assert_int_equal(aic_cpuset_parse(&a, "1,,2"), -EINVAL);
	assert_int_equal(aic_cpuset_parse(&a, "x"), -EINVAL);
	assert_int_equal(aic_cpuset_parse(&a, "1024"), -EINVAL);
	assert_int_equal(aic_cpuset_parse(&a, "1-"), -EINVAL);
	/* Truncation never overruns: "0,2,4,..." into 8 bytes. */
	aic_cpuset_zero(&a);
	for (int i = 0; i < 40; i += 2)
		aic_cpuset_set(&a, i);
	assert_string_equal(aic_cpuset_format(&a, buf, 8), "0,2,4,6");
}

static void hgx_h100(void **state)
{
	struct aic_topo *t = load("hgx-h100-8gpu.xml");
	size_t i;

	(void)state;
	assert_string_equal(t->host, "hgx1");
	assert_int_equal(t->n_packages, 2);
	assert_int_equal(t->n_numa, 2);
	assert_int_equal(t->n_cores, 16);
	assert_string_equal(cpus(&t->cpus), "0-31");
	assert_int_equal(t->n_gpus, 8);
	assert_string_equal(t->gpus[0].busid, "0000:18:00.0");
	assert_string_equal(t->gpus[7].busid, "0000:db:00.0");
	assert_string_equal(t->gpus[0].model, "NVIDIA H100 80GB HBM3");
	for (i = 0; i < 8; i++) {
		assert_int_equal(t->gpus[i].index, (int)i);
		assert_int_equal(t->gpus[i].numa, i < 4 ? 0 : 1);
		assert_string_equal(cpus(&t->gpus[i].cpus), i < 4 ? "0-7,16-23" : "8-15,24-31");
		assert_true(t->gpus[i].nvswitch);
		/* Each GPU's NIC is the ConnectX on its own PCIe switch: mlx5_<i>. */
		assert_int_equal(t->nics[t->gpus[i].nic].kind, AIC_NIC_IB);
		assert_int_equal(t->gpu_nic[i * t->n_nics + (size_t)t->gpus[i].nic], AIC_LINK_PIX);
		char want[16];
		snprintf(want, sizeof(want), "mlx5_%zu", i);
		assert_string_equal(t->nics[t->gpus[i].nic].name, want);
	}
	assert_string_equal(matrix(t), "X NV18 NV18 NV18 NV18 NV18 NV18 NV18\n"
				       "NV18 X NV18 NV18 NV18 NV18 NV18 NV18\n"
				       "NV18 NV18 X NV18 NV18 NV18 NV18 NV18\n"
				       "NV18 NV18 NV18 X NV18 NV18 NV18 NV18\n"
				       "NV18 NV18 NV18 NV18 X NV18 NV18 NV18\n"
				       "NV18 NV18 NV18 NV18 NV18 X NV18 NV18\n"
				       "NV18 NV18 NV18 NV18 NV18 NV18 X NV18\n"
				       "NV18 NV18 NV18 NV18 NV18 NV18 NV18 X\n");
	assert_int_equal(t->n_nics, 10);
	assert_string_equal(t->nics[0].name, "eno1");
	assert_int_equal(t->nics[0].kind, AIC_NIC_ETH);
	assert_string_equal(t->nics[2].name, "mlx5_0");
	assert_string_equal(t->nics[2].ifname, "ibp25s0");
	assert_int_equal(t->nics[9].numa, 1);
	/* GPU 0 to the NIC of GPU 1 (same socket) and of GPU 4 (the other). */
	assert_int_equal(t->gpu_nic[0 * t->n_nics + 3], AIC_LINK_NODE);
	assert_int_equal(t->gpu_nic[0 * t->n_nics + 6], AIC_LINK_SYS);
	assert_int_equal(aic_topo_gpu_by_busid(t, "0000:5D:00.0"), 3);
	assert_int_equal(aic_topo_gpu_by_busid(t, "db:00.0"), 7);
	assert_int_equal(aic_topo_gpu_by_busid(t, "0000:19:00.0"), -1);
	aic_topo_free(t);
}

static void pcie_nvlink_pairs(void **state)
{
	struct aic_topo *t = load("pcie-4gpu-nvlink-pairs.xml");

	(void)state;
	assert_int_equal(t->n_gpus, 4);
	assert_string_equal(matrix(t), "X PIX NV4 NODE\n"
				       "PIX X NODE NV4\n"
				       "NV4 NODE X PIX\n"
				       "NODE NV4 PIX X\n");
	assert_false(t->gpus[0].nvswitch);
	/* NVLink outranks the PCIe switch neighbour. */
	assert_true(aic_topo_link_score(t, 0, 2) > aic_topo_link_score(t, 0, 1));
	assert_true(aic_topo_link_score(t, 0, 1) > aic_topo_link_score(t, 0, 3));
	/* The only IB NIC is behind GPU 2 and 3's switch; GPUs 0 and 1 still use it. */
	assert_string_equal(t->nics[t->gpus[0].nic].name, "mlx5_0");
	assert_string_equal(t->nics[t->gpus[2].nic].name, "mlx5_0");
	assert_int_equal(t->gpu_nic[2 * t->n_nics + 0], AIC_LINK_PIX);
	aic_topo_free(t);
}

static void pcie_8gpu_interleaved(void **state)
{
	struct aic_topo *t = load("pcie-8gpu-2socket.xml");
	static const int numa[8] = {1, 1, 0, 0, 1, 1, 0, 0};
	static const char *const bus[8] = {"0000:11:00.0", "0000:12:00.0", "0000:31:00.0",
					   "0000:32:00.0", "0000:51:00.0", "0000:52:00.0",
					   "0000:71:00.0", "0000:72:00.0"};
	size_t i;

	(void)state;
	for (i = 0; i < 8; i++) {
		assert_string_equal(t->gpus[i].busid, bus[i]);
		assert_int_equal(t->gpus[i].numa, numa[i]);
	}
	assert_string_equal(matrix(t), "X PIX SYS SYS NODE NODE SYS SYS\n"
				       "PIX X SYS SYS NODE NODE SYS SYS\n"
				       "SYS SYS X PIX SYS SYS NODE NODE\n"
				       "SYS SYS PIX X SYS SYS NODE NODE\n"
				       "NODE NODE SYS SYS X PIX SYS SYS\n"
				       "NODE NODE SYS SYS PIX X SYS SYS\n"
				       "SYS SYS NODE NODE SYS SYS X PIX\n"
				       "SYS SYS NODE NODE SYS SYS PIX X\n");
	/* Socket 1's GPUs get its Ethernet port, not the IB NIC across sockets. */
	assert_string_equal(t->nics[t->gpus[0].nic].name, "eno1");
	assert_string_equal(t->nics[t->gpus[2].nic].name, "mlx5_0");
	aic_topo_free(t);
}

static void cpu_only(void **state)
{
	struct aic_topo *t = load("cpu-only.xml");

	(void)state;
	assert_int_equal(t->n_gpus, 0);
	assert_int_equal(t->n_cores, 4);
	assert_string_equal(cpus(&t->cores[1].pus), "1,5");
	assert_int_equal(t->cores[1].numa, 0);
	assert_int_equal(t->n_nics, 1);
	aic_topo_free(t);
}

static void dgx2_nvswitch(void **state)
{
	struct aic_topo *t = load("shared:nvidiaDGX2.xml");
	size_t a, b;

	(void)state;
	/* No HostName in the file: the node is named after it. */
	assert_string_equal(t->host, "nvidiaDGX2");
	assert_int_equal(t->n_gpus, 16);
	assert_string_equal(t->gpus[0].model, "Tesla V100-SXM3-32GB-H");
	for (a = 0; a < 16; a++) {
		assert_true(t->gpus[a].nvswitch);
		assert_int_equal(t->gpus[a].numa, a < 8 ? 0 : 1);
		for (b = 0; b < 16; b++)
			if (a != b) {
				assert_int_equal(aic_topo_link(t, a, b), AIC_LINK_NV);
				assert_int_equal(aic_topo_nvlinks(t, a, b), 6);
			}
	}
	assert_int_equal(t->n_nics, 0);
	assert_int_equal(t->gpus[0].nic, -1);
	aic_topo_free(t);
}

static void power8_nvlink(void **state)
{
	struct aic_topo *t = load("shared:power8gpudistances.xml");

	(void)state;
	assert_string_equal(matrix(t), "X NV2 SYS SYS\n"
				       "NV2 X SYS SYS\n"
				       "SYS SYS X NV2\n"
				       "SYS SYS NV2 X\n");
	assert_string_equal(t->gpus[2].busid, "000a:01:00.0");
	aic_topo_free(t);
}

static void pcie_fermi(void **state)
{
	struct aic_topo *t = load("shared:24em64t-2n6c2t-pci.xml");

	(void)state;
	/* Bare PCI GPUs without OS devices, listed out of order in the tree. */
	assert_int_equal(t->n_gpus, 3);
	assert_string_equal(t->gpus[1].busid, "0000:11:00.0");
	assert_string_equal(t->gpus[2].busid, "0000:14:00.0");
	assert_string_equal(t->gpus[0].model, "NVIDIA [10de:06d2]");
	assert_string_equal(matrix(t), "X SYS SYS\nSYS X PHB\nSYS PHB X\n");
	/* The ConnectX-2 has class 0c06 but an OpenFabrics device: it is IB. */
	assert_string_equal(t->nics[2].name, "mlx4_0");
	assert_int_equal(t->nics[2].kind, AIC_NIC_IB);
	assert_string_equal(t->nics[t->gpus[0].nic].name, "mlx4_0");
	aic_topo_free(t);
}

static void normalio(void **state)
{
	struct aic_topo *t = load("shared:32em64t-2n8c2t-pci-normalio.xml");

	(void)state;
	assert_int_equal(t->n_gpus, 3);
	assert_string_equal(t->gpus[2].model, "Tesla K40m");
	assert_string_equal(matrix(t), "X SYS SYS\nSYS X PHB\nSYS PHB X\n");
	assert_string_equal(t->nics[0].name, "mlx5_0");
	assert_string_equal(t->nics[0].ifname, "ib0");
	aic_topo_free(t);
}

static void unresolvable_locality(void **state)
{
	struct aic_topo *t = load("shared:64intel64-3g2n+2n-irregulargroups+pci.xml");

	(void)state;
	/* GPUs under packages whose CPUs are all disallowed: NUMA unknown. */
	assert_int_equal(t->n_gpus, 2);
	assert_int_equal(t->gpus[0].numa, -1);
	assert_true(aic_cpuset_empty(&t->gpus[0].cpus));
	assert_string_equal(cpus(&t->cpus), "0-15");
	assert_int_equal(t->n_cores, 16);
	aic_topo_free(t);
}

static void load_errors(void **state)
{
	struct aic_topo *t = (struct aic_topo *)1;
	char *errors = NULL;
	char path[] = "/tmp/aic-test-topo-XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(aic_topo_load_xml("/nonexistent.xml", &t, &errors), -ENOENT);
	assert_null(t);
	assert_string_equal(errors,
			    "aic: cannot read topology '/nonexistent.xml': No such file or directory\n");
	free(errors);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "<topology>garbage", 17), 17);
	close(fd);
	assert_int_equal(aic_topo_load_xml(path, &t, &errors), AIC_ETOPO);
	assert_null(t);
	assert_non_null(strstr(errors, path));
	free(errors);
	unlink(path);
}

/* Points lib/nvml.c at the fake NVML with fixture `file` (NULL: unset both). */
static void fake_nvml(const char *file)
{
	char lib[4096], fix[4096];

	if (!file) {
		unsetenv("AIC_NVML_LIBRARY");
		unsetenv("AIC_FAKE_NVML");
		return;
	}
	snprintf(lib, sizeof(lib), "%s/tests/fake/.libs/libfake_nvml.so", getenv("AIC_BUILD_DIR"));
	snprintf(fix, sizeof(fix), "%s/tests/fixtures/nvml/%s", getenv("AIC_SRC_DIR"), file);
	setenv("AIC_NVML_LIBRARY", lib, 1);
	setenv("AIC_FAKE_NVML", fix, 1);
}

/* hwloc without its NVML backend: NVSwitch links come from NVML. */
static void nvml_switch_fabric(void **state)
{
	struct aic_topo *t;

	(void)state;
	t = load("hgx-h100-8gpu-no-nvml.xml");
	assert_int_equal(aic_topo_link(t, 0, 7), AIC_LINK_SYS);
	assert_false(t->gpus[0].nvswitch);
	aic_topo_free(t);

	fake_nvml("hgx-switch.txt");
	t = load("hgx-h100-8gpu-no-nvml.xml");
	fake_nvml(NULL);
	assert_string_equal(matrix(t), "X NV18 NV18 NV18 NV18 NV18 NV18 NV18\n"
				       "NV18 X NV18 NV18 NV18 NV18 NV18 NV18\n"
				       "NV18 NV18 X NV18 NV18 NV18 NV18 NV18\n"
				       "NV18 NV18 NV18 X NV18 NV18 NV18 NV18\n"
				       "NV18 NV18 NV18 NV18 X NV18 NV18 NV18\n"
				       "NV18 NV18 NV18 NV18 NV18 X NV18 NV18\n"
				       "NV18 NV18 NV18 NV18 NV18 NV18 X NV18\n"
				       "NV18 NV18 NV18 NV18 NV18 NV18 NV18 X\n");
	assert_true(t->gpus[3].nvswitch);
	aic_topo_free(t);
}

/* NVLink bridges that only NVML knows about; a link to a CPU is not a GPU link. */
static void nvml_bridges(void **state)
{
	struct aic_topo *t;

	(void)state;
	fake_nvml("pcie8-bridges.txt");
	t = load("pcie-8gpu-2socket.xml");
	fake_nvml(NULL);
	assert_string_equal(matrix(t), "X NV3 SYS SYS NODE NODE SYS SYS\n"
				       "NV3 X SYS SYS NODE NODE SYS SYS\n"
				       "SYS SYS X NV3 SYS SYS NODE NODE\n"
				       "SYS SYS NV3 X SYS SYS NODE NODE\n"
				       "NODE NODE SYS SYS X NV3 SYS SYS\n"
				       "NODE NODE SYS SYS NV3 X SYS SYS\n"
				       "SYS SYS NODE NODE SYS SYS X NV3\n"
				       "SYS SYS NODE NODE SYS SYS NV3 X\n");
	assert_false(t->gpus[2].nvswitch);
	aic_topo_free(t);
}

/* hwloc's own NVLink matrix wins; a missing NVML library is no error. */
static void nvml_absent_or_unneeded(void **state)
{
	struct aic_topo *t;

	(void)state;
	/*
	 * The NVML fixture bridges 0000:11:00.0 and 0000:12:00.0 with 3 links,
	 * GPUs 0 and 1 here, which hwloc's matrix leaves on their PCIe switch:
	 * consulted, NVML would turn their PIX into NV3.
	 */
	fake_nvml("pcie8-bridges.txt");
	t = load("pcie-4gpu-nvlink-pairs.xml");
	assert_string_equal(matrix(t), "X PIX NV4 NODE\n"
				       "PIX X NODE NV4\n"
				       "NV4 NODE X PIX\n"
				       "NODE NV4 PIX X\n");
	assert_int_equal(aic_topo_nvlinks(t, 0, 2), 4);
	assert_int_equal(aic_topo_nvlinks(t, 0, 1), 0);
	aic_topo_free(t);
	setenv("AIC_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
	t = load("pcie-8gpu-2socket.xml");
	assert_int_equal(aic_topo_link(t, 0, 1), AIC_LINK_PIX);
	aic_topo_free(t);
	/* The fake without a fixture fails nvmlInit_v2, like a node without a driver. */
	fake_nvml("pcie8-bridges.txt");
	unsetenv("AIC_FAKE_NVML");
	t = load("pcie-8gpu-2socket.xml");
	assert_int_equal(aic_topo_link(t, 0, 1), AIC_LINK_PIX);
	aic_topo_free(t);
	fake_nvml(NULL);
}

/* Every fixture survives the trip to JSON and back (what agents send the head). */
static void json_round_trip(void **state)
{
	static const char *const names[] = {
		"hgx-h100-8gpu.xml", "pcie-4gpu-nvlink-pairs.xml", "pcie-8gpu-2socket.xml", "cpu-only.xml",
		"shared:nvidiaDGX2.xml", "shared:power8gpudistances.xml", "shared:24em64t-2n6c2t-pci.xml",
		"shared:64intel64-3g2n+2n-irregulargroups+pci.xml"};
	size_t i, g, c;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct aic_topo *a = load(names[i]), *b = NULL;
		json_t *j = aic_topo_to_json(a);
		char *ma;
		assert_non_null(j);
		assert_int_equal(aic_topo_from_json(j, &b), 0);
		json_decref(j);
		assert_string_equal(a->host, b->host);
		assert_true(aic_cpuset_equal(&a->cpus, &b->cpus));
		assert_int_equal(a->n_cores, b->n_cores);
		for (c = 0; c < a->n_cores; c++) {
			assert_true(aic_cpuset_equal(&a->cores[c].pus, &b->cores[c].pus));
			assert_int_equal(a->cores[c].numa, b->cores[c].numa);
		}
		assert_int_equal(a->n_numa, b->n_numa);
		assert_int_equal(a->n_nics, b->n_nics);
		assert_int_equal(a->n_gpus, b->n_gpus);
		for (g = 0; g < a->n_gpus; g++) {
			assert_string_equal(a->gpus[g].busid, b->gpus[g].busid);
			assert_int_equal(a->gpus[g].numa, b->gpus[g].numa);
			assert_int_equal(a->gpus[g].nic, b->gpus[g].nic);
			assert_true(aic_cpuset_equal(&a->gpus[g].cpus, &b->gpus[g].cpus));
		}
		assert_memory_equal(a->gpu_nic, b->gpu_nic, a->n_gpus * a->n_nics * sizeof(*a->gpu_nic));
		ma = strdup(matrix(a));
		assert_string_equal(ma, matrix(b));
		free(ma);
		aic_topo_free(a);
		aic_topo_free(b);
	}
}

static void json_rejects_garbage(void **state)
{
	struct aic_topo *t = (struct aic_topo *)1;
	json_t *j = json_pack("{s:s,s:s,s:[{s:s}]}", "host", "x", "cpus", "0-3", "gpus", "busid", "1");

	(void)state;
	assert_int_equal(aic_topo_from_json(j, &t), AIC_ETOPO);
	assert_null(t);
	json_decref(j);
}

static void live(void **state)
{
	struct aic_topo *t = NULL;
	char *errors = NULL;

	(void)state;
	assert_int_equal(aic_topo_load_live(&t, &errors), 0);
	assert_true(t->n_cores >= 1);
	assert_true(aic_cpuset_count(&t->cpus) >= 1);
	assert_true(t->host[0] != '\0');
	aic_topo_free(t);
	aic_topo_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpuset_ops),
		cmocka_unit_test(hgx_h100),
		cmocka_unit_test(pcie_nvlink_pairs),
		cmocka_unit_test(pcie_8gpu_interleaved),
		cmocka_unit_test(cpu_only),
		cmocka_unit_test(dgx2_nvswitch),
		cmocka_unit_test(power8_nvlink),
		cmocka_unit_test(pcie_fermi),
		cmocka_unit_test(normalio),
		cmocka_unit_test(unresolvable_locality),
		cmocka_unit_test(load_errors),
		cmocka_unit_test(nvml_switch_fabric),
		cmocka_unit_test(nvml_bridges),
		cmocka_unit_test(nvml_absent_or_unneeded),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(json_rejects_garbage),
		cmocka_unit_test(live),
	};
	return aic_test_run(tests);
}

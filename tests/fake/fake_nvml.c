/*
 * A fake NVML for tests: the entry points lib/nvml.c uses, answering from a
 * text fixture instead of a GPU driver. AIC_FAKE_NVML names the fixture;
 * each line is
 *
 *     BUSID LINK REMOTE-BUSID gpu|switch|cpu
 *
 * (an active NVLink link LINK of the GPU at BUSID, and what is at its other
 * end), or
 *
 *     BUSID usage UTIL USED-MIB TOTAL-MIB
 *
 * (what nvmlDeviceGetUtilizationRates and nvmlDeviceGetMemoryInfo answer
 * for it); '#' starts a comment. A GPU is known to the fake when it has a line.
 * Without AIC_FAKE_NVML, nvmlInit_v2 fails as it does on a machine with no
 * driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK 0
#define ERROR_UNINITIALIZED 1
#define ERROR_INVALID_ARGUMENT 2
#define ERROR_NOT_FOUND 6
#define ERROR_DRIVER_NOT_LOADED 9

struct link {
	char busid[32];
	unsigned link;
	char remote[24];
	int type; /* NVML: 0 GPU, 1 IBMNPU (a CPU), 2 switch */
};

struct pci_info {
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
};

static struct link links[1024];
static size_t n_links;
static char gpus[64][32];
static size_t n_gpus;
static struct {
	unsigned util;
	unsigned long long used, total; /* bytes */
} usage[64];

/* Handles are GPU numbers plus one, so that NULL is never a handle. */
static size_t gpu_of(void *dev)
{
	return (size_t)(unsigned long)dev - 1;
}

int nvmlInit_v2(void);
int nvmlShutdown(void);
int nvmlDeviceGetHandleByPciBusId_v2(const char *busid, void **dev);
int nvmlDeviceGetNvLinkState(void *dev, unsigned int link, int *active);
int nvmlDeviceGetNvLinkRemotePciInfo_v2(void *dev, unsigned int link, struct pci_info *pci);
int nvmlDeviceGetNvLinkRemoteDeviceType(void *dev, unsigned int link, int *type);
int nvmlDeviceGetUtilizationRates(void *dev, unsigned int *u);
int nvmlDeviceGetMemoryInfo(void *dev, unsigned long long *m);

/* The GPU of that bus id, added if new; n_gpus when there is no room. */
static size_t gpu_add(const char *busid)
{
	size_t i;

	for (i = 0; i < n_gpus && strcmp(gpus[i], busid); i++)
		;
	if (i == n_gpus && n_gpus < 64)
		snprintf(gpus[n_gpus++], sizeof(gpus[0]), "%s", busid);
	return i;
}

int nvmlInit_v2(void)
{
	const char *path = getenv("AIC_FAKE_NVML");
	char line[256];
	FILE *f;

	n_links = n_gpus = 0;
	if (!path || !(f = fopen(path, "r")))
		return ERROR_DRIVER_NOT_LOADED;
	memset(usage, 0, sizeof(usage));
	while (fgets(line, sizeof(line), f) && n_links < 1024) {
		struct link *l = &links[n_links];
		char type[16], busid[32];
		unsigned util;
		unsigned long long used, total;
		size_t g;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%31s usage %u %llu %llu", busid, &util, &used, &total) == 4) {
			g = gpu_add(busid);
			if (g < 64) {
				usage[g].util = util;
				usage[g].used = used << 20;
				usage[g].total = total << 20;
			}
			continue;
		}
		if (sscanf(line, "%31s %u %23s %15s", l->busid, &l->link, l->remote, type) != 4)
			continue;
		l->type = !strcmp(type, "gpu") ? 0 : !strcmp(type, "cpu") ? 1 : 2;
		gpu_add(l->busid);
		n_links++;
	}
	fclose(f);
	return OK;
}

int nvmlShutdown(void)
{
	return OK;
}

int nvmlDeviceGetHandleByPciBusId_v2(const char *busid, void **dev)
{
	size_t i;

	for (i = 0; i < n_gpus; i++)
		/* NVML accepts both "0000:18:00.0" and "00000000:18:00.0". */
		if (!strcmp(gpus[i], busid) || (strlen(busid) == 16 && !strcmp(gpus[i], busid + 4))) {
			*dev = (void *)(unsigned long)(i + 1);
			return OK;
		}
	return ERROR_NOT_FOUND;
}

static struct link *find(void *dev, unsigned int link)
{
	size_t i, g = gpu_of(dev);

	if (g >= n_gpus)
		return NULL;
	for (i = 0; i < n_links; i++)
		if (!strcmp(links[i].busid, gpus[g]) && links[i].link == link)
			return &links[i];
	return NULL;
}

int nvmlDeviceGetNvLinkState(void *dev, unsigned int link, int *active)
{
	if (gpu_of(dev) >= n_gpus)
		return ERROR_INVALID_ARGUMENT;
	*active = find(dev, link) != NULL;
	return OK;
}

int nvmlDeviceGetNvLinkRemotePciInfo_v2(void *dev, unsigned int link, struct pci_info *pci)
{
	struct link *l = find(dev, link);

	if (!l)
		return ERROR_INVALID_ARGUMENT;
	memset(pci, 0, sizeof(*pci));
	/* NVML's long form: an 8-digit domain. */
	snprintf(pci->bus_id, sizeof(pci->bus_id), "0000%s", l->remote);
	return OK;
}

int nvmlDeviceGetNvLinkRemoteDeviceType(void *dev, unsigned int link, int *type)
{
	struct link *l = find(dev, link);

	if (!l)
		return ERROR_INVALID_ARGUMENT;
	*type = l->type;
	return OK;
}

/* nvmlUtilization_t: {gpu, memory} percent. */
int nvmlDeviceGetUtilizationRates(void *dev, unsigned int *u)
{
	size_t g = gpu_of(dev);

	if (g >= n_gpus)
		return ERROR_INVALID_ARGUMENT;
	u[0] = usage[g].util;
	u[1] = 0;
	return OK;
}

/* nvmlMemory_t: {total, free, used} bytes. */
int nvmlDeviceGetMemoryInfo(void *dev, unsigned long long *m)
{
	size_t g = gpu_of(dev);

	if (g >= n_gpus)
		return ERROR_INVALID_ARGUMENT;
	m[0] = usage[g].total;
	m[1] = usage[g].total - usage[g].used;
	m[2] = usage[g].used;
	return OK;
}

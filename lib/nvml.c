/*
 * NVLink discovery through NVML (see nvml.h).
 *
 * NVML's headers are not needed: the few entry points used here have had a
 * stable C ABI since NVML 10 and are declared below. A remote end is a GPU
 * when its PCI bus id is one of ours, and an NVSwitch when NVML says so (or
 * cannot say: an unknown remote end on a GPU system is the switch fabric).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nvml.h"

#define NVML_SUCCESS 0
#define NVML_NVLINK_MAX_LINKS 18
#define NVML_NVLINK_DEVICE_TYPE_SWITCH 2

typedef void *nvml_device;

struct nvml_pci_info {
	char bus_id_legacy[16];
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pci_device_id;
	unsigned int pci_subsystem_id;
	char bus_id[32];
};

struct nvml_utilization {
	unsigned int gpu, memory; /* percent of the last sample period */
};

struct nvml_memory {
	unsigned long long total, free, used; /* bytes */
};

struct nvml {
	void *dl;
	int (*init)(void);
	int (*shutdown)(void);
	int (*by_busid)(const char *busid, nvml_device *dev);
	int (*link_state)(nvml_device dev, unsigned int link, int *active);
	int (*remote_pci)(nvml_device dev, unsigned int link, struct nvml_pci_info *pci);
	int (*remote_type)(nvml_device dev, unsigned int link, int *type); /* may be NULL */
	/* GPU use (aic__nvml_usage); either may be NULL. */
	int (*utilization)(nvml_device dev, struct nvml_utilization *u);
	int (*memory)(nvml_device dev, struct nvml_memory *mem);
};

/* NVML writes bus ids as "00000000:18:00.0"; ours are "0000:18:00.0". */
static bool same_busid(const char *x, const char *y)
{
	unsigned a[4], b[4];

	return sscanf(x, "%x:%x:%x.%x", &a[0], &a[1], &a[2], &a[3]) == 4 &&
	       sscanf(y, "%x:%x:%x.%x", &b[0], &b[1], &b[2], &b[3]) == 4 && !memcmp(a, b, sizeof(a));
}

static int load(struct nvml *m, const char *library)
{
	m->dl = dlopen(library ? library : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!m->dl)
		return AIC_ENOLIB;
	*(void **)&m->init = dlsym(m->dl, "nvmlInit_v2");
	*(void **)&m->shutdown = dlsym(m->dl, "nvmlShutdown");
	*(void **)&m->by_busid = dlsym(m->dl, "nvmlDeviceGetHandleByPciBusId_v2");
	*(void **)&m->link_state = dlsym(m->dl, "nvmlDeviceGetNvLinkState");
	*(void **)&m->remote_pci = dlsym(m->dl, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
	*(void **)&m->remote_type = dlsym(m->dl, "nvmlDeviceGetNvLinkRemoteDeviceType");
	*(void **)&m->utilization = dlsym(m->dl, "nvmlDeviceGetUtilizationRates");
	*(void **)&m->memory = dlsym(m->dl, "nvmlDeviceGetMemoryInfo");
	if (!m->init || !m->shutdown || !m->by_busid || !m->link_state || !m->remote_pci ||
	    m->init() != NVML_SUCCESS) {
		dlclose(m->dl);
		return AIC_ENOLIB;
	}
	return 0;
}

int aic__nvml_links(const char *library, const char *const *busids, size_t n, int *direct,
		    int *via_switch)
{
	struct nvml m = {0};
	size_t a, b;
	int rc;

	rc = load(&m, library);
	if (rc)
		return rc;
	for (a = 0; a < n; a++) {
		nvml_device dev;
		unsigned int link;
		if (m.by_busid(busids[a], &dev) != NVML_SUCCESS)
			continue;
		for (link = 0; link < NVML_NVLINK_MAX_LINKS; link++) {
			struct nvml_pci_info pci;
			int active = 0, type = -1;
			bool peer = false;
			if (m.link_state(dev, link, &active) != NVML_SUCCESS || !active)
				continue;
			if (m.remote_pci(dev, link, &pci) != NVML_SUCCESS)
				continue;
			pci.bus_id[sizeof(pci.bus_id) - 1] = '\0';
			for (b = 0; b < n; b++)
				if (b != a && same_busid(pci.bus_id, busids[b])) {
					direct[a * n + b]++;
					peer = true;
					break;
				}
			if (peer)
				continue;
			if (m.remote_type && m.remote_type(dev, link, &type) == NVML_SUCCESS &&
			    type != NVML_NVLINK_DEVICE_TYPE_SWITCH)
				continue; /* a CPU (POWER NPU) or an unknown end */
			via_switch[a]++;
		}
	}
	m.shutdown();
	dlclose(m.dl);
	return 0;
}

struct aic_nvml {
	struct nvml m;
};

struct aic_nvml *aic__nvml_open(const char *library)
{
	struct aic_nvml *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (load(&n->m, library) != 0) {
		free(n);
		return NULL;
	}
	if (!n->m.utilization || !n->m.memory) {
		n->m.shutdown();
		dlclose(n->m.dl);
		free(n);
		return NULL;
	}
	return n;
}

void aic__nvml_close(struct aic_nvml *n)
{
	if (!n)
		return;
	n->m.shutdown();
	dlclose(n->m.dl);
	free(n);
}

int aic__nvml_usage(struct aic_nvml *n, const char *busid, unsigned *util, unsigned long long *used,
		    unsigned long long *total)
{
	struct nvml_utilization u;
	struct nvml_memory mem;
	nvml_device dev;

	if (n->m.by_busid(busid, &dev) != NVML_SUCCESS ||
	    n->m.utilization(dev, &u) != NVML_SUCCESS || n->m.memory(dev, &mem) != NVML_SUCCESS)
		return -ENOENT;
	*util = u.gpu;
	*used = mem.used;
	*total = mem.total;
	return 0;
}

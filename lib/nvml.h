/*
 * NVLink discovery and GPU use through NVML, loaded with dlopen at run time
 * so that one build runs on GPU and CPU-only nodes. Internal to libaic and
 * the engine: topo.c calls aic__nvml_links when hwloc reported no NVLink
 * for a machine that has NVIDIA GPUs; the agents sample GPU use for the
 * job's metrics (launcher/engine/events.c).
 */
#ifndef AIC_NVML_H
#define AIC_NVML_H

#include <stddef.h>

/*
 * Counts active NVLink links for the n GPUs whose PCI bus ids are given:
 * direct[a * n + b] links from GPU a to GPU b, and via_switch[a] links from
 * GPU a to NVSwitches. `library` is the NVML library to load (NULL:
 * libnvidia-ml.so.1). Returns 0, AIC_ENOLIB when NVML cannot be loaded or
 * initialised, or -ENOMEM. The arrays are caller-allocated and zeroed.
 */
int aic__nvml_links(const char *library, const char *const *busids, size_t n, int *direct,
		    int *via_switch);

struct aic_nvml;

/*
 * NVML loaded and initialised for aic__nvml_usage (library: as above), or
 * NULL when it cannot be (no driver, or a library without the entry
 * points). aic__nvml_close(NULL) is a no-op.
 */
struct aic_nvml *aic__nvml_open(const char *library);
void aic__nvml_close(struct aic_nvml *m);

/*
 * The GPU at busid now: *util its utilisation in percent over NVML's last
 * sample period, *used and *total its memory in bytes. Returns 0, or
 * -ENOENT when NVML does not know that GPU or cannot say.
 */
int aic__nvml_usage(struct aic_nvml *m, const char *busid, unsigned *util, unsigned long long *used,
		    unsigned long long *total);

#endif

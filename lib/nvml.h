/*
 * NVLink discovery through NVML, loaded with dlopen at run time so that one
 * build runs on GPU and CPU-only nodes. Internal to libaic: topo.c calls it
 * when hwloc reported no NVLink for a machine that has NVIDIA GPUs.
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

#endif

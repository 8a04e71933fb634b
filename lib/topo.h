/*
 * The topology model: what one node has that placement cares about. CPUs
 * (cores and their PUs, NUMA nodes), NVIDIA GPUs with their PCI bus ids,
 * NUMA node and local CPUs, NICs with their locality, and for every GPU pair
 * a link class like `nvidia-smi topo -m` (NV#, PIX, PXB, PHB, NODE, SYS).
 *
 * A struct aic_topo is plain data: once loaded (from hwloc, live or from an
 * XML file) nothing in it refers to hwloc, so the placement solver, the
 * plugins and the engine can copy, compare and send it freely.
 *
 * NVLink comes from hwloc's "NVLinkBandwidth" distances matrix in either of
 * its two forms: GPU-GPU bandwidth (bridged pairs, POWER), or GPU-NVSwitch
 * links with GPU-GPU zero (NVSwitch systems, where every GPU pair connected
 * to the switches is linked by the smaller of their switch bandwidths).
 * When hwloc has no such matrix (its NVML backend is optional; Debian's
 * hwloc lacks it), NVML itself is asked through dlopen, for the live
 * machine, or for an XML file when AIC_NVML_LIBRARY names the library.
 * Without either, GPU pairs get their PCIe class.
 */
#ifndef AIC_TOPO_H
#define AIC_TOPO_H

#include <stdbool.h>
#include <stddef.h>

#include "cpuset.h"

/* GPU-GPU (and GPU-NIC) link classes, best first. */
enum aic_link {
	AIC_LINK_SELF = 0,
	AIC_LINK_NV,   /* NVLink: direct or through NVSwitch */
	AIC_LINK_PIX,  /* at most one PCIe switch */
	AIC_LINK_PXB,  /* several PCIe switches, no host bridge */
	AIC_LINK_PHB,  /* a PCIe host bridge */
	AIC_LINK_NODE, /* host bridges within one NUMA node */
	AIC_LINK_SYS,  /* the interconnect between NUMA nodes */
};

/* "X", "NV4", "PIX", ... as nvidia-smi prints them; buf needs 8 bytes. */
const char *aic_link_name(enum aic_link link, int nvlinks, char *buf, size_t len);

struct aic_core {
	int os_index;		/* the core's number */
	int numa;		/* NUMA node os index, or -1 */
	struct aic_cpuset pus;	/* its hardware threads */
};

struct aic_numa {
	int os_index;
	struct aic_cpuset cpus;
};

struct aic_gpu {
	int index;	       /* position in PCI bus id order (CUDA_DEVICE_ORDER=PCI_BUS_ID) */
	char busid[16];	       /* "0000:18:00.0" */
	char model[64];	       /* "NVIDIA H100 80GB HBM3", or "NVIDIA [10de:2330]" */
	int numa;	       /* NUMA node os index, or -1 when not known */
	struct aic_cpuset cpus; /* PUs local to the GPU (may be empty: locality unknown) */
	int nic;	       /* index of the nearest NIC, or -1 */
	bool nvswitch;	       /* linked to an NVSwitch fabric */
};

enum aic_nic_kind {
	AIC_NIC_IB,  /* has an OpenFabrics device (InfiniBand or RoCE): NCCL_IB_HCA */
	AIC_NIC_ETH, /* a network interface only: NCCL_SOCKET_IFNAME */
};

struct aic_nic {
	char name[32];	  /* "mlx5_0" for IB, the interface ("eno1") otherwise */
	char ifname[32];  /* network interface, "" when none */
	char busid[16];
	enum aic_nic_kind kind;
	int numa;
};

struct aic_topo {
	char host[64]; /* node name: hwloc's HostName info, or as set by the caller */
	size_t n_packages;
	size_t n_numa;
	struct aic_numa *numa;
	size_t n_cores;
	struct aic_core *cores; /* in os_index order */
	struct aic_cpuset cpus; /* every allowed PU */
	size_t n_gpus;
	struct aic_gpu *gpus; /* in PCI bus id order */
	size_t n_nics;
	struct aic_nic *nics; /* in PCI bus id order */
	enum aic_link *link;  /* n_gpus * n_gpus, link[a * n_gpus + b] */
	int *nvlinks;	      /* n_gpus * n_gpus: NVLink count for AIC_LINK_NV, else 0 */
	enum aic_link *gpu_nic; /* n_gpus * n_nics: GPU to NIC link class */
};

/*
 * Loads the topology in the hwloc XML file at `path` (aic_topo_load_live
 * when path is NULL). Returns 0 and a new topology in *out (free with
 * aic_topo_free), or a negative code with *errors set to a malloc'ed
 * message (when errors is not NULL): -ENOENT, AIC_ETOPO for a file hwloc
 * rejects, AIC_ENOSUPPORT in a build without hwloc.
 */
int aic_topo_load_xml(const char *path, struct aic_topo **out, char **errors);

/*
 * The same from the hwloc XML text in buf: len bytes followed by a NUL at
 * buf[len] (the caller's, unchanged). `name` stands for the file in
 * messages and names the node when the XML has no HostName. For a caller
 * that must open the file itself (the SPANK plugin, as root).
 */
int aic_topo_load_xml_buffer(const char *buf, size_t len, const char *name, struct aic_topo **out,
			     char **errors);

/* Discovers this machine's topology with hwloc. Same contract. */
int aic_topo_load_live(struct aic_topo **out, char **errors);

/* Frees a topology; NULL is a no-op. */
void aic_topo_free(struct aic_topo *topo);

static inline enum aic_link aic_topo_link(const struct aic_topo *t, size_t a, size_t b)
{
	return t->link[a * t->n_gpus + b];
}

static inline int aic_topo_nvlinks(const struct aic_topo *t, size_t a, size_t b)
{
	return t->nvlinks[a * t->n_gpus + b];
}

/*
 * A score for how well GPUs a and b are linked: higher is better. NVLink
 * beats every PCIe path and more links beat fewer; PCIe classes order as
 * PIX > PXB > PHB > NODE > SYS.
 */
int aic_topo_link_score(const struct aic_topo *t, size_t a, size_t b);

/* The GPU with this PCI bus id (any case, with or without domain), or -1. */
int aic_topo_gpu_by_busid(const struct aic_topo *t, const char *busid);

#endif

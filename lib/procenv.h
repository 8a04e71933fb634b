/*
 * The per-process environment: what a placed process is told about its
 * share of a node (its GPUs, CPUs, NUMA node and NICs) and how CUDA and
 * NCCL should see them. One derivation for every launcher: the engine's
 * head (AIC_* and NCCL in a SPAWN), its agents (CUDA_VISIBLE_DEVICES) and
 * the SPANK plugin's tasks, so the rules cannot drift apart. A pure
 * function over a topology and a placement: no sockets, no SLURM, no
 * globals.
 *
 * The rules:
 *  - GPUs are topology indices, which are in PCI bus id order, as
 *    nvidia-smi, gres.conf and CUDA_DEVICE_ORDER=PCI_BUS_ID number them
 *    (so CUDA_DEVICE_ORDER=PCI_BUS_ID is always set).
 *  - SLURM's CUDA_VISIBLE_DEVICES for a node lists its GPUs in the order
 *    of SLURM_STEP_GPUS (`node_gpus`), renumbered under device cgroups: a
 *    GPU's entry is the one at its position in `node_gpus`; without either
 *    list, the GPU's own index. A process that sees only its GPUs gets
 *    those entries as its CUDA_VISIBLE_DEVICES; one that sees the node's
 *    (SPANK tasks) gets AIC_CUDA_DEVICES, each GPU's CUDA ordinal: the
 *    position of its entry in CUDA_VISIBLE_DEVICES (its index when unset),
 *    what to pass to torch.cuda.set_device.
 *  - NCCL_IB_HCA ("=" then exact names) lists, for each of the process's
 *    GPUs in turn, every InfiniBand/RoCE NIC at that GPU's nearest path
 *    class (the class of the topology's nearest NIC for it), in PCI order,
 *    each once: a GPU behind a PCIe switch with its NICs uses those, as
 *    rail-optimised clusters expect. A GPU whose nearest NIC is Ethernet
 *    adds none; a process without GPUs gets no NCCL_IB_HCA.
 *  - AIC_NIC and AIC_NUMA_NODE are the placement's (struct aic_proc).
 */
#ifndef AIC_PROCENV_H
#define AIC_PROCENV_H

#include <stddef.h>

#include "place.h"
#include "topo.h"

/* Which variables aic_procenv() makes (OR them). */
enum {
	/* AIC_GPUS, AIC_NUMA_NODE, AIC_NIC, AIC_CPUS: the placement. */
	AIC_PROCENV_PLACE = 1 << 0,
	/* AIC_GPU_BUSIDS and AIC_NVLINK_PEERS (the node's other GPUs NVLinked to one of its). */
	AIC_PROCENV_TOPO = 1 << 1,
	/* AIC_CUDA_DEVICES and CUDA_DEVICE_ORDER: for a process that sees every GPU of the node. */
	AIC_PROCENV_CUDA_ORDINALS = 1 << 2,
	/* CUDA_VISIBLE_DEVICES (its GPUs only) and CUDA_DEVICE_ORDER. */
	AIC_PROCENV_CUDA_VISIBLE = 1 << 3,
	/* NCCL_IB_HCA, when its GPUs have InfiniBand NICs near them. */
	AIC_PROCENV_NCCL = 1 << 4,
};

struct aic_procenv_in {
	const struct aic_topo *topo;
	/* The process: its GPUs (topology indices), CPUs, NUMA node and NIC. */
	const struct aic_proc *proc;
	/* The GPUs the job has on this node, in SLURM's order; NULL: all of topo's. */
	const int *node_gpus;
	size_t n_node_gpus;
	/* CUDA_VISIBLE_DEVICES as SLURM set it for node_gpus; NULL: unset. */
	const char *visible;
	unsigned what; /* AIC_PROCENV_* */
};

/*
 * The variables `in->what` asks for, in a fixed order (AIC_GPUS,
 * AIC_GPU_BUSIDS, CUDA_VISIBLE_DEVICES, AIC_CUDA_DEVICES, AIC_NVLINK_PEERS,
 * AIC_NUMA_NODE, AIC_NIC, AIC_CPUS, CUDA_DEVICE_ORDER, NCCL_IB_HCA), as a
 * malloc'ed NULL-terminated array of malloc'ed "NAME=VALUE" strings in
 * *env (free with aic_strv_free). Returns 0, or -ENOMEM with *env NULL.
 */
int aic_procenv(const struct aic_procenv_in *in, char ***env);

#endif

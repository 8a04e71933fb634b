/*
 * NCCL for weight broadcasts between GPUs, loaded at run time: one build
 * runs on GPU nodes and on CPU-only ones. The library is
 * $AIC_NCCL_LIBRARY when set, else libnccl.so.2; streams are synchronized
 * with libcuda.so.1's cuStreamSynchronize when libcuda can be loaded.
 *
 * Only the handful of NCCL entry points aic needs are used, through their
 * stable C ABI (NCCL 2.x); no NCCL or CUDA header is needed to build.
 */
#ifndef AIC_NCCL_H
#define AIC_NCCL_H

#include <stddef.h>

/* ncclUniqueId: what every rank needs to join a communicator. */
struct aic_nccl_id {
	char bytes[128];
};

/*
 * Loads NCCL once (thread-unsafe, first call only). Returns 0, or
 * AIC_ENOLIB with the loader's reason in aic_nccl_error().
 */
int aic_nccl_load(void);

/* The last failure's text (the loader's, or NCCL's error string). */
const char *aic_nccl_error(void);

/* ncclGetUniqueId (rank 0, before the others join). */
int aic_nccl_unique_id(struct aic_nccl_id *id);

/* ncclCommInitRank: blocks until all nranks have joined. */
int aic_nccl_comm_init(void **comm, int nranks, const struct aic_nccl_id *id, int rank);

void aic_nccl_comm_destroy(void *comm);

/*
 * Broadcasts `bytes` from root's buf to every other rank's buf (device
 * memory; one buffer each, NCCL's in-place form) on `stream` (a
 * cudaStream_t, NULL for the default stream), and waits for it.
 */
int aic_nccl_broadcast(void *comm, void *buf, size_t bytes, int root, void *stream);

#endif

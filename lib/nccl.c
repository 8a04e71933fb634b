/*
 * NCCL through dlopen (see nccl.h). The entry points and their types are
 * NCCL 2's public C ABI: ncclResult_t is an int (0: success), ncclComm_t
 * and cudaStream_t are pointers, ncclUint8 is data type 1.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nccl.h"

#define NCCL_UINT8 1

static struct {
	void *dl, *cuda;
	int (*get_unique_id)(struct aic_nccl_id *id);
	int (*comm_init_rank)(void **comm, int nranks, struct aic_nccl_id id, int rank);
	int (*comm_destroy)(void *comm);
	int (*broadcast)(const void *send, void *recv, size_t count, int type, int root, void *comm,
			 void *stream);
	const char *(*error_string)(int result);
	int (*stream_sync)(void *stream); /* cuStreamSynchronize, when libcuda is there */
	char error[512];
} nccl;

const char *aic_nccl_error(void)
{
	return nccl.error;
}

int aic_nccl_load(void)
{
	const char *lib = getenv("AIC_NCCL_LIBRARY");

	if (nccl.broadcast)
		return 0;
	if (!nccl.dl)
		nccl.dl = dlopen(lib && *lib ? lib : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!nccl.dl) {
		snprintf(nccl.error, sizeof(nccl.error), "NCCL is not available: %s", dlerror());
		return AIC_ENOLIB;
	}
	*(void **)&nccl.get_unique_id = dlsym(nccl.dl, "ncclGetUniqueId");
	*(void **)&nccl.comm_init_rank = dlsym(nccl.dl, "ncclCommInitRank");
	*(void **)&nccl.comm_destroy = dlsym(nccl.dl, "ncclCommDestroy");
	*(void **)&nccl.error_string = dlsym(nccl.dl, "ncclGetErrorString");
	*(void **)&nccl.broadcast = dlsym(nccl.dl, "ncclBroadcast");
	if (!nccl.get_unique_id || !nccl.comm_init_rank || !nccl.comm_destroy ||
	    !nccl.error_string || !nccl.broadcast) {
		snprintf(nccl.error, sizeof(nccl.error), "%s lacks an NCCL 2 entry point",
			 lib && *lib ? lib : "libnccl.so.2");
		nccl.broadcast = NULL;
		return AIC_ENOLIB;
	}
	/* Without libcuda (a test double), broadcasts are complete when they return. */
	nccl.cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (nccl.cuda)
		*(void **)&nccl.stream_sync = dlsym(nccl.cuda, "cuStreamSynchronize");
	return 0;
}

static int failed(const char *what, int result)
{
	snprintf(nccl.error, sizeof(nccl.error), "%s: %s", what,
		 nccl.error_string ? nccl.error_string(result) : "unknown NCCL error");
	return AIC_ENCCL;
}

int aic_nccl_unique_id(struct aic_nccl_id *id)
{
	int r = aic_nccl_load();

	if (r)
		return r;
	r = nccl.get_unique_id(id);
	return r ? failed("ncclGetUniqueId", r) : 0;
}

int aic_nccl_comm_init(void **comm, int nranks, const struct aic_nccl_id *id, int rank)
{
	int r = aic_nccl_load();

	if (r)
		return r;
	r = nccl.comm_init_rank(comm, nranks, *id, rank);
	return r ? failed("ncclCommInitRank", r) : 0;
}

void aic_nccl_comm_destroy(void *comm)
{
	if (comm && nccl.comm_destroy)
		nccl.comm_destroy(comm);
}

int aic_nccl_broadcast(void *comm, void *buf, size_t bytes, int root, void *stream)
{
	int r = aic_nccl_load();

	if (r)
		return r;
	r = nccl.broadcast(buf, buf, bytes, NCCL_UINT8, root, comm, stream);
	if (r)
		return failed("ncclBroadcast", r);
	if (nccl.stream_sync && (r = nccl.stream_sync(stream)) != 0) {
		snprintf(nccl.error, sizeof(nccl.error), "cuStreamSynchronize: CUDA error %d", r);
		return AIC_ENCCL;
	}
	return 0;
}

/*
 * Weights on GPUs (aic.h): NCCL broadcasts from the writer's device memory
 * into every reader's, with only a small descriptor going through the
 * engine as an ordinary weight version. lib/nccl.c loads NCCL; this file
 * is the groups (AIC_WEIGHTS_NCCL) and their communicators.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* AIC_WEIGHTS_NCCL: "stream:rank:nranks[,...]". */
void aic__nccl_groups_parse(struct aic_worker *w, const char *v)
{
	while (v && *v && w->n_nccl < MAX_NCCL_GROUPS) {
		struct nccl_group *g = &w->nccl[w->n_nccl];
		int used = 0;
		if (sscanf(v, "%63[^:,]:%d:%d%n", g->stream, &g->rank, &g->nranks, &used) != 3 ||
		    g->rank < 0 || g->nranks < 1 || g->rank >= g->nranks)
			return;
		w->n_nccl++;
		v += used;
		if (*v == ',')
			v++;
	}
}

void aic__nccl_groups_release(struct aic_worker *w)
{
	for (int i = 0; i < w->n_nccl; i++)
		aic_nccl_comm_destroy(w->nccl[i].comm);
}

/*
 * The descriptor each version carries through the engine: magic, group
 * size, bytes, the communicator's id. A reader whose communicator has
 * another id (the writer restarted, or this is the first version) joins
 * the new one before the broadcast.
 */
#define NCCL_MAGIC "AICNCCL1"
#define NCCL_DESC (8 + 4 + 8 + sizeof(struct aic_nccl_id))

static struct nccl_group *nccl_group(struct aic_worker *w, const char *name)
{
	int i;

	for (i = 0; i < w->n_nccl; i++)
		if (!strcmp(w->nccl[i].stream, name))
			return &w->nccl[i];
	return NULL;
}

int aic_weights_nccl_publish(struct aic_worker *w, const char *name, void *dev, size_t len,
			     uint64_t version, void *stream)
{
	struct nccl_group *g = nccl_group(w, name);
	uint8_t desc[NCCL_DESC];
	bool join;
	int rc;

	if (!g || g->rank != 0)
		return -EPERM;
	rc = aic_nccl_load();
	if (rc)
		return rc;
	join = !g->comm;
	if (join && (rc = aic_nccl_unique_id(&g->id)) != 0)
		return rc;
	memcpy(desc, NCCL_MAGIC, 8);
	aic_put_u32(desc + 8, (uint32_t)g->nranks);
	aic_put_u64(desc + 12, len);
	memcpy(desc + 20, g->id.bytes, sizeof(g->id.bytes));
	rc = aic_weights_publish(w, name, desc, sizeof(desc), version);
	if (!rc && join)
		rc = aic_nccl_comm_init(&g->comm, g->nranks, &g->id, 0);
	if (!rc)
		rc = aic_nccl_broadcast(g->comm, dev, len, 0, stream);
	if (rc && g->comm) {
		/* A failed collective leaves the communicator unusable: the next version starts a new one. */
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
	}
	return rc;
}

int aic_weights_nccl_receive(struct aic_worker *w, const char *name, void *dev, size_t cap,
			     uint64_t min_version, int timeout_ms, size_t *len, uint64_t *version,
			     void *stream)
{
	struct nccl_group *g = nccl_group(w, name);
	struct aic_nccl_id id;
	const void *blob;
	const uint8_t *d;
	size_t n;
	uint64_t bytes;
	int rc;

	if (!g || g->rank == 0)
		return -EPERM;
	rc = aic_nccl_load();
	if (rc)
		return rc;
	rc = aic_weights_receive(w, name, min_version, timeout_ms, &blob, &n, version);
	if (rc)
		return rc;
	d = blob;
	if (n != NCCL_DESC || memcmp(d, NCCL_MAGIC, 8) || aic_get_u32(d + 8) != (uint32_t)g->nranks)
		return AIC_EPROTO; /* not published over NCCL, or for another group */
	bytes = aic_get_u64(d + 12);
	memcpy(id.bytes, d + 20, sizeof(id.bytes));
	if (g->comm && memcmp(id.bytes, g->id.bytes, sizeof(id.bytes))) {
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
	}
	if (!g->comm) {
		g->id = id;
		rc = aic_nccl_comm_init(&g->comm, g->nranks, &g->id, g->rank);
		if (rc)
			return rc;
	}
	/*
	 * Too large for the caller's buffer: this reader leaves the group, so the
	 * writer's broadcast fails too (NCCL has no way to take part without a
	 * buffer); sizes are the job's own contract.
	 */
	if (bytes > cap) {
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
		return -EMSGSIZE;
	}
	rc = aic_nccl_broadcast(g->comm, dev, (size_t)bytes, 0, stream);
	if (rc) {
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
		return rc;
	}
	*len = (size_t)bytes;
	return 0;
}

const char *aic_nccl_last_error(void)
{
	return aic_nccl_error();
}


/*
 * The node's shared-memory arena: how a channel item moves between
 * processes of one node without its payload being copied through a socket.
 *
 * The agent creates one memfd per job on its node and maps it; every worker
 * it starts inherits the descriptor (AIC_ARENA="FD:OFFSET:SIZE" names the
 * worker's region) and maps the whole arena. The arena is cut into regions
 * of equal size: region 0 is the agent's (items pulled from other nodes),
 * region k is the k-th process slot's. Each region is a ring of blocks with
 * exactly one allocator, the region's owner; anyone who later gives a block
 * up (the agent, once the item is acked) marks it free with one atomic
 * store, and the owner reclaims freed blocks in ring order the next time it
 * allocates. So a put is one memcpy into the producer's own ring plus a
 * small frame naming the offset, and a consumer on the same node reads the
 * payload where the producer wrote it.
 *
 * The ring's head and tail live in the region's header, not in the owner's
 * memory: a restarted worker continues its predecessor's ring, whose blocks
 * may still be in flight to consumers. Any block (a producer died between
 * allocating and putting) that nothing references can be freed by the agent
 * with aic_ring_sweep once the region has no owner.
 *
 * When a ring is full, or an item is larger than a quarter of it, callers
 * send the payload inline instead: the arena is a fast path, never a limit.
 */
#ifndef AIC_ARENA_H
#define AIC_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Region size and alignment; a region's ring starts after its 64-byte header. */
#define AIC_ARENA_ALIGN 64
#define AIC_ARENA_RING_HEADER 64
/*
 * Items from this size on go through the arena (a worker's puts, an agent's
 * pulled items); smaller ones are cheaper to copy through the socket or heap.
 */
#define AIC_ARENA_MIN_BYTES 4096

/* Writable views an attached arena keeps at most (aic_arena_view): two slots of two streams. */
#define AIC_ARENA_VIEWS 4

struct aic_arena {
	int fd;
	uint8_t *base;
	size_t size;	    /* whole arena */
	size_t region_size; /* each region */
	/* aic_arena_view's: page-aligned arena offset, length, mapping (NULL: none). */
	struct aic_arena_view {
		uint64_t off;
		size_t len;
		uint8_t *map;
	} views[AIC_ARENA_VIEWS];
	unsigned next_view; /* the one a new view replaces when all are taken */
};

/*
 * Creates (memfd, close-on-exec) and maps an arena of n regions followed by
 * `extra` bytes (a multiple of region_size: weight slots, which the agent
 * manages itself). Returns 0 or -errno.
 */
int aic_arena_create(struct aic_arena *a, unsigned n_regions, size_t region_size, size_t extra);

/*
 * Makes [off, off + len) of an attached arena writable (true) or read-only
 * again: a worker writing a weight version into the slot its agent gave it.
 * Returns 0 or -errno.
 */
int aic_arena_protect(struct aic_arena *a, uint64_t off, size_t len, bool writable);

/*
 * A writable view of [off, off + len) of an attached arena, at another
 * address than its read-only mapping, for the library's own copy of a
 * weight version into the slot its agent gave it: the mapping the caller
 * sees stays read-only, and the view keeps its pages mapped writable from
 * one version to the next, so a copy costs no mprotect (making 48 MiB
 * writable and read-only again takes longer than copying them). The view
 * stays until aic_arena_detach, at most AIC_ARENA_VIEWS of them (a new one
 * replaces the oldest). Returns its address for off, or NULL when it cannot
 * be made (then the caller uses aic_arena_protect).
 */
uint8_t *aic_arena_view(struct aic_arena *a, uint64_t off, size_t len);

/* Gives the pages of [off, off + len) back to the system (the agent, for a slot no one uses). */
void aic_arena_discard(struct aic_arena *a, uint64_t off, size_t len);

/*
 * Maps an arena from an AIC_ARENA value "FD:OFFSET:SIZE" (the whole arena is
 * fd's size); *region is set to OFFSET. Returns 0 or -errno (-EINVAL for a
 * malformed value).
 */
int aic_arena_attach(struct aic_arena *a, const char *spec, size_t *region);

void aic_arena_detach(struct aic_arena *a);

/*
 * Allocates a block of len bytes in the ring of the region at offset region
 * (only its owner may call this). Returns the arena offset of the block's
 * payload, or 0 when the ring has no room for it now.
 */
uint64_t aic_ring_alloc(struct aic_arena *a, size_t region, size_t len);

/* Gives a block back (anyone). */
void aic_ring_free(struct aic_arena *a, uint64_t off);

/*
 * Waiting for room: aic_ring_frees() counts the blocks of a region given
 * back so far; aic_ring_wait() (the owner, after an allocation failed)
 * sleeps until that count differs from `seen` or timeout_ms pass (a futex
 * in the region's header, woken by aic_ring_free in any process). Returns
 * whether a block was given back.
 */
uint32_t aic_ring_frees(const struct aic_arena *a, size_t region);
bool aic_ring_wait(struct aic_arena *a, size_t region, uint32_t seen, int timeout_ms);
/*
 * Checks that [off, off + len) is a live block's payload inside the region at
 * offset region, no longer than the block was allocated for: what the agent
 * asks of an offset a worker sent it.
 */
bool aic_ring_valid(const struct aic_arena *a, size_t region, uint64_t off, size_t len);

/*
 * Frees every allocated block of the region for which keep(off, arg) is
 * false: the agent's cleanup once the region's owner has gone. Only while
 * nobody owns the region.
 */
void aic_ring_sweep(struct aic_arena *a, size_t region, bool (*keep)(uint64_t off, void *arg),
		    void *arg);

/* Bytes the region's ring holds now (allocated and not yet reclaimed). */
size_t aic_ring_used(const struct aic_arena *a, size_t region);

#endif

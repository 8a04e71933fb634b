/*
 * The node's shared-memory arena (see arena.h).
 *
 * A region: a 64-byte header {head, tail} (byte positions that only grow;
 * the ring offset is position % capacity), then the ring. A block: a
 * 64-byte header {size, state} then the payload, so payloads are 64-byte
 * aligned. A block that would cross the ring's end is preceded by a free
 * padding block up to the end. Headers are shared memory that other
 * processes of the job could scribble on: every size read from one is
 * checked before it is used, and a bad one makes the ring refuse to
 * allocate (callers then send inline) instead of walking off the region.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

enum { BLOCK_FREE = 0, BLOCK_USED = 1 };

struct ring_header {
	_Atomic uint64_t head, tail;
	/* Blocks given back so far, and owners waiting for one (a futex word and its waiters). */
	_Atomic uint32_t frees, waiters;
};

struct block_header {
	uint32_t size; /* whole block, header included, a multiple of 64 */
	_Atomic uint32_t state;
	uint32_t len; /* the payload's length, as allocated */
};

_Static_assert(sizeof(struct ring_header) <= AIC_ARENA_RING_HEADER, "ring header");
_Static_assert(sizeof(struct block_header) <= AIC_ARENA_ALIGN, "block header");

static struct ring_header *ring(const struct aic_arena *a, size_t region)
{
	return (struct ring_header *)(void *)(a->base + region);
}

static size_t capacity(const struct aic_arena *a)
{
	return a->region_size - AIC_ARENA_RING_HEADER;
}

static struct block_header *block_at(const struct aic_arena *a, size_t region, uint64_t pos)
{
	return (struct block_header *)(void *)(a->base + region + AIC_ARENA_RING_HEADER +
					       pos % capacity(a));
}

int aic_arena_create(struct aic_arena *a, unsigned n_regions, size_t region_size, size_t extra)
{
	size_t size = (size_t)n_regions * region_size + extra;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	if (n_regions == 0 || region_size < 4 * AIC_ARENA_RING_HEADER ||
	    region_size % AIC_ARENA_ALIGN || extra % region_size)
		return -EINVAL;
	a->fd = memfd_create("aic-arena", MFD_CLOEXEC);
	if (a->fd < 0)
		return -errno;
	/* Pages are allocated when first written: an idle region costs nothing. */
	if (ftruncate(a->fd, (off_t)size) != 0)
		goto fail;
	a->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
	if (a->base == MAP_FAILED) {
		a->base = NULL;
		goto fail;
	}
	a->size = size;
	a->region_size = region_size;
	return 0;
fail: {
	int e = -errno;
	close(a->fd);
	a->fd = -1;
	return e;
}
}

int aic_arena_attach(struct aic_arena *a, const char *spec, size_t *region)
{
	unsigned long long off, rsize;
	struct stat st;
	char tail;
	int fd, e;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	if (!spec || sscanf(spec, "%d:%llu:%llu%c", &fd, &off, &rsize, &tail) != 3 || fd < 0 ||
	    rsize < 4 * AIC_ARENA_RING_HEADER || rsize % AIC_ARENA_ALIGN || off % rsize)
		return -EINVAL;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_size <= 0 || (unsigned long long)st.st_size < off + rsize ||
	    (unsigned long long)st.st_size % rsize)
		return -EINVAL;
	/* Everything readable (consumers read other producers' items in place), ... */
	a->base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (a->base == MAP_FAILED) {
		a->base = NULL;
		return -errno;
	}
	/* ... only this worker's own region writable. */
	if (mmap(a->base + off, (size_t)rsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)off) == MAP_FAILED) {
		e = -errno;
		munmap(a->base, (size_t)st.st_size);
		a->base = NULL;
		return e;
	}
	/* The mapping keeps the memory; the inherited descriptor is not needed. */
	close(fd);
	a->size = (size_t)st.st_size;
	a->region_size = (size_t)rsize;
	*region = (size_t)off;
	return 0;
}

static size_t page_round(size_t n, bool up)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return up ? (n + pg - 1) / pg * pg : n / pg * pg;
}

int aic_arena_protect(struct aic_arena *a, uint64_t off, size_t len, bool writable)
{
	size_t start = page_round(off, false), end;

	if (!a->base || off > a->size || len > a->size - off)
		return -EINVAL;
	end = page_round(off + len, true);
	if (mprotect(a->base + start, end - start, writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
		return -errno;
	return 0;
}

uint8_t *aic_arena_view(struct aic_arena *a, uint64_t off, size_t len)
{
	struct aic_arena_view *v = NULL;
	size_t start, end;
	void *m;
	unsigned i;

	if (!a->base || len == 0 || off > a->size || len > a->size - off)
		return NULL;
	start = page_round(off, false);
	end = page_round(off + len, true);
	for (i = 0; i < AIC_ARENA_VIEWS; i++) {
		struct aic_arena_view *w = &a->views[i];
		if (w->map && w->off <= start && w->off + w->len >= end)
			return w->map + (off - w->off);
		if (w->map && w->off == start)
			v = w; /* the same slot, now longer: this view grows */
	}
	if (!v)
		v = &a->views[a->next_view++ % AIC_ARENA_VIEWS];
	if (v->map)
		munmap(v->map, v->len);
	v->map = NULL;
	/*
	 * A second mapping of the same pages (mremap of a shared mapping with
	 * old size 0), without its file descriptor, which the arena does not
	 * keep; then made writable while no page of it is mapped yet, which
	 * costs nothing.
	 */
	m = mremap(a->base + start, 0, end - start, MREMAP_MAYMOVE);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m, end - start, PROT_READ | PROT_WRITE) != 0) {
		munmap(m, end - start);
		return NULL;
	}
	v->map = m;
	v->off = start;
	v->len = end - start;
	return v->map + (off - start);
}

void aic_arena_discard(struct aic_arena *a, uint64_t off, size_t len)
{
	size_t start = page_round(off, true), end;

	if (!a->base || a->fd < 0 || off > a->size || len > a->size - off)
		return;
	end = page_round(off + len, false);
	if (end > start)
		fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start,
			  (off_t)(end - start));
}

void aic_arena_detach(struct aic_arena *a)
{
	unsigned i;

	for (i = 0; i < AIC_ARENA_VIEWS; i++)
		if (a->views[i].map)
			munmap(a->views[i].map, a->views[i].len);
	if (a->base)
		munmap(a->base, a->size);
	if (a->fd >= 0)
		close(a->fd);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

/* The size of the block at pos, or 0 when its header is not a sane block there. */
static uint32_t block_size(const struct aic_arena *a, size_t region, uint64_t pos)
{
	uint32_t size = block_at(a, region, pos)->size;
	size_t off = pos % capacity(a);

	if (size < AIC_ARENA_ALIGN || size % AIC_ARENA_ALIGN || size > capacity(a) - off)
		return 0;
	return size;
}

/* Moves the tail over blocks given back. Returns false for a corrupt ring. */
static bool reclaim(struct aic_arena *a, size_t region)
{
	struct ring_header *r = ring(a, region);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t size;

	if (head < tail || head - tail > capacity(a) || tail % AIC_ARENA_ALIGN)
		return false;
	while (tail < head) {
		if (atomic_load_explicit(&block_at(a, region, tail)->state, memory_order_acquire) !=
		    BLOCK_FREE)
			break;
		if (!(size = block_size(a, region, tail)) || size > head - tail)
			return false;
		tail += size;
	}
	atomic_store_explicit(&r->tail, tail, memory_order_relaxed);
	return true;
}

static void put_block(struct aic_arena *a, size_t region, uint64_t pos, uint32_t size,
		      uint32_t state, uint32_t len)
{
	struct block_header *b = block_at(a, region, pos);

	b->size = size;
	b->len = len;
	atomic_store_explicit(&b->state, state, memory_order_relaxed);
}

uint64_t aic_ring_alloc(struct aic_arena *a, size_t region, size_t len)
{
	struct ring_header *r;
	size_t cap = capacity(a), need, off;
	uint64_t head, tail;

	if (!a->base || region % a->region_size || region >= a->size || len > cap / 4)
		return 0;
	need = (AIC_ARENA_ALIGN + len + AIC_ARENA_ALIGN - 1) & ~(size_t)(AIC_ARENA_ALIGN - 1);
	if (!reclaim(a, region))
		return 0;
	r = ring(a, region);
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (head == tail && head % cap) {
		/*
		 * Empty: start over at the ring's beginning, so a ring that is
		 * drained between bursts keeps reusing the same (cached, resident)
		 * memory instead of touching all of it in turn.
		 */
		head = tail = head + (cap - head % cap);
		atomic_store_explicit(&r->tail, tail, memory_order_relaxed);
	}
	off = head % cap;
	if (off + need > cap) {
		/* Never split a block at the end: pad to it and start over at 0. */
		if (head + (cap - off) + need - tail > cap)
			return 0;
		put_block(a, region, head, (uint32_t)(cap - off), BLOCK_FREE, 0);
		head += cap - off;
		off = 0;
	}
	if (head + need - tail > cap) {
		atomic_store_explicit(&r->head, head, memory_order_release);
		return 0;
	}
	put_block(a, region, head, (uint32_t)need, BLOCK_USED, (uint32_t)len);
	atomic_store_explicit(&r->head, head + need, memory_order_release);
	return region + AIC_ARENA_RING_HEADER + off + AIC_ARENA_ALIGN;
}

void aic_ring_free(struct aic_arena *a, uint64_t off)
{
	struct block_header *b;
	struct ring_header *r;

	if (!a->base || off < AIC_ARENA_RING_HEADER + AIC_ARENA_ALIGN || off >= a->size)
		return;
	b = (struct block_header *)(void *)(a->base + off - AIC_ARENA_ALIGN);
	atomic_store_explicit(&b->state, BLOCK_FREE, memory_order_release);
	/* The owner may be waiting for room (aic_ring_wait): one syscall then, none otherwise. */
	r = ring(a, off / a->region_size * a->region_size);
	atomic_fetch_add(&r->frees, 1);
	if (atomic_load(&r->waiters))
		syscall(SYS_futex, &r->frees, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

uint32_t aic_ring_frees(const struct aic_arena *a, size_t region)
{
	if (!a->base || region % a->region_size || region >= a->size)
		return 0;
	return atomic_load(&ring(a, region)->frees);
}

bool aic_ring_wait(struct aic_arena *a, size_t region, uint32_t seen, int timeout_ms)
{
	struct ring_header *r;
	struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
	bool freed;

	if (!a->base || region % a->region_size || region >= a->size)
		return false;
	r = ring(a, region);
	atomic_fetch_add(&r->waiters, 1);
	/* Returns at once when a block was given back since `seen` (the word differs). */
	if (atomic_load(&r->frees) == seen)
		syscall(SYS_futex, &r->frees, FUTEX_WAIT, seen, &ts, NULL, 0);
	freed = atomic_load(&r->frees) != seen;
	atomic_fetch_sub(&r->waiters, 1);
	return freed;
}

bool aic_ring_valid(const struct aic_arena *a, size_t region, uint64_t off, size_t len)
{
	const struct block_header *b;
	uint64_t start = region + AIC_ARENA_RING_HEADER + AIC_ARENA_ALIGN;
	uint32_t size;

	if (!a->base || region % a->region_size || region >= a->size || off < start ||
	    off >= region + a->region_size || (off - start) % AIC_ARENA_ALIGN)
		return false;
	b = (const struct block_header *)(const void *)(a->base + off - AIC_ARENA_ALIGN);
	size = b->size;
	return atomic_load_explicit(&b->state, memory_order_acquire) == BLOCK_USED &&
	       len <= b->len && size >= AIC_ARENA_ALIGN + len &&
	       off - AIC_ARENA_ALIGN + size <= region + a->region_size;
}

void aic_ring_sweep(struct aic_arena *a, size_t region, bool (*keep)(uint64_t off, void *arg),
		    void *arg)
{
	struct ring_header *r;
	uint64_t head, pos;
	uint32_t size;

	if (!a->base || region % a->region_size || region >= a->size || !reclaim(a, region))
		return;
	r = ring(a, region);
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	for (pos = atomic_load_explicit(&r->tail, memory_order_relaxed); pos < head; pos += size) {
		struct block_header *b = block_at(a, region, pos);
		if (!(size = block_size(a, region, pos)) || size > head - pos)
			return;
		if (atomic_load_explicit(&b->state, memory_order_acquire) == BLOCK_USED &&
		    !keep(region + AIC_ARENA_RING_HEADER + pos % capacity(a) + AIC_ARENA_ALIGN, arg))
			atomic_store_explicit(&b->state, BLOCK_FREE, memory_order_release);
	}
	reclaim(a, region);
}

size_t aic_ring_used(const struct aic_arena *a, size_t region)
{
	const struct ring_header *r;

	if (!a->base || region % a->region_size || region >= a->size)
		return 0;
	r = ring(a, region);
	return (size_t)(atomic_load_explicit(&r->head, memory_order_relaxed) -
			atomic_load_explicit(&r->tail, memory_order_relaxed));
}

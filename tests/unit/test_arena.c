/*
 * lib/arena.c: the ring allocator of the node's shared-memory arena, a
 * second process that attaches by AIC_ARENA the way a worker does, and the
 * writable views such a process copies weight versions through.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aic_test.h"
#include "arena.h"

#define REGION (1u << 20) /* small regions, so the tests fill and wrap them */
#define CAP (REGION - AIC_ARENA_RING_HEADER)

static void alloc_free_reuse(void **state)
{
	struct aic_arena a;
	uint64_t x, y;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 3, REGION, 0), 0);
	x = aic_ring_alloc(&a, REGION, 1000);
	y = aic_ring_alloc(&a, REGION, 5000);
	/* In region 1, after its header and the block header, 64-byte aligned. */
	assert_int_equal(x, REGION + AIC_ARENA_RING_HEADER + AIC_ARENA_ALIGN);
	assert_int_equal(y % AIC_ARENA_ALIGN, 0);
	assert_true(y > x + 1000 && y < 2 * REGION);
	assert_true(aic_ring_valid(&a, REGION, x, 1000));
	assert_false(aic_ring_valid(&a, REGION, x, 2000));  /* longer than its block */
	assert_false(aic_ring_valid(&a, REGION, x, 1001));  /* longer than allocated, though it fits */
	assert_false(aic_ring_valid(&a, 0, x, 1000));	    /* another region's */
	assert_false(aic_ring_valid(&a, REGION, x + 64, 8)); /* not a block's start */
	assert_int_equal(aic_ring_used(&a, REGION), 1088 + 5120); /* 64-byte headers, rounded up */
	aic_ring_free(&a, x);
	assert_false(aic_ring_valid(&a, REGION, x, 1000)); /* freed */
	aic_ring_free(&a, y);
	/* Freed blocks come back once the owner allocates again. */
	assert_true(aic_ring_alloc(&a, REGION, 10) != 0);
	assert_int_equal(aic_ring_used(&a, REGION), 128);
	aic_arena_detach(&a);
}

static void full_then_wraps(void **state)
{
	struct aic_arena a;
	uint64_t blk[8], z;
	size_t quarter = (CAP / 4) & ~(size_t)(AIC_ARENA_ALIGN - 1), i;
	size_t len = quarter - AIC_ARENA_ALIGN; /* a block of exactly `quarter` bytes */

	(void)state;
	assert_int_equal(aic_arena_create(&a, 2, REGION, 0), 0);
	assert_int_equal(aic_ring_alloc(&a, 0, CAP / 4 + 1), 0); /* over a quarter: inline */
	for (i = 0; i < 4; i++)
		assert_true((blk[i] = aic_ring_alloc(&a, 0, len)) != 0);
	/* Full: what is left (CAP - 4 quarters) is too little for 200 bytes and a header. */
	assert_true(CAP - 4 * quarter < 264);
	assert_int_equal(aic_ring_alloc(&a, 0, 200), 0);
	/* Out of order: freeing the second does not help until the first goes. */
	aic_ring_free(&a, blk[1]);
	assert_int_equal(aic_ring_alloc(&a, 0, 200), 0);
	aic_ring_free(&a, blk[0]);
	z = aic_ring_alloc(&a, 0, len);
	assert_int_equal(z, blk[0]); /* wrapped to the start */
	/* Blocks 2, 3, the padding before the end and z at 0 are in the ring: fill it in order. */
	aic_ring_free(&a, blk[2]);
	assert_int_equal(aic_ring_alloc(&a, 0, len), blk[1]);
	aic_ring_free(&a, blk[3]);
	assert_int_equal(aic_ring_alloc(&a, 0, len), blk[2]);
	assert_int_equal(aic_ring_alloc(&a, 0, len), blk[3]);
	assert_int_equal(aic_ring_alloc(&a, 0, len), 0); /* full: z still holds the start */
	/* A block that does not fit before the end pads to it and starts at 0. */
	aic_ring_free(&a, z);
	assert_int_equal(aic_ring_alloc(&a, 0, len), blk[0]);
	aic_arena_detach(&a);
}

static void empty_ring_starts_over(void **state)
{
	struct aic_arena a;
	uint64_t b0, b1, b2;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 2, REGION, 0), 0);
	b0 = aic_ring_alloc(&a, 0, 5000);
	b1 = aic_ring_alloc(&a, 0, 5000);
	aic_ring_free(&a, b0);
	aic_ring_free(&a, b1);
	/* Drained: the next block reuses the start (warm memory), not the next place. */
	b2 = aic_ring_alloc(&a, 0, 100);
	assert_int_equal(b2, b0);
	aic_arena_detach(&a);
}

static bool keep_odd(uint64_t off, void *arg)
{
	uint64_t *keep = arg;
	return off == *keep;
}

static void sweep_frees_unreferenced(void **state)
{
	struct aic_arena a;
	uint64_t b0, b1, b2;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 2, REGION, 0), 0);
	b0 = aic_ring_alloc(&a, REGION, 100);
	b1 = aic_ring_alloc(&a, REGION, 100);
	b2 = aic_ring_alloc(&a, REGION, 100);
	aic_ring_sweep(&a, REGION, keep_odd, &b1);
	assert_false(aic_ring_valid(&a, REGION, b0, 100));
	assert_true(aic_ring_valid(&a, REGION, b1, 100));
	assert_false(aic_ring_valid(&a, REGION, b2, 100));
	assert_int_equal(aic_ring_used(&a, REGION), 2 * 192); /* b0 reclaimed; b1 holds the tail */
	aic_arena_detach(&a);
}

static void corrupt_header_refuses(void **state)
{
	struct aic_arena a;
	uint64_t b0;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 2, REGION, 0), 0);
	b0 = aic_ring_alloc(&a, 0, 100);
	aic_ring_free(&a, b0);
	/* Someone scribbled a size that runs off the region: allocation refuses, nothing crashes. */
	memset(a.base + b0 - AIC_ARENA_ALIGN, 0xff, 4);
	assert_int_equal(aic_ring_alloc(&a, 0, 100), 0);
	aic_arena_detach(&a);
}

static void attach_like_a_worker(void **state)
{
	struct aic_arena a, w;
	char spec[96];
	size_t region = 0;
	uint64_t off;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 4, REGION, 0), 0);
	assert_int_equal(aic_arena_attach(&w, "x:1:2", &region), -EINVAL);
	snprintf(spec, sizeof(spec), "%d:%u:%u", a.fd, 3 * REGION, REGION);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The worker: writes an item into its own region; another region is read-only. */
		if (aic_arena_attach(&w, spec, &region) != 0 || region != 3 * REGION)
			_exit(1);
		off = aic_ring_alloc(&w, region, 11);
		if (off == 0)
			_exit(2);
		memcpy(w.base + off, "hello arena", 11);
		_exit(off == 3 * REGION + AIC_ARENA_RING_HEADER + AIC_ARENA_ALIGN ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	off = 3 * REGION + AIC_ARENA_RING_HEADER + AIC_ARENA_ALIGN;
	assert_true(aic_ring_valid(&a, 3 * REGION, off, 11));
	assert_memory_equal(a.base + off, "hello arena", 11);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: this process must die of it */
		if (aic_arena_attach(&w, spec, &region) != 0)
			_exit(1);
		w.base[0] = 1; /* region 0 is not this worker's: SIGSEGV */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	aic_arena_detach(&a);
}

/*
 * A worker's writable view of a weight slot (after the regions): what it
 * writes there the agent's mapping sees, asking again gives the same view,
 * and the worker's own mapping of the slot stays read-only all along.
 */
static void view_writes_slot(void **state)
{
	struct aic_arena a, w;
	size_t region = 0, len = 3 * REGION + 5;
	uint64_t slot = 4 * REGION + 100; /* in the slots after the 2 regions, not page-aligned */
	char spec[96];
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 2, REGION, 8 * REGION), 0);
	assert_null(aic_arena_view(&a, a.size - 10, 11)); /* past the end */
	snprintf(spec, sizeof(spec), "%d:%u:%u", a.fd, REGION, REGION);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t *v, *more;
		size_t i, k;
		signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: this process must die of it */
		if (aic_arena_attach(&w, spec, &region) != 0 ||
		    !(v = aic_arena_view(&w, slot, len)))
			_exit(1);
		for (i = 0; i < len; i++)
			v[i] = (uint8_t)(i * 7 + 1);
		if (memcmp(w.base + slot, v, len) || aic_arena_view(&w, slot, len) != v ||
		    aic_arena_view(&w, slot + 8, 16) != v + 8)
			_exit(2);
		/* More views than are kept, and a longer one of the first slot: each writes. */
		for (k = 1; k <= AIC_ARENA_VIEWS; k++) {
			if (!(more = aic_arena_view(&w, slot + k * 4096, 4096)))
				_exit(3);
			more[0] = (uint8_t)(0xf0 + k);
		}
		if (!(more = aic_arena_view(&w, slot, len + 4096)))
			_exit(4);
		more[len] = 0xee;
		w.base[slot] = 0; /* the worker's own mapping of the slot: SIGSEGV */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		fail_msg("the worker exited %d: no SIGSEGV", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	for (size_t i = 0; i < len; i++) {
		bool marked = i % 4096 == 0 && i / 4096 >= 1 && i / 4096 <= AIC_ARENA_VIEWS;
		uint8_t want = marked ? (uint8_t)(0xf0 + i / 4096) : (uint8_t)(i * 7 + 1);
		if (a.base[slot + i] != want)
			fail_msg("byte %zu of the slot: %u, not %u", i, a.base[slot + i], want);
	}
	assert_int_equal(a.base[slot + len], 0xee);
	aic_arena_detach(&a);
}

/*
 * A full ring's owner waits for room: another process (the agent, in a
 * job) gives a block back and wakes it; with nothing given back the wait
 * times out.
 */
static void wait_for_room(void **state)
{
	struct aic_arena a;
	uint64_t blocks[8];
	uint32_t seen;
	struct timespec t0, t1;
	int n = 0, status;
	pid_t pid;

	(void)state;
	assert_int_equal(aic_arena_create(&a, 2, REGION, 0), 0);
	while (n < 8 && (blocks[n] = aic_ring_alloc(&a, REGION, CAP / 4)))
		n++;
	assert_true(n >= 3);
	seen = aic_ring_frees(&a, REGION);
	assert_int_equal(aic_ring_alloc(&a, REGION, CAP / 4), 0); /* full */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(aic_ring_wait(&a, REGION, seen, 50)); /* nobody frees: times out */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 40);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(50000);
		aic_ring_free(&a, blocks[0]);
		_exit(0);
	}
	/* Woken by the other process long before the timeout. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(aic_ring_wait(&a, REGION, seen, 10000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_int_equal(aic_ring_frees(&a, REGION), seen + 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(aic_ring_alloc(&a, REGION, CAP / 4) != 0); /* the freed block's room */
	/* A free that came before the wait: it returns at once. */
	seen = aic_ring_frees(&a, REGION);
	aic_ring_free(&a, blocks[1]);
	assert_true(aic_ring_wait(&a, REGION, seen, 10000));
	aic_arena_detach(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_free_reuse),
		cmocka_unit_test(full_then_wraps),
		cmocka_unit_test(empty_ring_starts_over),
		cmocka_unit_test(sweep_frees_unreferenced),
		cmocka_unit_test(corrupt_header_refuses),
		cmocka_unit_test(attach_like_a_worker),
		cmocka_unit_test(view_writes_slot),
		cmocka_unit_test(wait_for_room),
	};
	return aic_test_run(tests);
}

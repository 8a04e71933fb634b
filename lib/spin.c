/* Spin before sleeping: see spin.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spin.h"

/* A yield that takes longer than this gave the core to another thread. */
#define YIELD_NS 10000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t aic_spin_ns(const char **bad)
{
	const char *s = getenv("AIC_SPIN_US");
	char *end;
	long v;

	if (bad)
		*bad = NULL;
	if (!s || !*s)
		return (uint64_t)AIC_SPIN_US_DEFAULT * 1000;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < 0 || v > AIC_SPIN_US_MAX) {
		if (bad)
			*bad = s;
		return (uint64_t)AIC_SPIN_US_DEFAULT * 1000;
	}
	return (uint64_t)v * 1000;
}

/* The cores this process may run on (its affinity), counted once. */
static int cores(void)
{
	static int n;
	cpu_set_t set;

	if (!n)
		n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
	return n;
}

/* The kernel's runnable threads, from /proc/loadavg, no more than cores(). */
static bool cores_free(void)
{
	/* "0.10 0.20 0.30 RUNNING/TOTAL LASTPID": RUNNING counts this thread too. */
	char buf[128], *p;
	int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return false;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return false;
	buf[r] = '\0';
	p = buf;
	for (int i = 0; i < 3 && p; i++)
		if ((p = strchr(p, ' ')))
			p++;
	return p && atoi(p) > 0 && atoi(p) <= cores();
}

/*
 * The answer is kept for WORTH_NS: reading /proc/loadavg costs a few
 * microseconds, as much as a spin saves, and a process that waits often
 * (a consumer at a million items a second) would pay it on every wait.
 * One word, read and written whole, so that threads may share it: the
 * time it was told (in units of 2 ns, the low bit the answer).
 */
#define WORTH_NS 1000000

bool aic_spin_worth(void)
{
	static uint64_t told;
	uint64_t t = now_ns(), was = __atomic_load_n(&told, __ATOMIC_RELAXED);
	bool worth;

	if (was && t - (was & ~(uint64_t)1) < WORTH_NS)
		return was & 1;
	worth = cores_free();
	__atomic_store_n(&told, (t & ~(uint64_t)1) | worth, __ATOMIC_RELAXED);
	return worth;
}

bool aic_spin_yield(void)
{
	uint64_t t = now_ns();

	sched_yield();
	return now_ns() - t <= YIELD_NS;
}

/* Spin before sleeping: see spin.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* The cores this process may run on now (its affinity: the engine moves shared workers). */
static int cores(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

/* The cores the machine has online. */
static int online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* The kernel's runnable threads, this one included (/proc/loadavg), or -1. */
static int runnable(void)
{
	/* "0.10 0.20 0.30 RUNNING/TOTAL LASTPID" */
	char buf[128], *p;
	int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	p = buf;
	for (int i = 0; i < 3 && p; i++)
		if ((p = strchr(p, ' ')))
			p++;
	return p ? atoi(p) : -1;
}

/*
 * How long a thread must have had its core to itself (QUIET_NS) before it
 * counts as its own: longer than the kernel lets two threads take turns on
 * one core (a few milliseconds), so that a thread that shares its core
 * with a busy one has been switched out in that time.
 */
#define QUIET_NS 50000000

/*
 * Whether no other thread took this thread's core from it (an involuntary
 * switch, getrusage's ru_nivcsw; a yield that let another run counts too)
 * in the last QUIET_NS, watched for at least as long. Called at each
 * answer of aic_spin_worth, so that it sees the switches as they come.
 */
static bool core_quiet(uint64_t t)
{
	static __thread uint64_t since, taken;
	static __thread long seen = -1;
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return false;
	if (seen < 0)
		since = t;
	else if (ru.ru_nivcsw != seen)
		taken = t;
	seen = ru.ru_nivcsw;
	return t - since >= QUIET_NS && (!taken || t - taken >= QUIET_NS);
}

/*
 * A spin may take a core when the runnable threads are no more than the
 * cores this process may run on; or, for a process bound to fewer cores
 * than the machine has (a worker on the core its stage reserved), when they
 * are no more than the machine's cores and no other thread has wanted
 * this one's core lately: the threads beyond its own cores run elsewhere.
 */
static bool cores_free(uint64_t t)
{
	bool quiet = core_quiet(t);
	int n = runnable();

	return n > 0 && (n <= cores() || (n <= online() && quiet));
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
	worth = cores_free(t);
	__atomic_store_n(&told, (t & ~(uint64_t)1) | worth, __ATOMIC_RELAXED);
	return worth;
}

bool aic_spin_yield(void)
{
	uint64_t t = now_ns();

	sched_yield();
	return now_ns() - t <= YIELD_NS;
}

/*
 * A fixed-size set of CPU numbers (the OS's PU numbers, as in
 * sched_setaffinity and SLURM's core lists). Plain data: copy it freely.
 */
#ifndef AIC_CPUSET_H
#define AIC_CPUSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AIC_CPUSET_MAX 1024

struct aic_cpuset {
	uint64_t bits[AIC_CPUSET_MAX / 64];
};

void aic_cpuset_zero(struct aic_cpuset *s);
/* Adds cpu; numbers outside 0..AIC_CPUSET_MAX-1 are ignored (returns false). */
bool aic_cpuset_set(struct aic_cpuset *s, int cpu);
bool aic_cpuset_isset(const struct aic_cpuset *s, int cpu);
int aic_cpuset_count(const struct aic_cpuset *s);
bool aic_cpuset_empty(const struct aic_cpuset *s);
bool aic_cpuset_equal(const struct aic_cpuset *a, const struct aic_cpuset *b);
/* dst = a & b, dst = a | b, dst = a & ~b (dst may be a or b). */
void aic_cpuset_and(struct aic_cpuset *dst, const struct aic_cpuset *a, const struct aic_cpuset *b);
void aic_cpuset_or(struct aic_cpuset *dst, const struct aic_cpuset *a, const struct aic_cpuset *b);
void aic_cpuset_andnot(struct aic_cpuset *dst, const struct aic_cpuset *a,
		       const struct aic_cpuset *b);
/* The lowest cpu in s, or -1 when s is empty. */
int aic_cpuset_first(const struct aic_cpuset *s);
/* The next cpu after `cpu`, or -1. */
int aic_cpuset_next(const struct aic_cpuset *s, int cpu);
/*
 * Writes s as a list such as "0-3,8,10-11" (empty set: "") into buf of
 * size len, truncating safely. Returns buf.
 */
char *aic_cpuset_format(const struct aic_cpuset *s, char *buf, size_t len);
/* Parses a list such as "0-3,8". Returns 0 or -EINVAL. */
int aic_cpuset_parse(struct aic_cpuset *s, const char *text);

/* The calling thread's CPU affinity into *s. Returns 0 or -errno (s then empty). */
int aic_cpuset_get_affinity(struct aic_cpuset *s);
/* Binds the calling thread to s. Returns 0 or -errno. Async-signal-safe (after fork). */
int aic_cpuset_set_affinity(const struct aic_cpuset *s);
/* Binds thread `tid` (0: the calling one) to s. Returns 0 or -errno (-ESRCH: it has exited). */
int aic_cpuset_set_affinity_of(pid_t tid, const struct aic_cpuset *s);

#endif

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"

void aic_cpuset_zero(struct aic_cpuset *s)
{
	memset(s, 0, sizeof(*s));
}

bool aic_cpuset_set(struct aic_cpuset *s, int cpu)
{
	if (cpu < 0 || cpu >= AIC_CPUSET_MAX)
		return false;
	s->bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
	return true;
}

bool aic_cpuset_isset(const struct aic_cpuset *s, int cpu)
{
	if (cpu < 0 || cpu >= AIC_CPUSET_MAX)
		return false;
	return (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

int aic_cpuset_count(const struct aic_cpuset *s)
{
	int n = 0;
	size_t i;

	for (i = 0; i < AIC_CPUSET_MAX / 64; i++)
		n += __builtin_popcountll(s->bits[i]);
	return n;
}

bool aic_cpuset_empty(const struct aic_cpuset *s)
{
	return aic_cpuset_first(s) < 0;
}

bool aic_cpuset_equal(const struct aic_cpuset *a, const struct aic_cpuset *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

void aic_cpuset_and(struct aic_cpuset *dst, const struct aic_cpuset *a, const struct aic_cpuset *b)
{
	size_t i;

	for (i = 0; i < AIC_CPUSET_MAX / 64; i++)
		dst->bits[i] = a->bits[i] & b->bits[i];
}

void aic_cpuset_or(struct aic_cpuset *dst, const struct aic_cpuset *a, const struct aic_cpuset *b)
{
	size_t i;

	for (i = 0; i < AIC_CPUSET_MAX / 64; i++)
		dst->bits[i] = a->bits[i] | b->bits[i];
}

void aic_cpuset_andnot(struct aic_cpuset *dst, const struct aic_cpuset *a,
		       const struct aic_cpuset *b)
{
	size_t i;

	for (i = 0; i < AIC_CPUSET_MAX / 64; i++)
		dst->bits[i] = a->bits[i] & ~b->bits[i];
}

int aic_cpuset_next(const struct aic_cpuset *s, int cpu)
{
	int c = cpu < 0 ? 0 : cpu + 1;

	while (c < AIC_CPUSET_MAX) {
		uint64_t w = s->bits[c / 64] >> (c % 64);
		if (w)
			return c + __builtin_ctzll(w);
		c = (c / 64 + 1) * 64;
	}
	return -1;
}

int aic_cpuset_first(const struct aic_cpuset *s)
{
	return aic_cpuset_next(s, -1);
}

char *aic_cpuset_format(const struct aic_cpuset *s, char *buf, size_t len)
{
	size_t o = 0;
	int c = aic_cpuset_first(s);

	if (len == 0)
		return buf;
	buf[0] = '\0';
	while (c >= 0) {
		int end = c, n;
		while (aic_cpuset_isset(s, end + 1))
			end++;
		if (end == c)
			n = snprintf(buf + o, len - o, "%s%d", o ? "," : "", c);
		else
			n = snprintf(buf + o, len - o, "%s%d-%d", o ? "," : "", c, end);
		if (n < 0 || (size_t)n >= len - o) {
			buf[o] = '\0';
			break;
		}
		o += (size_t)n;
		c = aic_cpuset_next(s, end);
	}
	return buf;
}

int aic_cpuset_parse(struct aic_cpuset *s, const char *text)
{
	const char *p = text;

	aic_cpuset_zero(s);
	if (!*p)
		return 0;
	for (;;) {
		char *end;
		long a, b;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		a = strtol(p, &end, 10);
		b = a;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtol(p, &end, 10);
		}
		if (a < 0 || b < a || b >= AIC_CPUSET_MAX)
			return -EINVAL;
		for (; a <= b; a++)
			aic_cpuset_set(s, (int)a);
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

int aic_cpuset_get_affinity(struct aic_cpuset *s)
{
	cpu_set_t set;
	int c;

	aic_cpuset_zero(s);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -errno;
	for (c = 0; c < CPU_SETSIZE && c < AIC_CPUSET_MAX; c++)
		if (CPU_ISSET(c, &set))
			aic_cpuset_set(s, c);
	return 0;
}

int aic_cpuset_set_affinity_of(pid_t tid, const struct aic_cpuset *s)
{
	cpu_set_t set;
	int c;

	CPU_ZERO(&set);
	for (c = aic_cpuset_first(s); c >= 0 && c < CPU_SETSIZE; c = aic_cpuset_next(s, c))
		CPU_SET(c, &set);
	return sched_setaffinity(tid, sizeof(set), &set) == 0 ? 0 : -errno;
}

int aic_cpuset_set_affinity(const struct aic_cpuset *s)
{
	return aic_cpuset_set_affinity_of(0, s);
}

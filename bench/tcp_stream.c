/*
 * The baseline for cross-node channels: a raw TCP stream of the same bytes
 * between the same network namespaces.
 *
 *   tcp_stream recv PORT            accept one connection, read until EOF
 *                                   (woken for 256 KiB at a time: SO_RCVLOWAT),
 *                                   print a JSON line with GB/s, and the
 *                                   wall clock at the end ("end_wall")
 *   tcp_stream send ADDR PORT BYTES  connect and write BYTES in 1 MiB writes;
 *                                   prints the wall clock at the first write
 *                                   ({"start_wall": ...})
 *   With WHOLE=1 in the environment, send writes from one buffer of BYTES
 *   and recv reads into one (already touched) buffer of its BYTES argument,
 *   as a weight version goes from memory to memory, rather than cycling
 *   through one cache-warm 1 MiB buffer:
 *   tcp_stream recv PORT [BYTES], relay PORT ADDR PORT2 [BYTES]
 *   tcp_stream relay PORT ADDR PORT2 accept one connection and pass what it
 *                                   reads on to ADDR:PORT2 as it comes (reads
 *                                   of up to 1 MiB, woken for 256 KiB as recv
 *                                   is): a hop of a raw TCP chain, the
 *                                   baseline under a chained broadcast
 *   tcp_stream msgs N SIZE           N messages of SIZE bytes, one write()
 *                                    each, from one process to another over
 *                                    loopback TCP, read up to 64 at a time;
 *                                    prints messages/s at the reader: the
 *                                    baseline of a channel's small items
 *   tcp_stream paced N SIZE GAP_US   N messages of SIZE bytes over loopback
 *                                    TCP, one every GAP_US microseconds (one
 *                                    in flight), each stamped by the writer;
 *                                    prints the one-way latency p50/p99 at the
 *                                    reader: the baseline of a paced channel
 *   tcp_stream pingpong N SIZE       N round trips of a SIZE-byte message over
 *                                    loopback TCP (a child echoes it back);
 *                                    prints the round trip's p50/p99: the
 *                                    baseline of a worker's control round
 *                                    trip to its agent
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const char *addr, const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	return fd;
}

static int accept_on(const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		return -1;
	return accept(fd, NULL, NULL);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int msgs(long n, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	char *buf = calloc(64, size ? size : 1);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, one = 1;
	long i, total = 0, want = n * (long)size;
	double t0 = 0;
	pid_t pid;

	if (!buf || n < 1 || size < 1 || lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&sa, &len))
		return 1;
	pid = fork();
	if (pid == 0) { /* the writer: one write per message, as a producer puts one item at a time */
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(1);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (i = 0; i < n; i++)
			if (write(c, buf, size) != (ssize_t)size)
				_exit(1);
		_exit(0);
	}
	if (pid < 0 || (fd = accept(lfd, NULL, NULL)) < 0)
		return 1;
	while (total < want) {
		ssize_t r = read(fd, buf, 64 * size);
		if (r <= 0)
			return 1;
		if (!total)
			t0 = now();
		total += r;
	}
	t0 = now() - t0;
	waitpid(pid, NULL, 0);
	printf("{\"what\": \"tcp msgs\", \"items\": %ld, \"bytes\": %zu, \"seconds\": %.4f, "
	       "\"items_per_s\": %.0f}\n",
	       n, size, t0, (double)n / t0);
	free(buf);
	return 0;
}

/* Reads exactly len bytes: 0, or -1 at EOF or an error. */
static int read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int pingpong(long n, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	char *buf = calloc(1, size ? size : 1);
	double *lat = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, one = 1;
	long i;
	pid_t pid;

	if (!buf || !lat || n < 1 || size < 1 || lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len))
		return 1;
	pid = fork();
	if (pid == 0) { /* the echo: as an agent answers a worker */
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(1);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (i = 0; i < n; i++)
			if (read_full(c, buf, size) || write(c, buf, size) != (ssize_t)size)
				_exit(1);
		_exit(0);
	}
	if (pid < 0 || (fd = accept(lfd, NULL, NULL)) < 0)
		return 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (i = 0; i < n; i++) {
		double t = now();
		if (write(fd, buf, size) != (ssize_t)size || read_full(fd, buf, size))
			return 1;
		lat[i] = (now() - t) * 1e6;
	}
	waitpid(pid, NULL, 0);
	qsort(lat, (size_t)n, sizeof(double), cmp);
	printf("{\"what\": \"tcp pingpong\", \"items\": %ld, \"bytes\": %zu, "
	       "\"lat_p50_us\": %.1f, \"lat_p99_us\": %.1f}\n",
	       n, size, lat[n / 2], lat[n * 99 / 100]);
	free(lat);
	free(buf);
	return 0;
}

static int paced(long n, size_t size, long gap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	char *buf = calloc(1, size);
	double *lat = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, one = 1;
	long i;
	pid_t pid;

	if (!buf || !lat || n < 1 || size < sizeof(double) || lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len))
		return 1;
	pid = fork();
	if (pid == 0) { /* the writer, as a paced producer: sleep, stamp, write */
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(1);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (i = 0; i < n; i++) {
			struct timespec ts = {gap / 1000000, (gap % 1000000) * 1000};
			double t;
			nanosleep(&ts, NULL);
			t = now();
			memcpy(buf, &t, sizeof(t));
			if (write(c, buf, size) != (ssize_t)size)
				_exit(1);
		}
		_exit(0);
	}
	if (pid < 0 || (fd = accept(lfd, NULL, NULL)) < 0)
		return 1;
	for (i = 0; i < n; i++) {
		size_t got = 0;
		double t;
		while (got < size) {
			ssize_t r = read(fd, buf + got, size - got);
			if (r <= 0)
				return 1;
			got += (size_t)r;
		}
		memcpy(&t, buf, sizeof(t));
		lat[i] = (now() - t) * 1e6;
	}
	waitpid(pid, NULL, 0);
	qsort(lat, (size_t)n, sizeof(double), cmp);
	printf("{\"what\": \"tcp paced\", \"items\": %ld, \"bytes\": %zu, \"gap_us\": %ld, "
	       "\"lat_p50_us\": %.1f, \"lat_p99_us\": %.1f}\n",
	       n, size, gap, lat[n / 2], lat[n * 99 / 100]);
	free(buf);
	free(lat);
	return 0;
}

/*
 * A stream's reader is woken for 256 KiB at a time, not for every segment,
 * as the receiving (or relaying) agent reads a large item or chunk
 * (launcher/net/conn.c, conn_lowat): where a wake-up is dear (an IPI in a
 * VM) a reader woken per segment would make the baseline slower than aic.
 */
static void wake_in_steps(int fd)
{
	int lowat = 256 << 10;

	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	int fd, c;

	bool whole = getenv("WHOLE") && !strcmp(getenv("WHOLE"), "1");

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "recv")) {
		size_t cap = whole && argc == 4 ? (size_t)atol(argv[3]) : 0;
		char *into = cap ? malloc(cap) : NULL;
		long total = 0;
		ssize_t n;
		double t0 = 0;
		if (into)
			memset(into, 1, cap);
		if ((c = accept_on(argv[2])) < 0)
			return 1;
		wake_in_steps(c);
		while ((n = into ? read(c, into + (size_t)total % cap, cap - (size_t)total % cap)
				 : read(c, buf, sizeof(buf))) > 0) {
			if (!total)
				t0 = now();
			total += n;
		}
		t0 = now() - t0;
		printf("{\"what\": \"raw tcp\", \"bytes\": %ld, \"seconds\": %.4f, \"GBps\": %.3f, "
		       "\"end_wall\": %.6f}\n",
		       total, t0, (double)total / t0 / 1e9, wall());
		return 0;
	}
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "relay")) {
		size_t cap = whole && argc == 6 ? (size_t)atol(argv[5]) : 0, at = 0;
		char *into = cap ? malloc(cap) : NULL;
		ssize_t n;
		if (into)
			memset(into, 1, cap);
		if ((fd = connect_to(argv[3], argv[4])) < 0 || (c = accept_on(argv[2])) < 0)
			return 1;
		wake_in_steps(c);
		/* Into this hop's own copy (WHOLE=1), passed on from there. */
		while ((n = into ? read(c, into + at % cap, cap - at % cap) : read(c, buf, sizeof(buf))) > 0) {
			const char *p = into ? into + at % cap : buf;
			at += (size_t)n;
			for (ssize_t off = 0, w; off < n; off += w)
				if ((w = write(fd, p + off, (size_t)(n - off))) <= 0)
					return 1;
		}
		close(fd);
		return n < 0;
	}
	if (argc == 5 && !strcmp(argv[1], "send")) {
		long left = atol(argv[4]), at = 0;
		char *from = whole && left > 0 ? malloc((size_t)left) : NULL;
		if ((fd = connect_to(argv[2], argv[3])) < 0)
			return 1;
		memset(buf, 7, sizeof(buf));
		if (from)
			memset(from, 7, (size_t)left);
		printf("{\"start_wall\": %.6f}\n", wall());
		fflush(stdout);
		while (left > 0) {
			size_t len = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
			ssize_t n = write(fd, from ? from + at : buf, len);
			if (n <= 0)
				return 1;
			left -= n;
			at += n;
		}
		close(fd);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "pingpong"))
		return pingpong(atol(argv[2]), (size_t)atol(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "paced"))
		return paced(atol(argv[2]), (size_t)atol(argv[3]), atol(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "msgs"))
		return msgs(atol(argv[2]), (size_t)atol(argv[3]));
	fprintf(stderr, "usage: tcp_stream recv PORT [BYTES] | send ADDR PORT BYTES | "
			"relay PORT ADDR PORT2 [BYTES] | msgs N SIZE | "
			"paced N SIZE GAP_US | pingpong N SIZE\n");
	return 2;
}

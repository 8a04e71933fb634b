/*
 * The baseline for cross-node channels: a raw TCP stream of the same bytes
 * between the same network namespaces.
 *
 *   tcp_stream recv PORT            accept one connection, read until EOF,
 *                                   print a JSON line with GB/s
 *   tcp_stream send ADDR PORT BYTES  connect and write BYTES in 1 MiB writes
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, one = 1;

	if (argc == 3 && !strcmp(argv[1], "recv")) {
		long total = 0;
		ssize_t n;
		double t0 = 0;
		int c;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_port = htons((uint16_t)atoi(argv[2]));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
			return 1;
		c = accept(fd, NULL, NULL);
		while ((n = read(c, buf, sizeof(buf))) > 0) {
			if (!total)
				t0 = now();
			total += n;
		}
		t0 = now() - t0;
		printf("{\"what\": \"raw tcp\", \"bytes\": %ld, \"seconds\": %.4f, \"GBps\": %.3f}\n", total,
		       t0, (double)total / t0 / 1e9);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "send")) {
		long left = atol(argv[4]);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		sa.sin_port = htons((uint16_t)atoi(argv[3]));
		inet_pton(AF_INET, argv[2], &sa.sin_addr);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 1;
		memset(buf, 7, sizeof(buf));
		while (left > 0) {
			ssize_t n = write(fd, buf, left < (long)sizeof(buf) ? (size_t)left : sizeof(buf));
			if (n <= 0)
				return 1;
			left -= n;
		}
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: tcp_stream recv PORT | send ADDR PORT BYTES\n");
	return 2;
}

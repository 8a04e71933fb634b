/*
 * A process in the middle, the least one can be: the baseline of a node
 * agent's hop (worker -> agent -> worker) for bench/grpo_pipes.py --relay.
 *
 *   relay IN:OUT[,OUT...] ...
 *
 * Each argument is a route: bytes read from file descriptor IN are written,
 * as they come, to every OUT (already open: inherited). One thread, poll()
 * over the INs, reads of up to 64 KiB; ends when every IN is at its end.
 * No framing, no copies but the kernel's: what any process that forwards
 * another's messages must at least do.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROUTES 16
#define MAX_OUTS   8

struct route {
	int in;
	int outs[MAX_OUTS];
	int n_outs;
};

static int parse(const char *arg, struct route *r)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end != ':' || v < 0)
		return -1;
	r->in = (int)v;
	r->n_outs = 0;
	do {
		arg = end + 1;
		v = strtol(arg, &end, 10);
		if (end == arg || v < 0 || r->n_outs == MAX_OUTS)
			return -1;
		r->outs[r->n_outs++] = (int)v;
	} while (*end == ',');
	return *end ? -1 : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct route routes[MAX_ROUTES];
	struct pollfd pfd[MAX_ROUTES];
	int n = argc - 1, open_ins;

	if (n < 1 || n > MAX_ROUTES) {
		fprintf(stderr, "usage: relay IN:OUT[,OUT...] ... (at most %d routes)\n", MAX_ROUTES);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		if (parse(argv[i + 1], &routes[i])) {
			fprintf(stderr, "relay: bad route '%s' (IN:OUT[,OUT...])\n", argv[i + 1]);
			return 2;
		}
		pfd[i] = (struct pollfd){.fd = routes[i].in, .events = POLLIN};
	}
	for (open_ins = n; open_ins > 0;) {
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("relay: poll");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			ssize_t k;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			k = read(pfd[i].fd, buf, sizeof(buf));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) { /* its end (or an error): no more from it */
				pfd[i].fd = -1;
				open_ins--;
				continue;
			}
			for (int o = 0; o < routes[i].n_outs; o++)
				if (write_all(routes[i].outs[o], buf, (size_t)k)) {
					perror("relay: write");
					return 1;
				}
		}
	}
	return 0;
}

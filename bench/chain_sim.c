/*
 * A weight version's broadcast over N nodes, simulated on this machine's
 * loopback: how the end-to-end time grows with the node count, beside a
 * model of it. One process holds every node, one TCP connection per edge.
 *
 *   build/bench/chain_sim TOPO N BYTES CHUNK RATE
 *
 * TOPO is "chain" (launcher/dataplane/chain.c's order: the origin sends to
 * node 1, each node forwards to the next) or "tree" (a pipelined binary
 * tree: node i forwards to 2i+1 and 2i+2, a chunk to each in turn). Every
 * node forwards chunk k (CHUNK bytes, as chain.c forwards its framed
 * chunks) as soon as it has the whole of it. Each node's sending is paced
 * to RATE bytes/s in all (its NIC: a tree node's two children share it),
 * so that the simulation has a link speed to measure against rather than
 * this machine's memory copy: N links at RATE each must fit in the cores
 * of this machine, so RATE is small and CHUNK scaled down with it; the
 * shape (the model's terms) is what carries over.
 *
 * Prints one JSON line:
 *   {"bench": "chain_sim", "topo": ..., "nodes": N, "bytes": ..., "chunk": ...,
 *    "rate": ..., "end_s": publish to every node having every byte,
 *    "first_s": publish to the farthest node having its first chunk,
 *    "model_s": the model's end_s}
 * The model: chain, (BYTES + (N - 2) CHUNK) / RATE (a chunk's time per hop
 * after the first, then the payload at the link's rate); tree of depth d,
 * 2 (BYTES + (d - 1) CHUNK) / RATE (each node sends everything twice).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct simnode {
	int in;		  /* from the parent (-1: the origin) */
	int out[2];	  /* to the children (-1: none) */
	uint64_t have;	  /* bytes received (the origin: all of them) */
	uint64_t sent[2]; /* per child: bytes written */
	int turn;	  /* the child whose chunk goes next (a tree's round robin) */
	int pend_child;	  /* the chunk on the wire: to which child, */
	uint64_t pend_len; /* and its bytes not written yet (0: none) */
	double busy_until; /* when the chunk on the wire has gone */
	double first_s, done_s;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "chain_sim: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A connected pair of loopback TCP sockets, non-blocking: *a writes, *b reads. */
static void edge(int lfd, const struct sockaddr_in *addr, int *a, int *b)
{
	int one = 1, buf = 4 << 20;

	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
		die("connect");
	*b = accept(lfd, NULL, NULL);
	if (*b < 0)
		die("accept");
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*a, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(*b, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (fcntl_nonblock(*a) || fcntl_nonblock(*b))
		die("O_NONBLOCK");
}

int main(int argc, char **argv)
{
	static char zeros[1 << 20], sink[1 << 20];
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(addr);
	struct epoll_event ev, evs[256];
	struct simnode *nodes;
	struct rlimit rl;
	uint64_t bytes, chunk;
	double rate, t0, end = 0, first = 0, model;
	int n, i, k, lfd, ep, depth = 0, done = 1;
	bool tree;

	if (argc != 6 || (strcmp(argv[1], "chain") && strcmp(argv[1], "tree"))) {
		fprintf(stderr, "usage: chain_sim chain|tree N BYTES CHUNK RATE\n");
		return 2;
	}
	tree = !strcmp(argv[1], "tree");
	n = atoi(argv[2]);
	bytes = strtoull(argv[3], NULL, 10);
	chunk = strtoull(argv[4], NULL, 10);
	rate = atof(argv[5]);
	if (n < 2 || n > 4096 || !bytes || !chunk || chunk > sizeof(zeros) || rate <= 0) {
		fprintf(stderr, "chain_sim: bad arguments: N '%s' (2..4096), BYTES '%s', CHUNK '%s' "
			"(1..%zu), RATE '%s'\n", argv[2], argv[3], argv[4], sizeof(zeros), argv[5]);
		return 2;
	}
	/* Two descriptors per edge. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	nodes = calloc((size_t)n, sizeof(*nodes));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ep = epoll_create1(0);
	if (!nodes || lfd < 0 || ep < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(lfd, 64) || getsockname(lfd, (struct sockaddr *)&addr, &alen))
		die("setup");
	for (i = 0; i < n; i++)
		nodes[i] = (struct simnode){.in = -1, .out = {-1, -1}};
	for (i = 1; i < n; i++) {
		int parent = tree ? (i - 1) / 2 : i - 1, slot = tree ? (i - 1) % 2 : 0;
		edge(lfd, &addr, &nodes[parent].out[slot], &nodes[i].in);
		ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, nodes[i].in, &ev))
			die("epoll_ctl");
	}
	for (i = n - 1; tree && i > 0; i = (i - 1) / 2)
		depth++;
	model = tree ? 2.0 * (double)(bytes + (uint64_t)(depth - 1) * chunk) / rate
		     : (double)(bytes + (uint64_t)(n - 2) * chunk) / rate;

	t0 = now_s();
	nodes[0].have = bytes;
	while (done < n) {
		double t = now_s(), next = t + 1;
		struct pollfd pfd = {.fd = ep, .events = POLLIN};
		struct timespec ts;
		int m;
		/*
		 * Every node sends what its link allows: a chunk takes len / RATE
		 * on the wire, so it is written (and arrives: loopback is instant)
		 * when that time is over, and the next one starts then, to the
		 * other child in a tree.
		 */
		for (i = 0; i < n; i++) {
			struct simnode *s = &nodes[i];
			if (s->pend_len && s->busy_until <= t) {
				ssize_t w = write(s->out[s->pend_child], zeros, (size_t)s->pend_len);
				if (w < 0 && errno != EAGAIN)
					die("write");
				if (w > 0) {
					s->sent[s->pend_child] += (uint64_t)w;
					s->pend_len -= (uint64_t)w;
				}
			}
			if (s->pend_len) {
				if (s->busy_until > t && s->busy_until < next)
					next = s->busy_until;
				if (s->busy_until <= t)
					next = t; /* the socket was full: again at once */
				continue;
			}
			for (k = 0; k < 2; k++) {
				int c = (s->turn + k) % 2;
				uint64_t off = s->sent[c], len;
				if (s->out[c] < 0 || off >= bytes)
					continue;
				len = bytes - off < chunk ? bytes - off : chunk;
				if (s->have < off + len)
					continue; /* not all of that chunk yet */
				s->pend_child = c;
				s->pend_len = len;
				s->busy_until = (s->busy_until > t ? s->busy_until : t) + (double)len / rate;
				s->turn = c ^ 1;
				if (s->busy_until < next)
					next = s->busy_until;
				break;
			}
		}
		ts.tv_sec = 0;
		ts.tv_nsec = next > t ? (long)((next - t) * 1e9) : 0;
		if (ts.tv_nsec > 999999999)
			ts.tv_nsec = 999999999;
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			die("ppoll");
		m = epoll_wait(ep, evs, 256, 0);
		for (k = 0; k < m; k++) {
			struct simnode *s = &nodes[evs[k].data.u32];
			ssize_t r;
			while ((r = read(s->in, sink, sizeof(sink))) > 0) {
				s->have += (uint64_t)r;
				if (!s->first_s && s->have >= (chunk < bytes ? chunk : bytes))
					s->first_s = now_s() - t0;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN))
				die("read");
			if (s->have >= bytes && !s->done_s) {
				s->done_s = now_s() - t0;
				done++;
			}
		}
	}
	for (i = 1; i < n; i++) {
		if (nodes[i].done_s > end)
			end = nodes[i].done_s;
		if (nodes[i].first_s > first)
			first = nodes[i].first_s;
	}
	printf("{\"bench\": \"chain_sim\", \"topo\": \"%s\", \"nodes\": %d, \"bytes\": %llu, "
	       "\"chunk\": %llu, \"rate\": %.0f, \"end_s\": %.4f, \"first_s\": %.4f, "
	       "\"model_s\": %.4f}\n",
	       argv[1], n, (unsigned long long)bytes, (unsigned long long)chunk, rate, end, first,
	       model);
	return 0;
}

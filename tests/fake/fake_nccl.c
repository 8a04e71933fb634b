/*
 * A stand-in for libnccl.so.2 where there is no GPU: the same entry points
 * and C ABI (lib/nccl.c loads it through AIC_NCCL_LIBRARY), "device memory"
 * is host memory, and a communicator is TCP connections from rank 0 to the
 * others. It behaves like NCCL where aic depends on it: the unique id is
 * made by rank 0 and is all the others need; ncclCommInitRank blocks until
 * every rank has joined; a broadcast returns on each rank once its buffer
 * holds the root's bytes. Failures come back as ncclResult_t codes.
 *
 * The id holds "fake-nccl <addr> <port>": rank 0 listens when it makes the
 * id, on the node's address from AIC_AGENT (127.0.0.1 without it).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { OK = 0, SYSTEM_ERROR = 2, INVALID_ARGUMENT = 4 };

typedef struct {
	char internal[128];
} ncclUniqueId;

struct comm {
	int rank, nranks;
	int *fds; /* rank 0: one per other rank (index = rank); others: fds[0] to rank 0 */
};

/* NCCL's entry points, as the real library exports them. */
const char *ncclGetErrorString(int result);
int ncclGetVersion(int *version);
int ncclGetUniqueId(ncclUniqueId *id);
int ncclCommInitRank(struct comm **out, int nranks, ncclUniqueId id, int rank);
int ncclCommDestroy(struct comm *c);
int ncclBroadcast(const void *send, void *recv, size_t count, int type, int root, struct comm *c,
		  void *stream);

static int listener = -1; /* rank 0's, from ncclGetUniqueId to ncclCommInitRank */

static int io_all(int fd, void *buf, size_t len, int out)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

const char *ncclGetErrorString(int result)
{
	switch (result) {
	case OK:
		return "no error";
	case SYSTEM_ERROR:
		return "unhandled system error (fake NCCL: a socket failed)";
	case INVALID_ARGUMENT:
		return "invalid argument (fake NCCL)";
	}
	return "unknown result (fake NCCL)";
}

int ncclGetVersion(int *version)
{
	*version = 21800;
	return OK;
}

int ncclGetUniqueId(ncclUniqueId *id)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	char host[64] = "127.0.0.1", *colon;
	const char *agent = getenv("AIC_AGENT");

	if (agent && strlen(agent) < sizeof(host)) {
		snprintf(host, sizeof(host), "%s", agent);
		if ((colon = strrchr(host, ':')))
			*colon = '\0';
	}
	if (listener >= 0)
		close(listener);
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    bind(listener, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(listener, 64) != 0 ||
	    getsockname(listener, (struct sockaddr *)&sa, &len) != 0)
		return SYSTEM_ERROR;
	memset(id, 0, sizeof(*id));
	snprintf(id->internal, sizeof(id->internal), "fake-nccl %s %d", host, ntohs(sa.sin_port));
	return OK;
}

int ncclCommInitRank(struct comm **out, int nranks, ncclUniqueId id, int rank)
{
	struct comm *c;
	char host[64];
	int port, i;

	if (nranks < 1 || rank < 0 || rank >= nranks ||
	    sscanf(id.internal, "fake-nccl %63s %d", host, &port) != 2)
		return INVALID_ARGUMENT;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->fds = calloc((size_t)nranks, sizeof(int)))) {
		free(c);
		return SYSTEM_ERROR;
	}
	c->rank = rank;
	c->nranks = nranks;
	if (rank == 0) {
		/* Every other rank connects and says which it is. */
		for (i = 1; i < nranks; i++) {
			int fd = accept(listener, NULL, NULL), r;
			if (fd < 0 || io_all(fd, &r, sizeof(r), 0) || r < 1 || r >= nranks)
				return SYSTEM_ERROR;
			c->fds[r] = fd;
		}
		close(listener);
		listener = -1;
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    io_all(fd, &rank, sizeof(rank), 1))
			return SYSTEM_ERROR;
		c->fds[0] = fd;
	}
	*out = c;
	return OK;
}

int ncclCommDestroy(struct comm *c)
{
	int i;

	if (!c)
		return OK;
	for (i = 0; i < c->nranks; i++)
		if (c->fds[i] > 0)
			close(c->fds[i]);
	free(c->fds);
	free(c);
	return OK;
}

/* ncclUint8 only (type 1), in place or not; `stream` is ignored: the copy is done on return. */
int ncclBroadcast(const void *send, void *recv, size_t count, int type, int root, struct comm *c,
		  void *stream)
{
	int i;

	(void)stream;
	if (!c || type != 1 || root != 0)
		return INVALID_ARGUMENT;
	if (c->rank == 0) {
		if (recv != send)
			memmove(recv, send, count);
		for (i = 1; i < c->nranks; i++)
			if (io_all(c->fds[i], (void *)send, count, 1))
				return SYSTEM_ERROR;
		/* Like NCCL's completion: every rank has the bytes. */
		for (i = 1; i < c->nranks; i++) {
			char ack;
			if (io_all(c->fds[i], &ack, 1, 0))
				return SYSTEM_ERROR;
		}
		return OK;
	}
	if (io_all(c->fds[0], recv, count, 0) || io_all(c->fds[0], "k", 1, 1))
		return SYSTEM_ERROR;
	return OK;
}

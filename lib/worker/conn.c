/*
 * The worker's connection to its node agent (aic.h): connect and close,
 * identity, and the frames every other file of lib/worker/ sends and reads
 * on it (internal.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "internal.h"
#include "spin.h"

/* How long the agent may take to answer each step of the handshake. */
#define HANDSHAKE_MS 60000
/* Connections dropped in their handshake are tried again, after 10, 20, ... 640 ms. */
#define CONNECT_TRIES 8

int aic__write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i = 0;

	memcpy(v, iov, (size_t)n * sizeof(*v));
	for (;;) {
		ssize_t w;
		/* Skip what is written, empty parts included. */
		while (i < n && v[i].iov_len == 0)
			i++;
		if (i == n)
			return 0;
		w = writev(fd, v + i, n - i);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		while (i < n && (size_t)w >= v[i].iov_len) {
			w -= (ssize_t)v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
}

static int read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? AIC_ECLOSED : -errno;
		got += (size_t)r;
	}
	return 0;
}

/*
 * Frames are read IN_CAP bytes at a time when they come that fast (the
 * answers to a batch of puts come together): one read for many.
 */
#define IN_CAP 65536

/* Reads until w->in holds at least want (<= IN_CAP) unread bytes. */
static int read_ahead(struct aic_worker *w, size_t want)
{
	uint64_t spin_until = 0;
	bool checked = false;

	if (!w->in && !(w->in = malloc(IN_CAP)))
		return -ENOMEM;
	if (w->in_len - w->in_off >= want)
		return 0;
	if (w->in_off + want > IN_CAP) {
		memmove(w->in, w->in + w->in_off, w->in_len - w->in_off);
		w->in_len -= w->in_off;
		w->in_off = 0;
	}
	while (w->in_len - w->in_off < want) {
		ssize_t r;

		/*
		 * Awaiting the answer to a control request (w->spin_wait),
		 * poll a while before sleeping in read, while a core is free
		 * for it (lib/spin.h): an answer that comes within
		 * w->spin_ns needs no wake-up. spin_until: 0 not started, 1
		 * over.
		 */
		if (!spin_until)
			spin_until = w->spin_ns && w->spin_wait ? aic__now_ns() + w->spin_ns : 1;
		if (spin_until > 1) {
			r = recv(w->fd, w->in + w->in_len, IN_CAP - w->in_len, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* Whether a core is free is asked once the answer is not there at once. */
				if (!checked && !(checked = true, aic_spin_worth()))
					spin_until = 1;
				else if (aic__now_ns() >= spin_until || !aic_spin_yield())
					spin_until = 1;
				continue;
			}
		} else {
			/*
			 * Sleeps in poll for input, not in read: a read that sleeps
			 * on a Unix stream socket is woken every time the agent
			 * reads a frame of ours (the kernel wakes every sleeper on
			 * the socket when its sent data are taken, for room to
			 * write), only to sleep again: a context switch for
			 * nothing, and often an interrupt to this process's core.
			 * poll wakes for input only.
			 */
			r = recv(w->fd, w->in + w->in_len, IN_CAP - w->in_len, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				struct pollfd p = {.fd = w->fd, .events = POLLIN};
				if (poll(&p, 1, -1) < 0 && errno != EINTR)
					return -errno;
				continue;
			}
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? AIC_ECLOSED : -errno;
		w->in_len += (size_t)r;
	}
	return 0;
}

static int recv_one(struct aic_worker *w, bool flush);

/*
 * Reads the next frame; flush: send the batch first (what is awaited may
 * be an answer to it). A CKPT_NOTICE, which the agent sends unasked, is
 * taken note of (checkpoint.c) and passed over.
 */
static int recv_frame(struct aic_worker *w, bool flush)
{
	int rc;

	while (!(rc = recv_one(w, flush)) && w->frame.type == AIC_MSG_CKPT_NOTICE) {
		w->ckpt_notice = true;
		flush = false;
	}
	return rc;
}

static int recv_one(struct aic_worker *w, bool flush)
{
	const uint8_t *hdr;
	size_t have, total;
	uint16_t type;
	uint32_t n;
	long used;
	int rc;

	rc = flush ? aic__batch_flush(w) : 0;
	if (!rc)
		rc = read_ahead(w, AIC_WIRE_HEADER);
	if (rc)
		return rc;
	hdr = w->in + w->in_off;
	n = aic_get_u32(hdr + 8);
	if (n > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	type = (uint16_t)(hdr[4] << 8 | hdr[5]);
	total = AIC_WIRE_HEADER + (size_t)n;
	/* Answers to puts (and notices) are read where they are: nothing points into them. */
	if ((type == AIC_MSG_PUT_OK || type == AIC_MSG_PUT_ERR || type == AIC_MSG_CKPT_NOTICE) &&
	    total <= IN_CAP) {
		rc = read_ahead(w, total);
		if (rc)
			return rc;
		used = aic_wire_decode(w->in + w->in_off, total, &w->frame);
		w->in_off += total;
		return used > 0 ? 0 : AIC_EPROTO;
	}
	if (w->rx_cap < total) {
		uint8_t *nb = realloc(w->rx, total);
		if (!nb)
			return -ENOMEM;
		w->rx = nb;
		w->rx_cap = total;
	}
	/* What was read ahead of the frame, then the rest of it straight from the socket. */
	have = w->in_len - w->in_off < total ? w->in_len - w->in_off : total;
	memcpy(w->rx, w->in + w->in_off, have);
	w->in_off += have;
	rc = read_all(w->fd, w->rx + have, total - have);
	if (rc)
		return rc;
	used = aic_wire_decode(w->rx, total, &w->frame);
	return used > 0 ? 0 : AIC_EPROTO;
}

int aic__recv_frame(struct aic_worker *w)
{
	return recv_frame(w, true);
}

bool aic__input_waiting(struct aic_worker *w)
{
	char b;
	ssize_t r;

	if (w->in_len > w->in_off)
		return true;
	do
		r = recv(w->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	/* Nothing to read but "not now": anything else (bytes, the end, an error) is for a read to say. */
	return !(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

int aic__json_code(const struct aic_frame *f)
{
	json_t *m = json_loadb((const char *)f->payload, f->length, 0, NULL);
	int code = AIC_EPROTO;

	if (m && json_is_integer(json_object_get(m, "code")))
		code = (int)json_integer_value(json_object_get(m, "code"));
	json_decref(m);
	return code < 0 ? code : AIC_EPROTO;
}

int aic__recv_reply(struct aic_worker *w)
{
	int rc;

	for (;;) {
		rc = aic__recv_frame(w);
		if (rc)
			return rc;
		if (w->frame.type == AIC_MSG_PUT_OK || w->frame.type == AIC_MSG_PUT_ERR) {
			w->puts_out--;
			if (w->frame.type == AIC_MSG_PUT_ERR && !w->put_error)
				w->put_error = aic__json_code(&w->frame);
			continue;
		}
		return 0;
	}
}

int aic__recv_answer(struct aic_worker *w)
{
	int rc;

	w->spin_wait = true;
	rc = aic__recv_reply(w);
	w->spin_wait = false;
	return rc;
}

int aic__settle_puts(struct aic_worker *w, int left)
{
	int rc;

	while (w->puts_out > left) {
		/* Answers to puts sent are enough while the batch holds no more than left. */
		rc = recv_frame(w, aic__batch_frames(w) > (unsigned)left);
		if (rc)
			return rc;
		if (w->frame.type != AIC_MSG_PUT_OK && w->frame.type != AIC_MSG_PUT_ERR)
			return AIC_EPROTO;
		w->puts_out--;
		if (w->frame.type == AIC_MSG_PUT_ERR && !w->put_error)
			w->put_error = aic__json_code(&w->frame);
	}
	return 0;
}

int aic__frame_error(const struct aic_worker *w)
{
	return w->frame.type == AIC_MSG_ERROR ? aic__json_code(&w->frame) : AIC_EPROTO;
}

/*
 * Where the agent is: its Unix domain socket (AIC_AGENT_UNIX, "@name" in the
 * abstract namespace or a path), else its TCP endpoint (AIC_AGENT,
 * "host:port"). Either may be missing, not both.
 */
struct agent_addr {
	struct sockaddr_un un;
	socklen_t un_len; /* 0: no Unix socket */
	struct sockaddr_in in;
	bool has_in;
};

static int agent_addr(struct agent_addr *a)
{
	const char *unix_name = getenv("AIC_AGENT_UNIX"), *agent = getenv("AIC_AGENT");
	char host[64], *colon;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (unix_name && *unix_name) {
		n = strlen(unix_name);
		if (n >= sizeof(a->un.sun_path) || (unix_name[0] != '@' && unix_name[0] != '/'))
			return -EINVAL;
		a->un.sun_family = AF_UNIX;
		memcpy(a->un.sun_path, unix_name, n);
		/* "@name": the abstract namespace, whose names begin with '\0' and are not terminated. */
		if (unix_name[0] == '@')
			a->un.sun_path[0] = '\0';
		else
			n++;
		a->un_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	if (agent && *agent) {
		if (strlen(agent) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%s", agent);
		colon = strrchr(host, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &a->in.sin_addr) != 1)
			return -EINVAL;
		a->has_in = true;
	}
	return a->un_len || a->has_in ? 0 : -ENOENT;
}

/*
 * One connection to the agent and its handshake; the WELCOME's object in
 * *m. The Unix socket first: one that cannot be reached (no agent in this
 * network namespace has it) leaves TCP to try. Whichever is reached, the
 * handshake is the same: a wrong credential is refused over either.
 */
static int dial(struct aic_worker *w, const struct agent_addr *a, const char *token,
		json_t *hello, json_t **m, char *why, size_t len)
{
	int one = 1;

	if (a->un_len) {
		w->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (w->fd < 0)
			return -errno;
		if (connect(w->fd, (const struct sockaddr *)&a->un, a->un_len) == 0)
			return aic_auth_client(w->fd, token, hello, HANDSHAKE_MS, m, why, len);
		if (!a->has_in)
			return -errno;
		close(w->fd);
	}
	w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0 || connect(w->fd, (const struct sockaddr *)&a->in, sizeof(a->in)) != 0)
		return -errno;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return aic_auth_client(w->fd, token, hello, HANDSHAKE_MS, m, why, len);
}

int aic_worker_connect(struct aic_worker **out)
{
	const char *token = getenv("AIC_TOKEN");
	struct agent_addr addr;
	char why[256];
	struct aic_worker *w;
	json_t *hello, *m = NULL;
	int attempt, rc;

	*out = NULL;
	if (!token)
		return -ENOENT;
	rc = agent_addr(&addr);
	if (rc)
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	aic__batch_init(w);
	snprintf(w->stage, sizeof(w->stage), "%s", getenv("AIC_STAGE") ?: "");
	w->index = atoi(getenv("AIC_INDEX") ?: "0");
	w->spin_ns = aic_spin_ns(NULL); /* a bad value: the engine warns of it */
	/*
	 * The node's arena (arena.h), when the agent gave one: a fast path, never
	 * required (without one, base stays NULL and items travel inline).
	 */
	aic_arena_attach(&w->arena, getenv("AIC_ARENA"), &w->region);
	aic__nccl_groups_parse(w, getenv("AIC_WEIGHTS_NCCL"));
	/*
	 * The handshake proves AIC_TOKEN (this stage's credential) without
	 * sending it, and checks that the agent knows it too (lib/auth.h).
	 */
	hello = json_pack("{s:s,s:s,s:i}", "role", "worker", "stage", w->stage, "index", w->index);
	if (hello && w->arena.base)
		json_object_set_new(hello, "arena", json_integer((json_int_t)w->region));
	if (!hello) {
		rc = -ENOMEM;
		goto out_free;
	}
	/*
	 * A connection dropped before WELCOME is tried again a few times: an
	 * agent flooded by strangers pushes out connections still in their
	 * handshake (launcher/net/conn.h), and this one may have been among
	 * them. A refusal (a wrong credential) is final.
	 */
	for (attempt = 0;; attempt++) {
		rc = dial(w, &addr, token, hello, &m, why, sizeof(why));
		if (!rc || attempt == CONNECT_TRIES - 1 ||
		    (rc != -EAGAIN && rc != AIC_ECLOSED && rc != -ECONNRESET && rc != -EPIPE))
			break;
		close(w->fd);
		w->fd = -1;
		nanosleep(&(struct timespec){.tv_nsec = (10L << attempt) * 1000000L}, NULL);
	}
	json_decref(hello);
	if (rc)
		goto out_free;
	w->channels = json_incref(json_object_get(m, "channels"));
	w->weights = json_incref(json_object_get(m, "weights"));
	/* Another connection writes this region (a forked parent, say): not this one. */
	if (!json_is_true(json_object_get(m, "arena")))
		aic_arena_detach(&w->arena);
	json_decref(m);
	if (!w->channels)
		w->channels = json_object();
	if (!w->weights)
		w->weights = json_object();
	aic__exit_track(w);
	*out = w;
	return 0;
out_free:
	aic_worker_close(w);
	return rc;
}

void aic_worker_close(struct aic_worker *w)
{
	if (!w)
		return;
	aic__exit_untrack(w);
	/*
	 * Every pipelined put must be in the channel before the connection goes;
	 * a fork's child has the connection, not its puts (nor batch.c's thread).
	 */
	if (w->fd >= 0 && w->puts_out > 0 && w->pid == getpid())
		aic__settle_puts(w, 0);
	aic__batch_release(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->wbuf.buf && !w->wbuf.off)
		aic__heap_free(w->wbuf.buf); /* a slot is let go by the agent when the connection goes */
	json_decref(w->channels);
	json_decref(w->weights);
	aic_arena_detach(&w->arena);
	aic__nccl_groups_release(w);
	free(w->rx);
	free(w->in);
	free(w);
}

const char *aic_worker_stage(const struct aic_worker *w)
{
	return w->stage;
}

int aic_worker_index(const struct aic_worker *w)
{
	return w->index;
}

int aic_in_place(const struct aic_worker *w, const void *p)
{
	const uint8_t *b = p;

	return w->arena.base && b >= w->arena.base && b < w->arena.base + w->arena.size;
}

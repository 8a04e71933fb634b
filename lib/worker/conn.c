/*
 * The worker API (aic.h): a blocking socket to the node agent.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "aic.h"
#include "arena.h"
#include "nccl.h"
#include "token.h"
#include "wire.h"

/* Puts in flight before aic_put waits for the agent to accept one. */
#define PUT_WINDOW 64
/* A version is copied into its slot in pieces of this size, the agent told after each. */
#define FILL_PIECE ((size_t)4 << 20)
/* How long a put waits for room in a full ring before it sends the item inline. */
#define RING_WAIT_MS 200

/* This process's place in a weight stream's NCCL group, and its communicator. */
struct nccl_group {
	char stream[64];
	int rank, nranks;
	void *comm;		/* NULL until the first broadcast */
	struct aic_nccl_id id;	/* the communicator's */
};

#define MAX_NCCL_GROUPS 8

struct aic_worker {
	int fd;
	int puts_out;	/* puts sent, not yet answered */
	int put_error;	/* the first failure of a pipelined put, reported by the next call */
	char stage[64];
	int index;
	json_t *channels; /* name -> id, from the agent's WELCOME */
	json_t *weights;  /* stream name -> id */
	uint8_t *rx;	  /* the last frame read; items point into it */
	size_t rx_cap;
	struct aic_arena arena; /* base NULL: none */
	size_t region;		/* this worker's region of it */
	struct nccl_group nccl[MAX_NCCL_GROUPS]; /* from AIC_WEIGHTS_NCCL */
	int n_nccl;
	struct aic_frame frame;
	bool stalled;	     /* a wait for room in the ring timed out, */
	uint32_t stalled_at; /* with the ring's free count at this */
	/* The version being written in place (aic_weights_buffer), until committed. */
	struct {
		void *buf; /* NULL: none */
		uint64_t off; /* its arena slot, or 0: buf is in the heap */
		uint64_t version;
		size_t len;
		size_t written; /* announced by aic_weights_written */
		uint32_t stream;
		bool skip; /* not newer than the agent's: commit sends nothing */
	} wbuf;
};

static int write_all(int fd, const struct iovec *iov, int n)
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

static int send_frame(struct aic_worker *w, uint16_t type, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	uint8_t hdr[AIC_WIRE_HEADER];
	struct iovec iov[3] = {{hdr, sizeof(hdr)}, {(void *)a, alen}, {(void *)b, blen}};

	if (alen + blen > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	aic_wire_header(hdr, type, (uint32_t)(alen + blen));
	return write_all(w->fd, iov, 3);
}

/* Reads the next frame into w->rx / w->frame. */
static int recv_frame(struct aic_worker *w)
{
	uint8_t hdr[AIC_WIRE_HEADER];
	long used;
	uint32_t n;
	int rc;

	rc = read_all(w->fd, hdr, sizeof(hdr));
	if (rc)
		return rc;
	n = aic_get_u32(hdr + 8);
	if (n > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (w->rx_cap < AIC_WIRE_HEADER + (size_t)n) {
		uint8_t *nb = realloc(w->rx, AIC_WIRE_HEADER + (size_t)n);
		if (!nb)
			return -ENOMEM;
		w->rx = nb;
		w->rx_cap = AIC_WIRE_HEADER + (size_t)n;
	}
	memcpy(w->rx, hdr, sizeof(hdr));
	rc = read_all(w->fd, w->rx + AIC_WIRE_HEADER, n);
	if (rc)
		return rc;
	used = aic_wire_decode(w->rx, AIC_WIRE_HEADER + (size_t)n, &w->frame);
	return used > 0 ? 0 : AIC_EPROTO;
}

static int json_code(const struct aic_frame *f)
{
	json_t *m = json_loadb((const char *)f->payload, f->length, 0, NULL);
	int code = AIC_EPROTO;

	if (m && json_is_integer(json_object_get(m, "code")))
		code = (int)json_integer_value(json_object_get(m, "code"));
	json_decref(m);
	return code < 0 ? code : AIC_EPROTO;
}

/*
 * Reads the next frame that is not the answer to a pipelined put; answers
 * to puts met on the way are counted (and their first error kept).
 */
static int recv_reply(struct aic_worker *w)
{
	int rc;

	for (;;) {
		rc = recv_frame(w);
		if (rc)
			return rc;
		if (w->frame.type == AIC_MSG_PUT_OK || w->frame.type == AIC_MSG_PUT_ERR) {
			w->puts_out--;
			if (w->frame.type == AIC_MSG_PUT_ERR && !w->put_error)
				w->put_error = json_code(&w->frame);
			continue;
		}
		return 0;
	}
}

/* Waits until at most `left` puts are unanswered. */
static int settle_puts(struct aic_worker *w, int left)
{
	int rc;

	while (w->puts_out > left) {
		rc = recv_frame(w);
		if (rc)
			return rc;
		if (w->frame.type != AIC_MSG_PUT_OK && w->frame.type != AIC_MSG_PUT_ERR)
			return AIC_EPROTO;
		w->puts_out--;
		if (w->frame.type == AIC_MSG_PUT_ERR && !w->put_error)
			w->put_error = json_code(&w->frame);
	}
	return 0;
}

/* An ERROR frame's code, or AIC_EPROTO for an unexpected frame. */
static int frame_error(const struct aic_worker *w)
{
	json_t *m;
	int code = AIC_EPROTO;

	if (w->frame.type != AIC_MSG_ERROR)
		return AIC_EPROTO;
	m = json_loadb((const char *)w->frame.payload, w->frame.length, 0, NULL);
	if (m && json_is_integer(json_object_get(m, "code")))
		code = (int)json_integer_value(json_object_get(m, "code"));
	json_decref(m);
	return code < 0 ? code : AIC_EPROTO;
}

/* AIC_WEIGHTS_NCCL: "stream:rank:nranks[,...]". */
static void parse_nccl_groups(struct aic_worker *w, const char *v)
{
	while (v && *v && w->n_nccl < MAX_NCCL_GROUPS) {
		struct nccl_group *g = &w->nccl[w->n_nccl];
		int used = 0;
		if (sscanf(v, "%63[^:,]:%d:%d%n", g->stream, &g->rank, &g->nranks, &used) != 3 ||
		    g->rank < 0 || g->nranks < 1 || g->rank >= g->nranks)
			return;
		w->n_nccl++;
		v += used;
		if (*v == ',')
			v++;
	}
}

int aic_worker_connect(struct aic_worker **out)
{
	const char *agent = getenv("AIC_AGENT"), *token = getenv("AIC_TOKEN");
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64], *colon, *text;
	struct aic_worker *w;
	json_t *hello, *m;
	int one = 1, rc;

	*out = NULL;
	if (!agent || !token || strlen(agent) >= sizeof(host))
		return -ENOENT;
	snprintf(host, sizeof(host), "%s", agent);
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->stage, sizeof(w->stage), "%s", getenv("AIC_STAGE") ?: "");
	w->index = atoi(getenv("AIC_INDEX") ?: "0");
	/*
	 * The node's arena (arena.h), when the agent gave one: a fast path, never
	 * required (without one, base stays NULL and items travel inline).
	 */
	aic_arena_attach(&w->arena, getenv("AIC_ARENA"), &w->region);
	parse_nccl_groups(w, getenv("AIC_WEIGHTS_NCCL"));
	w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0 || connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		goto out_free;
	}
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	hello = json_pack("{s:s,s:s,s:s,s:i}", "role", "worker", "token", token, "stage", w->stage,
			  "index", w->index);
	if (hello && w->arena.base)
		json_object_set_new(hello, "arena", json_integer((json_int_t)w->region));
	text = hello ? json_dumps(hello, JSON_COMPACT) : NULL;
	json_decref(hello);
	if (!text) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = send_frame(w, AIC_MSG_HELLO, text, strlen(text), NULL, 0);
	free(text);
	if (!rc)
		rc = recv_frame(w);
	if (rc)
		goto out_free;
	if (w->frame.type != AIC_MSG_WELCOME) {
		rc = w->frame.type == AIC_MSG_REJECT ? AIC_EAUTH : AIC_EPROTO;
		goto out_free;
	}
	m = json_loadb((const char *)w->frame.payload, w->frame.length, 0, NULL);
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
	*out = w;
	return 0;
out_free:
	aic_worker_close(w);
	return rc;
}

static void heap_free(void *buf);

void aic_worker_close(struct aic_worker *w)
{
	if (!w)
		return;
	/* Every pipelined put must be in the channel before the connection goes. */
	if (w->fd >= 0 && w->puts_out > 0)
		settle_puts(w, 0);
	if (w->fd >= 0)
		close(w->fd);
	if (w->wbuf.buf && !w->wbuf.off)
		heap_free(w->wbuf.buf); /* a slot is let go by the agent when the connection goes */
	json_decref(w->channels);
	json_decref(w->weights);
	aic_arena_detach(&w->arena);
	for (int i = 0; i < w->n_nccl; i++)
		aic_nccl_comm_destroy(w->nccl[i].comm);
	free(w->rx);
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

static int chan_id(const struct aic_worker *w, const char *name, uint32_t *id)
{
	json_t *v = json_object_get(w->channels, name);

	if (!json_is_integer(v))
		return -ENOENT;
	*id = (uint32_t)json_integer_value(v);
	return 0;
}

static uint32_t wire_timeout(int ms)
{
	return ms < 0 ? AIC_WIRE_FOREVER : (uint32_t)ms;
}

/*
 * A block of len bytes in this worker's ring, or 0. A full ring means items
 * are still queued or in flight: while puts of this worker wait for the
 * channel, their answers come as consumers ack, which frees room, so wait
 * for one rather than go inline.
 */
static int ring_block(struct aic_worker *w, size_t len, uint64_t *off)
{
	int rc;

	*off = 0;
	while (len >= AIC_ARENA_MIN_BYTES && len < AIC_ITEM_SHM && w->arena.base) {
		uint32_t seen = aic_ring_frees(&w->arena, w->region);
		if ((*off = aic_ring_alloc(&w->arena, w->region, len)))
			break;
		if (w->puts_out > 0) {
			rc = settle_puts(w, w->puts_out - 1);
			if (rc)
				return rc;
			continue;
		}
		/*
		 * Every put was accepted: the ring is full of items queued or held
		 * by consumers, and the agent gives blocks back as they are acked.
		 * Wait for one, unless the last wait went by with none given back
		 * (consumers holding every item while they wait for more): then go
		 * inline at once rather than stall each put.
		 */
		if ((w->stalled && seen == w->stalled_at) ||
		    !aic_ring_wait(&w->arena, w->region, seen, RING_WAIT_MS)) {
			w->stalled = true;
			w->stalled_at = seen;
			break;
		}
	}
	return 0;
}

/* Whether buf is in this worker's own ring: a block of aic_put_buffer's. */
static bool in_own_ring(const struct aic_worker *w, const void *buf)
{
	const uint8_t *b = buf;

	return w->arena.base && b > w->arena.base + w->region &&
	       b < w->arena.base + w->region + w->arena.region_size;
}

/*
 * The put itself, once the channel's id is known: settles earlier puts as
 * the window requires, then sends the item, from the ring block at `off`
 * (PUT_SHM: only its place travels) or inline from data, and waits for its
 * answer when the caller wants the id or a timeout. A ring block is the
 * agent's once sent; on an error before that it is given back.
 */
static int put_item(struct aic_worker *w, uint32_t c, uint64_t off, const void *data, size_t len,
		    uint64_t version, int timeout_ms, uint64_t *id)
{
	uint8_t head[28];
	bool wait = id || timeout_ms >= 0;
	int rc;

	/*
	 * Puts are pipelined: up to PUT_WINDOW in flight, so items stream without
	 * a round trip each; the agent still accepts them only as the channel's
	 * capacity allows, so a full channel stops the producer here. A caller
	 * that wants the id or a timeout waits for this put's own answer.
	 */
	rc = settle_puts(w, wait ? 0 : PUT_WINDOW - 1);
	if (!rc && w->put_error) {
		rc = w->put_error;
		w->put_error = 0;
	}
	if (rc) {
		aic_ring_free(&w->arena, off);
		return rc;
	}
	aic_put_u32(head, c);
	aic_put_u64(head + 4, version);
	aic_put_u32(head + 12, wire_timeout(timeout_ms));
	if (off) {
		aic_put_u64(head + 16, off);
		aic_put_u32(head + 24, (uint32_t)len);
		rc = send_frame(w, AIC_MSG_PUT_SHM, head, 28, NULL, 0);
	} else {
		rc = send_frame(w, AIC_MSG_PUT, head, 16, data, len);
	}
	if (rc)
		return rc;
	w->puts_out++;
	if (!wait)
		return 0;
	rc = recv_frame(w);
	if (rc)
		return rc;
	w->puts_out--;
	if (w->frame.type == AIC_MSG_PUT_ERR)
		return json_code(&w->frame);
	if (w->frame.type != AIC_MSG_PUT_OK || w->frame.length < 8)
		return AIC_EPROTO;
	if (id)
		*id = aic_get_u64(w->frame.payload);
	return 0;
}

int aic_put(struct aic_worker *w, const char *chan, const void *data, size_t len, uint64_t version,
	    int timeout_ms, uint64_t *id)
{
	uint64_t off = 0;
	uint32_t c;
	int rc = chan_id(w, chan, &c);

	/* A large item is written once, into this worker's arena region; only its place travels. */
	if (!rc)
		rc = ring_block(w, len, &off);
	if (rc)
		return rc;
	if (off)
		memcpy(w->arena.base + off, data, len);
	return put_item(w, c, off, data, len, version, timeout_ms, id);
}

/* A heap buffer that knows its length (HEAP_PREFIX bytes before it), for aic_*_buffer. */
#define HEAP_PREFIX 16
static int heap_buffer(size_t len, void **buf)
{
	uint8_t *p = len < SIZE_MAX - HEAP_PREFIX ? malloc(HEAP_PREFIX + len) : NULL;

	if (!p)
		return -ENOMEM;
	memcpy(p, &len, sizeof(len));
	*buf = p + HEAP_PREFIX;
	return 0;
}

static size_t heap_len(const void *buf)
{
	size_t len;

	memcpy(&len, (const uint8_t *)buf - HEAP_PREFIX, sizeof(len));
	return len;
}

static void heap_free(void *buf)
{
	if (buf)
		free((uint8_t *)buf - HEAP_PREFIX);
}

int aic_metric(struct aic_worker *w, const char *name, double value, int64_t step)
{
	size_t n = name ? strlen(name) : 0, i;
	uint8_t head[16];
	uint64_t bits;

	if (n == 0 || n > AIC_METRIC_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -EINVAL;
	memcpy(&bits, &value, sizeof(bits));
	aic_put_u64(head, bits);
	aic_put_u64(head + 8, (uint64_t)step);
	return send_frame(w, AIC_MSG_METRIC, head, sizeof(head), name, n);
}

int aic_put_buffer(struct aic_worker *w, size_t len, void **buf)
{
	uint64_t off;
	int rc = ring_block(w, len, &off);

	*buf = NULL;
	if (rc)
		return rc;
	if (off) {
		*buf = w->arena.base + off;
		return 0;
	}
	return heap_buffer(len, buf);
}

int aic_put_commit(struct aic_worker *w, const char *chan, void *buf, size_t len,
		   uint64_t version, int timeout_ms, uint64_t *id)
{
	uint32_t c;
	int rc;

	if (!buf)
		return -EINVAL;
	rc = chan_id(w, chan, &c);
	if (rc) {
		aic_put_discard(w, buf);
		return rc;
	}
	if (in_own_ring(w, buf)) {
		uint64_t off = (uint64_t)((uint8_t *)buf - w->arena.base);
		if (!aic_ring_valid(&w->arena, w->region, off, len)) {
			aic_ring_free(&w->arena, off);
			return -EINVAL; /* longer than the buffer */
		}
		return put_item(w, c, off, NULL, len, version, timeout_ms, id);
	}
	if (len > heap_len(buf)) {
		heap_free(buf);
		return -EINVAL;
	}
	rc = put_item(w, c, 0, buf, len, version, timeout_ms, id);
	heap_free(buf);
	return rc;
}

void aic_put_discard(struct aic_worker *w, void *buf)
{
	if (in_own_ring(w, buf))
		aic_ring_free(&w->arena, (uint64_t)((uint8_t *)buf - w->arena.base));
	else
		heap_free(buf);
}

int aic_get(struct aic_worker *w, const char *chan, struct aic_item *items, size_t max, size_t *n,
	    int timeout_ms)
{
	uint8_t req[12];
	const uint8_t *p, *end;
	uint32_t c, count, flags, i;
	int rc = chan_id(w, chan, &c);

	*n = 0;
	if (rc)
		return rc;
	if (max == 0 || max > 1u << 20)
		return -EINVAL;
	aic_put_u32(req, c);
	aic_put_u32(req + 4, (uint32_t)max);
	aic_put_u32(req + 8, wire_timeout(timeout_ms));
	rc = send_frame(w, AIC_MSG_GET, req, sizeof(req), NULL, 0);
	if (!rc)
		rc = recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_ITEMS || w->frame.length < 8)
		return frame_error(w);
	p = w->frame.payload;
	end = p + w->frame.length;
	count = aic_get_u32(p);
	flags = aic_get_u32(p + 4);
	p += 8;
	for (i = 0; i < count && i < max; i++) {
		struct aic_item_hdr h;
		if (end - p < AIC_ITEM_HEADER)
			return AIC_EPROTO;
		aic_item_hdr_decode(p, &h);
		items[i].producer = h.producer;
		items[i].id = h.id;
		items[i].version = h.version;
		items[i].len = h.len;
		p += AIC_ITEM_HEADER;
		if (items[i].len & AIC_ITEM_SHM) {
			/* In the arena: read where the producer (or this node's agent) wrote it. */
			uint64_t at = end - p >= 8 ? aic_get_u64(p) : 0;
			items[i].len &= ~(size_t)AIC_ITEM_SHM;
			if (!w->arena.base || !at || at > w->arena.size ||
			    items[i].len > w->arena.size - at)
				return AIC_EPROTO;
			items[i].data = w->arena.base + at;
			p += 8;
			continue;
		}
		if ((size_t)(end - p) < items[i].len)
			return AIC_EPROTO;
		items[i].data = p;
		p += items[i].len;
	}
	*n = i;
	if (i == 0 && (flags & AIC_ITEMS_EOF))
		return AIC_ECLOSED;
	return 0;
}

int aic_ack(struct aic_worker *w, const char *chan, const struct aic_item *items, size_t n)
{
	uint8_t *buf;
	uint32_t c;
	size_t i;
	int rc = chan_id(w, chan, &c);

	if (rc)
		return rc;
	if (n == 0)
		return 0;
	buf = malloc(8 + n * AIC_ACK_ENTRY);
	if (!buf)
		return -ENOMEM;
	aic_put_u32(buf, c);
	aic_put_u32(buf + 4, (uint32_t)n);
	for (i = 0; i < n; i++)
		aic_ack_encode(buf + 8 + i * AIC_ACK_ENTRY, items[i].producer, items[i].id);
	rc = send_frame(w, AIC_MSG_ACK, buf, 8 + n * AIC_ACK_ENTRY, NULL, 0);
	free(buf);
	return rc;
}

static int stream_id(const struct aic_worker *w, const char *name, uint32_t *id)
{
	json_t *v = json_object_get(w->weights, name);

	if (!json_is_integer(v))
		return -ENOENT;
	*id = (uint32_t)json_integer_value(v);
	return 0;
}

/*
 * Publishes through the arena: asks the agent for a slot, writes the version
 * there, commits. Returns 1 when the agent had no slot (publish inline then).
 */
/*
 * Asks the agent for an arena slot to write version `version` (len bytes)
 * of stream s into: 0 and *off, 1 when the version is not newer than the
 * agent's (nothing to write), 2 when there is no slot now (publish inline),
 * or a negative error.
 */
static int slot_request(struct aic_worker *w, uint32_t s, size_t len, uint64_t version,
			uint64_t *off)
{
	uint8_t req[20];
	int rc;

	aic_put_u32(req, s);
	aic_put_u64(req + 4, version);
	aic_put_u64(req + 12, len);
	rc = send_frame(w, AIC_MSG_W_SLOT, req, 20, NULL, 0);
	if (!rc)
		rc = recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type == AIC_MSG_W_OK)
		return 1;
	if (w->frame.type != AIC_MSG_W_SLOT_OK || w->frame.length < 8)
		return frame_error(w) == -EBUSY ? 2 : frame_error(w);
	*off = aic_get_u64(w->frame.payload);
	return aic_arena_protect(&w->arena, *off, len, true);
}

/*
 * The slot at off is written (len bytes; 0: it could not be, and the agent
 * lets it go): read-only again, and the version is the agent's.
 */
static int slot_commit(struct aic_worker *w, uint32_t s, uint64_t off, size_t len, uint64_t version)
{
	uint8_t req[28];
	int rc = len ? aic_arena_protect(&w->arena, off, len, false) : 0;

	aic_put_u32(req, s);
	aic_put_u64(req + 4, version);
	aic_put_u64(req + 12, off);
	aic_put_u64(req + 20, rc ? 0 : len);
	if (rc) {
		send_frame(w, AIC_MSG_W_COMMIT, req, 28, NULL, 0);
		recv_reply(w);
		return rc;
	}
	rc = send_frame(w, AIC_MSG_W_COMMIT, req, 28, NULL, 0);
	if (!rc)
		rc = recv_reply(w);
	if (rc)
		return rc;
	return w->frame.type == AIC_MSG_W_OK ? 0 : frame_error(w);
}

/* Bytes [0, done) of the slot at off are written: the agent may send them on (no answer). */
static int slot_filled(struct aic_worker *w, uint32_t s, uint64_t off, size_t done, uint64_t version)
{
	uint8_t req[28];

	aic_put_u32(req, s);
	aic_put_u64(req + 4, version);
	aic_put_u64(req + 12, off);
	aic_put_u64(req + 20, done);
	return send_frame(w, AIC_MSG_W_FILLED, req, 28, NULL, 0);
}

/* A version sent in the frame itself (no arena, or no slot free). */
static int publish_inline(struct aic_worker *w, uint32_t s, const void *blob, size_t len,
			  uint64_t version)
{
	uint8_t head[12];
	int rc;

	aic_put_u32(head, s);
	aic_put_u64(head + 4, version);
	rc = send_frame(w, AIC_MSG_W_PUBLISH, head, sizeof(head), blob, len);
	if (!rc)
		rc = recv_reply(w);
	if (rc)
		return rc;
	return w->frame.type == AIC_MSG_W_OK ? 0 : frame_error(w);
}

int aic_weights_publish(struct aic_worker *w, const char *name, const void *blob, size_t len,
			uint64_t version)
{
	uint64_t off = 0;
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (rc)
		return rc;
	if (w->arena.base && len > 0) {
		rc = slot_request(w, s, len, version, &off);
		if (rc == 0) {
			/*
			 * Copied piece by piece, each announced (W_FILLED, no answer):
			 * the agent sends what is written down the chain while the
			 * rest is copied.
			 */
			size_t done = 0;
			while (len - done > FILL_PIECE) {
				memcpy(w->arena.base + off + done, (const uint8_t *)blob + done, FILL_PIECE);
				done += FILL_PIECE;
				slot_filled(w, s, off, done, version);
			}
			memcpy(w->arena.base + off + done, (const uint8_t *)blob + done, len - done);
			return slot_commit(w, s, off, len, version);
		}
		if (rc < 0 && off)
			slot_commit(w, s, off, 0, version); /* the agent lets the slot go */
		if (rc != 2)
			return rc < 0 ? rc : 0;
	}
	return publish_inline(w, s, blob, len, version);
}

int aic_weights_buffer(struct aic_worker *w, const char *name, size_t len, uint64_t version,
		       void **buf)
{
	uint64_t off = 0;
	uint32_t s;
	int rc = stream_id(w, name, &s);

	*buf = NULL;
	if (rc)
		return rc;
	if (w->wbuf.buf)
		return -EBUSY; /* one at a time */
	if (w->arena.base && len > 0) {
		rc = slot_request(w, s, len, version, &off);
		if (rc < 0 && off)
			slot_commit(w, s, off, 0, version);
		if (rc < 0)
			return rc;
	} else {
		rc = 2;
	}
	w->wbuf.stream = s;
	w->wbuf.version = version;
	w->wbuf.len = len;
	w->wbuf.written = 0;
	w->wbuf.skip = rc == 1;
	if (rc == 0) {
		w->wbuf.off = off;
		w->wbuf.buf = w->arena.base + off;
	} else {
		w->wbuf.off = 0;
		rc = heap_buffer(len, &w->wbuf.buf);
		if (rc)
			return rc;
	}
	*buf = w->wbuf.buf;
	return 0;
}

int aic_weights_written(struct aic_worker *w, const char *name, void *buf, size_t bytes)
{
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (!buf || buf != w->wbuf.buf || rc || s != w->wbuf.stream)
		return rc ? rc : -EINVAL;
	/* The whole is announced by the commit; a heap buffer goes whole, inline. */
	if (!w->wbuf.off || bytes >= w->wbuf.len || bytes <= w->wbuf.written)
		return 0;
	w->wbuf.written = bytes;
	return slot_filled(w, s, w->wbuf.off, bytes, w->wbuf.version);
}

void aic_weights_discard(struct aic_worker *w, void *buf)
{
	if (!buf || buf != w->wbuf.buf)
		return;
	w->wbuf.buf = NULL;
	if (w->wbuf.off)
		slot_commit(w, w->wbuf.stream, w->wbuf.off, 0, w->wbuf.version); /* the agent lets it go */
	else
		heap_free(buf);
}

int aic_weights_commit(struct aic_worker *w, const char *name, void *buf, size_t len)
{
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (!buf || buf != w->wbuf.buf || rc || s != w->wbuf.stream || len > w->wbuf.len)
		return rc ? rc : -EINVAL;
	w->wbuf.buf = NULL;
	if (w->wbuf.off)
		return slot_commit(w, s, w->wbuf.off, len, w->wbuf.version);
	rc = w->wbuf.skip ? 0 : publish_inline(w, s, buf, len, w->wbuf.version);
	heap_free(buf);
	return rc;
}

int aic_weights_receive(struct aic_worker *w, const char *name, uint64_t min_version,
			int timeout_ms, const void **blob, size_t *len, uint64_t *version)
{
	uint8_t req[16];
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (rc)
		return rc;
	aic_put_u32(req, s);
	aic_put_u64(req + 4, min_version);
	aic_put_u32(req + 12, wire_timeout(timeout_ms));
	rc = send_frame(w, AIC_MSG_W_RECV, req, sizeof(req), NULL, 0);
	if (!rc)
		rc = recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type == AIC_MSG_W_DATA_SHM && w->frame.length == 24) {
		/* The newest version in the node's arena: read in place, no copy. */
		uint64_t off = aic_get_u64(w->frame.payload + 8), n = aic_get_u64(w->frame.payload + 16);
		if (!w->arena.base || off > w->arena.size || n > w->arena.size - off)
			return AIC_EPROTO;
		*version = aic_get_u64(w->frame.payload);
		*blob = w->arena.base + off;
		*len = (size_t)n;
		return 0;
	}
	if (w->frame.type != AIC_MSG_W_DATA || w->frame.length < 8)
		return frame_error(w);
	*version = aic_get_u64(w->frame.payload);
	*blob = w->frame.payload + 8;
	*len = w->frame.length - 8;
	return 0;
}

/*
 * NCCL weights (aic.h). The descriptor each version carries through the
 * engine: magic, group size, bytes, the communicator's id. A reader whose
 * communicator has another id (the writer restarted, or this is the first
 * version) joins the new one before the broadcast.
 */
#define NCCL_MAGIC "AICNCCL1"
#define NCCL_DESC (8 + 4 + 8 + sizeof(struct aic_nccl_id))

static struct nccl_group *nccl_group(struct aic_worker *w, const char *name)
{
	int i;

	for (i = 0; i < w->n_nccl; i++)
		if (!strcmp(w->nccl[i].stream, name))
			return &w->nccl[i];
	return NULL;
}

int aic_weights_nccl_publish(struct aic_worker *w, const char *name, void *dev, size_t len,
			     uint64_t version, void *stream)
{
	struct nccl_group *g = nccl_group(w, name);
	uint8_t desc[NCCL_DESC];
	bool join;
	int rc;

	if (!g || g->rank != 0)
		return -EPERM;
	rc = aic_nccl_load();
	if (rc)
		return rc;
	join = !g->comm;
	if (join && (rc = aic_nccl_unique_id(&g->id)) != 0)
		return rc;
	memcpy(desc, NCCL_MAGIC, 8);
	aic_put_u32(desc + 8, (uint32_t)g->nranks);
	aic_put_u64(desc + 12, len);
	memcpy(desc + 20, g->id.bytes, sizeof(g->id.bytes));
	rc = aic_weights_publish(w, name, desc, sizeof(desc), version);
	if (!rc && join)
		rc = aic_nccl_comm_init(&g->comm, g->nranks, &g->id, 0);
	if (!rc)
		rc = aic_nccl_broadcast(g->comm, dev, len, 0, stream);
	if (rc && g->comm) {
		/* A failed collective leaves the communicator unusable: the next version starts a new one. */
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
	}
	return rc;
}

int aic_weights_nccl_receive(struct aic_worker *w, const char *name, void *dev, size_t cap,
			     uint64_t min_version, int timeout_ms, size_t *len, uint64_t *version,
			     void *stream)
{
	struct nccl_group *g = nccl_group(w, name);
	struct aic_nccl_id id;
	const void *blob;
	const uint8_t *d;
	size_t n;
	uint64_t bytes;
	int rc;

	if (!g || g->rank == 0)
		return -EPERM;
	rc = aic_nccl_load();
	if (rc)
		return rc;
	rc = aic_weights_receive(w, name, min_version, timeout_ms, &blob, &n, version);
	if (rc)
		return rc;
	d = blob;
	if (n != NCCL_DESC || memcmp(d, NCCL_MAGIC, 8) || aic_get_u32(d + 8) != (uint32_t)g->nranks)
		return AIC_EPROTO; /* not published over NCCL, or for another group */
	bytes = aic_get_u64(d + 12);
	memcpy(id.bytes, d + 20, sizeof(id.bytes));
	if (g->comm && memcmp(id.bytes, g->id.bytes, sizeof(id.bytes))) {
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
	}
	if (!g->comm) {
		g->id = id;
		rc = aic_nccl_comm_init(&g->comm, g->nranks, &g->id, g->rank);
		if (rc)
			return rc;
	}
	/*
	 * Too large for the caller's buffer: this reader leaves the group, so the
	 * writer's broadcast fails too (NCCL has no way to take part without a
	 * buffer); sizes are the job's own contract.
	 */
	if (bytes > cap) {
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
		return -EMSGSIZE;
	}
	rc = aic_nccl_broadcast(g->comm, dev, (size_t)bytes, 0, stream);
	if (rc) {
		aic_nccl_comm_destroy(g->comm);
		g->comm = NULL;
		return rc;
	}
	*len = (size_t)bytes;
	return 0;
}

int aic_in_place(const struct aic_worker *w, const void *p)
{
	const uint8_t *b = p;

	return w->arena.base && b >= w->arena.base && b < w->arena.base + w->arena.size;
}

const char *aic_nccl_last_error(void)
{
	return aic_nccl_error();
}

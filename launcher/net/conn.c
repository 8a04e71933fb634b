#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "token.h"
#include "wire.h"

uint64_t aic_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Every connection not yet freed, so that the engine can close them all at exit. */
static struct aic_conn *live;

static void unlink_conn(struct aic_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (live == c)
		live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

void aic_conn_close_all(void)
{
	struct aic_conn *c, *next;

	for (c = live; c; c = next) {
		next = c->next;
		aic_conn_close(c);
	}
}

static void direct_finish(struct aic_conn *c, bool whole);

static void free_conn(uv_handle_t *h)
{
	struct aic_conn *c = h->data;

	unlink_conn(c);
	if (c->direct)
		direct_finish(c, false);
	if (c->on_close)
		c->on_close(c);
	json_decref(c->hello);
	json_decref(c->welcome);
	free(c->buf);
	free(c);
}

void aic_conn_close(struct aic_conn *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, free_conn);
}

struct write_req {
	uv_write_t req;
	char *mem;
	void (*done)(void *arg, int status);
	void *arg;
};

static void wrote(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;

	free(w->mem);
	if (w->done)
		w->done(w->arg, status);
	free(w);
}

int aic_conn_sendv(struct aic_conn *c, void *mem, const uv_buf_t *bufs, unsigned n,
		   void (*done)(void *arg, int status), void *arg)
{
	struct write_req *w = c->closing ? NULL : calloc(1, sizeof(*w));
	int rc = c->closing ? -EPIPE : -ENOMEM;

	if (w) {
		w->mem = mem;
		w->done = done;
		w->arg = arg;
		/* libuv keeps its own copy of the array, not of what it points to. */
		rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, wrote);
		if (!rc)
			return 0;
		free(w);
	}
	free(mem);
	if (done)
		done(arg, rc);
	return rc;
}

int aic_conn_send_owned(struct aic_conn *c, void *mem, const void *frame, size_t len)
{
	struct write_req *w;
	uv_buf_t buf;
	int rc;

	if (c->closing) {
		free(mem);
		return -EPIPE;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		free(mem);
		return -ENOMEM;
	}
	w->mem = mem;
	buf = uv_buf_init((char *)frame, (unsigned)len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, wrote);
	if (rc) {
		free(w->mem);
		free(w);
	}
	return rc;
}

int aic_conn_send_raw(struct aic_conn *c, uint16_t type, const void *a, size_t alen, const void *b,
		      size_t blen)
{
	struct write_req *w;
	uv_buf_t buf;
	int rc;

	if (c->closing)
		return -EPIPE;
	if (alen + blen > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	w = calloc(1, sizeof(*w));
	if (w)
		w->mem = malloc(AIC_WIRE_HEADER + alen + blen);
	if (!w || !w->mem) {
		free(w);
		return -ENOMEM;
	}
	aic_wire_header((uint8_t *)w->mem, type, (uint32_t)(alen + blen));
	if (alen)
		memcpy(w->mem + AIC_WIRE_HEADER, a, alen);
	if (blen)
		memcpy(w->mem + AIC_WIRE_HEADER + alen, b, blen);
	buf = uv_buf_init(w->mem, (unsigned)(AIC_WIRE_HEADER + alen + blen));
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, wrote);
	if (rc) {
		free(w->mem);
		free(w);
	}
	return rc;
}

int aic_conn_send(struct aic_conn *c, uint16_t type, json_t *msg)
{
	struct write_req *w;
	char *text = NULL;
	size_t n = 0;
	uv_buf_t b;
	int rc;

	if (c->closing)
		return -EPIPE;
	if (msg) {
		text = json_dumps(msg, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		n = strlen(text);
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->mem = malloc(AIC_WIRE_HEADER + n);
	if (!w || !w->mem) {
		free(w);
		free(text);
		return -ENOMEM;
	}
	aic_wire_header((uint8_t *)w->mem, type, (uint32_t)n);
	if (n)
		memcpy(w->mem + AIC_WIRE_HEADER, text, n);
	free(text);
	b = uv_buf_init(w->mem, (unsigned)(AIC_WIRE_HEADER + n));
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, wrote);
	if (rc) {
		free(w->mem);
		free(w);
	}
	return rc;
}

static void reject(struct aic_conn *c, const char *why)
{
	json_t *m = json_pack("{s:s}", "error", why);

	aic_log_warn("rejected a connection from %s: %s", c->peer, why);
	if (c->server)
		c->server->rejected++;
	aic_conn_send(c, AIC_MSG_REJECT, m);
	json_decref(m);
	aic_conn_close(c);
}

static void handle(struct aic_conn *c, const struct aic_frame *f)
{
	json_t *msg = NULL;
	json_error_t jerr;

	if (f->length && f->type < AIC_MSG_DATA)
		msg = json_loadb((const char *)f->payload, f->length, 0, &jerr);
	if (!c->authed && c->server_side) {
		const char *tok = msg ? json_string_value(json_object_get(msg, "token")) : NULL;
		if (f->type != AIC_MSG_HELLO)
			reject(c, "the first message must be HELLO");
		else if (!tok || !aic_token_equal(tok, c->token))
			reject(c, "wrong or missing job token");
		else if (c->on_hello && !c->on_hello(c, msg))
			reject(c, "refused");
		else {
			json_t *w = c->welcome ? c->welcome : json_object();
			c->welcome = NULL;
			c->authed = true;
			aic_conn_send(c, AIC_MSG_WELCOME, w);
			json_decref(w);
		}
		json_decref(msg);
		return;
	}
	if (!c->authed && f->type == AIC_MSG_WELCOME)
		c->authed = true;
	if (c->on_frame)
		c->on_frame(c, f->type, msg, f);
	json_decref(msg);
}

/*
 * The frame being read in place is whole, or lost: on_frame gets it when it
 * is whole, and its owner gets the destination back in any case.
 */
static void direct_finish(struct aic_conn *c, bool whole)
{
	struct aic_frame f = {.type = c->direct_type,
			      .length = c->direct_len,
			      .payload = c->direct_head,
			      .body = c->direct,
			      .head = c->direct_skip};
	void *arg = c->direct_arg;

	c->direct = NULL;
	whole = whole && !c->closing;
	if (whole)
		handle(c, &f);
	if (c->direct_end)
		c->direct_end(c, f.type, f.body, arg, whole);
}

/*
 * The frame at the start of the buffer is incomplete: once its header and
 * first bytes are in, its owner may say where the rest goes (conn.h).
 */
static void direct_maybe(struct aic_conn *c)
{
	uint32_t length, have, skip = 0;
	uint16_t type;
	uint8_t *dest;
	void *arg = NULL;

	if (!c->direct_begin || !c->authed || c->closing || c->len < AIC_WIRE_HEADER)
		return;
	length = aic_get_u32(c->buf + 8);
	have = (uint32_t)(c->len - AIC_WIRE_HEADER);
	if (length < AIC_CONN_DIRECT_MIN || have < AIC_CONN_DIRECT_HEAD || have >= length)
		return;
	type = (uint16_t)(c->buf[4] << 8 | c->buf[5]);
	dest = c->direct_begin(c, type, length, c->buf + AIC_WIRE_HEADER, have, &skip, &arg);
	if (!dest)
		return;
	c->direct = dest;
	c->direct_arg = arg;
	c->direct_type = type;
	c->direct_len = length;
	c->direct_got = have;
	if (skip > have || skip > AIC_CONN_DIRECT_HEAD) {
		aic_log_error("connection %s: a frame's reader asked to keep %u bytes", c->peer, skip);
		direct_finish(c, false);
		aic_conn_close(c);
		return;
	}
	c->direct_skip = skip;
	memcpy(c->direct_head, c->buf + AIC_WIRE_HEADER, skip);
	memcpy(dest, c->buf + AIC_WIRE_HEADER + skip, have - skip);
	c->len = 0;
}

/* Reads go into the frame's own place while one is read in place. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct aic_conn *c = h->data;
	size_t room;

	(void)suggested;
	if (c->direct) {
		*b = uv_buf_init((char *)c->direct + (c->direct_got - c->direct_skip),
				 c->direct_len - c->direct_got);
		return;
	}
	if (c->cap - c->len < 65536) {
		size_t cap = c->cap ? c->cap * 2 : 131072;
		uint8_t *nb = realloc(c->buf, cap);
		if (!nb) {
			*b = uv_buf_init(NULL, 0);
			return;
		}
		c->buf = nb;
		c->cap = cap;
	}
	/*
	 * Where large frames may be read in place, a frame's start is read in a
	 * small step, so that little of such a frame goes through the buffer.
	 */
	room = c->cap - c->len;
	if (c->direct_begin && c->len < AIC_WIRE_HEADER + AIC_CONN_DIRECT_HEAD &&
	    room > AIC_CONN_DIRECT_MIN)
		room = AIC_CONN_DIRECT_MIN;
	*b = uv_buf_init((char *)c->buf + c->len, (unsigned)room);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct aic_conn *c = s->data;
	struct aic_frame f;
	size_t off = 0;
	long used = 0;

	(void)b;
	if (n < 0) {
		aic_conn_close(c);
		return;
	}
	if (c->direct) {
		c->direct_got += (uint32_t)n;
		if (c->direct_got == c->direct_len)
			direct_finish(c, true);
		return;
	}
	c->len += (size_t)n;
	while (!c->closing && (used = aic_wire_decode(c->buf + off, c->len - off, &f)) > 0) {
		handle(c, &f);
		off += (size_t)used;
	}
	if (used < 0 && !c->closing) {
		if (c->server_side && !c->authed)
			reject(c, "not the aic protocol");
		else
			aic_conn_close(c);
		return;
	}
	if (off) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	direct_maybe(c);
}

static struct aic_conn *new_conn(uv_loop_t *loop)
{
	struct aic_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = c;
	c->next = live;
	if (live)
		live->prev = c;
	live = c;
	return c;
}

static void peer_name(struct aic_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[48] = "?";

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
			 ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : 0);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct aic_server *srv = server->data;
	struct aic_conn *c;

	if (status < 0)
		return;
	c = new_conn(server->loop);
	if (!c)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		aic_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->server_side = true;
	c->token = srv->token;
	c->on_hello = srv->on_hello;
	c->on_frame = srv->on_frame;
	c->on_close = srv->on_close;
	c->direct_begin = srv->direct_begin;
	c->direct_end = srv->direct_end;
	c->owner = srv->owner;
	c->server = srv;
	peer_name(c);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

int aic_server_start(uv_loop_t *loop, struct aic_server *srv, const char *addr)
{
	struct sockaddr_in sa;
	struct sockaddr_storage got;
	int rc, len = sizeof(got);

	rc = uv_ip4_addr(addr ? addr : "0.0.0.0", 0, &sa);
	if (rc)
		return rc;
	uv_tcp_init(loop, &srv->tcp);
	srv->tcp.data = srv;
	rc = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&sa, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&srv->tcp, 1024, on_connection);
	if (!rc)
		rc = uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&got, &len);
	if (rc)
		return rc;
	srv->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
	return 0;
}

void aic_server_stop(struct aic_server *srv)
{
	if (!uv_is_closing((uv_handle_t *)&srv->tcp))
		uv_close((uv_handle_t *)&srv->tcp, NULL);
}

struct connect_req {
	uv_connect_t req;
	struct aic_conn *c;
};

static void connected(uv_connect_t *req, int status)
{
	struct connect_req *r = (struct connect_req *)req;
	struct aic_conn *c = r->c;

	free(r);
	if (status < 0) {
		aic_log_error("cannot connect to %s: %s", c->peer, uv_strerror(status));
		aic_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	aic_conn_send(c, AIC_MSG_HELLO, c->hello);
}

struct aic_conn *aic_conn_connect(uv_loop_t *loop, const char *host, int port, const char *token,
				  json_t *hello, aic_frame_cb on_frame, aic_close_cb on_close,
				  void *owner)
{
	struct aic_conn *c = new_conn(loop);
	struct connect_req *r;
	struct sockaddr_in sa;

	if (!c) {
		json_decref(hello);
		return NULL;
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	c->hello = hello ? hello : json_object();
	json_object_set_new(c->hello, "token", json_string(token));
	c->token = token;
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->owner = owner;
	r = calloc(1, sizeof(*r));
	if (!r || uv_ip4_addr(host, port, &sa) != 0 ||
	    uv_tcp_connect(&r->req, &c->tcp, (struct sockaddr *)&sa, connected) != 0) {
		free(r);
		aic_conn_close(c);
		return NULL;
	}
	r->c = c;
	return c;
}

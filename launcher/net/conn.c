/*
 * Framed, authenticated connections over any transport (see conn.h): the
 * handshake and the limits before it, frames, in-place reads of large frames, and the sends. How
 * bytes move is the transport's (struct aic_link_ops; TCP: tcp.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "internal.h"
#include "log.h"
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
static void pending_done(struct aic_conn *c);

void aic__conn_unref(struct aic_conn *c)
{
	if (--c->refs)
		return;
	free(c->buf);
	free(c);
}

void aic_conn_hold(struct aic_conn *c)
{
	c->refs++;
}

void aic_conn_release(struct aic_conn *c)
{
	if (c)
		aic__conn_unref(c);
}

void aic__conn_closed(struct aic_conn *c)
{
	unlink_conn(c);
	aic__cork_forget(c);
	if (c->direct)
		direct_finish(c, false);
	if (c->on_close)
		c->on_close(c);
	json_decref(c->hello);
	json_decref(c->welcome);
	c->hello = c->welcome = NULL;
	aic__conn_stop_beat(c);
	aic__conn_unref(c);
}

void aic_conn_close(struct aic_conn *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	pending_done(c);
	aic__conn_stop_beat(c);
	c->ops->close(c);
}

/* Every send goes here: what was sent last tells liveness.c when a PING is due. */
static int link_write(struct aic_conn *c, void *mem, const uv_buf_t *bufs, unsigned n,
		      void (*done)(void *arg, int status), void *arg)
{
	c->tx_ms = uv_now(c->loop);
	if (c->tx_len)
		aic__cork_flush(c); /* what was corked goes first */
	return c->ops->write(c, mem, bufs, n, done, arg);
}

int aic_conn_sendv(struct aic_conn *c, void *mem, const uv_buf_t *bufs, unsigned n,
		   void (*done)(void *arg, int status), void *arg)
{
	if (c->closing) {
		free(mem);
		if (done)
			done(arg, -EPIPE);
		return -EPIPE;
	}
	return link_write(c, mem, bufs, n, done, arg);
}

int aic_conn_send_owned(struct aic_conn *c, void *mem, const void *frame, size_t len)
{
	uv_buf_t buf = uv_buf_init((char *)frame, (unsigned)len);

	if (c->closing) {
		free(mem);
		return -EPIPE;
	}
	return link_write(c, mem, &buf, 1, NULL, NULL);
}

int aic_conn_send_raw(struct aic_conn *c, uint16_t type, const void *a, size_t alen, const void *b,
		      size_t blen)
{
	uint8_t *mem, *corked_at;
	uv_buf_t buf;

	if (c->closing)
		return -EPIPE;
	if (alen + blen > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	corked_at = aic__cork_room(c, AIC_WIRE_HEADER + alen + blen);
	mem = corked_at ? corked_at : malloc(AIC_WIRE_HEADER + alen + blen);
	if (!mem)
		return -ENOMEM;
	aic_wire_header(mem, type, (uint32_t)(alen + blen));
	if (alen)
		memcpy(mem + AIC_WIRE_HEADER, a, alen);
	if (blen)
		memcpy(mem + AIC_WIRE_HEADER + alen, b, blen);
	if (corked_at)
		return 0;
	buf = uv_buf_init((char *)mem, (unsigned)(AIC_WIRE_HEADER + alen + blen));
	return link_write(c, mem, &buf, 1, NULL, NULL);
}

int aic_conn_send(struct aic_conn *c, uint16_t type, json_t *msg)
{
	char *text = NULL;
	uint8_t *mem;
	size_t n = 0;
	uv_buf_t b;

	if (c->closing)
		return -EPIPE;
	if (msg) {
		text = json_dumps(msg, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		n = strlen(text);
	}
	mem = malloc(AIC_WIRE_HEADER + n);
	if (!mem) {
		free(text);
		return -ENOMEM;
	}
	aic_wire_header(mem, type, (uint32_t)n);
	if (n)
		memcpy(mem + AIC_WIRE_HEADER, text, n);
	free(text);
	b = uv_buf_init((char *)mem, (unsigned)(AIC_WIRE_HEADER + n));
	return link_write(c, mem, &b, 1, NULL, NULL);
}

int aic_conn_send_error(struct aic_conn *c, uint16_t type, int code, const char *why)
{
	json_t *m = json_pack("{s:i,s:s}", "code", code, "error", why ? why : aic_strerror(code));
	int rc = m ? aic_conn_send(c, type, m) : -ENOMEM;

	json_decref(m);
	return rc;
}

static void pending_done(struct aic_conn *c)
{
	if (c->pending) {
		c->pending = false;
		c->server->pending--;
	}
}

/*
 * REJECT and close. `retry`: the client did nothing wrong (the server
 * pushed it out, or it was too slow) and may try again (lib/auth.h).
 */
static void reject_as(struct aic_conn *c, const char *why, bool retry)
{
	json_t *m = json_pack("{s:s,s:b}", "error", why, "retry", retry);
	unsigned n = c->server ? ++c->server->rejected : 1;

	/*
	 * A flood must not fill the job's log: the first 16 are logged, then
	 * only the 32nd, the 64th, and so on, with the count.
	 */
	if (n <= 16)
		aic_log_warn("rejected a connection from %s: %s", c->peer, why);
	else if (!(n & (n - 1)))
		aic_log_warn(
			"rejected a connection from %s: %s (%u rejected so far, not all logged)",
			c->peer, why, n);
	aic_conn_send(c, AIC_MSG_REJECT, m);
	json_decref(m);
	aic_conn_close(c);
}

static void reject(struct aic_conn *c, const char *why)
{
	reject_as(c, why, false);
}

/* The server's side of the handshake (conn.h): HELLO, then AUTH. */
static void server_step(struct aic_conn *c, const struct aic_frame *f, json_t *msg)
{
	char proof[AIC_AUTH_PROOF_LEN + 1];
	const char *cn;
	json_t *m, *w;

	if (!c->challenged) {
		cn = json_string_value(json_object_get(msg, "nonce"));
		if (f->type != AIC_MSG_HELLO) {
			reject(c, "the first message must be HELLO");
			return;
		}
		if (!aic_auth_nonce_valid(cn)) {
			reject(c, "a HELLO without a nonce (an older aic?)");
			return;
		}
		if (c->server->hd->key_for) {
			if (c->server->hd->key_for(c, msg, c->key) != 0) {
				reject(c, "refused");
				return;
			}
		} else {
			snprintf(c->key, sizeof(c->key), "%s", c->server->token);
		}
		snprintf(c->cn, sizeof(c->cn), "%s", cn);
		if (aic_auth_nonce(c->sn) != 0) {
			aic_conn_close(c);
			return;
		}
		aic_auth_proof(c->key, "server", c->cn, c->sn, proof);
		m = json_pack("{s:s,s:s}", "nonce", c->sn, "proof", proof);
		c->hello = json_incref(msg);
		c->challenged = true;
		if (!m || aic_conn_send(c, AIC_MSG_CHALLENGE, m) != 0)
			aic_conn_close(c);
		json_decref(m);
		return;
	}
	aic_auth_proof(c->key, "client", c->cn, c->sn, proof);
	if (f->type != AIC_MSG_AUTH) {
		reject(c, "expected AUTH");
		return;
	}
	if (!aic_auth_equal(json_string_value(json_object_get(msg, "proof")), proof,
			    AIC_AUTH_PROOF_LEN)) {
		reject(c, "wrong or missing job token");
		return;
	}
	if (c->on_hello && !c->on_hello(c, c->hello)) {
		reject(c, "refused");
		return;
	}
	pending_done(c);
	c->authed = true;
	w = c->welcome ? c->welcome : json_object();
	c->welcome = NULL;
	/* The client takes the server's liveness timeout over (conn.h). */
	if (w && c->timeout_ms)
		json_object_set_new(w, "heartbeat_ms", json_integer((json_int_t)c->timeout_ms));
	aic_conn_send(c, AIC_MSG_WELCOME, w);
	json_decref(w);
	/* Now the owner may talk: the client acts on what follows WELCOME. */
	if (c->on_frame && !c->closing)
		c->on_frame(c, AIC_MSG_WELCOME, c->hello, f);
	json_decref(c->hello);
	c->hello = NULL;
}

/*
 * The client's side of the handshake: the server must prove the key before
 * it gets the client's proof, and nothing but REJECT is acted on before
 * WELCOME.
 */
static void client_step(struct aic_conn *c, const struct aic_frame *f, json_t *msg)
{
	char proof[AIC_AUTH_PROOF_LEN + 1];
	const char *sn = json_string_value(json_object_get(msg, "nonce"));
	json_t *m;

	if (f->type == AIC_MSG_REJECT) {
		if (c->on_frame)
			c->on_frame(c, f->type, msg, f);
		aic_conn_close(c);
		return;
	}
	if (!c->challenged && f->type == AIC_MSG_CHALLENGE && aic_auth_nonce_valid(sn)) {
		aic_auth_proof(c->key, "server", c->cn, sn, proof);
		if (!aic_auth_equal(json_string_value(json_object_get(msg, "proof")), proof,
				    AIC_AUTH_PROOF_LEN)) {
			aic_log_error("%s does not know the job token: not this job's", c->peer);
			aic_conn_close(c);
			return;
		}
		snprintf(c->sn, sizeof(c->sn), "%s", sn);
		aic_auth_proof(c->key, "client", c->cn, c->sn, proof);
		m = json_pack("{s:s}", "proof", proof);
		c->challenged = true;
		if (!m || aic_conn_send(c, AIC_MSG_AUTH, m) != 0)
			aic_conn_close(c);
		json_decref(m);
		return;
	}
	if (c->challenged && f->type == AIC_MSG_WELCOME) {
		json_int_t ms = json_integer_value(json_object_get(msg, "heartbeat_ms"));
		c->authed = true;
		if (ms > 0)
			aic_conn_set_timeout(c, (uint64_t)ms);
		if (c->on_frame)
			c->on_frame(c, f->type, msg, f);
		return;
	}
	aic_log_error("%s sent %s before authenticating: not this job's", c->peer,
		      aic_msg_name(f->type));
	aic_conn_close(c);
}

static void handle(struct aic_conn *c, const struct aic_frame *f)
{
	json_t *msg = NULL;
	json_error_t jerr;

	if (f->length && f->type < AIC_MSG_DATA)
		msg = json_loadb((const char *)f->payload, f->length, 0, &jerr);
	if (c->authed && f->type == AIC_MSG_PING)
		c->pings++; /* its bytes were life already: nothing else to do */
	else if (!c->authed && c->server_side)
		server_step(c, f, msg);
	else if (!c->authed)
		client_step(c, f, msg);
	else if (c->on_frame)
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
		aic_log_error("connection %s: a frame's reader asked to keep %u bytes", c->peer,
			      skip);
		direct_finish(c, false);
		aic_conn_close(c);
		return;
	}
	c->direct_skip = skip;
	memcpy(c->direct_head, c->buf + AIC_WIRE_HEADER, skip);
	memcpy(dest, c->buf + AIC_WIRE_HEADER + skip, have - skip);
	c->len = 0;
}

#define PREAUTH_BUF (AIC_WIRE_HEADER + AIC_AUTH_FRAME_MAX)

/*
 * Whether the peer has proved the key, so that its frames may be large: a
 * client's peer has once its CHALLENGE checked out (WELCOME, which may be
 * large, comes after it), a server's once AUTH has.
 */
static bool proven(const struct aic_conn *c)
{
	return c->authed || (!c->server_side && c->challenged);
}

/* Reads go into the frame's own place while one is read in place. */
void aic__conn_read_buf(struct aic_conn *c, uv_buf_t *b)
{
	size_t room;

	if (c->direct) {
		*b = uv_buf_init((char *)c->direct + (c->direct_got - c->direct_skip),
				 c->direct_len - c->direct_got);
		return;
	}
	/*
	 * Until the peer has proved the key a frame is small
	 * (AIC_AUTH_FRAME_MAX), so such a connection never holds more than one.
	 */
	if (!proven(c)) {
		if (!c->buf) {
			c->buf = malloc(PREAUTH_BUF);
			if (!c->buf) {
				*b = uv_buf_init(NULL, 0);
				return;
			}
			c->cap = PREAUTH_BUF;
		}
		*b = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
		return;
	}
	if (c->cap - c->len < 65536) {
		size_t cap = c->cap < 131072 ? 131072 : c->cap * 2;
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

/* Handles the whole frames in c's buffer, and keeps the rest. */
static void read_frames(struct aic_conn *c)
{
	struct aic_frame f;
	size_t off = 0;
	long used = 0;

	for (;;) {
		/* A large frame before the handshake is refused on its header alone. */
		if (!proven(c) && !c->closing && c->len - off >= AIC_WIRE_HEADER &&
		    aic_get_u32(c->buf + off + 8) > AIC_AUTH_FRAME_MAX) {
			char why[96];
			snprintf(why, sizeof(why), "a frame of %u bytes before authentication",
				 aic_get_u32(c->buf + off + 8));
			if (c->server_side)
				reject(c, why);
			else {
				aic_log_error("%s sent %s", c->peer, why);
				aic_conn_close(c);
			}
			return;
		}
		if (c->closing || (used = aic_wire_decode(c->buf + off, c->len - off, &f)) <= 0)
			break;
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

/*
 * While a large frame is read in place, the transport is told to report
 * its bytes in steps of up to LOWAT_MAX rather than as each packet lands
 * (aic_link_ops.lowat): a frame of 1 MiB costs the sending side a few
 * wake-ups of this reader instead of one per 64 KiB packet, on the core
 * that is the bottleneck of a transfer between two nodes. Never more than
 * the frame's missing bytes, so the last of them is reported at once; the
 * frame's last LOWAT_MIN bytes, and anything else, as they come.
 */
#define LOWAT_MAX (256u << 10)
#define LOWAT_MIN (64u << 10)

static void conn_lowat(struct aic_conn *c)
{
	uint32_t missing = c->direct ? c->direct_len - c->direct_got : 0, want = 1;

	if (!c->ops->lowat || c->closing)
		return;
	if (missing >= LOWAT_MIN)
		want = missing < LOWAT_MAX ? missing : LOWAT_MAX;
	if (want == c->lowat || (want == 1 && !c->lowat))
		return;
	c->lowat = c->ops->lowat(c, want) == 0 ? want : 1;
}

void aic__conn_lowat_any(struct aic_conn *c)
{
	if (c->lowat > 1 && c->ops->lowat && !c->closing) {
		c->ops->lowat(c, 1);
		c->lowat = 1;
	}
}

void aic__conn_received(struct aic_conn *c, ssize_t n)
{
	if (n < 0) {
		aic_conn_close(c);
		return;
	}
	/* Any bytes are life, those of a frame read in place too (liveness.c). */
	if (n > 0)
		c->rx_ms = uv_now(c->loop);
	aic__cork_begin();
	if (c->direct) {
		c->direct_got += (uint32_t)n;
		if (c->direct_got == c->direct_len)
			direct_finish(c, true);
	} else {
		c->len += (size_t)n;
		read_frames(c);
	}
	conn_lowat(c);
	aic__cork_end();
}

struct aic_conn *aic__conn_new(const struct aic_link_ops *ops, void *link, uv_loop_t *loop)
{
	struct aic_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ops = ops;
	c->link = link;
	c->loop = loop;
	c->refs = 1;
	c->next = live;
	if (live)
		live->prev = c;
	live = c;
	return c;
}

/* A server's connections past their handshake's deadline are closed. */
static void sweep(uv_timer_t *t)
{
	struct aic_server *srv = t->data;
	uint64_t now = aic_now_ms();
	struct aic_conn *c, *next;
	char why[96];

	for (c = live; c; c = next) {
		next = c->next;
		if (c->server == srv && c->pending && now - c->since_ms >= srv->hello_ms) {
			snprintf(why, sizeof(why), "no handshake within %llu ms",
				 (unsigned long long)srv->hello_ms);
			reject_as(c, why, true);
		}
	}
	if (!srv->pending)
		uv_timer_stop(t);
}

void aic__server_init(uv_loop_t *loop, struct aic_server *srv)
{
	const char *ms = getenv("AIC_NET_HELLO_MS"), *max = getenv("AIC_NET_MAX_PENDING");

	srv->hello_ms = ms && atoll(ms) > 0 ? (uint64_t)atoll(ms) : AIC_CONN_HELLO_MS;
	srv->max_pending = max && atoi(max) > 0 ? (unsigned)atoi(max) : AIC_CONN_MAX_PENDING;
	srv->pending = 0;
	uv_timer_init(loop, &srv->sweep);
	srv->sweep.data = srv;
}

void aic__server_close(struct aic_server *srv)
{
	if (!uv_is_closing((uv_handle_t *)&srv->sweep))
		uv_close((uv_handle_t *)&srv->sweep, NULL);
}

void aic__conn_accepted(struct aic_conn *c, struct aic_server *srv)
{
	c->server_side = true;
	c->on_hello = srv->hd->on_hello;
	c->on_frame = srv->hd->on_frame;
	c->on_close = srv->hd->on_close;
	c->direct_begin = srv->hd->direct_begin;
	c->direct_end = srv->hd->direct_end;
	c->owner = srv->owner;
	c->server = srv;
	c->since_ms = aic_now_ms();
	c->pending = true;
	srv->pending++;
	/*
	 * At the cap, the oldest connection that has not even sent a valid
	 * HELLO goes, else the oldest of all: a real client sends HELLO at once
	 * and finishes in two round trips, so the oldest is the likeliest to be
	 * one that never will. (The list is newest first.) It is told it may
	 * try again: it may be a real client unlucky in a flood.
	 */
	if (srv->pending > srv->max_pending) {
		struct aic_conn *o, *oldest = NULL, *oldest_silent = NULL;
		for (o = live; o; o = o->next) {
			if (o->server != srv || !o->pending || o == c)
				continue;
			oldest = o;
			if (!o->challenged)
				oldest_silent = o;
		}
		if (oldest_silent || oldest)
			reject_as(oldest_silent ? oldest_silent : oldest,
				  "too many connections waiting to authenticate", true);
	}
	if (!uv_is_active((uv_handle_t *)&srv->sweep)) {
		uint64_t every = srv->hello_ms / 4 + 1;
		uv_timer_start(&srv->sweep, sweep, every, every);
	}
}

void aic__conn_connected(struct aic_conn *c)
{
	if (aic_auth_nonce(c->cn) != 0 ||
	    json_object_set_new(c->hello, "nonce", json_string(c->cn)) != 0 ||
	    aic_conn_send(c, AIC_MSG_HELLO, c->hello) != 0) {
		aic_log_error("cannot send HELLO to %s", c->peer);
		aic_conn_close(c);
	}
	json_decref(c->hello);
	c->hello = NULL;
}

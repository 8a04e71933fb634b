/*
 * A framed, authenticated connection on the engine's libuv loop (the wire
 * format is lib/wire.h; control payloads are JSON objects), over a link of
 * some transport (struct aic_link_ops: TCP today, launcher/net/tcp.c).
 *
 * Servers: aic_server_start() listens; the first frame of every accepted
 * connection must be HELLO with the job token, otherwise the peer gets
 * REJECT, the connection is closed, a warning is logged and the server goes
 * on. Clients: aic_conn_connect() sends HELLO (the caller's object plus the
 * token) as soon as it is connected.
 *
 * Ownership: connections free themselves after their close callback has
 * run; aic_conn_close() may be called at any time, more than once.
 */
#ifndef AIC_NET_CONN_H
#define AIC_NET_CONN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "wire.h"

struct aic_conn;

/*
 * A frame arrived: `msg` is its JSON payload, borrowed for the call (NULL for
 * data-plane types, whose raw payload is in f).
 */
typedef void (*aic_frame_cb)(struct aic_conn *c, uint16_t type, json_t *msg,
			     const struct aic_frame *f);
/* The connection is gone (peer closed, error, or aic_conn_close()). */
typedef void (*aic_close_cb)(struct aic_conn *c);
/* A client's HELLO passed the token check; return false to reject it anyway. */
typedef bool (*aic_hello_cb)(struct aic_conn *c, json_t *hello);

/*
 * Reading a large frame straight into its final place (an arena block, a
 * weight slot) instead of the connection's buffer. Once an authenticated
 * connection with direct_begin set has the header of a frame of at least
 * AIC_CONN_DIRECT_MIN payload bytes and the first AIC_CONN_DIRECT_HEAD of
 * them (`head`, `have` bytes), direct_begin may return where payload bytes
 * [*skip, length) are to go (*skip <= have: the first *skip bytes stay
 * with the connection) and set *arg, or return NULL: the frame is buffered
 * as usual. When the frame is whole, on_frame gets it with f->body set (see
 * struct aic_frame); then, and also when the connection closes before the
 * frame is whole (whole = false), direct_end(c, type, dest, arg, whole) is
 * called exactly once: what begin reserved is the owner's to release there.
 */
#define AIC_CONN_DIRECT_MIN  65536
#define AIC_CONN_DIRECT_HEAD 64
typedef uint8_t *(*aic_direct_begin_cb)(struct aic_conn *c, uint16_t type, uint32_t length,
					const uint8_t *head, uint32_t have, uint32_t *skip,
					void **arg);
typedef void (*aic_direct_end_cb)(struct aic_conn *c, uint16_t type, uint8_t *dest, void *arg,
				  bool whole);

/*
 * A link's transport: how bytes move, nothing about frames. conn.c does the
 * framing, the token check and in-place reads over any transport; a
 * transport moves bytes, and one more (RDMA, UCX) is one more file beside
 * tcp.c that fills this table and makes connections with aic__conn_new
 * (launcher/net/internal.h).
 *
 * Receiving: the transport asks aic__conn_read_buf() where the next bytes
 * go (the connection's buffer, or the final place of a frame read in place:
 * see aic_direct_begin_cb) and reports what came with aic__conn_received().
 */
struct aic_link_ops {
	const char *name; /* "tcp", for messages */
	/*
	 * Writes the n pieces bufs in order without copying them (they stay as
	 * they are until done) and frees `mem` (may be NULL) once written; then
	 * done(arg, status), if given, is called once: after the transport has
	 * them all, or with an error when the link went first, or from within
	 * this call when it fails. Returns 0 or a negative error.
	 */
	int (*write)(struct aic_conn *c, void *mem, const uv_buf_t *bufs, unsigned n,
		     void (*done)(void *arg, int status), void *arg);
	/* Ends the link; the transport calls aic__conn_closed() once nothing of it is in use. */
	void (*close)(struct aic_conn *c);
	/*
	 * Whether a channel that asks for compression gets zstd frames on this
	 * link: worth it where the link is slower than zstd (TCP), not on a link
	 * faster than the codec.
	 */
	bool zstd;
};

struct aic_conn {
	const struct aic_link_ops *ops;
	void *link; /* the transport's own state */
	uint8_t *buf;
	size_t len, cap;
	aic_direct_begin_cb direct_begin;
	aic_direct_end_cb direct_end;
	/* The frame being read in place: its destination (NULL: none), what was read of it. */
	uint8_t *direct;
	void *direct_arg;
	uint16_t direct_type;
	uint32_t direct_len, direct_got, direct_skip;
	uint8_t direct_head[AIC_CONN_DIRECT_HEAD];
	bool authed;
	bool closing;
	bool server_side;
	char peer[64]; /* "addr:port", for messages */
	const char *token;
	aic_frame_cb on_frame;
	aic_close_cb on_close;
	aic_hello_cb on_hello;
	void *owner;		      /* the head or agent */
	void *data;		      /* the owner's per-connection record */
	struct aic_server *server;    /* the server that accepted it, or NULL */
	json_t *hello;		      /* client side: sent on connect */
	json_t *welcome;	      /* server side: what on_hello wants WELCOME to carry */
	struct aic_conn *prev, *next; /* every live connection (conn.c) */
};

/* A TCP server (tcp.c): its accepted connections get these callbacks. */
struct aic_server {
	uv_tcp_t tcp;
	const char *token;
	aic_hello_cb on_hello;
	aic_frame_cb on_frame;
	aic_close_cb on_close;
	aic_direct_begin_cb direct_begin; /* given to each accepted connection */
	aic_direct_end_cb direct_end;
	void *owner;
	int port;
	unsigned rejected; /* connections refused so far */
};

/* Listens on addr (NULL: all) and an ephemeral port (srv->port). Returns 0 or a uv error. */
int aic_server_start(uv_loop_t *loop, struct aic_server *srv, const char *addr);
void aic_server_stop(struct aic_server *srv);

/* Connects to host:port over TCP and sends `hello` (stolen) with the token added. */
struct aic_conn *aic_conn_connect(uv_loop_t *loop, const char *host, int port, const char *token,
				  json_t *hello, aic_frame_cb on_frame, aic_close_cb on_close,
				  void *owner);

/* Sends a JSON message (borrowed). Returns 0 or a negative error; never blocks. */
int aic_conn_send(struct aic_conn *c, uint16_t type, json_t *msg);

/*
 * Sends a frame already built in memory (header included) without copying:
 * `frame` points into `mem`, which is freed once written.
 */
int aic_conn_send_owned(struct aic_conn *c, void *mem, const void *frame, size_t len);

/*
 * Sends the n pieces bufs, a whole frame header included, without copying
 * them: they must stay as they are until done(arg, status) is called (once:
 * after the kernel has them all, or with an error when the connection
 * closed first, or from within this call when it fails). `mem` (may be
 * NULL) is freed then. Returns 0 or a negative error.
 */
int aic_conn_sendv(struct aic_conn *c, void *mem, const uv_buf_t *bufs, unsigned n,
		   void (*done)(void *arg, int status), void *arg);

/* Sends a binary payload made of two parts (copied). */
int aic_conn_send_raw(struct aic_conn *c, uint16_t type, const void *a, size_t alen, const void *b,
		      size_t blen);

/*
 * An error answering a request: `type` (ERROR, or PUT_ERR for pipelined
 * puts) with {"code": code, "error": why}, why NULL for aic_strerror(code).
 * Every error reply of the engine is built here, so workers parse one shape.
 */
int aic_conn_send_error(struct aic_conn *c, uint16_t type, int code, const char *why);

void aic_conn_close(struct aic_conn *c);

/* Closes every connection still open (at exit, so each is freed properly). */
void aic_conn_close_all(void);

/* Milliseconds since an arbitrary start (monotonic). */
uint64_t aic_now_ms(void);

#endif

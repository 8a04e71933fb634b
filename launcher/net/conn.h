/*
 * A framed, authenticated connection on the engine's libuv loop (the wire
 * format is lib/wire.h; control payloads are JSON objects), over a link of
 * some transport (struct aic_link_ops: TCP, launcher/net/tcp.c, and Unix
 * domain sockets on one node, unix.c).
 *
 * Every connection starts with a mutual handshake over a shared key
 * (lib/auth.h), so that neither side acts on a frame from a peer that has
 * not proved it knows the key, and the key never travels:
 *
 *   client -> server  HELLO      {role, identity..., "nonce": cn}
 *   server -> client  CHALLENGE  {"nonce": sn, "proof": HMAC(key, "aic-server|cn|sn")}
 *   client -> server  AUTH       {"proof": HMAC(key, "aic-client|cn|sn")}
 *   server -> client  WELCOME    {what on_hello put in c->welcome}
 *
 * The key is the job token, except for a worker connecting to its agent:
 * a worker's AIC_TOKEN is a credential for its stage,
 * HMAC(token, "aic-worker|" stage) (aic_auth_worker_key), which its agent
 * derives from the job token and the stage the HELLO names (the server's
 * key_for). The job token itself is in no worker's environment: a worker,
 * or whoever reads its environment, can reach its stage's endpoints on the
 * agents and nothing else (not the head, not an agent as an agent).
 *
 * Servers: aic_server_start() listens. Before the handshake is over a
 * connection may send frames of at most AIC_AUTH_FRAME_MAX payload bytes
 * (a larger header is refused as soon as it arrives, before its payload),
 * must finish within the server's hello_ms (AIC_NET_HELLO_MS, default 10 s),
 * and at most max_pending (AIC_NET_MAX_PENDING, default 64) such
 * connections are kept: a new one pushes out the oldest that has not sent
 * a valid HELLO, else the oldest (its REJECT says "retry": true, as does
 * one for a deadline passed: the client may try again). Anything else
 * first, a wrong proof, or on_hello saying no is answered with REJECT; the
 * connection is closed, a warning is logged and the server goes on. Once
 * WELCOME has gone, on_frame gets (AIC_MSG_WELCOME, the HELLO): the owner
 * may start sending then, never from on_hello.
 *
 * Clients: aic_conn_connect() sends HELLO as soon as it is connected, and
 * checks the server's proof: a server that cannot prove the key gets no
 * AUTH and the connection closes. Before WELCOME the client acts on
 * nothing but REJECT (on_frame gets it, then the connection closes); on
 * WELCOME on_frame gets it and the connection is authenticated.
 *
 * Liveness (aic_conn_set_timeout): a connection given a timeout T counts
 * every byte it receives as a sign of life, a frame read in place included
 * (a slow multi-GiB transfer is not silence). Once authenticated, it sends
 * PING whenever it has sent nothing for T/4, and a connection that has
 * received nothing for T is closed: the error is logged naming the peer
 * (c->name where the owner set it), c->why says why, and the close
 * callback runs as for any other close. Before authentication T bounds the
 * whole handshake, the TCP connect included, however the peer trickles
 * its bytes: a server that accepts and never answers cannot hold a client.
 * A server that set a timeout on a connection before its WELCOME (from
 * on_hello) tells the client in it ("heartbeat_ms"), and the client takes
 * it over, so both ends of a link use the server's T. Connections without
 * a timeout (a worker's to its agent: its death is seen by its exit) send
 * no PING and never expire.
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

#include "auth.h"
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
/* A client proved the key: return false to reject it anyway (it must not send). */
typedef bool (*aic_hello_cb)(struct aic_conn *c, json_t *hello);
/*
 * The key a client's HELLO must prove into key[AIC_AUTH_KEY_LEN + 1]:
 * return 0, or a negative code to refuse it. NULL: the server's token.
 */
typedef int (*aic_key_cb)(struct aic_conn *c, json_t *hello, char *key);

/* The default liveness timeout, the job spec's failure_timeout (see above). */
#define AIC_CONN_TIMEOUT_MS 10000

/* The defaults of a server's limits before the handshake (see above). */
#define AIC_CONN_HELLO_MS    10000
#define AIC_CONN_MAX_PENDING 64

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
	/*
	 * A hint, or NULL: nothing is to be done with fewer than `bytes` new
	 * bytes (the rest of a large frame read in place), so the transport
	 * may report them only once that many have come, instead of as each
	 * packet lands (TCP: SO_RCVLOWAT, which spares the sender's side a
	 * wake-up per packet). conn.c never asks for more than the frame's
	 * missing bytes, and 1 means any. Returns 0 or a negative error.
	 */
	int (*lowat)(struct aic_conn *c, uint32_t bytes);
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
	uint32_t lowat; /* what the transport was last told (aic_link_ops.lowat); 0: never told */
	bool authed;
	bool closing;
	bool server_side;
	bool pending;	   /* server side: counted in server->pending */
	bool challenged;   /* the server sent CHALLENGE, or the client AUTH */
	/* Server: when accepted (aic_now_ms); client: when its handshake deadline began (uv_now). */
	uint64_t since_ms;
	/* Liveness (aic_conn_set_timeout): 0, or T in ms, and the loop's times (uv_now) of the last bytes. */
	uint64_t timeout_ms;
	uint64_t rx_ms, tx_ms, tick_ms;
	unsigned pings; /* PINGs received */
	bool beating;	/* beat is initialised, and holds the connection until closed */
	uv_timer_t beat;
	uv_loop_t *loop;
	unsigned refs;	/* the link, and beat while it is open: freed at 0 */
	char name[128]; /* what the owner calls the peer ("the head"), for messages, or "" */
	char why[96];	/* why conn.c closed it itself ("no frame for 10 s"), or "" */
	char key[AIC_AUTH_KEY_LEN + 1];
	char cn[AIC_AUTH_NONCE_LEN + 1], sn[AIC_AUTH_NONCE_LEN + 1];
	char peer[64]; /* "addr:port", for messages */
	aic_frame_cb on_frame;
	aic_close_cb on_close;
	aic_hello_cb on_hello;
	void *owner;		      /* the head or agent */
	void *data;		      /* the owner's per-connection record */
	struct aic_server *server;    /* the server that accepted it, or NULL */
	json_t *hello;		      /* client: sent on connect; server: received, until AUTH */
	json_t *welcome;	      /* server side: what on_hello wants WELCOME to carry */
	struct aic_conn *prev, *next; /* every live connection (conn.c) */
	/* Small frames sent while frames are handled, written together after (conn.c). */
	uint8_t *tx;
	size_t tx_len, tx_cap;
	struct aic_conn *tx_next; /* on the list of connections with tx_len > 0 */
};

/*
 * While the frames of a read are handled (on_frame), fn(arg) may be put off
 * until they all are, once however often it is asked for: returns true, or
 * false when no frames are being handled (or too many calls wait), and the
 * caller does the work now. aic_conn_after_cancel(arg) forgets the calls
 * put off with arg (it is being freed). Their sends are written with the
 * read's answers (cork.c).
 */
bool aic_conn_after_frames(void (*fn)(void *arg), void *arg);
void aic_conn_after_cancel(void *arg);

/* A TCP server (tcp.c): its accepted connections get these callbacks. */
/* What handles the connections a server accepts; NULL members: none. */
struct aic_handlers {
	aic_key_cb key_for;
	aic_hello_cb on_hello;
	aic_frame_cb on_frame;
	aic_close_cb on_close;
	aic_direct_begin_cb direct_begin;
	aic_direct_end_cb direct_end;
};

struct aic_server {
	uv_tcp_t tcp;
	/* Its Unix domain socket (aic_server_listen_unix): pipe is open when unix_name[0]. */
	uv_pipe_t pipe;
	char unix_name[48];
	uv_timer_t sweep; /* closes connections past hello_ms */
	const char *token;
	const struct aic_handlers *hd; /* given to each accepted connection */
	void *owner;
	int port;
	unsigned rejected;    /* connections refused so far */
	unsigned pending;     /* connections not yet authenticated */
	unsigned max_pending; /* set by aic_server_start */
	uint64_t hello_ms;
};

/*
 * Listens on addr (NULL: all) and an ephemeral port (srv->port), with the
 * limits of AIC_NET_HELLO_MS and AIC_NET_MAX_PENDING when set, for
 * connections that prove `token` (or the key hd's key_for chooses), each
 * handled by hd's callbacks with `owner`. token, hd and owner are borrowed:
 * they must outlive the server. Returns 0 or a uv error; the caller says
 * what a failure means.
 */
int aic_server_start(uv_loop_t *loop, struct aic_server *srv, const char *addr, const char *token,
		     const struct aic_handlers *hd, void *owner);
void aic_server_stop(struct aic_server *srv);

/*
 * Listens for the same connections on a Unix domain socket as well, in the
 * abstract namespace of this network namespace under a random name, which
 * goes to srv->unix_name as "@name" (the form AIC_AGENT_UNIX takes). Only
 * processes in the server's network namespace can reach it (a sandbox with
 * a network namespace of its own cannot), and every connection proves the
 * key as over TCP: the name is no secret. aic_server_stop closes it.
 * Returns 0 or a negative error (srv->unix_name stays "": TCP alone serves).
 */
int aic_server_listen_unix(struct aic_server *srv);

/*
 * Connects to host:port over TCP and authenticates with `key` (the job
 * token, or a worker's credential; borrowed, it must outlive the
 * connection): `hello` (stolen) gets a nonce and goes first.
 */
struct aic_conn *aic_conn_connect(uv_loop_t *loop, const char *host, int port, const char *key,
				  json_t *hello, aic_frame_cb on_frame, aic_close_cb on_close,
				  void *owner);

/*
 * Keeps c's memory past its close until aic_conn_release: for an owner that
 * holds c beyond its close callback, which then finds c->closing set and
 * sends nothing on it (a send on it fails with -EPIPE).
 */
void aic_conn_hold(struct aic_conn *c);
void aic_conn_release(struct aic_conn *c);

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

/*
 * Gives c a liveness timeout of timeout_ms (see "Liveness" above; 0: none),
 * counted from now. Returns 0, or a negative error (the connection is
 * closing).
 */
int aic_conn_set_timeout(struct aic_conn *c, uint64_t timeout_ms);

/* Closes every connection still open (at exit, so each is freed properly). */
void aic_conn_close_all(void);

/*
 * spin.c: after aic_spin_expect, the loop polls without sleeping for
 * AIC_SPIN_US microseconds while a core is free for it (lib/spin.h).
 * aic_spin_start: once per loop (a bad AIC_SPIN_US is warned of); its
 * handles keep the loop from nothing and close with the loop's other
 * handles. aic_spin_expect: a worker's control request was just handled,
 * and its next one is expected within microseconds (never for data
 * frames); does nothing before aic_spin_start or with AIC_SPIN_US=0.
 */
void aic_spin_start(uv_loop_t *loop);
void aic_spin_expect(void);

/* Milliseconds since an arbitrary start (monotonic). */
uint64_t aic_now_ms(void);

#endif

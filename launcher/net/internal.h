/*
 * What launcher/net/ shares between the framing (conn.c) and its
 * transports (tcp.c, and any other beside it). Private to this folder: the
 * rest of the engine uses conn.h.
 *
 * A transport makes a connection with aic__conn_new, feeds it the bytes it
 * receives (aic__conn_read_buf says where they go, aic__conn_received says
 * how many came) and, once its link is closed and nothing of it is in use,
 * calls aic__conn_closed, which frees the connection.
 *
 *   conn.c      framing, the handshake, in-place reads, sends
 *   liveness.c  PINGs and deadlines (aic_conn_set_timeout)
 *   cork.c      small frames sent while frames are handled, written together
 *   tcp.c       the TCP transport, and the stream links unix.c's use too
 *   unix.c      a server's Unix domain socket (aic_server_listen_unix)
 *   spin.c      the loop polls a while after a control request before it sleeps
 */
#ifndef AIC_NET_INTERNAL_H
#define AIC_NET_INTERNAL_H

#include <sys/types.h>
#include <uv.h>

#include "conn.h"

/*
 * A connection over a link of `ops`, whose state is `link` (the
 * transport's), on `loop` (its liveness timer's). NULL: no memory.
 */
struct aic_conn *aic__conn_new(const struct aic_link_ops *ops, void *link, uv_loop_t *loop);

/* A server's limits (from the environment) and its deadline timer, before it listens. */
void aic__server_init(uv_loop_t *loop, struct aic_server *srv);

/* Closes what aic__server_init opened. */
void aic__server_close(struct aic_server *srv);

/*
 * A server's new connection: its callbacks come from srv; it waits for
 * HELLO, and counts against srv's limits until authenticated.
 */
void aic__conn_accepted(struct aic_conn *c, struct aic_server *srv);

/* A client's link is up: HELLO goes now. */
void aic__conn_connected(struct aic_conn *c);

/* Where the next received bytes go: the buffer, or a frame's own place (conn.h). */
void aic__conn_read_buf(struct aic_conn *c, uv_buf_t *b);

/* n bytes arrived where aic__conn_read_buf said (n < 0: the link failed, it is closed). */
void aic__conn_received(struct aic_conn *c, ssize_t n);

/*
 * The transport reports any bytes again, not only a large frame's next
 * step (aic_link_ops.lowat): liveness.c, when a link has been quiet a
 * while, so that a slow link's bytes still count as life.
 */
void aic__conn_lowat_any(struct aic_conn *c);

/* The link is closed: the owner's close callback runs and the connection is freed. */
void aic__conn_closed(struct aic_conn *c);

/* One hold on c's memory fewer (c->refs): freed at the last. */
void aic__conn_unref(struct aic_conn *c);

/*
 * cork.c: between aic__cork_begin and aic__cork_end (conn.c, around handling
 * what one read brought), aic__cork_room gives where a small frame of n
 * bytes goes in c's tx buffer (NULL: send it now); the end writes every
 * connection's. aic__cork_flush writes c's now (before any other send on
 * it); aic__cork_forget drops them (c is closed).
 */
void aic__cork_begin(void);
void aic__cork_end(void);
uint8_t *aic__cork_room(struct aic_conn *c, size_t n);
void aic__cork_flush(struct aic_conn *c);
void aic__cork_forget(struct aic_conn *c);

/*
 * tcp.c: accepts a connection on a listening TCP or Unix stream of srv's,
 * and starts reading it. NULL: none (no memory, or accept failed).
 */
struct aic_conn *aic__stream_accept(uv_stream_t *server, struct aic_server *srv);

/* unix.c: closes srv's Unix domain socket, if it has one. */
void aic__unix_stop(struct aic_server *srv);

/* liveness.c: closes the liveness timer, if any (its close drops its hold on c). */
void aic__conn_stop_beat(struct aic_conn *c);

#endif

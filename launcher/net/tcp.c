/*
 * The TCP transport (see struct aic_link_ops in conn.h): libuv streams, the
 * server the head and the agents listen with, and outgoing connections.
 * Writes are libuv's writev, so a frame's pieces go from where they are.
 * Its links also carry unix.c's connections (a uv_pipe_t is a stream as
 * well): only how they are accepted differs.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "log.h"

struct tcp_link {
	/* Either, as the connection's ops say; both begin with the uv_stream_t used here. */
	union {
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	};
	struct aic_conn *c;
};

struct write_req {
	uv_write_t req;
	void *mem;
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

/* The most pieces a write is tried with at once (a frame's header and payload parts). */
#define TRY_BUFS 8

/*
 * Writes what it can at once (uv_try_write): 0 when all was written, -1
 * when nothing was, else how many of bufs' pieces are left, copied to
 * left (the first advanced past what was written). libuv tries it only
 * when nothing is queued, so frames keep their order. A write that libuv
 * queues instead (uv_write) is written at once all the same, but costs the
 * loop an epoll_ctl on its next turn (the watcher re-armed), one per frame
 * sent: 25 a step in grpo-toy's agent.
 */
static int try_write(struct tcp_link *l, const uv_buf_t *bufs, unsigned n, uv_buf_t *left)
{
	size_t total = 0;
	unsigned i;
	int r;

	if (n > TRY_BUFS)
		return -1;
	for (i = 0; i < n; i++)
		total += bufs[i].len;
	r = uv_try_write((uv_stream_t *)&l->tcp, bufs, n);
	if (r <= 0)
		return -1; /* EAGAIN (something queued, say), or an error uv_write reports */
	if ((size_t)r == total)
		return 0;
	for (i = 0; i < n && (size_t)r >= bufs[i].len; i++)
		r -= (int)bufs[i].len;
	memcpy(left, bufs + i, (n - i) * sizeof(*left));
	left[0].base += r;
	left[0].len -= (size_t)r;
	return (int)(n - i);
}

static int tcp_write(struct aic_conn *c, void *mem, const uv_buf_t *bufs, unsigned n,
		     void (*done)(void *arg, int status), void *arg)
{
	struct tcp_link *l = c->link;
	struct write_req *w;
	uv_buf_t left[TRY_BUFS];
	int rc = -ENOMEM;

	if (!done) {
		int k = try_write(l, bufs, n, left);
		if (!k) {
			free(mem);
			return 0;
		}
		if (k > 0) {
			bufs = left;
			n = (unsigned)k;
		}
	}
	w = calloc(1, sizeof(*w));
	if (w) {
		w->mem = mem;
		w->done = done;
		w->arg = arg;
		/* libuv keeps its own copy of the array, not of what it points to. */
		rc = uv_write(&w->req, (uv_stream_t *)&l->tcp, bufs, n, wrote);
		if (!rc)
			return 0;
		free(w);
	}
	free(mem);
	if (done)
		done(arg, rc);
	return rc;
}

static void tcp_closed(uv_handle_t *h)
{
	struct tcp_link *l = h->data;

	aic__conn_closed(l->c);
	free(l);
}

static void tcp_close(struct aic_conn *c)
{
	struct tcp_link *l = c->link;

	uv_close((uv_handle_t *)&l->tcp, tcp_closed);
}

/*
 * SO_RCVLOWAT: the kernel neither wakes the loop nor says the socket is
 * readable until `bytes` are there (a read still returns whatever is).
 */
static int tcp_lowat(struct aic_conn *c, uint32_t bytes)
{
	struct tcp_link *l = c->link;
	int v = bytes > INT_MAX ? INT_MAX : (int)bytes;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&l->tcp, &fd) != 0)
		return -EBADF;
	return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) ? -errno : 0;
}

static const struct aic_link_ops tcp_ops = {
	.name = "tcp",
	.write = tcp_write,
	.close = tcp_close,
	.zstd = true,
	.lowat = tcp_lowat,
};

/* A Unix domain socket on one node: faster than any codec, so no zstd. */
static const struct aic_link_ops unix_ops = {
	.name = "unix",
	.write = tcp_write,
	.close = tcp_close,
	.zstd = false,
};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)suggested;
	aic__conn_read_buf(((struct tcp_link *)h->data)->c, b);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	aic__conn_received(((struct tcp_link *)s->data)->c, n);
}

static struct aic_conn *link_new(uv_loop_t *loop, bool pipe)
{
	struct tcp_link *l = calloc(1, sizeof(*l));
	struct aic_conn *c = l ? aic__conn_new(pipe ? &unix_ops : &tcp_ops, l, loop) : NULL;

	if (!c) {
		free(l);
		return NULL;
	}
	if (pipe)
		uv_pipe_init(loop, &l->pipe, 0);
	else
		uv_tcp_init(loop, &l->tcp);
	l->tcp.data = l;
	l->c = c;
	return c;
}

static struct aic_conn *tcp_conn_new(uv_loop_t *loop)
{
	return link_new(loop, false);
}

struct aic_conn *aic__stream_accept(uv_stream_t *server, struct aic_server *srv)
{
	struct aic_conn *c = link_new(server->loop, server->type == UV_NAMED_PIPE);
	struct tcp_link *l;

	if (!c)
		return NULL;
	l = c->link;
	if (uv_accept(server, (uv_stream_t *)&l->tcp) != 0) {
		aic_conn_close(c);
		return NULL;
	}
	if (server->type == UV_TCP)
		uv_tcp_nodelay(&l->tcp, 1);
	aic__conn_accepted(c, srv);
	uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, read_cb);
	return c;
}

static void peer_name(struct aic_conn *c)
{
	struct tcp_link *l = c->link;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[48] = "?";

	if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
			 ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
						 : 0);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct aic_conn *c;

	if (status < 0)
		return;
	c = aic__stream_accept(server, server->data);
	if (c)
		peer_name(c);
}

int aic_server_start(uv_loop_t *loop, struct aic_server *srv, const char *addr, const char *token,
		     const struct aic_handlers *hd, void *owner)
{
	struct sockaddr_in sa;
	struct sockaddr_storage got;
	int rc, len = sizeof(got);

	srv->token = token;
	srv->hd = hd;
	srv->owner = owner;

	rc = uv_ip4_addr(addr ? addr : "0.0.0.0", 0, &sa);
	if (rc)
		return rc;
	aic__server_init(loop, srv);
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
	aic__unix_stop(srv);
	aic__server_close(srv);
}

struct connect_req {
	uv_connect_t req;
	struct aic_conn *c;
};

static void connected(uv_connect_t *req, int status)
{
	struct connect_req *r = (struct connect_req *)req;
	struct aic_conn *c = r->c;
	struct tcp_link *l = c->link;

	free(r);
	if (status < 0) {
		aic_log_error("cannot connect to %s: %s", c->peer, uv_strerror(status));
		aic_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&l->tcp, 1);
	uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, read_cb);
	aic__conn_connected(c);
}

struct aic_conn *aic_conn_connect(uv_loop_t *loop, const char *host, int port, const char *key,
				  json_t *hello, aic_frame_cb on_frame, aic_close_cb on_close,
				  void *owner)
{
	struct aic_conn *c = tcp_conn_new(loop);
	struct connect_req *r;
	struct sockaddr_in sa;

	if (!c) {
		json_decref(hello);
		return NULL;
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	c->hello = hello ? hello : json_object();
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->owner = owner;
	r = calloc(1, sizeof(*r));
	if (!r || uv_ip4_addr(host, port, &sa) != 0 ||
	    uv_tcp_connect(&r->req, &((struct tcp_link *)c->link)->tcp, (struct sockaddr *)&sa,
			   connected) != 0) {
		free(r);
		aic_conn_close(c);
		return NULL;
	}
	r->c = c;
	return c;
}

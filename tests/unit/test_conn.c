/*
 * launcher/net/conn.c's handshake, with real sockets on a libuv loop: a
 * client and a server that share the key become authenticated and each
 * learns of it once; with different keys neither acts on anything. Against
 * a fake server (a child process that does not know the key and sends
 * SPAWN regardless), the client sends neither the key nor a proof, acts on
 * no frame, and closes the connection.
 *
 * Liveness (conn.h): an idle link whose server set a timeout carries PINGs
 * both ways and stays open past the timeout; a client whose server sends
 * nothing after WELCOME closes the link, saying why; a server that accepts
 * and never answers cannot hold a client past its handshake deadline; and
 * a large frame read in place that trickles in over several timeouts
 * keeps its link alive. A large frame read in place wakes the reader in
 * steps (SO_RCVLOWAT), never for more than is missing.
 *
 * Writes: a frame larger than the sender's socket takes at once, sent in
 * pieces, and small frames sent after it arrive whole and in order (what
 * tcp.c writes at once and what it leaves to libuv join up).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aic_test.h"
#include "conn.h"
#include "wire.h"

static const char key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char other[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/* What the callbacks saw. */
struct seen {
	int client_frames[32], server_frames[32]; /* by type (control types only) */
	int hellos, closed;
};
static struct seen seen;

static void client_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	(void)m;
	(void)f;
	if (type < 32)
		seen.client_frames[type]++;
	/* A client that acted on SPAWN from a fake server has failed: end there. */
	if (type == AIC_MSG_SPAWN)
		aic_conn_close(c);
	/* Authenticated: the client talks, then hangs up (the test is over). */
	if (type == AIC_MSG_WELCOME) {
		json_t *s = json_object();
		aic_conn_send(c, AIC_MSG_STATUS, s);
		json_decref(s);
	}
}

static void server_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	(void)m;
	(void)f;
	if (type < 32)
		seen.server_frames[type]++;
	if (type == AIC_MSG_STATUS)
		aic_conn_close(c);
}

static bool server_hello(struct aic_conn *c, json_t *hello)
{
	(void)c;
	(void)hello;
	seen.hellos++;
	return true;
}

static void closed(struct aic_conn *c)
{

	seen.closed++;
	/* Once the client's connection goes, so does the server: the loop ends. */
	if (!c->server_side && c->owner)
		aic_server_stop(c->owner);
}

static void pair(const char *client_key)
{
	static const struct aic_handlers hd = {.on_hello = server_hello,
					       .on_frame = server_frame,
					       .on_close = closed};
	struct aic_server srv = {0};
	uv_loop_t loop;

	memset(&seen, 0, sizeof(seen));
	uv_loop_init(&loop);
	assert_int_equal(aic_server_start(&loop, &srv, "127.0.0.1", key, &hd, NULL), 0);
	assert_non_null(aic_conn_connect(&loop, "127.0.0.1", srv.port, client_key,
					 json_pack("{s:s}", "role", "cli"), client_frame, closed,
					 &srv));
	uv_run(&loop, UV_RUN_DEFAULT);
	aic_conn_close_all();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void same_key_authenticates(void **state)
{
	(void)state;
	pair(key);
	assert_int_equal(seen.hellos, 1);
	assert_int_equal(seen.client_frames[AIC_MSG_WELCOME], 1);
	assert_int_equal(seen.server_frames[AIC_MSG_WELCOME], 1); /* the owner's cue to talk */
	assert_int_equal(seen.server_frames[AIC_MSG_STATUS], 1);
}

static void other_key_acts_on_nothing(void **state)
{
	int i;

	(void)state;
	pair(other);
	assert_int_equal(seen.hellos, 0);
	for (i = 0; i < 32; i++) {
		assert_int_equal(seen.client_frames[i], 0);
		assert_int_equal(seen.server_frames[i], 0);
	}
	assert_int_equal(seen.closed, 2);
}

/*
 * Best effort: the client may already have closed (it refuses a made-up
 * CHALLENGE at once), and what the fake server then cannot send does not
 * change its verdict, which is about what the client sent.
 */
static void put_frame(int fd, uint16_t type, const char *json)
{
	uint8_t hdr[AIC_WIRE_HEADER];

	aic_wire_header(hdr, type, (uint32_t)strlen(json));
	if (write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr))
		(void)!write(fd, json, strlen(json));
}

/*
 * The fake server, in a child: accepts one connection, answers its HELLO
 * with a made-up CHALLENGE (or none, with `challenge` false) and a SPAWN,
 * reads everything the client sends until it closes, and writes to `out`
 * 't' if the key was in it, 'a' if an AUTH was, else 'n'.
 */
static void fake_server(int lfd, int out, bool challenge)
{
	static char got[1 << 16];
	size_t len = 0;
	ssize_t r;
	char verdict = 'n';
	int fd = accept(lfd, NULL, NULL);

	/*
	 * The client may close as soon as it sees the made-up CHALLENGE; the
	 * SPAWN written after it must then fail with EPIPE (put_frame goes on),
	 * not kill this child before it gives its verdict.
	 */
	signal(SIGPIPE, SIG_IGN);
	if (fd < 0)
		_exit(2);
	r = read(fd, got, sizeof(got) - 1);
	if (r > 0)
		len = (size_t)r;
	if (challenge)
		put_frame(fd, AIC_MSG_CHALLENGE,
			  "{\"nonce\":\"00112233445566778899aabbccddeeff\",\"proof\":"
			  "\"abababababababababababababababababababababababababababababababab\"}");
	put_frame(fd, AIC_MSG_SPAWN, "{\"id\":0,\"argv\":[\"true\"],\"env\":{}}");
	while (len < sizeof(got) - 1 && (r = read(fd, got + len, sizeof(got) - 1 - len)) > 0)
		len += (size_t)r;
	got[len] = '\0';
	if (memmem(got, len, key, strlen(key)))
		verdict = 't';
	else
		for (size_t i = 0; i + 6 <= len; i++)
			if (!memcmp(got + i, "AIC\x01\x00\x12", 6))
				verdict = 'a';
	if (write(out, &verdict, 1) != 1)
		_exit(2);
	_exit(0);
}

static void against_fake(bool challenge)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), p[2], st;
	char verdict = '?';
	uv_loop_t loop;
	pid_t pid;

	memset(&seen, 0, sizeof(seen));
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fake_server(lfd, p[1], challenge);
	close(lfd);
	close(p[1]);
	uv_loop_init(&loop);
	assert_non_null(aic_conn_connect(&loop, "127.0.0.1", ntohs(sa.sin_port), key,
					 json_pack("{s:s}", "role", "agent"), client_frame, closed,
					 NULL));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(read(p[0], &verdict, 1), 1);
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(seen.closed, 1);
	assert_int_equal(seen.client_frames[AIC_MSG_SPAWN], 0);
	assert_int_equal(seen.client_frames[AIC_MSG_WELCOME], 0);
	assert_int_equal(verdict, 'n');
}

static void fake_server_gets_nothing(void **state)
{
	(void)state;
	against_fake(true);
}

static void frames_before_welcome_are_ignored(void **state)
{
	(void)state;
	against_fake(false);
}


/* --- liveness ------------------------------------------------------------ */

#define T_MS 300 /* the liveness timeout of these tests */

static struct {
	struct aic_conn *client, *server;
	uint64_t server_timeout; /* set on the server's connections at HELLO; 0: none */
	int client_pings, server_pings; /* PINGs each side saw before it closed */
	char client_why[96];
	bool send_big; /* the client sends one large frame once welcome */
	bool frame_whole;
	uint32_t frame_len;
	uint8_t *frame;
	uv_timer_t *guard; /* live_pair's, stopped once the test is over */
	/* The stepped-read test: its frame began, its rest went, and SO_RCVLOWAT then and after. */
	bool split, began, rest_sent;
	int lowat_during, lowat_after;
} live;

static bool live_hello(struct aic_conn *c, json_t *hello)
{
	(void)hello;
	live.server = c;
	snprintf(c->name, sizeof(c->name), "the test's client");
	if (live.server_timeout)
		aic_conn_set_timeout(c, live.server_timeout);
	return true;
}

static void live_closed(struct aic_conn *c)
{
	if (c->server_side) {
		live.server_pings = (int)c->pings;
		live.server = NULL;
		/* The test is over either way (in a failing test, before the frame came). */
		if (live.client)
			aic_conn_close(live.client);
		return;
	}
	live.client_pings = (int)c->pings;
	snprintf(live.client_why, sizeof(live.client_why), "%s", c->why);
	live.client = NULL;
	if (live.guard)
		uv_timer_stop(live.guard);
	if (c->owner)
		aic_server_stop(c->owner);
}

static void live_server_frame(struct aic_conn *c, uint16_t type, json_t *m,
			      const struct aic_frame *f)
{
	(void)c;
	(void)m;
	/* The large frame of the in-place test: whole, where direct_begin put it. */
	if (type == AIC_MSG_DATA + 0xff && f->body) {
		live.frame_whole = true;
		live.frame_len = f->length;
		if (!live.split) /* the stepped-read test looks at the socket first */
			aic_conn_close(live.client);
	}
}

static uint8_t *live_direct_begin(struct aic_conn *c, uint16_t type, uint32_t length,
				  const uint8_t *head, uint32_t have, uint32_t *skip, void **arg)
{
	(void)c;
	(void)head;
	(void)have;
	(void)arg;
	if (type != AIC_MSG_DATA + 0xff)
		return NULL;
	*skip = 0;
	live.began = true;
	live.frame = malloc(length);
	return live.frame;
}

static void live_direct_end(struct aic_conn *c, uint16_t type, uint8_t *dest, void *arg,
			    bool whole)
{
	(void)c;
	(void)type;
	(void)arg;
	(void)whole;
	free(dest);
	live.frame = NULL;
}

/* Until both sides have seen 4 PINGs (an idle link for more than the timeout). */
static void watch_pings(uv_timer_t *t)
{
	if (live.client && live.server && live.client->pings >= 4 && live.server->pings >= 4) {
		uv_timer_stop(t);
		aic_conn_close(live.client);
	}
	if (!live.client)
		uv_timer_stop(t);
}

static void live_client_frame(struct aic_conn *c, uint16_t type, json_t *m,
			      const struct aic_frame *f)
{
	static uint8_t big[AIC_WIRE_HEADER + (256 << 10)];

	(void)m;
	(void)f;
	if (type == AIC_MSG_WELCOME && live.send_big) {
		uv_buf_t b = uv_buf_init((char *)big, sizeof(big));
		aic_wire_header(big, AIC_MSG_DATA + 0xff, sizeof(big) - AIC_WIRE_HEADER);
		assert_int_equal(aic_conn_sendv(c, NULL, &b, 1, NULL, NULL), 0);
	}
}

static void give_up(uv_timer_t *t)
{
	struct aic_server *srv = t->data;

	aic_conn_close(live.client);
	aic_conn_close(live.server);
	aic_server_stop(srv);
}

/* The server's side of the tests on a live link. */
static const struct aic_handlers live_handlers = {.on_hello = live_hello,
						  .on_frame = live_server_frame,
						  .on_close = live_closed,
						  .direct_begin = live_direct_begin,
						  .direct_end = live_direct_end};

/*
 * Runs `loop` until the client's connection closes (or the guard gives up:
 * where liveness is broken, the test fails rather than hang), then closes
 * `extra` (the test's own handle, or NULL), the guard and every connection.
 */
static void run_guarded(uv_loop_t *loop, struct aic_server *srv, uv_handle_t *extra)
{
	uv_timer_t guard;

	uv_timer_init(loop, &guard);
	guard.data = srv;
	live.guard = &guard;
	uv_timer_start(&guard, give_up, 30000, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	if (extra)
		uv_close(extra, NULL);
	uv_close((uv_handle_t *)&guard, NULL);
	aic_conn_close_all();
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

/*
 * On a new loop, a server with handlers hd and a client of it at `port`
 * (0: the server's) whose frames go to client_frame (live.client).
 */
static void live_start(uv_loop_t *loop, struct aic_server *srv, const struct aic_handlers *hd,
		       aic_frame_cb client_frame, int port)
{
	uv_loop_init(loop);
	assert_int_equal(aic_server_start(loop, srv, "127.0.0.1", key, hd, NULL), 0);
	live.client = aic_conn_connect(loop, "127.0.0.1", port ? port : srv->port, key,
				       json_pack("{s:s}", "role", "agent"), client_frame,
				       live_closed, srv);
	assert_non_null(live.client);
}

/*
 * A server (timeout server_timeout) and a client (timeout client_timeout,
 * 0: none) at `port` (0: the server's), on one loop until the client's
 * connection closes.
 */
static void live_pair(uint64_t server_timeout, uint64_t client_timeout, int port, bool watch)
{
	struct aic_server srv = {0};
	uv_timer_t watcher;
	uv_loop_t loop;

	memset(&live, 0, sizeof(live));
	live.server_timeout = server_timeout;
	live_start(&loop, &srv, &live_handlers, live_client_frame, port);
	if (client_timeout)
		assert_int_equal(aic_conn_set_timeout(live.client, client_timeout), 0);
	uv_timer_init(&loop, &watcher);
	if (watch)
		uv_timer_start(&watcher, watch_pings, 10, 10);
	run_guarded(&loop, &srv, (uv_handle_t *)&watcher);
}

static void idle_link_stays_open(void **state)
{
	(void)state;
	/* The client has no timeout of its own: it takes the server's from WELCOME. */
	live_pair(T_MS, 0, 0, true);
	assert_string_equal(live.client_why, "");
	assert_true(live.client_pings >= 4);
	assert_true(live.server_pings >= 4);
}

static void silent_server_is_closed(void **state)
{
	(void)state;
	/* The server sends nothing after WELCOME (no timeout, no PING). */
	live_pair(0, T_MS, 0, false);
	assert_int_equal(strncmp(live.client_why, "no frame for ", 13), 0);
	assert_int_equal(live.client_pings, 0);
}

static void silent_listener_cannot_hold_a_client(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* The kernel completes the TCP handshake; nobody ever reads or answers. */
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	live_pair(0, T_MS, ntohs(sa.sin_port), false);
	close(lfd);
	assert_string_equal(live.client_why, "no handshake within 300 ms");
}

/*
 * A proxy in a child: one connection from `lfd` to `port`, server to client
 * at once, client to server 8 KiB every 40 ms (a slow link), until either
 * side closes.
 */
static void slow_proxy(int lfd, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port)};
	int in = accept(lfd, NULL, NULL), out = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[8192];
	struct pollfd p[2];
	ssize_t r;

	if (in < 0 || out < 0 || connect(out, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		_exit(2);
	p[0] = (struct pollfd){.fd = in, .events = POLLIN};
	p[1] = (struct pollfd){.fd = out, .events = POLLIN};
	while (poll(p, 2, -1) > 0) {
		if (p[1].revents) {
			r = read(out, buf, sizeof(buf));
			if (r <= 0 || write(in, buf, (size_t)r) != r)
				break;
		}
		if (p[0].revents) {
			r = read(in, buf, sizeof(buf));
			if (r <= 0 || write(out, buf, (size_t)r) != r)
				break;
			usleep(40000);
		}
	}
	_exit(0);
}

static void slow_large_frame_is_life(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct aic_server srv = {0};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), st;
	uv_loop_t loop;
	pid_t pid;

	(void)state;
	memset(&live, 0, sizeof(live));
	live.server_timeout = T_MS;
	uv_loop_init(&loop);
	assert_int_equal(aic_server_start(&loop, &srv, "127.0.0.1", key, &live_handlers, NULL), 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		slow_proxy(lfd, srv.port);
	close(lfd);
	/*
	 * The client's PINGs queue behind its frame, so the server hears
	 * nothing but the 256 KiB frame, 8 KiB per 40 ms: over a second,
	 * several timeouts.
	 */
	live.send_big = true;
	live.client = aic_conn_connect(&loop, "127.0.0.1", ntohs(sa.sin_port), key,
				       json_pack("{s:s}", "role", "agent"), live_client_frame,
				       live_closed, &srv);
	assert_non_null(live.client);
	uv_run(&loop, UV_RUN_DEFAULT);
	aic_conn_close_all();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(live.frame_whole);
	assert_int_equal(live.frame_len, 256 << 10);
}

/* The stepped-read test's frame: 1 MiB, of which the client sends SPLIT_FIRST bytes first. */
#define SPLIT_LEN   (1u << 20)
#define SPLIT_FIRST (128u << 10)
static uint8_t split_frame[AIC_WIRE_HEADER + SPLIT_LEN];

static void split_client_frame(struct aic_conn *c, uint16_t type, json_t *m,
			       const struct aic_frame *f)
{
	uv_buf_t b = uv_buf_init((char *)split_frame, AIC_WIRE_HEADER + SPLIT_FIRST);

	(void)m;
	(void)f;
	if (type != AIC_MSG_WELCOME)
		return;
	aic_wire_header(split_frame, AIC_MSG_DATA + 0xff, SPLIT_LEN);
	assert_int_equal(aic_conn_sendv(c, NULL, &b, 1, NULL, NULL), 0);
}

/* The server's SO_RCVLOWAT (its link begins with the uv_tcp_t: launcher/net/tcp.c). */
static int server_lowat(void)
{
	uv_os_fd_t fd;
	socklen_t len = sizeof(int);
	int v = -1;

	if (live.server && uv_fileno((uv_handle_t *)live.server->link, &fd) == 0)
		getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len);
	return v;
}

/*
 * After each poll (the server has handled what it read): once the frame has
 * begun in place, what the socket waits for, then the frame's rest goes;
 * once it is whole, what the socket waits for then, and the test ends.
 */
static void split_step(uv_check_t *h)
{
	if (live.began && !live.rest_sent && live.client) {
		uv_buf_t b = uv_buf_init((char *)split_frame + AIC_WIRE_HEADER + SPLIT_FIRST,
					 SPLIT_LEN - SPLIT_FIRST);
		live.lowat_during = server_lowat();
		live.rest_sent = true;
		assert_int_equal(aic_conn_sendv(live.client, NULL, &b, 1, NULL, NULL), 0);
	}
	if (live.frame_whole) {
		live.lowat_after = server_lowat();
		uv_check_stop(h);
		aic_conn_close(live.client);
	}
}

/*
 * A large frame read in place is reported in steps (aic_link_ops.lowat): while
 * much of it is missing the socket wakes the loop only for a step of it,
 * never for more than is missing, and for any byte once it is whole.
 */
static void large_frame_is_read_in_steps(void **state)
{
	struct aic_server srv = {0};
	uv_check_t step;
	uv_loop_t loop;

	(void)state;
	memset(&live, 0, sizeof(live));
	live.split = true;
	live_start(&loop, &srv, &live_handlers, split_client_frame, 0);
	uv_check_init(&loop, &step);
	uv_check_start(&step, split_step);
	run_guarded(&loop, &srv, (uv_handle_t *)&step);
	assert_true(live.frame_whole);
	assert_int_equal(live.frame_len, SPLIT_LEN);
	/* 1 MiB - 128 KiB missing: a step of 256 KiB (conn.c's LOWAT_MAX). */
	assert_int_equal(live.lowat_during, 256 << 10);
	assert_int_equal(live.lowat_after, 1);
}

/* --- writes -------------------------------------------------------------- */

/* The write test's large frame: 2 MiB in three pieces (header, two halves), a pattern. */
#define BIG_LEN	 (2u << 20)
#define SMALLS	 64
#define T_BIG	 (AIC_MSG_DATA + 0xfe)
#define T_SMALL	 (AIC_MSG_DATA + 0xfd)
static uint8_t big_head[AIC_WIRE_HEADER], big_body[BIG_LEN];
static struct {
	int order[SMALLS + 1]; /* what came, in order: -1 the large frame, else a small one's number */
	int n;
	bool big_ok;
} wr;

static void write_server_frame(struct aic_conn *c, uint16_t type, json_t *m,
			       const struct aic_frame *f)
{
	(void)c;
	(void)m;
	if (type == T_BIG && wr.n <= SMALLS) {
		wr.big_ok = f->length == BIG_LEN && !f->body &&
			    memcmp(f->payload, big_body, BIG_LEN) == 0;
		wr.order[wr.n++] = -1;
	} else if (type == T_SMALL && f->length == 4 && wr.n <= SMALLS) {
		wr.order[wr.n++] = (int)aic_get_u32(f->payload);
	}
	if (wr.n == SMALLS + 1)
		aic_conn_close(live.client);
}

static void write_client_frame(struct aic_conn *c, uint16_t type, json_t *m,
			       const struct aic_frame *f)
{
	uv_buf_t b[3] = {uv_buf_init((char *)big_head, AIC_WIRE_HEADER),
			 uv_buf_init((char *)big_body, BIG_LEN / 2 + 3),
			 uv_buf_init((char *)big_body + BIG_LEN / 2 + 3, BIG_LEN / 2 - 3)};
	uv_os_fd_t fd;
	int v = 4096;
	uint8_t k[4];

	(void)m;
	(void)f;
	if (type != AIC_MSG_WELCOME)
		return;
	/* A small send buffer: the kernel takes the large frame in many writes. */
	assert_int_equal(uv_fileno((uv_handle_t *)c->link, &fd), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), 0);
	aic_put_u32(k, 0);
	assert_int_equal(aic_conn_send_raw(c, T_SMALL, k, 4, NULL, 0), 0);
	aic_wire_header(big_head, T_BIG, BIG_LEN);
	assert_int_equal(aic_conn_sendv(c, NULL, b, 3, NULL, NULL), 0);
	for (uint32_t i = 1; i < SMALLS; i++) {
		aic_put_u32(k, i);
		assert_int_equal(aic_conn_send_raw(c, T_SMALL, k, 4, NULL, 0), 0);
	}
}

static void large_write_keeps_order(void **state)
{
	static const struct aic_handlers hd = {.on_hello = live_hello,
					       .on_frame = write_server_frame,
					       .on_close = live_closed};
	struct aic_server srv = {0};
	uv_loop_t loop;

	(void)state;
	memset(&live, 0, sizeof(live));
	memset(&wr, 0, sizeof(wr));
	for (uint32_t i = 0; i < BIG_LEN; i++)
		big_body[i] = (uint8_t)(i * 7 + i / 251);
	live_start(&loop, &srv, &hd, write_client_frame, 0);
	run_guarded(&loop, &srv, NULL);
	assert_int_equal(wr.n, SMALLS + 1);
	assert_true(wr.big_ok);
	assert_int_equal(wr.order[0], 0);
	assert_int_equal(wr.order[1], -1);
	for (int i = 2; i <= SMALLS; i++)
		assert_int_equal(wr.order[i], i - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_key_authenticates),
		cmocka_unit_test(other_key_acts_on_nothing),
		cmocka_unit_test(fake_server_gets_nothing),
		cmocka_unit_test(frames_before_welcome_are_ignored),
		cmocka_unit_test(idle_link_stays_open),
		cmocka_unit_test(silent_server_is_closed),
		cmocka_unit_test(silent_listener_cannot_hold_a_client),
		cmocka_unit_test(slow_large_frame_is_life),
		cmocka_unit_test(large_frame_is_read_in_steps),
		cmocka_unit_test(large_write_keeps_order),
	};

	return aic_test_run(tests);
}

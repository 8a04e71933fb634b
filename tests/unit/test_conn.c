/*
 * launcher/net/conn.c's handshake, with real sockets on a libuv loop: a
 * client and a server that share the key become authenticated and each
 * learns of it once; with different keys neither acts on anything. Against
 * a fake server (a child process that does not know the key and sends
 * SPAWN regardless), the client sends neither the key nor a proof, acts on
 * no frame, and closes the connection.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void put_frame(int fd, uint16_t type, const char *json)
{
	uint8_t hdr[AIC_WIRE_HEADER];

	aic_wire_header(hdr, type, (uint32_t)strlen(json));
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    write(fd, json, strlen(json)) != (ssize_t)strlen(json))
		_exit(2);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_key_authenticates),
		cmocka_unit_test(other_key_acts_on_nothing),
		cmocka_unit_test(fake_server_gets_nothing),
		cmocka_unit_test(frames_before_welcome_are_ignored),
	};

	return aic_test_run(tests);
}

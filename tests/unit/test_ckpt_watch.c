/*
 * An agent's list of workers to tell of the next checkpoint request
 * (launcher/engine/checkpoint.c's watch list), over real connections on a
 * libuv loop: three workers poll asking to be told, the first one's
 * connection closes, a second one polls again; the list drops the closed
 * connection once (it holds it once) and keeps the others once each, and
 * the next request tells the two open ones and no other.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "conn.h"
#include "internal.h"
#include "run_until.h"
#include "wire.h"

static const char key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#define N 3

/* The workers' connections (client) and the agent's (server), by rank, and what each client saw. */
static struct {
	struct aic_conn *client[N], *server[N];
	bool server_closed[N];
	int welcomed, states[N], notices[N];
	uint32_t state_len[N];
} t;

static int client_rank(const struct aic_conn *c)
{
	int i;

	for (i = 0; i < N; i++)
		if (t.client[i] == c)
			return i;
	return -1;
}

static void client_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	int i = client_rank(c);

	(void)m;
	if (i < 0)
		return;
	if (type == AIC_MSG_WELCOME)
		t.welcomed++;
	else if (type == AIC_MSG_CKPT_STATE) {
		t.states[i]++;
		t.state_len[i] = f->length;
	} else if (type == AIC_MSG_CKPT_NOTICE)
		t.notices[i]++;
}

static bool server_hello(struct aic_conn *c, json_t *hello)
{
	json_int_t r = json_integer_value(json_object_get(hello, "rank"));

	if (r < 0 || r >= N)
		return false;
	t.server[r] = c;
	return true;
}

static void server_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	(void)c;
	(void)type;
	(void)m;
	(void)f;
}

static void closed(struct aic_conn *c)
{
	int i;

	for (i = 0; i < N; i++)
		if (c->server_side && t.server[i] == c)
			t.server_closed[i] = true;
}

/* Worker `rank` polls asking to be told of the next request, as lib/worker/checkpoint.c does. */
static void poll_watching(struct agent_ckpt *k, int rank)
{
	static const uint8_t one = 1;
	struct aic_frame f = {.type = AIC_MSG_CKPT_POLL, .length = 1, .payload = &one};

	agent__ckpt_frame(k, NULL, t.server[rank], rank + 1, &f);
}

/* How many times c is on the watch list. */
static int listed(const struct agent_ckpt *k, const struct aic_conn *c)
{
	size_t i;
	int n = 0;

	for (i = 0; i < k->n_watch; i++)
		n += k->watch[i] == c;
	return n;
}

static void closed_connection_leaves_the_list_once(void **state)
{
	static const struct aic_handlers hd = {
		.on_hello = server_hello, .on_frame = server_frame, .on_close = closed};
	struct agent_ckpt k = {0};
	struct aic_server srv = {0};
	uv_timer_t guard;
	uv_loop_t loop;
	json_t *req;
	int i;

	(void)state;
	memset(&t, 0, sizeof(t));
	uv_loop_init(&loop);
	uv_timer_init(&loop, &guard);
	assert_int_equal(aic_server_start(&loop, &srv, "127.0.0.1", key, &hd, NULL), 0);
	for (i = 0; i < N; i++) {
		t.client[i] = aic_conn_connect(&loop, "127.0.0.1", srv.port, key,
					       json_pack("{s:s,s:i}", "role", "worker", "rank", i),
					       client_frame, closed, NULL);
		assert_non_null(t.client[i]);
	}
	RUN_UNTIL(&loop, &guard, t.welcomed == N);
	for (i = 0; i < N; i++) {
		assert_non_null(t.server[i]);
		aic_conn_hold(t.server[i]); /* the test's own, so that refs can be read after close */
		poll_watching(&k, i);
	}
	RUN_UNTIL(&loop, &guard, t.states[0] == 1 && t.states[1] == 1 && t.states[2] == 1);
	for (i = 0; i < N; i++) {
		assert_int_equal(t.state_len[i], 9); /* "you will be told" */
		assert_int_equal(listed(&k, t.server[i]), 1);
	}

	/* Worker 0 goes; worker 1, listed after it, polls again. */
	aic_conn_close(t.client[0]);
	RUN_UNTIL(&loop, &guard, t.server_closed[0]);
	assert_true(t.server[0]->closing);
	poll_watching(&k, 1);
	RUN_UNTIL(&loop, &guard, t.states[1] == 2);
	assert_int_equal(k.n_watch, 2);
	assert_int_equal(listed(&k, t.server[0]), 0);
	assert_int_equal(listed(&k, t.server[1]), 1);
	assert_int_equal(listed(&k, t.server[2]), 1);
	assert_int_equal(t.server[0]->refs, 1); /* the test's: the list let go of it once */

	/* The next request tells the two open ones, once each, and empties the list. */
	req = json_pack("{s:i}", "request", 1);
	agent__ckpt_request(&k, req);
	json_decref(req);
	assert_int_equal(k.n_watch, 0);
	RUN_UNTIL(&loop, &guard, t.notices[1] == 1 && t.notices[2] == 1);
	assert_int_equal(t.notices[0], 0);
	assert_int_equal(t.server[1]->refs, t.server[2]->refs);

	agent__ckpt_release(&k);
	for (i = 0; i < N; i++)
		aic_conn_release(t.server[i]);
	uv_close((uv_handle_t *)&guard, NULL);
	aic_server_stop(&srv);
	aic_conn_close_all();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closed_connection_leaves_the_list_once),
	};

	return aic_test_run(tests);
}

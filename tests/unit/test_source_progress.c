/*
 * chan_set_source_progress (launcher/dataplane/dataplane.h): at the agent
 * that feeds a source (rank 0), which lines are read and which of them
 * are not done yet, for a checkpoint. A real data plane on a libuv loop
 * reads a 2-pass source into a channel of capacity 4; nothing consumes it,
 * so the lines read are the lines not done, numbered as the file counts
 * them (blank lines too), and the agent that does not feed it knows none.
 * A resumed source (CONFIG's resume) reads only the pending lines and those
 * from `next` on, and until it has caught up reports the earlier `next`
 * and the pending lines it has not read yet. A checkpoint's mark and
 * report in an XOR frame (launcher/dataplane/acker.c, "Checkpoints") give
 * the progress as of the mark, in order with the updates around it, and
 * none after the process starts again; with another agent linked, as of
 * the mark with that agent's updates sent before its answer (marks.c).
 * Source items a peer held when its
 * node was lost come back once (acker_requeue), whichever of its link's
 * close and its node's loss comes first.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aic_test.h"
#include "conn.h"
#include "dataplane.h"
#include "dp_config.h"
#include "internal.h"
#include "run_until.h"
#include "wire.h"

static int done_calls;

static void source_done(void *arg, uint32_t chan, int err)
{
	(void)arg;
	(void)chan;
	(void)err;
	done_calls++;
}

/* A CONFIG with one 2-pass source channel fed by rank 0, two agents, resumed at r (or not). */
static json_t *config_resumed(const char *path, uint32_t capacity, const struct dp_resume *r)
{
	static uint32_t producers[] = {0};
	struct dp_channel ch = {.name = "prompts",
				.capacity = capacity,
				.capacity_bytes = 1 << 20,
				.producers = producers,
				.n_producers = 1,
				.source = path,
				.epochs = 2,
				.feeder = 0,
				.has_resume = r != NULL};
	struct dp_agent agents[2] = {{.rank = 0, .addr = "127.0.0.1", .port = 0},
				     {.rank = 1, .addr = "127.0.0.1", .port = 0}};
	struct dp_config cfg = {.channels = &ch, .n_channels = 1, .agents = agents, .n_agents = 2};

	if (r)
		ch.resume = *r;
	return dp_config_to_json(&cfg);
}

/* A CONFIG with one source channel of capacity 4 fed by rank 0, two agents. */
static json_t *config(const char *path)
{
	return config_resumed(path, 4, NULL);
}

/* The progress of a source resumed at r, once its channel of `capacity` is full. */
static char *resumed(uint32_t capacity, const struct dp_resume *r, int *done)
{
	char path[] = "/tmp/aic-test-progress.XXXXXX";
	int fd = mkstemp(path);
	uv_loop_t loop;
	struct chan_set *cs;
	json_t *cfg, *p;
	char *s;

	assert_true(fd >= 0);
	/* Lines 1, 2, 4, 5, 6 are items (3 is blank), in each pass. */
	assert_int_equal(write(fd, "a\nb\n\nc\nd\ne\n", 11), 11);
	close(fd);
	uv_loop_init(&loop);
	cfg = config_resumed(path, capacity, r);
	assert_non_null(cfg);
	cs = chan_set_new(&loop, cfg, 0, "token");
	assert_non_null(cs);
	done_calls = 0;
	chan_set_on_source_done(cs, source_done, NULL);
	*done = done_calls;
	p = chan_set_source_progress(cs, 0);
	assert_non_null(p);
	s = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	chan_set_free(cs);
	json_decref(cfg);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(path);
	return s;
}

static void resumed_source(void **state)
{
	struct dp_line p1[] = {{0, 2}}, p2[] = {{0, 4}, {1, 1}}, p3[] = {{0, 1}, {0, 4}};
	struct dp_resume r1 = {.epoch = 0, .next = 5, .pending = p1, .n_pending = 1};
	struct dp_resume r2 = {.epoch = 1, .next = 2, .pending = p2, .n_pending = 2};
	struct dp_resume r3 = {.epoch = 0, .next = 6, .pending = p3, .n_pending = 2};
	struct dp_resume all = {.done = true};
	int done;
	char *s;

	(void)state;
	/* Line 2 again, then 5 and 6, then pass 1 from its start: 1, 2 fill the four slots. */
	s = resumed(4, &r1, &done);
	assert_string_equal(s, "{\"done\":false,\"next\":[1,2],\"unfinished\":[[0,2],[0,5],[0,6],[1,1]]}");
	free(s);
	/* Pass 0 only for its line 4, pass 1's line 1, then from line 2 of pass 1 on. */
	s = resumed(4, &r2, &done);
	assert_string_equal(s, "{\"done\":false,\"next\":[1,5],\"unfinished\":[[0,4],[1,1],[1,2],[1,4]]}");
	free(s);
	/* One slot: line 1 read, line 4 still to read again, and the earlier next kept. */
	s = resumed(1, &r3, &done);
	assert_string_equal(s, "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,1],[0,4]]}");
	free(s);
	/* Every line done before: nothing is read, the source is done at once. */
	s = resumed(4, &all, &done);
	assert_string_equal(s, "{\"done\":true}");
	assert_int_equal(done, 1);
	free(s);
}

static void lines_read_not_done(void **state)
{
	char path[] = "/tmp/aic-test-progress.XXXXXX";
	int fd = mkstemp(path);
	uv_loop_t loop;
	struct chan_set *cs, *other;
	json_t *cfg, *p;
	char *s;

	(void)state;
	assert_true(fd >= 0);
	/* Lines 1, 2, 4, 5, 6 are items (3 is blank). */
	assert_int_equal(write(fd, "a\nb\n\nc\nd\ne\n", 12), 12);
	close(fd);
	uv_loop_init(&loop);
	cfg = config(path);
	assert_non_null(cfg);
	cs = chan_set_new(&loop, cfg, 0, "token");
	other = chan_set_new(&loop, cfg, 1, "token");
	assert_non_null(cs);
	assert_non_null(other);
	chan_set_on_source_done(cs, source_done, NULL);
	p = chan_set_source_progress(cs, 0);
	assert_non_null(p);
	s = json_dumps(p, JSON_COMPACT);
	/* Four lines fill the channel: the next to read is line 6 of pass 0. */
	assert_string_equal(s, "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,1],[0,2],[0,4],[0,5]]}");
	free(s);
	json_decref(p);
	assert_int_equal(done_calls, 0);
	/* Not the feeder, or no such channel: nothing to say. */
	assert_null(chan_set_source_progress(other, 0));
	assert_null(chan_set_source_progress(cs, 1));
	chan_set_free(cs);
	chan_set_free(other);
	json_decref(cfg);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(path);
}

/* What the acker handed on (chan_set_on_checkpoint). */
struct reported {
	int calls;
	long proc;
	uint64_t request, version;
	char *progress; /* the "prompts" progress, compact; NULL: none */
};

static void reported(void *arg, long proc, uint64_t request, uint64_t version, json_t *progress)
{
	struct reported *r = arg;

	r->calls++;
	r->proc = proc;
	r->request = request;
	r->version = version;
	free(r->progress);
	r->progress = progress ? json_dumps(json_object_get(progress, "prompts"), JSON_COMPACT)
			       : NULL;
	json_decref(progress);
}

/* The root of pass 0's line `line`, as it is now. */
static struct xroot root_of(struct chan_set *cs, uint64_t line)
{
	size_t i;

	for (i = 0; i < cs->trees.cap; i++)
		if (cs->trees.slots[i].id && cs->trees.slots[i].line == line)
			return cs->trees.slots[i];
	fail_msg("no root for line %llu", (unsigned long long)line);
	return (struct xroot){0};
}

/* Entry k of an XOR frame: root, xor, nodes. */
static void entry(uint8_t *frame, uint32_t k, uint64_t root, uint64_t x, uint64_t nodes)
{
	uint8_t *e = frame + 4 + (size_t)k * AIC_XOR_ENTRY;

	aic_put_u64(e, root);
	aic_put_u64(e + 8, x);
	aic_put_u64(e + 16, nodes);
}

static void checkpoint_marks(void **state)
{
	char path[] = "/tmp/aic-test-progress.XXXXXX";
	int fd = mkstemp(path);
	uint8_t frame[4 + 4 * AIC_XOR_ENTRY];
	struct reported r = {0};
	struct xroot one, two;
	uv_loop_t loop;
	struct chan_set *cs;
	json_t *cfg;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a\nb\n\nc\nd\ne\n", 11), 11);
	close(fd);
	uv_loop_init(&loop);
	cfg = config(path);
	cs = chan_set_new(&loop, cfg, 0, "token");
	assert_non_null(cs);
	chan_set_on_checkpoint(cs, reported, &r);
	chan_set_on_source_done(cs, source_done, NULL); /* opens the source */
	one = root_of(cs, 1);
	two = root_of(cs, 2);
	/*
	 * Another agent's frame: line 1's tree done, process 5's mark, line
	 * 2's tree done, process 5's report (request 3, version 7). Line 2 was
	 * done after the mark: the checkpoint does not hold it.
	 */
	aic_put_u32(frame, 4);
	entry(frame, 0, one.id, one.value, 0);
	entry(frame, 1, 0, xctl_encode(XCTL_MARK, 0, 5), 0);
	entry(frame, 2, two.id, two.value, 0);
	entry(frame, 3, 0, xctl_encode(XCTL_DONE, 3, 5), 7);
	acker_on_xor(cs, 1, frame, sizeof(frame));
	assert_int_equal(r.calls, 1);
	assert_true(r.proc == 5 && r.request == 3 && r.version == 7);
	assert_non_null(r.progress);
	assert_string_equal(r.progress, "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,2],[0,4],[0,5]]}");
	/* The next report without a mark: as of the last report (line 2 done by then). */
	aic_put_u32(frame, 1);
	entry(frame, 0, 0, xctl_encode(XCTL_DONE, 0, 5), 8);
	acker_on_xor(cs, 1, frame, 4 + AIC_XOR_ENTRY);
	assert_true(r.calls == 2 && r.version == 8 && r.request == 0);
	assert_string_equal(r.progress, "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,4],[0,5]]}");
	/* A process that never marked nor reported: no progress (the head takes the run's start). */
	entry(frame, 0, 0, xctl_encode(XCTL_DONE, 0, 9), 1);
	acker_on_xor(cs, 1, frame, 4 + AIC_XOR_ENTRY);
	assert_true(r.calls == 3 && r.proc == 9 && r.progress == NULL);
	/* Process 5 marks, starts again (reset), then reports: its earlier mark does not count. */
	aic_put_u32(frame, 3);
	entry(frame, 0, 0, xctl_encode(XCTL_MARK, 0, 5), 0);
	entry(frame, 1, 0, xctl_encode(XCTL_RESET, 0, 5), 0);
	entry(frame, 2, 0, xctl_encode(XCTL_DONE, 0, 5), 9);
	acker_on_xor(cs, 1, frame, 4 + 3 * AIC_XOR_ENTRY);
	assert_true(r.calls == 4 && r.proc == 5 && r.version == 9 && r.progress == NULL);
	free(r.progress);
	chan_set_free(cs);
	json_decref(cfg);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(path);
}

/* --- a mark waits for the other agents' updates (marks.c) ------------------ */

static const char peer_key[] = "token";

static struct {
	struct aic_conn *client, *server;
	int welcomed, flushes;
	uint8_t round[4];
} pt;

static void peer_client_frame(struct aic_conn *c, uint16_t type, json_t *m,
			      const struct aic_frame *f)
{
	(void)c;
	(void)m;
	if (type == AIC_MSG_WELCOME)
		pt.welcomed++;
	if (type == AIC_MSG_XFLUSH && f->length == 4) {
		pt.flushes++;
		memcpy(pt.round, f->payload, 4);
	}
}

static bool peer_hello(struct aic_conn *c, json_t *hello)
{
	(void)hello;
	pt.server = c;
	return true;
}

static void peer_frame_ignored(struct aic_conn *c, uint16_t type, json_t *m,
			       const struct aic_frame *f)
{
	(void)c;
	(void)type;
	(void)m;
	(void)f;
}

static void marks_wait_for_agents(void **state)
{
	static const struct aic_handlers hd = {.on_hello = peer_hello,
					       .on_frame = peer_frame_ignored};
	char path[] = "/tmp/aic-test-progress.XXXXXX";
	int fd = mkstemp(path);
	uint8_t frame[4 + AIC_XOR_ENTRY];
	struct aic_server srv = {0};
	struct reported r = {0};
	struct xroot one, two, four;
	uv_timer_t guard;
	uv_loop_t loop;
	struct chan_set *cs;
	json_t *cfg;

	(void)state;
	memset(&pt, 0, sizeof(pt));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a\nb\n\nc\nd\ne\n", 11), 11);
	close(fd);
	uv_loop_init(&loop);
	uv_timer_init(&loop, &guard);
	cfg = config(path);
	cs = chan_set_new(&loop, cfg, 0, "token");
	assert_non_null(cs);
	chan_set_on_checkpoint(cs, reported, &r);
	chan_set_on_source_done(cs, source_done, NULL); /* lines 1, 2, 4, 5 read */
	one = root_of(cs, 1);
	two = root_of(cs, 2);
	four = root_of(cs, 4);
	/* The agent of rank 1 links to the acker. */
	assert_int_equal(aic_server_start(&loop, &srv, "127.0.0.1", peer_key, &hd, NULL), 0);
	pt.client = aic_conn_connect(&loop, "127.0.0.1", srv.port, peer_key,
				     json_pack("{s:s,s:i}", "role", "agent", "rank", 1),
				     peer_client_frame, NULL, NULL);
	assert_non_null(pt.client);
	RUN_UNTIL(&loop, &guard, pt.welcomed == 1 && pt.server);
	chan_set_agent_hello(cs, pt.server, 1);

	/*
	 * Process 5, here, marks: rank 1 is asked for its updates. Meanwhile
	 * this agent's own update ends line 2's tree (after the mark: not in
	 * the checkpoint), rank 1's ends line 1's (sent before its answer:
	 * in it), and process 5's report waits for the answer.
	 */
	assert_int_equal(chan_set_checkpoint_mark(cs, 5), 0);
	RUN_UNTIL(&loop, &guard, pt.flushes == 1);
	acker_record(cs, two.id, two.value, 0);
	aic_put_u32(frame, 1);
	entry(frame, 0, one.id, one.value, 0);
	acker_on_xor(cs, 1, frame, sizeof(frame));
	assert_int_equal(chan_set_checkpoint_done(cs, 5, 3, 7), 0);
	assert_int_equal(r.calls, 0);
	marks_on_flushed(cs, pt.server, pt.round, 4);
	assert_true(r.calls == 1 && r.proc == 5 && r.request == 3 && r.version == 7);
	assert_string_equal(r.progress,
			    "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,2],[0,4],[0,5]]}");
	/* Its next report without a mark: as of that mark, not of the report. */
	assert_int_equal(chan_set_checkpoint_done(cs, 5, 0, 8), 0);
	assert_true(r.calls == 2 && r.version == 8);
	assert_string_equal(r.progress,
			    "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,2],[0,4],[0,5]]}");

	/* Process 6 marks; rank 1 goes before it answers: the snapshot is taken then. */
	assert_int_equal(chan_set_checkpoint_mark(cs, 6), 0);
	RUN_UNTIL(&loop, &guard, pt.flushes == 2);
	assert_int_equal(chan_set_checkpoint_done(cs, 6, 0, 1), 0);
	assert_int_equal(r.calls, 2);
	marks_agent_gone(cs, 1);
	assert_true(r.calls == 3 && r.proc == 6);
	assert_string_equal(r.progress, "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,4],[0,5]]}");

	/* Rank 1 is back and never answers: the snapshot is taken after 5 s all the same. */
	chan_set_agent_hello(cs, pt.server, 1);
	assert_int_equal(chan_set_checkpoint_mark(cs, 8), 0);
	assert_int_equal(chan_set_checkpoint_done(cs, 8, 0, 3), 0);
	{
		uint64_t t0 = uv_now(&loop);
		RUN_UNTIL(&loop, &guard, r.calls == 4);
		assert_true(r.proc == 8 && uv_now(&loop) - t0 >= 4900);
	}
	assert_int_equal(pt.flushes, 3);

	/* A mark in rank 1's own stream asks no one (this agent's updates are in): at once. */
	aic_put_u32(frame, 1);
	entry(frame, 0, 0, xctl_encode(XCTL_MARK, 0, 7), 0);
	acker_on_xor(cs, 1, frame, sizeof(frame));
	acker_record(cs, four.id, four.value, 0);
	entry(frame, 0, 0, xctl_encode(XCTL_DONE, 0, 7), 2);
	acker_on_xor(cs, 1, frame, sizeof(frame));
	assert_true(r.calls == 5 && r.proc == 7 && pt.flushes == 3);
	assert_string_equal(r.progress, "{\"done\":false,\"next\":[0,6],\"unfinished\":[[0,4],[0,5]]}");

	free(r.progress);
	chan_set_free(cs);
	json_decref(cfg);
	uv_close((uv_handle_t *)&guard, NULL);
	aic_server_stop(&srv);
	aic_conn_close_all();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(path);
}

/* n source items of ch pulled by the peer of rank 1, from the queue's head (deliver.c's hold). */
static void pull(struct chan *ch, struct aic_conn *peer, int n)
{
	struct item *it;

	while (n-- > 0 && (it = queue_pop(&ch->own))) {
		it->holder = peer;
		it->next = ch->inflight;
		ch->inflight = it;
		ch->n_own_inflight++;
		acker_sent(ch->cs, it, 1);
	}
}

static int line_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* The lines queued and the lines to read again, each sorted: "4 5 | 1 2". */
static char *lines_queued(struct chan *ch)
{
	static char buf[128];
	uint64_t q[16], r[16];
	size_t nq = 0, nr = 0, i, at = 0;
	struct item *it;

	for (it = ch->own.head; it && nq < 16; it = it->next)
		q[nq++] = it->origin.line;
	for (i = 0; i < ch->n_replay && nr < 16; i++)
		r[nr++] = ch->replay[i].line;
	qsort(q, nq, sizeof(*q), line_cmp);
	qsort(r, nr, sizeof(*r), line_cmp);
	for (i = 0; i < nq; i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%llu ",
				       (unsigned long long)q[i]);
	at += (size_t)snprintf(buf + at, sizeof(buf) - at, "|");
	for (i = 0; i < nr; i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, " %llu",
				       (unsigned long long)r[i]);
	return buf;
}

/*
 * A peer holds two source items, un-acked, when its node is lost: each line
 * comes back once, whether its link closes first (the items are queued
 * again, and the node's loss does not read their lines again) or the
 * node's loss comes first (the lines are read again, and the items the
 * link gives back after are not queued as well).
 */
static void requeued_once(void **state)
{
	char path[] = "/tmp/aic-test-progress.XXXXXX";
	int fd = mkstemp(path), order;
	static char peer_link; /* only its address counts: the items' holder */
	struct aic_conn *peer = (struct aic_conn *)(void *)&peer_link;
	uv_loop_t loop;
	struct chan_set *cs;
	struct chan *ch;
	json_t *cfg;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a\nb\n\nc\nd\ne\n", 11), 11);
	close(fd);
	for (order = 0; order < 2; order++) {
		uv_loop_init(&loop);
		cfg = config(path);
		cs = chan_set_new(&loop, cfg, 0, "token");
		assert_non_null(cs);
		chan_set_on_source_done(cs, source_done, NULL); /* opens the source */
		ch = &cs->chans[0];
		assert_string_equal(lines_queued(ch), "1 2 4 5 |");
		pull(ch, peer, 2);
		assert_string_equal(lines_queued(ch), "4 5 |");
		if (order == 0) {
			chan_forget(ch, peer);
			assert_string_equal(lines_queued(ch), "1 2 4 5 |");
			chan_set_node_lost(cs, 1);
		} else {
			chan_set_node_lost(cs, 1);
			assert_string_equal(lines_queued(ch), "4 5 | 1 2");
			chan_forget(ch, peer);
		}
		assert_string_equal(lines_queued(ch), "1 2 4 5 |");
		chan_set_free(cs);
		json_decref(cfg);
		uv_run(&loop, UV_RUN_DEFAULT);
		assert_int_equal(uv_loop_close(&loop), 0);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_read_not_done),
		cmocka_unit_test(resumed_source),
		cmocka_unit_test(checkpoint_marks),
		cmocka_unit_test(marks_wait_for_agents),
		cmocka_unit_test(requeued_once),
	};

	return aic_test_run(tests);
}

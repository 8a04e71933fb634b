/*
 * chan_set_source_progress (launcher/dataplane/dataplane.h): at the agent
 * that feeds a source (rank 0), which lines are read and which of them
 * are not done yet, for a checkpoint. A real data plane on a libuv loop
 * reads a 2-pass source into a channel of capacity 4; nothing consumes it,
 * so the lines read are the lines not done, numbered as the file counts
 * them (blank lines too), and the agent that does not feed it knows none.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aic_test.h"
#include "dataplane.h"
#include "dp_config.h"

static int done_calls;

static void source_done(void *arg, uint32_t chan, int err)
{
	(void)arg;
	(void)chan;
	(void)err;
	done_calls++;
}

/* A CONFIG with one source channel of capacity 4 fed by rank 0, two agents. */
static json_t *config(const char *path)
{
	static uint32_t producers[] = {0};
	struct dp_channel ch = {.name = "prompts",
				.capacity = 4,
				.capacity_bytes = 1 << 20,
				.producers = producers,
				.n_producers = 1,
				.source = path,
				.epochs = 2,
				.feeder = 0};
	struct dp_agent agents[2] = {{.rank = 0, .addr = "127.0.0.1", .port = 0},
				     {.rank = 1, .addr = "127.0.0.1", .port = 0}};
	struct dp_config cfg = {.channels = &ch, .n_channels = 1, .agents = agents, .n_agents = 2};

	return dp_config_to_json(&cfg);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_read_not_done),
	};

	return aic_test_run(tests);
}

/*
 * launcher/dataplane/dp_config.c: the CONFIG message's schema. What the
 * head writes the agents read back the same, and a malformed message is
 * refused with a message that names the key.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "aic_test.h"
#include "dp_config.h"

/* A job with two channels (one with staleness, a sink and a source) and a weight stream. */
static void fill(struct dp_config *cfg)
{
	static uint32_t producers0[] = {0, 2}, producers1[] = {1}, receivers[] = {2, 0, 1};
	static struct dp_channel chans[2];
	static struct dp_agent agents[3];
	static struct dp_weights weights[1];
	static struct dp_line pending[] = {{0, 7}, {2, 1}};

	memset(cfg, 0, sizeof(*cfg));
	memset(chans, 0, sizeof(chans));
	chans[0] = (struct dp_channel){.name = "prompts",
				       .capacity = 64,
				       .capacity_bytes = (uint64_t)5 << 30,
				       .compress = true,
				       .prefetch = 7,
				       .producers = producers0,
				       .n_producers = 2,
				       .source = "/data/prompts.jsonl",
				       .epochs = 3,
				       .feeder = 2,
				       .has_resume = true,
				       .resume = {.epoch = 2,
						  .next = 40,
						  .pending = pending,
						  .n_pending = 2}};
	chans[1] = (struct dp_channel){.name = "rollouts",
				       .capacity = 8,
				       .closed = true,
				       .producers = producers1,
				       .n_producers = 1,
				       .has_stale = true,
				       .stale = {.stream = 0, .k = 2},
				       .sink = "/out/rollouts.jsonl",
				       .sink_agent = 1};
	agents[0] = (struct dp_agent){.rank = 0, .addr = "10.0.0.1", .port = 40001};
	agents[1] = (struct dp_agent){.rank = 1, .addr = "10.0.0.2", .port = 40002};
	agents[2] = (struct dp_agent){.rank = 2, .addr = "10.0.0.3", .port = 0};
	weights[0] =
		(struct dp_weights){.name = "policy", .receivers = receivers, .n_receivers = 3};
	cfg->channels = chans;
	cfg->n_channels = 2;
	cfg->agents = agents;
	cfg->n_agents = 3;
	cfg->weights = weights;
	cfg->n_weights = 1;
	cfg->failure_timeout_ms = 7000;
}

static void round_trip(void **state)
{
	struct dp_config in, out;
	json_t *j, *j2;
	char err[256] = "";

	(void)state;
	fill(&in);
	j = dp_config_to_json(&in);
	assert_non_null(j);
	/* Optional keys are there only when their value is. */
	assert_null(json_object_get(json_array_get(json_object_get(j, "channels"), 0), "sink"));
	assert_null(
		json_object_get(json_array_get(json_object_get(j, "channels"), 0), "sink_agent"));
	assert_null(json_object_get(json_array_get(json_object_get(j, "channels"), 0), "stale"));
	assert_int_equal(dp_config_from_json(j, &out, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(out.n_channels, 2);
	assert_string_equal(out.channels[0].name, "prompts");
	assert_int_equal(out.channels[0].capacity, 64);
	assert_true(out.channels[0].capacity_bytes == (uint64_t)5 << 30);
	assert_true(out.channels[0].compress);
	assert_int_equal(out.channels[0].prefetch, 7);
	assert_false(out.channels[0].closed);
	assert_int_equal(out.channels[0].n_producers, 2);
	assert_int_equal(out.channels[0].producers[1], 2);
	assert_string_equal(out.channels[0].source, "/data/prompts.jsonl");
	assert_int_equal(out.channels[0].epochs, 3);
	assert_int_equal(out.channels[0].feeder, 2);
	assert_null(out.channels[0].sink);
	assert_false(out.channels[0].has_stale);
	assert_true(out.channels[0].has_resume);
	assert_false(out.channels[0].resume.done);
	assert_int_equal(out.channels[0].resume.epoch, 2);
	assert_int_equal(out.channels[0].resume.next, 40);
	assert_int_equal(out.channels[0].resume.n_pending, 2);
	assert_int_equal(out.channels[0].resume.pending[0].line, 7);
	assert_int_equal(out.channels[0].resume.pending[1].epoch, 2);
	assert_false(out.channels[1].has_resume);
	assert_true(out.channels[1].closed);
	assert_true(out.channels[1].has_stale);
	assert_int_equal(out.channels[1].stale.k, 2);
	assert_string_equal(out.channels[1].sink, "/out/rollouts.jsonl");
	assert_int_equal(out.channels[1].sink_agent, 1);
	assert_null(out.channels[1].source);
	assert_int_equal(out.n_agents, 3);
	assert_string_equal(out.agents[1].addr, "10.0.0.2");
	assert_int_equal(out.agents[1].port, 40002);
	assert_int_equal(out.n_weights, 1);
	assert_string_equal(out.weights[0].name, "policy");
	assert_int_equal(out.weights[0].n_receivers, 3);
	assert_int_equal(out.weights[0].receivers[0], 2);
	assert_int_equal(out.failure_timeout_ms, 7000);
	/* And written again, the same message. */
	j2 = dp_config_to_json(&out);
	assert_true(json_equal(j, j2));
	json_decref(j2);
	dp_config_release(&out);
	assert_null(out.channels);
	json_decref(j);
}

static void empty_job(void **state)
{
	struct dp_config cfg = {0};
	json_t *j = dp_config_to_json(&cfg);
	char err[256];

	(void)state;
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "channels")), 0);
	assert_int_equal(dp_config_from_json(j, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_channels + cfg.n_agents + cfg.n_weights, 0);
	dp_config_release(&cfg);
	json_decref(j);
}

/* `text` is refused with a message containing `want`. */
static void refused(const char *text, const char *want)
{
	struct dp_config cfg;
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	char err[256] = "";

	assert_non_null(j);
	assert_int_equal(dp_config_from_json(j, &cfg, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("'%s': got '%s', wanted '%s'", text, err, want);
	assert_null(cfg.channels);
	assert_int_equal(cfg.n_channels, 0);
	json_decref(j);
}

static void malformed(void **state)
{
	(void)state;
	refused("[]", "expected an object");
	refused("{\"agents\": [], \"weights\": []}", "'channels' is missing");
	refused("{\"channels\": {}, \"agents\": [], \"weights\": []}",
		"'channels': expected an array");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": -1, \"closed\": false, "
		"\"compress\": false, \"producers\": []}], \"agents\": [], \"weights\": []}",
		"channels[0]: 'capacity': expected an integer from 0 to 4294967295");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, \"closed\": 0, "
		"\"compress\": false, \"producers\": []}], \"agents\": [], \"weights\": []}",
		"channels[0]: 'closed': expected true or false");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, "
		"\"closed\": false, \"compress\": false, \"producers\": [\"a\"]}], "
		"\"agents\": [], \"weights\": []}",
		"channels[0]: 'producers': expected an array of agent ranks");
	/* A sink says which agent writes it. */
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, "
		"\"closed\": false, \"compress\": false, \"producers\": [], \"sink\": \"/x\"}], "
		"\"agents\": [], "
		"\"weights\": []}",
		"channels[0]: 'sink_agent' is missing");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, "
		"\"closed\": false, \"compress\": false, \"producers\": [], "
		"\"stale\": {\"stream\": 0}}], "
		"\"agents\": [], \"weights\": []}",
		"channels[0]: stale: 'k' is missing");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, "
		"\"closed\": false, \"compress\": false, \"producers\": [], "
		"\"stale\": {\"stream\": 1, \"k\": 0}, \"prefetch\": 0}], "
		"\"agents\": [], \"weights\": []}",
		"channels[0]: stale: 'stream': no stream 1");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, "
		"\"closed\": false, \"compress\": false, \"producers\": [], \"prefetch\": -1}], "
		"\"agents\": [], \"weights\": []}",
		"channels[0]: 'prefetch': expected an integer from 0 to 65536");
	refused("{\"channels\": [{\"name\": \"c\", \"capacity\": 1, \"capacity_bytes\": 1, "
		"\"closed\": false, \"compress\": false, \"producers\": [], "
		"\"resume\": {\"done\": false, \"epoch\": 0, \"next\": 3, "
		"\"pending\": [{\"epoch\": 0, \"line\": 1}, {\"epoch\": 0, \"line\": -2}]}}], "
		"\"agents\": [], \"weights\": []}",
		"channels[0]: resume: pending[1]: 'line': expected an integer from 0 to");
	refused("{\"channels\": [], \"agents\": [{\"rank\": 0, \"addr\": \"h\", \"port\": 70000}], "
		"\"weights\": []}",
		"agents[0]: 'port': expected an integer from 0 to 65535");
	refused("{\"channels\": [], \"agents\": [], \"weights\": [], \"failure_timeout_ms\": -1}",
		"'failure_timeout_ms': expected an integer from 0 to 3600000");
	refused("{\"channels\": [], \"agents\": [], \"weights\": [{\"receivers\": []}]}",
		"weights[0]: 'name' is missing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(empty_job),
		cmocka_unit_test(malformed),
	};

	return aic_test_run(tests);
}

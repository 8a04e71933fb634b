#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aic_test.h"
#include "domain.h"
#include "error.h"
#include "spec.h"

static const char grpo[] = "name: grpo-toy\n"
			   "stages:\n"
			   "  rollout:\n"
			   "    command: [python3, rollout.py]\n"
			   "    replicas: {min: 1, max: 8}\n"
			   "    gpus: 2\n"
			   "    inputs: [prompts]\n"
			   "    outputs: [samples]\n"
			   "    weights_from: policy\n"
			   "  reward:\n"
			   "    command: python3 reward.py --fast\n"
			   "    replicas: 2\n"
			   "    gpus: 0\n"
			   "    cpus: 1\n"
			   "    mem: 4G\n"
			   "    env: {OMP_NUM_THREADS: 1, MODE: fast}\n"
			   "    inputs: [samples]\n"
			   "    outputs: [scored]\n"
			   "  train:\n"
			   "    command: [python3, train.py]\n"
			   "    ranks: 4\n"
			   "    gpus: 1\n"
			   "    inputs: [scored]\n"
			   "    weights_to: policy\n"
			   "    colocate_with: null\n"
			   "    restart: {max: 5}\n"
			   "channels:\n"
			   "  prompts: {source: prompts.jsonl, epochs: 3}\n"
			   "  samples: {capacity: 256, compress: true, capacity_bytes: 2G, prefetch: 4}\n"
			   "weights:\n"
			   "  policy: {max_staleness: 2}\n"
			   "restart: {max: 3, backoff_ms: 100}\n";

static struct aic_spec *parse_ok(const char *text)
{
	struct aic_spec *spec = NULL;
	char *errors = NULL;
	int rc = aic_spec_parse(text, strlen(text), "job.yaml", &spec, &errors);

	if (rc != 0)
		fprintf(stderr, "unexpected errors:\n%s", errors ? errors : "(none)\n");
	assert_int_equal(rc, 0);
	assert_null(errors);
	assert_non_null(spec);
	return spec;
}

/* Parses text, expects AIC_ESPEC and a message containing `want`. */
static void expect_error(const char *text, const char *want)
{
	struct aic_spec *spec = (struct aic_spec *)1;
	char *errors = NULL;
	int rc = aic_spec_parse(text, strlen(text), "job.yaml", &spec, &errors);

	assert_int_equal(rc, AIC_ESPEC);
	assert_null(spec);
	assert_non_null(errors);
	if (!strstr(errors, want)) {
		fprintf(stderr, "want: %s\ngot:  %s", want, errors);
		fail();
	}
	free(errors);
}

static void parses_grpo(void **state)
{
	struct aic_spec *spec = parse_ok(grpo);
	const struct aic_stage *r, *w, *t;
	const struct aic_channel *ch;

	(void)state;
	assert_string_equal(spec->name, "grpo-toy");
	assert_int_equal(spec->n_stages, 3);
	assert_string_equal(spec->stages[0].name, "rollout");
	assert_string_equal(spec->stages[1].name, "reward");
	assert_string_equal(spec->stages[2].name, "train");

	r = aic_spec_stage(spec, "rollout");
	assert_int_equal(r->replicas_min, 1);
	assert_int_equal(r->replicas_max, 8);
	assert_int_equal(r->ranks, 0);
	assert_int_equal(r->gpus, 2);
	assert_int_equal(r->cpus, 1);
	assert_string_equal(r->argv[0], "python3");
	assert_string_equal(r->argv[1], "rollout.py");
	assert_null(r->argv[2]);
	assert_false(r->shell);
	assert_string_equal(r->weights_from, "policy");
	assert_int_equal(r->mark.line, 3);
	assert_int_equal(r->mark.col, 3);
	assert_int_equal(r->gpus_mark.line, 6);
	assert_int_equal(r->gpus_mark.col, 11);
	assert_int_equal(aic_stage_procs(r), 8);

	w = aic_spec_stage(spec, "reward");
	assert_true(w->shell);
	assert_string_equal(w->argv[0], "/bin/sh");
	assert_string_equal(w->argv[1], "-c");
	assert_string_equal(w->argv[2], "python3 reward.py --fast");
	assert_int_equal(w->replicas_min, 2);
	assert_int_equal(w->replicas_max, 2);
	assert_int_equal(w->mem_mb, 4096);
	assert_string_equal(w->env[0], "OMP_NUM_THREADS=1");
	assert_string_equal(w->env[1], "MODE=fast");
	assert_null(w->env[2]);
	assert_int_equal(w->restart.max, 3);
	assert_int_equal(w->restart.backoff_ms, 100);

	t = aic_spec_stage(spec, "train");
	assert_int_equal(t->ranks, 4);
	assert_int_equal(t->replicas_max, 1);
	assert_int_equal(aic_stage_procs(t), 4);
	assert_null(t->colocate_with);
	assert_int_equal(t->restart.max, 5);
	assert_int_equal(t->restart.backoff_ms, 100);

	assert_int_equal(spec->n_channels, 3);
	ch = aic_spec_channel(spec, "prompts");
	assert_string_equal(ch->source, "prompts.jsonl");
	assert_int_equal(ch->epochs, 3);
	assert_int_equal(ch->prefetch, -1); /* not given: the head's choice */
	assert_true(ch->declared);
	ch = aic_spec_channel(spec, "samples");
	assert_int_equal(ch->capacity, 256);
	assert_int_equal(ch->capacity_mb, 2048);
	assert_true(ch->compress);
	assert_int_equal(ch->prefetch, 4);
	ch = aic_spec_channel(spec, "scored");
	assert_false(ch->declared);
	assert_int_equal(ch->capacity, AIC_SPEC_DEFAULT_CAPACITY);
	assert_int_equal(ch->capacity_mb, AIC_SPEC_DEFAULT_CAPACITY_MB);
	assert_int_equal(spec->n_weights, 1);
	assert_int_equal(spec->weights[0].max_staleness, 2);
	aic_spec_free(spec);
}

static void metrics_keys(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n  one: {command: [true]}\n"
					 "metrics: {port: 9400, listen: 0.0.0.0, textfile: /t/aic.prom}\n");

	(void)state;
	assert_int_equal(spec->metrics.port, 9400);
	assert_string_equal(spec->metrics.listen, "0.0.0.0");
	assert_string_equal(spec->metrics.textfile, "/t/aic.prom");
	aic_spec_free(spec);
}

static void defaults(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n  one: {command: [true]}\n");

	(void)state;
	assert_null(spec->name);
	assert_int_equal(spec->stages[0].replicas_min, 1);
	assert_int_equal(spec->stages[0].replicas_max, 1);
	assert_int_equal(spec->stages[0].gpus, 0);
	assert_int_equal(spec->stages[0].cpus, 1);
	assert_int_equal(spec->stages[0].restart.max, AIC_SPEC_DEFAULT_RESTART_MAX);
	assert_int_equal(spec->stages[0].restart.backoff_ms, AIC_SPEC_DEFAULT_BACKOFF_MS);
	assert_int_equal(spec->checkpoint.grace_s, AIC_SPEC_DEFAULT_GRACE_S);
	assert_int_equal(spec->metrics.port, 0);
	assert_null(spec->metrics.listen);
	assert_null(spec->metrics.textfile);
	/* No `checkpoint:` section: SIGTERM stays a cancel (the engine reads the mark). */
	assert_int_equal(spec->checkpoint.term_grace_s, AIC_SPEC_DEFAULT_TERM_GRACE_S);
	assert_int_equal(spec->checkpoint.mark.line, 0);
	assert_null(spec->stages[0].env);
	assert_null(spec->stages[0].inputs);
	assert_int_equal(spec->topology, AIC_TOPOLOGY_PREFER);
	aic_spec_free(spec);
	spec = parse_ok("stages:\n  one: {command: [true]}\ntopology: strict\n");
	assert_int_equal(spec->topology, AIC_TOPOLOGY_STRICT);
	aic_spec_free(spec);
	spec = parse_ok("topology: off\nstages:\n  one: {command: [true]}\n");
	assert_int_equal(spec->topology, AIC_TOPOLOGY_OFF);
	aic_spec_free(spec);
	spec = parse_ok("stages:\n  one: {command: [true]}\ncheckpoint: {}\n");
	assert_int_equal(spec->checkpoint.mark.line, 3);
	assert_int_equal(spec->checkpoint.term_grace_s, AIC_SPEC_DEFAULT_TERM_GRACE_S);
	aic_spec_free(spec);
}

static void mem_units(void **state)
{
	static const struct {
		const char *text;
		uint64_t mb;
	} cases[] = {{"512", 512},    {"512M", 512},	     {"2G", 2048},
		     {"1T", 1048576}, {"1536K", 2},	     {"16GiB", 16384},
		     {"8g", 8192},    {"1024T", 1073741824}, {"1099511627776K", 1073741824}};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aic_spec *spec;
		snprintf(buf, sizeof(buf), "stages:\n  a: {command: x, mem: %s}\n", cases[i].text);
		spec = parse_ok(buf);
		assert_int_equal(spec->stages[0].mem_mb, cases[i].mb);
		aic_spec_free(spec);
	}
}

/* failure_timeout: a duration, default 10 s, from 1 s to 1 h; errors at the value. */
static void failure_timeout(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} cases[] = {{"10s", 10000}, {"30", 30000},	{"1500ms", 1500},
		     {"2m", 120000}, {"1h", 3600000}, {"1000ms", 1000}};
	struct aic_spec *spec = parse_ok("stages:\n  a: {command: x}\n");
	char buf[256];
	size_t i;

	(void)state;
	assert_int_equal(spec->failure_timeout_ms, AIC_SPEC_DEFAULT_FAILURE_TIMEOUT_MS);
	assert_int_equal(AIC_SPEC_DEFAULT_FAILURE_TIMEOUT_MS, 10000);
	aic_spec_free(spec);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "stages:\n  a: {command: x}\nfailure_timeout: %s\n",
			 cases[i].text);
		spec = parse_ok(buf);
		assert_int_equal(spec->failure_timeout_ms, cases[i].ms);
		aic_spec_free(spec);
	}
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: soon\n",
		     "job.yaml:3:18: failure_timeout: expected a duration from 1s to 1h such as 10s, "
		     "500ms or 2m (a bare number is seconds), got 'soon'");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: 10x\n", "got '10x'");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: '10s'\n", "got '10s'");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: -5s\n", "got '-5s'");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: 999ms\n",
		     "job.yaml:3:18: failure_timeout: '999ms' is out of range: expected a duration "
		     "from 1s to 1h");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: 61m\n", "'61m' is out of range");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: 3601\n",
		     "'3601' is out of range");
	expect_error("stages:\n  a: {command: x}\nfailure_timeout: 99999999999999999999999h\n",
		     "is out of range");
	expect_error("stages:\n  a: {command: x}\nfailure_timout: 10s\n", "failure_timeout");
}

static void a_channel_with_source_and_sink(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n"
					 "  gen: {command: [gen], inputs: [in], outputs: out}\n"
					 "channels:\n"
					 "  in: {source: prompts.jsonl}\n"
					 "  out: {sink: results.jsonl}\n");

	(void)state;
	assert_string_equal(spec->stages[0].outputs[0], "out");
	assert_string_equal(aic_spec_channel(spec, "out")->sink, "results.jsonl");
	aic_spec_free(spec);
}

static void colocation(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n"
					 "  gen: {command: g, gpus: 1, inputs: [p], outputs: [s],"
					 " weights_from: w}\n"
					 "  train: {command: t, gpus: 1, inputs: [s], weights_to: w,"
					 " colocate_with: gen}\n"
					 "channels: {p: {source: p.jsonl}}\n");

	(void)state;
	assert_string_equal(aic_spec_stage(spec, "train")->colocate_with, "gen");
	aic_spec_free(spec);
}

/* colocate_with: {stage, mode}: alternate makes a phase pair; a plain name stays concurrent. */
static void colocation_alternate(void **state)
{
	struct aic_spec *spec =
		parse_ok("stages:\n"
			 "  gen: {command: g, gpus: 1, inputs: [p], outputs: [s],"
			 " weights_from: w,\n"
			 "        colocate_with: {stage: train, mode: alternate}}\n"
			 "  train: {command: t, gpus: 1, inputs: [s], weights_to: w}\n"
			 "  judge: {command: j, gpus: 1, colocate_with: {stage: train}}\n"
			 "channels: {p: {source: p.jsonl}}\n");

	(void)state;
	assert_string_equal(aic_spec_stage(spec, "gen")->colocate_with, "train");
	assert_int_equal(aic_spec_stage(spec, "gen")->colocate_mode, AIC_COLOCATE_ALTERNATE);
	assert_int_equal(aic_spec_stage(spec, "gen")->colocate_mark.line, 3);
	assert_int_equal(aic_spec_stage(spec, "gen")->colocate_mark.col, 32);
	assert_int_equal(aic_spec_stage(spec, "judge")->colocate_mode, AIC_COLOCATE_CONCURRENT);
	assert_int_equal(aic_spec_stage(spec, "train")->colocate_mode, AIC_COLOCATE_CONCURRENT);
	aic_spec_free(spec);

	expect_error(
		"stages:\n  a: {command: c, gpus: 1, colocate_with: {stage: b, mode: turns}}\n"
		"  b: {command: c, gpus: 1}\n",
		"job.yaml:2:60: stages.a.colocate_with.mode: expected concurrent or alternate, "
		"got 'turns'");
	expect_error("stages:\n  a: {command: c, gpus: 1, colocate_with: {mode: alternate}}\n",
		     "job.yaml:2:43: stages.a.colocate_with: 'stage' is required");
	expect_error(
		"stages:\n  a: {command: c, gpus: 1, colocate_with: [b]}\n",
		"job.yaml:2:43: stages.a.colocate_with: expected a stage name or {stage, mode}, "
		"got a list");
	expect_error("stages:\n  a: {command: c, gpus: 1, colocate_with: {stage: zz, mode: "
		     "alternate}}\n",
		     "job.yaml:2:51: stage 'a': colocate_with names 'zz', which is no stage");
	/* One alternating pair per set of GPUs. */
	expect_error(
		"stages:\n"
		"  t: {command: c, gpus: 1}\n"
		"  a: {command: c, gpus: 1, colocate_with: {stage: t, mode: alternate}}\n"
		"  b: {command: c, gpus: 1, colocate_with: {stage: t, mode: alternate}}\n",
		"job.yaml:4:51: stage 'b': alternates with 't', but stage 'a' alternates with 't' "
		"already (one pair per set of GPUs)");
}

/* Every error path, with the exact position and the words a user needs. */
static void errors_yaml(void **state)
{
	(void)state;
	expect_error("stages:\n  a: [unclosed\n", "job.yaml:3:1: invalid YAML: did not find expected");
	expect_error("", "job.yaml:1:1: the spec is empty: expected a mapping with 'stages'");
	expect_error("- a\n- b\n", "job.yaml:1:1: expected a mapping with 'name', 'stages'");
	expect_error("name: x\n", "job.yaml:1:1: the spec has no 'stages'");
	expect_error("stages: {}\n", "job.yaml:1:9: stages: a job needs at least one stage");
	expect_error("stages: [a, b]\n", "job.yaml:1:9: stages: expected a mapping of NAME: {...}, got a list");
	expect_error("a: &x {command: c}\nstages:\n  s1: *x\n  s2: *x\n",
		     "YAML aliases are not supported");
}

static void errors_keys(void **state)
{
	(void)state;
	expect_error("stages:\n  a: {command: c, replica: 2}\n",
		     "job.yaml:2:19: stage 'a': unknown key 'replica'; did you mean 'replicas'?");
	expect_error("stages:\n  a: {command: c, zzzzzz: 2}\n",
		     "job.yaml:2:19: stage 'a': unknown key 'zzzzzz' (expected one of: command, "
		     "replicas, ranks, gpus");
	expect_error("stages:\n  a: {command: c}\nstagse: {}\n",
		     "job.yaml:3:1: the spec: unknown key 'stagse'; did you mean 'stages'?");
	expect_error("stages:\n  a: {command: c, gpus: 1, gpus: 2}\n",
		     "job.yaml:2:28: stage 'a': key 'gpus' appears twice");
	expect_error("stages:\n  a: {command: c}\n  a: {command: d}\n",
		     "job.yaml:3:3: stages: stage 'a' is defined twice");
	expect_error("stages:\n  a b: {command: c}\n",
		     "job.yaml:2:3: stages: invalid name 'a b': expected 1 to 64 letters");
	expect_error("stages:\n  a: {command: c}\nchannels:\n  x: {source: s, capcity: 3}\n",
		     "job.yaml:4:18: channel 'x': unknown key 'capcity'; did you mean 'capacity'?");
	expect_error("stages:\n  a: {command: c}\nweights: {w: {staleness: 1}}\n",
		     "weights 'w': unknown key 'staleness'; did you mean 'max_staleness'?");
	expect_error("stages:\n  a: {command: c, restart: {max: 1, backof_ms: 3}}\n",
		     "unknown key 'backof_ms'; did you mean 'backoff_ms'?");
}

static void errors_types(void **state)
{
	(void)state;
	expect_error("stages:\n  a: {command: c, replicas: many}\n",
		     "job.yaml:2:29: stages.a.replicas: expected an integer from 1 to 100000, got 'many'");
	expect_error("stages:\n  a: {command: c, replicas: 0}\n",
		     "stages.a.replicas: '0' is out of range: expected an integer from 1 to 100000");
	expect_error("stages:\n  a: {command: c, replicas: [1]}\n",
		     "stages.a.replicas: expected an integer or {min, max}, got a list");
	expect_error("stages:\n  a: {command: c, replicas: {min: 4, max: 2}}\n",
		     "stages.a.replicas: min 4 is larger than max 2");
	expect_error("stages:\n  a: {command: c, replicas: {min: 1}}\n",
		     "stages.a.replicas: 'max' is required");
	expect_error("stages:\n  a: {command: c, gpus: '2'}\n",
		     "stages.a.gpus: expected an integer from 0 to 1024, got '2'");
	expect_error("stages:\n  a: {command: c, gpus: -1}\n", "stages.a.gpus: '-1' is out of range");
	expect_error("stages:\n  a: {command: c, cpus: 1.5}\n",
		     "stages.a.cpus: expected an integer from 0 to 4096, got '1.5'");
	expect_error("stages:\n  a: {command: c, mem: lots}\n",
		     "stages.a.mem: expected a size such as 512M, 16G or 1T (a bare number is MiB), got 'lots'");
	expect_error("stages:\n  a: {command: c, mem: 4Q}\n", "got '4Q'");
	/* 2^34 T is 2^64 KiB: it must not wrap round to 0, nor 2^34 T + 1 to 1T. */
	expect_error("stages:\n  a: {command: c, mem: 17179869184T}\n",
		     "job.yaml:2:24: stages.a.mem: '17179869184T' is too large: at most 1024T");
	expect_error("stages:\n  a: {command: c, mem: 17179869185T}\n",
		     "stages.a.mem: '17179869185T' is too large: at most 1024T");
	expect_error("stages:\n  a: {command: c, mem: 1025T}\n",
		     "stages.a.mem: '1025T' is too large: at most 1024T");
	expect_error("stages:\n  a: {command: c, mem: 1048577G}\n", "'1048577G' is too large");
	expect_error("stages:\n  a: {command: c, mem: 1073741825}\n", "'1073741825' is too large");
	expect_error("stages:\n  a: {command: c, mem: 99999999999999999999999K}\n",
		     "'99999999999999999999999K' is too large");
	expect_error("stages:\n  a: {command: []}\n",
		     "stages.a.command: expected a non-empty list of strings or a shell command string, got an empty list");
	expect_error("stages:\n  a: {command: [x, {y: 1}]}\n",
		     "job.yaml:2:20: stages.a.command: expected a string, got a mapping");
	expect_error("stages:\n  a: {gpus: 1}\n", "job.yaml:2:3: stage 'a' has no command");
	expect_error("stages:\n  a: 3\n", "job.yaml:2:6: stage 'a': expected a mapping with at least 'command', got '3'");
	expect_error("stages:\n  a: {command: c, env: [A]}\n",
		     "stages.a.env: expected a mapping of NAME: value, got a list");
	expect_error("stages:\n  a: {command: c, env: {1X: y}}\n",
		     "stages.a.env: invalid variable name '1X'");
	expect_error("stages:\n  a: {command: c, env: {X: [1]}}\n",
		     "stages.a.env.X: expected a string or number, got a list");
	expect_error("stages:\n  a: {command: c, inputs: [x, x]}\nchannels: {x: {source: f}}\n",
		     "stages.a.inputs: 'x' is listed twice");
	expect_error("stages:\n  a: {command: c, inputs: {x: 1}}\n",
		     "stages.a.inputs: expected a list of names, got a mapping");
	expect_error("stages:\n  a: {command: c}\nchannels: {x: {source: f, compress: maybe}}\n",
		     "channels.x.compress: expected true or false, got 'maybe'");
	expect_error("stages:\n  a: {command: c}\nchannels: {x: {source: ''}}\n",
		     "channels.x.source: expected a string, got ''");
	expect_error("stages:\n  a: {command: c}\nchannels: {x: 5}\n",
		     "channel 'x': expected a mapping, got '5'");
	expect_error("stages:\n  a: {command: c}\nrestart: 3\n",
		     "job.yaml:3:10: restart: expected a mapping {max, backoff_ms}, got '3'");
	expect_error("stages:\n  a: {command: c}\nrestart: {max: -2}\n", "restart.max: '-2' is out of range");
	expect_error("name: [x]\nstages:\n  a: {command: c}\n", "job.yaml:1:7: name: expected a string, got a list");
	expect_error("stages:\n  a: {command: c}\ntopology: always\n",
		     "job.yaml:3:11: topology: expected prefer, strict or off, got 'always'");
	expect_error("stages:\n  a: {command: c}\ntopology: 'strict'\n",
		     "topology: expected prefer, strict or off, got 'strict'");
	expect_error("stages:\n  a: {command: c}\ntopolgy: strict\n",
		     "unknown key 'topolgy'; did you mean 'topology'?");
}

static void errors_graph(void **state)
{
	(void)state;
	expect_error("stages:\n  a: {command: c, replicas: 2, ranks: 2}\n",
		     "job.yaml:2:32: stage 'a' has both 'replicas' and 'ranks'");
	expect_error("stages:\n  a: {command: c, inputs: [x]}\n",
		     "job.yaml:2:3: channel 'x' is read by stage 'a' but written by no stage and has no source");
	expect_error("stages:\n  a: {command: c, outputs: [x]}\n",
		     "channel 'x' is written by stage 'a' but read by no stage and has no sink");
	expect_error("stages:\n  a: {command: c}\nchannels:\n  x: {capacity: 3}\n",
		     "job.yaml:4:3: channel 'x' is neither written nor read");
	expect_error("stages:\n  a: {command: c}\nchannels:\n  x: {source: f}\n",
		     "channel 'x' has a source but is read by no stage and has no sink");
	expect_error("stages:\n  a: {command: c, outputs: [y]}\nchannels:\n  y: {epochs: 2, sink: s}\n",
		     "job.yaml:4:15: channel 'y': 'epochs' needs a 'source'");
	expect_error("stages:\n"
		     "  a: {command: c, inputs: [x], outputs: [y]}\n"
		     "  b: {command: c, inputs: [y], outputs: [x]}\n",
		     "job.yaml:2:3: stage 'a' can never start: its input 'x' is written only by stages "
		     "that wait on it (a cycle with no source)");
	/* Colocation errors point at the colocate_with value, not at the stage's name. */
	expect_error("stages:\n  a: {command: c, colocate_with: zz}\n",
		     "job.yaml:2:34: stage 'a': colocate_with names 'zz', which is no stage");
	expect_error("stages:\n  a: {command: c, gpus: 1, colocate_with: a}\n",
		     "job.yaml:2:43: stage 'a': colocate_with names the stage itself");
	expect_error("stages:\n"
		     "  a:\n"
		     "    command: c\n"
		     "    gpus: 1\n"
		     "    colocate_with: b\n"
		     "  b: {command: c}\n",
		     "job.yaml:5:20: stage 'a': colocate_with 'b' shares GPUs, but stage 'b' uses none");
	expect_error("stages:\n  a: {command: c, weights_to: w}\n",
		     "weights 'w' are published by stage 'a' but no stage has 'weights_from: w'");
	expect_error("stages:\n  a: {command: c, weights_from: w}\n",
		     "weights 'w' have no writer: no stage has 'weights_to: w'");
	expect_error("stages:\n  a: {command: c, weights_to: w}\n  b: {command: c, weights_to: w}\n",
		     "weights 'w' are published by both stage 'a' and stage 'b'");
}

/*
 * Every integer key, read through its section's table: both ends of its
 * range land in the right field, and one past either end is refused with
 * the key's full path and range. A row with a wrong field, range or path
 * fails here.
 */
enum where { STAGE, CHANNEL, WEIGHTS, TOP };

/* The int at `offset` in the first stage, channel or weights, or in the spec. */
static int int_at(const struct aic_spec *s, enum where w, size_t offset)
{
	const char *base = w == STAGE	  ? (const char *)&s->stages[0]
			   : w == CHANNEL ? (const char *)&s->channels[0]
			   : w == WEIGHTS ? (const char *)&s->weights[0]
					  : (const char *)s;

	return *(const int *)(base + offset);
}

static void int_keys_ranges(void **state)
{
	static const char one[] = "stages:\n  a: {command: c, %s: %ld}\n";
	static const char chan[] = "stages:\n  a: {command: c, outputs: x}\n"
				   "channels: {x: {sink: s, source: f, %s: %ld}}\n";
	static const struct {
		const char *fmt, *key, *what;
		long min, max;
		enum where in;
		size_t offset;
	} cases[] = {
		{one, "ranks", "stages.a.ranks", 1, 100000, STAGE,
		 offsetof(struct aic_stage, ranks)},
		{one, "gpus", "stages.a.gpus", 0, 1024, STAGE, offsetof(struct aic_stage, gpus)},
		{one, "cpus", "stages.a.cpus", 0, 4096, STAGE, offsetof(struct aic_stage, cpus)},
		{one, "replicas", "stages.a.replicas", 1, 100000, STAGE,
		 offsetof(struct aic_stage, replicas_max)},
		{"stages:\n  a: {command: c, replicas: {max: 100000, %s: %ld}}\n", "min",
		 "stages.a.replicas.min", 0, 100000, STAGE,
		 offsetof(struct aic_stage, replicas_min)},
		{"stages:\n  a: {command: c, replicas: {min: 0, %s: %ld}}\n", "max",
		 "stages.a.replicas.max", 1, 100000, STAGE,
		 offsetof(struct aic_stage, replicas_max)},
		{"stages:\n  a: {command: c, ranks: {max: 100000, %s: %ld}}\n", "min",
		 "stages.a.ranks.min", 1, 100000, STAGE, offsetof(struct aic_stage, ranks_min)},
		{"stages:\n  a: {command: c, ranks: {min: 1, %s: %ld}}\n", "max",
		 "stages.a.ranks.max", 1, 100000, STAGE, offsetof(struct aic_stage, ranks)},
		{"stages:\n  a: {command: c, restart: {%s: %ld}}\n", "max", "stages.a.restart.max",
		 0, 1000000, STAGE, offsetof(struct aic_stage, restart.max)},
		{"stages:\n  a: {command: c, restart: {%s: %ld}}\n", "backoff_ms",
		 "stages.a.restart.backoff_ms", 0, 3600000, STAGE,
		 offsetof(struct aic_stage, restart.backoff_ms)},
		{"stages:\n  a: {command: c}\nrestart: {%s: %ld}\n", "max", "restart.max", 0,
		 1000000, TOP, offsetof(struct aic_spec, restart.max)},
		{"stages:\n  a: {command: c}\nrestart: {%s: %ld}\n", "backoff_ms",
		 "restart.backoff_ms", 0, 3600000, TOP,
		 offsetof(struct aic_spec, restart.backoff_ms)},
		{"stages:\n  a: {command: c}\ncheckpoint: {%s: %ld}\n", "grace_s",
		 "checkpoint.grace_s", 1, 86400, TOP, offsetof(struct aic_spec, checkpoint.grace_s)},
		{"stages:\n  a: {command: c}\nmetrics: {%s: %ld}\n", "port", "metrics.port", 0,
		 65535, TOP, offsetof(struct aic_spec, metrics.port)},
		{"stages:\n  a: {command: c}\ncheckpoint: {%s: %ld}\n", "term_grace_s",
		 "checkpoint.term_grace_s", 0, 86400, TOP,
		 offsetof(struct aic_spec, checkpoint.term_grace_s)},
		{chan, "capacity", "channels.x.capacity", 1, 16777216, CHANNEL,
		 offsetof(struct aic_channel, capacity)},
		{chan, "epochs", "channels.x.epochs", 1, 1000000, CHANNEL,
		 offsetof(struct aic_channel, epochs)},
		{chan, "prefetch", "channels.x.prefetch", 0, 65536, CHANNEL,
		 offsetof(struct aic_channel, prefetch)},
		{"stages:\n  a: {command: c, weights_to: w}\n  b: {command: c, weights_from: w}\n"
		 "weights: {w: {%s: %ld}}\n",
		 "max_staleness", "weights.w.max_staleness", 0, 1000000, WEIGHTS,
		 offsetof(struct aic_weights, max_staleness)},
		{"stages:\n  a: {command: c, service: {%s: %ld}}\n", "ready_timeout_s",
		 "stages.a.service.ready_timeout_s", 1, 86400, STAGE,
		 offsetof(struct aic_stage, svc.ready_timeout_s)},
		{"stages:\n  a: {command: c, service: {%s: %ld}}\n", "port",
		 "stages.a.service.port", 1, 65535, STAGE, offsetof(struct aic_stage, svc.port)},
		{"stages:\n  a: {command: c, sandbox: {%s: %ld}}\n", "tmpfs_mb",
		 "stages.a.sandbox.tmpfs_mb", 1, 1 << 20, STAGE,
		 offsetof(struct aic_stage, sbx.tmpfs_mb)},
		{"stages:\n  a: {command: c, sandbox: {%s: %ld}}\n", "timeout_s",
		 "stages.a.sandbox.timeout_s", 1, 86400, STAGE,
		 offsetof(struct aic_stage, sbx.timeout_s)},
	};
	char text[512], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long ends[2] = {cases[i].min, cases[i].max},
		     out[2] = {cases[i].min - 1, cases[i].max + 1};
		int e;

		for (e = 0; e < 2; e++) {
			struct aic_spec *spec;

			snprintf(text, sizeof(text), cases[i].fmt, cases[i].key, ends[e]);
			spec = parse_ok(text);
			assert_int_equal(int_at(spec, cases[i].in, cases[i].offset), ends[e]);
			aic_spec_free(spec);

			snprintf(text, sizeof(text), cases[i].fmt, cases[i].key, out[e]);
			snprintf(want, sizeof(want),
				 "%s: '%ld' is out of range: expected an integer from %ld to %ld",
				 cases[i].what, out[e], cases[i].min, cases[i].max);
			expect_error(text, want);
		}
	}
}

/* The defaults the tables give, for declared and for implicit entries. */
static void table_defaults(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n"
					 "  a: {command: c, outputs: [x, y], weights_to: w,"
					 " restart: {backoff_ms: 7}}\n"
					 "  b: {command: c, inputs: [x, y], weights_from: w}\n"
					 "  c: {command: c, weights_to: v}\n"
					 "  d: {command: c, weights_from: v}\n"
					 "channels: {x: ~}\n"
					 "weights: {w: null}\n"
					 "restart: {max: 9}\n");
	size_t i;

	(void)state;
	assert_int_equal(spec->n_channels, 2);
	for (i = 0; i < spec->n_channels; i++) {
		assert_int_equal(spec->channels[i].capacity, AIC_SPEC_DEFAULT_CAPACITY);
		assert_int_equal(spec->channels[i].epochs, 1);
		assert_false(spec->channels[i].compress);
		assert_null(spec->channels[i].source);
	}
	assert_true(aic_spec_channel(spec, "x")->declared);
	assert_false(aic_spec_channel(spec, "y")->declared);
	assert_int_equal(spec->n_weights, 2);
	assert_string_equal(spec->weights[0].name, "w");
	assert_true(spec->weights[0].declared);
	assert_false(spec->weights[1].declared);
	for (i = 0; i < spec->n_weights; i++)
		assert_int_equal(spec->weights[i].max_staleness, AIC_SPEC_DEFAULT_STALENESS);
	/* A stage's restart takes the fields it leaves out from the top level's. */
	assert_int_equal(spec->stages[0].restart.max, 9);
	assert_int_equal(spec->stages[0].restart.backoff_ms, 7);
	assert_int_equal(spec->stages[1].restart.max, 9);
	assert_int_equal(spec->stages[1].restart.backoff_ms, AIC_SPEC_DEFAULT_BACKOFF_MS);
	aic_spec_free(spec);
}

/* A wrong value for each kind of key the tables know. */
static void errors_each_type(void **state)
{
	(void)state;
	expect_error(
		"stages:\n  a: {command: c, ranks: two}\n",
		"job.yaml:2:26: stages.a.ranks: expected an integer from 1 to 100000, got 'two'");
	expect_error(
		"stages:\n  a: {command: c, outputs: x}\nchannels: {x: {sink: s, compress: 1}}\n",
		"job.yaml:3:35: channels.x.compress: expected true or false, got '1'");
	expect_error("stages:\n  a: {command: c, outputs: x}\nchannels: {x: {sink: [s]}}\n",
		     "job.yaml:3:22: channels.x.sink: expected a string, got a list");
	expect_error("stages:\n  a: {command: c, weights_to: 'a b'}\n",
		     "job.yaml:2:31: stages.a.weights_to: invalid name 'a b': expected 1 to 64");
	expect_error("stages:\n  a: {command: c, weights_from: ~}\n",
		     "job.yaml:2:33: stages.a.weights_from: expected a string, got '~'");
	expect_error("stages:\n  a: {command: c, outputs: [[x]]}\n",
		     "job.yaml:2:29: stages.a.outputs: expected a string, got a list");
	expect_error("stages:\n  a: {command: c, mem: -1}\n",
		     "job.yaml:2:24: stages.a.mem: expected a size such as 512M");
	expect_error("stages:\n  a: {command: c, env: A=1}\n",
		     "job.yaml:2:24: stages.a.env: expected a mapping of NAME: value, got 'A=1'");
	expect_error("stages:\n  a: {command: c, restart: [1]}\n",
		     "job.yaml:2:28: stages.a.restart: expected a mapping {max, backoff_ms}, got a "
		     "list");
	expect_error("stages:\n  a: {command: c}\nweights: [w]\n",
		     "job.yaml:3:10: weights: expected a mapping of NAME: {...}, got a list");
	expect_error("stages:\n  a: {command: c}\ntopology: [strict]\n",
		     "job.yaml:3:11: topology: expected prefer, strict or off, got a list");
	expect_error("stages:\n  a: {command: c, [x]: 1}\n",
		     "job.yaml:2:19: stage 'a': keys must be names, got a list");
}

/* An unknown key with no near miss lists every key its section has. */
static void unknown_keys_list_the_section(void **state)
{
	(void)state;
	expect_error("stages:\n  a: {command: c, zzzzzz: 1}\n",
		     "stage 'a': unknown key 'zzzzzz' (expected one of: command, replicas, ranks, "
		     "gpus, cpus, mem, env, inputs, outputs, weights_to, weights_from, "
		     "colocate_with, restart, on_node_failure, placement, autoscale, service, sandbox)\n");
	expect_error(
		"stages:\n  a: {command: c, replicas: {max: 2, zzzzzz: 1}}\n",
		"job.yaml:2:38: stages.a.replicas: unknown key 'zzzzzz' (expected one of: min, "
		"max)\n");
	expect_error("stages:\n  a: {command: c, restart: {zzzzzz: 1}}\n",
		     "job.yaml:2:29: stages.a.restart: unknown key 'zzzzzz' (expected one of: max, "
		     "backoff_ms)\n");
	expect_error("stages:\n  a: {command: c}\nchannels: {x: {zzzzzz: 1}}\n",
		     "job.yaml:3:16: channel 'x': unknown key 'zzzzzz' (expected one of: source, "
		     "sink, capacity, epochs, compress, prefetch, capacity_bytes)\n");
	expect_error("stages:\n  a: {command: c}\nweights: {w: {zzzzzz: 1}}\n",
		     "job.yaml:3:15: weights 'w': unknown key 'zzzzzz' (expected one of: "
		     "max_staleness)\n");
	expect_error("stages:\n  a: {command: c}\nrestart: {zzzzzz: 1}\n",
		     "job.yaml:3:11: restart: unknown key 'zzzzzz' (expected one of: max, "
		     "backoff_ms)\n");
	expect_error("stages:\n  a: {command: c}\nzzzzzz: 1\n",
		     "job.yaml:3:1: the spec: unknown key 'zzzzzz' (expected one of: name, stages, "
		     "channels, weights, restart, topology, failure_timeout, checkpoint, metrics, autoscale)\n");
	expect_error(
		"- a\n",
		"job.yaml:1:1: expected a mapping with 'name', 'stages', 'channels', 'weights', "
		"'restart', 'topology', 'failure_timeout', 'checkpoint', 'metrics' and 'autoscale' at the top, got "
		"a list\n");
}

/* The spec's topology names are the ones domain.c reads back from AIC_JOB. */
static void topology_names_match_domain(void **state)
{
	enum aic_topology t;
	char text[128];

	(void)state;
	for (t = AIC_TOPOLOGY_PREFER; t <= AIC_TOPOLOGY_OFF; t++) {
		struct aic_spec *spec;
		enum aic_topology back;

		snprintf(text, sizeof(text), "stages:\n  a: {command: c}\ntopology: %s\n",
			 aic_topology_name(t));
		spec = parse_ok(text);
		assert_int_equal(spec->topology, t);
		assert_int_equal(aic_topology_parse(aic_topology_name(t), &back), 0);
		assert_int_equal(back, t);
		aic_spec_free(spec);
	}
}

/* A cycle that a source feeds can start: it is not an error. */
static void cycle_with_source_is_fine(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n"
					 "  a: {command: c, inputs: [p], outputs: [y]}\n"
					 "  b: {command: c, inputs: [y], outputs: [p]}\n"
					 "channels: {p: {source: seed.jsonl}}\n");

	(void)state;
	aic_spec_free(spec);
}

static void reports_every_error(void **state)
{
	const char *text = "stages:\n  a: {command: c, gpus: x}\n  b: {command: c, cpus: y}\n";
	struct aic_spec *spec;
	char *errors = NULL;

	(void)state;
	assert_int_equal(aic_spec_parse(text, strlen(text), "j.yaml", &spec, &errors), AIC_ESPEC);
	assert_non_null(strstr(errors, "j.yaml:2:25: stages.a.gpus"));
	assert_non_null(strstr(errors, "j.yaml:3:25: stages.b.cpus"));
	free(errors);
}

static void error_lists_are_bounded(void **state)
{
	char text[16384];
	size_t o = 0;
	int i, lines = 0;
	struct aic_spec *spec;
	char *errors = NULL, *p;

	(void)state;
	o += (size_t)snprintf(text + o, sizeof(text) - o, "stages:\n");
	for (i = 0; i < 200; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "  s%d: {command: c, gpus: x}\n", i);
	assert_int_equal(aic_spec_parse(text, o, "j.yaml", &spec, &errors), AIC_ESPEC);
	for (p = errors; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 50);
	assert_non_null(strstr(errors, "too many errors"));
	free(errors);
}

static void nul_bytes_are_refused(void **state)
{
	static const char text[] = "stages:\n  a: {command: \"x\\0y\"}\n";

	(void)state;
	expect_error(text, "stages.a.command: the string contains a NUL character");
}

static void load_file(void **state)
{
	char path[] = "/tmp/aic-test-spec-XXXXXX";
	int fd = mkstemp(path);
	struct aic_spec *spec;
	char *errors = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, grpo, strlen(grpo)), (ssize_t)strlen(grpo));
	close(fd);
	assert_int_equal(aic_spec_load(path, &spec, &errors), 0);
	assert_string_equal(spec->path, path);
	aic_spec_free(spec);
	unlink(path);

	assert_int_equal(aic_spec_load("/nonexistent/job.yaml", &spec, &errors), -ENOENT);
	assert_null(spec);
	assert_string_equal(errors,
			    "aic: cannot read '/nonexistent/job.yaml': No such file or directory\n");
	free(errors);
}

static void too_large(void **state)
{
	size_t n = AIC_SPEC_MAX_BYTES + 1;
	char *big = malloc(n);
	struct aic_spec *spec;
	char *errors = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(aic_spec_parse(big, n, "big.yaml", &spec, &errors), AIC_ESPEC);
	assert_non_null(strstr(errors, "big.yaml:1:1: the spec is 1048577 bytes; the limit is 1048576"));
	free(errors);
	free(big);
}

/* on_node_failure and a gang's {min, max}: what a lost node may do to a stage. */
static void node_failure_keys(void **state)
{
	struct aic_spec *spec =
		parse_ok("stages:\n"
			 "  a: {command: c, ranks: {min: 2, max: 4}}\n"
			 "  b: {command: c, ranks: 3, on_node_failure: fail}\n"
			 "  c: {command: c, ranks: {max: 2}, on_node_failure: replace}\n"
			 "  d: {command: c}\n");

	(void)state;
	assert_int_equal(spec->stages[0].ranks, 4);
	assert_int_equal(spec->stages[0].ranks_min, 2);
	assert_int_equal(aic_stage_procs(&spec->stages[0]), 4);
	assert_int_equal(spec->stages[0].on_node_failure, AIC_NODE_FAILURE_REPLACE);
	assert_int_equal(spec->stages[1].ranks, 3);
	assert_int_equal(spec->stages[1].ranks_min, 3);
	assert_int_equal(spec->stages[1].on_node_failure, AIC_NODE_FAILURE_FAIL);
	assert_int_equal(spec->stages[2].ranks, 2);
	assert_int_equal(spec->stages[2].ranks_min, 2);
	assert_int_equal(spec->stages[2].on_node_failure, AIC_NODE_FAILURE_REPLACE);
	assert_int_equal(spec->stages[3].ranks, 0);
	assert_int_equal(spec->stages[3].on_node_failure, AIC_NODE_FAILURE_REPLACE);
	aic_spec_free(spec);
	expect_error("stages:\n  a: {command: c, ranks: {min: 4, max: 2}}\n",
		     "job.yaml:2:26: stages.a.ranks: min 4 is larger than max 2");
	expect_error("stages:\n  a: {command: c, ranks: {min: 2}}\n",
		     "job.yaml:2:26: stages.a.ranks: 'max' is required");
	expect_error(
		"stages:\n  a: {command: c, ranks: [2, 4]}\n",
		"job.yaml:2:26: stages.a.ranks: expected an integer or {min, max}, got a list");
	expect_error("stages:\n  a: {command: c, ranks: {min: 1, max: 2, most: 3}}\n",
		     "stages.a.ranks: unknown key 'most'");
	expect_error("stages:\n  a: {command: c, on_node_failure: retry}\n",
		     "job.yaml:2:36: stages.a.on_node_failure: expected replace or fail, got "
		     "'retry'");
}

/* placement: spread (the default) or pack; a gang packs and refuses spread. */
static void placement_keys(void **state)
{
	struct aic_spec *spec;

	(void)state;
	spec = parse_ok("stages:\n"
			"  a: {command: c, replicas: 3}\n"
			"  b: {command: c, replicas: 3, placement: pack}\n"
			"  c: {command: c, ranks: 2, placement: pack}\n");
	assert_int_equal(spec->stages[0].placement, AIC_PLACEMENT_SPREAD);
	assert_int_equal(spec->stages[1].placement, AIC_PLACEMENT_PACK);
	assert_int_equal(spec->stages[2].placement, AIC_PLACEMENT_PACK);
	aic_spec_free(spec);
	expect_error("stages:\n  a: {command: c, placement: scatter}\n",
		     "job.yaml:2:30: stages.a.placement: expected spread or pack, got 'scatter'");
	expect_error("stages:\n  a: {command: c, ranks: 2, placement: spread}\n",
		     "job.yaml:2:40: stage 'a': placement 'spread' on a gang: its ranks talk to "
		     "each other, so they pack on the fewest nodes; use it on replicas");
}

/* autoscale: defaults with only {min, max} and inputs; its keys; where it makes no sense. */
static void autoscale_keys(void **state)
{
	struct aic_spec *spec;

	(void)state;
	spec = parse_ok("stages:\n"
			"  a: {command: c, replicas: {min: 1, max: 4}, inputs: [x]}\n"
			"  b: {command: c, replicas: {min: 0, max: 2}, inputs: [x],\n"
			"      autoscale: {target_busy: 0.5, up_after_s: 1, down_after_s: 0}}\n"
			"  c: {command: c, replicas: {min: 1, max: 4}, outputs: [x]}\n"
			"  d: {command: c, replicas: 3, inputs: [x]}\n");
	assert_true(aic_stage_autoscales(&spec->stages[0]));
	assert_true(spec->stages[0].autoscale.target_busy == 0.8);
	assert_int_equal(spec->stages[0].autoscale.up_after_s, 5);
	assert_int_equal(spec->stages[0].autoscale.down_after_s, 30);
	assert_true(aic_stage_autoscales(&spec->stages[1]));
	assert_true(spec->stages[1].autoscale.target_busy == 0.5);
	assert_int_equal(spec->stages[1].autoscale.up_after_s, 1);
	assert_int_equal(spec->stages[1].autoscale.down_after_s, 0);
	assert_false(aic_stage_autoscales(&spec->stages[2])); /* no inputs */
	assert_false(aic_stage_autoscales(&spec->stages[3])); /* a fixed count */
	aic_spec_free(spec);
	expect_error("stages:\n  a: {command: c, replicas: {max: 4}, inputs: x,\n"
		     "      autoscale: {target_busy: 1.5}}\n",
		     "job.yaml:3:32: stages.a.autoscale.target_busy: expected a fraction above 0 "
		     "and at most 1 (as 0.8), got '1.5'");
	expect_error("stages:\n  a: {command: c, replicas: {max: 4}, inputs: x,\n"
		     "      autoscale: {target_busy: lots}}\n",
		     "got 'lots'");
	expect_error("stages:\n  a: {command: c, replicas: {max: 4}, inputs: x,\n"
		     "      autoscale: {up_after_s: -1}}\n",
		     "job.yaml:3:31: stages.a.autoscale.up_after_s: '-1' is out of range");
	expect_error("stages:\n  a: {command: c, replicas: 3, inputs: x, autoscale: {}}\n",
		     "job.yaml:2:54: stage 'a': autoscale needs replicas {min, max} with min below "
		     "max and inputs, whose backlog it follows");
	expect_error("stages:\n  a: {command: c, ranks: 2, inputs: x, autoscale: {}}\n",
		     "(a gang does not scale)");
}

/* The top-level autoscale: satellite allocations' limits, and where they make no sense. */
static void satellite_keys(void **state)
{
	const char *scaled = "stages:\n  a: {command: c, replicas: {min: 1, max: 4}, inputs: [x]}\n"
			     "  s: {command: c, outputs: [x]}\n";
	char buf[512];
	struct aic_spec *spec;

	(void)state;
	spec = parse_ok(scaled);
	assert_int_equal(spec->satellites.max_nodes, 0);
	assert_int_equal(spec->satellites.idle_s, 60);
	assert_null(spec->satellites.partition);
	aic_spec_free(spec);
	snprintf(buf, sizeof(buf), "%sautoscale: {max_nodes: 2, partition: 'gpu-a.x,gpu_b', idle_s: 5}\n",
		 scaled);
	spec = parse_ok(buf);
	assert_int_equal(spec->satellites.max_nodes, 2);
	assert_int_equal(spec->satellites.idle_s, 5);
	assert_string_equal(spec->satellites.partition, "gpu-a.x,gpu_b");
	aic_spec_free(spec);
	snprintf(buf, sizeof(buf), "%sautoscale: {max_nodes: 2, partition: 'a b;rm'}\n", scaled);
	expect_error(buf, "job.yaml:4:38: autoscale.partition: 'a b;rm' is not a SLURM partition "
			  "name (letters, digits, '_', '-', '.', ',' between names)");
	snprintf(buf, sizeof(buf), "%sautoscale: {max_nodes: 33}\n", scaled);
	expect_error(buf, "job.yaml:4:24: autoscale.max_nodes: '33' is out of range");
	snprintf(buf, sizeof(buf), "%sautoscale: {idle_s: 0}\n", scaled);
	expect_error(buf, "job.yaml:4:21: autoscale.idle_s: '0' is out of range");
	snprintf(buf, sizeof(buf), "%sautoscale: {max_nodes: 1, nodes: 2}\n", scaled);
	expect_error(buf, "job.yaml:4:27: autoscale: unknown key 'nodes'");
	expect_error("stages:\n  a: {command: c, replicas: 3, inputs: [x]}\n"
		     "  s: {command: c, outputs: [x]}\nautoscale: {max_nodes: 1}\n",
		     "job.yaml:4:12: autoscale: max_nodes 1, but no stage autoscales (a stage needs "
		     "replicas {min, max} with min below max and inputs to grow onto satellite "
		     "nodes)");
}

static void service_keys(void **state)
{
	struct aic_spec *spec =
		parse_ok("stages:\n"
			 "  llm: {command: c, replicas: 3, service: {port: auto, ready: {http: /health},"
			 " ready_timeout_s: 30}}\n"
			 "  env: {command: c, service: {port: 9000, ready: {tcp: true}}}\n"
			 "  tcp: {command: c, service: {}}\n"
			 "  d: {command: c}\n");

	(void)state;
	assert_true(spec->stages[0].service);
	assert_int_equal(spec->stages[0].svc.port, 0);
	assert_string_equal(spec->stages[0].svc.ready.http, "/health");
	assert_false(spec->stages[0].svc.ready.tcp);
	assert_int_equal(spec->stages[0].svc.ready_timeout_s, 30);
	assert_true(spec->stages[1].service);
	assert_int_equal(spec->stages[1].svc.port, 9000);
	assert_null(spec->stages[1].svc.ready.http);
	assert_true(spec->stages[1].svc.ready.tcp);
	assert_int_equal(spec->stages[1].svc.ready_timeout_s, AIC_SPEC_DEFAULT_READY_TIMEOUT_S);
	assert_true(spec->stages[2].service);
	assert_true(spec->stages[2].svc.ready.tcp);
	assert_false(spec->stages[3].service);
	aic_spec_free(spec);
	expect_error("stages:\n  a: {command: c, service: {port: any}}\n",
		     "job.yaml:2:35: stages.a.service.port: expected 'auto' or a port from 1 to "
		     "65535, got 'any'");
	expect_error("stages:\n  a: {command: c, service: {ready: {http: health}}}\n",
		     "job.yaml:2:43: stages.a.service.ready.http: expected a path starting with "
		     "'/', got 'health'");
	expect_error("stages:\n  a: {command: c, service: {ready: {http: /h, tcp: true}}}\n",
		     "job.yaml:2:29: stages.a.service.ready: choose one of 'http' and 'tcp'");
	expect_error("stages:\n  a: {command: c, service: {ready: {tcp: false}}}\n",
		     "job.yaml:2:29: stages.a.service.ready: expected {http: PATH} or {tcp: true}");
	expect_error("stages:\n  a: {command: c, service: {ready: {grpc: x}}}\n",
		     "stages.a.service.ready: unknown key 'grpc'");
	expect_error("stages:\n  a: {command: c, ranks: 2, service: {}}\n",
		     "job.yaml:2:29: stage 'a': a service has replicas, not 'ranks'");
	expect_error("stages:\n  a: {command: c, service: on}\n",
		     "job.yaml:2:28: stages.a.service: expected a mapping");
}

static void sandbox_keys(void **state)
{
	struct aic_spec *spec =
		parse_ok("stages:\n"
			 "  env: {command: c, sandbox: {rootfs: /srv/img, network: job, tmpfs_mb: 8,"
			 " timeout_s: 3}}\n"
			 "  env2: {command: c, sandbox: {}}\n"
			 "  d: {command: c}\n");

	(void)state;
	assert_true(spec->stages[0].sandbox);
	assert_string_equal(spec->stages[0].sbx.rootfs, "/srv/img");
	assert_int_equal(spec->stages[0].sbx.network, AIC_SANDBOX_NET_JOB);
	assert_int_equal(spec->stages[0].sbx.tmpfs_mb, 8);
	assert_int_equal(spec->stages[0].sbx.timeout_s, 3);
	assert_true(spec->stages[1].sandbox);
	assert_null(spec->stages[1].sbx.rootfs);
	assert_int_equal(spec->stages[1].sbx.network, AIC_SANDBOX_NET_NONE);
	assert_int_equal(spec->stages[1].sbx.tmpfs_mb, AIC_SPEC_DEFAULT_SANDBOX_TMPFS_MB);
	assert_int_equal(spec->stages[1].sbx.timeout_s, AIC_SPEC_DEFAULT_SANDBOX_TIMEOUT_S);
	assert_false(spec->stages[2].sandbox);
	aic_spec_free(spec);
	expect_error("stages:\n  a: {command: c, sandbox: {network: host}}\n",
		     "job.yaml:2:38: stages.a.sandbox.network: expected none or job, got 'host'");
	expect_error("stages:\n  a: {command: c, sandbox: {rootfs: r, image: x.sqsh}}\n",
		     "job.yaml:2:19: stage 'a': sandbox has both 'rootfs' and 'image'");
	expect_error("stages:\n  a: {command: c, sandbox: {runtime: enroot}}\n",
		     "job.yaml:2:19: stage 'a': sandbox runtime 'enroot' needs an 'image'");
	expect_error("stages:\n  a: {command: c, sandbox: {image: x, runtime: docker}}\n",
		     "stages.a.sandbox.runtime: expected auto, bwrap, enroot, apptainer or podman, "
		     "got 'docker'");
	expect_error("stages:\n  a: {command: c, sandbox: {imag: x}}\n",
		     "stages.a.sandbox: unknown key 'imag'");
}

static void sandbox_image(void **state)
{
	struct aic_spec *spec = parse_ok("stages:\n"
					 "  env: {command: c, sandbox: {image: env.sqsh}}\n"
					 "  ref: {command: c, sandbox: {image: 'docker://python:3.11',"
					 " runtime: apptainer}}\n");

	(void)state;
	assert_string_equal(spec->stages[0].sbx.image, "env.sqsh");
	assert_null(spec->stages[0].sbx.rootfs);
	assert_int_equal(spec->stages[0].sbx.runtime, AIC_SANDBOX_RT_AUTO);
	assert_string_equal(spec->stages[1].sbx.image, "docker://python:3.11");
	assert_int_equal(spec->stages[1].sbx.runtime, AIC_SANDBOX_RT_APPTAINER);
	aic_spec_free(spec);
}

static void free_null(void **state)
{
	(void)state;
	aic_spec_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_grpo),
		cmocka_unit_test(metrics_keys),
		cmocka_unit_test(defaults),
		cmocka_unit_test(mem_units),
		cmocka_unit_test(failure_timeout),
		cmocka_unit_test(a_channel_with_source_and_sink),
		cmocka_unit_test(colocation),
		cmocka_unit_test(colocation_alternate),
		cmocka_unit_test(errors_yaml),
		cmocka_unit_test(errors_keys),
		cmocka_unit_test(errors_types),
		cmocka_unit_test(errors_graph),
		cmocka_unit_test(int_keys_ranges),
		cmocka_unit_test(table_defaults),
		cmocka_unit_test(errors_each_type),
		cmocka_unit_test(unknown_keys_list_the_section),
		cmocka_unit_test(topology_names_match_domain),
		cmocka_unit_test(cycle_with_source_is_fine),
		cmocka_unit_test(reports_every_error),
		cmocka_unit_test(error_lists_are_bounded),
		cmocka_unit_test(nul_bytes_are_refused),
		cmocka_unit_test(load_file),
		cmocka_unit_test(too_large),
		cmocka_unit_test(node_failure_keys),
		cmocka_unit_test(placement_keys),
		cmocka_unit_test(autoscale_keys),
		cmocka_unit_test(satellite_keys),
		cmocka_unit_test(service_keys),
		cmocka_unit_test(sandbox_keys),
		cmocka_unit_test(sandbox_image),
		cmocka_unit_test(free_null),
	};
	return aic_test_run(tests);
}

/*
 * Every key a job spec accepts: one table per section, a row per key
 * (name, type, range or choices, the struct field it fills, its default).
 * A new key is a row here, its field in spec.h, its paragraph in
 * doc/aic-job.5 and a case in tests/unit/test_spec.c; table.c reads,
 * checks, defaults and frees it by its type. The few keys no
 * type fits (command, replicas) have a parser below, and a section's
 * checks that involve several of its keys run once its mapping is read.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "internal.h"

/* The most replicas, ranks a stage may ask for. */
#define MAX_COUNT 100000

/* --- restart: top level and per stage -------------------------------- */

#define RESTART(f) offsetof(struct aic_restart, f)
static const struct spec_key restart_keys[] = {
	{.name = "max",
	 .type = SPEC_INT,
	 .field = RESTART(max),
	 .min = 0,
	 .max = 1000000,
	 .def = AIC_SPEC_DEFAULT_RESTART_MAX},
	{.name = "backoff_ms",
	 .type = SPEC_INT,
	 .field = RESTART(backoff_ms),
	 .min = 0,
	 .max = 3600 * 1000,
	 .def = AIC_SPEC_DEFAULT_BACKOFF_MS},
	{.name = NULL},
};
#undef RESTART

/* --- stages ---------------------------------------------------------- */

/* A list of strings run as it is, or one string run by /bin/sh -c. */
static void read_command(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what)
{
	struct aic_stage *st = base;
	yaml_node_item_t *it;
	char b[SPEC_SHOW_MAX];

	if (v->type == YAML_SCALAR_NODE) {
		char *s = aic__spec_str(c, v, what);

		if (!s)
			return;
		st->shell = true;
		aic__spec_push(c, &st->argv, aic__spec_strdup(c, "/bin/sh"));
		aic__spec_push(c, &st->argv, aic__spec_strdup(c, "-c"));
		aic__spec_push(c, &st->argv, s);
		return;
	}
	if (!aic__spec_take(c, v))
		return;
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.start == v->data.sequence.items.top) {
		aic__spec_err(c, v,
			      "%s: expected a non-empty list of strings or a shell command string, "
			      "got %s",
			      what,
			      v->type == YAML_SEQUENCE_NODE ? "an empty list"
							    : aic__spec_show(v, b, sizeof(b)));
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = aic__spec_node(c, *it);
		const char *s = aic__spec_scalar(e);

		if (!e || !aic__spec_take(c, e))
			continue;
		if (!s || strlen(s) != e->data.scalar.length) {
			aic__spec_err(c, e, "%s: expected a string, got %s", what,
				      aic__spec_show(e, b, sizeof(b)));
			continue;
		}
		aic__spec_push(c, &st->argv, aic__spec_strdup(c, s));
	}
}

#define STAGE(f) offsetof(struct aic_stage, f)
static const struct spec_key replicas_keys[] = {
	{.name = "min", .type = SPEC_INT, .field = STAGE(replicas_min), .min = 0, .max = MAX_COUNT},
	{.name = "max", .type = SPEC_INT, .field = STAGE(replicas_max), .min = 1, .max = MAX_COUNT},
	{.name = NULL},
};

/* A fixed count N (min = max = N), or the range {min, max} aic may scale within. */
static void read_replicas(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what)
{
	struct aic_stage *st = base;
	char b[SPEC_SHOW_MAX];

	if (v->type == YAML_SCALAR_NODE) {
		if (aic__spec_int(c, v, what, 1, MAX_COUNT, &st->replicas_max))
			st->replicas_min = st->replicas_max;
		return;
	}
	if (v->type != YAML_MAPPING_NODE) {
		aic__spec_take(c, v);
		aic__spec_err(c, v, "%s: expected an integer or {min, max}, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	if (!aic__spec_take(c, v))
		return;
	st->replicas_min = -1;
	st->replicas_max = -1;
	aic__spec_map(c, v, replicas_keys, st, what, what);
	if (st->replicas_max < 0)
		aic__spec_err(c, v, "%s: 'max' is required", what);
	if (st->replicas_min < 0)
		st->replicas_min = st->replicas_max > 0 ? 1 : 0;
	if (st->replicas_max >= 0 && st->replicas_min > st->replicas_max)
		aic__spec_err(c, v, "%s: min %d is larger than max %d", what, st->replicas_min,
			      st->replicas_max);
}

static const struct spec_key ranks_keys[] = {
	{.name = "min", .type = SPEC_INT, .field = STAGE(ranks_min), .min = 1, .max = MAX_COUNT},
	{.name = "max", .type = SPEC_INT, .field = STAGE(ranks), .min = 1, .max = MAX_COUNT},
	{.name = NULL},
};

/*
 * A gang's size N (min = max = N), or {min, max}: it starts with max ranks
 * and may go on with as few as min after losing a node (torchrun's
 * --nnodes=MIN:MAX).
 */
static void read_ranks(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what)
{
	struct aic_stage *st = base;
	char b[SPEC_SHOW_MAX];

	if (v->type == YAML_SCALAR_NODE) {
		if (aic__spec_int(c, v, what, 1, MAX_COUNT, &st->ranks))
			st->ranks_min = st->ranks;
		return;
	}
	if (v->type != YAML_MAPPING_NODE) {
		aic__spec_take(c, v);
		aic__spec_err(c, v, "%s: expected an integer or {min, max}, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	if (!aic__spec_take(c, v))
		return;
	st->ranks_min = -1;
	st->ranks = -1;
	aic__spec_map(c, v, ranks_keys, st, what, what);
	if (st->ranks < 0) {
		aic__spec_err(c, v, "%s: 'max' is required", what);
		st->ranks = 0;
	}
	if (st->ranks_min < 0)
		st->ranks_min = st->ranks;
	if (st->ranks_min > st->ranks)
		aic__spec_err(c, v, "%s: min %d is larger than max %d", what, st->ranks_min,
			      st->ranks);
}

/* Indexed by enum aic_colocate_mode. */
static const char *const colocate_mode_choices[] = {
	[AIC_COLOCATE_CONCURRENT] = "concurrent",
	[AIC_COLOCATE_ALTERNATE] = "alternate",
	NULL,
};
_Static_assert(sizeof(enum aic_colocate_mode) == sizeof(int), "SPEC_ENUM fills an int");

static const struct spec_key colocate_keys[] = {
	{.name = "stage",
	 .type = SPEC_NAME,
	 .field = STAGE(colocate_with),
	 .mark = STAGE(colocate_mark)},
	{.name = "mode",
	 .type = SPEC_ENUM,
	 .field = STAGE(colocate_mode),
	 .choices = colocate_mode_choices,
	 .def = AIC_COLOCATE_CONCURRENT},
	{.name = NULL},
};

/*
 * The stage whose GPUs this one shares: its name (both run at once), or
 * {stage, mode}, where mode alternate makes the engine run the two in
 * turns (doc/aic-job.5, PHASES). The mark is the stage name's, where
 * check.c's messages about the pair point.
 */
static void read_colocate(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what)
{
	struct aic_stage *st = base;
	char b[SPEC_SHOW_MAX];

	if (v->type == YAML_SCALAR_NODE) {
		st->colocate_mark = aic__spec_mark(v);
		st->colocate_with = aic__spec_name(c, v, what);
		return;
	}
	if (v->type != YAML_MAPPING_NODE) {
		aic__spec_take(c, v);
		aic__spec_err(c, v, "%s: expected a stage name or {stage, mode}, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	if (!aic__spec_take(c, v))
		return;
	aic__spec_map(c, v, colocate_keys, st, what, what);
	if (!st->colocate_with) {
		aic__spec_err(c, v, "%s: 'stage' is required", what);
		st->colocate_mode = AIC_COLOCATE_CONCURRENT;
	}
}

/* Indexed by enum aic_node_failure. */
static const char *const node_failure_choices[] = {
	[AIC_NODE_FAILURE_REPLACE] = "replace",
	[AIC_NODE_FAILURE_FAIL] = "fail",
	NULL,
};
_Static_assert(sizeof(enum aic_node_failure) == sizeof(int), "SPEC_ENUM fills an int");

/* A fraction in (0, 1], as 0.8. */
static void read_fraction(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what)
{
	struct aic_autoscale *as = base;
	const char *s = aic__spec_scalar(v);
	char b[SPEC_SHOW_MAX], *end = NULL;
	double x = 0;

	if (!aic__spec_take(c, v))
		return;
	if (s && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && *s)
		x = strtod(s, &end);
	if (!end || *end || !(x > 0 && x <= 1)) {
		aic__spec_err(c, v,
			      "%s: expected a fraction above 0 and at most 1 (as 0.8), got %s",
			      what, aic__spec_show(v, b, sizeof(b)));
		return;
	}
	as->target_busy = x;
}

#define AUTOSCALE(f) offsetof(struct aic_autoscale, f)
static const struct spec_key autoscale_keys[] = {
	{.name = "target_busy",
	 .type = SPEC_CUSTOM,
	 .field = AUTOSCALE(target_busy),
	 .parse = read_fraction},
	{.name = "up_after_s",
	 .type = SPEC_INT,
	 .field = AUTOSCALE(up_after_s),
	 .min = 0,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_UP_AFTER_S},
	{.name = "down_after_s",
	 .type = SPEC_INT,
	 .field = AUTOSCALE(down_after_s),
	 .min = 0,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_DOWN_AFTER_S},
	{.name = NULL},
};
#undef AUTOSCALE

static const char *const placement_choices[] = {
	[AIC_PLACEMENT_SPREAD] = "spread",
	[AIC_PLACEMENT_PACK] = "pack",
	NULL,
};
_Static_assert(sizeof(enum aic_placement) == sizeof(int), "SPEC_ENUM fills an int");

/* --- service: a stage others reach over the network ------------------ */

#define SERVICE(f) offsetof(struct aic_service, f)
/* A service's port: auto (its agent chooses a free one), or a fixed number. */
static void read_port(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what)
{
	struct aic_service *svc = base;
	const char *s = aic__spec_scalar(v);

	if (s && !strcmp(s, "auto")) {
		aic__spec_take(c, v);
		svc->port = 0;
		return;
	}
	if (s && ((s[0] >= '0' && s[0] <= '9') || s[0] == '-')) {
		aic__spec_int(c, v, what, 1, 65535, &svc->port);
		return;
	}
	{
		char b[SPEC_SHOW_MAX];
		aic__spec_take(c, v);
		aic__spec_err(c, v, "%s: expected 'auto' or a port from 1 to 65535, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
	}
}

static const struct spec_key ready_keys[] = {
	{.name = "http", .type = SPEC_STRING, .field = offsetof(struct aic_service_ready, http)},
	{.name = "tcp", .type = SPEC_BOOL, .field = offsetof(struct aic_service_ready, tcp)},
	{.name = NULL},
};

static const struct spec_key service_keys[] = {
	{.name = "port", .type = SPEC_CUSTOM, .field = SERVICE(port), .parse = read_port},
	{.name = "ready", .type = SPEC_MAP, .field = SERVICE(ready), .sub = ready_keys},
	{.name = "ready_timeout_s",
	 .type = SPEC_INT,
	 .field = SERVICE(ready_timeout_s),
	 .min = 1,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_READY_TIMEOUT_S},
	{.name = NULL},
};
#undef SERVICE

/* --- sandbox: where a stage's tasks run ------------------------------- */

/* Indexed by enum aic_sandbox_network. */
static const char *const sandbox_network_choices[] = {
	[AIC_SANDBOX_NET_NONE] = "none",
	[AIC_SANDBOX_NET_JOB] = "job",
	NULL,
};

/* Indexed by enum aic_sandbox_runtime. */
static const char *const sandbox_runtime_choices[] = {
	[AIC_SANDBOX_RT_AUTO] = "auto",	    [AIC_SANDBOX_RT_BWRAP] = "bwrap",
	[AIC_SANDBOX_RT_ENROOT] = "enroot", [AIC_SANDBOX_RT_APPTAINER] = "apptainer",
	[AIC_SANDBOX_RT_PODMAN] = "podman", NULL,
};

const char *aic__spec_sandbox_runtime(enum aic_sandbox_runtime rt)
{
	return sandbox_runtime_choices[rt];
}

#define SANDBOX(f) offsetof(struct aic_sandbox_spec, f)
static const struct spec_key sandbox_keys[] = {
	{.name = "rootfs", .type = SPEC_STRING, .field = SANDBOX(rootfs)},
	{.name = "image", .type = SPEC_STRING, .field = SANDBOX(image)},
	{.name = "runtime",
	 .type = SPEC_ENUM,
	 .field = SANDBOX(runtime),
	 .choices = sandbox_runtime_choices,
	 .def = AIC_SANDBOX_RT_AUTO},
	{.name = "network",
	 .type = SPEC_ENUM,
	 .field = SANDBOX(network),
	 .choices = sandbox_network_choices,
	 .def = AIC_SANDBOX_NET_NONE},
	{.name = "tmpfs_mb",
	 .type = SPEC_INT,
	 .field = SANDBOX(tmpfs_mb),
	 .min = 1,
	 .max = 1 << 20,
	 .def = AIC_SPEC_DEFAULT_SANDBOX_TMPFS_MB},
	{.name = "timeout_s",
	 .type = SPEC_INT,
	 .field = SANDBOX(timeout_s),
	 .min = 1,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_SANDBOX_TIMEOUT_S},
	{.name = NULL},
};
#undef SANDBOX

static const struct spec_key stage_keys[] = {
	{.name = "command", .type = SPEC_CUSTOM, .field = STAGE(argv), .parse = read_command},
	{.name = "replicas",
	 .type = SPEC_CUSTOM,
	 .field = STAGE(replicas_max),
	 .parse = read_replicas},
	{.name = "ranks", .type = SPEC_CUSTOM, .field = STAGE(ranks), .parse = read_ranks},
	{.name = "gpus",
	 .type = SPEC_INT,
	 .field = STAGE(gpus),
	 .min = 0,
	 .max = 1024,
	 .mark = STAGE(gpus_mark)},
	{.name = "cpus", .type = SPEC_INT, .field = STAGE(cpus), .min = 0, .max = 4096, .def = 1},
	{.name = "mem", .type = SPEC_SIZE, .field = STAGE(mem_mb)},
	{.name = "env", .type = SPEC_ENV, .field = STAGE(env)},
	{.name = "inputs", .type = SPEC_NAMES, .field = STAGE(inputs)},
	{.name = "outputs", .type = SPEC_NAMES, .field = STAGE(outputs)},
	{.name = "weights_to", .type = SPEC_NAME, .field = STAGE(weights_to)},
	{.name = "weights_from", .type = SPEC_NAME, .field = STAGE(weights_from)},
	{.name = "colocate_with",
	 .type = SPEC_CUSTOM,
	 .field = STAGE(colocate_with),
	 .nullable = true,
	 .parse = read_colocate},
	{.name = "restart", .type = SPEC_MAP, .field = STAGE(restart), .sub = restart_keys},
	{.name = "on_node_failure",
	 .type = SPEC_ENUM,
	 .field = STAGE(on_node_failure),
	 .choices = node_failure_choices,
	 .def = AIC_NODE_FAILURE_REPLACE},
	{.name = "placement",
	 .type = SPEC_ENUM,
	 .field = STAGE(placement),
	 .choices = placement_choices,
	 .def = AIC_PLACEMENT_SPREAD},
	{.name = "autoscale",
	 .type = SPEC_MAP,
	 .field = STAGE(autoscale),
	 .sub = autoscale_keys,
	 .mark = STAGE(autoscale.mark)},
	{.name = "service", .type = SPEC_MAP, .field = STAGE(svc), .sub = service_keys},
	{.name = "sandbox", .type = SPEC_MAP, .field = STAGE(sbx), .sub = sandbox_keys},
	{.name = NULL},
};
#undef STAGE

static void stage_init(void *entry)
{
	struct aic_stage *st = entry;

	st->replicas_min = st->replicas_max = 1;
	/* -1: taken from the top-level restart once the whole spec is read (check.c). */
	st->restart.max = -1;
	st->restart.backoff_ms = -1;
	st->gpus_mark = st->colocate_mark = st->autoscale.mark = st->mark;
	st->autoscale.target_busy = AIC_SPEC_DEFAULT_TARGET_BUSY;
}

static void stage_check(struct spec_ctx *c, void *entry, yaml_node_t *k, yaml_node_t *v)
{
	struct aic_stage *st = entry;
	yaml_node_t *ranks_key = NULL, *placement;
	char b[SPEC_SHOW_MAX];

	if (!st->argv)
		aic__spec_err(c, k, "stage '%s' has no command", st->name);
	if (aic__spec_value(c, v, "replicas", NULL) && aic__spec_value(c, v, "ranks", &ranks_key))
		aic__spec_err(
			c, ranks_key,
			"stage '%s' has both 'replicas' and 'ranks': replicas are independent "
			"copies, ranks are one gang; choose one",
			st->name);
	if (aic__spec_value(c, v, "autoscale", NULL) && !aic_stage_autoscales(st))
		aic__spec_err_at(
			c, st->autoscale.mark,
			"stage '%s': autoscale needs replicas {min, max} with min below max "
			"and inputs, whose backlog it follows%s",
			st->name, st->ranks ? " (a gang does not scale)" : "");
	placement = aic__spec_value(c, v, "placement", NULL);
	if (placement && st->ranks && st->placement == AIC_PLACEMENT_SPREAD)
		aic__spec_err(
			c, placement,
			"stage '%s': placement %s on a gang: its ranks talk to each other, so "
			"they pack on the fewest nodes; use it on replicas",
			st->name, aic__spec_show(placement, b, sizeof(b)));
	aic__spec_service_check(c, st, v);
	aic__spec_sandbox_check(c, st, v);
}

const struct spec_section aic__spec_stages = {
	.noun = "stage",
	.dup_noun = "stage ",
	.expect = "a mapping with at least 'command'",
	.size = sizeof(struct aic_stage),
	.array = offsetof(struct aic_spec, stages),
	.count = offsetof(struct aic_spec, n_stages),
	.mark = offsetof(struct aic_stage, mark),
	.keys = stage_keys,
	.init = stage_init,
	.check = stage_check,
};

/* --- channels -------------------------------------------------------- */

#define CHANNEL(f) offsetof(struct aic_channel, f)
static const struct spec_key channel_keys[] = {
	{.name = "source", .type = SPEC_STRING, .field = CHANNEL(source)},
	{.name = "sink", .type = SPEC_STRING, .field = CHANNEL(sink)},
	{.name = "capacity",
	 .type = SPEC_INT,
	 .field = CHANNEL(capacity),
	 .min = 1,
	 .max = 1 << 24,
	 .def = AIC_SPEC_DEFAULT_CAPACITY},
	{.name = "epochs",
	 .type = SPEC_INT,
	 .field = CHANNEL(epochs),
	 .min = 1,
	 .max = 1000000,
	 .def = 1},
	{.name = "compress", .type = SPEC_BOOL, .field = CHANNEL(compress)},
	{.name = "prefetch",
	 .type = SPEC_INT,
	 .field = CHANNEL(prefetch),
	 .min = 0,
	 .max = 1 << 16,
	 .def = -1},
	{.name = "capacity_bytes",
	 .type = SPEC_SIZE,
	 .field = CHANNEL(capacity_mb),
	 .def = AIC_SPEC_DEFAULT_CAPACITY_MB},
	{.name = NULL},
};
#undef CHANNEL

static void channel_check(struct spec_ctx *c, void *entry, yaml_node_t *k, yaml_node_t *v)
{
	struct aic_channel *ch = entry;
	yaml_node_t *epochs = aic__spec_value(c, v, "epochs", NULL);

	(void)k;
	if (epochs && !ch->source)
		aic__spec_err(c, epochs, "channel '%s': 'epochs' needs a 'source' to read again",
			      ch->name);
}

const struct spec_section aic__spec_channels = {
	.noun = "channel",
	.dup_noun = "channel ",
	.expect = "a mapping",
	.nullable = true,
	.size = sizeof(struct aic_channel),
	.array = offsetof(struct aic_spec, channels),
	.count = offsetof(struct aic_spec, n_channels),
	.mark = offsetof(struct aic_channel, mark),
	.declared = offsetof(struct aic_channel, declared),
	.keys = channel_keys,
	.check = channel_check,
};

/* --- weights --------------------------------------------------------- */

#define WEIGHTS(f) offsetof(struct aic_weights, f)
static const struct spec_key weights_keys[] = {
	{.name = "max_staleness",
	 .type = SPEC_INT,
	 .field = WEIGHTS(max_staleness),
	 .min = 0,
	 .max = 1000000,
	 .def = AIC_SPEC_DEFAULT_STALENESS},
	{.name = NULL},
};
#undef WEIGHTS

const struct spec_section aic__spec_weights = {
	.noun = "weights",
	.dup_noun = "",
	.expect = "a mapping",
	.nullable = true,
	.size = sizeof(struct aic_weights),
	.array = offsetof(struct aic_spec, weights),
	.count = offsetof(struct aic_spec, n_weights),
	.mark = offsetof(struct aic_weights, mark),
	.declared = offsetof(struct aic_weights, declared),
	.keys = weights_keys,
};

/* --- checkpoint: top level ------------------------------------------- */

#define CHECKPOINT(f) offsetof(struct aic_checkpoint, f)
static const struct spec_key checkpoint_keys[] = {
	{.name = "grace_s",
	 .type = SPEC_INT,
	 .field = CHECKPOINT(grace_s),
	 .min = 1,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_GRACE_S},
	{.name = "term_grace_s",
	 .type = SPEC_INT,
	 .field = CHECKPOINT(term_grace_s),
	 .min = 0,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_TERM_GRACE_S},
	{.name = NULL},
};
#undef CHECKPOINT

/* --- metrics: top level ------------------------------------------------ */

#define METRICS(f) offsetof(struct aic_metrics_cfg, f)
static const struct spec_key metrics_keys[] = {
	{.name = "port", .type = SPEC_INT, .field = METRICS(port), .min = 0, .max = 65535, .def = 0},
	{.name = "listen", .type = SPEC_STRING, .field = METRICS(listen)},
	{.name = "textfile", .type = SPEC_STRING, .field = METRICS(textfile)},
	{.name = NULL},
};
#undef METRICS

/* --- autoscale: top level, satellite allocations ---------------------- */

/* Named so that tests/cli/aic-help.sh finds its keys under autoscale's paragraphs. */
#define SATELLITES(f) offsetof(struct aic_satellites, f)
static const struct spec_key auto_keys[] = {
	{.name = "max_nodes",
	 .type = SPEC_INT,
	 .field = SATELLITES(max_nodes),
	 .min = 0,
	 .max = AIC_SPEC_MAX_SATELLITES,
	 .def = 0},
	{.name = "partition",
	 .type = SPEC_STRING,
	 .field = SATELLITES(partition),
	 .mark = SATELLITES(partition_mark)},
	{.name = "idle_s",
	 .type = SPEC_INT,
	 .field = SATELLITES(idle_s),
	 .min = 1,
	 .max = 86400,
	 .def = AIC_SPEC_DEFAULT_IDLE_S},
	{.name = NULL},
};
#undef SATELLITES

/* --- the top level --------------------------------------------------- */

/* Indexed by enum aic_topology; domain.c reads the same names from AIC_JOB. */
static const char *const topology_choices[] = {
	[AIC_TOPOLOGY_PREFER] = "prefer",
	[AIC_TOPOLOGY_STRICT] = "strict",
	[AIC_TOPOLOGY_OFF] = "off",
	NULL,
};
_Static_assert(sizeof(enum aic_topology) == sizeof(int), "SPEC_ENUM fills an int");

#define TOP(f) offsetof(struct aic_spec, f)
const struct spec_key aic__spec_top_keys[] = {
	{.name = "name", .type = SPEC_NAME, .field = TOP(name)},
	{.name = "stages", .type = SPEC_ENTRIES, .section = &aic__spec_stages},
	{.name = "channels",
	 .type = SPEC_ENTRIES,
	 .section = &aic__spec_channels,
	 .nullable = true},
	{.name = "weights", .type = SPEC_ENTRIES, .section = &aic__spec_weights, .nullable = true},
	{.name = "restart", .type = SPEC_MAP, .field = TOP(restart), .sub = restart_keys},
	{.name = "topology",
	 .type = SPEC_ENUM,
	 .field = TOP(topology),
	 .choices = topology_choices,
	 .def = AIC_TOPOLOGY_PREFER},
	{.name = "failure_timeout",
	 .type = SPEC_DURATION,
	 .field = TOP(failure_timeout_ms),
	 .min = 1000,
	 .max = 3600 * 1000,
	 .def = AIC_SPEC_DEFAULT_FAILURE_TIMEOUT_MS},
	{.name = "checkpoint",
	 .type = SPEC_MAP,
	 .field = TOP(checkpoint),
	 .sub = checkpoint_keys,
	 .mark = TOP(checkpoint.mark)},
	{.name = "metrics", .type = SPEC_MAP, .field = TOP(metrics), .sub = metrics_keys},
	{.name = "autoscale",
	 .type = SPEC_MAP,
	 .field = TOP(satellites),
	 .sub = auto_keys,
	 .mark = TOP(satellites.mark)},
	{.name = NULL},
};
#undef TOP

/* Entries are found by their name, which table.c reads as their first field. */
_Static_assert(offsetof(struct aic_stage, name) == 0, "a stage starts with its name");
_Static_assert(offsetof(struct aic_channel, name) == 0, "a channel starts with its name");
_Static_assert(offsetof(struct aic_weights, name) == 0, "weights start with their name");

/*
 * The CONFIG message's schema (see dp_config.h): one table of keys per
 * object, walked both ways, so that a new key is one row here, one field
 * in dp_config.h and its line in the header's comment.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_config.h"

enum dp_type {
	DP_STRING, /* const char * */
	DP_BOOL,   /* bool */
	DP_U32,	   /* uint32_t, 0..max */
	DP_U64,	   /* uint64_t, 0..max */
	DP_RANKS,  /* uint32_t * and its size_t count: an array of agent ranks */
	DP_OBJECT, /* a struct of `keys`, with a bool saying whether it was there */
	DP_ARRAY,  /* a pointer to `size`-byte structs of `keys`, and its size_t count */
};

struct dp_key {
	const char *name;
	enum dp_type type;
	size_t field;		   /* offsetof the value */
	size_t aux;		   /* RANKS, ARRAY: offsetof the count; OBJECT: of the bool */
	uint64_t max;		   /* U32, U64: the largest value */
	bool optional;		   /* may be absent (a STRING is then NULL) */
	const char *with;	   /* there exactly when this STRING key of the same object is */
	const struct dp_key *keys; /* OBJECT, ARRAY: the keys of the elements */
	size_t size;		   /* ARRAY: sizeof an element */
};

/*
 * Rows, by type: S the struct, F the field (and the key's name). OPT: may be
 * absent; WITH: there exactly when the string key W is.
 */
/* clang-format off */
#define STRING(S, F)	 {.name = #F, .type = DP_STRING, .field = offsetof(S, F)}
#define OPT_STRING(S, F) {.name = #F, .type = DP_STRING, .field = offsetof(S, F), .optional = true}
#define BOOL(S, F)	 {.name = #F, .type = DP_BOOL, .field = offsetof(S, F)}
#define U32(S, F, MAX)	 {.name = #F, .type = DP_U32, .field = offsetof(S, F), .max = (MAX)}
#define U64(S, F, MAX)	 {.name = #F, .type = DP_U64, .field = offsetof(S, F), .max = (MAX)}
#define OPT_U64(S, F, MAX) \
	{.name = #F, .type = DP_U64, .field = offsetof(S, F), .max = (MAX), .optional = true}
#define WITH_U32(S, F, MAX, W) \
	{.name = #F, .type = DP_U32, .field = offsetof(S, F), .max = (MAX), .with = (W)}
#define RANKS(S, F) \
	{.name = #F, .type = DP_RANKS, .field = offsetof(S, F), .aux = offsetof(S, n_##F)}
#define OPT_OBJECT(S, F, KEYS) \
	{.name = #F, .type = DP_OBJECT, .field = offsetof(S, F), .aux = offsetof(S, has_##F), \
	 .optional = true, .keys = (KEYS)}
#define ARRAY(S, F, KEYS, T) \
	{.name = #F, .type = DP_ARRAY, .field = offsetof(S, F), .aux = offsetof(S, n_##F), \
	 .keys = (KEYS), .size = sizeof(T)}
#define END {.name = NULL}

static const struct dp_key stale_keys[] = {
	U32(struct dp_stale, stream, UINT32_MAX),
	U64(struct dp_stale, k, INT64_MAX),
	END,
};

static const struct dp_key line_keys[] = {
	U32(struct dp_line, epoch, UINT32_MAX),
	U64(struct dp_line, line, INT64_MAX),
	END,
};

static const struct dp_key resume_keys[] = {
	BOOL(struct dp_resume, done),
	U32(struct dp_resume, epoch, UINT32_MAX),
	U64(struct dp_resume, next, INT64_MAX),
	ARRAY(struct dp_resume, pending, line_keys, struct dp_line),
	END,
};

static const struct dp_key channel_keys[] = {
	STRING(struct dp_channel, name),
	U32(struct dp_channel, capacity, UINT32_MAX),
	BOOL(struct dp_channel, closed),
	BOOL(struct dp_channel, compress),
	RANKS(struct dp_channel, producers),
	OPT_OBJECT(struct dp_channel, stale, stale_keys),
	OPT_STRING(struct dp_channel, sink),
	WITH_U32(struct dp_channel, sink_agent, UINT32_MAX, "sink"),
	OPT_STRING(struct dp_channel, source),
	WITH_U32(struct dp_channel, epochs, UINT32_MAX, "source"),
	WITH_U32(struct dp_channel, feeder, UINT32_MAX, "source"),
	U64(struct dp_channel, capacity_bytes, UINT64_MAX),
	OPT_OBJECT(struct dp_channel, resume, resume_keys),
	U32(struct dp_channel, prefetch, 1 << 16),
	END,
};

static const struct dp_key agent_keys[] = {
	U32(struct dp_agent, rank, UINT32_MAX),
	STRING(struct dp_agent, addr),
	U32(struct dp_agent, port, 65535),
	END,
};

static const struct dp_key weights_keys[] = {
	STRING(struct dp_weights, name),
	RANKS(struct dp_weights, receivers),
	END,
};

static const struct dp_key config_keys[] = {
	ARRAY(struct dp_config, channels, channel_keys, struct dp_channel),
	ARRAY(struct dp_config, agents, agent_keys, struct dp_agent),
	ARRAY(struct dp_config, weights, weights_keys, struct dp_weights),
	OPT_U64(struct dp_config, failure_timeout_ms, 3600 * 1000),
	END,
};
/* clang-format on */

#define AT(rec, off, type)   ((type *)((char *)(rec) + (off)))
#define AT_C(rec, off, type) ((const type *)((const char *)(rec) + (off)))

/* The STRING row `name` of keys (a `with` key's companion). */
static const struct dp_key *key_named(const struct dp_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

/* --- to JSON -------------------------------------------------------------- */

static json_t *to_json(const struct dp_key *keys, const void *rec);

static json_t *value_to_json(const struct dp_key *k, const void *rec)
{
	json_t *a;
	size_t i, n;

	switch (k->type) {
	case DP_STRING:
		return json_string(*AT_C(rec, k->field, char *) ?: "");
	case DP_BOOL:
		return json_boolean(*AT_C(rec, k->field, bool));
	case DP_U32:
		return json_integer((json_int_t)*AT_C(rec, k->field, uint32_t));
	case DP_U64:
		return json_integer((json_int_t)*AT_C(rec, k->field, uint64_t));
	case DP_OBJECT:
		return to_json(k->keys, AT_C(rec, k->field, char));
	case DP_RANKS:
	case DP_ARRAY:
		a = json_array();
		n = *AT_C(rec, k->aux, size_t);
		for (i = 0; a && i < n; i++) {
			json_t *e;
			if (k->type == DP_RANKS)
				e = json_integer((json_int_t)(*AT_C(rec, k->field, uint32_t *))[i]);
			else
				e = to_json(k->keys, *AT_C(rec, k->field, char *) + i * k->size);
			if (json_array_append_new(a, e) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	return NULL;
}

static json_t *to_json(const struct dp_key *keys, const void *rec)
{
	json_t *o = json_object();
	const struct dp_key *k;

	for (k = keys; o && k->name; k++) {
		const struct dp_key *w = k->with ? key_named(keys, k->with) : NULL;
		if ((w && !*AT_C(rec, w->field, char *)) ||
		    (k->optional && k->type == DP_STRING && !*AT_C(rec, k->field, char *)) ||
		    (k->optional && k->type == DP_OBJECT && !*AT_C(rec, k->aux, bool)) ||
		    (k->optional && k->type == DP_U64 && !*AT_C(rec, k->field, uint64_t)))
			continue;
		if (json_object_set_new(o, k->name, value_to_json(k, rec)) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

json_t *dp_config_to_json(const struct dp_config *cfg)
{
	return to_json(config_keys, cfg);
}

/* --- from JSON ------------------------------------------------------------ */

static int from_json(const json_t *o, const struct dp_key *keys, void *rec, const char *path,
		     char *err, size_t err_size);

static const char *type_name(const struct dp_key *k)
{
	switch (k->type) {
	case DP_STRING:
		return "a string";
	case DP_BOOL:
		return "true or false";
	case DP_OBJECT:
		return "an object";
	case DP_RANKS:
		return "an array of agent ranks";
	default:
		return "an array";
	}
}

static bool int_ok(const json_t *v, uint64_t max)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       (uint64_t)json_integer_value(v) <= max;
}

static int value_from_json(const json_t *v, const struct dp_key *k, void *rec, const char *path,
			   char *err, size_t err_size)
{
	char sub[128];
	size_t i, n;
	void *mem;
	int rc;

	switch (k->type) {
	case DP_STRING:
		if (!json_is_string(v))
			break;
		*AT(rec, k->field, const char *) = json_string_value(v);
		return 0;
	case DP_BOOL:
		if (!json_is_boolean(v))
			break;
		*AT(rec, k->field, bool) = json_is_true(v);
		return 0;
	case DP_U32:
	case DP_U64:
		if (!int_ok(v, k->max)) {
			snprintf(err, err_size, "%s'%s': expected an integer from 0 to %llu", path,
				 k->name, (unsigned long long)k->max);
			return -EINVAL;
		}
		if (k->type == DP_U32)
			*AT(rec, k->field, uint32_t) = (uint32_t)json_integer_value(v);
		else
			*AT(rec, k->field, uint64_t) = (uint64_t)json_integer_value(v);
		return 0;
	case DP_OBJECT:
		if (!json_is_object(v))
			break;
		*AT(rec, k->aux, bool) = true;
		snprintf(sub, sizeof(sub), "%s%s: ", path, k->name);
		return from_json(v, k->keys, AT(rec, k->field, char), sub, err, err_size);
	case DP_RANKS:
	case DP_ARRAY:
		if (!json_is_array(v))
			break;
		n = json_array_size(v);
		mem = calloc(n + 1, k->type == DP_RANKS ? sizeof(uint32_t) : k->size);
		if (!mem)
			return -ENOMEM;
		*AT(rec, k->field, void *) = mem;
		*AT(rec, k->aux, size_t) = n;
		for (i = 0; i < n; i++) {
			const json_t *e = json_array_get(v, i);
			if (k->type == DP_RANKS) {
				if (!int_ok(e, UINT32_MAX)) {
					snprintf(err, err_size, "%s'%s': expected %s", path,
						 k->name, type_name(k));
					return -EINVAL;
				}
				((uint32_t *)mem)[i] = (uint32_t)json_integer_value(e);
				continue;
			}
			snprintf(sub, sizeof(sub), "%s%s[%zu]: ", path, k->name, i);
			if (!json_is_object(e)) {
				snprintf(err, err_size, "%sexpected an object", sub);
				return -EINVAL;
			}
			rc = from_json(e, k->keys, (char *)mem + i * k->size, sub, err, err_size);
			if (rc)
				return rc;
		}
		return 0;
	}
	snprintf(err, err_size, "%s'%s': expected %s", path, k->name, type_name(k));
	return -EINVAL;
}

static int from_json(const json_t *o, const struct dp_key *keys, void *rec, const char *path,
		     char *err, size_t err_size)
{
	const struct dp_key *k;
	int rc;

	for (k = keys; k->name; k++) {
		const json_t *v = json_object_get(o, k->name);
		if (k->with && !json_object_get(o, k->with))
			continue; /* goes with a key that is not there: not read */
		if (!v) {
			if (k->optional)
				continue;
			snprintf(err, err_size, "%s'%s' is missing", path, k->name);
			return -EINVAL;
		}
		rc = value_from_json(v, k, rec, path, err, err_size);
		if (rc)
			return rc;
	}
	return 0;
}

int dp_config_from_json(const json_t *j, struct dp_config *cfg, char *err, size_t err_size)
{
	size_t i;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!json_is_object(j)) {
		snprintf(err, err_size, "expected an object");
		return -EINVAL;
	}
	rc = from_json(j, config_keys, cfg, "", err, err_size);
	/* The one cross-reference: a channel's staleness names a stream of this message. */
	for (i = 0; !rc && i < cfg->n_channels; i++)
		if (cfg->channels[i].has_stale && cfg->channels[i].stale.stream >= cfg->n_weights) {
			snprintf(err, err_size, "channels[%zu]: stale: 'stream': no stream %u", i,
				 cfg->channels[i].stale.stream);
			rc = -EINVAL;
		}
	if (rc == -ENOMEM)
		snprintf(err, err_size, "out of memory");
	if (rc)
		dp_config_release(cfg);
	return rc;
}

void dp_config_release(struct dp_config *cfg)
{
	size_t i;

	for (i = 0; cfg->channels && i < cfg->n_channels; i++) {
		free(cfg->channels[i].producers);
		free(cfg->channels[i].resume.pending);
	}
	for (i = 0; cfg->weights && i < cfg->n_weights; i++)
		free(cfg->weights[i].receivers);
	free(cfg->channels);
	free(cfg->agents);
	free(cfg->weights);
	memset(cfg, 0, sizeof(*cfg));
}

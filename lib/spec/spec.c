/*
 * Job spec parsing and validation (see spec.h for the contract).
 *
 * libyaml loads the whole document into a node tree that keeps each node's
 * position; the walk below converts it into struct aic_spec field by field,
 * and every problem becomes one message line with the node's position. The
 * walk goes on after an error so that one run reports every problem, up to
 * MAX_ERRORS. Each node may be consumed once: YAML aliases (which libyaml
 * resolves to shared nodes) would otherwise let a small file expand into an
 * exponential walk, so they are refused.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "error.h"
#include "spec.h"
#include "strbuf.h"

#define MAX_ERRORS 50
#define MAX_COUNT 100000 /* replicas, ranks, gpus, cpus */

struct ctx {
	yaml_document_t doc;
	const char *path;
	struct aic_strbuf errs;
	unsigned n_errs;
	unsigned char *seen; /* per node: already consumed */
	size_t n_nodes;
	struct aic_spec *spec;
	bool oom;
};

/* --- small helpers --------------------------------------------------- */

static struct aic_mark mark_of(const yaml_node_t *n)
{
	struct aic_mark m = {0, 0};

	if (n) {
		m.line = (unsigned)n->start_mark.line + 1;
		m.col = (unsigned)n->start_mark.column + 1;
	}
	return m;
}

static void verr_at(struct ctx *c, struct aic_mark m, const char *fmt, va_list ap)
{
	c->n_errs++;
	if (c->n_errs > MAX_ERRORS)
		return;
	if (c->n_errs == MAX_ERRORS) {
		aic_strbuf_printf(&c->errs, "%s: too many errors, stopping here\n", c->path);
		return;
	}
	aic_strbuf_printf(&c->errs, "%s:%u:%u: ", c->path, m.line ? m.line : 1, m.col ? m.col : 1);
	aic_strbuf_vprintf(&c->errs, fmt, ap);
	aic_strbuf_append(&c->errs, "\n", 1);
}

__attribute__((format(printf, 3, 4))) static void err_at(struct ctx *c, struct aic_mark m,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, m, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void err(struct ctx *c, const yaml_node_t *n,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, mark_of(n), fmt, ap);
	va_end(ap);
}

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(&c->doc, id);
}

/*
 * Marks node n consumed. A node reached twice is an alias: refuse it (and
 * do not descend again).
 */
static bool take(struct ctx *c, yaml_node_t *n)
{
	size_t i = (size_t)(n - c->doc.nodes.start);

	if (i >= c->n_nodes)
		return false;
	if (c->seen[i]) {
		err(c, n, "YAML aliases are not supported in a job spec");
		return false;
	}
	c->seen[i] = 1;
	return true;
}

/* A short, quoted, printable rendering of a node for messages. */
static const char *show(const yaml_node_t *n, char *buf, size_t len)
{
	const unsigned char *s;
	size_t i, o = 0, max;

	if (!n)
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	s = n->data.scalar.value;
	max = len - 6;
	buf[o++] = '\'';
	for (i = 0; i < n->data.scalar.length && o < max; i++)
		buf[o++] = (char)(isprint(s[i]) ? s[i] : '?');
	if (i < n->data.scalar.length) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain scalar YAML reads as null: ~, null, or nothing at all. */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		!strcmp(s, "NULL"));
}

static char *xstrdup(struct ctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d)
		c->oom = true;
	return d;
}

/* Appends p to a NULL-terminated array of strings. */
static bool push_str(struct ctx *c, char ***arr, char *p)
{
	size_t n = 0;
	char **a;

	if (!p)
		return false;
	while (*arr && (*arr)[n])
		n++;
	a = realloc(*arr, (n + 2) * sizeof(*a));
	if (!a) {
		free(p);
		c->oom = true;
		return false;
	}
	a[n] = p;
	a[n + 1] = NULL;
	*arr = a;
	return true;
}

/*
 * Appends a zeroed element of `size` bytes to the array *arr of *n
 * elements; returns it (not yet counted in *n), or NULL when out of memory.
 */
static void *grow(struct ctx *c, void *arr, size_t n, size_t size, void **out)
{
	char *a = realloc(arr, (n + 1) * size);

	if (!a) {
		c->oom = true;
		return NULL;
	}
	*out = a;
	memset(a + n * size, 0, size);
	return a + n * size;
}

static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur[64];

	if (la >= 63 || lb >= 63)
		return 64;
	for (j = 0; j <= lb; j++)
		cur[j] = j;
	for (i = 1; i <= la; i++) {
		prev = cur[0];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t t = cur[j];
			size_t sub = prev + (a[i - 1] != b[j - 1]);
			size_t del = cur[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			prev = t;
		}
	}
	return cur[lb];
}

/*
 * Walks mapping n, checking that its keys are scalars, known (in `keys`)
 * and not repeated. Calls fn for each pair whose key is known. `where`
 * names the mapping in messages ("stage 'rollout'").
 */
typedef void (*pair_fn)(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v,
			void *arg);

static void each_pair(struct ctx *c, yaml_node_t *n, const char *const *keys, const char *where,
		      pair_fn fn, void *arg)
{
	yaml_node_pair_t *p, *q;
	char b[96];

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *ks = scalar(k);
		size_t i, best = 0, best_d = 3;
		bool known = false, dup = false;

		if (!k || !v)
			continue;
		if (!ks) {
			err(c, k, "%s: keys must be names, got %s", where, show(k, b, sizeof(b)));
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			const char *qs = scalar(node(c, q->key));
			if (qs && !strcmp(qs, ks))
				dup = true;
		}
		if (dup) {
			err(c, k, "%s: key '%s' appears twice", where, ks);
			continue;
		}
		for (i = 0; keys[i]; i++) {
			size_t d;
			if (!strcmp(keys[i], ks)) {
				known = true;
				break;
			}
			/* A near miss, or one name inside the other (staleness). */
			d = levenshtein(keys[i], ks);
			if (strlen(ks) >= 4 && (strstr(keys[i], ks) || strstr(ks, keys[i])))
				d = 1;
			if (d < best_d) {
				best_d = d;
				best = i + 1;
			}
		}
		if (!known) {
			struct aic_strbuf all;
			aic_strbuf_init(&all);
			for (i = 0; keys[i]; i++)
				aic_strbuf_printf(&all, "%s%s", i ? ", " : "", keys[i]);
			if (best)
				err(c, k, "%s: unknown key %s; did you mean '%s'?", where,
				    show(k, b, sizeof(b)), keys[best - 1]);
			else
				err(c, k, "%s: unknown key %s (expected one of: %s)", where,
				    show(k, b, sizeof(b)), all.buf ? all.buf : "");
			aic_strbuf_release(&all);
			continue;
		}
		fn(c, ks, k, v, arg);
	}
}

/* --- typed values ---------------------------------------------------- */

static bool get_int(struct ctx *c, yaml_node_t *v, const char *what, long min, long max, int *out)
{
	const char *s = scalar(v);
	char b[96], *end;
	long x;

	if (!take(c, v))
		return false;
	if (!s || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s) {
		err(c, v, "%s: expected an integer from %ld to %ld, got %s", what, min, max,
		    show(v, b, sizeof(b)));
		return false;
	}
	errno = 0;
	x = strtol(s, &end, 10);
	if (*end || errno) {
		err(c, v, "%s: expected an integer from %ld to %ld, got %s", what, min, max,
		    show(v, b, sizeof(b)));
		return false;
	}
	if (x < min || x > max) {
		err(c, v, "%s: %s is out of range: expected an integer from %ld to %ld", what,
		    show(v, b, sizeof(b)), min, max);
		return false;
	}
	*out = (int)x;
	return true;
}

static bool get_bool(struct ctx *c, yaml_node_t *v, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", NULL};
	const char *s = scalar(v);
	char b[96];
	int i;

	if (!take(c, v))
		return false;
	if (s && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (i = 0; yes[i]; i++)
			if (!strcmp(s, yes[i])) {
				*out = true;
				return true;
			}
		for (i = 0; no[i]; i++)
			if (!strcmp(s, no[i])) {
				*out = false;
				return true;
			}
	}
	err(c, v, "%s: expected true or false, got %s", what, show(v, b, sizeof(b)));
	return false;
}

/* A non-empty string. Returns a new copy, or NULL after reporting. */
static char *get_str(struct ctx *c, yaml_node_t *v, const char *what)
{
	const char *s = scalar(v);
	char b[96];

	if (!take(c, v))
		return NULL;
	if (!s || is_null(v) || !*s) {
		err(c, v, "%s: expected a string, got %s", what, show(v, b, sizeof(b)));
		return NULL;
	}
	if (strlen(s) != v->data.scalar.length) {
		err(c, v, "%s: the string contains a NUL character", what);
		return NULL;
	}
	return xstrdup(c, s);
}

static bool valid_name(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return n > 0 && n <= 64;
}

/* A stage, channel or weights name: letters, digits, '_', '-', '.'. */
static char *get_name(struct ctx *c, yaml_node_t *v, const char *what)
{
	char *s = get_str(c, v, what);
	char b[96];

	if (s && !valid_name(s)) {
		err(c, v, "%s: invalid name %s: expected 1 to 64 letters, digits, '_', '-' or '.'",
		    what, show(v, b, sizeof(b)));
		free(s);
		return NULL;
	}
	return s;
}

/* A list of names, or one name standing for a list of one. */
static void get_names(struct ctx *c, yaml_node_t *v, const char *what, char ***out)
{
	yaml_node_item_t *it;
	char b[96];

	if (v->type == YAML_SCALAR_NODE) {
		push_str(c, out, get_name(c, v, what));
		return;
	}
	if (!take(c, v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		err(c, v, "%s: expected a list of names, got %s", what, show(v, b, sizeof(b)));
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		char **a;
		char *s;
		bool dup = false;

		if (!e)
			continue;
		s = get_name(c, e, what);
		if (!s)
			continue;
		for (a = *out; a && *a; a++)
			dup |= !strcmp(*a, s);
		if (dup) {
			err(c, e, "%s: '%s' is listed twice", what, s);
			free(s);
			continue;
		}
		push_str(c, out, s);
	}
}

/* Memory: an integer in MiB (as SLURM's --mem), or with a K, M, G or T suffix. */
static bool get_mem(struct ctx *c, yaml_node_t *v, const char *what, uint64_t *out)
{
	const char *s = scalar(v);
	char b[96], *end;
	unsigned long long x;
	uint64_t kib;

	if (!take(c, v))
		return false;
	if (!s || !*s || !isdigit((unsigned char)*s))
		goto bad;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || x > (1ULL << 40))
		goto bad;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		kib = x * 1024;
		break;
	case 'K':
		kib = x;
		end++;
		break;
	case 'M':
		kib = x * 1024;
		end++;
		break;
	case 'G':
		kib = x * 1024 * 1024;
		end++;
		break;
	case 'T':
		kib = x * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		goto bad;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end)
		goto bad;
	*out = (kib + 1023) / 1024;
	return true;
bad:
	err(c, v, "%s: expected a size such as 512M, 16G or 1T (a bare number is MiB), got %s", what,
	    show(v, b, sizeof(b)));
	return false;
}

static const char *const restart_keys[] = {"max", "backoff_ms", NULL};

static void restart_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct aic_restart *r = arg;
	char what[128];

	(void)k;
	snprintf(what, sizeof(what), "restart.%s", key);
	if (!strcmp(key, "max"))
		get_int(c, v, what, 0, 1000000, &r->max);
	else
		get_int(c, v, what, 0, 3600 * 1000, &r->backoff_ms);
}

static void get_restart(struct ctx *c, yaml_node_t *v, const char *where, struct aic_restart *r)
{
	char b[96];

	if (!take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		err(c, v, "%s: expected a mapping {max, backoff_ms}, got %s", where,
		    show(v, b, sizeof(b)));
		return;
	}
	each_pair(c, v, restart_keys, where, restart_pair, r);
}

/* --- stages ---------------------------------------------------------- */

static const char *const stage_keys[] = {"command",	"replicas",	"ranks", "gpus",
					 "cpus",	"mem",		"env",	 "inputs",
					 "outputs",	"weights_to",	"weights_from",
					 "colocate_with", "restart",	NULL};

struct stage_arg {
	struct aic_stage *st;
	bool has_replicas, has_ranks;
	yaml_node_t *ranks_key;
};

static void get_command(struct ctx *c, struct aic_stage *st, yaml_node_t *v, const char *what)
{
	yaml_node_item_t *it;
	char b[96];

	if (v->type == YAML_SCALAR_NODE) {
		char *s = get_str(c, v, what);
		if (!s)
			return;
		st->shell = true;
		push_str(c, &st->argv, xstrdup(c, "/bin/sh"));
		push_str(c, &st->argv, xstrdup(c, "-c"));
		push_str(c, &st->argv, s);
		return;
	}
	if (!take(c, v))
		return;
	if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.start == v->data.sequence.items.top) {
		err(c, v, "%s: expected a non-empty list of strings or a shell command string, got %s",
		    what, v->type == YAML_SEQUENCE_NODE ? "an empty list" : show(v, b, sizeof(b)));
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		const char *s = scalar(e);
		if (!e)
			continue;
		if (!take(c, e))
			continue;
		if (!s || strlen(s) != e->data.scalar.length) {
			err(c, e, "%s: expected a string, got %s", what, show(e, b, sizeof(b)));
			continue;
		}
		push_str(c, &st->argv, xstrdup(c, s));
	}
}

static const char *const replicas_keys[] = {"min", "max", NULL};

static void replicas_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct aic_stage *st = arg;
	char what[160];

	(void)k;
	snprintf(what, sizeof(what), "stages.%s.replicas.%s", st->name, key);
	if (!strcmp(key, "min"))
		get_int(c, v, what, 0, MAX_COUNT, &st->replicas_min);
	else
		get_int(c, v, what, 1, MAX_COUNT, &st->replicas_max);
}

static void get_env(struct ctx *c, struct aic_stage *st, yaml_node_t *v, const char *what)
{
	yaml_node_pair_t *p, *q;
	char b[96];

	if (!take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		err(c, v, "%s: expected a mapping of NAME: value, got %s", what,
		    show(v, b, sizeof(b)));
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *val = node(c, p->value);
		const char *ks = scalar(k), *vs = scalar(val), *s;
		bool ok = ks && (isalpha((unsigned char)*ks) || *ks == '_'), dup = false;
		struct aic_strbuf kv;
		char *kvs;

		if (!k || !val)
			continue;
		for (s = ks; ok && *s; s++)
			ok = isalnum((unsigned char)*s) || *s == '_';
		if (!ok) {
			err(c, k, "%s: invalid variable name %s: expected letters, digits and '_'",
			    what, show(k, b, sizeof(b)));
			continue;
		}
		for (q = v->data.mapping.pairs.start; q < p; q++) {
			const char *qs = scalar(node(c, q->key));
			dup |= qs && !strcmp(qs, ks);
		}
		if (dup) {
			err(c, k, "%s: variable '%s' appears twice", what, ks);
			continue;
		}
		if (!take(c, val))
			continue;
		if (!vs || strlen(vs) != val->data.scalar.length) {
			err(c, val, "%s.%s: expected a string or number, got %s", what, ks,
			    show(val, b, sizeof(b)));
			continue;
		}
		aic_strbuf_init(&kv);
		aic_strbuf_printf(&kv, "%s=%s", ks, is_null(val) ? "" : vs);
		kvs = aic_strbuf_detach(&kv);
		if (!kvs) {
			c->oom = true;
			continue;
		}
		push_str(c, &st->env, kvs);
	}
}

static void stage_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct stage_arg *sa = arg;
	struct aic_stage *st = sa->st;
	char what[160], b[96];

	snprintf(what, sizeof(what), "stages.%s.%s", st->name, key);
	if (!strcmp(key, "command")) {
		get_command(c, st, v, what);
	} else if (!strcmp(key, "replicas")) {
		sa->has_replicas = true;
		if (v->type == YAML_MAPPING_NODE) {
			if (!take(c, v))
				return;
			st->replicas_min = -1;
			st->replicas_max = -1;
			each_pair(c, v, replicas_keys, what, replicas_pair, st);
			if (st->replicas_max < 0)
				err(c, v, "%s: 'max' is required", what);
			if (st->replicas_min < 0)
				st->replicas_min = st->replicas_max > 0 ? 1 : 0;
			if (st->replicas_max >= 0 && st->replicas_min > st->replicas_max)
				err(c, v, "%s: min %d is larger than max %d", what, st->replicas_min,
				    st->replicas_max);
		} else if (v->type == YAML_SCALAR_NODE) {
			if (get_int(c, v, what, 1, MAX_COUNT, &st->replicas_max))
				st->replicas_min = st->replicas_max;
		} else {
			take(c, v);
			err(c, v, "%s: expected an integer or {min, max}, got %s", what,
			    show(v, b, sizeof(b)));
		}
	} else if (!strcmp(key, "ranks")) {
		sa->has_ranks = true;
		sa->ranks_key = k;
		get_int(c, v, what, 1, MAX_COUNT, &st->ranks);
	} else if (!strcmp(key, "gpus")) {
		st->gpus_mark = mark_of(v);
		get_int(c, v, what, 0, 1024, &st->gpus);
	} else if (!strcmp(key, "cpus")) {
		get_int(c, v, what, 0, 4096, &st->cpus);
	} else if (!strcmp(key, "mem")) {
		get_mem(c, v, what, &st->mem_mb);
	} else if (!strcmp(key, "env")) {
		get_env(c, st, v, what);
	} else if (!strcmp(key, "inputs")) {
		get_names(c, v, what, &st->inputs);
	} else if (!strcmp(key, "outputs")) {
		get_names(c, v, what, &st->outputs);
	} else if (!strcmp(key, "weights_to")) {
		st->weights_to = get_name(c, v, what);
	} else if (!strcmp(key, "weights_from")) {
		st->weights_from = get_name(c, v, what);
	} else if (!strcmp(key, "colocate_with")) {
		if (is_null(v))
			take(c, v);
		else
			st->colocate_with = get_name(c, v, what);
	} else if (!strcmp(key, "restart")) {
		get_restart(c, v, what, &st->restart);
	}
}

static void parse_stage(struct ctx *c, yaml_node_t *k, yaml_node_t *v)
{
	struct aic_spec *spec = c->spec;
	struct aic_stage *st;
	struct stage_arg sa = {0};
	char where[128], b[96];
	size_t i;

	st = grow(c, spec->stages, spec->n_stages, sizeof(*st), (void **)&spec->stages);
	if (!st)
		return;
	st->name = get_name(c, k, "stages");
	if (!st->name)
		return;
	for (i = 0; i < spec->n_stages; i++)
		if (!strcmp(spec->stages[i].name, st->name)) {
			err(c, k, "stages: stage '%s' is defined twice", st->name);
			free(st->name);
			return;
		}
	spec->n_stages++;
	st->mark = mark_of(k);
	st->gpus_mark = st->mark;
	st->replicas_min = st->replicas_max = 1;
	st->cpus = 1;
	st->restart.max = -1; /* -1: filled from the top-level default */
	st->restart.backoff_ms = -1;
	sa.st = st;
	snprintf(where, sizeof(where), "stage '%s'", st->name);
	if (!take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		err(c, v, "%s: expected a mapping with at least 'command', got %s", where,
		    show(v, b, sizeof(b)));
		return;
	}
	each_pair(c, v, stage_keys, where, stage_pair, &sa);
	if (!st->argv)
		err(c, k, "stage '%s' has no command", st->name);
	if (sa.has_replicas && sa.has_ranks)
		err(c, sa.ranks_key,
		    "stage '%s' has both 'replicas' and 'ranks': replicas are independent "
		    "copies, ranks are one gang; choose one",
		    st->name);
	else if (sa.has_ranks)
		st->replicas_min = st->replicas_max = 1;
}

/* --- channels and weights -------------------------------------------- */

static const char *const channel_keys[] = {"source", "sink", "capacity", "epochs", "compress",
					   NULL};

struct channel_arg {
	struct aic_channel *ch;
	yaml_node_t *epochs;
};

static void channel_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct channel_arg *ca = arg;
	struct aic_channel *ch = ca->ch;
	char what[160];

	(void)k;
	snprintf(what, sizeof(what), "channels.%s.%s", ch->name, key);
	if (!strcmp(key, "source"))
		ch->source = get_str(c, v, what);
	else if (!strcmp(key, "sink"))
		ch->sink = get_str(c, v, what);
	else if (!strcmp(key, "capacity"))
		get_int(c, v, what, 1, 1 << 24, &ch->capacity);
	else if (!strcmp(key, "epochs")) {
		ca->epochs = v;
		get_int(c, v, what, 1, 1000000, &ch->epochs);
	} else if (!strcmp(key, "compress"))
		get_bool(c, v, what, &ch->compress);
}

static struct aic_channel *add_channel(struct ctx *c, const char *name, struct aic_mark m)
{
	struct aic_spec *spec = c->spec;
	struct aic_channel *ch;

	ch = grow(c, spec->channels, spec->n_channels, sizeof(*ch), (void **)&spec->channels);
	if (!ch)
		return NULL;
	ch->name = xstrdup(c, name);
	if (!ch->name)
		return NULL;
	spec->n_channels++;
	ch->capacity = AIC_SPEC_DEFAULT_CAPACITY;
	ch->epochs = 1;
	ch->mark = m;
	return ch;
}

static void parse_channel(struct ctx *c, yaml_node_t *k, yaml_node_t *v)
{
	struct channel_arg ca = {0};
	char *name = get_name(c, k, "channels");
	char where[128], b[96];

	if (!name)
		return;
	if (aic_spec_channel(c->spec, name)) {
		err(c, k, "channels: channel '%s' is defined twice", name);
		free(name);
		return;
	}
	ca.ch = add_channel(c, name, mark_of(k));
	free(name);
	if (!ca.ch)
		return;
	ca.ch->declared = true;
	snprintf(where, sizeof(where), "channel '%s'", ca.ch->name);
	if (is_null(v)) {
		take(c, v);
		return;
	}
	if (!take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		err(c, v, "%s: expected a mapping, got %s", where, show(v, b, sizeof(b)));
		return;
	}
	each_pair(c, v, channel_keys, where, channel_pair, &ca);
	if (ca.epochs && !ca.ch->source)
		err(c, ca.epochs, "%s: 'epochs' needs a 'source' to read again", where);
}

static const char *const weights_keys[] = {"max_staleness", NULL};

static void weights_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct aic_weights *w = arg;
	char what[160];

	(void)k;
	snprintf(what, sizeof(what), "weights.%s.%s", w->name, key);
	get_int(c, v, what, 0, 1000000, &w->max_staleness);
}

static struct aic_weights *add_weights(struct ctx *c, const char *name, struct aic_mark m)
{
	struct aic_spec *spec = c->spec;
	struct aic_weights *w;

	w = grow(c, spec->weights, spec->n_weights, sizeof(*w), (void **)&spec->weights);
	if (!w)
		return NULL;
	w->name = xstrdup(c, name);
	if (!w->name)
		return NULL;
	spec->n_weights++;
	w->max_staleness = AIC_SPEC_DEFAULT_STALENESS;
	w->mark = m;
	return w;
}

static struct aic_weights *find_weights(struct aic_spec *spec, const char *name)
{
	size_t i;

	for (i = 0; i < spec->n_weights; i++)
		if (!strcmp(spec->weights[i].name, name))
			return &spec->weights[i];
	return NULL;
}

static void parse_weights(struct ctx *c, yaml_node_t *k, yaml_node_t *v)
{
	struct aic_weights *w;
	char *name = get_name(c, k, "weights");
	char where[128], b[96];

	if (!name)
		return;
	if (find_weights(c->spec, name)) {
		err(c, k, "weights: '%s' is defined twice", name);
		free(name);
		return;
	}
	w = add_weights(c, name, mark_of(k));
	free(name);
	if (!w)
		return;
	w->declared = true;
	snprintf(where, sizeof(where), "weights '%s'", w->name);
	if (is_null(v)) {
		take(c, v);
		return;
	}
	if (!take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		err(c, v, "%s: expected a mapping, got %s", where, show(v, b, sizeof(b)));
		return;
	}
	each_pair(c, v, weights_keys, where, weights_pair, w);
}

/* --- the document ---------------------------------------------------- */

typedef void (*entry_fn)(struct ctx *c, yaml_node_t *k, yaml_node_t *v);

static void each_entry(struct ctx *c, yaml_node_t *v, const char *what, entry_fn fn)
{
	yaml_node_pair_t *p;
	char b[96];

	if (!take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		err(c, v, "%s: expected a mapping of NAME: {...}, got %s", what, show(v, b, sizeof(b)));
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *val = node(c, p->value);
		if (k && val)
			fn(c, k, val);
	}
}

static const char *const top_keys[] = {"name",    "stages",   "channels", "weights",
				       "restart", "topology", NULL};

/* topology: prefer | strict | off (domain.h). */
static void get_topology(struct ctx *c, yaml_node_t *v, enum aic_topology *out)
{
	const char *s = scalar(v);
	char b[96];

	if (!take(c, v))
		return;
	if (!s || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || aic_topology_parse(s, out))
		err(c, v, "topology: expected prefer, strict or off, got %s", show(v, b, sizeof(b)));
}

struct top_arg {
	yaml_node_t *stages;
};

static void top_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct top_arg *ta = arg;

	(void)k;
	if (!strcmp(key, "name")) {
		c->spec->name = get_name(c, v, "name");
	} else if (!strcmp(key, "stages")) {
		ta->stages = v;
		each_entry(c, v, "stages", parse_stage);
	} else if (!strcmp(key, "channels")) {
		if (is_null(v))
			take(c, v);
		else
			each_entry(c, v, "channels", parse_channel);
	} else if (!strcmp(key, "weights")) {
		if (is_null(v))
			take(c, v);
		else
			each_entry(c, v, "weights", parse_weights);
	} else if (!strcmp(key, "restart")) {
		get_restart(c, v, "restart", &c->spec->restart);
	} else if (!strcmp(key, "topology")) {
		get_topology(c, v, &c->spec->topology);
	}
}

/* --- validation of the graph ----------------------------------------- */

static bool in_list(char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* Channels and weights that stages name without declaring them exist implicitly. */
static void add_implicit(struct ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i;
	char **p;

	for (i = 0; i < spec->n_stages; i++) {
		struct aic_stage *st = &spec->stages[i];
		char **lists[2] = {st->outputs, st->inputs};
		int l;
		for (l = 0; l < 2; l++)
			for (p = lists[l]; p && *p; p++)
				if (!aic_spec_channel(spec, *p))
					add_channel(c, *p, st->mark);
		if (st->weights_to && !find_weights(spec, st->weights_to))
			add_weights(c, st->weights_to, st->mark);
		if (st->weights_from && !find_weights(spec, st->weights_from))
			add_weights(c, st->weights_from, st->mark);
	}
}

static void check_channels(struct ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i, j;

	for (i = 0; i < spec->n_channels; i++) {
		struct aic_channel *ch = &spec->channels[i];
		const char *writer = NULL, *reader = NULL;
		for (j = 0; j < spec->n_stages; j++) {
			if (!writer && in_list(spec->stages[j].outputs, ch->name))
				writer = spec->stages[j].name;
			if (!reader && in_list(spec->stages[j].inputs, ch->name))
				reader = spec->stages[j].name;
		}
		if (!writer && !ch->source) {
			if (reader)
				err_at(c, ch->mark,
				       "channel '%s' is read by stage '%s' but written by no stage "
				       "and has no source",
				       ch->name, reader);
			else
				err_at(c, ch->mark,
				       "channel '%s' is neither written nor read: give it a source "
				       "and a reader, or remove it",
				       ch->name);
			continue;
		}
		if (!reader && !ch->sink) {
			if (writer)
				err_at(c, ch->mark,
				       "channel '%s' is written by stage '%s' but read by no stage "
				       "and has no sink",
				       ch->name, writer);
			else
				err_at(c, ch->mark,
				       "channel '%s' has a source but is read by no stage and has "
				       "no sink",
				       ch->name);
		}
	}
}

static void check_weights(struct ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i, j;

	for (i = 0; i < spec->n_weights; i++) {
		struct aic_weights *w = &spec->weights[i];
		const struct aic_stage *writer = NULL, *reader = NULL;
		for (j = 0; j < spec->n_stages; j++) {
			const struct aic_stage *st = &spec->stages[j];
			if (st->weights_to && !strcmp(st->weights_to, w->name)) {
				if (writer)
					err_at(c, st->mark,
					       "weights '%s' are published by both stage '%s' and "
					       "stage '%s': a weights stream has one writer",
					       w->name, writer->name, st->name);
				else
					writer = st;
			}
			if (!reader && st->weights_from && !strcmp(st->weights_from, w->name))
				reader = st;
		}
		if (!writer)
			err_at(c, w->mark,
			       "weights '%s' have no writer: no stage has 'weights_to: %s'", w->name,
			       w->name);
		else if (!reader)
			err_at(c, w->mark,
			       "weights '%s' are published by stage '%s' but no stage has "
			       "'weights_from: %s'",
			       w->name, writer->name, w->name);
	}
}

static void check_colocation(struct ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i;

	for (i = 0; i < spec->n_stages; i++) {
		struct aic_stage *st = &spec->stages[i];
		const struct aic_stage *peer;
		if (!st->colocate_with)
			continue;
		peer = aic_spec_stage(spec, st->colocate_with);
		if (!peer)
			err_at(c, st->mark, "stage '%s': colocate_with names '%s', which is no stage",
			       st->name, st->colocate_with);
		else if (peer == st)
			err_at(c, st->mark, "stage '%s': colocate_with names the stage itself",
			       st->name);
		else if (st->gpus == 0 || peer->gpus == 0)
			err_at(c, st->mark,
			       "stage '%s': colocate_with '%s' shares GPUs, but stage '%s' uses none",
			       st->name, peer->name, st->gpus == 0 ? st->name : peer->name);
	}
}

/*
 * A stage can start when every one of its inputs can receive data: a
 * channel is live when it has a source or a live stage writes it. Stages
 * that never become live wait on each other in a cycle with no way in.
 */
static void check_startable(struct ctx *c)
{
	struct aic_spec *spec = c->spec;
	bool *live_st, *live_ch, changed = true;
	size_t i, j;
	char **p;

	live_st = calloc(spec->n_stages + 1, sizeof(bool));
	live_ch = calloc(spec->n_channels + 1, sizeof(bool));
	if (!live_st || !live_ch) {
		c->oom = true;
		goto out_free;
	}
	for (j = 0; j < spec->n_channels; j++)
		live_ch[j] = spec->channels[j].source != NULL;
	while (changed) {
		changed = false;
		for (i = 0; i < spec->n_stages; i++) {
			bool ok = true;
			if (live_st[i])
				continue;
			for (p = spec->stages[i].inputs; p && *p && ok; p++) {
				const struct aic_channel *ch = aic_spec_channel(spec, *p);
				ok = ch && live_ch[ch - spec->channels];
			}
			if (!ok)
				continue;
			live_st[i] = changed = true;
			for (p = spec->stages[i].outputs; p && *p; p++) {
				const struct aic_channel *ch = aic_spec_channel(spec, *p);
				if (ch)
					live_ch[ch - spec->channels] = true;
			}
		}
	}
	for (i = 0; i < spec->n_stages; i++) {
		if (live_st[i])
			continue;
		for (p = spec->stages[i].inputs; p && *p; p++) {
			const struct aic_channel *ch = aic_spec_channel(spec, *p);
			bool written = false;
			if (!ch || live_ch[ch - spec->channels])
				continue;
			for (j = 0; j < spec->n_stages; j++)
				written |= in_list(spec->stages[j].outputs, ch->name);
			if (written)
				err_at(c, spec->stages[i].mark,
				       "stage '%s' can never start: its input '%s' is written only by "
				       "stages that wait on it (a cycle with no source)",
				       spec->stages[i].name, ch->name);
			break;
		}
	}
out_free:
	free(live_st);
	free(live_ch);
}

static void validate(struct ctx *c, yaml_node_t *stages)
{
	struct aic_spec *spec = c->spec;
	size_t i;

	if (!stages) {
		err_at(c, (struct aic_mark){1, 1}, "the spec has no 'stages': a job needs at least one stage");
		return;
	}
	if (spec->n_stages == 0) {
		if (c->n_errs == 0)
			err(c, stages, "stages: a job needs at least one stage");
		return;
	}
	for (i = 0; i < spec->n_stages; i++) {
		struct aic_restart *r = &spec->stages[i].restart;
		if (r->max < 0)
			r->max = spec->restart.max;
		if (r->backoff_ms < 0)
			r->backoff_ms = spec->restart.backoff_ms;
	}
	add_implicit(c);
	check_channels(c);
	check_weights(c);
	check_colocation(c);
	check_startable(c);
}

int aic_spec_parse(const char *buf, size_t len, const char *path, struct aic_spec **out,
		   char **errors)
{
	struct ctx c;
	yaml_parser_t parser;
	yaml_node_t *root;
	struct top_arg ta = {0};
	int rc = 0;

	*out = NULL;
	if (errors)
		*errors = NULL;
	memset(&c, 0, sizeof(c));
	c.path = path ? path : "<spec>";
	aic_strbuf_init(&c.errs);

	c.spec = calloc(1, sizeof(*c.spec));
	if (!c.spec)
		return -ENOMEM;
	c.spec->path = strdup(c.path);
	if (!c.spec->path) {
		rc = -ENOMEM;
		goto out_free_spec;
	}
	c.spec->restart.max = AIC_SPEC_DEFAULT_RESTART_MAX;
	c.spec->restart.backoff_ms = AIC_SPEC_DEFAULT_BACKOFF_MS;

	if (len > AIC_SPEC_MAX_BYTES) {
		err_at(&c, (struct aic_mark){1, 1}, "the spec is %zu bytes; the limit is %d", len,
		       AIC_SPEC_MAX_BYTES);
		rc = AIC_ESPEC;
		goto out_free_spec;
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = -ENOMEM;
		goto out_free_spec;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		struct aic_mark m = {(unsigned)parser.problem_mark.line + 1,
				     (unsigned)parser.problem_mark.column + 1};
		if (parser.error == YAML_MEMORY_ERROR) {
			rc = -ENOMEM;
		} else {
			err_at(&c, m, "invalid YAML: %s%s%s", parser.problem ? parser.problem : "error",
			       parser.context ? " " : "", parser.context ? parser.context : "");
			rc = AIC_ESPEC;
		}
		yaml_parser_delete(&parser);
		goto out_free_spec;
	}
	yaml_parser_delete(&parser);

	c.n_nodes = (size_t)(c.doc.nodes.top - c.doc.nodes.start);
	c.seen = calloc(c.n_nodes + 1, 1);
	if (!c.seen) {
		rc = -ENOMEM;
		goto out_delete_doc;
	}
	root = yaml_document_get_root_node(&c.doc);
	if (!root || is_null(root)) {
		err_at(&c, (struct aic_mark){1, 1},
		       "the spec is empty: expected a mapping with 'stages'");
	} else if (root->type != YAML_MAPPING_NODE) {
		char b[96];
		err(&c, root, "expected a mapping with 'name', 'stages', 'channels', 'weights' and "
			      "'restart' at the top, got %s",
		    show(root, b, sizeof(b)));
	} else {
		take(&c, root);
		each_pair(&c, root, top_keys, "the spec", top_pair, &ta);
		validate(&c, ta.stages);
	}
	if (c.oom)
		rc = -ENOMEM;
	else if (c.n_errs)
		rc = AIC_ESPEC;

out_delete_doc:
	free(c.seen);
	yaml_document_delete(&c.doc);
out_free_spec:
	if (rc == 0) {
		*out = c.spec;
		c.spec = NULL;
	} else if (rc == -ENOMEM && errors) {
		aic_strbuf_release(&c.errs);
		aic_strbuf_printf(&c.errs, "%s: out of memory\n", c.path);
	}
	aic_spec_free(c.spec);
	if (errors && c.errs.buf && rc != 0)
		*errors = aic_strbuf_detach(&c.errs);
	aic_strbuf_release(&c.errs);
	return rc;
}

int aic_spec_load(const char *path, struct aic_spec **out, char **errors)
{
	struct aic_strbuf text, e;
	FILE *f;
	char chunk[65536];
	size_t n;
	int rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	aic_strbuf_init(&text);
	aic_strbuf_init(&e);
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		goto out_error;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (text.len + n > AIC_SPEC_MAX_BYTES + 1)
			break;
		if (aic_strbuf_append(&text, chunk, n) < 0) {
			fclose(f);
			rc = -ENOMEM;
			goto out_error;
		}
	}
	if (ferror(f)) {
		rc = -EIO;
		fclose(f);
		goto out_error;
	}
	fclose(f);
	rc = aic_spec_parse(text.buf ? text.buf : "", text.len, path, out, errors);
	aic_strbuf_release(&text);
	return rc;

out_error:
	aic_strbuf_release(&text);
	if (errors) {
		aic_strbuf_printf(&e, "aic: cannot read '%s': %s\n", path, aic_strerror(rc));
		*errors = aic_strbuf_detach(&e);
	}
	aic_strbuf_release(&e);
	return rc;
}


void aic_spec_free(struct aic_spec *spec)
{
	size_t i;

	if (!spec)
		return;
	for (i = 0; i < spec->n_stages; i++) {
		struct aic_stage *st = &spec->stages[i];
		free(st->name);
		aic_strv_free(st->argv);
		aic_strv_free(st->env);
		aic_strv_free(st->inputs);
		aic_strv_free(st->outputs);
		free(st->weights_to);
		free(st->weights_from);
		free(st->colocate_with);
	}
	for (i = 0; i < spec->n_channels; i++) {
		free(spec->channels[i].name);
		free(spec->channels[i].source);
		free(spec->channels[i].sink);
	}
	for (i = 0; i < spec->n_weights; i++)
		free(spec->weights[i].name);
	free(spec->stages);
	free(spec->channels);
	free(spec->weights);
	free(spec->name);
	free(spec->path);
	free(spec);
}

const struct aic_stage *aic_spec_stage(const struct aic_spec *spec, const char *name)
{
	size_t i;

	for (i = 0; i < spec->n_stages; i++)
		if (!strcmp(spec->stages[i].name, name))
			return &spec->stages[i];
	return NULL;
}

const struct aic_channel *aic_spec_channel(const struct aic_spec *spec, const char *name)
{
	size_t i;

	for (i = 0; i < spec->n_channels; i++)
		if (!strcmp(spec->channels[i].name, name))
			return &spec->channels[i];
	return NULL;
}

int aic_stage_procs(const struct aic_stage *stage)
{
	return stage->ranks > 0 ? stage->ranks : stage->replicas_max;
}

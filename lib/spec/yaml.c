/*
 * The bottom layer of the spec parser: messages with positions, access to
 * libyaml's node tree, and the typed getters that read one value each.
 *
 * libyaml loads the whole document into a node tree that keeps each node's
 * position, so every message can say file:line:column. Parsing goes on
 * after an error so that one run reports every problem, up to MAX_ERRORS.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_ERRORS 50

/* --- messages -------------------------------------------------------- */

struct aic_mark aic__spec_mark(const yaml_node_t *n)
{
	struct aic_mark m = {0, 0};

	if (n) {
		m.line = (unsigned)n->start_mark.line + 1;
		m.col = (unsigned)n->start_mark.column + 1;
	}
	return m;
}

static void verr_at(struct spec_ctx *c, struct aic_mark m, const char *fmt, va_list ap)
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

void aic__spec_err_at(struct spec_ctx *c, struct aic_mark m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, m, fmt, ap);
	va_end(ap);
}

void aic__spec_err(struct spec_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, aic__spec_mark(n), fmt, ap);
	va_end(ap);
}

/* --- nodes ----------------------------------------------------------- */

yaml_node_t *aic__spec_node(struct spec_ctx *c, int id)
{
	return yaml_document_get_node(&c->doc, id);
}

bool aic__spec_take(struct spec_ctx *c, yaml_node_t *n)
{
	size_t i = (size_t)(n - c->doc.nodes.start);

	if (i >= c->n_nodes)
		return false;
	if (c->seen[i]) {
		aic__spec_err(c, n, "YAML aliases are not supported in a job spec");
		return false;
	}
	c->seen[i] = 1;
	return true;
}

const char *aic__spec_show(const yaml_node_t *n, char *buf, size_t len)
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

const char *aic__spec_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool aic__spec_is_null(const yaml_node_t *n)
{
	const char *s = aic__spec_scalar(n);

	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		!strcmp(s, "NULL"));
}

yaml_node_t *aic__spec_value(struct spec_ctx *c, yaml_node_t *n, const char *name,
			     yaml_node_t **key)
{
	yaml_node_pair_t *p;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = aic__spec_node(c, p->key);
		const char *ks = aic__spec_scalar(k);

		if (ks && !strcmp(ks, name)) {
			if (key)
				*key = k;
			return aic__spec_node(c, p->value);
		}
	}
	return NULL;
}

/* --- memory ---------------------------------------------------------- */

char *aic__spec_strdup(struct spec_ctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d)
		c->oom = true;
	return d;
}

bool aic__spec_push(struct spec_ctx *c, char ***arr, char *p)
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

void *aic__spec_grow(struct spec_ctx *c, void *arr, size_t n, size_t size, void **out)
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

/* --- typed values ---------------------------------------------------- */

bool aic__spec_int(struct spec_ctx *c, yaml_node_t *v, const char *what, long min, long max,
		   int *out)
{
	const char *s = aic__spec_scalar(v);
	char b[SPEC_SHOW_MAX], *end;
	long x;

	if (!aic__spec_take(c, v))
		return false;
	if (!s || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s)
		goto bad;
	errno = 0;
	x = strtol(s, &end, 10);
	if (*end || errno)
		goto bad;
	if (x < min || x > max) {
		aic__spec_err(c, v, "%s: %s is out of range: expected an integer from %ld to %ld",
			      what, aic__spec_show(v, b, sizeof(b)), min, max);
		return false;
	}
	*out = (int)x;
	return true;
bad:
	aic__spec_err(c, v, "%s: expected an integer from %ld to %ld, got %s", what, min, max,
		      aic__spec_show(v, b, sizeof(b)));
	return false;
}

bool aic__spec_bool(struct spec_ctx *c, yaml_node_t *v, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", NULL};
	const char *s = aic__spec_scalar(v);
	char b[SPEC_SHOW_MAX];
	int i;

	if (!aic__spec_take(c, v))
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
	aic__spec_err(c, v, "%s: expected true or false, got %s", what,
		      aic__spec_show(v, b, sizeof(b)));
	return false;
}

char *aic__spec_str(struct spec_ctx *c, yaml_node_t *v, const char *what)
{
	const char *s = aic__spec_scalar(v);
	char b[SPEC_SHOW_MAX];

	if (!aic__spec_take(c, v))
		return NULL;
	if (!s || aic__spec_is_null(v) || !*s) {
		aic__spec_err(c, v, "%s: expected a string, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return NULL;
	}
	if (strlen(s) != v->data.scalar.length) {
		aic__spec_err(c, v, "%s: the string contains a NUL character", what);
		return NULL;
	}
	return aic__spec_strdup(c, s);
}

static bool valid_name(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return n > 0 && n <= 64;
}

char *aic__spec_name(struct spec_ctx *c, yaml_node_t *v, const char *what)
{
	char *s = aic__spec_str(c, v, what);
	char b[SPEC_SHOW_MAX];

	if (s && !valid_name(s)) {
		aic__spec_err(
			c, v,
			"%s: invalid name %s: expected 1 to 64 letters, digits, '_', '-' or '.'",
			what, aic__spec_show(v, b, sizeof(b)));
		free(s);
		return NULL;
	}
	return s;
}

void aic__spec_names(struct spec_ctx *c, yaml_node_t *v, const char *what, char ***out)
{
	yaml_node_item_t *it;
	char b[SPEC_SHOW_MAX];

	if (v->type == YAML_SCALAR_NODE) {
		aic__spec_push(c, out, aic__spec_name(c, v, what));
		return;
	}
	if (!aic__spec_take(c, v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		aic__spec_err(c, v, "%s: expected a list of names, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = aic__spec_node(c, *it);
		char **a;
		char *s;
		bool dup = false;

		if (!e)
			continue;
		s = aic__spec_name(c, e, what);
		if (!s)
			continue;
		for (a = *out; a && *a; a++)
			dup |= !strcmp(*a, s);
		if (dup) {
			aic__spec_err(c, e, "%s: '%s' is listed twice", what, s);
			free(s);
			continue;
		}
		aic__spec_push(c, out, s);
	}
}

/* As SLURM's --mem: a bare number is MiB; KiB and KB read as K, and so on. */
bool aic__spec_size(struct spec_ctx *c, yaml_node_t *v, const char *what, uint64_t *out)
{
	/* 1024T: more than any node has, and far from where KiB would wrap. */
	static const uint64_t max_kib = 1ULL << 40;
	const char *s = aic__spec_scalar(v);
	char b[SPEC_SHOW_MAX], *end;
	unsigned long long x;
	uint64_t unit;
	bool range;

	if (!aic__spec_take(c, v))
		return false;
	if (!s || !*s || !isdigit((unsigned char)*s))
		goto bad;
	errno = 0;
	x = strtoull(s, &end, 10);
	range = errno == ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		unit = 1024;
		break;
	case 'K':
		unit = 1;
		end++;
		break;
	case 'M':
		unit = 1024;
		end++;
		break;
	case 'G':
		unit = 1024 * 1024;
		end++;
		break;
	case 'T':
		unit = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		goto bad;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end)
		goto bad;
	/* Compared before multiplying, so that no size wraps round to a small one. */
	if (range || x > max_kib / unit) {
		aic__spec_err(c, v, "%s: %s is too large: at most 1024T", what,
			      aic__spec_show(v, b, sizeof(b)));
		return false;
	}
	*out = (x * unit + 1023) / 1024;
	return true;
bad:
	aic__spec_err(c, v,
		      "%s: expected a size such as 512M, 16G or 1T (a bare number is MiB), got %s",
		      what, aic__spec_show(v, b, sizeof(b)));
	return false;
}

/* "10s", "1.5s" for messages: ms as the spec would write it. */
static void show_duration(long ms, char *buf, size_t len)
{
	if (ms % 1000)
		snprintf(buf, len, "%ldms", ms);
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%ldh", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%ldm", ms / 60000);
	else
		snprintf(buf, len, "%lds", ms / 1000);
}

bool aic__spec_duration(struct spec_ctx *c, yaml_node_t *v, const char *what, long min, long max,
			uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned long long ms;
	} units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	const char *s = aic__spec_scalar(v);
	char b[SPEC_SHOW_MAX], lo[32], hi[32], *end;
	unsigned long long x;
	size_t i;

	show_duration(min, lo, sizeof(lo));
	show_duration(max, hi, sizeof(hi));
	if (!aic__spec_take(c, v))
		return false;
	if (!s || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !isdigit((unsigned char)*s))
		goto bad;
	errno = 0;
	x = strtoull(s, &end, 10);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		goto bad;
	/* Compared before multiplying, so that no duration wraps round to a small one. */
	if (errno == ERANGE || x > (unsigned long long)max / units[i].ms ||
	    x * units[i].ms < (unsigned long long)min) {
		aic__spec_err(c, v, "%s: %s is out of range: expected a duration from %s to %s", what,
			      aic__spec_show(v, b, sizeof(b)), lo, hi);
		return false;
	}
	*out = x * units[i].ms;
	return true;
bad:
	aic__spec_err(c, v,
		      "%s: expected a duration from %s to %s such as 10s, 500ms or 2m (a bare "
		      "number is seconds), got %s",
		      what, lo, hi, aic__spec_show(v, b, sizeof(b)));
	return false;
}

bool aic__spec_enum(struct spec_ctx *c, yaml_node_t *v, const char *what,
		    const char *const *choices, int *out)
{
	const char *s = aic__spec_scalar(v);
	struct aic_strbuf all;
	char b[SPEC_SHOW_MAX];
	int i;

	if (!aic__spec_take(c, v))
		return false;
	for (i = 0; s && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && choices[i]; i++)
		if (!strcmp(s, choices[i])) {
			*out = i;
			return true;
		}
	/* "expected a, b or c" */
	aic_strbuf_init(&all);
	for (i = 0; choices[i]; i++)
		aic_strbuf_printf(&all, "%s%s",
				  i == 0	   ? ""
				  : choices[i + 1] ? ", "
						   : " or ",
				  choices[i]);
	aic__spec_err(c, v, "%s: expected %s, got %s", what, all.buf ? all.buf : "",
		      aic__spec_show(v, b, sizeof(b)));
	aic_strbuf_release(&all);
	return false;
}

void aic__spec_env(struct spec_ctx *c, yaml_node_t *v, const char *what, char ***out)
{
	yaml_node_pair_t *p, *q;
	char b[SPEC_SHOW_MAX];

	if (!aic__spec_take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		aic__spec_err(c, v, "%s: expected a mapping of NAME: value, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = aic__spec_node(c, p->key), *val = aic__spec_node(c, p->value);
		const char *ks = aic__spec_scalar(k), *vs = aic__spec_scalar(val), *s;
		bool ok = ks && (isalpha((unsigned char)*ks) || *ks == '_'), dup = false;
		struct aic_strbuf kv;
		char *kvs;

		if (!k || !val)
			continue;
		for (s = ks; ok && *s; s++)
			ok = isalnum((unsigned char)*s) || *s == '_';
		if (!ok) {
			aic__spec_err(
				c, k,
				"%s: invalid variable name %s: expected letters, digits and '_'",
				what, aic__spec_show(k, b, sizeof(b)));
			continue;
		}
		for (q = v->data.mapping.pairs.start; q < p; q++) {
			const char *qs = aic__spec_scalar(aic__spec_node(c, q->key));
			dup |= qs && !strcmp(qs, ks);
		}
		if (dup) {
			aic__spec_err(c, k, "%s: variable '%s' appears twice", what, ks);
			continue;
		}
		if (!aic__spec_take(c, val))
			continue;
		if (!vs || strlen(vs) != val->data.scalar.length) {
			aic__spec_err(c, val, "%s.%s: expected a string or number, got %s", what,
				      ks, aic__spec_show(val, b, sizeof(b)));
			continue;
		}
		aic_strbuf_init(&kv);
		aic_strbuf_printf(&kv, "%s=%s", ks, aic__spec_is_null(val) ? "" : vs);
		kvs = aic_strbuf_detach(&kv);
		if (!kvs) {
			c->oom = true;
			continue;
		}
		aic__spec_push(c, out, kvs);
	}
}

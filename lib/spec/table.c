/*
 * Mappings read against tables of keys (keys.c holds the tables).
 *
 * Every mapping of a spec is read by aic__spec_map(): the same checks on
 * its keys (names, no repeats, no unknown ones, with a suggestion for a
 * near miss) and, for each known key, the typed getter its row names. The
 * sections of named entries (stages, channels, weights) are read here too,
 * by their descriptors, so that adding, finding and defaulting an entry is
 * one piece of code for all three.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Room for "stages.NAME.restart.backoff_ms" and the like: names are at most 64. */
#define WHAT_MAX 160

void aic__spec_key_list(struct aic_strbuf *sb, const struct spec_key *keys, const char *quote,
			const char *last)
{
	const struct spec_key *key;

	for (key = keys; key->name; key++) {
		const char *sep = key == keys ? "" : key[1].name ? ", " : last;

		aic_strbuf_printf(sb, "%s%s%s%s", sep, quote, key->name, quote);
	}
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

/* The row of `keys` called ks, or NULL after saying what was meant. */
static const struct spec_key *known(struct spec_ctx *c, const struct spec_key *keys,
				    const char *where, yaml_node_t *k, const char *ks)
{
	const struct spec_key *key, *best = NULL;
	struct aic_strbuf all;
	size_t best_d = 3;
	char b[SPEC_SHOW_MAX];

	for (key = keys; key->name; key++) {
		size_t d;

		if (!strcmp(key->name, ks))
			return key;
		/* A near miss, or one name inside the other (staleness). */
		d = levenshtein(key->name, ks);
		if (strlen(ks) >= 4 && (strstr(key->name, ks) || strstr(ks, key->name)))
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = key;
		}
	}
	if (best) {
		aic__spec_err(c, k, "%s: unknown key %s; did you mean '%s'?", where,
			      aic__spec_show(k, b, sizeof(b)), best->name);
		return NULL;
	}
	aic_strbuf_init(&all);
	aic__spec_key_list(&all, keys, "", ", ");
	aic__spec_err(c, k, "%s: unknown key %s (expected one of: %s)", where,
		      aic__spec_show(k, b, sizeof(b)), all.buf ? all.buf : "");
	aic_strbuf_release(&all);
	return NULL;
}

static void read_entries(struct spec_ctx *c, const struct spec_section *sec, yaml_node_t *v,
			 const char *what);

/* A nested struct: its keys listed in the message when the value is no mapping. */
static void read_map(struct spec_ctx *c, const struct spec_key *key, yaml_node_t *v, void *field,
		     const char *what)
{
	struct aic_strbuf names;
	char b[SPEC_SHOW_MAX];

	if (!aic__spec_take(c, v))
		return;
	if (v->type == YAML_MAPPING_NODE) {
		aic__spec_map(c, v, key->sub, field, what, what);
		return;
	}
	aic_strbuf_init(&names);
	aic__spec_key_list(&names, key->sub, "", ", ");
	aic__spec_err(c, v, "%s: expected a mapping {%s}, got %s", what, names.buf ? names.buf : "",
		      aic__spec_show(v, b, sizeof(b)));
	aic_strbuf_release(&names);
}

static void read_value(struct spec_ctx *c, const struct spec_key *key, yaml_node_t *v, void *base,
		       const char *what)
{
	void *field = (char *)base + key->field;

	if (key->nullable && aic__spec_is_null(v)) {
		aic__spec_take(c, v);
		return;
	}
	switch (key->type) {
	case SPEC_INT:
		aic__spec_int(c, v, what, key->min, key->max, field);
		break;
	case SPEC_BOOL:
		aic__spec_bool(c, v, what, field);
		break;
	case SPEC_STRING:
		*(char **)field = aic__spec_str(c, v, what);
		break;
	case SPEC_NAME:
		*(char **)field = aic__spec_name(c, v, what);
		break;
	case SPEC_NAMES:
		aic__spec_names(c, v, what, field);
		break;
	case SPEC_SIZE:
		aic__spec_size(c, v, what, field);
		break;
	case SPEC_DURATION:
		aic__spec_duration(c, v, what, key->min, key->max, field);
		break;
	case SPEC_ENUM:
		aic__spec_enum(c, v, what, key->choices, field);
		break;
	case SPEC_ENV:
		aic__spec_env(c, v, what, field);
		break;
	case SPEC_MAP:
		read_map(c, key, v, field, what);
		break;
	case SPEC_ENTRIES:
		/* Sections are top-level keys: their names are all of `what`. */
		read_entries(c, key->section, v, key->name);
		break;
	case SPEC_CUSTOM:
		key->parse(c, v, base, what);
		break;
	}
}

void aic__spec_map(struct spec_ctx *c, yaml_node_t *n, const struct spec_key *keys, void *base,
		   const char *path, const char *where)
{
	yaml_node_pair_t *p, *q;
	char b[SPEC_SHOW_MAX], what[WHAT_MAX];

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = aic__spec_node(c, p->key), *v = aic__spec_node(c, p->value);
		const char *ks = aic__spec_scalar(k);
		const struct spec_key *key;
		bool dup = false;

		if (!k || !v)
			continue;
		if (!ks) {
			aic__spec_err(c, k, "%s: keys must be names, got %s", where,
				      aic__spec_show(k, b, sizeof(b)));
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			const char *qs = aic__spec_scalar(aic__spec_node(c, q->key));
			dup |= qs && !strcmp(qs, ks);
		}
		if (dup) {
			aic__spec_err(c, k, "%s: key '%s' appears twice", where, ks);
			continue;
		}
		key = known(c, keys, where, k, ks);
		if (!key)
			continue;
		snprintf(what, sizeof(what), "%s%s%s", path, *path ? "." : "", key->name);
		if (key->mark)
			*(struct aic_mark *)((char *)base + key->mark) = aic__spec_mark(v);
		read_value(c, key, v, base, what);
	}
}

void aic__spec_defaults(const struct spec_key *keys, void *base)
{
	const struct spec_key *key;

	for (key = keys; key->name; key++) {
		void *field = (char *)base + key->field;

		switch (key->type) {
		case SPEC_INT:
		case SPEC_ENUM:
			*(int *)field = (int)key->def;
			break;
		case SPEC_BOOL:
			*(bool *)field = key->def != 0;
			break;
		case SPEC_SIZE:
		case SPEC_DURATION:
			*(uint64_t *)field = (uint64_t)key->def;
			break;
		case SPEC_MAP:
			aic__spec_defaults(key->sub, field);
			break;
		default:
			break;
		}
	}
}

void aic__spec_release(const struct spec_key *keys, void *base)
{
	const struct spec_key *key;

	for (key = keys; key->name; key++) {
		void *field = (char *)base + key->field;

		switch (key->type) {
		case SPEC_STRING:
		case SPEC_NAME:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case SPEC_NAMES:
		case SPEC_ENV:
			aic_strv_free(*(char ***)field);
			*(char ***)field = NULL;
			break;
		case SPEC_MAP:
			aic__spec_release(key->sub, field);
			break;
		default:
			break;
		}
	}
}

/* --- sections of named entries --------------------------------------- */

/* An entry's name is its first field. */
static const char *name_of(const void *entry)
{
	return *(char *const *)entry;
}

void *aic__spec_find(const struct aic_spec *spec, const struct spec_section *sec, const char *name)
{
	const char *arr = *(char *const *)((const char *)spec + sec->array);
	size_t n = *(const size_t *)((const char *)spec + sec->count), i;

	for (i = 0; i < n; i++)
		if (!strcmp(name_of(arr + i * sec->size), name))
			return (void *)(arr + i * sec->size);
	return NULL;
}

void *aic__spec_add(struct spec_ctx *c, const struct spec_section *sec, const char *name,
		    struct aic_mark m)
{
	void **arr = (void **)((char *)c->spec + sec->array);
	size_t *n = (size_t *)((char *)c->spec + sec->count);
	char *entry;

	entry = aic__spec_grow(c, *arr, *n, sec->size, arr);
	if (!entry)
		return NULL;
	*(char **)entry = aic__spec_strdup(c, name);
	if (!*(char **)entry)
		return NULL;
	(*n)++;
	aic__spec_defaults(sec->keys, entry);
	*(struct aic_mark *)(entry + sec->mark) = m;
	if (sec->init)
		sec->init(entry);
	return entry;
}

/* One entry, NAME: {...}, of the section listed under the top-level key `list`. */
static void read_entry(struct spec_ctx *c, const struct spec_section *sec, const char *list,
		       yaml_node_t *k, yaml_node_t *v)
{
	char *name = aic__spec_name(c, k, list);
	char where[WHAT_MAX], path[WHAT_MAX], b[SPEC_SHOW_MAX];
	char *entry;

	if (!name)
		return;
	if (aic__spec_find(c->spec, sec, name)) {
		aic__spec_err(c, k, "%s: %s'%s' is defined twice", list, sec->dup_noun, name);
		free(name);
		return;
	}
	entry = aic__spec_add(c, sec, name, aic__spec_mark(k));
	free(name);
	if (!entry)
		return;
	if (sec->declared)
		*(bool *)(entry + sec->declared) = true;
	snprintf(where, sizeof(where), "%s '%s'", sec->noun, name_of(entry));
	snprintf(path, sizeof(path), "%s.%s", list, name_of(entry));
	if (sec->nullable && aic__spec_is_null(v)) {
		aic__spec_take(c, v);
		return;
	}
	if (!aic__spec_take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		aic__spec_err(c, v, "%s: expected %s, got %s", where, sec->expect,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	aic__spec_map(c, v, sec->keys, entry, path, where);
	if (sec->check)
		sec->check(c, entry, k, v);
}

static void read_entries(struct spec_ctx *c, const struct spec_section *sec, yaml_node_t *v,
			 const char *what)
{
	yaml_node_pair_t *p;
	char b[SPEC_SHOW_MAX];

	if (!aic__spec_take(c, v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		aic__spec_err(c, v, "%s: expected a mapping of NAME: {...}, got %s", what,
			      aic__spec_show(v, b, sizeof(b)));
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = aic__spec_node(c, p->key), *val = aic__spec_node(c, p->value);

		if (k && val)
			read_entry(c, sec, what, k, val);
	}
}

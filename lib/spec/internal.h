/*
 * Private declarations shared by the files of the job spec parser
 * (lib/spec/); nothing outside this folder includes it. The public
 * contract is lib/spec.h.
 *
 * The parser is in layers, each file using only those above it here:
 *   yaml.c   messages with positions, access to the YAML node tree, and the
 *            typed getters that read one value each (an integer in a
 *            range, a name, a size...);
 *   table.c  the walk of a mapping against a table of keys, and the named
 *            entries of a section (stages, channels, weights);
 *   keys.c   every section's table of keys, with the few parsers and
 *            checks a row cannot express;
 *   check.c  the cross-checks of the whole graph, once every section is read,
 *            and a stage's service and sandbox rules;
 *   spec.c   the entry points: aic_spec_parse(), _load(), _free(), lookups.
 *
 * Every node of the document may be consumed once (aic__spec_take): YAML
 * aliases, which libyaml resolves to shared nodes, would otherwise let a
 * small file expand into an exponential walk, so they are refused.
 */
#ifndef AIC_SPEC_INTERNAL_H
#define AIC_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "spec.h"
#include "strbuf.h"

/* The parse of one document: the tree, the messages so far, the result. */
struct spec_ctx {
	yaml_document_t doc;
	const char *path; /* for messages */
	struct aic_strbuf errs;
	unsigned n_errs;
	unsigned char *seen; /* per node: already consumed */
	size_t n_nodes;
	struct aic_spec *spec; /* being filled; owned by aic_spec_parse() */
	bool oom;	       /* an allocation failed: the parse returns -ENOMEM */
};

/* Room for a value shown by aic__spec_show(). */
#define SPEC_SHOW_MAX 96

/* --- yaml.c: messages, nodes, typed getters --------------------------- */

/*
 * Adds one message line "PATH:LINE:COL: ..." at node n (or mark m). After
 * MAX_ERRORS lines the rest are counted, not written.
 */
__attribute__((format(printf, 3, 4))) void aic__spec_err(struct spec_ctx *c, const yaml_node_t *n,
							 const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void aic__spec_err_at(struct spec_ctx *c, struct aic_mark m,
							    const char *fmt, ...);

/* The 1-based position of n, or {0, 0} for NULL. */
struct aic_mark aic__spec_mark(const yaml_node_t *n);

/* Node `id` of the document, or NULL. */
yaml_node_t *aic__spec_node(struct spec_ctx *c, int id);

/*
 * Marks n consumed. Returns false, after reporting, when it already was (an
 * alias): the caller must then not descend into it.
 */
bool aic__spec_take(struct spec_ctx *c, yaml_node_t *n);

/* A short, quoted, printable rendering of n for messages, in buf[len]. */
const char *aic__spec_show(const yaml_node_t *n, char *buf, size_t len);

/* n's text when it is a scalar, else NULL. */
const char *aic__spec_scalar(const yaml_node_t *n);

/* Whether n is a plain scalar YAML reads as null: ~, null, or nothing. */
bool aic__spec_is_null(const yaml_node_t *n);

/*
 * The value of the first key called `name` in mapping n, and that key in
 * *key when key is not NULL; NULL when there is none.
 */
yaml_node_t *aic__spec_value(struct spec_ctx *c, yaml_node_t *n, const char *name,
			     yaml_node_t **key);

/* strdup() that records running out of memory in c. */
char *aic__spec_strdup(struct spec_ctx *c, const char *s);

/* Appends p (owned from now on, freed on failure) to the NULL-terminated *arr. */
bool aic__spec_push(struct spec_ctx *c, char ***arr, char *p);

/*
 * Appends a zeroed element of `size` bytes to the array `arr` of n elements,
 * storing the new array in *out; returns the element (not yet counted in
 * n), or NULL when out of memory.
 */
void *aic__spec_grow(struct spec_ctx *c, void *arr, size_t n, size_t size, void **out);

/*
 * The typed getters: each consumes v, reads one value into *out and returns
 * true, or reports what is wrong (with `what`, as "stages.a.gpus", at v's
 * position) and returns false leaving *out as it was.
 */
bool aic__spec_int(struct spec_ctx *c, yaml_node_t *v, const char *what, long min, long max,
		   int *out);
bool aic__spec_bool(struct spec_ctx *c, yaml_node_t *v, const char *what, bool *out);
/* A non-empty string: returns a new copy, or NULL after reporting. */
char *aic__spec_str(struct spec_ctx *c, yaml_node_t *v, const char *what);
/* A stage, channel or weights name: 1 to 64 letters, digits, '_', '-', '.'. */
char *aic__spec_name(struct spec_ctx *c, yaml_node_t *v, const char *what);
/* A list of distinct names, or one name standing for a list of one: appended to *out. */
void aic__spec_names(struct spec_ctx *c, yaml_node_t *v, const char *what, char ***out);
/* A size in MiB: a bare number, or one with a K, M, G or T suffix. */
bool aic__spec_size(struct spec_ctx *c, yaml_node_t *v, const char *what, uint64_t *out);
/* A duration in ms from min to max: a number with ms, s, m or h after it (bare: seconds). */
bool aic__spec_duration(struct spec_ctx *c, yaml_node_t *v, const char *what, long min, long max,
			uint64_t *out);
/* One of `choices` (NULL-terminated): *out is its index. */
bool aic__spec_enum(struct spec_ctx *c, yaml_node_t *v, const char *what,
		    const char *const *choices, int *out);
/* A mapping NAME: value of environment variables, appended to *out as "NAME=value". */
void aic__spec_env(struct spec_ctx *c, yaml_node_t *v, const char *what, char ***out);

/* --- table.c: mappings read against tables of keys -------------------- */

enum spec_type {
	SPEC_INT,     /* int in [min, max] */
	SPEC_BOOL,    /* bool: true/false, yes/no, on/off */
	SPEC_STRING,  /* char *: a non-empty string */
	SPEC_NAME,    /* char *: a name (aic__spec_name) */
	SPEC_NAMES,   /* char **: a list of distinct names, or one name */
	SPEC_SIZE,    /* uint64_t: MiB, from 512, 512M, 16G, 1T... */
	SPEC_DURATION, /* uint64_t: ms in [min, max], from 10s, 500ms, 2m, 1h (bare: seconds) */
	SPEC_ENUM,    /* int (or an enum): the index of the value in `choices` */
	SPEC_ENV,     /* char **: a mapping NAME: value, as "NAME=value" strings */
	SPEC_MAP,     /* a struct at `field`, whose own keys are `sub` */
	SPEC_ENTRIES, /* a mapping NAME: {...} of `section`'s entries (in struct aic_spec) */
	SPEC_CUSTOM,  /* anything else: `parse` reads it (`field` only says where to) */
};

struct spec_section;

/*
 * Reads value v of a SPEC_CUSTOM key into `base`, the struct the table
 * describes; `what` names the value in messages ("stages.a.replicas").
 */
typedef void (*spec_parse_fn)(struct spec_ctx *c, yaml_node_t *v, void *base, const char *what);

/*
 * One key of a section: a row of its table. A table ends with a row whose
 * name is NULL. Strings and lists a row reads are owned by the struct and
 * freed by aic__spec_release().
 */
struct spec_key {
	const char *name;
	enum spec_type type;
	size_t field;		    /* offsetof() the value in the section's struct */
	long min, max;		    /* SPEC_INT: the range, both included */
	long def;		    /* SPEC_INT, _BOOL, _SIZE, _DURATION, _ENUM: the value when absent */
	bool nullable;		    /* null is accepted and leaves the default */
	const char *const *choices; /* SPEC_ENUM: the values, NULL-terminated */
	const struct spec_key *sub; /* SPEC_MAP: the nested struct's keys */
	const struct spec_section *section; /* SPEC_ENTRIES */
	spec_parse_fn parse;		    /* SPEC_CUSTOM */
	/*
	 * offsetof() a struct aic_mark set to the value's position when the key
	 * is written, for messages about the value (check.c); 0: none kept.
	 */
	size_t mark;
};

/*
 * A section of named entries (stages, channels, weights): an array in
 * struct aic_spec of structs that each start with their `char *name`.
 */
struct spec_section {
	const char *noun;     /* messages name an entry "NOUN 'name'" */
	const char *dup_noun; /* the words before 'name' in "... is defined twice" */
	const char *expect;   /* what an entry's value must be, in messages */
	bool nullable;	      /* an entry may be null: all defaults */
	size_t size;	      /* of one entry */
	size_t array, count;  /* offsetof() the array and its length in struct aic_spec */
	size_t mark;	      /* offsetof() the entry's struct aic_mark (its name's position) */
	size_t declared; /* offsetof() a bool set for entries written in the section; 0: none */
	const struct spec_key *keys;
	/* Sets what the rows' defaults cannot say; NULL when nothing. */
	void (*init)(void *entry);
	/* Checks an entry once its mapping v (at key k) is read; NULL when nothing. */
	void (*check)(struct spec_ctx *c, void *entry, yaml_node_t *k, yaml_node_t *v);
};

/*
 * Reads mapping n into `base` against `keys`: refuses keys that are not
 * names, repeated or unknown (suggesting a near one, or listing them all),
 * and reads each known one as its row says. `path` prefixes the keys'
 * names in messages ("stages.a" gives "stages.a.gpus"; "" gives "gpus");
 * `where` names the mapping in messages about its keys ("stage 'a'").
 */
void aic__spec_map(struct spec_ctx *c, yaml_node_t *n, const struct spec_key *keys, void *base,
		   const char *path, const char *where);

/*
 * Appends the names of `keys` to sb, each between `quote`s, separated by
 * ", " and by `last` before the last one: "a, b and c".
 */
void aic__spec_key_list(struct aic_strbuf *sb, const struct spec_key *keys, const char *quote,
			const char *last);

/* Sets every field of `base` that `keys` give a default. */
void aic__spec_defaults(const struct spec_key *keys, void *base);

/* Frees the strings and lists that `keys` read into `base` (not the entries). */
void aic__spec_release(const struct spec_key *keys, void *base);

/*
 * Adds an entry called `name` to `sec`, with the defaults, at mark m.
 * Returns it, or NULL when out of memory.
 */
void *aic__spec_add(struct spec_ctx *c, const struct spec_section *sec, const char *name,
		    struct aic_mark m);

/* The entry of `sec` called `name`, or NULL. */
void *aic__spec_find(const struct aic_spec *spec, const struct spec_section *sec, const char *name);

/* --- keys.c: the tables ----------------------------------------------- */

extern const struct spec_key aic__spec_top_keys[];
extern const struct spec_section aic__spec_stages, aic__spec_channels, aic__spec_weights;
/* A sandbox runtime's name in the spec. */
const char *aic__spec_sandbox_runtime(enum aic_sandbox_runtime rt);

/* --- check.c: the graph ----------------------------------------------- */

/*
 * Fills what stages inherit, adds the channels and weights that stages
 * name without declaring, and checks the graph as a whole. `stages` is the
 * value of the top-level 'stages' key, or NULL when there is none.
 */
void aic__spec_check(struct spec_ctx *c, yaml_node_t *stages);
/* A stage's service and sandbox sections (v: the stage's mapping), once the stage is read. */
void aic__spec_service_check(struct spec_ctx *c, struct aic_stage *st, yaml_node_t *v);
void aic__spec_sandbox_check(struct spec_ctx *c, struct aic_stage *st, yaml_node_t *v);

#endif

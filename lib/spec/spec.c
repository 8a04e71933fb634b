/*
 * The entry points of the job spec parser (see spec.h for the contract):
 * load the YAML document, read its top-level mapping against the table of
 * top-level keys (keys.c), run the cross-checks (check.c), and hand back
 * either the spec or the messages. internal.h says how the files of
 * lib/spec/ divide the work.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"

int aic_spec_parse(const char *buf, size_t len, const char *path, struct aic_spec **out,
		   char **errors)
{
	struct spec_ctx c;
	yaml_parser_t parser;
	yaml_node_t *root;
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
	aic__spec_defaults(aic__spec_top_keys, c.spec);

	if (len > AIC_SPEC_MAX_BYTES) {
		aic__spec_err_at(&c, (struct aic_mark){1, 1},
				 "the spec is %zu bytes; the limit is %d", len, AIC_SPEC_MAX_BYTES);
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
			aic__spec_err_at(&c, m, "invalid YAML: %s%s%s",
					 parser.problem ? parser.problem : "error",
					 parser.context ? " " : "",
					 parser.context ? parser.context : "");
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
	if (!root || aic__spec_is_null(root)) {
		aic__spec_err_at(&c, (struct aic_mark){1, 1},
				 "the spec is empty: expected a mapping with 'stages'");
	} else if (root->type != YAML_MAPPING_NODE) {
		struct aic_strbuf keys;
		char b[SPEC_SHOW_MAX];

		aic_strbuf_init(&keys);
		aic__spec_key_list(&keys, aic__spec_top_keys, "'", " and ");
		aic__spec_err(&c, root, "expected a mapping with %s at the top, got %s",
			      keys.buf ? keys.buf : "'stages'", aic__spec_show(root, b, sizeof(b)));
		aic_strbuf_release(&keys);
	} else {
		aic__spec_take(&c, root);
		aic__spec_map(&c, root, aic__spec_top_keys, c.spec, "", "the spec");
		aic__spec_check(&c, aic__spec_value(&c, root, "stages", NULL));
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
	/* The tables say which fields hold strings; command is the one custom key that does. */
	for (i = 0; i < spec->n_stages; i++) {
		free(spec->stages[i].name);
		aic_strv_free(spec->stages[i].argv);
		free(spec->stages[i].colocate_with);
		aic__spec_release(aic__spec_stages.keys, &spec->stages[i]);
	}
	for (i = 0; i < spec->n_channels; i++) {
		free(spec->channels[i].name);
		aic__spec_release(aic__spec_channels.keys, &spec->channels[i]);
	}
	for (i = 0; i < spec->n_weights; i++) {
		free(spec->weights[i].name);
		aic__spec_release(aic__spec_weights.keys, &spec->weights[i]);
	}
	free(spec->stages);
	free(spec->channels);
	free(spec->weights);
	aic__spec_release(aic__spec_top_keys, spec);
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

bool aic_stage_autoscales(const struct aic_stage *stage)
{
	return stage->ranks == 0 && stage->replicas_min < stage->replicas_max && stage->inputs &&
	       stage->inputs[0];
}

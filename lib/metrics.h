/*
 * Metric summaries: count, last value, last step, min and max per stage and
 * name of the points workers report (aic_metric in aic.h). The head keeps
 * one for summary.json as points arrive; `aic metrics` builds one from the
 * job's metrics.jsonl.
 */
#ifndef AIC_METRICS_H
#define AIC_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Adds a point ({"stage", "name", "value", "step", ...}; value a number, or
 * a string for one that is not finite) to summary ({stage: {name: {"n",
 * "last", "last_step", "min", "max"}}}). A name new to the summary is taken
 * only while *n_names < max_names (it then counts it). Returns false for a
 * point without a stage or name, or one past max_names.
 */
bool aic_metrics_add(json_t *summary, const json_t *point, size_t max_names, size_t *n_names);

#endif

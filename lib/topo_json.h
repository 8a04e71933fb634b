/*
 * A topology as JSON (jansson): what agents send the head at registration
 * so that the head places processes on every node, and what
 * `aic topo --json` prints. aic_topo_from_json(aic_topo_to_json(t)) gives
 * back t, NVLink found through NVML included.
 */
#ifndef AIC_TOPO_JSON_H
#define AIC_TOPO_JSON_H

#include <jansson.h>

#include "topo.h"

/* A new JSON object (the caller owns the reference), or NULL when out of memory. */
json_t *aic_topo_to_json(const struct aic_topo *t);

/* Parses what aic_topo_to_json wrote. Returns 0 and *out, AIC_ETOPO, or -ENOMEM. */
int aic_topo_from_json(const json_t *j, struct aic_topo **out);

#endif

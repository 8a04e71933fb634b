/*
 * What the unit tests that place processes on nodes (test_place,
 * test_place_more, test_procenv, test_spank) start from: a topology
 * fixture from tests/fixtures and a spec parsed from text. Each fails the
 * running cmocka test when its input does not load, so a test body never
 * sees NULL; the caller frees the result (aic_topo_free, aic_spec_free).
 */
#ifndef AIC_TEST_FIXTURE_H
#define AIC_TEST_FIXTURE_H

#include "spec.h"
#include "topo.h"

/* tests/fixtures/DIR/NAME under $AIC_SRC_DIR (else the current directory). */
struct aic_topo *fixture_topo(const char *dir, const char *name);

/* The spec in `text`, as if read from job.yaml; its errors go to stderr. */
struct aic_spec *fixture_spec(const char *text);

#endif

/* The unit tests' fixtures (fixture.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "fixture.h"

struct aic_topo *fixture_topo(const char *dir, const char *name)
{
	const char *src = getenv("AIC_SRC_DIR");
	char path[4096];
	struct aic_topo *t = NULL;

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s/%s", src ? src : ".", dir, name);
	assert_int_equal(aic_topo_load_xml(path, &t, NULL), 0);
	return t;
}

struct aic_spec *fixture_spec(const char *text)
{
	struct aic_spec *s = NULL;
	char *errors = NULL;

	if (aic_spec_parse(text, strlen(text), "job.yaml", &s, &errors) != 0) {
		fprintf(stderr, "%s", errors);
		fail();
	}
	return s;
}

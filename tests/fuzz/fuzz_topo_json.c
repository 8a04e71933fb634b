/*
 * Fuzz target for the topology JSON reader (lib/topo_json.h), what the head
 * parses from every agent's registration: any JSON must give either a
 * topology or AIC_ETOPO, never a crash or a leak; and a topology it gives
 * must survive the trip the header promises: written back, read again and
 * written once more, the two texts are the same JSON.
 *
 * Built as tests/fuzz/fuzz_spec.c is: a libFuzzer target under
 * scripts/fuzz, a corpus replayer in `make check`.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "error.h"
#include "topo_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* from_json's contract: 0 with a topology, or a failure code without one. */
static int read_topo(const json_t *j, struct aic_topo **t)
{
	int rc = aic_topo_from_json(j, t);

	if ((rc == 0) != (*t != NULL))
		abort();
	if (rc != 0 && rc != AIC_ETOPO && rc != -ENOMEM)
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aic_topo *t = NULL, *t2 = NULL;
	json_t *j, *j1 = NULL, *j2 = NULL;
	json_error_t err;

	j = json_loadb((const char *)data, size, 0, &err);
	if (!j)
		return 0;
	if (read_topo(j, &t) != 0)
		goto out;
	j1 = aic_topo_to_json(t);
	if (!j1 || read_topo(j1, &t2) != 0)
		abort();
	j2 = aic_topo_to_json(t2);
	if (!j2 || !json_equal(j1, j2))
		abort();
out:
	json_decref(j2);
	json_decref(j1);
	json_decref(j);
	aic_topo_free(t2);
	aic_topo_free(t);
	return 0;
}

#ifndef AIC_LIBFUZZER
#include "replay.h"

int main(int argc, char **argv)
{
	return aic_fuzz_replay(argc, argv, LLVMFuzzerTestOneInput);
}
#endif

/*
 * Fuzz target for the CONFIG message's decoder (launcher/dataplane/
 * dp_config.h), what every agent reads from the head: any bytes that parse
 * as JSON must be refused with a message, or read into a dp_config whose
 * encoding holds only values of the input (unknown keys dropped) and
 * decodes and encodes back to itself; never a crash or a leak.
 *
 * Built as tests/fuzz/fuzz_spec.c is: a libFuzzer target under
 * scripts/fuzz, a corpus replayer in `make check`.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every key and element of `a` is in `b` with the same value (b may have more keys). */
static bool within(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(a)) {
		if (!json_is_object(b))
			return false;
		json_object_foreach ((json_t *)a, key, v)
			if (!within(v, json_object_get(b, key)))
				return false;
		return true;
	}
	if (json_is_array(a)) {
		if (!json_is_array(b) || json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!within(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return b && json_equal(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_config cfg, again;
	json_error_t jerr;
	json_t *j, *enc, *enc2;
	char err[256];
	int rc;

	j = json_loadb((const char *)data, size, 0, &jerr);
	if (!j)
		return 0;
	err[0] = '\0';
	rc = dp_config_from_json(j, &cfg, err, sizeof(err));
	if (rc) {
		/* Refused: with a reason, and nothing left allocated. */
		if (rc != -EINVAL || err[0] == '\0' || cfg.channels || cfg.agents || cfg.weights)
			abort();
		json_decref(j);
		return 0;
	}
	enc = dp_config_to_json(&cfg);
	if (!enc || !within(enc, j))
		abort();
	if (dp_config_from_json(enc, &again, err, sizeof(err)) != 0)
		abort();
	enc2 = dp_config_to_json(&again);
	if (!enc2 || !json_equal(enc, enc2))
		abort();
	json_decref(enc2);
	dp_config_release(&again);
	json_decref(enc);
	dp_config_release(&cfg);
	json_decref(j);
	return 0;
}

#ifndef AIC_LIBFUZZER
#include "replay.h"

int main(int argc, char **argv)
{
	return aic_fuzz_replay(argc, argv, LLVMFuzzerTestOneInput);
}
#endif

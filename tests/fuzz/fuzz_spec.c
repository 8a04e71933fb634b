/*
 * Fuzz target for the job spec parser: any bytes must give either a spec
 * or an error text, never a crash, a hang or a leak.
 *
 * Built two ways (zstd's model): with clang -fsanitize=fuzzer it is a
 * libFuzzer target (scripts/fuzz); otherwise main() below replays every
 * file of the corpus directories named on the command line, printing TAP,
 * which is how `make check` runs it.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aic_spec *spec = NULL;
	char *errors = NULL;
	int rc = aic_spec_parse((const char *)data, size, "fuzz.yaml", &spec, &errors);

	/* The contract: exactly one of a spec or a failure code. */
	if ((rc == 0) != (spec != NULL))
		abort();
	if (rc != 0 && rc != -12 && (!errors || !*errors))
		abort();
	aic_spec_free(spec);
	free(errors);
	return 0;
}

#ifndef AIC_LIBFUZZER
#include "replay.h"

int main(int argc, char **argv)
{
	return aic_fuzz_replay(argc, argv, LLVMFuzzerTestOneInput);
}
#endif

/*
 * Fuzz target for the walk over an ITEMS payload (lib/wire.h's
 * aic_items_next): the worker's GET answer and an agent's PULL answer are
 * read with it. Input: one byte whose bit 0 allows arena items, a u32 item
 * count, then the payload. Every item must lie inside the payload, the walk
 * must give `count` items or stop with AIC_EPROTO (and then stay stopped),
 * and the items read, encoded again, must be the payload's first bytes.
 *
 * Built as tests/fuzz/fuzz_spec.c is: a libFuzzer target under
 * scripts/fuzz, a corpus replayer in `make check`.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload, *body;
	struct aic_items it;
	struct aic_item_hdr h;
	uint8_t *copy;
	size_t len, off = 0, n = 0;
	uint32_t count;
	bool shm;
	int rc;

	if (size < 5)
		return 0;
	shm = data[0] & 1;
	count = aic_get_u32(data + 1);
	payload = data + 5;
	len = size - 5;
	copy = malloc(len + 1);
	if (!copy)
		abort();
	aic_items_init(&it, payload, len, count, shm);
	while ((rc = aic_items_next(&it, &h, &body)) == 1) {
		size_t blen = (h.len & AIC_ITEM_SHM) ? 8 : h.len, hl = aic_item_hdr_size(&h);

		/* An arena item only where allowed; its bytes right after its header, inside the payload. */
		if ((h.len & AIC_ITEM_SHM) && !shm)
			abort();
		if (h.n_roots > AIC_ITEM_ROOTS_MAX || body != payload + off + hl ||
		    blen > len - off - hl)
			abort();
		aic_item_hdr_encode(copy + off, &h);
		memcpy(copy + off + hl, body, blen);
		off += hl + blen;
		n++;
	}
	/* What was read is the payload's beginning, byte for byte. */
	if (memcmp(copy, payload, off) != 0)
		abort();
	if (rc == 0 && n != count)
		abort();
	if (rc != 0 && (rc != AIC_EPROTO || n >= count))
		abort();
	/* A stopped walk stays stopped. */
	if (aic_items_next(&it, &h, &body) != rc)
		abort();
	free(copy);
	return 0;
}

#ifndef AIC_LIBFUZZER
#include "replay.h"

int main(int argc, char **argv)
{
	return aic_fuzz_replay(argc, argv, LLVMFuzzerTestOneInput);
}
#endif

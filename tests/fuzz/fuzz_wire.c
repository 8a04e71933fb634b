/*
 * Fuzz target for the wire decoder (lib/wire.h): any bytes, read as a
 * stream of frames, must decode to frames that lie inside the buffer and
 * whose header encodes back to the same bytes, or stop cleanly (more bytes
 * needed, a bad magic or version, a payload over the limit); never a crash
 * or a read past the end. The item header and ack entry helpers must give
 * back what they decoded, for any 24 or 12 bytes.
 *
 * Built as tests/fuzz/fuzz_spec.c is: a libFuzzer target under
 * scripts/fuzz, a corpus replayer in `make check`.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded header, written again, is the input's header (flags aside: the encoder writes 0). */
static void check_header(const uint8_t *buf, const struct aic_frame *f)
{
	uint8_t hdr[AIC_WIRE_HEADER];

	aic_wire_header(hdr, f->type, f->length);
	if (memcmp(hdr, buf, 6) != 0 || memcmp(hdr + 8, buf + 8, 4) != 0)
		abort();
	if (f->flags != (uint16_t)(buf[6] << 8 | buf[7]))
		abort();
}

/* Every whole item header and ack entry of a payload decodes and encodes back to its bytes. */
static void check_entries(const uint8_t *p, uint32_t len)
{
	uint8_t out[AIC_ITEM_HEADER + 8 * AIC_ITEM_ROOTS_MAX];
	struct aic_item_hdr h;
	long hl;
	uint32_t producer, o;
	uint64_t id;

	for (o = 0; o + AIC_ITEM_HEADER <= len; o += AIC_ITEM_HEADER) {
		hl = aic_item_hdr_decode(p + o, len - o, &h);
		if (hl < 0)
			continue;
		if ((size_t)hl != aic_item_hdr_size(&h) || (size_t)hl > len - o)
			abort();
		aic_item_hdr_encode(out, &h);
		if (memcmp(out, p + o, (size_t)hl) != 0)
			abort();
	}
	for (o = 0; o + AIC_ACK_ENTRY <= len; o += AIC_ACK_ENTRY) {
		aic_ack_decode(p + o, &producer, &id);
		aic_ack_encode(out, producer, id);
		if (memcmp(out, p + o, AIC_ACK_ENTRY) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		const uint8_t *buf = data + off;
		size_t len = size - off;
		struct aic_frame f, g;
		long rc = aic_wire_decode(buf, len, &f);
		bool bad_magic = len >= 4 && (memcmp(buf, "AIC", 3) != 0 || buf[3] != AIC_WIRE_VERSION);

		/* A wrong magic or version, once there are 4 bytes, and only that, is AIC_EPROTO. */
		if (bad_magic != (rc == AIC_EPROTO))
			abort();
		if (rc == 0) {
			/* More bytes needed: a short header, or a payload not all there. */
			if (len >= AIC_WIRE_HEADER &&
			    len - AIC_WIRE_HEADER >= aic_get_u32(buf + 8))
				abort();
			break;
		}
		if (rc < 0) {
			if (rc != AIC_EPROTO && rc != -EMSGSIZE)
				abort();
			if (rc == -EMSGSIZE && aic_get_u32(buf + 8) <= AIC_WIRE_MAX_PAYLOAD)
				abort();
			break;
		}
		/* A frame: inside the buffer, its payload right after its header. */
		if ((size_t)rc > len || (size_t)rc != AIC_WIRE_HEADER + (size_t)f.length ||
		    f.payload != buf + AIC_WIRE_HEADER || f.length > AIC_WIRE_MAX_PAYLOAD ||
		    f.body != NULL || f.head != f.length)
			abort();
		check_header(buf, &f);
		check_entries(f.payload, f.length);
		/* Any shorter prefix of it is incomplete, not an error. */
		if (aic_wire_decode(buf, (size_t)rc - 1, &g) != 0)
			abort();
		if (aic_msg_name(f.type) == NULL)
			abort();
		off += (size_t)rc;
	}
	return 0;
}

#ifndef AIC_LIBFUZZER
#include "replay.h"

int main(int argc, char **argv)
{
	return aic_fuzz_replay(argc, argv, LLVMFuzzerTestOneInput);
}
#endif

/*
 * Compressed ITEMS frames between agents: the only file of the data plane
 * that knows whether this build has zstd. A PEER_ITEMS payload with
 * AIC_ITEMS_ZSTD in its flags is: u32 channel, u32 count, u32 flags, u32
 * raw size, then one zstd frame of the raw items.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "internal.h"

/* Items between agents are compressed (when the channel says so) above this size. */
#define ZSTD_MIN_BYTES 512
#define ZSTD_LEVEL     1

#ifdef HAVE_ZSTD

bool zstd_frames(const struct chan *ch, const struct aic_conn *c)
{
	return ch->compress && c->ops->zstd;
}

uint8_t *zstd_pack(const uint8_t *head, const uint8_t *items, size_t raw, size_t *len)
{
	size_t bound = ZSTD_compressBound(raw), z;
	uint8_t *zbuf;

	if (raw < ZSTD_MIN_BYTES || !(zbuf = malloc(AIC_WIRE_HEADER + 16 + bound)))
		return NULL;
	z = ZSTD_compress(zbuf + AIC_WIRE_HEADER + 16, bound, items, raw, ZSTD_LEVEL);
	if (ZSTD_isError(z) || z >= raw) {
		free(zbuf);
		return NULL;
	}
	memcpy(zbuf + AIC_WIRE_HEADER, head, 12);
	aic_put_u32(zbuf + AIC_WIRE_HEADER + 8, aic_get_u32(head + 8) | AIC_ITEMS_ZSTD);
	aic_put_u32(zbuf + AIC_WIRE_HEADER + 12, (uint32_t)raw);
	aic_wire_header(zbuf, AIC_MSG_PEER_ITEMS, (uint32_t)(16 + z));
	*len = AIC_WIRE_HEADER + 16 + z;
	return zbuf;
}

uint8_t *zstd_unpack(const uint8_t *b, uint32_t len, uint32_t *plain_len, const char **why)
{
	uint32_t raw = len >= 16 ? aic_get_u32(b + 12) : 0;
	uint8_t *plain = raw && raw <= AIC_WIRE_MAX_PAYLOAD ? malloc(12 + (size_t)raw) : NULL;
	size_t got;

	if (!plain) {
		*why = "too large";
		return NULL;
	}
	got = ZSTD_decompress(plain + 12, raw, b + 16, len - 16);
	if (ZSTD_isError(got) || got != raw) {
		*why = "corrupt";
		free(plain);
		return NULL;
	}
	memcpy(plain, b, 12);
	aic_put_u32(plain + 8, aic_get_u32(b + 8) & ~AIC_ITEMS_ZSTD);
	*plain_len = 12 + raw;
	return plain;
}

#else /* !HAVE_ZSTD */

bool zstd_frames(const struct chan *ch, const struct aic_conn *c)
{
	(void)ch;
	(void)c;
	return false;
}

uint8_t *zstd_pack(const uint8_t *head, const uint8_t *items, size_t raw, size_t *len)
{
	(void)head;
	(void)items;
	(void)raw;
	(void)len;
	return NULL;
}

uint8_t *zstd_unpack(const uint8_t *b, uint32_t len, uint32_t *plain_len, const char **why)
{
	(void)b;
	(void)len;
	(void)plain_len;
	*why = "not readable: this build has no zstd";
	return NULL;
}

#endif

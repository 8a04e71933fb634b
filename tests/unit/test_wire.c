/*
 * lib/wire.h: the frame header's bytes, the decoder's answers for whole,
 * partial and bad frames, and the item header and ack entry layouts that
 * agents and workers write and read on both sides of a connection.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "aic_test.h"
#include "error.h"
#include "wire.h"

static void header_bytes(void **state)
{
	static const uint8_t want[AIC_WIRE_HEADER] = {'A', 'I', 'C', 1,    0x00, 0x0b,
						      0x00, 0x00, 0x01, 0x02, 0x03, 0x04};
	uint8_t h[AIC_WIRE_HEADER];

	(void)state;
	aic_wire_header(h, AIC_MSG_CONFIG, 0x01020304);
	assert_memory_equal(h, want, sizeof(want));
}

static void decode_whole_frame(void **state)
{
	uint8_t buf[AIC_WIRE_HEADER + 5 + 3];
	struct aic_frame f;

	(void)state;
	aic_wire_header(buf, AIC_MSG_PUT, 5);
	memcpy(buf + AIC_WIRE_HEADER, "hello", 5);
	memcpy(buf + AIC_WIRE_HEADER + 5, "AIC", 3); /* the start of the next frame */
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), AIC_WIRE_HEADER + 5);
	assert_int_equal(f.type, AIC_MSG_PUT);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.length, 5);
	assert_ptr_equal(f.payload, buf + AIC_WIRE_HEADER);
	assert_null(f.body);
	assert_int_equal(f.head, 5);
}

static void decode_flags_big_endian(void **state)
{
	uint8_t buf[AIC_WIRE_HEADER];
	struct aic_frame f;

	(void)state;
	aic_wire_header(buf, 0x1234, 0);
	buf[6] = 0xbe;
	buf[7] = 0xef;
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), AIC_WIRE_HEADER);
	assert_int_equal(f.type, 0x1234);
	assert_int_equal(f.flags, 0xbeef);
	assert_int_equal(f.length, 0);
}

/* Every prefix of a frame asks for more bytes; none is an error. */
static void decode_partial_needs_more(void **state)
{
	uint8_t buf[AIC_WIRE_HEADER + 40];
	struct aic_frame f;
	size_t n;

	(void)state;
	aic_wire_header(buf, AIC_MSG_HELLO, 40);
	memset(buf + AIC_WIRE_HEADER, '{', 40);
	for (n = 0; n < sizeof(buf); n++)
		assert_int_equal(aic_wire_decode(buf, n, &f), 0);
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), sizeof(buf));
}

static void decode_bad_magic_or_version(void **state)
{
	uint8_t buf[AIC_WIRE_HEADER];
	struct aic_frame f;

	(void)state;
	assert_int_equal(aic_wire_decode((const uint8_t *)"GET / HTTP/1.0", 14, &f), AIC_EPROTO);
	/* Four bytes are enough to tell. */
	assert_int_equal(aic_wire_decode((const uint8_t *)"AIC\x02", 4, &f), AIC_EPROTO);
	aic_wire_header(buf, AIC_MSG_HELLO, 0);
	buf[3] = AIC_WIRE_VERSION + 1;
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), AIC_EPROTO);
	aic_wire_header(buf, AIC_MSG_HELLO, 0);
	buf[0] = 'a';
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), AIC_EPROTO);
}

/* A length over the limit is refused from the header alone, before its payload comes. */
static void decode_size_limit(void **state)
{
	uint8_t buf[AIC_WIRE_HEADER];
	struct aic_frame f;

	(void)state;
	aic_wire_header(buf, AIC_MSG_PUT, AIC_WIRE_MAX_PAYLOAD + 1);
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), -EMSGSIZE);
	aic_wire_header(buf, AIC_MSG_PUT, 0xffffffffu);
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), -EMSGSIZE);
	aic_wire_header(buf, AIC_MSG_PUT, AIC_WIRE_MAX_PAYLOAD);
	assert_int_equal(aic_wire_decode(buf, sizeof(buf), &f), 0);
}

static void decode_back_to_back(void **state)
{
	uint8_t buf[3 * AIC_WIRE_HEADER + 2 + 1];
	struct aic_frame f;
	long n;

	(void)state;
	aic_wire_header(buf, AIC_MSG_WELCOME, 2);
	memcpy(buf + AIC_WIRE_HEADER, "{}", 2);
	aic_wire_header(buf + AIC_WIRE_HEADER + 2, AIC_MSG_SHUTDOWN, 0);
	aic_wire_header(buf + 2 * AIC_WIRE_HEADER + 2, AIC_MSG_METRIC, 1);
	buf[sizeof(buf) - 1] = 'x';
	n = aic_wire_decode(buf, sizeof(buf), &f);
	assert_int_equal(n, AIC_WIRE_HEADER + 2);
	assert_int_equal(f.type, AIC_MSG_WELCOME);
	n += aic_wire_decode(buf + n, sizeof(buf) - (size_t)n, &f);
	assert_int_equal(f.type, AIC_MSG_SHUTDOWN);
	assert_int_equal(f.length, 0);
	assert_int_equal(aic_wire_decode(buf + n, sizeof(buf) - (size_t)n, &f), AIC_WIRE_HEADER + 1);
	assert_int_equal(f.type, AIC_MSG_METRIC);
	assert_int_equal(f.payload[0], 'x');
}

static void integers_big_endian(void **state)
{
	static const uint8_t want[12] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x23,
					 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	uint8_t b[12];

	(void)state;
	aic_put_u32(b, 0xdeadbeef);
	aic_put_u64(b + 4, UINT64_C(0x0123456789abcdef));
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(aic_get_u32(b), 0xdeadbeef);
	assert_true(aic_get_u64(b + 4) == UINT64_C(0x0123456789abcdef));
	aic_put_u64(b, UINT64_MAX);
	assert_true(aic_get_u64(b) == UINT64_MAX);
}

/* The layout wire.h documents, byte for byte: agents and workers must agree on it. */
static void item_header_layout(void **state)
{
	static const uint8_t want[AIC_ITEM_HEADER + 16] = {
		0x01, 0x02, 0x03, 0x04,				/* producer */
		0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, /* id */
		0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, /* version */
		0x80, 0x00, 0x00, 0x2a,				/* length, in the arena */
		0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* edge */
		0x00, 0x00, 0x00, 0x03,				/* origin: channel */
		0x00, 0x00, 0x00, 0x01,				/* epoch */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4e, 0x20, /* line */
		0x00, 0x00, 0x00, 0x02,				/* roots */
		0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, /* the roots */
		0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
	};
	struct aic_item_hdr in = {
		.producer = 0x01020304,
		.id = UINT64_C(0x05060708090a0b0c),
		.version = UINT64_C(0x0d0e0f1011121314),
		.len = AIC_ITEM_SHM | 42,
		.edge = UINT64_C(0x2122232425262728),
		.origin = {.chan = 3, .epoch = 1, .line = 20000},
		.n_roots = 2,
		.roots = {UINT64_C(0x3132333435363738), UINT64_C(0x4142434445464748)}};
	uint8_t b[sizeof(want) + 1];
	struct aic_item_hdr h;

	(void)state;
	assert_int_equal(AIC_ITEM_HEADER, 52);
	assert_int_equal(aic_item_hdr_size(&in), sizeof(want));
	b[sizeof(want)] = 0x55;
	aic_item_hdr_encode(b, &in);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(b[sizeof(want)], 0x55); /* nothing past the header */
	assert_int_equal(aic_item_hdr_decode(want, sizeof(want), &h), sizeof(want));
	assert_int_equal(h.producer, 0x01020304);
	assert_true(h.id == UINT64_C(0x05060708090a0b0c));
	assert_true(h.version == UINT64_C(0x0d0e0f1011121314));
	assert_int_equal(h.len, AIC_ITEM_SHM | 42);
	assert_int_equal(h.len & ~AIC_ITEM_SHM, 42);
	assert_true(h.edge == UINT64_C(0x2122232425262728));
	assert_int_equal(h.origin.chan, 3);
	assert_int_equal(h.origin.epoch, 1);
	assert_true(h.origin.line == 20000);
	assert_int_equal(h.n_roots, 2);
	assert_true(h.roots[1] == UINT64_C(0x4142434445464748));
	/* A header cut inside its roots, or naming too many, is refused. */
	assert_int_equal(aic_item_hdr_decode(want, sizeof(want) - 1, &h), AIC_EPROTO);
	assert_int_equal(aic_item_hdr_decode(want, AIC_ITEM_HEADER - 1, &h), AIC_EPROTO);
}

static void item_header_round_trip(void **state)
{
	uint8_t b[AIC_ITEM_HEADER + 8 * AIC_ITEM_ROOTS_MAX];
	struct aic_item_hdr in = {.producer = UINT32_MAX,
				  .id = UINT64_MAX,
				  .origin = {.chan = AIC_ORIGIN_NONE},
				  .n_roots = AIC_ITEM_ROOTS_MAX};
	struct aic_item_hdr h;

	(void)state;
	in.roots[AIC_ITEM_ROOTS_MAX - 1] = 7;
	aic_item_hdr_encode(b, &in);
	assert_int_equal(aic_item_hdr_decode(b, sizeof(b), &h), sizeof(b));
	assert_int_equal(h.producer, UINT32_MAX);
	assert_true(h.id == UINT64_MAX);
	assert_true(h.version == 0);
	assert_int_equal(h.len, 0);
	assert_int_equal(h.origin.chan, AIC_ORIGIN_NONE);
	assert_true(h.roots[AIC_ITEM_ROOTS_MAX - 1] == 7);
	/* One root more than an item may carry. */
	aic_put_u32(b + 48, AIC_ITEM_ROOTS_MAX + 1);
	assert_int_equal(aic_item_hdr_decode(b, sizeof(b), &h), AIC_EPROTO);
}

static void ack_entry_layout(void **state)
{
	static const uint8_t want[AIC_ACK_ENTRY] = {0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
						    0x01, 0x00, 0x00, 0x00, 0x00, 0x09};
	uint8_t b[AIC_ACK_ENTRY];
	uint32_t producer;
	uint64_t id;

	(void)state;
	assert_int_equal(AIC_ACK_ENTRY, 12);
	aic_ack_encode(b, 7, (UINT64_C(1) << 40) | 9);
	assert_memory_equal(b, want, sizeof(want));
	aic_ack_decode(want, &producer, &id);
	assert_int_equal(producer, 7);
	assert_true(id == ((UINT64_C(1) << 40) | 9));
}

/* Every control message has its own name in logs; data-plane types are "DATA". */
static void message_names(void **state)
{
	int a, b;

	(void)state;
	assert_string_equal(aic_msg_name(AIC_MSG_HELLO), "HELLO");
	assert_string_equal(aic_msg_name(AIC_MSG_CONFIG), "CONFIG");
	assert_string_equal(aic_msg_name(AIC_MSG_METRICS), "METRICS");
	assert_string_equal(aic_msg_name(AIC_MSG_PING), "PING");
	assert_string_equal(aic_msg_name(AIC_MSG_MEMBERS), "MEMBERS");
	/* Numbers no message has (between the helpers' ranges) are "?". */
	assert_string_equal(aic_msg_name(22), "?");
	for (a = AIC_MSG_HELLO; a <= AIC_MSG_METRICS; a++) {
		assert_string_not_equal(aic_msg_name((uint16_t)a), "?");
		for (b = a + 1; b <= AIC_MSG_METRICS; b++)
			assert_string_not_equal(aic_msg_name((uint16_t)a), aic_msg_name((uint16_t)b));
	}
	assert_string_equal(aic_msg_name(0), "?");
	assert_string_equal(aic_msg_name(AIC_MSG_PUT), "DATA");
	assert_string_equal(aic_msg_name(0xffff), "DATA");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_bytes),
		cmocka_unit_test(decode_whole_frame),
		cmocka_unit_test(decode_flags_big_endian),
		cmocka_unit_test(decode_partial_needs_more),
		cmocka_unit_test(decode_bad_magic_or_version),
		cmocka_unit_test(decode_size_limit),
		cmocka_unit_test(decode_back_to_back),
		cmocka_unit_test(integers_big_endian),
		cmocka_unit_test(item_header_layout),
		cmocka_unit_test(item_header_round_trip),
		cmocka_unit_test(ack_entry_layout),
		cmocka_unit_test(message_names),
	};
	return aic_test_run(tests);
}

#include "config.h"

#include <errno.h>

#include "error.h"
#include "wire.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void aic_wire_header(uint8_t *out, uint16_t type, uint32_t length)
{
	out[0] = 'A';
	out[1] = 'I';
	out[2] = 'C';
	out[3] = AIC_WIRE_VERSION;
	put16(out + 4, type);
	put16(out + 6, 0);
	put32(out + 8, length);
}

long aic_wire_decode(const uint8_t *buf, size_t len, struct aic_frame *f)
{
	uint32_t n;

	if (len >= 4 && (buf[0] != 'A' || buf[1] != 'I' || buf[2] != 'C' || buf[3] != AIC_WIRE_VERSION))
		return AIC_EPROTO;
	if (len < AIC_WIRE_HEADER)
		return 0;
	n = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
	if (n > AIC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (len - AIC_WIRE_HEADER < n)
		return 0;
	f->type = (uint16_t)(buf[4] << 8 | buf[5]);
	f->flags = (uint16_t)(buf[6] << 8 | buf[7]);
	f->length = n;
	f->payload = buf + AIC_WIRE_HEADER;
	f->body = NULL;
	f->head = n;
	return (long)(AIC_WIRE_HEADER + n);
}

long aic_item_hdr_decode(const uint8_t *p, size_t room, struct aic_item_hdr *h)
{
	uint32_t k;

	if (room < AIC_ITEM_HEADER)
		return AIC_EPROTO;
	h->producer = aic_get_u32(p);
	h->id = aic_get_u64(p + 4);
	h->version = aic_get_u64(p + 12);
	h->len = aic_get_u32(p + 20);
	h->edge = aic_get_u64(p + 24);
	h->origin.chan = aic_get_u32(p + 32);
	h->origin.epoch = aic_get_u32(p + 36);
	h->origin.line = aic_get_u64(p + 40);
	h->n_roots = aic_get_u32(p + 48);
	if (h->n_roots > AIC_ITEM_ROOTS_MAX || room - AIC_ITEM_HEADER < 8u * h->n_roots)
		return AIC_EPROTO;
	for (k = 0; k < h->n_roots; k++)
		h->roots[k] = aic_get_u64(p + AIC_ITEM_HEADER + 8 * k);
	return (long)aic_item_hdr_size(h);
}

int aic_items_next(struct aic_items *it, struct aic_item_hdr *h, const uint8_t **data)
{
	size_t room = (size_t)(it->end - it->p), body;
	long hl;

	if (it->left == 0)
		return 0;
	hl = aic_item_hdr_decode(it->p, room, h);
	if (hl < 0)
		return AIC_EPROTO;
	room -= (size_t)hl;
	if (h->len & AIC_ITEM_SHM) {
		if (!it->shm)
			return AIC_EPROTO;
		body = 8;
	} else {
		body = h->len;
	}
	if (room < body)
		return AIC_EPROTO;
	*data = it->p + hl;
	it->p += (size_t)hl + body;
	it->left--;
	return 1;
}

const char *aic_msg_name(uint16_t type)
{
	static const char *const names[] = {
		[AIC_MSG_HELLO] = "HELLO",
		[AIC_MSG_WELCOME] = "WELCOME",
		[AIC_MSG_REJECT] = "REJECT",
		[AIC_MSG_SPAWN] = "SPAWN",
		[AIC_MSG_KILL] = "KILL",
		[AIC_MSG_STARTED] = "STARTED",
		[AIC_MSG_EXITED] = "EXITED",
		[AIC_MSG_SHUTDOWN] = "SHUTDOWN",
		[AIC_MSG_STATUS] = "STATUS",
		[AIC_MSG_STOP] = "STOP",
		[AIC_MSG_CONFIG] = "CONFIG",
		[AIC_MSG_CLOSE] = "CLOSE",
		[AIC_MSG_SOURCE_DONE] = "SOURCE_DONE",
		[AIC_MSG_SINK_DONE] = "SINK_DONE",
		[AIC_MSG_STATS] = "STATS",
		[AIC_MSG_METRICS] = "METRICS",
		[AIC_MSG_CHALLENGE] = "CHALLENGE",
		[AIC_MSG_AUTH] = "AUTH",
		[AIC_MSG_NODE_LOST] = "NODE_LOST",
		[AIC_MSG_REGISTER] = "REGISTER",
		[AIC_MSG_PING] = "PING",
		[AIC_MSG_CHECKPOINT] = "CHECKPOINT",
		[AIC_MSG_CHECKPOINTED] = "CHECKPOINTED",
		[AIC_MSG_DRAIN] = "DRAIN",
		[AIC_MSG_MEMBERS] = "MEMBERS",
		[AIC_MSG_PHASES] = "PHASES",
		[AIC_MSG_PHASE_ASK] = "PHASE_ASK",
		[AIC_MSG_PHASE_TURN] = "PHASE_TURN",
		[AIC_MSG_PHASE_DONE] = "PHASE_DONE",
		[AIC_MSG_PHASE_YIELD] = "PHASE_YIELD",
		[AIC_MSG_PHASE_EVENT] = "PHASE_EVENT",
		[AIC_MSG_LOAD] = "LOAD",
		[AIC_MSG_SCALE_DOWN] = "SCALE_DOWN",
		[AIC_MSG_PEER] = "PEER",
		[AIC_MSG_PEER_LEFT] = "PEER_LEFT",
		[AIC_MSG_EVENTS] = "EVENTS",
		[AIC_MSG_PROBE] = "PROBE",
		[AIC_MSG_UNPROBE] = "UNPROBE",
		[AIC_MSG_HEALTH] = "HEALTH",
		[AIC_MSG_ENDPOINTS] = "ENDPOINTS",
		[AIC_MSG_CKPT_NOTICE] = "CKPT_NOTICE",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return type >= AIC_MSG_DATA ? "DATA" : "?";
}

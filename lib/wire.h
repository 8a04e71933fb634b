/*
 * aic's wire protocol: length-prefixed frames over TCP or Unix sockets.
 *
 * Every frame is a 12-byte header then `length` bytes of payload:
 *
 *   offset 0  "AIC" and the protocol version (1)      4 bytes
 *   offset 4  message type                             u16, big-endian
 *   offset 6  flags (0 for now)                        u16, big-endian
 *   offset 8  payload length                           u32, big-endian
 *
 * Control messages (types below 0x100) carry a JSON object; data-plane
 * messages (0x100 and up, the channels of the next layer) carry binary
 * payloads and travel between agents directly, never through the head.
 * Every connection starts with a mutual handshake over the job token
 * (HELLO, CHALLENGE, AUTH, then WELCOME: lib/auth.h); anything else first,
 * a frame over AIC_AUTH_FRAME_MAX before it is over, or a wrong proof is
 * answered with REJECT and closed.
 *
 * The decoder is a pure function over a byte buffer: it never allocates,
 * and rejects bad magic, unknown versions and oversized frames.
 */
#ifndef AIC_WIRE_H
#define AIC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AIC_WIRE_VERSION 1
#define AIC_WIRE_HEADER 12
/* Control frames are small; data frames are bounded by the channel layer. */
/*
 * A little over 64 MiB: a frame carries one item of AIC_ITEM_MAX_BYTES with
 * its header (roots included) and the frame's own fields.
 */
#define AIC_WIRE_MAX_PAYLOAD ((64u << 20) + 4096u)

enum aic_msg {
	AIC_MSG_HELLO = 1,    /* client -> server: role, identity, nonce (lib/auth.h) */
	AIC_MSG_WELCOME = 2,  /* server -> client: accepted */
	AIC_MSG_REJECT = 3,   /* server -> client: refused, then closed */
	AIC_MSG_SPAWN = 4,    /* head -> agent: start a worker */
	AIC_MSG_KILL = 5,     /* head -> agent: signal a worker */
	AIC_MSG_STARTED = 6,  /* agent -> head: a worker runs */
	AIC_MSG_EXITED = 7,   /* agent -> head: a worker ended */
	AIC_MSG_SHUTDOWN = 8, /* head -> agent: stop every worker and exit */
	AIC_MSG_STATUS = 9,   /* client -> head: request; head -> client: reply */
	AIC_MSG_STOP = 10,    /* client -> head: stop the job */
	AIC_MSG_CONFIG = 11,  /* head -> agent, before any SPAWN: launcher/dataplane/dp_config.h */
	AIC_MSG_CLOSE = 12,   /* head -> agent: a channel's producers have all finished */
	AIC_MSG_SOURCE_DONE = 13, /* agent -> head: a channel's source file is exhausted */
	AIC_MSG_SINK_DONE = 14,   /* agent -> head: a channel's sink has written everything */
	/*
	 * agent -> head, at the end: {"channels": {name: {"stale_dropped",
	 * "zstd_in_bytes", "zstd_out_bytes", "arena_items", "redelivered", "items",
	 * "acked", "bytes"}},
	 * "maxrss_kib": n}
	 */
	AIC_MSG_STATS = 15,
	AIC_MSG_METRICS = 16,	  /* agent -> head: {"points": [{t, stage, index, name, value, step}]} */
	AIC_MSG_CHALLENGE = 17,	  /* server -> client: {"nonce", "proof"} (lib/auth.h) */
	AIC_MSG_AUTH = 18,	  /* client -> server: {"proof"}; WELCOME or REJECT follows */
	/*
	 * head -> agent: {"rank", "node"}: that node is lost (its agent stopped
	 * answering or disconnected); forget it, its links and what it held.
	 */
	AIC_MSG_NODE_LOST = 19,
	/*
	 * agent -> head, right after its WELCOME: {"rank", "node", "addr",
	 * "port", "topo", "gpus", "cpus", "ports"}, what the agent has. It is
	 * not in HELLO, so that every frame before WELCOME stays small
	 * (AIC_AUTH_FRAME_MAX).
	 */
	AIC_MSG_REGISTER = 20,
	/*
	 * Either way, on a connection with a timeout (launcher/net/conn.h), no
	 * payload: "still here" on a link that had nothing else to send. Never
	 * answered: each end sends its own.
	 */
	AIC_MSG_PING = 21,
	/*
	 * head -> agent, after a lost node's processes were placed again:
	 * {"producers": [[rank, ...] per channel], "receivers": [[rank, ...]
	 * per weight stream, in chain order]}: who produces and receives what
	 * now (as CONFIG's lists; a rank no longer listed is gone).
	 */
	AIC_MSG_MEMBERS = 45,
	/*
	 * Checkpoints (launcher/engine/drain.c, checkpoint.c). head -> agent:
	 * {"request": r}: every worker of the agent is asked to checkpoint
	 * (request r, counting from 1), and the agent stops feeding sources.
	 */
	AIC_MSG_CHECKPOINT = 25,
	/* agent -> head: {"id", "request", "version"}: a worker's checkpoint is saved */
	AIC_MSG_CHECKPOINTED = 26,
	/* client -> head: {}: checkpoint every stage, record the state and stop (aic stop --checkpoint) */
	AIC_MSG_DRAIN = 27,
	/*
	 * agent -> head, every second and at its end: {"events": [[kind, t_us,
	 * id, values...]], "dropped", "spans_dropped"}, its data plane sampled
	 * (launcher/engine/events.c).
	 */
	AIC_MSG_EVENTS = 80,
	/*
	 * Phases (launcher/engine/phase.c, phase_head.c): two stages that share
	 * GPUs in turns. head -> agent, before any SPAWN: {"groups": [{"stages":
	 * [host, guest], "via_head": b}]}, each alternating pair; a pair with a
	 * gang in it is arbitrated by the head (its ranks switch together), any
	 * other by each node's agent alone.
	 */
	AIC_MSG_PHASES = 70,
	/* agent -> head: {"id", "group", "side"}: process id asks for its phase (via_head) */
	AIC_MSG_PHASE_ASK = 71,
	/* head -> agent: {"id", "group", "versions": [[stream, version]...]}: its turn now */
	AIC_MSG_PHASE_TURN = 72,
	/*
	 * agent -> head: {"id", "group", "versions", "gone"}: it ended its phase,
	 * having published those versions; gone: its connection closed (a crash),
	 * so whatever it held or asked for is given up.
	 */
	AIC_MSG_PHASE_DONE = 73,
	/* head -> agent: {"group", "side"}: that side's holders are asked to yield (-1: none) */
	AIC_MSG_PHASE_YIELD = 74,
	/*
	 * agent -> head: {"group", "stage", "event": "begin"|"end", "t", "us"}: a
	 * turn of an agent-arbitrated pair began (us: the switch's latency, -1
	 * when the same stage had the turn before) or ended (us: its length),
	 * for status.json and summary.json.
	 */
	AIC_MSG_PHASE_EVENT = 75,
	/*
	 * Autoscaling (launcher/engine/autoscale.c). LOAD: head -> agent {}
	 * asks; agent -> head answers chan_set_load()'s {"channels",
	 * "workers"} (dataplane.h). SCALE_DOWN: head -> agent {"stage",
	 * "index"}: that replica's workers here take no new items and exit.
	 */
	AIC_MSG_LOAD = 60,
	AIC_MSG_SCALE_DOWN = 61,
	/*
	 * Satellite allocations (launcher/engine/satellite.c). PEER: head ->
	 * agent, {"rank", "addr", "port"}: a satellite's agent joined, its
	 * data-plane endpoint. PEER_LEFT: head -> agent, {"rank"}: it was
	 * released empty; its share of every channel's end is done and
	 * nothing is read again because of it (unlike NODE_LOST).
	 */
	AIC_MSG_PEER = 62,
	AIC_MSG_PEER_LEFT = 63,
	/*
	 * Services (launcher/engine/service.c, service_head.c). PROBE: head ->
	 * agent, {"id", "run", "addr", "port", "http", "timeout_ms"}: check
	 * process id's readiness (an HTTP GET of "http", or a TCP connect when
	 * it is "") until UNPROBE {"id"}. HEALTH: agent -> head, {"id", "run",
	 * "ready", "dead", "why"}, on each change; dead: to be restarted.
	 * ENDPOINTS: head -> agent, {"version", "stages": {stage: [{"addr",
	 * "replica", "ready"}...]}}, every service stage's replicas now.
	 */
	AIC_MSG_PROBE = 95,
	AIC_MSG_UNPROBE = 96,
	AIC_MSG_HEALTH = 97,
	AIC_MSG_ENDPOINTS = 98,
	AIC_MSG_DATA = 0x100, /* first data-plane type */
	/* Data plane, binary payloads (big-endian fields, see aic.h's worker.c). */
	AIC_MSG_PUT = 0x101,	/* worker -> agent: u32 chan, u64 version, u32 timeout_ms, bytes */
	AIC_MSG_PUT_OK = 0x102, /* agent -> worker: u64 id */
	AIC_MSG_GET = 0x103,	/* worker -> agent: u32 chan, u32 max, u32 timeout_ms[, u32 min] */
	AIC_MSG_ITEMS = 0x104,	/* agent -> worker: u32 count, u32 flags, items */
	AIC_MSG_ACK = 0x105,	/* worker -> agent: u32 chan, u32 count, (u32 producer, u64 id)... */
	AIC_MSG_ERROR = 0x106,	/* agent -> worker: JSON {"code": n, "error": text} */
	AIC_MSG_PULL = 0x107,	/* agent -> agent: u32 chan, u32 max, u32 wait_ms (a long poll), u32 asker's rank */
	AIC_MSG_PEER_ITEMS = 0x108, /* agent -> agent: u32 chan, then as ITEMS */
	AIC_MSG_PUT_ERR = 0x109,    /* agent -> worker: a PUT failed, JSON as ERROR */
	/* Weight streams: versioned blobs, one copy per node. */
	AIC_MSG_W_PUBLISH = 0x10a, /* worker -> agent: u32 stream, u64 version, blob */
	AIC_MSG_W_OK = 0x10b,	   /* agent -> worker: u64 version */
	AIC_MSG_W_RECV = 0x10c,	   /* worker -> agent: u32 stream, u64 min_version, u32 timeout_ms */
	AIC_MSG_W_DATA = 0x10d,	   /* agent -> worker: u64 version, blob */
	/* agent -> next agent of the chain: u32 stream, u64 version, u32 origin, u64 total, u64 offset, chunk */
	AIC_MSG_W_PEER = 0x10e,
	/* worker -> agent: as PUT, but the payload is in the node's arena (arena.h): u64 offset, u32 length */
	AIC_MSG_PUT_SHM = 0x10f,
	/* Weights through the arena (launcher/dataplane/weights.c, on_weight_slot). */
	AIC_MSG_W_SLOT = 0x110,	    /* worker -> agent: u32 stream, u64 version, u64 length */
	AIC_MSG_W_SLOT_OK = 0x111,  /* agent -> worker: u64 arena offset to write it at */
	AIC_MSG_W_COMMIT = 0x112,   /* worker -> agent: u32 stream, u64 version, u64 offset, u64 length */
	AIC_MSG_W_DATA_SHM = 0x113, /* agent -> worker: u64 version, u64 offset, u64 length */
	AIC_MSG_W_FILLED = 0x114,   /* worker -> agent: u32 stream, u64 version, u64 offset, u64 bytes written so far */
	AIC_MSG_METRIC = 0x115,	    /* worker -> agent: f64 value (IEEE bits), i64 step (< 0: none), name; no answer */
	/*
	 * agent -> the acker (rank 0's agent, launcher/dataplane/acker.c): u32
	 * count, then count entries of AIC_XOR_ENTRY bytes (u64 root, u64 xor,
	 * u64 nodes): each item's id xored into its roots when it is made and
	 * again when it is acked, and the agents it went through.
	 */
	AIC_MSG_XOR = 0x116,
	/*
	 * The acker -> an agent, u32 round: send the XOR entries held, then
	 * answer XFLUSHED (agent -> the acker, the same u32) on the link they
	 * take (launcher/dataplane/marks.c).
	 */
	AIC_MSG_XFLUSH = 0x117,
	AIC_MSG_XFLUSHED = 0x118,
	/* Checkpoints (lib/worker/checkpoint.c, launcher/engine/checkpoint.c). */
	AIC_MSG_CKPT_POLL = 0x120,  /* worker -> agent: empty, or u8 1 (send CKPT_NOTICE); CKPT_STATE answers */
	/* agent -> worker: u64 request asked of it and not done (0: none), then u8 1 if CKPT_NOTICE will come */
	AIC_MSG_CKPT_STATE = 0x121,
	AIC_MSG_CKPT_DONE = 0x122,  /* worker -> agent: u64 version saved; CKPT_STATE answers */
	AIC_MSG_CKPT_BEGIN = 0x123, /* worker -> agent: empty, the state to save is taken now; CKPT_STATE answers */
	/*
	 * agent -> worker, empty, unasked: a request came since a CKPT_STATE
	 * that found none said it would (its u8 1). Until it comes the worker
	 * knows it is not asked, and answers aic_checkpoint_requested() itself.
	 */
	AIC_MSG_CKPT_NOTICE = 0x190,
	/*
	 * Phases (lib/worker/phase.c, launcher/engine/phase.c). PHASE_BEGIN:
	 * worker -> agent, empty, answered with PHASE_GRANT once this worker's
	 * stage holds the GPUs: u32 count, then count entries of
	 * AIC_PHASE_VERSION_ENTRY bytes, the weight versions the other stage
	 * published in its turn (the worker's receives wait for them).
	 * PHASE_END: worker -> agent, the versions it published in this phase
	 * (as PHASE_GRANT's), answered with PHASE_STATE: u32 flags
	 * (AIC_PHASE_YIELD). PHASE_POLL: worker -> agent, empty, answered with
	 * PHASE_STATE.
	 */
	AIC_MSG_PHASE_BEGIN = 0x140,
	AIC_MSG_PHASE_GRANT = 0x141,
	AIC_MSG_PHASE_END = 0x142,
	AIC_MSG_PHASE_POLL = 0x143,
	AIC_MSG_PHASE_STATE = 0x144,
	/*
	 * Services' endpoints (lib/worker/service.c). EP_GET: worker -> agent,
	 * the stage's name; EP_LIST answers: u32 version, u32 count, then count
	 * entries of AIC_ENDPOINT_ENTRY bytes (aic_endpoint_encode), or ERROR
	 * (-ENOENT: no such service).
	 */
	AIC_MSG_EP_GET = 0x160,
	AIC_MSG_EP_LIST = 0x161,
};

/* An endpoint of EP_LIST: u32 replica, u32 flags (1: ready), "host:port" NUL-padded to 64 bytes. */
#define AIC_ENDPOINT_ADDR 64
#define AIC_ENDPOINT_ENTRY (8 + AIC_ENDPOINT_ADDR)

/* PHASE_STATE's flag: the other stage waits for the GPUs this worker's stage holds. */
#define AIC_PHASE_YIELD 1u
/* A weight version in PHASE_GRANT and PHASE_END: u32 stream, u64 version. */
#define AIC_PHASE_VERSION_ENTRY 12
/* The most versions one PHASE_GRANT or PHASE_END carries (one per stream). */
#define AIC_PHASE_VERSIONS_MAX 16

/* An entry of XOR: u64 root, u64 xor (of item ids), u64 nodes (a bit per agent rank). */
#define AIC_XOR_ENTRY 24

/* The longest metric name (METRIC). */
#define AIC_METRIC_NAME_MAX 128

/* ITEMS flags. */
#define AIC_ITEMS_EOF 1u  /* the channel is closed and drained */
#define AIC_ITEMS_ZSTD 2u /* PEER_ITEMS: u32 raw length, then the items as one zstd frame */
#define AIC_ITEMS_MORE 4u /* PEER_ITEMS: more frames of the same answer follow */
/* A timeout field meaning "wait forever". */
#define AIC_WIRE_FOREVER 0xffffffffu
/*
 * Bytes before each item's payload in ITEMS (the fixed part of its header:
 * its roots follow it, 8 bytes each, then the payload).
 */
#define AIC_ITEM_HEADER 52
/* The most roots an item carries (the source items its tree joins). */
#define AIC_ITEM_ROOTS_MAX 16
/* An origin's channel when the item comes from no source line. */
#define AIC_ORIGIN_NONE 0xffffffffu
/*
 * The largest item, in bytes, everywhere: one item alone fits in every frame
 * that may carry it whole (PUT: 16 bytes before it; ITEMS to a worker: 8
 * and its header; PEER_ITEMS: 12, its header and, compressed, 4 more), so
 * a put over it is refused at once (-EMSGSIZE) by the worker library and
 * by the agent, and an agent cuts a delivery by bytes so that its frame
 * stays within AIC_WIRE_MAX_PAYLOAD: never a frame nobody can read.
 */
#define AIC_ITEM_MAX_BYTES ((64u << 20) - 64u)
/*
 * In an agent's ITEMS to a worker, a length with this bit set means the
 * payload (length without the bit) is in the node's arena: the item's bytes
 * on the wire are then only its u64 arena offset.
 */
#define AIC_ITEM_SHM 0x80000000u

static inline void aic_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void aic_put_u64(uint8_t *p, uint64_t v)
{
	aic_put_u32(p, (uint32_t)(v >> 32));
	aic_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t aic_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t aic_get_u64(const uint8_t *p)
{
	return (uint64_t)aic_get_u32(p) << 32 | aic_get_u32(p + 4);
}

/* A weight version of PHASE_GRANT and PHASE_END (AIC_PHASE_VERSION_ENTRY bytes at p). */
static inline void aic_phase_version_encode(uint8_t *p, uint32_t stream, uint64_t version)
{
	aic_put_u32(p, stream);
	aic_put_u64(p + 4, version);
}

static inline void aic_phase_version_decode(const uint8_t *p, uint32_t *stream, uint64_t *version)
{
	*stream = aic_get_u32(p);
	*version = aic_get_u64(p + 4);
}

/* An endpoint of EP_LIST (AIC_ENDPOINT_ENTRY bytes at p); addr is cut to fit. */
static inline void aic_endpoint_encode(uint8_t *p, uint32_t replica, bool ready, const char *addr)
{
	size_t n = 0;

	aic_put_u32(p, replica);
	aic_put_u32(p + 4, ready ? 1u : 0u);
	while (addr && addr[n] && n < AIC_ENDPOINT_ADDR - 1) {
		p[8 + n] = (uint8_t)addr[n];
		n++;
	}
	while (n < AIC_ENDPOINT_ADDR)
		p[8 + n++] = 0;
}

/* Decodes an entry: addr gets AIC_ENDPOINT_ADDR bytes, always NUL-terminated. */
static inline void aic_endpoint_decode(const uint8_t *p, uint32_t *replica, bool *ready, char *addr)
{
	size_t n;

	*replica = aic_get_u32(p);
	*ready = (aic_get_u32(p + 4) & 1u) != 0;
	for (n = 0; n < AIC_ENDPOINT_ADDR - 1; n++)
		addr[n] = (char)p[8 + n];
	addr[AIC_ENDPOINT_ADDR - 1] = '\0';
}

/*
 * Where an item comes from: line `line` (1-based, counting every line of
 * the file) of pass `epoch` (0-based) over the source of channel `chan`,
 * or chan AIC_ORIGIN_NONE (made from no source line). An item made by a
 * worker holding items has the origin of the first of them.
 */
struct aic_origin {
	uint32_t chan;
	uint32_t epoch;
	uint64_t line;
};

/*
 * An item's header in ITEMS and PEER_ITEMS frames (AIC_ITEM_HEADER bytes,
 * then its roots):
 *
 *   offset 0   producer (agent rank)   u32
 *   offset 4   id                      u64
 *   offset 12  version                 u64
 *   offset 20  length                  u32 (AIC_ITEM_SHM: in the arena)
 *   offset 24  edge                    u64 (its id in the acker's trees; 0: none)
 *   offset 32  origin channel          u32 (AIC_ORIGIN_NONE: none)
 *   offset 36  origin epoch            u32
 *   offset 40  origin line             u64
 *   offset 48  roots                   u32 (at most AIC_ITEM_ROOTS_MAX)
 *   offset 52  the roots               u64 each
 */
struct aic_item_hdr {
	uint32_t producer;
	uint64_t id;
	uint64_t version;
	uint32_t len;
	uint64_t edge;
	struct aic_origin origin;
	uint32_t n_roots;
	uint64_t roots[AIC_ITEM_ROOTS_MAX];
};

/* The bytes h's header takes on the wire. */
static inline size_t aic_item_hdr_size(const struct aic_item_hdr *h)
{
	return AIC_ITEM_HEADER + 8u * h->n_roots;
}

/* Writes h (n_roots at most AIC_ITEM_ROOTS_MAX) at p: aic_item_hdr_size(h) bytes. */
static inline void aic_item_hdr_encode(uint8_t *p, const struct aic_item_hdr *h)
{
	uint32_t k;

	aic_put_u32(p, h->producer);
	aic_put_u64(p + 4, h->id);
	aic_put_u64(p + 12, h->version);
	aic_put_u32(p + 20, h->len);
	aic_put_u64(p + 24, h->edge);
	aic_put_u32(p + 32, h->origin.chan);
	aic_put_u32(p + 36, h->origin.epoch);
	aic_put_u64(p + 40, h->origin.line);
	aic_put_u32(p + 48, h->n_roots);
	for (k = 0; k < h->n_roots; k++)
		aic_put_u64(p + AIC_ITEM_HEADER + 8 * k, h->roots[k]);
}

/*
 * Reads a header from p[0..room) into *h. Returns the bytes it takes, or
 * AIC_EPROTO when room is too short or it names more than
 * AIC_ITEM_ROOTS_MAX roots.
 */
long aic_item_hdr_decode(const uint8_t *p, size_t room, struct aic_item_hdr *h);

/*
 * A cursor over the items of an ITEMS or PEER_ITEMS payload, after its
 * count and flags: each item is its header (with its roots), then its `len` bytes, or, when
 * `shm` allows it and the length has AIC_ITEM_SHM, its u64 arena offset.
 * The worker's GET and the agent's PULL answers both walk items with it,
 * so one function (fuzzed by tests/fuzz/fuzz_items.c) checks every bound.
 */
struct aic_items {
	const uint8_t *p;   /* the next item */
	const uint8_t *end; /* the payload's end */
	uint32_t left;	    /* items still to read */
	bool shm;	    /* AIC_ITEM_SHM lengths are allowed (an agent's ITEMS to a worker) */
};

/* Starts reading `count` items from payload[0..len) (the bytes after count and flags). */
static inline void aic_items_init(struct aic_items *it, const uint8_t *payload, size_t len,
				  uint32_t count, bool shm)
{
	it->p = payload;
	it->end = payload + len;
	it->left = count;
	it->shm = shm;
}

/*
 * Reads the next item into *h and *data: its payload (h->len bytes), or,
 * for an item in the arena (h->len has AIC_ITEM_SHM, only with it->shm),
 * the 8 bytes of its arena offset. Returns 1 with an item, 0 once `count`
 * items are read, AIC_EPROTO when the payload ends inside an item or an
 * arena length is not allowed; never reads outside the payload.
 */
int aic_items_next(struct aic_items *it, struct aic_item_hdr *h, const uint8_t **data);

/* An acknowledged item in ACK frames: u32 producer, u64 id. */
#define AIC_ACK_ENTRY 12

static inline void aic_ack_encode(uint8_t *p, uint32_t producer, uint64_t id)
{
	aic_put_u32(p, producer);
	aic_put_u64(p + 4, id);
}

static inline void aic_ack_decode(const uint8_t *p, uint32_t *producer, uint64_t *id)
{
	*producer = aic_get_u32(p);
	*id = aic_get_u64(p + 4);
}

struct aic_frame {
	uint16_t type;
	uint16_t flags;
	uint32_t length;	/* payload bytes */
	const uint8_t *payload; /* points into the decoded buffer; only the first `head` when body is set */
	/*
	 * NULL, or where payload bytes [head, length) were read straight to (the
	 * engine's connections do this for large frames: launcher/net/conn.h).
	 */
	uint8_t *body;
	uint32_t head;
};

/* Writes a header for a payload of `length` bytes into out[AIC_WIRE_HEADER]. */
void aic_wire_header(uint8_t *out, uint16_t type, uint32_t length);

/*
 * Decodes one frame from buf[0..len). Returns the bytes it used (header and
 * payload) and fills *f; 0 when more bytes are needed; AIC_EPROTO for a bad
 * magic or version, -EMSGSIZE for a payload over AIC_WIRE_MAX_PAYLOAD.
 */
long aic_wire_decode(const uint8_t *buf, size_t len, struct aic_frame *f);

/* A short name for a message type ("HELLO"), or "?" . */
const char *aic_msg_name(uint16_t type);

#endif

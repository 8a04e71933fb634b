/*
 * What the weight-stream files of launcher/dataplane/ (weights.c, chain.c,
 * wslot.c) share besides internal.h: a stream's state, its versions' slots
 * in the arena, and the chain that carries versions between agents. The
 * rest of the data plane reaches weight streams only through weights.c's
 * functions declared in internal.h.
 */
#ifndef AIC_DATAPLANE_WEIGHTS_H
#define AIC_DATAPLANE_WEIGHTS_H

#include "internal.h"

/*
 * A weight version's place in the node's arena, after the item regions:
 * WEIGHT_SLOTS per stream, WEIGHT_SLOT_BYTES each (virtual: pages exist
 * only while a version is in them). The writer's worker fills a slot
 * itself, chains assemble into one, and local readers map the newest
 * version read-only instead of receiving it through a socket. A slot is
 * busy while written, newest, or held by a reader (a lease, until the
 * reader is given a newer version): never rewritten under a reader.
 */
#define WEIGHT_SLOTS	  4
#define WEIGHT_SLOT_BYTES ((size_t)4 << 30)

struct wslot {
	uint64_t off;		 /* in the arena */
	size_t len;		 /* bytes in use */
	size_t resident;	 /* bytes whose pages may exist (given back: 0) */
	struct aic_conn *writer; /* the worker filling it, until it commits */
	bool assembling;	 /* a version arriving from the chain */
	uint32_t leases;	 /* local readers holding it */
	uint32_t pins;		 /* chunks sent from it or read into it, not yet done */
};

/* A chunk sent from slot k of ws (-1: from the heap, copied), or read into it, while it is under
 * way; `to` is the forward target it went to (fwd[to]). */
struct wpin {
	struct wstream *ws;
	int k;
	int to;
};

/* A local reader's hold on the slot of the version it was last given. */
struct wlease {
	struct wlease *next;
	struct aic_conn *c;
	struct wstream *ws;
	int slot;
};

/*
 * Where this agent passes a version on to: an agent's rank (-1: none) and
 * its own progress, since a tree's two children take chunks at their own
 * pace.
 */
struct wfwd {
	int rank;
	size_t off;	 /* bytes of fwd_buf sent to it */
	uint32_t queued; /* chunks handed to its connection, not yet written */
};

/*
 * Bit of a chunk's origin field (ranks stay far below it) saying that its
 * version goes down a tree, not a chain: the origin chooses once per
 * version (chain.c's tree_pick) and every agent forwards as the chunks say.
 */
#define WEIGHT_TREE 0x80000000u

/*
 * A weight stream: the newest version this node has, one copy, and the
 * version on its way through here. Versions travel down a chain: the
 * receivers in the head's order, without the publisher's agent (the
 * origin), which sends to the first; each agent forwards every chunk to the
 * next as soon as it has it, so N nodes cost about one transfer plus a
 * chunk per hop, not N transfers from the origin. On many nodes and small
 * versions they go down a pipelined binary tree instead (chain.c).
 */
struct wstream {
	struct chan_set *cs;
	uint32_t id;
	char name[64];
	bool have;
	uint64_t version;
	uint8_t *blob;
	size_t len;
	uint32_t n_receivers;
	uint32_t receivers[MAX_PEERS]; /* agents with readers or the writer */
	struct wait *waits;	       /* readers waiting for a newer version (W_RECV) */
	/* Where versions live when they can: slots in the arena, read in place. */
	struct wslot slot[WEIGHT_SLOTS];
	int blob_slot; /* the slot blob is in, or -1: blob is in the heap */
	int rx_slot;   /* the slot rx is in, or -1 */
	/* The version arriving (rx: NULL when none), assembled in order. */
	uint8_t *rx;
	uint64_t rx_version;
	uint32_t rx_origin;
	size_t rx_total, rx_have;
	/* What goes on down the chain: bytes [fwd[i].off, fwd_have) of fwd_buf still to send. */
	const uint8_t *fwd_buf;
	uint64_t fwd_version;
	uint32_t fwd_origin; /* the origin's rank, | WEIGHT_TREE when down a tree */
	size_t fwd_total, fwd_have;
	struct wfwd fwd[2]; /* the chain's next agent in fwd[0]; a tree's children */
};

static inline struct wstream *weights_find(struct chan_set *cs, uint32_t id)
{
	return cs && id < cs->n_streams ? &cs->streams[id] : NULL;
}

/* wslot.c: a stream's versions on this node. */

/* Slot k may be unused now: it keeps its pages for the next version, others give theirs back. */
void slot_idle(struct wstream *ws, int k);
/* A free slot for a version of len bytes, or -1 (the version then lives in the heap). */
int slot_pick(struct wstream *ws, uint64_t len);
/* The slot whose bytes buf points into, or -1 (the heap). */
int slot_of(const struct wstream *ws, const uint8_t *buf);
/* Slot k (-1: none) held while a chunk is sent from it or read into it; NULL: no memory. */
struct wpin *slot_pin(struct wstream *ws, int k);
/* The slot a pin held may be idle now; returns the chan_set (for dp_release). */
struct chan_set *slot_unpin(struct wpin *p);
/*
 * Makes a version the newest, from slot k (>= 0) or the heap `blob` (taken),
 * and answers waiting readers; false (and the version is let go) if it is
 * not newer than the one kept.
 */
bool weights_keep(struct wstream *ws, uint64_t version, uint8_t *blob, int k, size_t len);
/* The newest version to a local reader: in place when both are in the arena. */
void weights_send(struct wstream *ws, struct aic_conn *c);

/* chain.c: versions down the chain of agents. */

/*
 * Starts passing version `version` (of `total` bytes, `have` of them in
 * buf) down the chain; `origin` is this agent's rank at the origin (which
 * then chooses chain or tree) or the chunks' origin field elsewhere.
 */
void chain_start(struct wstream *ws, const uint8_t *buf, uint64_t version, uint32_t origin,
		 size_t total, size_t have);
/* Sends down the chain what this agent has of the version and has not sent yet. */
void chain_forward(struct wstream *ws);
/* A W_PEER chunk from the previous agent (its bytes at p + 32, or at body when read in place). */
void chain_on_chunk(struct wstream *ws, const uint8_t *p, size_t len, const uint8_t *body);
/* The chain lost or gained an agent: what this agent passes on goes to its next one now. */
void chain_reform(struct wstream *ws);

#endif

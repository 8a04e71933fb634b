/*
 * What the agent's data plane shares between its two halves: channels
 * (chan.c) and weight streams (weights.c). Private to launcher/engine/;
 * the agent uses chan.h.
 */
#ifndef AIC_ENGINE_CHAN_SET_H
#define AIC_ENGINE_CHAN_SET_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "arena.h"
#include "chan.h"
#include "conn.h"
#include "wire.h"

#define MAX_PEERS 64

/*
 * The node's arena (arena.h): region 0 holds items pulled from other nodes,
 * regions 1.. belong to local processes, one each (a restarted process gets
 * its predecessor's). Virtual size only: pages exist once written.
 */
#define ARENA_REGIONS 32
#define ARENA_REGION_BYTES (16u << 20)

/* Another agent of the job, and this agent's connection to it (made when first needed). */
struct peer {
	uint32_t rank;
	char addr[64];
	int port;
	struct aic_conn *conn;
};

struct chan;
struct wstream;
struct wlease;

struct chan_set {
	struct wstream *streams; /* weights.c's */
	size_t n_streams;
	uv_loop_t *loop;
	uint32_t rank;
	const char *token;
	struct chan *chans;
	size_t n;
	struct peer peers[MAX_PEERS];
	size_t n_peers;
	void (*source_done)(void *arg, uint32_t chan, int err);
	void *source_arg;
	void (*sink_done)(void *arg, uint32_t chan, int err);
	void *sink_arg;
	struct aic_arena arena; /* base NULL: none (items travel inline) */
	struct wlease *leases; /* weights.c's: local readers' holds on weight slots */
	long region_proc[ARENA_REGIONS];		/* the process (id + 1) a region is for */
	struct aic_conn *region_owner[ARENA_REGIONS]; /* its connection, once it said hello */
	/*
	 * Zero-copy sends and in-place reads under way (they use the arena and
	 * the streams' slots): chan_set_free leaves the rest to the last of them.
	 */
	uint32_t pending;
	bool freeing;
};

/* chan.c */
struct peer *chan_peer_of(struct chan_set *cs, uint32_t rank);
/* The connection to a peer, opened (token HELLO) on first use; NULL if it cannot be. */
struct aic_conn *chan_peer_conn(struct chan_set *cs, struct peer *p);
/* The arena region a worker connection owns, or 0 for none. */
size_t chan_region_of(const struct chan_set *cs, const struct aic_conn *c);
/* An ERROR frame ({"code", "error"}) answering a worker's request. */
void chan_send_error(struct aic_conn *c, int code);

/* One fewer send or in-place read under way (see pending). */
void chan_set_release(struct chan_set *cs);

/* weights.c */
/* Arena bytes the weight slots of n streams take (after the item regions). */
size_t weights_arena_bytes(size_t n_streams);
/* The streams of the head's CONFIG ({"weights": [{name, receivers}]}); 0 or -ENOMEM. */
int weights_init(struct chan_set *cs, const json_t *config);
void weights_free(struct chan_set *cs);
/* Whether a frame type is a weight stream's, and handling one. */
bool weights_frame_type(uint16_t type);
void weights_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f);
/*
 * A chunk of a version read straight into the slot it is assembled in
 * (aic_direct_begin_cb in conn.h): NULL when it cannot be. weights_direct_end
 * lets the slot go again and returns the chan_set.
 */
uint8_t *weights_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
			      uint32_t have, uint32_t *skip, void **arg);
struct chan_set *weights_direct_end(void *arg);
/* Peers just let this agent in: chunks that waited for them go now. */
void weights_flush(struct chan_set *cs);
/* A worker or peer connection went away: its waits, slot and leases with it. */
void weights_forget(struct chan_set *cs, struct aic_conn *c);
/* The newest version of stream `stream` this node has (*have: whether it has one). */
uint64_t weights_version(struct chan_set *cs, int stream, bool *have);

#endif

/*
 * The data plane of one agent (see dataplane.h): its lifetime, from the
 * head's CONFIG to the last send under way after chan_set_free, and the
 * dispatch of every frame that reaches it, from workers and from peers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "log.h"

static void peer_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f);
static void peer_closed(struct aic_conn *c);
static uint8_t *peer_direct_begin(struct aic_conn *c, uint16_t type, uint32_t length,
				  const uint8_t *head, uint32_t have, uint32_t *skip, void **arg);
static void chan_set_finish(struct chan_set *cs);

static const struct dp_upcalls upcalls = {
	.peer_frame = peer_frame,
	.peer_closed = peer_closed,
	.direct_begin = peer_direct_begin,
	.direct_end = chan_set_direct_end,
	.finish = chan_set_finish,
};

/*
 * AIC_ACKER_BATCH_MS: how long an agent gathers its updates to the acker
 * before it sends them (default 0: after the current turn of its loop;
 * more sends fewer frames to rank 0; at most 10000).
 */
static uint64_t acker_batch_ms(void)
{
	const char *v = getenv("AIC_ACKER_BATCH_MS");
	char *end;
	unsigned long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || v[0] == '-' || n > 10000) {
		aic_log_warn("AIC_ACKER_BATCH_MS=\"%s\" is not a number of milliseconds from 0 to "
			     "10000: the default, 0, is used",
			     v);
		return 0;
	}
	return n;
}

struct chan_set *chan_set_new(uv_loop_t *loop, const json_t *config, uint32_t rank,
			      const char *token)
{
	struct chan_set *cs = calloc(1, sizeof(*cs));
	struct dp_config cfg;
	char err[256];
	size_t i;
	int rc;

	if (!cs)
		return NULL;
	rc = dp_config_from_json(config, &cfg, err, sizeof(err));
	if (rc) {
		aic_log_error("the head's CONFIG was refused: %s", err);
		free(cs);
		return NULL;
	}
	cs->up = &upcalls;
	cs->loop = loop;
	cs->rank = rank;
	cs->token = token;
	cs->failure_timeout_ms = cfg.failure_timeout_ms ? cfg.failure_timeout_ms : AIC_CONN_TIMEOUT_MS;
	cs->acker_batch_ms = acker_batch_ms();
	rc = aic_arena_create(&cs->arena, ARENA_REGIONS, ARENA_REGION_BYTES,
			      weights_arena_bytes(cfg.n_weights));
	if (rc)
		aic_log_info("no shared-memory arena on this node (%zu bytes: %s%s): items and "
			     "weights travel inline",
			     (size_t)ARENA_REGIONS * ARENA_REGION_BYTES +
				     weights_arena_bytes(cfg.n_weights),
			     aic_strerror(rc),
			     rc == -EFBIG ? ", over this process's file-size limit (ulimit -f)"
					  : "");
	peers_init(cs, &cfg);
	cs->n = cfg.n_channels;
	cs->chans = calloc(cs->n + 1, sizeof(*cs->chans));
	rc = cs->chans ? weights_init(cs, &cfg) : -ENOMEM;
	for (i = 0; !rc && i < cs->n; i++) {
		rc = chan_init(&cs->chans[i], cs, (uint32_t)i, &cfg.channels[i]);
		/* A job with a source tracks the trees of its lines (acker.c). */
		if (cfg.channels[i].source)
			cs->tracked = true;
	}
	dp_config_release(&cfg);
	if (rc) {
		chan_set_free(cs);
		return NULL;
	}
	return cs;
}

void chan_set_on_sink_done(struct chan_set *cs, void (*done)(void *arg, uint32_t chan, int err),
			   void *arg)
{
	size_t i;

	if (!cs)
		return;
	cs->sink_done = done;
	cs->sink_arg = arg;
	for (i = 0; i < cs->n; i++)
		if (cs->chans[i].sink && sink_open(&cs->chans[i]) == 0)
			chan_pump(&cs->chans[i]);
}

void chan_set_on_source_done(struct chan_set *cs, void (*done)(void *arg, uint32_t chan, int err),
			     void *arg)
{
	size_t i;

	if (!cs)
		return;
	cs->source_done = done;
	cs->source_arg = arg;
	/* Open the sources this agent feeds (as the user), and fill their queues. */
	for (i = 0; i < cs->n; i++)
		if (cs->chans[i].source && source_open(&cs->chans[i]) == 0)
			chan_pump(&cs->chans[i]);
}

/* The rest of chan_set_free, once no send or in-place read uses the arena or a stream. */
static void chan_set_finish(struct chan_set *cs)
{
	acker_release(cs);
	weights_free(cs);
	load_release(cs);
	free(cs->chans);
	aic_arena_detach(&cs->arena);
	free(cs);
}

void chan_set_free(struct chan_set *cs)
{
	size_t i;

	if (!cs)
		return;
	aic_conn_after_cancel(cs); /* channels' pumps put off (chan.c) */
	for (i = 0; cs->chans && i < cs->n; i++)
		chan_release(&cs->chans[i]);
	/*
	 * Closing a connection ends its sends and reads (conn.h): the last of
	 * those still going finishes the job; items they hold were freed above
	 * (they go when their sends are done).
	 */
	peers_close(cs);
	cs->freeing = true;
	if (cs->pending == 0)
		chan_set_finish(cs);
}

/* --- frames --------------------------------------------------------------- */

void chan_set_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	if (weights_frame_type(f->type)) {
		weights_frame(cs, c, f);
		return;
	}
	switch (f->type) {
	case AIC_MSG_PUT:
	case AIC_MSG_PUT_SHM:
		chan_on_put(cs, c, f->payload, f->length, f->type == AIC_MSG_PUT_SHM);
		break;
	case AIC_MSG_GET:
		chan_on_get(cs, c, f->payload, f->length, false);
		break;
	case AIC_MSG_PULL:
		chan_on_get(cs, c, f->payload, f->length, true);
		break;
	case AIC_MSG_ACK:
		chan_on_ack(cs, c, f->payload, f->length);
		break;
	case AIC_MSG_XOR: {
		int from = dp_peer_rank_of(cs, c);
		acker_on_xor(cs, from < 0 ? UINT32_MAX : (uint32_t)from, f->payload, f->length);
		break;
	}
	case AIC_MSG_XFLUSHED:
		marks_on_flushed(cs, c, f->payload, f->length);
		break;
	default:
		aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, NULL);
	}
}

/* Frames on the connections this agent opened to peers: answers to its pulls. */
static void peer_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	struct chan_set *cs = c->owner;

	(void)m;
	if (type == AIC_MSG_PEER_ITEMS && c->data) {
		/* Read in place (chan_items_direct_begin): the whole payload is in the block. */
		chan_on_items(cs, c->data, f->body ? f->body : f->payload, f->length,
			      f->body ? c->direct_arg : NULL);
	} else if (type == AIC_MSG_WELCOME) {
		/*
		 * Now that the peer has let us in, ask it for what readers and sinks
		 * here wait for: pulls tried while it was connecting were not sent,
		 * and nothing else may come along to try them again.
		 */
		size_t i;
		for (i = 0; i < cs->n; i++)
			if (chan_wants_pull(&cs->chans[i]))
				chan_pull(&cs->chans[i]);
		weights_flush(cs);
		acker_flush(cs);
	} else if (type == AIC_MSG_XFLUSH) {
		marks_on_flush_request(cs, c, f->payload, f->length);
	} else if (type == AIC_MSG_REJECT) {
		aic_log_error("a peer agent refused this agent");
	}
}

static void peer_closed(struct aic_conn *c)
{
	struct peer *p = c->data;
	struct chan_set *cs = c->owner;
	size_t i;

	if (!p)
		return;
	p->conn = NULL;
	for (i = 0; i < cs->n; i++)
		chan_peer_lost(&cs->chans[i], p->rank);
}

uint8_t *chan_set_direct_begin(struct chan_set *cs, struct aic_conn *c, uint16_t type,
			       uint32_t length, const uint8_t *head, uint32_t have, uint32_t *skip,
			       void **arg)
{
	uint8_t *dest = NULL;

	if (!cs || cs->freeing)
		return NULL;
	if (type == AIC_MSG_PEER_ITEMS && c->owner == cs && c->data) {
		*skip = 0;
		dest = chan_items_direct_begin(cs, length, head, arg);
	} else if (type == AIC_MSG_W_PEER) {
		dest = weights_direct_begin(cs, length, head, have, skip, arg);
	}
	if (dest)
		dp_hold(cs);
	return dest;
}

void chan_set_direct_end(struct aic_conn *c, uint16_t type, uint8_t *dest, void *arg, bool whole)
{
	struct chan_set *cs;

	(void)c;
	(void)dest;
	(void)whole; /* what the frame's handler did not take is given back either way */
	if (type == AIC_MSG_W_PEER) {
		cs = weights_direct_end(arg);
	} else {
		cs = ((struct frame_blk *)arg)->cs;
		frame_blk_unref(arg);
	}
	dp_release(cs);
}

static uint8_t *peer_direct_begin(struct aic_conn *c, uint16_t type, uint32_t length,
				  const uint8_t *head, uint32_t have, uint32_t *skip, void **arg)
{
	return chan_set_direct_begin(c->owner, c, type, length, head, have, skip, arg);
}

/* --- workers -------------------------------------------------------------- */

/* Whether an item still names the block at off (the sweep of an owner-less region). */
static bool block_in_use(uint64_t off, void *arg)
{
	struct chan_set *cs = arg;
	const struct item *it;
	const struct wait *w;
	size_t i;
	int q;

	for (i = 0; i < cs->n; i++) {
		const struct chan *ch = &cs->chans[i];
		const struct queue *qs[3] = {&ch->own, &ch->pulled, &ch->sinking};
		for (q = 0; q < 3; q++)
			for (it = qs[q]->head; it; it = it->next)
				if (it->shm == off)
					return true;
		for (it = ch->inflight; it; it = it->next)
			if (it->shm == off)
				return true;
		for (w = ch->puts; w; w = w->next)
			if (w->item && w->item->shm == off)
				return true;
	}
	return false;
}

void chan_set_forget(struct chan_set *cs, struct aic_conn *c)
{
	size_t i, k;

	/*
	 * A writer that went away may have died between allocating a block and
	 * putting it: blocks no item names are given back, so its successor's
	 * ring does not stall on them.
	 */
	for (k = 1; cs && k < ARENA_REGIONS; k++)
		if (cs->region_owner[k] == c) {
			cs->region_owner[k] = NULL;
			aic_ring_sweep(&cs->arena, k * cs->arena.region_size, block_in_use, cs);
		}
	weights_forget(cs, c);
	for (k = 0; cs && k < MAX_PEERS; k++)
		if (cs->peer_in[k] == c) {
			cs->peer_in[k] = NULL;
			marks_agent_gone(cs, (uint32_t)k); /* its answer will not come */
		}
	for (i = 0; cs && i < cs->n; i++)
		chan_forget(&cs->chans[i], c);
	load_forget(cs, c);
}

void chan_set_close(struct chan_set *cs, uint32_t id)
{
	struct chan *ch = chan_find(cs, id);

	if (!ch || ch->closed)
		return;
	ch->closed = true;
	chan_pump(ch);
}

/* --- what the agent reports ------------------------------------------------- */

json_t *chan_set_names(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n; i++)
		json_object_set_new(o, cs->chans[i].name, json_integer((json_int_t)i));
	return o;
}

json_t *chan_set_stats(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n; i++) {
		const struct chan *ch = &cs->chans[i];
		json_object_set_new(o, ch->name,
				    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "stale_dropped",
					      (json_int_t)ch->stale_dropped, "zstd_in_bytes",
					      (json_int_t)ch->zstd_in, "zstd_out_bytes",
					      (json_int_t)ch->zstd_out, "arena_items",
					      (json_int_t)ch->arena_items, "redelivered",
					      (json_int_t)ch->redelivered, "items",
					      (json_int_t)ch->items_in, "acked",
					      (json_int_t)ch->items_out, "bytes",
					      (json_int_t)ch->bytes_in));
	}
	return json_pack("{s:o}", "channels", o);
}

void chan_set_pause_sources(struct chan_set *cs)
{
	if (cs)
		cs->sources_paused = true;
}

/* Agent `rank` is gone: lost (its open trees are read again), or left empty (replay false). */
static void peer_gone(struct chan_set *cs, uint32_t rank, bool replay)
{
	struct peer *p = cs ? peer_find(cs, rank) : NULL;
	size_t i;
	uint32_t r;

	if (!cs || cs->freeing)
		return;
	if (replay)
		aic_log_info("agent %u is lost: its items are not waited for, and what it held is "
			     "processed again",
			     rank);
	else
		aic_log_info("agent %u has left: its items are not waited for", rank);
	/*
	 * Never connected to again; the links to it close (a link cut without
	 * a close would keep them open): pulls in flight to it are given up
	 * (peer_closed), and what it had pulled from here and not acked is
	 * queued again (chan_set_forget, when its connection here closes).
	 */
	if (p) {
		p->lost = true;
		if (p->conn)
			aic_conn_close(p->conn);
	}
	if (rank < MAX_PEERS && cs->peer_in[rank])
		aic_conn_close(cs->peer_in[rank]);
	/* Its share of every channel's end: nothing more will come from it. */
	for (i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		chan_peer_lost(ch, rank);
		for (r = 0; r < ch->n_remote; r++)
			if (ch->remote[r] == rank)
				ch->drained[r] = true;
	}
	/* The trees it touched are read again from their sources (at the acker). */
	if (replay)
		acker_node_lost(cs, rank);
	marks_agent_gone(cs, rank);
	for (i = 0; i < cs->n; i++)
		chan_pump(&cs->chans[i]);
	/* Weight streams: the chain re-forms without it. */
	weights_node_lost(cs, rank);
}

void chan_set_node_lost(struct chan_set *cs, uint32_t rank)
{
	peer_gone(cs, rank, true);
}

void chan_set_peer_left(struct chan_set *cs, uint32_t rank)
{
	if (cs && rank != cs->rank) /* the satellite itself is told too: it shuts down next */
		peer_gone(cs, rank, false);
}

/* A MEMBERS list of ranks into ranks[] (at most MAX_PEERS); how many. */
static size_t members_ranks(const json_t *list, uint32_t *ranks)
{
	size_t i, n = 0;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_integer(v) && json_integer_value(v) >= 0 && n < MAX_PEERS)
			ranks[n++] = (uint32_t)json_integer_value(v);
	return n;
}

void chan_set_members(struct chan_set *cs, const json_t *m)
{
	uint32_t ranks[MAX_PEERS];
	size_t i, n;
	json_t *v;

	if (!cs || cs->freeing)
		return;
	json_array_foreach(json_object_get(m, "receivers"), i, v)
		if (i < cs->n_streams) {
			n = members_ranks(v, ranks);
			weights_members(cs, (uint32_t)i, ranks, n);
		}
	json_array_foreach(json_object_get(m, "producers"), i, v)
		if (i < cs->n) {
			n = members_ranks(v, ranks);
			chan_producers(&cs->chans[i], ranks, n);
		}
}

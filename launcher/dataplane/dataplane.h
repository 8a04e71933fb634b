/*
 * The data plane at a node agent: channels (bounded work queues between the
 * stages' workers) and weight streams (see doc/design/data-plane.md). The
 * agent hands it the frames of type >= AIC_MSG_DATA from workers and peer
 * agents; the files behind this header are launcher/dataplane/.
 *
 * Contract, per channel:
 *  - PUT enqueues an item when queued + in-flight items are below the
 *    channel's capacity; otherwise the producer waits (its PUT_OK comes when
 *    an ack frees a slot, or ERROR -ETIMEDOUT at its timeout). Memory is
 *    bounded by the capacity.
 *  - GET hands up to `max` queued items to one consumer (each item to
 *    exactly one consumer at a time, in order); they are in flight until
 *    that consumer ACKs them. A consumer that goes away puts its in-flight
 *    items back at the head of the queue: delivery is at least once, and
 *    (producer, id) lets the job drop duplicates.
 *  - When the head says every producer has finished (CLOSE), a GET on an
 *    empty channel with nothing in flight answers EOF.
 *  - Source lines are processed at least once across the loss of any node
 *    but rank 0's (the head's), which reads every source and writes every
 *    sink: rank 0's agent keeps the xor tree of every line (acker.c) and
 *    reads again the lines whose processing went through a lost node.
 *    Items carry their origin (source, epoch, line) to recognise the
 *    duplicates.
 *
 * Across nodes, items stay at the producer's agent; an agent whose workers
 * wait pulls from the agents that produce the channel (PULL, a long poll),
 * receives PEER_ITEMS, and forwards its workers' acks to the producer. An
 * item crosses the network at most once, and never through the head.
 */
#ifndef AIC_DATAPLANE_H
#define AIC_DATAPLANE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"

struct chan_set;

/*
 * Channels and weight streams from the head's CONFIG message (its schema:
 * dp_config.h). `rank` is this agent's; `token` (kept, not copied) opens
 * peer connections. NULL when out of memory or when the message does not
 * match the schema (logged).
 */
struct chan_set *chan_set_new(uv_loop_t *loop, const json_t *config, uint32_t rank,
			      const char *token);

/*
 * Sources: a channel whose CONFIG entry names this agent as its "feeder"
 * reads its "source" JSONL file ("epochs" passes), one item per non-empty
 * line, as fast as the channel's capacity lets it; a resumed one (CONFIG's
 * "resume", dp_config.h) skips the lines an earlier run finished. When the file is read
 * and every line's processing is done (or it cannot be read: err is then
 * -errno), `done` is called once.
 */
void chan_set_on_source_done(struct chan_set *cs, void (*done)(void *arg, uint32_t chan, int err),
			     void *arg);

/*
 * Sinks: a channel whose CONFIG entry names this agent as its "sink_agent"
 * appends every item it can take (its own and pulled ones) to its "sink"
 * file, one line each, and acks it once it is synced to disk (fsync, in
 * batches). Once the channel is closed and drained, `done` is called; a
 * write or sync error calls it at once with -errno, the items not synced
 * staying un-acked.
 */
void chan_set_on_sink_done(struct chan_set *cs, void (*done)(void *arg, uint32_t chan, int err),
			   void *arg);
/*
 * Ends the data plane (NULL: nothing): waits, items and connections to
 * peers go now; the arena and the streams stay until the last send or
 * in-place read under way is done, then go too.
 */
void chan_set_free(struct chan_set *cs);

/*
 * Large frames from peers read in place (aic_direct_begin_cb, conn.h): for
 * the agent's server, whose connections' owner is the agent, not cs.
 */
uint8_t *chan_set_direct_begin(struct chan_set *cs, struct aic_conn *c, uint16_t type,
			       uint32_t length, const uint8_t *head, uint32_t have, uint32_t *skip,
			       void **arg);
void chan_set_direct_end(struct aic_conn *c, uint16_t type, uint8_t *dest, void *arg, bool whole);

/* {name: id} of channels, and of weight streams, for a worker's WELCOME (new references). */
json_t *chan_set_names(const struct chan_set *cs);
json_t *chan_set_weight_names(const struct chan_set *cs);
/*
 * {"channels": {name: {"stale_dropped", "zstd_in_bytes", "zstd_out_bytes",
 * "arena_items", "redelivered", "items", "acked", "bytes"}}}: this agent's
 * counters (new reference), the last three as chan_set_sample's:
 * items dropped as too stale, bytes sent compressed (before, after), items
 * that went through the shared-memory arena, items queued again because the
 * consumer or peer holding them un-acked was lost.
 */
json_t *chan_set_stats(const struct chan_set *cs);

/*
 * What the timeline and the metrics sample (launcher/engine/events.c),
 * cheap enough to ask for a few times a second. A channel here: its items
 * waiting (own and pulled), in flight (handed to a worker or a peer, not
 * acked), and since the start the own items that came in (put, or read from
 * its source), those acked for good (by a worker, a sink, or dropped as
 * stale), the bytes that came in, and the items dropped as stale.
 */
struct chan_set_sample {
	uint64_t queued, inflight;
	uint64_t items, acked, bytes, stale;
};
/* Channel id's counters into *s: false when cs is NULL or has no such channel. */
bool chan_set_sample(const struct chan_set *cs, uint32_t id, struct chan_set_sample *s);
/*
 * Weight stream id's newest version here: *have says whether it has one,
 * and then *version is it. False when cs is NULL or has no such stream.
 */
bool chan_set_weight_version(const struct chan_set *cs, uint32_t id, bool *have, uint64_t *version);

/*
 * A sampled item's way through its producer's agent (one own item in 64,
 * by id), in microseconds of the real-time clock: put (or read from the
 * source), first handed to a worker or a peer (0: never, as for a stale
 * one), acked for good.
 */
struct chan_set_span {
	uint32_t chan;
	uint64_t id;
	uint64_t put_us, get_us, ack_us;
};
/*
 * The sampled items acked since the last call, oldest first: at most max
 * into out, the rest kept for the next call. *dropped (may be NULL) gets
 * how many were given up since the start because the fixed tables were
 * full. 0 for a NULL cs.
 */
size_t chan_set_spans(struct chan_set *cs, struct chan_set_span *out, size_t max,
		      uint64_t *dropped);

/*
 * The node's shared-memory arena (lib/arena.h) for process `proc` (the
 * head's id: a restarted process gets its predecessor's region): writes its
 * AIC_ARENA value into buf and returns the descriptor the process must
 * inherit, or -1 when it gets none (its items then travel inline).
 */
int chan_set_arena_env(struct chan_set *cs, long proc, char *buf, size_t size);

/*
 * A worker's HELLO: true when it may use the arena region it names (its
 * WELCOME then says "arena": true); one connection per region.
 */
bool chan_set_hello(struct chan_set *cs, struct aic_conn *c, const json_t *hello);
/* The agent of `rank` connected here (its HELLO, token checked): its link, for the acker's asks. */
void chan_set_agent_hello(struct chan_set *cs, struct aic_conn *c, long rank);

/* A data-plane frame from a worker (PUT, GET, ACK) or a peer agent (PULL, ACK). */
void chan_set_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f);
/* A worker's connection closed: its in-flight items go back, its waits end. */
void chan_set_forget(struct chan_set *cs, struct aic_conn *c);
/* The head says channel `id` has no producers left. */
void chan_set_close(struct chan_set *cs, uint32_t id);

/*
 * A source's progress, for a checkpoint: which of its lines are done (their
 * processing has reached every sink and consumer, acked for good: no node
 * loss can need them again). Asked of the agent that feeds the source
 * (rank 0's, which keeps the acker's table: launcher/dataplane/acker.c).
 * Returns (a new reference) {"done": true} once the source has said
 * SOURCE_DONE, else {"done": false, "next": [epoch, line], "unfinished":
 * [[epoch, line], ...]}: `next` is the first line not read yet (epochs
 * from 0, lines from 1, counting every line of the file), `unfinished`
 * the lines read whose processing is not done (to be read again after a
 * node loss among them), sorted. The low watermark is the first of
 * `unfinished`, or `next` when it is empty: every line before it is done;
 * between it and `next`, every line not in `unfinished` is done too.
 * NULL when this agent does not feed that channel's source.
 */
json_t *chan_set_source_progress(const struct chan_set *cs, uint32_t chan);

/*
 * Checkpoints and the sources (launcher/dataplane/acker.c, "Checkpoints").
 * An agent calls chan_set_checkpoint_mark when worker process `proc` is
 * about to take the state it will save, and chan_set_checkpoint_done when
 * it reports the checkpoint (its answer to `request`, 0: unasked). Both go
 * to the acker in order with the worker's acks; there, `done` (set with
 * chan_set_on_checkpoint, at rank 0's agent) gets the report with the
 * sources' progress as of the mark ({channel: progress} as
 * chan_set_source_progress gives it; the callback takes the reference),
 * or NULL when there is no mark to go by. They return 0, or -ENOENT when
 * the job has no source (nothing to snapshot: report the checkpoint
 * without one).
 */
int chan_set_checkpoint_mark(struct chan_set *cs, long proc);
/* Process `proc` starts (again): none of its marks or reports so far go with its next report. */
int chan_set_checkpoint_reset(struct chan_set *cs, long proc);
int chan_set_checkpoint_done(struct chan_set *cs, long proc, uint64_t request, uint64_t version);
void chan_set_on_checkpoint(struct chan_set *cs,
			    void (*done)(void *arg, long proc, uint64_t request, uint64_t version,
					 json_t *progress),
			    void *arg);

/*
 * The head declared the node of agent `rank` lost (NODE_LOST): the data
 * plane stops waiting on it (pulls to it, its share of a channel's end)
 * and, where it can, gets back what it held. NULL cs: nothing.
 */
void chan_set_node_lost(struct chan_set *cs, uint32_t rank);
/*
 * Satellites (PEER, PEER_LEFT): agent `rank` joined and listens at
 * addr:port; or it left, empty, and is no longer waited for (as lost, but
 * nothing is read again). NULL cs: nothing.
 */
void chan_set_peer(struct chan_set *cs, uint32_t rank, const char *addr, int port);
void chan_set_peer_left(struct chan_set *cs, uint32_t rank);

/*
 * The head's MEMBERS (wire.h): after a lost node's processes were placed
 * again, who produces each channel (new producers are pulled from, those
 * gone no longer hold a channel's end back) and receives each weight
 * stream (the chain re-forms; a new receiver gets the newest version from
 * the agent before it). NULL cs: nothing.
 */
void chan_set_members(struct chan_set *cs, const json_t *m);

/*
 * The node's load for the head's autoscaler (LOAD, wire.h; a new
 * reference): {"channels": {name: items queued here}, "workers": [{"stage",
 * "index", "waited_ms": time waited (for items, or for room to put) over
 * its connection's life, "age_ms": that life so far, "draining"}]}.
 */
json_t *chan_set_load(const struct chan_set *cs);

/*
 * The head scales replica `index` of `stage` down (SCALE_DOWN): its
 * workers connected here take no new items (their GETs answer EOF, but
 * for items already pulled here that no other reader here takes), so they
 * finish what they hold and exit. Returns how many connections drain
 * (0: none of that replica is connected here).
 */
int chan_set_drain(struct chan_set *cs, const char *stage, int index);

/*
 * The job is draining (a checkpoint request): no more lines are read from
 * the sources this agent feeds; what is queued still flows. NULL cs:
 * nothing.
 */
void chan_set_pause_sources(struct chan_set *cs);

#endif

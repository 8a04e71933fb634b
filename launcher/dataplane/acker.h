/*
 * The acker (acker.c) and checkpoint marks (marks.c): the table of source
 * lines' trees at rank 0's agent, the updates other agents send it, and
 * the sources' progress that goes with each checkpoint. Included by
 * internal.h, after the structures.
 */
#ifndef AIC_DP_ACKER_H
#define AIC_DP_ACKER_H

/* --- acker.c -------------------------------------------------------------- */

/* The agent that keeps the trees: rank 0's, on the head's node (CONFIG's feeders and sinks). */
#define ACKER_RANK 0

/*
 * A source line becomes a root (at the acker): `it` gets a new root and
 * edge, and its origin. 0, or -ENOMEM (then it joins no tree).
 */
int acker_root(struct chan *ch, struct item *it, uint64_t line, uint32_t epoch, uint64_t offset);
/* An item a worker (c) puts: it joins the trees of the items c holds, if any. */
void acker_anchor(struct chan_set *cs, const struct aic_conn *c, struct item *it);
/* `it` is acked here for good (by a worker, its sink, or dropped as stale). */
void acker_acked(struct chan_set *cs, const struct item *it);
/* `it` goes to the agent `rank` (a pull): its trees touch that node. */
void acker_sent(struct chan_set *cs, const struct item *it, uint32_t rank);
/* An update of this agent's: applied now at the acker, batched to it elsewhere. */
void acker_record(struct chan_set *cs, uint64_t root, uint64_t x, uint64_t nodes);
/* An XOR frame from the agent of rank `from` (taken at the acker only). */
void acker_on_xor(struct chan_set *cs, uint32_t from, const uint8_t *p, uint32_t len);
/* Sends the XOR entries waiting, once the link to the acker lets this agent in. */
void acker_flush(struct chan_set *cs);
/*
 * A checkpoint's entry in the XOR stream (chan_set_checkpoint_mark and
 * _done): root 0, which no tree has; xor: the kind (bits 56-63), the
 * request (bits 24-55) and the process id (bits 0-23); nodes: the version.
 */
enum { XCTL_MARK = 1, XCTL_DONE = 2, XCTL_RESET = 3 };
#define XCTL_PROC_MAX 0xffffffL
static inline uint64_t xctl_encode(unsigned kind, uint64_t request, long proc)
{
	return (uint64_t)kind << 56 | (request & 0xffffffffu) << 24 |
	       ((uint64_t)proc & XCTL_PROC_MAX);
}
/* Rank's node is lost: the trees it touched that are not done are read again from their source. */
void acker_node_lost(struct chan_set *cs, uint32_t rank);
/* `it` goes back to ch's queue (chan_forget); false: its line is read again, `it` is freed. */
bool acker_requeue(struct chan *ch, struct item *it);
/* The source of ch is read to its end: SOURCE_DONE once its trees are done. */
void acker_source_check(struct chan *ch);
/* The table and the timer go (chan_set_free). */
void acker_release(struct chan_set *cs);

/* --- marks.c: checkpoints' marks and reports, at the acker ---------------- */

/* A mark, reset or report (root 0) from agent `from`, in its place among the updates. */
void marks_entry(struct chan_set *cs, uint32_t from, uint64_t x, uint64_t version);
/* An update of `root` from agent `from` (only called while a mark waits). */
void marks_touch(struct chan_set *cs, uint32_t from, uint64_t root);
/* The acker asks this agent for its updates (XFLUSH on c): sent, then XFLUSHED after them. */
void marks_on_flush_request(struct chan_set *cs, struct aic_conn *c, const uint8_t *p,
			    uint32_t len);
/* At the acker: an agent's XFLUSHED (its updates before it are in). */
void marks_on_flushed(struct chan_set *cs, const struct aic_conn *c, const uint8_t *p,
		      uint32_t len);
/* At the acker: the agent of `rank` is lost or its link gone (no answer to wait for). */
void marks_agent_gone(struct chan_set *cs, uint32_t rank);
/* The snapshots, the marks waiting and their timer go (acker_release). */
void marks_release(struct chan_set *cs);

#endif

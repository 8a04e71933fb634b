/*
 * No lost work: Apache Storm's acker over the channels (see
 * doc/design/data-plane.md, "Node loss").
 *
 * Contract. Every line a source reads is a root, with a random 64-bit id;
 * every item has a random id of its own (its `edge`) and the roots it
 * derives from. An item's edge is xored into each of its roots' values
 * when it is made and again when it is acked for good (by a worker, by the
 * sink once the line is synced, or dropped as stale), so a root's value is
 * 0 exactly when every item of its tree is acked: its line is done. What a
 * worker puts while it holds items (got, not acked) joins their trees: the
 * agent knows what each worker connection holds, and the worker acks its
 * inputs only after its puts, so a tree never comes to 0 while an item
 * derived from it is still on its way. A root also keeps the agents its
 * tree went through (made, acked or pulled there).
 *
 * The table is at rank 0's agent (ACKER_RANK), which CONFIG makes the
 * feeder of every source and the writer of every sink: O(1) memory per
 * source line in flight. The other agents batch their updates (XOR
 * entries) and send them after the current turn of the loop, on their
 * link to rank 0, in order: an agent's update for an item it put comes
 * before its update for the input it acked after. When a node is lost,
 * every tree not done that went through it is read again from its source
 * under a new root (old updates for the old root are ignored): items the
 * node held, made or had acked without the acker hearing it are covered,
 * and what survives elsewhere of the old tree becomes a duplicate, which
 * its origin (source, pass, line) makes recognisable.
 *
 * Checkpoints. A worker's checkpoint holds the effect of every line whose
 * tree was done before the worker took its state, if the worker acks an
 * item only once its state has taken the item in (the one thing asked of
 * it). Its agent puts a mark into the XOR stream when the worker says the
 * state is about to be taken (chan_set_checkpoint_mark), and the report
 * after it (chan_set_checkpoint_done); the acker, which applies the stream
 * in order, snapshots its sources' progress at the mark, without any of
 * the worker's later acks but with every other agent's updates sent
 * before (marks.c), and hands that snapshot on with the report. Lines
 * done in that snapshot are in the checkpoint; lines done later may not
 * be, and a resumed run reads them again (launcher/engine/config_msg.c).
 * Without a mark since its last report, the snapshot is the one taken at
 * that report (its next state is taken after it), or none (NULL: the run's
 * start, launcher/engine/drain.c). A process that starts again within the
 * run resets its snapshot to none (chan_set_checkpoint_reset): it resumed
 * from its checkpoint, without what the earlier start took in after that
 * checkpoint's mark.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"
#include "log.h"

/* XOR entries in one frame, at most (1.5 MB). */
#define XOR_FRAME_ENTRIES 65536

/* A random id (never 0). */
static uint64_t acker_new_id(struct chan_set *cs)
{
	uint64_t z;

	/* splitmix64, seeded once from the kernel: ids need to be unpredictable only by chance. */
	if (!cs->rng && getrandom(&cs->rng, sizeof(cs->rng), 0) != sizeof(cs->rng))
		cs->rng = (uint64_t)(uintptr_t)cs ^ UINT64_C(0x9e3779b97f4a7c15);
	do {
		z = (cs->rng += UINT64_C(0x9e3779b97f4a7c15));
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
	} while (!z);
	return z;
}

/* --- the table, at the acker ------------------------------------------------ */

/* A root is done: its source may be done too. */
static void root_done(struct chan_set *cs, const struct xroot *r)
{
	struct chan *ch = chan_find(cs, r->chan);

	if (!ch)
		return;
	if (ch->roots_open)
		ch->roots_open--;
	acker_source_check(ch);
}

/* An update from agent `from` (this one's own, or in its XOR frame), in its place. */
static void apply(struct chan_set *cs, uint32_t from, uint64_t root, uint64_t x, uint64_t nodes)
{
	struct xroot done;

	if (!root) {
		marks_entry(cs, from, x, nodes);
		return;
	}
	if (cs->pending_marks)
		marks_touch(cs, from, root);
	if (xtree_update(&cs->trees, root, x, nodes, &done) == 1)
		root_done(cs, &done);
}

int acker_root(struct chan *ch, struct item *it, uint64_t line, uint32_t epoch, uint64_t offset)
{
	struct chan_set *cs = ch->cs;
	struct xroot r = {.nodes = node_bit(cs->rank),
			  .line = line,
			  .offset = offset,
			  .chan = ch->id,
			  .epoch = epoch};

	it->origin = (struct aic_origin){.chan = ch->id, .epoch = epoch, .line = line};
	if (cs->rank != ACKER_RANK)
		return 0; /* not the acker: the line joins no tree (CONFIG never does this) */
	r.id = acker_new_id(cs);
	r.value = it->edge = acker_new_id(cs);
	if (xtree_add(&cs->trees, &r) != 0) {
		it->edge = 0;
		return -ENOMEM;
	}
	it->roots[0] = r.id;
	it->n_roots = 1;
	it->rooted = true;
	ch->roots_open++;
	return 0;
}

/* --- updates: applied here at the acker, batched to it elsewhere ------------ */

static void xtimer_expired(uv_timer_t *t)
{
	acker_flush(t->data);
}

void acker_record(struct chan_set *cs, uint64_t root, uint64_t x, uint64_t nodes)
{
	if (cs->rank == ACKER_RANK) {
		apply(cs, cs->rank, root, x, nodes);
		return;
	}
	if (cs->xn == cs->xcap) {
		uint32_t cap = cs->xcap ? cs->xcap * 2 : 256;
		uint8_t *b = realloc(cs->xbuf, 4 + (size_t)cap * AIC_XOR_ENTRY);
		if (!b) {
			/* Its tree stays open: the source's end waits (or a node loss replays it). */
			aic_log_error("no memory for the acker's updates: a source's end may wait");
			return;
		}
		cs->xbuf = b;
		cs->xcap = cap;
	}
	{
		uint8_t *e = cs->xbuf + 4 + (size_t)cs->xn++ * AIC_XOR_ENTRY;
		aic_put_u64(e, root);
		aic_put_u64(e + 8, x);
		aic_put_u64(e + 16, nodes);
	}
	if (cs->xn >= XOR_FRAME_ENTRIES) {
		acker_flush(cs);
		return;
	}
	if (!cs->xtimer) {
		cs->xtimer = malloc(sizeof(*cs->xtimer));
		if (!cs->xtimer)
			return; /* sent with the next flush (the acker's WELCOME or a full batch) */
		uv_timer_init(cs->loop, cs->xtimer);
		cs->xtimer->data = cs;
	}
	/*
	 * After this turn of the loop (or AIC_ACKER_BATCH_MS later): what else
	 * it brings joins the frame.
	 */
	if (!uv_is_active((uv_handle_t *)cs->xtimer))
		uv_timer_start(cs->xtimer, xtimer_expired, cs->acker_batch_ms, 0);
}

void acker_flush(struct chan_set *cs)
{
	struct peer *p;

	if (!cs->xn || cs->freeing)
		return;
	p = peer_find(cs, ACKER_RANK);
	if (!p || !peer_conn(cs, p) || !p->conn->authed)
		return; /* connecting: the acker's WELCOME flushes */
	aic_put_u32(cs->xbuf, cs->xn);
	if (aic_conn_send_raw(p->conn, AIC_MSG_XOR, cs->xbuf, 4 + (size_t)cs->xn * AIC_XOR_ENTRY,
			      NULL, 0) == 0)
		cs->xn = 0;
}

void acker_on_xor(struct chan_set *cs, uint32_t from, const uint8_t *p, uint32_t len)
{
	uint32_t n, i;

	if (cs->rank != ACKER_RANK || len < 4)
		return;
	n = aic_get_u32(p);
	if ((uint64_t)n * AIC_XOR_ENTRY > len - 4)
		return;
	for (i = 0; i < n; i++) {
		const uint8_t *e = p + 4 + (size_t)i * AIC_XOR_ENTRY;
		apply(cs, from, aic_get_u64(e), aic_get_u64(e + 8), aic_get_u64(e + 16));
	}
}

static void record_all(struct chan_set *cs, const struct item *it, uint64_t x, uint64_t nodes)
{
	uint32_t k;

	for (k = 0; k < it->n_roots; k++)
		acker_record(cs, it->roots[k], x, nodes);
}

void acker_anchor(struct chan_set *cs, const struct aic_conn *c, struct item *it)
{
	struct item *oldest = NULL, *last = NULL;
	size_t i;

	if (!cs->tracked)
		return;
	/*
	 * The roots of what c holds, each once. Its origin: that of the oldest
	 * item c holds that gave none yet (a worker that gets n items and puts
	 * one for each, in order, gives each the origin of its input), else
	 * that of the item c got last (a worker that puts several for one).
	 */
	for (i = 0; i < cs->n; i++) {
		struct item *h;
		/* In flight, newest first. */
		for (h = cs->chans[i].inflight; h; h = h->next) {
			uint32_t k, j;
			if (h->holder != c || !h->n_roots)
				continue;
			if (!last)
				last = h;
			if (!h->origin_given)
				oldest = h;
			for (k = 0; k < h->n_roots && it->n_roots < AIC_ITEM_ROOTS_MAX; k++) {
				for (j = 0; j < it->n_roots && it->roots[j] != h->roots[k]; j++)
					;
				if (j == it->n_roots)
					it->roots[it->n_roots++] = h->roots[k];
			}
		}
	}
	if (!it->n_roots)
		return;
	if (oldest)
		oldest->origin_given = true;
	it->origin = (oldest ? oldest : last)->origin;
	it->edge = acker_new_id(cs);
	record_all(cs, it, it->edge, node_bit(cs->rank));
}

void acker_acked(struct chan_set *cs, const struct item *it)
{
	if (it->edge)
		record_all(cs, it, it->edge, node_bit(cs->rank));
}

void acker_sent(struct chan_set *cs, const struct item *it, uint32_t rank)
{
	if (it->edge)
		record_all(cs, it, 0, node_bit(rank));
}

/* --- node loss and the end of a source -------------------------------------- */

static int replay_push(struct chan *ch, const struct xroot *r)
{
	if (ch->n_replay == ch->replay_cap) {
		size_t cap = ch->replay_cap ? ch->replay_cap * 2 : 64;
		struct replay *q = realloc(ch->replay, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		ch->replay = q;
		ch->replay_cap = cap;
	}
	ch->replay[ch->n_replay++] =
		(struct replay){.offset = r->offset, .line = r->line, .epoch = r->epoch};
	return 0;
}

void acker_node_lost(struct chan_set *cs, uint32_t rank)
{
	uint64_t bit = node_bit(rank);
	size_t i, n = 0;

	if (cs->rank != ACKER_RANK || !cs->trees.n)
		return;
	/*
	 * A slot freed during the walk may pull a later entry back into it (the
	 * table's backward shift): the slot is looked at again before moving on.
	 */
	for (i = 0; i < cs->trees.cap;) {
		struct xroot r = cs->trees.slots[i];
		struct chan *ch = chan_find(cs, r.chan);
		if (!r.id || !(r.nodes & bit) || !ch || replay_push(ch, &r) != 0) {
			i++;
			continue;
		}
		xtree_del(&cs->trees, &cs->trees.slots[i]);
		if (ch->roots_open)
			ch->roots_open--;
		n++;
	}
	if (n)
		aic_log_info("%zu source line%s whose processing went through the lost node (agent "
			     "%u) will be read again",
			     n, n == 1 ? "" : "s", rank);
	for (i = 0; i < cs->n; i++)
		if (cs->chans[i].n_replay)
			chan_pump(&cs->chans[i]);
}

/*
 * A source line's item whose holder went away without acking it goes back
 * to the queue (chan_forget), and its line must come back once, not twice:
 * a holder on a lost node also made its tree one that acker_node_lost reads
 * again. The item's tree is its own (the line's, everything in it derived
 * from the item), so the item now gets a new tree, touching this node only:
 * no replay reads its line again for the lost holder, and what the old tree
 * still holds elsewhere (what the holder put of it) is ignored, as after a
 * replay. When the old tree is gone already (the node was declared lost
 * before its link closed here: its line is read again), the item is freed,
 * not queued (false). Any other item (not a source line's, not at the acker,
 * no tree, or no memory for the new one) is queued as it is (true).
 */
bool acker_requeue(struct chan *ch, struct item *it)
{
	struct chan_set *cs = ch->cs;
	struct xroot r, *old;
	uint64_t id;

	if (cs->rank != ACKER_RANK || !it->rooted || it->producer != cs->rank || !it->edge ||
	    it->n_roots != 1)
		return true;
	old = xtree_find(&cs->trees, it->roots[0]);
	if (!old) {
		aic_log_debug("channel '%s': line %llu of a lost consumer is read again from the "
			      "source, not queued again",
			      ch->name, (unsigned long long)it->origin.line);
		own_leave(ch, it);
		item_free(cs, it);
		return false;
	}
	id = old->id;
	r = *old;
	r.id = acker_new_id(cs);
	r.value = acker_new_id(cs);
	r.nodes = node_bit(cs->rank);
	if (xtree_add(&cs->trees, &r) != 0)
		return true;
	/* The add may have moved the old root: it is found again. */
	xtree_del(&cs->trees, xtree_find(&cs->trees, id));
	it->roots[0] = r.id;
	it->edge = r.value;
	return true;
}

/* Whether c waits in the list (a GET, or a peer's PULL). */
static bool waits_in(const struct wait *w, const struct aic_conn *c)
{
	for (; w; w = w->next)
		if (w->c == c)
			return true;
	return false;
}

/*
 * Items of ch held by a worker, or pulled by a peer, that now asks for
 * more of it: a consumer gathering to the end waits on the end itself.
 */
static uint64_t held_by_waiting(const struct chan *ch)
{
	const struct item *it;
	uint64_t n = 0;

	for (it = ch->inflight; it; it = it->next)
		if (waits_in(ch->gets, it->holder) || waits_in(ch->pulls, it->holder))
			n++;
	return n;
}

void acker_source_check(struct chan *ch)
{
	/*
	 * Read to its end, nothing to read again, and every tree done: no node
	 * loss can need a line of it again. A consumer that holds the last
	 * lines un-acked while it waits for the channel's end would wait on
	 * itself: when all that is left is lines held by consumers asking for
	 * more, the end goes (a node lost after that loses what it held).
	 */
	if (!ch->src_eof || !ch->source || ch->n_replay || ch->own.n)
		return;
	if (ch->roots_open && ch->roots_open > held_by_waiting(ch))
		return;
	source_finished(ch, 0);
}

static int pos_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1];
}

json_t *chan_set_source_progress(const struct chan_set *cs, uint32_t chan)
{
	const struct chan *ch = cs && chan < cs->n ? &cs->chans[chan] : NULL;
	uint64_t(*pos)[2], next[2];
	json_t *list;
	size_t i, n = 0;

	if (!ch || (!ch->source && !ch->src_eof))
		return NULL;
	/* Done, or resumed after every line was done (the file is then never opened). */
	if (!ch->source || (ch->src_eof && !ch->again))
		return json_pack("{s:b}", "done", 1);
	pos = calloc(cs->trees.n + ch->n_replay + ch->n_keep + 1, sizeof(*pos));
	list = json_array();
	if (!pos || !list) {
		free(pos);
		json_decref(list);
		return NULL;
	}
	for (i = 0; i < cs->trees.cap; i++)
		if (cs->trees.slots[i].id && cs->trees.slots[i].chan == chan) {
			pos[n][0] = cs->trees.slots[i].epoch;
			pos[n++][1] = cs->trees.slots[i].line;
		}
	for (i = 0; i < ch->n_replay; i++) {
		pos[n][0] = ch->replay[i].epoch;
		pos[n++][1] = ch->replay[i].line;
	}
	/* A resumed source not yet read to where the earlier run was: its lines still to read again. */
	for (i = ch->keep_at; ch->resuming && i < ch->n_keep; i++) {
		pos[n][0] = ch->keep[i].epoch;
		pos[n++][1] = ch->keep[i].line;
	}
	qsort(pos, n, sizeof(*pos), pos_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(
			list, json_pack("[I,I]", (json_int_t)pos[i][0], (json_int_t)pos[i][1]));
	free(pos);
	next[0] = ch->src_eof ? ch->src_epoch + 1 : ch->src_epoch;
	next[1] = ch->src_eof ? 1 : ch->src_line + 1;
	/* Lines skipped as done in the earlier run stay done: `next` is never before its. */
	if (ch->resuming && pos_cmp(next, (uint64_t[2]){ch->resume_at.epoch, ch->resume_at.line}) < 0) {
		next[0] = ch->resume_at.epoch;
		next[1] = ch->resume_at.line;
	}
	return json_pack("{s:b,s:[I,I],s:o}", "done", 0, "next", (json_int_t)next[0],
			 (json_int_t)next[1], "unfinished", list);
}

static void free_timer(uv_handle_t *h)
{
	free(h);
}

void acker_release(struct chan_set *cs)
{
	size_t i;

	xtree_release(&cs->trees);
	free(cs->xbuf);
	cs->xbuf = NULL;
	cs->xn = cs->xcap = 0;
	if (cs->xtimer)
		uv_close((uv_handle_t *)cs->xtimer, free_timer);
	cs->xtimer = NULL;
	for (i = 0; cs->chans && i < cs->n; i++) {
		free(cs->chans[i].replay);
		cs->chans[i].replay = NULL;
	}
	marks_release(cs);
}

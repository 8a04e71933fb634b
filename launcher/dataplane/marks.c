/*
 * Checkpoints at the acker: marks and reports in the XOR stream, and the
 * sources' progress that goes with each report (acker.c, "Checkpoints").
 *
 * A worker's mark reaches the acker in its own agent's stream, in order
 * with that agent's updates, but another agent's updates that came before
 * it in time may still be on their way: in a gang, rank B acks its step's
 * inputs, the gang's all-gather then lets rank A mark, and B's acks travel
 * on B's agent's link (batched: see AIC_ACKER_BATCH_MS), A's mark on A's.
 * A snapshot taken on the mark's arrival would count B's lines not done,
 * and a resumed run would read them again. So on a mark from agent X the
 * acker asks every other agent linked to it to send what it holds and
 * answer (XFLUSH; each answers XFLUSHED on the link its updates take,
 * after them), and takes the snapshot once every answer is in, an agent
 * is lost, or MARK_WAIT_MS has passed. What comes in meanwhile is taken
 * in, but for the lines X's own updates after the mark touched: those may
 * be the marking worker's later work, which its state does not hold, and
 * count as not done. (Another agent's later work counted done here is
 * counted not done in its own workers' checkpoints, and a resumed run
 * reads every line not done in all of them: config_msg.c.) The process's
 * later marks and reports wait until then, in order.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

/* The longest a mark waits for the other agents' answers before its snapshot is taken. */
#define MARK_WAIT_MS 5000

/* A mark waiting for the other agents' answers. */
struct ckpt_mark {
	struct ckpt_mark *next;
	long proc;
	uint32_t agent;	   /* whose stream it came in */
	uint32_t round;	   /* its XFLUSH's number */
	uint64_t awaited;  /* bit k: rank k's answer */
	uint64_t start_ms; /* uv_now when it came */
	/* Lines X's updates after the mark touched: chan, epoch, line. */
	uint64_t (*touched)[3];
	size_t n_touched, cap_touched;
	/* The process's control entries that came after it: xor, version. */
	uint64_t (*held)[2];
	size_t n_held, cap_held;
};

/* The sources' progress now, by channel name (a new reference; NULL: no memory). */
static json_t *progress_now(struct chan_set *cs)
{
	json_t *o = json_object(), *p;
	size_t c;

	for (c = 0; o && c < cs->n; c++)
		if ((p = chan_set_source_progress(cs, (uint32_t)c)))
			json_object_set_new(o, cs->chans[c].name, p);
	return o;
}

static int pos_cmp(const void *a, const void *b)
{
	const json_int_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Touched lines (chan, epoch, line) in order: a channel's together, each line once after. */
static int touched_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	int k;

	for (k = 0; k < 3; k++)
		if (x[k] != y[k])
			return x[k] < y[k] ? -1 : 1;
	return 0;
}

/*
 * Lines t[0..n) (chan, epoch, line; all of channel ch, sorted) count as not
 * done in progress o (as chan_set_source_progress gives it): among its
 * "unfinished", each once, but for those not before "next" (not read
 * then). A done source becomes one read to its end with them unfinished.
 */
static void progress_undo(const struct chan *ch, json_t *o, const uint64_t (*t)[3], size_t n)
{
	json_t *p = json_object_get(o, ch->name), *list, *v;
	json_int_t(*pos)[2], next[2];
	size_t i, k = 0, u;

	if (!json_is_object(p) || !n)
		return;
	if (json_is_true(json_object_get(p, "done"))) {
		/* The last epoch read: sorted, the last line's is the highest. */
		next[0] = (ch->src_epoch > (json_int_t)t[n - 1][1] ? ch->src_epoch
								    : (json_int_t)t[n - 1][1]) +
			  1;
		p = json_pack("{s:b,s:[I,I],s:[]}", "done", 0, "next", next[0], (json_int_t)1,
			      "unfinished");
		if (!p || json_object_set_new(o, ch->name, p))
			return;
	}
	next[0] = json_integer_value(json_array_get(json_object_get(p, "next"), 0));
	next[1] = json_integer_value(json_array_get(json_object_get(p, "next"), 1));
	list = json_object_get(p, "unfinished");
	u = json_array_size(list);
	pos = calloc(u + n, sizeof(*pos));
	if (!pos)
		return;
	json_array_foreach(list, i, v) {
		pos[k][0] = json_integer_value(json_array_get(v, 0));
		pos[k++][1] = json_integer_value(json_array_get(v, 1));
	}
	for (i = 0; i < n; i++) {
		pos[k][0] = (json_int_t)t[i][1];
		pos[k][1] = (json_int_t)t[i][2];
		if (pos_cmp(pos[k], next) < 0)
			k++;
	}
	qsort(pos, k, sizeof(*pos), pos_cmp);
	json_array_clear(list);
	for (i = 0; i < k; i++)
		if (!i || pos_cmp(pos[i], pos[i - 1]))
			json_array_append_new(list, json_pack("[I,I]", pos[i][0], pos[i][1]));
	free(pos);
}

/* The snapshot slot of a process, growing the table for a new id (NULL: no memory). */
static json_t **mark_slot(struct chan_set *cs, long proc)
{
	json_t **m;
	size_t n;

	if (proc < 0)
		return NULL;
	if ((size_t)proc < cs->n_marks)
		return &cs->marks[proc];
	n = (size_t)proc + 16;
	m = realloc(cs->marks, n * sizeof(*m));
	if (!m)
		return NULL;
	memset(m + cs->n_marks, 0, (n - cs->n_marks) * sizeof(*m));
	cs->marks = m;
	cs->n_marks = n;
	return &cs->marks[proc];
}

static struct ckpt_mark *pending_of(struct chan_set *cs, long proc)
{
	struct ckpt_mark *m;

	for (m = cs->pending_marks; m && m->proc != proc; m = m->next)
		;
	return m;
}

static void mark_timer_expired(uv_timer_t *t);

static void mark_timer_arm(struct chan_set *cs)
{
	uint64_t first = UINT64_MAX, now = uv_now(cs->loop);
	struct ckpt_mark *m;

	for (m = cs->pending_marks; m; m = m->next)
		if (m->start_ms < first)
			first = m->start_ms;
	if (first == UINT64_MAX || cs->freeing)
		return;
	if (!cs->mark_timer) {
		cs->mark_timer = malloc(sizeof(*cs->mark_timer));
		if (!cs->mark_timer)
			return; /* the answers (or the agents' loss) end the wait */
		uv_timer_init(cs->loop, cs->mark_timer);
		cs->mark_timer->data = cs;
	}
	uv_timer_start(cs->mark_timer, mark_timer_expired,
		       first + MARK_WAIT_MS > now ? first + MARK_WAIT_MS - now : 0, 0);
}

/*
 * Asks every agent linked here but X to send its updates and answer: 0 and
 * the mark waits, or -1 when no agent is asked (the snapshot is now).
 */
static int mark_wait(struct chan_set *cs, long proc, uint32_t agent)
{
	struct ckpt_mark *m = calloc(1, sizeof(*m));
	uint8_t req[4];
	uint32_t k;

	if (!m)
		return -1;
	m->proc = proc;
	m->agent = agent;
	m->round = ++cs->mark_round;
	m->start_ms = uv_now(cs->loop);
	aic_put_u32(req, m->round);
	for (k = 0; k < MAX_PEERS; k++) {
		struct aic_conn *c = cs->peer_in[k];
		if (k != agent && k != cs->rank && c &&
		    aic_conn_send_raw(c, AIC_MSG_XFLUSH, req, sizeof(req), NULL, 0) == 0)
			m->awaited |= UINT64_C(1) << k;
	}
	if (!m->awaited) {
		free(m);
		return -1;
	}
	m->next = cs->pending_marks;
	cs->pending_marks = m;
	mark_timer_arm(cs);
	return 0;
}

static void entry(struct chan_set *cs, uint32_t from, uint64_t x, uint64_t version, bool held);

/* m's snapshot is taken: now, less what X touched since; then what it held back, in order. */
static void mark_snapshot(struct chan_set *cs, struct ckpt_mark *m)
{
	struct ckpt_mark **pp;
	json_t **slot = mark_slot(cs, m->proc);
	size_t i, j;

	for (pp = &cs->pending_marks; *pp && *pp != m; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = m->next;
	if (slot) {
		json_decref(*slot);
		*slot = progress_now(cs);
		/* Each channel's lines at once (a line is touched by every update of its tree). */
		if (m->n_touched)
			qsort(m->touched, m->n_touched, sizeof(*m->touched), touched_cmp);
		for (i = 0; *slot && i < m->n_touched; i = j) {
			struct chan *ch = chan_find(cs, (uint32_t)m->touched[i][0]);
			for (j = i + 1; j < m->n_touched && m->touched[j][0] == m->touched[i][0]; j++)
				;
			if (ch)
				progress_undo(ch, *slot, m->touched + i, j - i);
		}
	}
	for (i = 0; i < m->n_held; i++)
		entry(cs, m->agent, m->held[i][0], m->held[i][1], true);
	free(m->touched);
	free(m->held);
	free(m);
}

static void mark_timer_expired(uv_timer_t *t)
{
	struct chan_set *cs = t->data;
	uint64_t now = uv_now(cs->loop);
	struct ckpt_mark *m;

	for (m = cs->pending_marks; m;) {
		if (m->start_ms + MARK_WAIT_MS > now) {
			m = m->next;
			continue;
		}
		aic_log_info("a checkpoint's mark waited %d ms for agents' updates: its snapshot "
			     "is taken without them (their lines are read again on resume)",
			     MARK_WAIT_MS);
		mark_snapshot(cs, m);
		m = cs->pending_marks; /* the list may have changed */
	}
	mark_timer_arm(cs);
}

/* A mark or a report, at the acker, in its place among the updates; held: one held back. */
static void entry(struct chan_set *cs, uint32_t from, uint64_t x, uint64_t version, bool held)
{
	unsigned kind = (unsigned)(x >> 56);
	uint64_t request = (x >> 24) & 0xffffffffu;
	long proc = (long)(x & XCTL_PROC_MAX);
	struct ckpt_mark *m = pending_of(cs, proc);
	json_t **slot, *p;

	if (m) {
		if (m->n_held == m->cap_held) {
			size_t cap = m->cap_held ? m->cap_held * 2 : 4;
			uint64_t(*h)[2] = realloc(m->held, cap * sizeof(*h));
			if (!h) {
				aic_log_error("no memory to hold a checkpoint's report back");
				return;
			}
			m->held = h;
			m->cap_held = cap;
		}
		m->held[m->n_held][0] = x;
		m->held[m->n_held++][1] = version;
		return;
	}
	slot = mark_slot(cs, proc);
	if (kind == XCTL_RESET && slot) {
		json_decref(*slot);
		*slot = NULL;
	} else if (kind == XCTL_MARK && slot) {
		if (mark_wait(cs, proc, from) == 0)
			return;
		json_decref(*slot);
		*slot = progress_now(cs);
	} else if (kind == XCTL_DONE) {
		/*
		 * No memory for the slot: no snapshot, which the head reads as the
		 * run's start. The next report without a mark goes with what is done
		 * now (its state is taken after this one), or, when this one was held
		 * back for its mark, with that mark's snapshot.
		 */
		p = slot ? *slot : NULL;
		if (slot)
			*slot = held ? (p ? json_deep_copy(p) : NULL) : progress_now(cs);
		if (cs->ckpt_done)
			cs->ckpt_done(cs->ckpt_arg, proc, request, version, p);
		else
			json_decref(p);
	}
}

void marks_entry(struct chan_set *cs, uint32_t from, uint64_t x, uint64_t version)
{
	entry(cs, from, x, version, false);
}

void marks_touch(struct chan_set *cs, uint32_t from, uint64_t root)
{
	struct ckpt_mark *m;
	struct xroot *r = NULL;

	for (m = cs->pending_marks; m; m = m->next) {
		if (m->agent != from)
			continue;
		if (!r && !(r = xtree_find(&cs->trees, root)))
			return; /* done, or read again under a new root */
		if (m->n_touched == m->cap_touched) {
			size_t cap = m->cap_touched ? m->cap_touched * 2 : 64;
			uint64_t(*t)[3] = realloc(m->touched, cap * sizeof(*t));
			if (!t) {
				aic_log_error("no memory for a checkpoint's mark: its snapshot is "
					      "taken now");
				mark_snapshot(cs, m);
				return;
			}
			m->touched = t;
			m->cap_touched = cap;
		}
		m->touched[m->n_touched][0] = r->chan;
		m->touched[m->n_touched][1] = r->epoch;
		m->touched[m->n_touched++][2] = r->line;
	}
}

/* Rank k's answer is not waited for any more: its answer came (round; 0: any), or it is gone. */
static void agent_answered(struct chan_set *cs, uint32_t k, uint32_t round)
{
	struct ckpt_mark *m;

	if (k >= MAX_PEERS)
		return;
	for (m = cs->pending_marks; m;) {
		if ((round && m->round != round) || !(m->awaited & UINT64_C(1) << k)) {
			m = m->next;
			continue;
		}
		m->awaited &= ~(UINT64_C(1) << k);
		if (m->awaited) {
			m = m->next;
			continue;
		}
		mark_snapshot(cs, m);
		m = cs->pending_marks;
	}
}

void marks_on_flushed(struct chan_set *cs, const struct aic_conn *c, const uint8_t *p,
		      uint32_t len)
{
	int k = dp_peer_rank_of(cs, c);

	if (k >= 0 && len >= 4 && aic_get_u32(p))
		agent_answered(cs, (uint32_t)k, aic_get_u32(p));
}

void marks_agent_gone(struct chan_set *cs, uint32_t rank)
{
	agent_answered(cs, rank, 0);
}

void marks_on_flush_request(struct chan_set *cs, struct aic_conn *c, const uint8_t *p,
			    uint32_t len)
{
	if (len < 4)
		return;
	/* On this link: the acker hears the updates before the answer. */
	acker_flush(cs);
	aic_conn_send_raw(c, AIC_MSG_XFLUSHED, p, 4, NULL, 0);
}

void chan_set_on_checkpoint(struct chan_set *cs,
			    void (*done)(void *arg, long proc, uint64_t request, uint64_t version,
					 json_t *progress),
			    void *arg)
{
	if (!cs)
		return;
	cs->ckpt_done = done;
	cs->ckpt_arg = arg;
}

/* An entry of this agent's: applied now at the acker, batched to it elsewhere (acker.c). */
static int control(struct chan_set *cs, unsigned kind, uint64_t request, long proc, uint64_t v)
{
	if (!cs || !cs->tracked || proc < 0 || proc > XCTL_PROC_MAX || request > 0xffffffffu)
		return -ENOENT;
	acker_record(cs, 0, xctl_encode(kind, request, proc), v);
	return 0;
}

int chan_set_checkpoint_mark(struct chan_set *cs, long proc)
{
	return control(cs, XCTL_MARK, 0, proc, 0);
}

int chan_set_checkpoint_reset(struct chan_set *cs, long proc)
{
	return control(cs, XCTL_RESET, 0, proc, 0);
}

int chan_set_checkpoint_done(struct chan_set *cs, long proc, uint64_t request, uint64_t version)
{
	return control(cs, XCTL_DONE, request, proc, version);
}

static void free_timer(uv_handle_t *h)
{
	free(h);
}

void marks_release(struct chan_set *cs)
{
	size_t i;

	while (cs->pending_marks) {
		struct ckpt_mark *m = cs->pending_marks;
		cs->pending_marks = m->next;
		free(m->touched);
		free(m->held);
		free(m);
	}
	if (cs->mark_timer)
		uv_close((uv_handle_t *)cs->mark_timer, free_timer);
	cs->mark_timer = NULL;
	for (i = 0; i < cs->n_marks; i++)
		json_decref(cs->marks[i]);
	free(cs->marks);
	cs->marks = NULL;
	cs->n_marks = 0;
}

/*
 * Phases: two stages that share GPUs in turns (colocate_with: {stage,
 * mode: alternate}). This file holds the lock that sequences them, which
 * the agent and the head (phase_head.c) both use, and the agent's side.
 *
 * The lock's contract: a pair has two sides, 0 its host stage and 1 its
 * guest. At any time at most one side's processes are inside their phase
 * (held); any number of that side's processes may be. A side is ready when
 * a process of it waits, or, for a gang, when every rank does (its ranks
 * go in together, so none waits in a collective for a rank kept out). When
 * the holders have all ended, the other side goes in if it is ready, else
 * the same side again if it is; while they hold, a newcomer of their side
 * joins them unless the other side is ready (then it waits its turn, so
 * neither side starves). Holders are asked to yield (should_yield) while
 * the other side is ready. A holder that is gone (its connection closed:
 * a crash) ends its phase as if it had said so.
 *
 * The agent arbitrates a pair without a gang on its own, per node: every
 * process sharing those GPUs is on that node, so a handoff is one frame in
 * and one out, with no round trip to the head. A pair with a gang in it is
 * arbitrated by the head for every node at once (a gang's ranks switch
 * together): the agent passes its workers' asks and ends on (PHASE_ASK,
 * PHASE_DONE) and answers a worker when the head gives its turn
 * (PHASE_TURN). Either way the agent tells the head each turn's begin and
 * end, which status.json and summary.json count.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "internal.h"
#include "wire.h"

/* An alternating pair, as the agent knows it from PHASES. */
struct agent_group {
	char stage[2][64]; /* host, guest */
	bool via_head;
	int yield_side;		/* via_head: the side the head asks to yield, -1: none */
	struct phase_lock lock; /* not via_head */
};

/* --- the lock -------------------------------------------------------- */

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Wall-clock seconds, for the timeline (comparable between nodes as their clocks are). */
static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void phase__lock_init(struct phase_lock *l, size_t group, const struct phase_lock_ops *ops,
		      void *arg)
{
	memset(l, 0, sizeof(*l));
	l->owner = l->last = -1;
	l->group = group;
	l->ops = ops;
	l->arg = arg;
}

void phase__lock_release(struct phase_lock *l)
{
	free(l->q[0]);
	free(l->q[1]);
	free(l->held);
	l->q[0] = l->q[1] = l->held = NULL;
	l->nq[0] = l->nq[1] = l->nheld = 0;
}

static bool same(const struct phase_who *a, const struct phase_who *b)
{
	return a->conn == b->conn && a->proc == b->proc;
}

static bool ready(const struct phase_lock *l, int side)
{
	return l->nq[side] > 0 && (l->need[side] == 0 || l->nq[side] >= (size_t)l->need[side]);
}

static int push(struct phase_who **arr, size_t *n, const struct phase_who *w)
{
	struct phase_who *na = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!na)
		return -ENOMEM;
	na[(*n)++] = *w;
	*arr = na;
	return 0;
}

/* Removes w from arr; whether it was there. */
static bool drop(struct phase_who *arr, size_t *n, const struct phase_who *w)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (same(&arr[i], w)) {
			memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(*arr));
			(*n)--;
			return true;
		}
	return false;
}

static void note_version(struct phase_version *v, size_t *n, uint32_t stream, uint64_t version)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (v[i].stream == stream) {
			if (version > v[i].version)
				v[i].version = version;
			return;
		}
	if (*n < AIC_PHASE_VERSIONS_MAX)
		v[(*n)++] = (struct phase_version){stream, version};
}

/* Lets the waiting processes of the side whose turn it is in, starting or ending turns. */
static void run(struct phase_lock *l)
{
	struct phase_who *q;
	size_t n, i;
	int side;

	if (l->nheld == 0) {
		if (l->turn) {
			l->turn = false;
			l->idle_us = mono_us();
			l->ops->event(l->arg, l, l->owner, false, wall_s(),
				      (int64_t)(l->idle_us - l->turn_us));
		}
		if (l->owner >= 0 && ready(l, !l->owner))
			side = !l->owner;
		else if (l->owner >= 0 && ready(l, l->owner))
			side = l->owner;
		else if (l->owner < 0 && (ready(l, 0) || ready(l, 1)))
			side = ready(l, 0) ? 0 : 1;
		else
			return;
		if (side != l->owner) {
			/* What the side that held published, the side that wakes waits for. */
			memcpy(l->carry, l->pub, sizeof(l->carry));
			l->ncarry = l->npub;
			l->npub = 0;
		}
		l->owner = side;
		l->turn = true;
		l->turn_us = mono_us();
		l->ops->event(l->arg, l, side, true, wall_s(),
			      l->last >= 0 && l->last != side ? (int64_t)(l->turn_us - l->idle_us)
							      : -1);
		l->last = side;
	} else if (ready(l, !l->owner) || !ready(l, l->owner)) {
		return;
	}
	/* Taken first: a grant may call back into the lock (a failed send closes). */
	q = l->q[l->owner];
	n = l->nq[l->owner];
	l->q[l->owner] = NULL;
	l->nq[l->owner] = 0;
	for (i = 0; i < n; i++) {
		if (push(&l->held, &l->nheld, &q[i]) != 0)
			continue; /* out of memory: it waits forever rather than hold uncounted */
		l->ops->grant(l->arg, l, &q[i]);
	}
	free(q);
}

int phase__lock_ask(struct phase_lock *l, int side, const struct phase_who *who)
{
	int rc;

	if (side != 0 && side != 1)
		return -EINVAL;
	rc = push(&l->q[side], &l->nq[side], who);
	if (rc == 0)
		run(l);
	return rc;
}

void phase__lock_done(struct phase_lock *l, const struct phase_who *who,
		      const struct phase_version *v, size_t n, bool gone)
{
	size_t i;

	if (drop(l->held, &l->nheld, who))
		for (i = 0; i < n; i++)
			note_version(l->pub, &l->npub, v[i].stream, v[i].version);
	if (gone) {
		drop(l->q[0], &l->nq[0], who);
		drop(l->q[1], &l->nq[1], who);
	}
	run(l);
}

int phase__lock_yield_side(const struct phase_lock *l)
{
	return l->turn && l->nheld > 0 && ready(l, !l->owner) ? l->owner : -1;
}

/* --- the agent's side ------------------------------------------------ */

/* A worker of a head-arbitrated pair: asked (waiting for PHASE_TURN), or holding. */
struct phase_remote {
	long proc;
	struct aic_conn *conn;
	size_t group;
	bool held;
};

/* The group and side of a stage, false when it alternates with none. */
static bool find_side(const struct agent_phase *k, const char *stage, size_t *group, int *side)
{
	size_t g;
	int s;

	for (g = 0; stage && g < k->n; g++)
		for (s = 0; s < 2; s++)
			if (!strcmp(k->g[g].stage[s], stage)) {
				*group = g;
				*side = s;
				return true;
			}
	return false;
}

/* PHASE_GRANT: u32 count, then the versions. */
static void send_grant(struct aic_conn *c, const struct phase_version *v, size_t n)
{
	uint8_t buf[4 + AIC_PHASE_VERSIONS_MAX * AIC_PHASE_VERSION_ENTRY];
	size_t i;

	if (n > AIC_PHASE_VERSIONS_MAX)
		n = AIC_PHASE_VERSIONS_MAX;
	aic_put_u32(buf, (uint32_t)n);
	for (i = 0; i < n; i++)
		aic_phase_version_encode(buf + 4 + i * AIC_PHASE_VERSION_ENTRY, v[i].stream,
					 v[i].version);
	aic_conn_send_raw(c, AIC_MSG_PHASE_GRANT, buf, 4 + n * AIC_PHASE_VERSION_ENTRY, NULL, 0);
}

static void send_state(struct aic_conn *c, bool yield)
{
	uint8_t buf[4];

	aic_put_u32(buf, yield ? AIC_PHASE_YIELD : 0);
	aic_conn_send_raw(c, AIC_MSG_PHASE_STATE, buf, sizeof(buf), NULL, 0);
}

static void to_head(struct agent_phase *k, uint16_t type, json_t *m)
{
	if (k->head && !k->head->closing && m)
		aic_conn_send(k->head, type, m);
	json_decref(m);
}

static void local_grant(void *arg, struct phase_lock *l, const struct phase_who *who)
{
	(void)arg;
	send_grant(who->conn, l->carry, l->ncarry);
}

static void local_event(void *arg, struct phase_lock *l, int side, bool begin, double t, int64_t us)
{
	struct agent_phase *k = arg;

	to_head(k, AIC_MSG_PHASE_EVENT,
		json_pack("{s:I,s:s,s:s,s:f,s:I}", "group", (json_int_t)l->group, "stage",
			  k->g[l->group].stage[side], "event", begin ? "begin" : "end", "t", t,
			  "us", (json_int_t)us));
}

static const struct phase_lock_ops local_ops = {.grant = local_grant, .event = local_event};

static json_t *versions_json(const struct phase_version *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(
			a, json_pack("[I,I]", (json_int_t)v[i].stream, (json_int_t)v[i].version));
	return a;
}

/* Reads [[stream, version]...] into v (at most AIC_PHASE_VERSIONS_MAX); returns how many. */
size_t phase__versions_from_json(const json_t *a, struct phase_version *v)
{
	size_t i, n = 0;

	for (i = 0; i < json_array_size(a); i++) {
		const json_t *e = json_array_get(a, i);
		json_int_t s = json_integer_value(json_array_get(e, 0));
		json_int_t ver = json_integer_value(json_array_get(e, 1));
		if (n < AIC_PHASE_VERSIONS_MAX && s >= 0 && s <= UINT32_MAX && ver >= 0)
			v[n++] = (struct phase_version){(uint32_t)s, (uint64_t)ver};
	}
	return n;
}

/* PHASES from the head: the pairs, each arbitrated here or by the head. */
static void on_phases(struct agent_phase *k, const json_t *m)
{
	const json_t *groups = json_object_get(m, "groups");
	size_t i, n = json_array_size(groups);

	if (k->g || n == 0 || !(k->g = calloc(n, sizeof(*k->g))))
		return;
	k->n = n;
	for (i = 0; i < n; i++) {
		const json_t *g = json_array_get(groups, i), *st = json_object_get(g, "stages");
		snprintf(k->g[i].stage[0], sizeof(k->g[i].stage[0]), "%s",
			 json_string_value(json_array_get(st, 0)) ?: "");
		snprintf(k->g[i].stage[1], sizeof(k->g[i].stage[1]), "%s",
			 json_string_value(json_array_get(st, 1)) ?: "");
		k->g[i].via_head = json_is_true(json_object_get(g, "via_head"));
		k->g[i].yield_side = -1;
		phase__lock_init(&k->g[i].lock, i, &local_ops, k);
	}
}

static struct phase_remote *remote(struct agent_phase *k, long proc, size_t group)
{
	size_t i;

	for (i = 0; i < k->nrem; i++)
		if (k->rem[i].proc == proc && k->rem[i].group == group)
			return &k->rem[i];
	return NULL;
}

static void remote_drop(struct agent_phase *k, struct phase_remote *r)
{
	size_t i = (size_t)(r - k->rem);

	memmove(r, r + 1, (k->nrem - i - 1) * sizeof(*r));
	k->nrem--;
}

void agent__phase_msg(struct agent_phase *k, struct aic_conn *head, uint16_t type, const json_t *m)
{
	struct phase_version v[AIC_PHASE_VERSIONS_MAX];
	json_int_t g = json_integer_value(json_object_get(m, "group"));
	struct phase_remote *r;

	k->head = head;
	if (!m)
		return;
	if (type == AIC_MSG_PHASES) {
		on_phases(k, m);
	} else if (type == AIC_MSG_PHASE_TURN && g >= 0 && (size_t)g < k->n) {
		r = remote(k, (long)json_integer_value(json_object_get(m, "id")), (size_t)g);
		if (r && !r->held) {
			r->held = true;
			send_grant(r->conn, v,
				   phase__versions_from_json(json_object_get(m, "versions"), v));
		}
	} else if (type == AIC_MSG_PHASE_YIELD && g >= 0 && (size_t)g < k->n) {
		k->g[g].yield_side = (int)json_integer_value(json_object_get(m, "side"));
	}
}

bool agent__phase_frame(struct agent_phase *k, struct aic_conn *head, struct aic_conn *c,
			const char *stage, long proc, const struct aic_frame *f)
{
	struct phase_version v[AIC_PHASE_VERSIONS_MAX];
	struct phase_who who = {c, 0};
	struct phase_remote *r;
	size_t group, n = 0, i;
	int side;

	if (f->type < AIC_MSG_PHASE_BEGIN || f->type > AIC_MSG_PHASE_STATE)
		return false;
	k->head = head;
	if (f->type == AIC_MSG_PHASE_END) {
		n = f->length >= 4 ? aic_get_u32(f->payload) : 0;
		if (f->length < 4 || n > AIC_PHASE_VERSIONS_MAX ||
		    f->length < 4 + n * AIC_PHASE_VERSION_ENTRY) {
			aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO,
					    "PHASE_END: bad versions");
			return true;
		}
		for (i = 0; i < n; i++)
			aic_phase_version_decode(f->payload + 4 + i * AIC_PHASE_VERSION_ENTRY,
						 &v[i].stream, &v[i].version);
	}
	if (!find_side(k, stage, &group, &side)) {
		/* A stage that alternates with none holds its GPUs always. */
		if (f->type == AIC_MSG_PHASE_BEGIN)
			send_grant(c, NULL, 0);
		else if (f->type == AIC_MSG_PHASE_END || f->type == AIC_MSG_PHASE_POLL)
			send_state(c, false);
		else
			aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, NULL);
		return true;
	}
	switch (f->type) {
	case AIC_MSG_PHASE_BEGIN:
		if (!k->g[group].via_head) {
			if (phase__lock_ask(&k->g[group].lock, side, &who) != 0)
				aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
			break;
		}
		if (proc < 0 || remote(k, proc, group)) {
			aic_conn_send_error(c, AIC_MSG_ERROR, proc < 0 ? -EPERM : -EALREADY,
					    proc < 0 ? "not a worker run by this agent" : NULL);
			break;
		}
		r = realloc(k->rem, (k->nrem + 1) * sizeof(*k->rem));
		if (!r) {
			aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
			break;
		}
		k->rem = r;
		k->rem[k->nrem++] = (struct phase_remote){proc, c, group, false};
		to_head(k, AIC_MSG_PHASE_ASK,
			json_pack("{s:I,s:I,s:i}", "id", (json_int_t)proc, "group",
				  (json_int_t)group, "side", side));
		break;
	case AIC_MSG_PHASE_END:
		if (!k->g[group].via_head) {
			phase__lock_done(&k->g[group].lock, &who, v, n, false);
		} else if ((r = remote(k, proc, group)) && r->held) {
			remote_drop(k, r);
			to_head(k, AIC_MSG_PHASE_DONE,
				json_pack("{s:I,s:I,s:o,s:b}", "id", (json_int_t)proc, "group",
					  (json_int_t)group, "versions", versions_json(v, n),
					  "gone", 0));
		}
		send_state(c, false);
		break;
	case AIC_MSG_PHASE_POLL:
		send_state(c, k->g[group].via_head
				      ? k->g[group].yield_side == side
				      : phase__lock_yield_side(&k->g[group].lock) == side);
		break;
	default:
		aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, NULL);
		break;
	}
	return true;
}

void agent__phase_closed(struct agent_phase *k, struct aic_conn *head, struct aic_conn *c)
{
	struct phase_who who = {c, 0};
	size_t g, i;

	k->head = head;
	for (g = 0; g < k->n; g++)
		if (!k->g[g].via_head)
			phase__lock_done(&k->g[g].lock, &who, NULL, 0, true);
	for (i = k->nrem; i-- > 0;)
		if (k->rem[i].conn == c) {
			to_head(k, AIC_MSG_PHASE_DONE,
				json_pack("{s:I,s:I,s:[],s:b}", "id", (json_int_t)k->rem[i].proc,
					  "group", (json_int_t)k->rem[i].group, "versions", "gone",
					  1));
			remote_drop(k, &k->rem[i]);
		}
}

void agent__phase_release(struct agent_phase *k)
{
	size_t g;

	for (g = 0; g < k->n; g++)
		phase__lock_release(&k->g[g].lock);
	free(k->g);
	free(k->rem);
	memset(k, 0, sizeof(*k));
}

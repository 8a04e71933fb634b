/*
 * The lock that sequences two stages sharing GPUs in turns
 * (launcher/engine/phase.c's contract), alone: who is let in and when, what
 * the side that wakes is told to wait for, who is asked to yield, a gang
 * let in whole, and a holder that is gone.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "internal.h"

/* What the lock did: grants in order (process ids), with the versions carried. */
struct seen {
	long granted[32];
	uint64_t carried[32]; /* the version of stream 0 carried, 0: none */
	int n;
	int begins, ends, switches;
};

static void grant(void *arg, struct phase_lock *l, const struct phase_who *who)
{
	struct seen *s = arg;
	size_t i;

	s->carried[s->n] = 0;
	for (i = 0; i < l->ncarry; i++)
		if (l->carry[i].stream == 0)
			s->carried[s->n] = l->carry[i].version;
	s->granted[s->n++] = who->proc;
}

static void event(void *arg, struct phase_lock *l, int side, bool begin, double t, int64_t us)
{
	struct seen *s = arg;

	(void)l;
	(void)side;
	(void)t;
	if (begin) {
		s->begins++;
		s->switches += us >= 0;
	} else {
		s->ends++;
	}
}

static const struct phase_lock_ops ops = {.grant = grant, .event = event};

#define WHO(p) (&(struct phase_who){NULL, (p)})

static void ask(struct phase_lock *l, int side, long p)
{
	assert_int_equal(phase__lock_ask(l, side, WHO(p)), 0);
}

static void done(struct phase_lock *l, long p, uint64_t version)
{
	struct phase_version v = {0, version};

	phase__lock_done(l, WHO(p), &v, version ? 1 : 0, false);
}

/* Replicas on both sides: turns alternate, newcomers wait while the other side is ready. */
static void replicas_alternate(void **state)
{
	struct phase_lock l;
	struct seen s = {0};

	(void)state;
	phase__lock_init(&l, 0, &ops, &s);
	ask(&l, 1, 10); /* a rollout, first: the GPUs are free */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.granted[0], 10);
	assert_int_equal(phase__lock_yield_side(&l), -1);
	ask(&l, 0, 20); /* the trainer waits, and the rollout is asked to yield */
	assert_int_equal(s.n, 1);
	assert_int_equal(phase__lock_yield_side(&l), 1);
	ask(&l, 1, 11); /* another rollout does not join: the trainer is ready */
	assert_int_equal(s.n, 1);
	done(&l, 10, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.granted[1], 20);
	assert_int_equal(phase__lock_yield_side(&l), 0); /* rollout 11 waits */
	done(&l, 20, 7);				 /* the trainer published version 7 */
	assert_int_equal(s.n, 3);
	assert_int_equal(s.granted[2], 11);
	assert_int_equal(s.carried[2], 7); /* the rollout that wakes waits for it */
	ask(&l, 1, 10);			   /* nobody else waits: it joins */
	assert_int_equal(s.n, 4);
	assert_int_equal(s.granted[3], 10);
	assert_int_equal(s.carried[3], 7);
	done(&l, 11, 0);
	done(&l, 10, 0);
	assert_int_equal(s.begins, 3);
	assert_int_equal(s.ends, 3);
	assert_int_equal(s.switches, 2);
	ask(&l, 1, 10); /* the same side again after an idle spell: a turn, not a switch */
	assert_int_equal(s.begins, 4);
	assert_int_equal(s.switches, 2);
	phase__lock_release(&l);
}

/* A gang side goes in whole: not before every rank asks, then all at once. */
static void gang_whole(void **state)
{
	struct phase_lock l;
	struct seen s = {0};

	(void)state;
	phase__lock_init(&l, 0, &ops, &s);
	l.need[0] = 2;
	ask(&l, 0, 0); /* rank 0 alone: not yet */
	assert_int_equal(s.n, 0);
	ask(&l, 1, 10); /* a rollout goes first */
	assert_int_equal(s.n, 1);
	assert_int_equal(phase__lock_yield_side(&l), -1); /* half a gang is not ready */
	ask(&l, 0, 1);
	assert_int_equal(phase__lock_yield_side(&l), 1);
	assert_int_equal(s.n, 1);
	done(&l, 10, 0);
	assert_int_equal(s.n, 3); /* both ranks, together */
	assert_true((s.granted[1] == 0 && s.granted[2] == 1) ||
		    (s.granted[1] == 1 && s.granted[2] == 0));
	done(&l, 0, 4);
	ask(&l, 1, 10); /* rank 1 still holds: the rollout waits */
	assert_int_equal(s.n, 3);
	done(&l, 1, 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.carried[3], 4);
	phase__lock_release(&l);
}

/* A holder that is gone (a crash) gives the GPUs up; a waiter that is gone waits no more. */
static void gone(void **state)
{
	struct phase_lock l;
	struct seen s = {0};

	(void)state;
	phase__lock_init(&l, 0, &ops, &s);
	ask(&l, 0, 20);
	ask(&l, 1, 10);
	ask(&l, 1, 11);
	phase__lock_done(&l, WHO(11), NULL, 0, true); /* 11 crashed while waiting */
	phase__lock_done(&l, WHO(20), NULL, 0, true); /* the trainer crashed holding */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.granted[1], 10);
	assert_int_equal(l.nq[1], 0);
	phase__lock_done(&l, WHO(10), NULL, 0, false);
	assert_int_equal(l.nheld, 0);
	assert_int_equal(phase__lock_ask(&l, 2, WHO(1)), -EINVAL);
	phase__lock_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replicas_alternate),
		cmocka_unit_test(gang_whole),
		cmocka_unit_test(gone),
	};

	return aic_test_run(tests);
}

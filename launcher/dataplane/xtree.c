/*
 * The acker's table of source items whose processing is not done (Apache
 * Storm's acker, see internal.h and doc/design/data-plane.md): one entry
 * per root, found by its random id, in an open-addressing hash table
 * (linear probing, deletion by backward shift, so no tombstones).
 *
 * A root's value is the xor of the ids of the items of its tree that were
 * made and not yet acked: every item's id is xored in twice, once when it
 * is made and once when it is acked, so the value is 0 exactly when every
 * item made is acked (ids are random 64-bit: a tree that is not done comes
 * to 0 by chance with probability 2^-64). A pure structure: no I/O, so
 * tests/unit/test_xtree.c drives it alone.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define XTREE_MIN_SLOTS 64

/* Where id hashes to (ids are random already: fold them, for ids that are not). */
static size_t slot_of_id(const struct xtree *t, uint64_t id)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return (size_t)id & (t->cap - 1);
}

static int grow(struct xtree *t)
{
	size_t cap = t->cap ? t->cap * 2 : XTREE_MIN_SLOTS, i, k;
	struct xroot *old = t->slots, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	t->slots = slots;
	for (i = 0, k = t->cap, t->cap = cap; i < k; i++) {
		size_t s;
		if (!old[i].id)
			continue;
		for (s = slot_of_id(t, old[i].id); slots[s].id; s = (s + 1) & (cap - 1))
			;
		slots[s] = old[i];
	}
	free(old);
	return 0;
}

void xtree_release(struct xtree *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

struct xroot *xtree_find(struct xtree *t, uint64_t id)
{
	size_t s;

	if (!id || !t->n)
		return NULL;
	for (s = slot_of_id(t, id); t->slots[s].id; s = (s + 1) & (t->cap - 1))
		if (t->slots[s].id == id)
			return &t->slots[s];
	return NULL;
}

int xtree_add(struct xtree *t, const struct xroot *r)
{
	size_t s;

	if (!r->id)
		return -EINVAL;
	if (xtree_find(t, r->id))
		return -EEXIST;
	/* At most three quarters full: probes stay short. */
	if ((t->n + 1) * 4 > t->cap * 3 && grow(t) != 0)
		return -ENOMEM;
	for (s = slot_of_id(t, r->id); t->slots[s].id; s = (s + 1) & (t->cap - 1))
		;
	t->slots[s] = *r;
	t->n++;
	return 0;
}

void xtree_del(struct xtree *t, struct xroot *r)
{
	size_t hole = (size_t)(r - t->slots), s = hole;

	/* Backward shift: entries after the hole that may sit there move up. */
	for (;;) {
		size_t want;
		s = (s + 1) & (t->cap - 1);
		if (!t->slots[s].id)
			break;
		want = slot_of_id(t, t->slots[s].id);
		/* Stays when its wanted slot lies cyclically in (hole, s]. */
		if (hole <= s ? (want > hole && want <= s) : (want > hole || want <= s))
			continue;
		t->slots[hole] = t->slots[s];
		hole = s;
	}
	memset(&t->slots[hole], 0, sizeof(t->slots[hole]));
	t->n--;
}

int xtree_update(struct xtree *t, uint64_t id, uint64_t x, uint64_t nodes, struct xroot *done)
{
	struct xroot *r = xtree_find(t, id);

	if (!r)
		return -ENOENT;
	r->value ^= x;
	r->nodes |= nodes;
	if (r->value)
		return 0;
	if (done)
		*done = *r;
	xtree_del(t, r);
	return 1;
}

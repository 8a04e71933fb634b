/*
 * The solver's nodes: reading the input, the cores processes take (and,
 * with soft CPUs, share), the node a replica goes to (pack or spread), a
 * process's NUMA node and NIC, and the messages and notes about one node.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"

/* --- cores ----------------------------------------------------------- */

/* Every allowed core of n is free again: a new round of soft CPUs. */
static void cores_new_round(struct node *n)
{
	struct aic_cpuset x;
	size_t c;

	n->n_free_cores = 0;
	for (c = 0; c < n->t->n_cores; c++) {
		aic_cpuset_and(&x, &n->t->cores[c].pus, &n->cpus);
		n->core_free[c] = !aic_cpuset_empty(&x);
		n->n_free_cores += n->core_free[c];
	}
}

/*
 * Takes `want` free cores on node n for a process holding GPUs `gpus`, into
 * *cpus. Local cores first, then any. Returns false (taking nothing) when
 * the node has fewer than `want` free cores, unless `soft`: the node's
 * cores then start a new round (at most all of them for one process).
 */
bool aic__place_take_cores(struct node *n, uint64_t gpus, int want, bool soft,
			   struct aic_cpuset *cpus)
{
	const struct aic_topo *t = n->t;
	struct aic_cpuset local;
	size_t c, pass;
	int got = 0, g, asked = want;

	aic_cpuset_zero(cpus);
	if (want == 0) {
		*cpus = n->cpus;
		return true;
	}
	if (n->n_free_cores < want) {
		if (!soft || n->n_cores == 0)
			return false;
		cores_new_round(n);
		if (want > n->n_cores)
			want = n->n_cores;
	}
	n->cores_asked += asked;
	aic_cpuset_zero(&local);
	for (g = 0; g < AIC_PLACE_MAX_GPUS; g++)
		if (gpus >> g & 1)
			aic_cpuset_or(&local, &local, &t->gpus[g].cpus);
	/*
	 * Pass 0: cores local to the GPUs. Pass 1 (CPU-only processes first):
	 * cores local to the fewest GPUs. Pass 2: any free core.
	 */
	for (pass = gpus ? 0 : 1; pass < 3 && got < want; pass++) {
		int level, max_level = pass == 1 ? (int)t->n_gpus : 0;
		for (level = 0; level <= max_level && got < want; level++)
			for (c = 0; c < t->n_cores && got < want; c++) {
				struct aic_cpuset x;
				if (!n->core_free[c])
					continue;
				aic_cpuset_and(&x, &t->cores[c].pus, &local);
				if (pass == 0 && aic_cpuset_empty(&x))
					continue;
				if (pass == 1 && n->core_gpus[c] != level)
					continue;
				n->core_free[c] = false;
				n->n_free_cores--;
				aic_cpuset_and(&x, &t->cores[c].pus, &n->cpus);
				aic_cpuset_or(cpus, cpus, &x);
				got++;
			}
	}
	return true;
}

/* --- the node for a replica: pack or spread ---------------------------- */

/* How many processes of stage si node i holds (those held for aic_place_more too). */
static int stage_on(const struct solver *s, size_t si, size_t node)
{
	size_t i;
	int n = 0;

	for (i = 0; i < s->n_procs; i++)
		n += s->procs[i].stage == si && s->procs[i].node == node;
	return n;
}

/*
 * Stage si's processes per node (s->on), brought up to date with the
 * processes placed since the last call; NULL when out of memory (the
 * caller counts with stage_on then).
 */
static int *stage_counts(struct solver *s, size_t si)
{
	size_t i;

	if (!s->on && !(s->on = calloc(s->n_nodes, sizeof(*s->on))))
		return NULL;
	if (s->on_stage != si || s->on_upto > s->n_procs) {
		memset(s->on, 0, s->n_nodes * sizeof(*s->on));
		s->on_stage = si;
		s->on_upto = 0;
	}
	for (i = s->on_upto; i < s->n_procs; i++)
		if (s->procs[i].stage == si && s->procs[i].node < s->n_nodes)
			s->on[s->procs[i].node]++;
	s->on_upto = s->n_procs;
	return s->on;
}

/* Why a replica went where it did (plan tables show it). */
static const char *const WHY_ONLY = "the only node with room";
static const char *const WHY_PACK = "pack: best-linked free GPUs, then the fullest node";
static const char *const WHY_SPREAD = "spread: fewest of its stage here, GPUs as well linked";
static const char *const WHY_LINKS = "best-linked free GPUs (spreading would cost links)";
static const char *const WHY_CORES = "most free cores";
static const char *const WHY_SPREAD_CPU = "spread: fewest of its stage here, then most free cores";

/*
 * Whether node n can take a replica of st (on its GPUs *g, of quality *q):
 * the answer depends only on the node's free GPUs and cores, so it is kept
 * (n->memo) until those change, which is only on the node a replica took.
 */
/*
 * The best group of k of the GPUs `avail` on topology t: the same answer
 * for every node of the same topology and free GPUs, so the last one is
 * kept (s->group): a job's nodes are mostly alike, and all free or all
 * taken.
 */
static bool best_group(struct solver *s, const struct aic_topo *t, uint64_t avail, int k,
		       uint64_t *g, struct quality *q)
{
	if (s->scan) /* the reference: nothing kept */
		return aic__place_best_group(t, avail, k, g, q);
	if (!s->group.valid || s->group.t != t || s->group.avail != avail || s->group.k != k) {
		s->group.ok = aic__place_best_group(t, avail, k, &s->group.g, &s->group.q);
		s->group.t = t;
		s->group.avail = avail;
		s->group.k = k;
		s->group.valid = true;
	}
	*g = s->group.g;
	*q = s->group.q;
	return s->group.ok;
}

static bool usable(struct solver *s, struct node *n, const struct aic_stage *st, bool share,
		   uint64_t *g, struct quality *q)
{
	if (n->memo.st != st || n->memo.free != n->free || n->memo.n_free_cores != n->n_free_cores ||
	    n->memo.share != share || n->memo.down != n->down) {
		n->memo.st = st;
		n->memo.free = n->free;
		n->memo.n_free_cores = n->n_free_cores;
		n->memo.share = share;
		n->memo.down = n->down;
		n->memo.ok = !n->down && (share || n->n_free_cores >= st->cpus) &&
			     (!st->cpus || n->n_cores) &&
			     best_group(s, n->t, n->free, st->gpus, &n->memo.g, &n->memo.q);
	}
	*g = n->memo.g;
	*q = n->memo.q;
	return n->memo.ok;
}

/*
 * The node for one replica of stage si and, in *mask, its GPUs there, and
 * in *why the reason; -1 when none has them free (or the free cores too,
 * unless `share`).
 */
static int pick_scan(struct solver *s, size_t si, bool share, uint64_t *mask, const char **why)
{
	const struct aic_stage *st = &s->spec->stages[si];
	bool spread = st->placement == AIC_PLACEMENT_SPREAD;
	struct quality bq = {0};
	int best = -1, best_on = 0, fewest_on = 1 << 30, n_fit = 0;
	int *count = spread ? stage_counts(s, si) : NULL;
	size_t i;

	s->group.valid = false; /* kept within one scan only */
	*mask = 0;
	for (i = 0; i < s->n_nodes; i++) {
		struct node *n = &s->nodes[i];
		struct quality q, lq, lbq;
		uint64_t g;
		int c, on;
		if (!usable(s, n, st, share, &g, &q))
			continue;
		n_fit++;
		on = !spread ? 0 : count ? count[i] : stage_on(s, si, i);
		if (on < fewest_on)
			fewest_on = on;
		if (st->gpus == 0) {
			/* CPU-only: the most free cores (spread: the fewest of the stage first). */
			if (best < 0 || on < best_on ||
			    (on == best_on && n->n_free_cores > s->nodes[best].n_free_cores)) {
				best = (int)i;
				best_on = on;
			}
			continue;
		}
		/*
		 * Spread compares the links within the set first, then the
		 * stage's count on the node, then the rest of the quality.
		 */
		lq = q;
		lbq = bq;
		lq.spare = lbq.spare = 0;
		c = best < 0 ? 1 : spread ? aic__place_cmp_quality(&lq, &lbq) : 0;
		if (c == 0 && spread && best >= 0 && on != best_on)
			c = on < best_on ? 1 : -1;
		if (c == 0 && best >= 0)
			c = aic__place_cmp_quality(&q, &bq);
		if (c > 0 || (c == 0 && popcount(n->free) < popcount(s->nodes[best].free))) {
			best = (int)i;
			best_on = on;
			bq = q;
			*mask = g;
		}
	}
	if (n_fit == 1 && s->n_nodes > 1)
		*why = WHY_ONLY;
	else if (st->gpus == 0)
		*why = spread ? WHY_SPREAD_CPU : WHY_CORES;
	else if (!spread)
		*why = WHY_PACK;
	else
		*why = best_on == fewest_on ? WHY_SPREAD : WHY_LINKS;
	return best;
}

/*
 * The same choice as pick_scan, from a heap of the usable nodes: pick_scan
 * takes the first node (lowest index) of the best key, the key being, for
 * a stage with GPUs, (spread: the links within the set, then fewest of the
 * stage), the set's quality, then fewest free GPUs; for a CPU-only stage,
 * fewest of the stage, then most free cores. >0: node a goes before b.
 */
static int pick_cmp(const struct solver *s, size_t a, size_t b)
{
	const struct aic_stage *st = &s->spec->stages[s->pick.si];
	const struct pick_key *x = &s->pick.key[a], *y = &s->pick.key[b];
	int c = 0;

	if (st->gpus == 0) {
		if (x->on != y->on)
			return x->on < y->on ? 1 : -1;
		if (x->cores != y->cores)
			return x->cores > y->cores ? 1 : -1;
	} else {
		if (st->placement == AIC_PLACEMENT_SPREAD) {
			struct quality lx = x->q, ly = y->q;
			lx.spare = ly.spare = 0;
			c = aic__place_cmp_quality(&lx, &ly);
			if (c == 0 && x->on != y->on)
				c = x->on < y->on ? 1 : -1;
		}
		if (c == 0)
			c = aic__place_cmp_quality(&x->q, &y->q);
		if (c == 0 && x->pop != y->pop)
			c = x->pop < y->pop ? 1 : -1;
		if (c)
			return c;
	}
	return a < b ? 1 : -1;
}

static void sift_down(struct solver *s, size_t i)
{
	size_t *h = s->pick.heap, n = s->pick.n;

	for (;;) {
		size_t l = 2 * i + 1, m = i, t;
		if (l < n && pick_cmp(s, h[l], h[m]) > 0)
			m = l;
		if (l + 1 < n && pick_cmp(s, h[l + 1], h[m]) > 0)
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Node i's key now: 1, or 0 when it cannot take a replica, or -ENOMEM. */
static int pick_eval(struct solver *s, size_t i, const int *count)
{
	struct node *n = &s->nodes[i];
	struct pick_key *k = &s->pick.key[i];
	uint64_t g;
	int *h;

	if (!usable(s, n, &s->spec->stages[s->pick.si], s->pick.share, &g, &k->q))
		return 0;
	k->on = s->spec->stages[s->pick.si].placement == AIC_PLACEMENT_SPREAD ? count[i] : 0;
	k->pop = popcount(n->free);
	k->cores = n->n_free_cores;
	if ((size_t)k->on >= s->pick.n_hist) {
		size_t want = (size_t)k->on * 2 + 8;
		if (!(h = realloc(s->pick.hist, want * sizeof(*h))))
			return -ENOMEM;
		memset(h + s->pick.n_hist, 0, (want - s->pick.n_hist) * sizeof(*h));
		s->pick.hist = h;
		s->pick.n_hist = want;
	}
	s->pick.hist[k->on]++;
	return 1;
}

/* Every usable node into the heap; false when out of memory (the caller scans). */
static bool pick_build(struct solver *s, size_t si, bool share, const int *count)
{
	size_t i;

	if (!s->pick.heap) {
		s->pick.heap = calloc(s->n_nodes, sizeof(*s->pick.heap));
		s->pick.key = calloc(s->n_nodes, sizeof(*s->pick.key));
		if (!s->pick.heap || !s->pick.key)
			return false;
	}
	if (s->pick.hist)
		memset(s->pick.hist, 0, s->pick.n_hist * sizeof(*s->pick.hist));
	s->pick.si = si;
	s->pick.share = share;
	s->pick.n = 0;
	s->group.valid = false; /* kept within one stage's picks only: k is that stage's */
	for (i = 0; i < s->n_nodes; i++) {
		int rc = pick_eval(s, i, count);
		if (rc < 0)
			return false;
		if (rc)
			s->pick.heap[s->pick.n++] = i;
	}
	for (i = s->pick.n / 2; i-- > 0;)
		sift_down(s, i);
	return true;
}

int aic__place_pick_node(struct solver *s, size_t si, bool share, uint64_t *mask,
			 const char **why)
{
	const struct aic_stage *st = &s->spec->stages[si];
	bool spread = st->placement == AIC_PLACEMENT_SPREAD;
	int *count = spread ? stage_counts(s, si) : NULL;
	size_t top, on;
	struct quality q;

	/*
	 * The heap still holds: the last pick's node (its top) took one
	 * replica of this stage since, and nothing else changed.
	 */
	bool keep = s->pick.valid && s->pick.si == si && s->pick.share == share &&
		    s->pick.epoch == s->epoch && s->pick.best >= 0 &&
		    s->n_procs == s->pick.n_procs + 1 &&
		    s->procs[s->n_procs - 1].stage == si &&
		    s->procs[s->n_procs - 1].node == (size_t)s->pick.best;

	s->pick.valid = false;
	if (s->scan || (spread && !count))
		return pick_scan(s, si, share, mask, why);
	if (keep) {
		int rc;
		top = s->pick.heap[0];
		s->pick.hist[s->pick.key[top].on]--;
		if ((rc = pick_eval(s, top, count)) < 0)
			return pick_scan(s, si, share, mask, why);
		if (!rc)
			s->pick.heap[0] = s->pick.heap[--s->pick.n];
		sift_down(s, 0);
	} else if (!pick_build(s, si, share, count)) {
		return pick_scan(s, si, share, mask, why);
	}
	*mask = 0;
	for (on = 0; on < s->pick.n_hist && !s->pick.hist[on]; on++)
		;
	if (s->pick.n == 1 && s->n_nodes > 1)
		*why = WHY_ONLY;
	else if (st->gpus == 0)
		*why = spread ? WHY_SPREAD_CPU : WHY_CORES;
	else if (!spread)
		*why = WHY_PACK;
	if (!s->pick.n) {
		if (spread && st->gpus)
			*why = WHY_LINKS;
		return -1;
	}
	top = s->pick.heap[0];
	if (spread && st->gpus && (s->pick.n > 1 || s->n_nodes == 1))
		*why = (size_t)s->pick.key[top].on == on ? WHY_SPREAD : WHY_LINKS;
	if (st->gpus)
		usable(s, &s->nodes[top], st, share, mask, &q);
	s->pick.valid = true;
	s->pick.epoch = s->epoch;
	s->pick.best = (int)top;
	s->pick.n_procs = s->n_procs;
	return (int)top;
}

/* --- recording a process --------------------------------------------- */

int aic__place_numa_of(const struct node *n, uint64_t gpus, const struct aic_cpuset *cpus)
{
	const struct aic_topo *t = n->t;
	int numa = -2, g;
	size_t i;

	for (g = 0; g < AIC_PLACE_MAX_GPUS; g++)
		if (gpus >> g & 1) {
			int x = t->gpus[g].numa;
			if (numa == -2)
				numa = x;
			else if (numa != x)
				return -1;
		}
	if (numa != -2)
		return numa;
	for (i = 0; i < t->n_numa; i++) {
		struct aic_cpuset rest;
		aic_cpuset_andnot(&rest, cpus, &t->numa[i].cpus);
		if (!aic_cpuset_empty(cpus) && aic_cpuset_empty(&rest))
			return t->numa[i].os_index;
	}
	return -1;
}

int aic__place_nic_of(const struct node *n, uint64_t gpus, int numa)
{
	const struct aic_topo *t = n->t;
	size_t i;
	int g, best = -1;

	for (g = 0; g < AIC_PLACE_MAX_GPUS; g++)
		if (gpus >> g & 1)
			return t->gpus[g].nic;
	for (i = 0; i < t->n_nics; i++)
		if (numa >= 0 && t->nics[i].numa == numa &&
		    (best < 0 ||
		     (t->nics[i].kind == AIC_NIC_IB && t->nics[best].kind != AIC_NIC_IB)))
			best = (int)i;
	return best;
}

/* Why node i's input is unusable: which GPUs it was given, and what its topology shows. */
static int bad_node(struct solver *s, const struct aic_place_node *in, size_t i)
{
	const struct aic_topo *t = in[i].topo;
	const char *name = in[i].name ? in[i].name : t ? t->host : "?";
	size_t g;

	if (!t) {
		aic_strbuf_printf(&s->err, "aic: node '%s' has no topology\n", name);
		return -EINVAL;
	}
	if (t->n_gpus > AIC_PLACE_MAX_GPUS) {
		aic_strbuf_printf(&s->err,
				  "aic: node '%s': its topology shows %zu GPUs, more than the %d "
				  "aic places on one node\n",
				  name, t->n_gpus, AIC_PLACE_MAX_GPUS);
		return -EINVAL;
	}
	aic_strbuf_printf(&s->err, "aic: node '%s' was given GPU%s ", name,
			  in[i].n_gpus == 1 ? "" : "s");
	for (g = 0; g < in[i].n_gpus; g++)
		aic_strbuf_printf(&s->err, "%s%d", g ? "," : "", in[i].gpus[g]);
	aic_strbuf_printf(&s->err, ", but its topology (host '%s') shows ", t->host);
	if (t->n_gpus == 0)
		aic_strbuf_printf(&s->err, "no GPUs\n");
	else if (t->n_gpus == 1)
		aic_strbuf_printf(&s->err, "1 GPU (index 0)\n");
	else
		aic_strbuf_printf(&s->err, "%zu GPUs (indices 0 to %zu)\n", t->n_gpus,
				  t->n_gpus - 1);
	return -EINVAL;
}

int aic__place_init_nodes(struct solver *s, const struct aic_place_node *in)
{
	size_t i, c, g;

	for (i = 0; i < s->n_nodes; i++) {
		struct node *n = &s->nodes[i];
		const struct aic_topo *t = in[i].topo;
		if (!t || t->n_gpus > AIC_PLACE_MAX_GPUS)
			return bad_node(s, in, i);
		n->t = t;
		n->name = in[i].name ? in[i].name : t->host;
		n->down = in[i].down;
		n->cpus = t->cpus;
		if (in[i].cpus)
			aic_cpuset_and(&n->cpus, &n->cpus, in[i].cpus);
		if (in[i].gpus) {
			for (g = 0; g < in[i].n_gpus; g++) {
				if (in[i].gpus[g] < 0 || (size_t)in[i].gpus[g] >= t->n_gpus)
					return bad_node(s, in, i);
				n->allowed |= UINT64_C(1) << in[i].gpus[g];
			}
		} else {
			n->allowed =
				t->n_gpus == 64 ? ~UINT64_C(0) : (UINT64_C(1) << t->n_gpus) - 1;
		}
		n->free = n->down ? 0 : n->allowed;
		n->core_free = calloc(t->n_cores + 1, sizeof(bool));
		n->core_gpus = calloc(t->n_cores + 1, sizeof(int));
		if (!n->core_free || !n->core_gpus)
			return -ENOMEM;
		for (c = 0; c < t->n_cores; c++) {
			struct aic_cpuset x;
			aic_cpuset_and(&x, &t->cores[c].pus, &n->cpus);
			n->core_free[c] = !n->down && !aic_cpuset_empty(&x);
			n->n_free_cores += n->core_free[c];
			n->n_cores += n->core_free[c];
			for (g = 0; g < t->n_gpus; g++) {
				aic_cpuset_and(&x, &t->cores[c].pus, &t->gpus[g].cpus);
				n->core_gpus[c] += !aic_cpuset_empty(&x);
			}
		}
	}
	return 0;
}

/* Stages needing more GPUs per process than any node has: report at the spec. */
int aic__place_check_sizes(struct solver *s)
{
	size_t i, j, biggest = 0;
	int bad = 0;

	for (j = 1; j < s->n_nodes; j++)
		if (popcount(s->nodes[j].free) > popcount(s->nodes[biggest].free))
			biggest = j;
	for (i = 0; i < s->spec->n_stages; i++) {
		const struct aic_stage *st = &s->spec->stages[i];
		int most = popcount(s->nodes[biggest].free);
		if (st->gpus <= most)
			continue;
		aic_strbuf_printf(&s->err,
				  "%s:%u:%u: stage '%s' needs %d GPUs per %s; the largest node, "
				  "'%s', has %d\n",
				  s->spec->path, st->gpus_mark.line, st->gpus_mark.col, st->name,
				  st->gpus, st->ranks ? "rank" : "replica", s->nodes[biggest].name,
				  most);
		bad = 1;
	}
	return bad ? AIC_ENOFIT : 0;
}

/* With soft CPUs, a note for each node whose cores serve more than one process. */
char *aic__place_shared_cores_notes(const struct solver *s)
{
	struct aic_strbuf b;
	size_t i;

	aic_strbuf_init(&b);
	for (i = 0; i < s->n_nodes; i++) {
		const struct node *n = &s->nodes[i];
		if (n->cores_asked <= n->n_cores)
			continue;
		aic_strbuf_printf(
			&b,
			"aic: note: node '%s' has %d core%s for processes that ask for %d (cpus:): "
			"they share them, as nothing reserves CPUs here (under SLURM, cpus: is a "
			"reservation and this job would not fit)\n",
			n->name, n->n_cores, n->n_cores == 1 ? "" : "s", n->cores_asked);
	}
	if (!b.len) {
		aic_strbuf_release(&b);
		return NULL;
	}
	return aic_strbuf_detach(&b);
}

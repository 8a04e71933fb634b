/*
 * Other agents and the links to them, the arena regions of local workers,
 * and the count of sends and in-place reads under way (see internal.h).
 * The bottom of the data plane: it calls no other file of it, only back up
 * through cs->up.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "internal.h"

void peers_init(struct chan_set *cs, const struct dp_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_agents; i++) {
		const struct dp_agent *a = &cfg->agents[i];
		struct peer *p;
		if (cs->n_peers >= MAX_PEERS || a->rank == cs->rank)
			continue;
		p = &cs->peers[cs->n_peers++];
		p->rank = a->rank;
		snprintf(p->addr, sizeof(p->addr), "%s", a->addr);
		p->port = (int)a->port;
	}
}

void chan_set_peer(struct chan_set *cs, uint32_t rank, const char *addr, int port)
{
	struct peer *p;

	if (!cs || cs->freeing || rank == cs->rank || !addr)
		return;
	p = peer_find(cs, rank);
	if (!p && cs->n_peers < MAX_PEERS) {
		p = &cs->peers[cs->n_peers++];
		p->rank = rank;
	}
	if (!p || p->conn)
		return; /* no room, or already linked: its endpoint does not change */
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->port = port;
	p->lost = false;
}

void peers_close(struct chan_set *cs)
{
	size_t i;

	for (i = 0; i < cs->n_peers; i++)
		if (cs->peers[i].conn) {
			cs->peers[i].conn->data = NULL;
			aic_conn_close(cs->peers[i].conn);
		}
}

struct peer *peer_find(struct chan_set *cs, uint32_t rank)
{
	size_t i;

	for (i = 0; i < cs->n_peers; i++)
		if (cs->peers[i].rank == rank)
			return &cs->peers[i];
	return NULL;
}

struct aic_conn *peer_conn(struct chan_set *cs, struct peer *p)
{
	json_t *hello;

	if (p->conn)
		return p->conn;
	if (p->lost)
		return NULL;
	hello = json_pack("{s:s,s:i}", "role", "agent", "rank", (int)cs->rank);
	p->conn = aic_conn_connect(cs->loop, p->addr, p->port, cs->token, hello, cs->up->peer_frame,
				   cs->up->peer_closed, cs);
	if (p->conn) {
		p->conn->data = p;
		/* A silent peer, or one that never answers the handshake, is a closed link. */
		snprintf(p->conn->name, sizeof(p->conn->name), "the agent of rank %u", p->rank);
		aic_conn_set_timeout(p->conn, cs->failure_timeout_ms);
		/* The peer connections this agent opens read items in place. */
		p->conn->direct_begin = cs->up->direct_begin;
		p->conn->direct_end = cs->up->direct_end;
	}
	return p->conn;
}

void peer_forward_ack(struct chan_set *cs, uint32_t chan, uint32_t producer, uint64_t id)
{
	struct peer *pr = peer_find(cs, producer);
	uint8_t b[8 + AIC_ACK_ENTRY];

	aic_put_u32(b, chan);
	aic_put_u32(b + 4, 1);
	aic_ack_encode(b + 8, producer, id);
	if (pr && pr->conn)
		aic_conn_send_raw(pr->conn, AIC_MSG_ACK, b, sizeof(b), NULL, 0);
}

int dp_peer_rank_of(const struct chan_set *cs, const struct aic_conn *c)
{
	size_t k;

	for (k = 0; c && k < MAX_PEERS; k++)
		if (cs->peer_in[k] == c)
			return (int)k;
	return -1;
}

size_t dp_region_of(const struct chan_set *cs, const struct aic_conn *c)
{
	size_t k;

	for (k = 1; cs->arena.base && k < ARENA_REGIONS; k++)
		if (cs->region_owner[k] == c)
			return k * cs->arena.region_size;
	return 0;
}

void dp_release(struct chan_set *cs)
{
	if (--cs->pending == 0 && cs->freeing)
		cs->up->finish(cs);
}

int chan_set_arena_env(struct chan_set *cs, long proc, char *buf, size_t size)
{
	size_t k, free_k = 0;

	if (!cs || !cs->arena.base)
		return -1;
	for (k = 1; k < ARENA_REGIONS; k++) {
		if (cs->region_proc[k] == proc + 1)
			break;
		if (!cs->region_proc[k] && !free_k)
			free_k = k;
	}
	if (k == ARENA_REGIONS) {
		if (!free_k)
			return -1; /* more processes than regions: the rest go inline */
		k = free_k;
		cs->region_proc[k] = proc + 1;
	}
	snprintf(buf, size, "%d:%zu:%zu", cs->arena.fd, k * cs->arena.region_size,
		 cs->arena.region_size);
	return cs->arena.fd;
}

bool chan_set_hello(struct chan_set *cs, struct aic_conn *c, const json_t *hello)
{
	const json_t *v = json_object_get(hello, "arena");
	json_int_t off = json_is_integer(v) ? json_integer_value(v) : -1;
	size_t k;

	load_hello(cs, c, hello);
	if (!cs || !cs->arena.base || off <= 0 || (size_t)off % cs->arena.region_size)
		return false;
	k = (size_t)off / cs->arena.region_size;
	/* One process writes a region: a second connection (a forked child, say) goes inline. */
	if (k >= ARENA_REGIONS || !cs->region_proc[k] || cs->region_owner[k])
		return false;
	cs->region_owner[k] = c;
	return true;
}

void chan_set_agent_hello(struct chan_set *cs, struct aic_conn *c, long rank)
{
	if (cs && rank >= 0 && rank < MAX_PEERS && (uint32_t)rank != cs->rank)
		cs->peer_in[rank] = c;
}

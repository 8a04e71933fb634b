/*
 * Corking: while the frames of one read are handled (aic__conn_received),
 * small frames sent on any connection are appended to that connection's tx
 * buffer, and each connection's are written in one write once they are all
 * handled. A worker's pipelined puts arrive many to a read, and their
 * answers (and the ITEMS they wake) then cost one system call, not one
 * each. Any other send on the connection writes what is corked first
 * (conn.c's link_write), so frames keep their order. Frames are only held
 * within one turn of the loop: nothing waits for a later event. The owner
 * may put work off until the read's frames are handled the same way
 * (aic_conn_after_frames: a channel delivers a batch of puts at once).
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include "internal.h"

#define CORK_MAX_FRAME 4096
#define CORK_MAX_BYTES 65536

static unsigned handling;				/* aic__cork_begin calls not yet ended */
static struct aic_conn *corked, **corked_end = &corked; /* with corked frames, first corked first */
/* Calls put off until the frames being handled are (aic_conn_after_frames). */
#define AFTER_MAX 16
static struct {
	void (*fn)(void *arg);
	void *arg;
} after[AFTER_MAX];
static unsigned n_after;

void aic__cork_begin(void)
{
	handling++;
}

bool aic_conn_after_frames(void (*fn)(void *arg), void *arg)
{
	unsigned i;

	if (!handling)
		return false;
	for (i = 0; i < n_after; i++)
		if (after[i].fn == fn && after[i].arg == arg)
			return true;
	if (n_after == AFTER_MAX)
		return false;
	after[n_after].fn = fn;
	after[n_after++].arg = arg;
	return true;
}

void aic_conn_after_cancel(void *arg)
{
	unsigned i = 0;

	while (i < n_after)
		if (after[i].arg == arg)
			after[i] = after[--n_after];
		else
			i++;
}

void aic__cork_end(void)
{
	/* The calls put off run while still corked: what they send joins the rest. */
	while (handling == 1 && n_after) {
		void (*fn)(void *arg) = after[0].fn;
		void *arg = after[0].arg;
		after[0] = after[--n_after];
		fn(arg);
	}
	if (--handling)
		return;
	while (corked) {
		struct aic_conn *c = corked;
		if (!(corked = c->tx_next))
			corked_end = &corked;
		c->tx_next = NULL;
		aic__cork_flush(c);
	}
}

/* Takes c off the list of corked connections. */
static void unlist(struct aic_conn *c)
{
	struct aic_conn **pp;

	for (pp = &corked; *pp; pp = &(*pp)->tx_next)
		if (*pp == c) {
			*pp = c->tx_next;
			if (!*pp)
				corked_end = pp;
			break;
		}
	c->tx_next = NULL;
}

void aic__cork_flush(struct aic_conn *c)
{
	uint8_t *mem = c->tx;
	size_t len = c->tx_len;

	if (!len)
		return;
	unlist(c);
	c->tx = NULL;
	c->tx_len = c->tx_cap = 0;
	aic_conn_send_owned(c, mem, mem, len); /* frees mem, also when closing */
}

void aic__cork_forget(struct aic_conn *c)
{
	if (c->tx_len)
		unlist(c);
	free(c->tx);
	c->tx = NULL;
	c->tx_len = c->tx_cap = 0;
}

uint8_t *aic__cork_room(struct aic_conn *c, size_t n)
{
	if (!handling || n > CORK_MAX_FRAME || c->closing)
		return NULL;
	if (c->tx_len + n > CORK_MAX_BYTES)
		aic__cork_flush(c);
	if (c->tx_len + n > c->tx_cap) {
		size_t cap = c->tx_cap ? c->tx_cap * 2 : 4096;
		uint8_t *nb;
		while (cap < c->tx_len + n)
			cap *= 2;
		nb = realloc(c->tx, cap);
		if (!nb)
			return NULL;
		c->tx = nb;
		c->tx_cap = cap;
	}
	if (!c->tx_len) {
		/* Written in the order they were first corked: the answer before what it woke. */
		c->tx_next = NULL;
		*corked_end = c;
		corked_end = &c->tx_next;
	}
	c->tx_len += n;
	return c->tx + c->tx_len - n;
}

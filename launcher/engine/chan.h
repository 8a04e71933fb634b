/*
 * Channels at a node agent: bounded work queues between the stages' workers
 * (see doc/design/data-plane.md).
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
 *
 * This is the single-agent part of the data plane (every producer and
 * consumer of a channel on one node, as in `aic run`); pulling items from
 * other nodes' agents comes next (doc/design/data-plane.md).
 */
#ifndef AIC_ENGINE_CHAN_H
#define AIC_ENGINE_CHAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"

struct chan_set;

/* Channels from the head's CONFIG message; producer is this agent's rank. */
struct chan_set *chan_set_new(uv_loop_t *loop, const json_t *config, uint32_t producer);
void chan_set_free(struct chan_set *cs);

/* {name: id} for a worker's WELCOME (a new reference). */
json_t *chan_set_names(const struct chan_set *cs);

/* A worker's data-plane frame (PUT, GET, ACK). */
void chan_set_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f);
/* A worker's connection closed: its in-flight items go back, its waits end. */
void chan_set_forget(struct chan_set *cs, struct aic_conn *c);
/* The head says channel `id` has no producers left. */
void chan_set_close(struct chan_set *cs, uint32_t id);

#endif

/*
 * The agent's side of autoscaling (launcher/engine/autoscale.c is the
 * head's): it answers the head's LOAD with its node's load and drains the
 * replica a SCALE_DOWN names (dataplane.h's chan_set_load, chan_set_drain);
 * satellites' agents joining and leaving (PEER, PEER_LEFT: satellite.c).
 */
#include "config.h"

#include "dataplane.h"
#include "internal.h"
#include "log.h"
#include "wire.h"

void agent__autoscale_frame(struct chan_set *cs, struct aic_conn *head, uint16_t type,
			    const json_t *m)
{
	json_t *load;
	const char *stage;

	if (!m)
		return;
	if (type == AIC_MSG_LOAD && cs) {
		load = chan_set_load(cs);
		if (load)
			aic_conn_send(head, AIC_MSG_LOAD, load);
		json_decref(load);
	} else if (type == AIC_MSG_SCALE_DOWN) {
		stage = json_string_value(json_object_get(m, "stage"));
		if (stage &&
		    chan_set_drain(cs, stage,
				   (int)json_integer_value(json_object_get(m, "index"))) == 0)
			aic_log_debug("stage '%s' replica %d: nothing of it to drain here", stage,
				      (int)json_integer_value(json_object_get(m, "index")));
	} else if (type == AIC_MSG_PEER) {
		chan_set_peer(cs, (uint32_t)json_integer_value(json_object_get(m, "rank")),
			      json_string_value(json_object_get(m, "addr")),
			      (int)json_integer_value(json_object_get(m, "port")));
	} else if (type == AIC_MSG_PEER_LEFT) {
		chan_set_peer_left(cs, (uint32_t)json_integer_value(json_object_get(m, "rank")));
	}
}

/*
 * The agent's endpoint (AIC_AGENT, see agent.h): who may connect (a worker
 * proves its stage's credential, a peer agent the job token), and where
 * each connection's frames go: a worker's to the phase lock, its metrics,
 * services, checkpoints or the data plane; a peer's to the data plane.
 * agent.c keeps the runs these connections belong to.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "auth.h"
#include "conn.h"
#include "dataplane.h"
#include "internal.h"
#include "wire.h"

/* Who a worker connection is (its HELLO), for the points it reports. */
struct worker_id {
	char stage[64];
	int index;
	long proc; /* its run's process id (agent__proc_connected), -1: none of this agent's */
};

/*
 * What a connection to the agent's endpoint must prove: a worker its
 * stage's credential (on_spawn gives it as AIC_TOKEN), an agent the job
 * token.
 */
static int worker_key(struct aic_conn *c, json_t *hello, char *key)
{
	struct agent *a = c->owner;
	const char *role = json_string_value(json_object_get(hello, "role"));
	const char *stage = json_string_value(json_object_get(hello, "stage"));

	if (role && !strcmp(role, "agent")) {
		snprintf(key, AIC_AUTH_KEY_LEN + 1, "%s", a->cfg.token);
		return 0;
	}
	if (!role || strcmp(role, "worker") || !stage)
		return -EPERM;
	aic_auth_worker_key(a->cfg.token, stage, key);
	return 0;
}

/* Workers (and, with the data plane, other agents) introduce themselves here. */
static bool worker_hello(struct aic_conn *c, json_t *hello)
{
	struct agent *a = c->owner;
	const char *role = json_string_value(json_object_get(hello, "role"));

	if (!role || (strcmp(role, "worker") && strcmp(role, "agent")))
		return false;
	if (!strcmp(role, "worker") && !c->data) {
		struct worker_id *who = calloc(1, sizeof(*who));
		if (who) {
			snprintf(who->stage, sizeof(who->stage), "%s",
				 json_string_value(json_object_get(hello, "stage")) ?: "?");
			who->index = (int)json_integer_value(json_object_get(hello, "index"));
			who->proc = agent__proc_connected(a, who->stage, who->index);
			c->data = who;
		}
	} else if (!strcmp(role, "agent")) {
		/* A peer's link has the job's timeout, which the head's WELCOME gave (conn.h). */
		snprintf(c->name, sizeof(c->name), "the agent of rank %d",
			 (int)json_integer_value(json_object_get(hello, "rank")));
		aic_conn_set_timeout(c, a->head ? a->head->timeout_ms : AIC_CONN_TIMEOUT_MS);
		chan_set_agent_hello(a->chans, c,
				     (long)json_integer_value(json_object_get(hello, "rank")));
	}
	c->welcome = json_pack("{s:o,s:o,s:b}", "channels", chan_set_names(a->chans), "weights",
			       chan_set_weight_names(a->chans), "arena",
			       !strcmp(role, "worker") && chan_set_hello(a->chans, c, hello));
	return true;
}

/*
 * A worker's control request, which it waits on and which a loop follows
 * with the next (a phase poll each step, a checkpoint call, endpoints):
 * the engine spins a while once it is answered (lib/spin.h). Data frames
 * (puts, gets, acks, weights) never start a spin: a publish's slot and
 * commit come around a copy of the whole version, and a spin after them
 * would take a core from the readers it wakes.
 */
static bool control_request(uint16_t type)
{
	return (type >= AIC_MSG_PHASE_BEGIN && type <= AIC_MSG_PHASE_POLL) ||
	       AGENT_CKPT_FRAME(type) || type == AIC_MSG_EP_GET;
}

static void worker_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	struct agent *a = c->owner;
	const struct worker_id *who = c->data;

	(void)m;
	if (control_request(type))
		aic_spin_expect();
	if (type < AIC_MSG_DATA ||
	    agent__phase_frame(&a->phase, a->head, c, who ? who->stage : NULL, who ? who->proc : -1,
			       f))
		return;
	if (type == AIC_MSG_METRIC) {
		if (who)
			agent__metric_frame(&a->metrics, who->stage, who->index, f);
		return;
	}
	if (agent__service_frame(&a->svc, c, f))
		return;
	if (AGENT_CKPT_FRAME(type)) {
		agent__ckpt_frame(&a->ckpt, a->chans, c, who ? who->proc : -1, f);
		return;
	}
	if (!a->chans) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -ENOENT, "no channels");
		return;
	}
	chan_set_frame(a->chans, c, f);
}

/* Weight chunks from the previous agent of a chain are read into their slot. */
static uint8_t *worker_direct_begin(struct aic_conn *c, uint16_t type, uint32_t length,
				    const uint8_t *head, uint32_t have, uint32_t *skip, void **arg)
{
	struct agent *a = c->owner;

	return chan_set_direct_begin(a->chans, c, type, length, head, have, skip, arg);
}

static void worker_closed(struct aic_conn *c)
{
	struct agent *a = c->owner;
	struct worker_id *who = c->data;

	/* Its waiting puts stay in their channels (chan_forget) before EXITED goes. */
	chan_set_forget(a->chans, c);
	agent__phase_closed(&a->phase, a->head, c);
	if (who)
		agent__proc_closed(a, who->proc);
	free(c->data); /* its worker_id */
	c->data = NULL;
}

/* The agent's endpoint (AIC_AGENT): its workers, and the other agents' data plane. */
static const struct aic_handlers handlers = {
	.key_for = worker_key,
	.on_hello = worker_hello,
	.on_frame = worker_frame,
	.on_close = worker_closed,
	.direct_begin = worker_direct_begin,
	.direct_end = chan_set_direct_end,
};

int agent__endpoint_start(struct agent *a)
{
	int rc = aic_server_start(a->loop, &a->srv, a->cfg.addr, a->cfg.token, &handlers, a);

	/* The same endpoint over a Unix socket, without TCP's cost: TCP alone will do. */
	if (rc == 0)
		(void)aic_server_listen_unix(&a->srv);
	return rc;
}

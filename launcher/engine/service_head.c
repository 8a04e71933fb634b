/*
 * The head's side of services (doc/aic-job.5, SERVICES): each replica's
 * port, which replicas the agents probe, and the endpoints every agent
 * holds for its workers.
 *
 * The list is derived, never edited: head__service_sync rebuilds it from
 * the processes' states (a replica is listed while it runs, ready once
 * its agent says it passed its check) after anything that may change
 * them, and sends it to every agent when it differs from the last one
 * sent. So a restart, an exit, a move after a node loss or a process
 * added later all reach the workers the same way, and each change is
 * logged once ("service 'llm' replica 1 at HOST:PORT is ready", "...
 * left"), which is what the tests follow.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

struct svc_proc {
	int port, node; /* node: the agent rank the port was taken from, -1: none */
	bool probing, ready;
	long pid;	 /* the run probed */
	json_int_t run;	 /* its PROBE's number */
	bool listed;	 /* in the last ENDPOINTS sent */
	bool told_ready; /* listed as ready in it */
};

struct head_service {
	struct svc_proc *p; /* by process id */
	size_t n;
	json_t *sent; /* the last ENDPOINTS' "stages" */
	json_int_t version, runs;
};

static bool any_service(const struct head *h)
{
	size_t i;

	for (i = 0; i < h->cfg.spec->n_stages; i++)
		if (h->cfg.spec->stages[i].service)
			return true;
	return false;
}

/* The per-process state, grown to the plan's processes (NULL: no memory). */
static struct svc_proc *svc_proc(struct head *h, size_t id)
{
	struct head_service *s = h->svc;

	if (!s) {
		s = h->svc = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
	}
	if (id >= s->n) {
		size_t n = h->n_procs > id ? h->n_procs : id + 1, i;
		struct svc_proc *np = realloc(s->p, n * sizeof(*np));
		if (!np)
			return NULL;
		memset(np + s->n, 0, (n - s->n) * sizeof(*np));
		for (i = s->n; i < n; i++)
			np[i].node = -1;
		s->p = np;
		s->n = n;
	}
	return &s->p[id];
}

static const struct aic_stage *stage_of(const struct head *h, const struct hproc *hp)
{
	return &h->cfg.spec->stages[hp->p->stage];
}

static bool runs(const struct head *h, const struct hproc *hp)
{
	return hp->state == P_RUNNING && h->agents[hp->p->node].conn && !h->ending;
}

static void send_probe(struct head *h, struct hproc *hp, struct svc_proc *sp, bool on)
{
	const struct aic_stage *st = stage_of(h, hp);
	struct hagent *a = &h->agents[hp->p->node];
	json_t *m;

	if (!a->conn)
		return;
	if (on)
		m = json_pack("{s:I,s:I,s:s,s:i,s:s,s:I}", "id", (json_int_t)hp->id, "run", sp->run,
			      "addr", a->addr, "port", sp->port, "http", st->svc.ready.http ?: "",
			      "timeout_ms", (json_int_t)st->svc.ready_timeout_s * 1000);
	else
		m = json_pack("{s:I}", "id", (json_int_t)hp->id);
	if (m)
		aic_conn_send(a->conn, on ? AIC_MSG_PROBE : AIC_MSG_UNPROBE, m);
	json_decref(m);
}

void head__service_sync(struct head *h)
{
	struct head_service *s;
	json_t *stages;
	size_t i;

	if (!h->placed || h->done || !any_service(h) ||
	    !svc_proc(h, h->n_procs ? h->n_procs - 1 : 0))
		return;
	s = h->svc;
	stages = json_object();
	for (i = 0; i < h->cfg.spec->n_stages; i++)
		if (h->cfg.spec->stages[i].service)
			json_object_set_new(stages, h->cfg.spec->stages[i].name, json_array());
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		const struct aic_stage *st = stage_of(h, hp);
		struct svc_proc *sp = svc_proc(h, i);
		char addr[AIC_ENDPOINT_ADDR + 16];
		bool on;

		if (!st->service || !sp)
			continue;
		on = runs(h, hp);
		if (on && (!sp->probing || sp->pid != hp->pid)) {
			sp->probing = true;
			sp->ready = false;
			sp->pid = hp->pid;
			sp->run = ++s->runs;
			send_probe(h, hp, sp, true);
		} else if (!on && sp->probing) {
			sp->probing = sp->ready = false;
			send_probe(h, hp, sp, false);
		}
		snprintf(addr, sizeof(addr), "%s:%d", h->agents[hp->p->node].addr, sp->port);
		if (on)
			json_array_append_new(json_object_get(stages, st->name),
					      json_pack("{s:s,s:i,s:b}", "addr", addr, "replica",
							hp->p->index, "ready", sp->ready));
		if (on && sp->ready && !sp->told_ready)
			aic_log_info("service '%s' replica %d at %s is ready", st->name,
				     hp->p->index, addr);
		else if (on && !sp->ready && sp->told_ready)
			aic_log_info("service '%s' replica %d at %s is not ready", st->name,
				     hp->p->index, addr);
		else if (!on && sp->listed)
			aic_log_info("service '%s' replica %d at %s left", st->name, hp->p->index,
				     addr);
		sp->listed = on;
		sp->told_ready = on && sp->ready;
	}
	if (s->sent && json_equal(s->sent, stages)) {
		json_decref(stages);
		return;
	}
	json_decref(s->sent);
	s->sent = stages;
	s->version++;
	head__save_status(h); /* status.json shows them */
	{
		json_t *m = json_pack("{s:I,s:O}", "version", s->version, "stages", stages);
		if (m)
			head__broadcast(h, AIC_MSG_ENDPOINTS, m);
		json_decref(m);
	}
}

void head__service_env(struct head *h, const struct hproc *hp, json_t *env)
{
	const struct aic_stage *st = stage_of(h, hp);
	struct hagent *a = &h->agents[hp->p->node];
	struct svc_proc *sp;
	char v[64], *text;

	if (!any_service(h) || !(sp = svc_proc(h, hp->id)))
		return;
	if (st->service) {
		if (st->svc.port)
			sp->port = st->svc.port;
		else if (!sp->port || sp->node != (int)hp->p->node) {
			/* Kept across restarts on the same node, so clients may keep it too. */
			if (a->next_port >= a->n_ports) {
				aic_log_warn("node '%s' has no free port left for service '%s' "
					     "replica %d: reusing one",
					     a->node, st->name, hp->p->index);
				a->next_port = 0;
			}
			sp->port = a->n_ports ? a->ports[a->next_port++] : 0;
			sp->node = (int)hp->p->node;
		}
		snprintf(v, sizeof(v), "%d", sp->port);
		json_object_set_new(env, "AIC_PORT", json_string(v));
		json_object_set_new(env, "AIC_NODE_ADDR", json_string(a->addr));
	}
	head__service_sync(h);
	text = h->svc && h->svc->sent ? json_dumps(h->svc->sent, JSON_COMPACT) : NULL;
	if (text)
		json_object_set_new(env, "AIC_ENDPOINTS", json_string(text));
	free(text);
}

void head__service_health(struct head *h, const json_t *m)
{
	size_t id = (size_t)json_integer_value(json_object_get(m, "id"));
	struct svc_proc *sp;
	struct hproc *hp;

	if (id >= h->n_procs || !h->svc || id >= h->svc->n || h->ending)
		return;
	sp = &h->svc->p[id];
	hp = &h->procs[id];
	if (!sp->probing || sp->run != json_integer_value(json_object_get(m, "run")))
		return; /* about an earlier run */
	sp->ready = json_is_true(json_object_get(m, "ready"));
	if (json_is_true(json_object_get(m, "dead")) && hp->state == P_RUNNING) {
		aic_log_error("service '%s' replica %d on %s %s: restarting it",
			      stage_of(h, hp)->name, hp->p->index, h->agents[hp->p->node].node,
			      json_string_value(json_object_get(m, "why")) ?: "failed");
		head__kill(hp, SIGKILL);
	}
}

json_t *head__service_json(const struct head *h)
{
	return h->svc && h->svc->sent ? json_deep_copy(h->svc->sent) : NULL;
}

void head__service_free(struct head *h)
{
	if (!h->svc)
		return;
	json_decref(h->svc->sent);
	free(h->svc->p);
	free(h->svc);
	h->svc = NULL;
}

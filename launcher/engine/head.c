/*
 * The head (see head.h): agents' registration, placement, their messages,
 * and the head's life. The processes, reports and the data plane's CONFIG
 * are in procs.c, report.c and config_msg.c (internal.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "jobdir.h"
#include "log.h"
#include "topo_json.h"
#include "wire.h"

/* --- registration and placement -------------------------------------- */

/*
 * After the solver's line on a node whose GPUs its topology does not have
 * (under SLURM: the GPUs are SLURM_STEP_GPUS, the topology is AIC_TOPO_XML,
 * which the SPANK plugin sets for --aic-job steps, else hwloc's view of the
 * node, which shows no GPU that the driver does not): how to fix it.
 */
static void log_gpu_hint(void)
{
	aic_log_error("aic: the GPUs are those SLURM gave the step (SLURM_STEP_GPUS, else "
		      "SLURM_JOB_GPUS); the topology is AIC_TOPO_XML's, else what hwloc finds on "
		      "the node");
	aic_log_error("aic: run the step with --aic-job=SPEC (the SPANK plugin then passes the "
		      "node's topology), or set AIC_TOPO_XML to the node's topology XML, or ask "
		      "SLURM for no more GPUs than the topology shows (--gres=gpu:N)");
}

static void place_and_start(struct head *h)
{
	char *errors = NULL, *line, *save = NULL;
	size_t i;
	int rc, n = h->cfg.n_agents;

	h->nodes = calloc((size_t)n + 1, sizeof(*h->nodes));
	if (!h->nodes) {
		head__end(h, 1, "failed", "out of memory");
		return;
	}
	for (i = 0; i < (size_t)n; i++) {
		h->nodes[i].name = h->agents[i].node;
		/* A satellite's rank, until its agent joins: down, on rank 0's topology. */
		h->nodes[i].topo = h->agents[i].topo ? h->agents[i].topo : h->agents[0].topo;
		h->nodes[i].down = !h->agents[i].registered;
		h->nodes[i].gpus = h->agents[i].gpus;
		h->nodes[i].n_gpus = h->agents[i].n_gpus;
		h->nodes[i].cpus = aic_cpuset_empty(&h->agents[i].cpus) ? NULL : &h->agents[i].cpus;
	}
	n = h->n_main;
	rc = aic_place_flags(h->cfg.spec, h->nodes, (size_t)n, h->cfg.local ? AIC_PLACE_SOFT_CPUS : 0,
			     &h->plan, &errors);
	if (rc) {
		for (line = strtok_r(errors, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			aic_log_error("%s", line);
		if (rc == -EINVAL && !h->cfg.local)
			log_gpu_hint();
		head__end(h, 1, "failed",
			  rc == -EINVAL ? "a node's GPUs do not match its topology"
			  : errors      ? "the job does not fit the allocation"
					: aic_strerror(rc));
		free(errors);
		return;
	}
	/* The solver's notes start "aic: " as its errors do; the log adds its own name. */
	line = h->plan->notes ? strtok_r(h->plan->notes, "\n", &save) : NULL;
	for (; line; line = strtok_r(NULL, "\n", &save))
		aic_log_info("%s", strncmp(line, "aic: ", 5) ? line : line + 5);
	if (!head__autoscale_plan(h))
		return;
	h->n_procs = h->plan->n_procs;
	h->procs = calloc(h->n_procs + 1, sizeof(*h->procs));
	if (!h->procs) {
		head__end(h, 1, "failed", "out of memory");
		return;
	}
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		hp->h = h;
		hp->id = i;
		hp->p = &h->plan->procs[i];
		uv_timer_init(h->loop, &hp->timer);
		hp->timer.data = hp;
	}
	head__autoscale_start(h);
	/* Each gang's rendezvous port comes from the agent that hosts its rank 0. */
	for (i = 0; i < h->n_procs; i++) {
		const struct aic_proc *p = h->procs[i].p;
		struct hagent *a = &h->agents[p->node];
		if (!h->cfg.spec->stages[p->stage].ranks || p->index != 0)
			continue;
		if (a->next_port >= a->n_ports) {
			char why[256];
			snprintf(why, sizeof(why),
				 "node '%s' has no free rendezvous port left for stage '%s' (%zu found "
				 "free, at most %d gangs' rank 0 per node)",
				 a->node, h->cfg.spec->stages[p->stage].name, a->n_ports, GANG_PORTS);
			head__end(h, 1, "failed", why);
			return;
		}
		h->stages[p->stage].master_port = a->ports[a->next_port++];
	}
	h->placed = true;
	{
		json_t *plan = head__status_json(h);
		jobdir_write_json(h->cfg.jobdir, "plan.json", plan);
		json_decref(plan);
	}
	head__event_placed(h);
	rc = head__ckpt_start(h);
	if (rc) {
		if (rc > 0)
			head__end(h, 0, "succeeded", "the job finished in an earlier run");
		else
			head__end(h, 1, "failed", "cannot make the checkpoint directories");
		return;
	}
	head__state_save(h);
	head__write_status(h);
	aic_log_info("%zu processes placed on %d node%s", h->n_procs, n, n == 1 ? "" : "s");
	/* Channels first: a worker may use them as soon as it starts. */
	{
		json_t *cfg;
		size_t c;
		h->chan_closed = calloc(h->cfg.spec->n_channels + 1, sizeof(bool));
		h->source_done = calloc(h->cfg.spec->n_channels + 1, sizeof(bool));
		h->sink_done = calloc(h->cfg.spec->n_channels + 1, sizeof(bool));
		h->chan_stats = calloc(h->cfg.spec->n_channels + 1, sizeof(*h->chan_stats));
		for (c = 0; h->source_done && h->sink_done && c < h->cfg.spec->n_channels; c++) {
			h->source_done[c] = !h->cfg.spec->channels[c].source;
			h->sink_done[c] = !h->cfg.spec->channels[c].sink;
		}
		if (!h->chan_closed || !h->source_done || !h->sink_done || !h->chan_stats) {
			head__end(h, 1, "failed", "out of memory");
			return;
		}
		cfg = head__data_plane_config(h);
		if (!cfg) {
			head__end(h, 1, "failed", "out of memory");
			return;
		}
		head__broadcast(h, AIC_MSG_CONFIG, cfg);
		json_decref(cfg);
	}
	head__phase_start(h);
	for (i = 0; i < h->n_procs; i++)
		head__spawn(&h->procs[i]);
	head__save_status(h);
	if (h->n_procs == 0)
		head__check_finished(h);
}

/* An agent finished a channel's source or sink file (err < 0: it could not). */
static void file_done(struct head *h, json_t *m, bool sink)
{
	size_t ch = (size_t)json_integer_value(json_object_get(m, "chan"));
	int err = (int)json_integer_value(json_object_get(m, "error"));
	bool *done = sink ? h->sink_done : h->source_done;
	const struct aic_channel *c;
	char why[512];

	if (ch >= h->cfg.spec->n_channels || !done)
		return;
	c = &h->cfg.spec->channels[ch];
	if (err) {
		snprintf(why, sizeof(why), "channel '%s': cannot %s its %s '%s': %s", c->name,
			 sink ? "write" : "read", sink ? "sink" : "source", sink ? c->sink : c->source,
			 aic_strerror(err));
		head__end(h, 1, "failed", why);
		return;
	}
	done[ch] = true;
	if (sink)
		head__check_finished(h);
	else
		head__close_channels(h);
}

/*
 * HELLO: `aic status`/`aic stop` (client.c) send STATUS or STOP and never
 * register; an agent names only its rank, which no other connection may
 * hold. What its node has comes in REGISTER, after WELCOME (wire.h), so
 * that nothing before WELCOME is large.
 */
static bool on_hello(struct aic_conn *c, json_t *m)
{
	struct head *h = c->owner;
	const char *role = json_string_value(json_object_get(m, "role"));
	json_t *r = json_object_get(m, "rank");
	struct hagent *a;
	json_int_t rank;

	if (!role)
		return false;
	if (!strcmp(role, "cli"))
		return true;
	if (strcmp(role, "agent"))
		return false;
	if (!json_is_integer(r)) {
		aic_log_error("refused an agent from %s: its HELLO has no rank", c->peer);
		return false;
	}
	rank = json_integer_value(r);
	if (rank < 0 || rank >= h->cfg.n_agents) {
		aic_log_error("refused an agent from %s: rank %lld is not one of this job's %d",
			      c->peer, (long long)rank, h->cfg.n_agents);
		return false;
	}
	if (rank >= h->n_main && !head__satellite_expected(h, (int)rank)) {
		aic_log_error("refused an agent from %s: rank %lld is no satellite submitted now",
			      c->peer, (long long)rank);
		return false;
	}
	a = &h->agents[rank];
	if (a->conn || a->registered) {
		aic_log_error("refused an agent from %s: rank %d is already %s", c->peer, (int)rank,
			      a->conn ? "connected" : "registered (and left)");
		return false;
	}
	a->rank = (int)rank;
	a->conn = c;
	c->data = a;
	/* Heartbeats with the job's timeout, from now: WELCOME tells the agent (conn.h). */
	snprintf(c->name, sizeof(c->name), "the agent of rank %d", a->rank);
	aic_conn_set_timeout(c, h->cfg.spec->failure_timeout_ms);
	return true;
}

/* A REGISTER the head does not take: logged, answered with REJECT, and the connection closed. */
static void refuse_register(struct aic_conn *c, const char *why)
{
	json_t *m = json_pack("{s:s}", "error", why);

	aic_log_error("refused REGISTER from %s: %s", c->peer, why);
	if (m)
		aic_conn_send(c, AIC_MSG_REJECT, m);
	json_decref(m);
	aic_conn_close(c);
}

/*
 * REGISTER (wire.h) from an agent that has had its WELCOME: what its node
 * has. Once every agent has registered the job is placed and CONFIG and
 * SPAWN go.
 */
static void on_register(struct head *h, struct aic_conn *c, json_t *m)
{
	struct hagent *a = c->data;
	json_t *topo, *gpus, *v, *r = json_object_get(m, "rank");
	char why[256];
	size_t i;

	if (!a) {
		refuse_register(c, "not an agent's connection (its HELLO did not say role 'agent')");
		return;
	}
	if (a->registered) {
		snprintf(why, sizeof(why), "agent %d is already registered", a->rank);
		refuse_register(c, why);
		return;
	}
	if (!json_is_integer(r) || json_integer_value(r) != a->rank) {
		snprintf(why, sizeof(why), "rank %lld, but its HELLO said %d",
			 json_is_integer(r) ? (long long)json_integer_value(r) : -1LL, a->rank);
		refuse_register(c, why);
		return;
	}
	if (a->rank >= h->n_main && !head__satellite_check(h, a, m, why, sizeof(why))) {
		refuse_register(c, why);
		return;
	}
	topo = json_object_get(m, "topo");
	if (!topo || aic_topo_from_json(topo, &a->topo) != 0) {
		snprintf(why, sizeof(why), "agent %d sent no usable topology", a->rank);
		refuse_register(c, why);
		return;
	}
	snprintf(a->node, sizeof(a->node), "%s", json_string_value(json_object_get(m, "node")) ?: "?");
	snprintf(a->addr, sizeof(a->addr), "%s", json_string_value(json_object_get(m, "addr")) ?: "?");
	a->data_port = (int)json_integer_value(json_object_get(m, "port"));
	gpus = json_object_get(m, "gpus");
	if (json_is_array(gpus)) {
		json_array_foreach(gpus, i, v)
			if (a->n_gpus < AIC_PLACE_MAX_GPUS)
				a->gpus[a->n_gpus++] = (int)json_integer_value(v);
	} else {
		for (i = 0; i < a->topo->n_gpus && i < AIC_PLACE_MAX_GPUS; i++)
			a->gpus[a->n_gpus++] = (int)i;
	}
	aic_cpuset_parse(&a->cpus, json_string_value(json_object_get(m, "cpus")) ?: "");
	json_array_foreach(json_object_get(m, "ports"), i, v)
		if (a->n_ports < GANG_PORTS)
			a->ports[a->n_ports++] = (int)json_integer_value(v);
	a->registered = true;
	snprintf(c->name, sizeof(c->name), "the agent on node '%s' (rank %d)", a->node, a->rank);
	h->n_registered++;
	aic_log_debug("agent %d registered from %s (%s)", a->rank, c->peer, a->node);
	if (a->rank >= h->n_main) {
		head__satellite_joined(h, a);
		return;
	}
	if (h->placed || h->ending || h->n_registered != h->n_main)
		return;
	h->registered_ms = aic_now_ms();
	place_and_start(h);
}

static void on_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	(void)f;
	struct head *h = c->owner;
	json_t *s;

	if (!m)
		return;
	switch (type) {
	case AIC_MSG_REGISTER:
		on_register(h, c, m);
		break;
	case AIC_MSG_STARTED:
		if ((size_t)json_integer_value(json_object_get(m, "id")) < h->n_procs) {
			struct hproc *hp = &h->procs[json_integer_value(json_object_get(m, "id"))];
			if (hp->state == P_STARTING)
				hp->state = P_RUNNING;
			hp->pid = (long)json_integer_value(json_object_get(m, "pid"));
			hp->started_ms = aic_now_ms();
			head__event_proc(h, hp, "start");
			head__save_status(h);
		}
		break;
	case AIC_MSG_EXITED:
		head__on_exited(h, m);
		/* It may have left room for a lost node's processes. */
		head__place_waiting(h);
		break;
	case AIC_MSG_STATUS:
		s = head__status_json(h);
		aic_conn_send(c, AIC_MSG_STATUS, s);
		json_decref(s);
		break;
	case AIC_MSG_STOP:
		aic_log_info("stop requested from %s", c->peer);
		head__end(h, 0, "stopped", "stopped by aic stop");
		break;
	case AIC_MSG_STATS:
		head__on_stats(h, m);
		break;
	case AIC_MSG_LOAD:
		head__autoscale_on_load(h, c->data, m);
		break;
	case AIC_MSG_SINK_DONE:
	case AIC_MSG_SOURCE_DONE:
		file_done(h, m, type == AIC_MSG_SINK_DONE);
		break;
	case AIC_MSG_METRICS:
		head__on_metrics(h, m);
		break;
	case AIC_MSG_EVENTS:
		head__on_events(h, c->data, m);
		break;
	case AIC_MSG_CHECKPOINTED:
		head__on_checkpointed(h, m);
		break;
	case AIC_MSG_DRAIN:
		aic_log_info("checkpoint and stop requested from %s", c->peer);
		head_drain(h, "stopped by aic stop --checkpoint");
		break;
	case AIC_MSG_PHASE_ASK:
	case AIC_MSG_PHASE_DONE:
	case AIC_MSG_PHASE_EVENT:
		if (c->data)
			head__phase_msg(h, c->data, type, m);
		break;
	case AIC_MSG_HEALTH:
		head__service_health(h, m);
		break;
	default:
		break;
	}
	head__service_sync(h); /* any of these may have changed a service's endpoints */
}

static void on_close(struct aic_conn *c)
{
	struct head *h = c->owner;
	struct hagent *a = c->data;
	char why[256];
	int i, left = 0;

	if (!a)
		return;
	a->conn = NULL;
	a->gone = a->registered;
	if (head__satellite_left(h, a)) {
		/* A satellite released empty: not a lost node. */
	} else if (!h->ending && !a->registered) {
		/* Welcomed, never registered: the job cannot be placed without it. */
		snprintf(why, sizeof(why), "the agent of rank %d (from %s) left before it registered",
			 a->rank, c->peer);
		head__end(h, 1, "failed", why);
	} else if (!h->ending) {
		if (c->why[0])
			snprintf(why, sizeof(why), "node '%s' (rank %d) is lost: its agent's link: %s",
				 a->node, a->rank, c->why);
		else
			snprintf(why, sizeof(why), "the agent on node '%s' disconnected", a->node);
		head__node_lost(h, a, why);
	} else if (c->why[0]) {
		aic_log_warn("the agent on node '%s' (rank %d) is gone before it confirmed the end "
			     "(%s)",
			     a->node, a->rank, c->why);
	}
	for (i = 0; i < h->cfg.n_agents; i++)
		left += h->agents[i].conn != NULL;
	if (left == 0 && h->ending && !h->done)
		head__finish(h);
}

void head_terminate(struct head *h, const char *why)
{
	head__end(h, 1, "cancelled", why);
}

/* --- the registration deadline ---------------------------------------------- */

/* "node 'n4'" for rank r: its agent's word, else bootstrap's, else unknown. */
static void rank_node(struct head *h, int r, char *buf, size_t len)
{
	char name[64];

	if (h->agents[r].registered)
		snprintf(buf, len, "node '%s'", h->agents[r].node);
	else if (h->cfg.node_name && h->cfg.node_name(r, name, sizeof(name), h->cfg.node_name_arg) == 0)
		snprintf(buf, len, "node '%s'", name);
	else
		snprintf(buf, len, "an unknown node");
}

static void registration_overdue(uv_timer_t *t)
{
	struct head *h = t->data;
	char why[512], node[96];
	size_t n;
	int i, missing = 0;

	if (h->placed || h->ending)
		return;
	for (i = 0; i < h->n_main; i++)
		missing += !h->agents[i].registered;
	n = (size_t)snprintf(why, sizeof(why), "%d of %d agents did not register within %llu ms:",
			     missing, h->n_main,
			     (unsigned long long)h->cfg.spec->failure_timeout_ms);
	for (i = 0; i < h->n_main; i++) {
		if (h->agents[i].registered)
			continue;
		rank_node(h, i, node, sizeof(node));
		aic_log_error("the agent of rank %d on %s has not registered within %llu ms "
			      "(failure_timeout)",
			      i, node, (unsigned long long)h->cfg.spec->failure_timeout_ms);
		if (n < sizeof(why))
			n += (size_t)snprintf(why + n, sizeof(why) - n, "%s rank %d on %s",
					      n && why[n - 1] == ':' ? "" : ",", i, node);
	}
	head__end(h, 1, "failed", why);
}

/*
 * The loop's first turn: bootstrap is over (aic-launch's PMIx fence runs
 * before the loop), so every agent can connect from now on.
 */
static void registration_opens(uv_timer_t *t)
{
	struct head *h = t->data;

	if (!h->placed && !h->ending)
		uv_timer_start(t, registration_overdue, h->cfg.spec->failure_timeout_ms, 0);
}


void head_fail(struct head *h, const char *why)
{
	head__end(h, 1, "failed", why);
}

/* --- life ------------------------------------------------------------- */

/* The head's endpoint: agents register there, and `aic status`/`aic stop` ask there. */
static const struct aic_handlers agents_handlers = {
	.on_hello = on_hello,
	.on_frame = on_frame,
	.on_close = on_close,
};

/* The job's name: the spec's, else its file name without ".yaml". */
static void job_name(const struct aic_spec *spec, char *buf, size_t len)
{
	const char *base = strrchr(spec->path, '/');
	char *dot;

	if (spec->name) {
		snprintf(buf, len, "%s", spec->name);
		return;
	}
	snprintf(buf, len, "%s", base ? base + 1 : spec->path);
	dot = strrchr(buf, '.');
	if (dot && dot != buf)
		*dot = '\0';
}

struct head *head_start(uv_loop_t *loop, const struct head_config *cfg)
{
	struct head *h = calloc(1, sizeof(*h));
	size_t i;
	int rc;

	if (!h)
		return NULL;
	h->loop = loop;
	h->cfg = *cfg;
	job_name(cfg->spec, h->name, sizeof(h->name));
	h->start_ms = aic_now_ms();
	/* Satellites' agents join as ranks past the allocation's (satellite.c). */
	h->cfg.n_agents += head__satellite_slots(h);
	h->agents = calloc((size_t)h->cfg.n_agents, sizeof(*h->agents));
	h->stages = calloc(cfg->spec->n_stages + 1, sizeof(*h->stages));
	if (!h->agents || !h->stages) {
		free(h->agents);
		free(h->stages);
		free(h);
		return NULL;
	}
	for (i = 0; i < cfg->spec->n_stages; i++) {
		uv_timer_init(loop, &h->stages[i].timer);
		h->stages[i].timer.data = h;
	}
	uv_timer_init(loop, &h->status_timer);
	h->status_timer.data = h;
	uv_timer_init(loop, &h->grace);
	h->grace.data = h;
	{
		char err[2048];
		if (head__state_load(h, err, sizeof(err)) != 0) {
			aic_log_error("%s", err);
			head_free(h);
			return NULL;
		}
	}
	head__satellite_leftovers(h); /* an earlier run's, if it could not cancel them */
	rc = aic_server_start(loop, &h->srv, cfg->listen_addr, cfg->token, &agents_handlers, h);
	if (rc) {
		aic_log_error("the head cannot listen: %s", uv_strerror(rc));
		head_free(h);
		return NULL;
	}
	/*
	 * Every agent connects at once after bootstrap's fence: the head keeps
	 * them all while they authenticate, or it would push its own agents
	 * out (AIC_NET_MAX_PENDING still bounds a job with fewer nodes).
	 */
	if (h->srv.max_pending < (unsigned)cfg->n_agents)
		h->srv.max_pending = (unsigned)cfg->n_agents;
	head__prom_start(h);
	/* Fires on the loop's first turn, once bootstrap is over (registration_opens). */
	uv_timer_init(loop, &h->wait_timer);
	h->wait_timer.data = h;
	uv_timer_start(&h->wait_timer, registration_opens, 0, 0);
	return h;
}

int head_port(const struct head *h)
{
	return h->srv.port;
}

bool head_ending(const struct head *h)
{
	return h->ending;
}

bool head_done(const struct head *h)
{
	/* Not before the satellites' scancels have returned: none is left behind. */
	return h->done && !head__satellite_busy(h);
}

int head_exit_code(const struct head *h)
{
	return h->exit_code;
}

unsigned head_rejected(const struct head *h)
{
	return h->srv.rejected;
}

void head_free(struct head *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < h->cfg.n_agents; i++)
		aic_topo_free(h->agents[i].topo);
	aic_plan_free(h->plan);
	free(h->nodes);
	free(h->chan_closed);
	free(h->source_done);
	free(h->sink_done);
	free(h->chan_stats);
	free(h->feeders);
	free(h->sinkers);
	if (h->metrics_file)
		fclose(h->metrics_file);
	json_decref(h->metrics);
	head__events_close(h);
	head__prom_stop(h);
	head__ckpt_close(h);
	head__phase_free(h);
	head__autoscale_free(h);
	head__satellite_free(h);
	head__service_free(h);
	free(h->procs);
	free(h->stages);
	free(h->agents);
	free(h);
}

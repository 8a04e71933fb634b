/*
 * The head (see head.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "error.h"
#include "head.h"
#include "jobdir.h"
#include "log.h"
#include "metrics.h"
#include "place.h"
#include "procenv.h"
#include "strbuf.h"
#include "topo_json.h"
#include "wire.h"

#define MAX_BACKOFF_MS 60000
#define STATUS_EVERY_MS 50

enum pstate {
	P_PENDING,  /* not started yet, or waiting to restart */
	P_STARTING, /* SPAWN sent */
	P_RUNNING,
	P_STOPPING, /* KILL sent (gang restart or shutdown) */
	P_DONE,	    /* exited 0 */
	P_FAILED,   /* exited otherwise, not to be restarted */
};

static const char *const pstate_names[] = {"pending", "starting", "running",
					   "stopping", "done", "failed"};

struct head;

struct hproc {
	struct head *h;
	size_t id;
	const struct aic_proc *p;
	enum pstate state;
	long pid;
	int restarts;	 /* this replica's, or its gang's */
	int last_status; /* exit code, or -signal */
	bool exited;	 /* has exited at least once */
	uint64_t started_ms, ended_ms;
	uv_timer_t timer; /* restart backoff (replicas) */
};

struct hstage {
	int restarts;	 /* gang restarts */
	bool restarting; /* gang: ranks are being stopped for a restart */
	int master_port;
	uv_timer_t timer;
};

struct hagent {
	struct aic_conn *conn;
	bool registered, gone;
	int rank;
	char node[64];
	char addr[64];
	int data_port; /* the agent's endpoint for workers and peers */
	struct aic_topo *topo;
	int gpus[AIC_PLACE_MAX_GPUS];
	size_t n_gpus;
	struct aic_cpuset cpus;
	int ports[8];
	size_t n_ports, next_port;
};

/* A channel's data-plane counters (summary.json's "channels"). */
struct chan_stats {
	json_int_t stale_dropped; /* items too old for their readers */
	json_int_t zstd_in, zstd_out; /* bytes sent compressed between agents, before and after */
	json_int_t arena_items;	      /* items whose payload crossed processes in shared memory */
};

struct head {
	uv_loop_t *loop;
	struct head_config cfg;
	struct aic_server srv;
	struct hagent *agents;
	int n_registered;
	struct aic_place_node *nodes;
	struct aic_plan *plan;
	struct hproc *procs;
	size_t n_procs;
	struct hstage *stages;
	bool placed, ending, done;
	bool *chan_closed; /* per spec channel: CLOSE sent */
	bool *source_done; /* per spec channel: its source is exhausted (or it has none) */
	bool *sink_done;   /* per spec channel: its sink has written all (or it has none) */
	struct chan_stats *chan_stats; /* per spec channel, summed over agents */
	json_int_t agent_maxrss_kib;   /* the largest agent's peak RSS, from their STATS */
	/* Workers' metrics: every point to metrics.jsonl, a summary per stage and name. */
	FILE *metrics_file;
	json_t *metrics; /* {stage: {name: {n, last, min, max, last_step}}} */
	size_t n_metric_names;
	uint64_t registered_ms; /* when the last agent registered */
	uv_timer_t status_timer;
	int exit_code;
	const char *final_state;
	char name[128];
	char reason[512];
	uint64_t start_ms;
};

static void spec_relative(struct head *h, const char *source, char *buf, size_t len);

static void head_end(struct head *h, int code, const char *state, const char *reason);
static void finish(struct head *h);

/* How a stage uses a channel or a weight stream. */
enum use { WRITES, READS, WEIGHTS_FROM, WEIGHTS_TO };

static bool stage_uses(const struct aic_stage *st, const char *name, enum use u)
{
	char **p = u == WRITES ? st->outputs : u == READS ? st->inputs : NULL;

	if (u == WEIGHTS_FROM)
		return st->weights_from && !strcmp(st->weights_from, name);
	if (u == WEIGHTS_TO)
		return st->weights_to && !strcmp(st->weights_to, name);
	for (; p && *p; p++)
		if (!strcmp(*p, name))
			return true;
	return false;
}

static bool proc_uses(const struct head *h, size_t k, const char *name, enum use u)
{
	return stage_uses(&h->cfg.spec->stages[h->procs[k].p->stage], name, u);
}

/* The node of the first process (in plan order) that uses `name` so, or `dflt`. */
static int first_node(const struct head *h, const char *name, enum use u, int dflt)
{
	size_t k;

	for (k = 0; k < h->n_procs; k++)
		if (proc_uses(h, k, name, u))
			return (int)h->procs[k].p->node;
	return dflt;
}

/* The nodes (agent ranks) with a process that uses `name` in either way, as JSON. */
static json_t *nodes_using(const struct head *h, const char *name, enum use a, enum use b)
{
	json_t *out = json_array();
	int r;
	size_t k;

	for (r = 0; r < h->cfg.n_agents; r++)
		for (k = 0; k < h->n_procs; k++)
			if (h->procs[k].p->node == (size_t)r &&
			    (proc_uses(h, k, name, a) || proc_uses(h, k, name, b))) {
				json_array_append_new(out, json_integer(r));
				break;
			}
	return out;
}

/* A channel is closed once every process of every stage writing it is done. */
static bool chan_producers_done(struct head *h, const char *chan)
{
	size_t i;
	const struct aic_channel *ch = aic_spec_channel(h->cfg.spec, chan);

	if (ch && h->source_done && !h->source_done[ch - h->cfg.spec->channels])
		return false;
	for (i = 0; i < h->n_procs; i++)
		if (proc_uses(h, i, chan, WRITES) && h->procs[i].state != P_DONE)
			return false;
	return true;
}

/* --- status ---------------------------------------------------------- */

static json_t *status_json(struct head *h)
{
	json_t *o = json_object(), *procs = json_array();
	uint64_t now = aic_now_ms();
	size_t i, g;

	json_object_set_new(o, "job", json_string(h->name));
	json_object_set_new(o, "state", json_string(h->final_state ? h->final_state
						    : h->placed    ? "running"
								   : "starting"));
	if (h->reason[0])
		json_object_set_new(o, "reason", json_string(h->reason));
	json_object_set_new(o, "uptime_s", json_real((double)(now - h->start_ms) / 1000.0));
	json_object_set_new(o, "nodes", json_integer(h->cfg.n_agents));
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
		json_t *gpus = json_array();
		for (g = 0; g < hp->p->n_gpus; g++)
			json_array_append_new(gpus, json_integer(hp->p->gpus[g]));
		json_array_append_new(
			procs,
			json_pack("{s:s,s:s,s:i,s:s,s:o,s:s,s:I,s:i,s:o,s:f}", "stage", st->name, "kind",
				  st->ranks ? "rank" : "replica", "index", hp->p->index, "node",
				  h->agents[hp->p->node].node, "gpus", gpus, "state",
				  pstate_names[hp->state], "pid", (json_int_t)hp->pid, "restarts",
				  st->ranks ? h->stages[hp->p->stage].restarts : hp->restarts, "exit",
				  hp->exited ? json_integer(hp->last_status) : json_null(), "uptime_s",
				  hp->state == P_RUNNING ? (double)(now - hp->started_ms) / 1000.0 : 0.0));
	}
	json_object_set_new(o, "procs", procs);
	return o;
}

static void write_status(struct head *h)
{
	json_t *s = status_json(h);

	jobdir_write_json(h->cfg.jobdir, "status.json", s);
	json_decref(s);
}

static void status_timer(uv_timer_t *t)
{
	write_status(t->data);
}

/*
 * status.json follows every change, but is written at most every
 * STATUS_EVERY_MS: a job starting thousands of processes would otherwise
 * rewrite it thousands of times (quadratic in the job's size).
 */
static void save_status(struct head *h)
{
	if (h->done) {
		write_status(h);
		return;
	}
	if (!uv_is_active((uv_handle_t *)&h->status_timer))
		uv_timer_start(&h->status_timer, status_timer, STATUS_EVERY_MS, 0);
}

/* --- spawning -------------------------------------------------------- */

static void set_env(json_t *env, const char *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_env(json_t *env, const char *k, const char *fmt, ...)
{
	char v[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	json_object_set_new(env, k, json_string(v));
}

/* Sets each "NAME=VALUE" of strv in env (a JSON object), over what is there. */
static void env_put(json_t *env, char **strv)
{
	char **e;

	for (e = strv; e && *e; e++) {
		char *eq = strchr(*e, '=');
		char k[256];
		if (!eq || (size_t)(eq - *e) >= sizeof(k))
			continue;
		memcpy(k, *e, (size_t)(eq - *e));
		k[eq - *e] = '\0';
		json_object_set_new(env, k, json_string(eq + 1));
	}
}

static int stage_count(struct head *h, size_t stage, size_t node, bool on_node)
{
	size_t i;
	int n = 0;

	for (i = 0; i < h->n_procs; i++)
		n += h->procs[i].p->stage == stage && (!on_node || h->procs[i].p->node == node);
	return n;
}

/*
 * A weight stream's NCCL group (aic_weights_nccl_*, lib/aic.h): the writer
 * stage's rank 0 is rank 0, every process of the reader stages follows in
 * the plan's order; AIC_WEIGHTS_NCCL="stream:rank:nranks[,...]" tells a
 * process its place in each group it belongs to.
 */
static void nccl_env(struct head *h, const struct hproc *hp, json_t *env)
{
	const struct aic_spec *spec = h->cfg.spec;
	const struct aic_stage *me = &spec->stages[hp->p->stage];
	char val[1024] = "";
	size_t w, i, o = 0;

	for (w = 0; w < spec->n_weights && o < sizeof(val); w++) {
		const char *name = spec->weights[w].name;
		int rank = -1, n = 1;
		if (me->weights_to && !strcmp(me->weights_to, name) && hp->p->index == 0)
			rank = 0;
		for (i = 0; i < h->n_procs; i++) {
			const struct aic_stage *st = &spec->stages[h->procs[i].p->stage];
			if (!st->weights_from || strcmp(st->weights_from, name))
				continue;
			if (&h->procs[i] == hp)
				rank = n;
			n++;
		}
		if (rank >= 0)
			o += (size_t)snprintf(val + o, sizeof(val) - o, "%s%s:%d:%d", o ? "," : "", name,
					      rank, n);
	}
	if (o && o < sizeof(val))
		json_object_set_new(env, "AIC_WEIGHTS_NCCL", json_string(val));
}

static void spawn(struct hproc *hp)
{
	struct head *h = hp->h;
	const struct aic_proc *p = hp->p;
	const struct aic_stage *st = &h->cfg.spec->stages[p->stage];
	struct hagent *a = &h->agents[p->node];
	/* Its GPUs, CPUs, NUMA node and NICs; CUDA_VISIBLE_DEVICES is the agent's to add. */
	struct aic_procenv_in pe = {.topo = a->topo,
				    .proc = p,
				    .what = AIC_PROCENV_PLACE | AIC_PROCENV_NCCL};
	json_t *msg, *argv = json_array(), *env = json_object(), *gpus = json_array();
	char cpus[1024], log[4096], cwd[PATH_MAX];
	char **placed = NULL;
	size_t i;

	for (i = 0; st->argv[i]; i++)
		json_array_append_new(argv, json_string(st->argv[i]));
	for (i = 0; i < p->n_gpus; i++)
		json_array_append_new(gpus, json_integer(p->gpus[i]));
	aic_cpuset_format(&p->cpus, cpus, sizeof(cpus));
	set_env(env, "AIC_JOB_DIR", "%s", h->cfg.jobdir);
	set_env(env, "AIC_JOB_NAME", "%s", h->name);
	set_env(env, "AIC_STAGE", "%s", st->name);
	set_env(env, "AIC_INDEX", "%d", p->index);
	set_env(env, "AIC_NODE", "%s", a->node);
	set_env(env, "AIC_TOKEN", "%s", h->cfg.token);
	if (aic_procenv(&pe, &placed) == 0)
		env_put(env, placed);
	aic_strv_free(placed);
	if (st->ranks) {
		const struct hproc *r0 = NULL;
		for (i = 0; i < h->n_procs && !r0; i++)
			if (h->procs[i].p->stage == p->stage && h->procs[i].p->index == 0)
				r0 = &h->procs[i];
		set_env(env, "AIC_RANK", "%d", p->index);
		set_env(env, "AIC_WORLD_SIZE", "%d", st->ranks);
		set_env(env, "RANK", "%d", p->index);
		set_env(env, "WORLD_SIZE", "%d", st->ranks);
		set_env(env, "LOCAL_RANK", "%d", p->local_rank);
		set_env(env, "LOCAL_WORLD_SIZE", "%d", stage_count(h, p->stage, p->node, true));
		set_env(env, "GROUP_RANK", "%zu", p->node);
		set_env(env, "MASTER_ADDR", "%s", r0 ? h->agents[r0->p->node].addr : a->addr);
		set_env(env, "MASTER_PORT", "%d", h->stages[p->stage].master_port);
	} else {
		set_env(env, "AIC_REPLICA", "%d", p->index);
		set_env(env, "AIC_REPLICAS", "%d", stage_count(h, p->stage, 0, false));
	}
	nccl_env(h, hp, env);
	/* The stage's own env comes last and wins. */
	env_put(env, st->env);
	snprintf(log, sizeof(log), "%s/logs/%s.%d.log", h->cfg.jobdir, st->name, p->index);
	/* Workers start in the spec's directory, where relative paths in the spec point. */
	spec_relative(h, ".", cwd, sizeof(cwd));
	msg = json_pack("{s:I,s:s,s:i,s:o,s:o,s:s,s:o,s:s,s:s}", "id", (json_int_t)hp->id, "stage",
			st->name, "index", p->index, "argv", argv, "env", env, "cpus", cpus, "gpus",
			gpus, "log", log, "cwd", cwd);
	hp->state = P_STARTING;
	hp->pid = 0;
	aic_conn_send(a->conn, AIC_MSG_SPAWN, msg);
	json_decref(msg);
}

static uint64_t backoff(const struct aic_stage *st, int restarts)
{
	uint64_t ms = (uint64_t)st->restart.backoff_ms;
	int i;

	for (i = 0; i < restarts && ms < MAX_BACKOFF_MS; i++)
		ms *= 2;
	return ms < MAX_BACKOFF_MS ? ms : MAX_BACKOFF_MS;
}

static void replica_timer(uv_timer_t *t)
{
	struct hproc *hp = t->data;

	if (!hp->h->ending)
		spawn(hp);
}

static void gang_timer(uv_timer_t *t)
{
	struct head *h = t->data;
	size_t stage, i;

	/* The timer sits inside struct hstage: find which one fired. */
	for (stage = 0; stage < h->cfg.spec->n_stages; stage++)
		if (&h->stages[stage].timer == t)
			break;
	if (h->ending || stage >= h->cfg.spec->n_stages)
		return;
	h->stages[stage].restarting = false;
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage)
			spawn(&h->procs[i]);
	save_status(h);
}

static void kill_proc(struct hproc *hp, int sig)
{
	json_t *m = json_pack("{s:I,s:i}", "id", (json_int_t)hp->id, "signal", sig);

	aic_conn_send(hp->h->agents[hp->p->node].conn, AIC_MSG_KILL, m);
	json_decref(m);
}

static void broadcast(struct head *h, uint16_t type, json_t *m)
{
	int i;

	for (i = 0; i < h->cfg.n_agents; i++)
		if (h->agents[i].conn)
			aic_conn_send(h->agents[i].conn, type, m);
}

/* Tells agents about channels whose producers have all finished. */
static void close_channels(struct head *h)
{
	size_t c;

	for (c = 0; c < h->cfg.spec->n_channels; c++) {
		json_t *m;
		if (h->chan_closed[c] || !chan_producers_done(h, h->cfg.spec->channels[c].name))
			continue;
		h->chan_closed[c] = true;
		m = json_pack("{s:i}", "chan", (int)c);
		broadcast(h, AIC_MSG_CLOSE, m);
		json_decref(m);
	}
}

/* Every process done: success. */
static void check_finished(struct head *h)
{
	size_t i;

	close_channels(h);
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].state != P_DONE)
			return;
	for (i = 0; h->sink_done && i < h->cfg.spec->n_channels; i++)
		if (!h->sink_done[i])
			return; /* its SINK_DONE will call again */
	head_end(h, 0, "succeeded", "every process finished");
}

/* A gang whose ranks have all stopped either restarts or fails the job. */
static void gang_settle(struct head *h, size_t stage)
{
	const struct aic_stage *st = &h->cfg.spec->stages[stage];
	struct hstage *hs = &h->stages[stage];
	size_t i;

	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage &&
		    (h->procs[i].state == P_RUNNING || h->procs[i].state == P_STARTING ||
		     h->procs[i].state == P_STOPPING))
			return;
	if (hs->restarts >= st->restart.max) {
		char why[512];
		snprintf(why, sizeof(why),
			 "stage '%s' (a gang of %d ranks) failed and has used its %d restart%s", st->name,
			 st->ranks, st->restart.max, st->restart.max == 1 ? "" : "s");
		head_end(h, 1, "failed", why);
		return;
	}
	aic_log_info("restarting stage '%s' (all %d ranks) in %llu ms, restart %d of %d", st->name,
		     st->ranks, (unsigned long long)backoff(st, hs->restarts), hs->restarts + 1,
		     st->restart.max);
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage)
			h->procs[i].state = P_PENDING;
	uv_timer_start(&hs->timer, gang_timer, backoff(st, hs->restarts), 0);
	hs->restarts++;
}

static void on_exited(struct head *h, json_t *m)
{
	size_t id = (size_t)json_integer_value(json_object_get(m, "id"));
	int status = (int)json_integer_value(json_object_get(m, "status"));
	struct hproc *hp;
	const struct aic_stage *st;
	struct hstage *hs;
	size_t i;

	if (id >= h->n_procs)
		return;
	hp = &h->procs[id];
	st = &h->cfg.spec->stages[hp->p->stage];
	hs = &h->stages[hp->p->stage];
	hp->exited = true;
	hp->last_status = status;
	hp->ended_ms = aic_now_ms();
	hp->pid = 0;
	if (h->ending) {
		hp->state = status == 0 && hp->state != P_STOPPING ? P_DONE : P_FAILED;
		return;
	}
	if (hp->state == P_STOPPING) {
		/* Stopped on purpose for a gang restart. */
		hp->state = P_PENDING;
		gang_settle(h, hp->p->stage);
		save_status(h);
		return;
	}
	if (status == 0) {
		hp->state = P_DONE;
		save_status(h);
		check_finished(h);
		return;
	}
	aic_log_info("stage '%s' %s %d on %s exited with %s %d", st->name,
		     st->ranks ? "rank" : "replica", hp->p->index, h->agents[hp->p->node].node,
		     status < 0 ? "signal" : "status", status < 0 ? -status : status);
	if (st->ranks) {
		hp->state = P_PENDING;
		if (!hs->restarting) {
			hs->restarting = true;
			for (i = 0; i < h->n_procs; i++)
				if (h->procs[i].p->stage == hp->p->stage &&
				    (h->procs[i].state == P_RUNNING || h->procs[i].state == P_STARTING)) {
					h->procs[i].state = P_STOPPING;
					kill_proc(&h->procs[i], SIGTERM);
				}
		}
		gang_settle(h, hp->p->stage);
	} else if (hp->restarts < st->restart.max) {
		uint64_t ms = backoff(st, hp->restarts);
		aic_log_info("restarting stage '%s' replica %d in %llu ms, restart %d of %d", st->name,
			     hp->p->index, (unsigned long long)ms, hp->restarts + 1, st->restart.max);
		hp->restarts++;
		hp->state = P_PENDING;
		uv_timer_start(&hp->timer, replica_timer, ms, 0);
	} else {
		char why[512];
		hp->state = P_FAILED;
		snprintf(why, sizeof(why),
			 "stage '%s' replica %d failed (%s %d) and has used its %d restart%s", st->name,
			 hp->p->index, status < 0 ? "signal" : "exit status", status < 0 ? -status : status,
			 st->restart.max, st->restart.max == 1 ? "" : "s");
		head_end(h, 1, "failed", why);
	}
	save_status(h);
}

/* --- registration and placement -------------------------------------- */

/* A path as the spec wrote it (source, sink, the workers' directory): relative to the spec's directory. */
static void spec_relative(struct head *h, const char *source, char *buf, size_t len)
{
	char spec[PATH_MAX], *slash;

	if (source[0] == '/' || !realpath(h->cfg.spec->path, spec)) {
		snprintf(buf, len, "%s", source);
		return;
	}
	slash = strrchr(spec, '/');
	if (slash)
		*slash = '\0';
	if (strlen(spec) + 1 + strlen(source) >= len) {
		snprintf(buf, len, "%s", source);
		return;
	}
	memcpy(buf, spec, strlen(spec));
	buf[strlen(spec)] = '/';
	memcpy(buf + strlen(spec) + 1, source, strlen(source) + 1);
}

/*
 * What agents need to know of the data plane (CONFIG): every agent's
 * endpoint; per channel its capacity, the agents that produce it (pulled by
 * the others), staleness, and who reads its source / writes its sink; per
 * weight stream the agents that keep its versions.
 */
static json_t *data_plane_config(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	json_t *chans = json_array(), *agents = json_array(), *weights = json_array();
	char path[PATH_MAX];
	size_t c, i, si, wi;

	for (c = 0; c < spec->n_channels; c++) {
		const struct aic_channel *ch = &spec->channels[c];
		json_t *producers = nodes_using(h, ch->name, WRITES, WRITES), *e;
		h->chan_closed[c] = chan_producers_done(h, ch->name);
		e = json_pack("{s:s,s:i,s:b,s:b,s:o}", "name", ch->name, "capacity", ch->capacity,
			      "closed", h->chan_closed[c], "compress", ch->compress, "producers",
			      producers);
		/* Items written by a stage that reads weights W carry W's version. */
		for (si = 0; si < spec->n_stages; si++) {
			const struct aic_stage *st = &spec->stages[si];
			if (!stage_uses(st, ch->name, WRITES) || !st->weights_from)
				continue;
			for (wi = 0; wi < spec->n_weights; wi++)
				if (!strcmp(spec->weights[wi].name, st->weights_from))
					json_object_set_new(e, "stale",
							    json_pack("{s:i,s:i}", "stream", (int)wi, "k",
								      spec->weights[wi].max_staleness));
			break;
		}
		if (ch->sink) {
			/* Written by the agent of the channel's first producer. */
			spec_relative(h, ch->sink, path, sizeof(path));
			json_object_set_new(e, "sink", json_string(path));
			json_object_set_new(e, "sink_agent", json_integer(first_node(h, ch->name, WRITES, 0)));
		}
		if (ch->source) {
			/* Read by the agent of its first consumer: the lines start local. */
			int feeder = first_node(h, ch->name, READS, 0);
			spec_relative(h, ch->source, path, sizeof(path));
			json_object_set_new(e, "source", json_string(path));
			json_object_set_new(e, "epochs", json_integer(ch->epochs));
			json_object_set_new(e, "feeder", json_integer(feeder));
			json_array_append_new(producers, json_integer(feeder));
		}
		json_array_append_new(chans, e);
	}
	for (i = 0; i < (size_t)h->cfg.n_agents; i++)
		json_array_append_new(agents, json_pack("{s:i,s:s,s:i}", "rank", (int)i, "addr",
							h->agents[i].addr, "port", h->agents[i].data_port));
	/* Readers' agents get every version; writers' keep them too (staleness is judged there). */
	for (wi = 0; wi < spec->n_weights; wi++)
		json_array_append_new(weights,
				      json_pack("{s:s,s:o}", "name", spec->weights[wi].name, "receivers",
						nodes_using(h, spec->weights[wi].name, WEIGHTS_FROM,
							    WEIGHTS_TO)));
	return json_pack("{s:o,s:o,s:o}", "channels", chans, "agents", agents, "weights", weights);
}

static void place_and_start(struct head *h)
{
	char *errors = NULL, *line, *save = NULL;
	size_t i;
	int rc, n = h->cfg.n_agents;

	h->nodes = calloc((size_t)n, sizeof(*h->nodes));
	if (!h->nodes) {
		head_end(h, 1, "failed", "out of memory");
		return;
	}
	for (i = 0; i < (size_t)n; i++) {
		h->nodes[i].name = h->agents[i].node;
		h->nodes[i].topo = h->agents[i].topo;
		h->nodes[i].gpus = h->agents[i].gpus;
		h->nodes[i].n_gpus = h->agents[i].n_gpus;
		h->nodes[i].cpus = aic_cpuset_empty(&h->agents[i].cpus) ? NULL : &h->agents[i].cpus;
	}
	rc = aic_place(h->cfg.spec, h->nodes, (size_t)n, &h->plan, &errors);
	if (rc) {
		for (line = strtok_r(errors, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			aic_log_error("%s", line);
		head_end(h, 1, "failed", errors ? "the job does not fit the allocation" : aic_strerror(rc));
		free(errors);
		return;
	}
	h->n_procs = h->plan->n_procs;
	h->procs = calloc(h->n_procs + 1, sizeof(*h->procs));
	if (!h->procs) {
		head_end(h, 1, "failed", "out of memory");
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
	/* Each gang's rendezvous port comes from the agent that hosts its rank 0. */
	for (i = 0; i < h->n_procs; i++) {
		const struct aic_proc *p = h->procs[i].p;
		struct hagent *a = &h->agents[p->node];
		if (h->cfg.spec->stages[p->stage].ranks && p->index == 0)
			h->stages[p->stage].master_port =
				a->next_port < a->n_ports ? a->ports[a->next_port++] : 29500;
	}
	h->placed = true;
	{
		json_t *plan = status_json(h);
		jobdir_write_json(h->cfg.jobdir, "plan.json", plan);
		json_decref(plan);
	}
	write_status(h);
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
			head_end(h, 1, "failed", "out of memory");
			return;
		}
		cfg = data_plane_config(h);
		broadcast(h, AIC_MSG_CONFIG, cfg);
		json_decref(cfg);
	}
	for (i = 0; i < h->n_procs; i++)
		spawn(&h->procs[i]);
	save_status(h);
	if (h->n_procs == 0)
		check_finished(h);
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
		head_end(h, 1, "failed", why);
		return;
	}
	done[ch] = true;
	if (sink)
		check_finished(h);
	else
		close_channels(h);
}

static bool on_hello(struct aic_conn *c, json_t *m)
{
	struct head *h = c->owner;
	const char *role = json_string_value(json_object_get(m, "role"));
	json_t *topo, *gpus, *v;
	struct hagent *a;
	int rank;
	size_t i;

	if (!role)
		return false;
	if (!strcmp(role, "cli"))
		return true;
	if (strcmp(role, "agent"))
		return false;
	rank = (int)json_integer_value(json_object_get(m, "rank"));
	if (rank < 0 || rank >= h->cfg.n_agents || h->agents[rank].registered)
		return false;
	a = &h->agents[rank];
	topo = json_object_get(m, "topo");
	if (!topo || aic_topo_from_json(topo, &a->topo) != 0) {
		aic_log_error("agent %d sent no usable topology", rank);
		return false;
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
		if (a->n_ports < 8)
			a->ports[a->n_ports++] = (int)json_integer_value(v);
	a->rank = rank;
	a->conn = c;
	a->registered = true;
	c->data = a;
	h->n_registered++;
	aic_log_debug("agent %d registered from %s (%s)", rank, c->peer, a->node);
	if (h->n_registered == h->cfg.n_agents && !h->ending) {
		h->registered_ms = aic_now_ms();
		place_and_start(h);
	}
	return true;
}

/*
 * Metric points from an agent ({"points": [...]}, made by the agent from its
 * workers' METRIC frames): each becomes a line of metrics.jsonl, and the
 * summary keeps count, last, min and max per stage and name (for at most
 * MAX_METRIC_NAMES names; points of more still reach the file).
 */
#define MAX_METRIC_NAMES 1024
static void on_metrics(struct head *h, json_t *m)
{
	size_t i;
	json_t *p;

	if (!h->metrics_file) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/metrics.jsonl", h->cfg.jobdir);
		h->metrics_file = fopen(path, "ae");
		if (!h->metrics_file) {
			aic_log_error("cannot write %s: %s", path, strerror(errno));
			return;
		}
	}
	if (!h->metrics)
		h->metrics = json_object();
	json_array_foreach(json_object_get(m, "points"), i, p) {
		char *line = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line) {
			fprintf(h->metrics_file, "%s\n", line);
			free(line);
		}
		aic_metrics_add(h->metrics, p, MAX_METRIC_NAMES, &h->n_metric_names);
	}
	fflush(h->metrics_file);
}

static void on_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	(void)f;
	struct head *h = c->owner;
	json_t *s;

	if (!m)
		return;
	switch (type) {
	case AIC_MSG_STARTED:
		if ((size_t)json_integer_value(json_object_get(m, "id")) < h->n_procs) {
			struct hproc *hp = &h->procs[json_integer_value(json_object_get(m, "id"))];
			if (hp->state == P_STARTING)
				hp->state = P_RUNNING;
			hp->pid = (long)json_integer_value(json_object_get(m, "pid"));
			hp->started_ms = aic_now_ms();
			save_status(h);
		}
		break;
	case AIC_MSG_EXITED:
		on_exited(h, m);
		break;
	case AIC_MSG_STATUS:
		s = status_json(h);
		aic_conn_send(c, AIC_MSG_STATUS, s);
		json_decref(s);
		break;
	case AIC_MSG_STOP:
		aic_log_info("stop requested from %s", c->peer);
		head_end(h, 0, "stopped", "stopped by aic stop");
		break;
	case AIC_MSG_STATS: {
		const char *name;
		json_t *v;
		if (json_integer_value(json_object_get(m, "maxrss_kib")) > h->agent_maxrss_kib)
			h->agent_maxrss_kib = json_integer_value(json_object_get(m, "maxrss_kib"));
		/* An agent's counters at its end: {"channels": {name: {counter: n}}}. */
		json_object_foreach(json_object_get(m, "channels"), name, v) {
			const struct aic_channel *ch = aic_spec_channel(h->cfg.spec, name);
			struct chan_stats *st = ch && h->chan_stats ? &h->chan_stats[ch - h->cfg.spec->channels] : NULL;
			if (!st)
				continue;
			st->stale_dropped += json_integer_value(json_object_get(v, "stale_dropped"));
			st->zstd_in += json_integer_value(json_object_get(v, "zstd_in_bytes"));
			st->zstd_out += json_integer_value(json_object_get(v, "zstd_out_bytes"));
			st->arena_items += json_integer_value(json_object_get(v, "arena_items"));
		}
		break;
	}
	case AIC_MSG_SINK_DONE:
	case AIC_MSG_SOURCE_DONE:
		file_done(h, m, type == AIC_MSG_SINK_DONE);
		break;
	case AIC_MSG_METRICS:
		on_metrics(h, m);
		break;
	default:
		break;
	}
}

static void on_close(struct aic_conn *c)
{
	struct head *h = c->owner;
	struct hagent *a = c->data;
	char why[256];
	int i, left = 0;

	if (!a)
		return;
	a->gone = true;
	a->conn = NULL;
	if (!h->ending) {
		snprintf(why, sizeof(why), "the agent on node '%s' disconnected", a->node);
		aic_log_error("%s", why);
		head_end(h, 1, "failed", why);
	}
	for (i = 0; i < h->cfg.n_agents; i++)
		left += h->agents[i].registered && !h->agents[i].gone;
	if (left == 0 && h->ending && !h->done)
		finish(h);
}

/* --- the end ---------------------------------------------------------- */

static void write_summary(struct head *h)
{
	json_t *o = json_object(), *stages = json_array();
	size_t s, i;

	printf("aic: job '%s' %s: %s\n", h->name, h->final_state, h->reason);
	printf("%-14s %-10s %-9s %-8s %s\n", "stage", "processes", "restarts", "wall_s", "exit codes");
	for (s = 0; s < h->cfg.spec->n_stages; s++) {
		const struct aic_stage *st = &h->cfg.spec->stages[s];
		json_t *codes = json_array();
		int n = 0, restarts = st->ranks ? h->stages[s].restarts : 0;
		double wall = 0;
		struct aic_strbuf cs;
		aic_strbuf_init(&cs);
		for (i = 0; i < h->n_procs; i++) {
			struct hproc *hp = &h->procs[i];
			double w;
			if (hp->p->stage != s)
				continue;
			n++;
			if (!st->ranks)
				restarts += hp->restarts;
			w = hp->started_ms ? (double)((hp->ended_ms ? hp->ended_ms : aic_now_ms()) -
						      hp->started_ms) / 1000.0
					   : 0;
			if (w > wall)
				wall = w;
			json_array_append_new(codes, hp->exited ? json_integer(hp->last_status) : json_null());
			if (hp->exited)
				aic_strbuf_printf(&cs, "%s%d", cs.len ? "," : "", hp->last_status);
			else
				aic_strbuf_printf(&cs, "%s-", cs.len ? "," : "");
		}
		printf("%-14s %-10d %-9d %-8.2f %s\n", st->name, n, restarts, wall, cs.buf ? cs.buf : "");
		aic_strbuf_release(&cs);
		json_array_append_new(stages, json_pack("{s:s,s:i,s:i,s:f,s:o}", "stage", st->name,
							"processes", n, "restarts", restarts, "wall_s",
							wall, "exit_codes", codes));
	}
	fflush(stdout);
	json_object_set_new(o, "job", json_string(h->name));
	json_object_set_new(o, "state", json_string(h->final_state));
	json_object_set_new(o, "reason", json_string(h->reason));
	json_object_set_new(o, "exit_code", json_integer(h->exit_code));
	json_object_set_new(o, "wall_s", json_real((double)(aic_now_ms() - h->start_ms) / 1000.0));
	{
		/* The engine's own memory (this process: the head and its node's agent). */
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			json_object_set_new(o, "engine_maxrss_kib", json_integer(ru.ru_maxrss));
		/* Shared arena pages an agent touched count too: channel data, not overhead. */
		json_object_set_new(o, "agent_maxrss_kib", json_integer(h->agent_maxrss_kib));
	}
	json_object_set_new(o, "registered_s", h->registered_ms ? json_real((double)(h->registered_ms - h->start_ms) / 1000.0) : json_null());
	json_object_set_new(o, "stages", stages);
	{
		json_t *chans = json_object();
		size_t c;
		for (c = 0; h->chan_stats && c < h->cfg.spec->n_channels; c++)
			json_object_set_new(chans, h->cfg.spec->channels[c].name,
					    json_pack("{s:I,s:I,s:I,s:I}", "stale_dropped",
						      h->chan_stats[c].stale_dropped, "zstd_in_bytes",
						      h->chan_stats[c].zstd_in, "zstd_out_bytes",
						      h->chan_stats[c].zstd_out, "arena_items",
						      h->chan_stats[c].arena_items));
		json_object_set_new(o, "channels", chans);
	}
	json_object_set_new(o, "metrics", h->metrics ? json_incref(h->metrics) : json_object());
	jobdir_write_json(h->cfg.jobdir, "summary.json", o);
	json_decref(o);
}

/* Every agent has gone (their workers with them): the summary is final. */
static void finish(struct head *h)
{
	h->done = true;
	uv_timer_stop(&h->status_timer);
	write_summary(h);
	write_status(h);
	aic_server_stop(&h->srv);
}

static void head_end(struct head *h, int code, const char *state, const char *reason)
{
	json_t *m;
	int i, live = 0;
	size_t p;

	if (h->ending)
		return;
	h->ending = true;
	h->exit_code = code;
	h->final_state = state;
	snprintf(h->reason, sizeof(h->reason), "%s", reason);
	if (code)
		aic_log_error("job %s: %s", state, reason);
	for (p = 0; p < h->n_procs; p++)
		uv_timer_stop(&h->procs[p].timer);
	for (i = 0; i < (int)h->cfg.spec->n_stages; i++)
		uv_timer_stop(&h->stages[i].timer);
	m = json_pack("{s:b,s:s}", "ok", code == 0, "reason", reason);
	for (i = 0; i < h->cfg.n_agents; i++)
		if (h->agents[i].conn) {
			aic_conn_send(h->agents[i].conn, AIC_MSG_SHUTDOWN, m);
			live++;
		}
	json_decref(m);
	save_status(h);
	if (live == 0)
		finish(h);
}

void head_terminate(struct head *h, const char *why)
{
	head_end(h, 1, "cancelled", why);
}

/* --- life ------------------------------------------------------------- */

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
	h->agents = calloc((size_t)cfg->n_agents, sizeof(*h->agents));
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
	h->srv.token = cfg->token;
	h->srv.on_hello = on_hello;
	h->srv.on_frame = on_frame;
	h->srv.on_close = on_close;
	h->srv.owner = h;
	rc = aic_server_start(loop, &h->srv, cfg->listen_addr);
	if (rc) {
		aic_log_error("the head cannot listen: %s", uv_strerror(rc));
		head_free(h);
		return NULL;
	}
	return h;
}

int head_port(const struct head *h)
{
	return h->srv.port;
}

bool head_done(const struct head *h)
{
	return h->done;
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
	if (h->metrics_file)
		fclose(h->metrics_file);
	json_decref(h->metrics);
	free(h->procs);
	free(h->stages);
	free(h->agents);
	free(h);
}

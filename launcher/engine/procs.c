/*
 * The head's processes (see head.h for the policy): spawning, exits,
 * replica and gang restarts with backoff, closing channels whose producers
 * are done, and the job's end.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "procenv.h"
#include "strbuf.h"
#include "wire.h"

#define MAX_BACKOFF_MS 60000

/* --- who uses what ----------------------------------------------------- */

bool head__stage_uses(const struct aic_stage *st, const char *name, enum use u)
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

bool head__proc_uses(const struct head *h, size_t k, const char *name, enum use u)
{
	return head__stage_uses(&h->cfg.spec->stages[h->procs[k].p->stage], name, u);
}

/* A channel is closed once every process of every stage writing it is done. */
bool head__chan_producers_done(struct head *h, const char *chan)
{
	size_t i;
	const struct aic_channel *ch = aic_spec_channel(h->cfg.spec, chan);

	if (ch && h->source_done && !h->source_done[ch - h->cfg.spec->channels])
		return false;
	for (i = 0; i < h->n_procs; i++)
		if (head__proc_uses(h, i, chan, WRITES) && !head__proc_finished(&h->procs[i]))
			return false;
	return true;
}

bool head__proc_finished(const struct hproc *hp)
{
	return hp->state == P_DONE || hp->state == P_LOST || hp->state == P_IDLE;
}

/*
 * The processes of `stage`: h->procs[*first..*end), the plan's order being
 * the spec's stages, then index (lib/place.h), so that what is counted per
 * spawn costs the stage's processes, not the job's (O(processes^2) for a
 * job's start otherwise).
 */
static void stage_range(const struct head *h, size_t stage, size_t *first, size_t *end)
{
	size_t lo = 0, hi = h->n_procs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (h->procs[mid].p->stage < stage)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	for (hi = h->n_procs; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (h->procs[mid].p->stage <= stage)
			lo = mid + 1;
		else
			hi = mid;
	}
	*end = lo;
}

int head__gang_world(const struct head *h, size_t stage)
{
	size_t i, first, end;
	int n = 0;

	stage_range(h, stage, &first, &end);
	for (i = first; i < end; i++)
		n += h->procs[i].state != P_LOST;
	return n;
}

/* A path as the spec wrote it (source, sink, the workers' directory): relative to the spec's directory. */
void head__spec_relative(struct head *h, const char *source, char *buf, size_t len)
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
	size_t i, first, end;
	int n = 0;

	stage_range(h, stage, &first, &end);
	if (!on_node)
		return (int)(end - first);
	for (i = first; i < end; i++)
		n += h->procs[i].p->node == node && h->procs[i].state != P_LOST;
	return n;
}

/*
 * A weight stream's NCCL group (aic_weights_nccl_*, lib/aic.h): the writer
 * stage's rank 0 is rank 0, every process of the reader stages follows in
 * the plan's order; AIC_WEIGHTS_NCCL="stream:rank:nranks[,...]" tells a
 * process its place in each group it belongs to. An autoscaled stage's
 * replicas are left out: they come and go, and a collective waits for
 * every member (its idle slots would hang the writer's publish).
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
			if (!st->weights_from || strcmp(st->weights_from, name) ||
			    aic_stage_autoscales(st))
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

void head__spawn(struct hproc *hp)
{
	struct head *h = hp->h;
	const struct aic_proc *p = hp->p;
	const struct aic_stage *st = &h->cfg.spec->stages[p->stage];
	struct hagent *a = &h->agents[p->node];
	/* Its GPUs, CPUs, NUMA node and NICs; CUDA_VISIBLE_DEVICES is the agent's to add. */
	struct aic_procenv_in pe = {.topo = a->topo,
				    .proc = p,
				    .what = AIC_PROCENV_PLACE | AIC_PROCENV_NCCL};
	json_t *msg, *argv, *env, *gpus;
	char cpus[1024], log[4096], cwd[PATH_MAX];
	char **placed = NULL;
	size_t i;

	if (hp->state == P_IDLE)
		return; /* an autoscaled stage's slot, until autoscale.c places it */
	argv = json_array();
	env = json_object();
	gpus = json_array();
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
	if (aic_procenv(&pe, &placed) == 0)
		env_put(env, placed);
	aic_strv_free(placed);
	if (st->ranks) {
		const struct hproc *r0 = NULL;
		size_t end;
		stage_range(h, p->stage, &i, &end);
		for (; i < end && !r0; i++)
			if (h->procs[i].p->index == 0)
				r0 = &h->procs[i];
		set_env(env, "AIC_RANK", "%d", p->index);
		set_env(env, "AIC_WORLD_SIZE", "%d", head__gang_world(h, p->stage));
		set_env(env, "RANK", "%d", p->index);
		set_env(env, "WORLD_SIZE", "%d", head__gang_world(h, p->stage));
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
	head__ckpt_env(h, hp, env);
	head__service_env(h, hp, env);
	head__sandbox_env(h, hp, env);
	/* The stage's own env comes last and wins. */
	env_put(env, st->env);
	snprintf(log, sizeof(log), "%s/logs/%s.%d.log", h->cfg.jobdir, st->name, p->index);
	/* Workers start in the spec's directory, where relative paths in the spec point. */
	head__spec_relative(h, ".", cwd, sizeof(cwd));
	if (!a->conn) {
		/* Its node was lost since: recover.c places it again. */
		json_decref(argv);
		json_decref(env);
		json_decref(gpus);
		return;
	}
	/* shared: it reserves no cores, the agent runs it on the node's unreserved ones (cpu_pool.c). */
	msg = json_pack("{s:I,s:s,s:i,s:o,s:o,s:s,s:b,s:o,s:s,s:s}", "id", (json_int_t)hp->id,
			"stage", st->name, "index", p->index, "argv", argv, "env", env, "cpus", cpus,
			"shared", st->cpus == 0, "gpus", gpus, "log", log, "cwd", cwd);
	hp->state = P_STARTING;
	hp->pid = 0;
	if (hp->exited || hp->moves)
		head__event_proc(h, hp, "restart");
	aic_conn_send(a->conn, AIC_MSG_SPAWN, msg);
	json_decref(msg);
}

/* --- exits and restarts ---------------------------------------------- */

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
		head__spawn(hp);
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
		if (h->procs[i].p->stage == stage && h->procs[i].state != P_LOST)
			head__spawn(&h->procs[i]);
	head__save_status(h);
}

void head__kill(struct hproc *hp, int sig)
{
	struct aic_conn *c = hp->h->agents[hp->p->node].conn;
	json_t *m;

	if (!c)
		return; /* its node is lost: nothing runs there for the head any more */
	m = json_pack("{s:I,s:i}", "id", (json_int_t)hp->id, "signal", sig);
	aic_conn_send(c, AIC_MSG_KILL, m);
	json_decref(m);
}

/* A frame encoded once for every agent, freed after the last write of it is done. */
struct shared_frame {
	unsigned refs;
	uint8_t bytes[];
};

static void shared_frame_done(void *arg, int status)
{
	struct shared_frame *f = arg;

	(void)status;
	if (--f->refs == 0)
		free(f);
}

/*
 * The message is encoded once and the same bytes go to every agent: CONFIG
 * names every agent, so encoding it per agent cost the head O(nodes^2)
 * (2.2 s of 1,024 nodes' bootstrap in bench/scale).
 */
void head__broadcast(struct head *h, uint16_t type, json_t *m)
{
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	size_t n = text ? strlen(text) : 0;
	struct shared_frame *f = !m || text ? malloc(sizeof(*f) + AIC_WIRE_HEADER + n) : NULL;
	uv_buf_t b;
	int i;

	if (!f) {
		free(text);
		for (i = 0; i < h->cfg.n_agents; i++)
			if (h->agents[i].conn)
				aic_conn_send(h->agents[i].conn, type, m);
		return;
	}
	aic_wire_header(f->bytes, type, (uint32_t)n);
	if (n)
		memcpy(f->bytes + AIC_WIRE_HEADER, text, n);
	free(text);
	b = uv_buf_init((char *)f->bytes, (unsigned)(AIC_WIRE_HEADER + n));
	/* Ours until every write is queued; each write holds one until it is done. */
	f->refs = 1;
	for (i = 0; i < h->cfg.n_agents; i++) {
		if (!h->agents[i].conn)
			continue;
		f->refs++;
		aic_conn_sendv(h->agents[i].conn, NULL, &b, 1, shared_frame_done, f);
	}
	shared_frame_done(f, 0);
}

/* Tells agents about channels whose producers have all finished. */
void head__close_channels(struct head *h)
{
	size_t c;

	for (c = 0; c < h->cfg.spec->n_channels; c++) {
		json_t *m;
		if (h->chan_closed[c] || !head__chan_producers_done(h, h->cfg.spec->channels[c].name))
			continue;
		h->chan_closed[c] = true;
		m = json_pack("{s:i}", "chan", (int)c);
		head__broadcast(h, AIC_MSG_CLOSE, m);
		json_decref(m);
	}
}

/* Every process done: success. */
void head__check_finished(struct head *h)
{
	size_t i;

	head__close_channels(h);
	for (i = 0; i < h->n_procs; i++)
		if (!head__proc_finished(&h->procs[i]) &&
		    !h->cfg.spec->stages[h->procs[i].p->stage].service)
			return; /* services run until the rest is done (doc/aic-job.5, SERVICES) */
	for (i = 0; h->sink_done && i < h->cfg.spec->n_channels; i++)
		if (!h->sink_done[i])
			return; /* its SINK_DONE will call again */
	head__end(h, 0, "succeeded", "every process finished");
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
	if (hs->moving)
		return; /* stopped to move off a lost node: head.c has recover.c place it again */
	if (hs->restarts >= st->restart.max) {
		char why[512];
		snprintf(why, sizeof(why),
			 "stage '%s' (a gang of %d ranks) failed and has used its %d restart%s",
			 st->name, head__gang_world(h, stage), st->restart.max,
			 st->restart.max == 1 ? "" : "s");
		head__end(h, 1, "failed", why);
		return;
	}
	aic_log_info("restarting stage '%s' (all %d ranks) in %llu ms, restart %d of %d", st->name,
		     head__gang_world(h, stage), (unsigned long long)backoff(st, hs->restarts),
		     hs->restarts + 1, st->restart.max);
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage && h->procs[i].state != P_LOST)
			h->procs[i].state = P_PENDING;
	uv_timer_start(&hs->timer, gang_timer, backoff(st, hs->restarts), 0);
	hs->restarts++;
}

void head__on_exited(struct head *h, json_t *m)
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
	head__event_proc(h, hp, "exit");
	hp->pid = 0;
	if (head__autoscale_exited(h, hp, status))
		return;
	/*
	 * Stopped by the signal that also stopped its agent (SLURM's cancel or
	 * time limit reaches the whole step, workers first at times): the job
	 * is cancelled, and this is no failure to restart or count.
	 */
	if (json_is_true(json_object_get(m, "cancelled")) && !h->ending) {
		char why[512];
		snprintf(why, sizeof(why),
			 "cancelled (SIGTERM): stage '%s' %s %d on %s and its agent were stopped "
			 "by a signal",
			 st->name, st->ranks ? "rank" : "replica", hp->p->index,
			 h->agents[hp->p->node].node);
		head__end(h, 1, "cancelled", why);
	}
	if (h->ending) {
		hp->state = status == 0 && hp->state != P_STOPPING ? P_DONE : P_FAILED;
		return;
	}
	if (h->draining) {
		/*
		 * The job ends with the drain: nothing restarts (a worker exits
		 * after its checkpoint on SLURM's SIGTERM), and what has exited
		 * is not waited for.
		 */
		hp->state = status == 0 ? P_DONE : P_FAILED;
		head__save_status(h);
		head__drain_check(h);
		return;
	}
	if (hp->state == P_STOPPING) {
		/* Stopped on purpose for a gang restart, or to move off a lost node. */
		hp->state = hs->moving ? P_WAITING : P_PENDING;
		gang_settle(h, hp->p->stage);
		head__save_status(h);
		return;
	}
	if (status == 0) {
		hp->state = P_DONE;
		head__save_status(h);
		head__check_finished(h);
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
					head__kill(&h->procs[i], SIGTERM);
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
		head__end(h, 1, "failed", why);
	}
	head__save_status(h);
}

/* --- the end ---------------------------------------------------------- */

/* The agents had their time to go at the end: the job finishes without the rest. */
static void end_overdue(uv_timer_t *t)
{
	struct head *h = t->data;
	int i;

	for (i = 0; i < h->cfg.n_agents; i++) {
		struct hagent *a = &h->agents[i];
		if (!a->registered || a->gone || !a->conn)
			continue;
		aic_log_error("the agent on node '%s' (rank %d) did not confirm the end within %llu "
			      "ms: finishing without it",
			      a->node, a->rank,
			      (unsigned long long)(h->cfg.spec->failure_timeout_ms +
						   (uint64_t)h->cfg.grace_ms));
		a->gone = true;
		a->conn->data = NULL;
		aic_conn_close(a->conn);
		a->conn = NULL;
	}
	if (!h->done)
		head__finish(h);
}

static void wait_agents(struct head *h)
{
	/* Live agents stop their workers within their grace; a silent one goes with its link. */
	uv_timer_start(&h->wait_timer, end_overdue,
		       h->cfg.spec->failure_timeout_ms + (uint64_t)h->cfg.grace_ms, 0);
}

/* Every agent has gone (their workers with them): the summary is final. */
void head__finish(struct head *h)
{
	h->done = true;
	uv_timer_stop(&h->status_timer);
	uv_timer_stop(&h->wait_timer);
	head__state_save(h);
	head__write_summary(h);
	head__write_status(h);
	head__event_end(h);
	aic_server_stop(&h->srv);
}

void head__end(struct head *h, int code, const char *state, const char *reason)
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
	if (code && code != HEAD_EXIT_REQUEUE)
		aic_log_error("job %s: %s", state, reason);
	for (p = 0; p < h->n_procs; p++)
		uv_timer_stop(&h->procs[p].timer);
	for (i = 0; i < (int)h->cfg.spec->n_stages; i++)
		uv_timer_stop(&h->stages[i].timer);
	head__state_progress(h); /* while rank 0's agent still has it */
	head__satellite_end(h); /* every satellite, pending or running, is cancelled */
	m = json_pack("{s:b,s:s}", "ok", code == 0, "reason", reason);
	for (i = 0; i < h->cfg.n_agents; i++)
		if (h->agents[i].conn) {
			aic_conn_send(h->agents[i].conn, AIC_MSG_SHUTDOWN, m);
			live++;
		}
	json_decref(m);
	head__save_status(h);
	if (live == 0)
		head__finish(h);
	else
		wait_agents(h);
}

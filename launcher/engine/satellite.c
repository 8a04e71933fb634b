/*
 * Satellite allocations (internal.h): when an autoscaled stage is
 * backlogged and the allocation has no room left for another replica,
 * the head submits a one-node SLURM job (the spec's top-level autoscale:
 * max_nodes, partition, idle_s) whose aic-launch joins the running engine
 * as an agent of a rank reserved past the allocation's (aic-launch
 * --join: it reads the head's address and the job token from the 0600 job
 * directory, and proves the token as every agent does).
 *
 * The head takes a join only for a rank it submitted, from the SLURM job
 * sbatch named (REGISTER's slurm_job). The new agent gets CONFIG, the
 * others its endpoint (PEER), and autoscale.c places replicas there as it
 * does inside the allocation; nothing else is placed on a satellite
 * (recover.c leaves them out: a gang never grows onto one). A satellite
 * that has run nothing and holds no items for idle_s is released: the
 * agents stop waiting on it (PEER_LEFT), its agent is told to shut down,
 * and its job is cancelled. When the job ends for any reason (success,
 * failure, aic stop, SIGTERM from scancel), every satellite, pending or
 * running, is cancelled, and the head is done only once those scancels
 * have returned: no allocation is left behind.
 *
 * Limits: never more than max_nodes satellites at once; never a submission
 * sooner than up_after_s after the last; one pending at a time; a failed
 * sbatch is reported and tried again after a doubling backoff. sbatch,
 * squeue and scancel run as children of the loop (uv_spawn), never
 * blocking it, with the job's SLURM environment left out (they act for
 * the user, the head's own user, on SLURM_CONF's cluster).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

#define TICK_MS		    1000
#define POLL_MS		    5000   /* squeue of pending satellites */
#define BACKOFF_MAX_MS	    300000 /* a failed sbatch is tried again at most this late */
#define RANKS_PER_SATELLITE 4	   /* ranks reserved per max_nodes: released ones are not reused */

enum sat_state {
	SAT_FREE,	/* never submitted, or its submission failed: the rank may be used */
	SAT_SUBMITTING, /* sbatch runs */
	SAT_PENDING,	/* submitted, its agent has not joined */
	SAT_RUNNING,	/* its agent joined */
	SAT_ENDED,	/* released, cancelled or lost: its rank is not used again */
};

static const char *const state_names[] = {"free", "submitting", "pending", "running", "ended"};

struct sat {
	enum sat_state state;
	int rank;
	char job[32];				/* the SLURM job id sbatch printed */
	char slurm_state[32], slurm_reason[64]; /* squeue's, while pending */
	char why[256];				/* how it ended */
	uint64_t submitted_ms, joined_ms, ended_ms, idle_since;
	bool cancel; /* scancel once sbatch has named it */
	bool ever;   /* submitted once */
};

static void tick(uv_timer_t *t);

struct satellites {
	struct sat *s;
	size_t n;
	uv_timer_t timer;
	bool timer_on;
	int live; /* commands running or closing */
	char main_job[32];
	char exe[PATH_MAX];  /* aic-launch */
	char spec[PATH_MAX]; /* the spec, absolute */
	uint64_t last_submit_ms, retry_ms, last_poll_ms;
	uint64_t want_ms; /* when a stage last asked for one */
	int failures, submits;
	size_t stage; /* the stage that asked last */
	json_t *events;
	bool polling;
};

int head__satellite_slots(struct head *h)
{
	const struct aic_satellites *cfg = &h->cfg.spec->satellites;
	int n = cfg->max_nodes * RANKS_PER_SATELLITE;

	h->n_main = h->cfg.n_agents;
	if (cfg->max_nodes <= 0)
		return 0;
	if (h->cfg.local || !getenv("SLURM_JOB_ID")) {
		aic_log_warn("autoscale: max_nodes %d, but the job does not run under SLURM: no "
			     "satellite allocations",
			     cfg->max_nodes);
		return 0;
	}
	/* Ranks are data-plane peers: at most 64 agents in all (launcher/dataplane). */
	if (n > 64 - h->cfg.n_agents)
		n = 64 - h->cfg.n_agents > 0 ? 64 - h->cfg.n_agents : 0;
	return n;
}

/* The slot of agent rank r, or NULL. */
static struct sat *slot_of(const struct head *h, int r)
{
	struct satellites *ss = h->sat;

	if (!ss || r < h->n_main || (size_t)(r - h->n_main) >= ss->n)
		return NULL;
	return &ss->s[r - h->n_main];
}

static bool start(struct head *h)
{
	struct satellites *ss;
	size_t i;
	ssize_t len;

	if (h->sat)
		return true;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return false;
	ss->n = (size_t)(h->cfg.n_agents - h->n_main);
	ss->s = calloc(ss->n + 1, sizeof(*ss->s));
	ss->events = json_array();
	if (!ss->s || !ss->events) {
		free(ss->s);
		json_decref(ss->events);
		free(ss);
		return false;
	}
	for (i = 0; i < ss->n; i++)
		ss->s[i].rank = h->n_main + (int)i;
	snprintf(ss->main_job, sizeof(ss->main_job), "%s", getenv("SLURM_JOB_ID") ?: "");
	len = readlink("/proc/self/exe", ss->exe, sizeof(ss->exe) - 1);
	ss->exe[len > 0 ? len : 0] = '\0';
	if (!realpath(h->cfg.spec->path, ss->spec))
		snprintf(ss->spec, sizeof(ss->spec), "%s", h->cfg.spec->path);
	uv_timer_init(h->loop, &ss->timer);
	ss->timer.data = h;
	h->sat = ss;
	return true;
}

/* --- events ---------------------------------------------------------------------- */

static void event(struct head *h, struct sat *s, const char *action, const char *why)
{
	struct satellites *ss = h->sat;
	const char *node = s->state == SAT_RUNNING || s->joined_ms ? h->agents[s->rank].node : "";
	json_t *ev;

	aic_log_info("autoscale: satellite of rank %d%s%s%s %s: %s", s->rank,
		     s->job[0] ? " (job " : "", s->job, s->job[0] ? ")" : "", action, why);
	ev = json_pack("{s:f,s:s,s:i,s:s,s:s,s:s}", "t",
		       (double)(aic_now_ms() - h->start_ms) / 1000.0, "action", action, "rank",
		       s->rank, "job", s->job, "node", node, "reason", why);
	if (ev)
		json_array_append(ss->events, ev);
	if (ev && !h->done)
		head__event(h, json_pack("{s:s,s:s,s:i,s:s,s:s,s:s}", "ev", "satellite", "action",
					 action, "rank", s->rank, "job", s->job, "node", node,
					 "reason", why));
	json_decref(ev);
	head__save_status(h);
}

/* The first line of a command's output, for a message. */
static const char *first_line(char *out)
{
	char *nl = strchr(out, '\n');

	if (nl)
		*nl = '\0';
	return out[0] ? out : "no output";
}

/* --- cancelling ------------------------------------------------------------------- */

static void cancelled(struct head *h, int slot, int64_t status, char *out)
{
	struct sat *s = &h->sat->s[slot];

	if (status)
		aic_log_error("autoscale: scancel %s exited with %lld: %s", s->job,
			      (long long)status, first_line(out));
	else
		aic_log_debug("autoscale: satellite job %s cancelled", s->job);
}

/* Ends satellite s: scancel its job (when it has one), and its rank is not used again. */
static void end_sat(struct head *h, struct sat *s, const char *action, const char *why)
{
	char *argv[] = {"scancel", s->job, NULL};

	if (s->state == SAT_SUBMITTING) {
		s->cancel = true; /* once sbatch names it */
		snprintf(s->why, sizeof(s->why), "%s", why);
		return;
	}
	if (s->state != SAT_PENDING && s->state != SAT_RUNNING)
		return;
	s->state = SAT_ENDED;
	s->ended_ms = aic_now_ms();
	snprintf(s->why, sizeof(s->why), "%s", why);
	event(h, s, action, why);
	if (s->job[0])
		head__slurm_cmd(h, argv, &h->sat->live, (int)(s - h->sat->s), cancelled);
}

void head__satellite_end(struct head *h)
{
	size_t i;

	for (i = 0; h->sat && i < h->sat->n; i++)
		end_sat(h, &h->sat->s[i], "cancelled", "the job ended");
	if (h->sat && h->sat->timer_on)
		uv_timer_stop(&h->sat->timer);
}

bool head__satellite_busy(const struct head *h)
{
	return h->sat && h->sat->live > 0;
}

/* --- submitting --------------------------------------------------------------------- */

static void submitted(struct head *h, int slot, int64_t status, char *out)
{
	struct satellites *ss = h->sat;
	struct sat *s = &ss->s[slot];
	uint64_t wait;
	char why[512];
	size_t i;

	for (i = 0; out[i] >= '0' && out[i] <= '9' && i < sizeof(s->job) - 1; i++)
		s->job[i] = out[i];
	s->job[i] = '\0';
	if (status == 0 && s->job[0]) {
		ss->failures = 0;
		s->state = SAT_PENDING;
		s->ever = true;
		snprintf(why, sizeof(why),
			 "stage '%s' is backlogged and the allocation has no room",
			 h->cfg.spec->stages[ss->stage].name);
		event(h, s, "submitted", why);
		head__state_save(h); /* a later run cancels it if this one cannot */
		if (s->cancel || h->ending)
			end_sat(h, s, "cancelled", s->why[0] ? s->why : "the job ended");
		return;
	}
	s->job[0] = '\0';
	s->state = SAT_FREE;
	ss->failures++;
	wait = (uint64_t)h->cfg.spec->stages[ss->stage].autoscale.up_after_s * 1000;
	wait = (wait ? wait : 1000) << (ss->failures < 8 ? ss->failures : 8);
	ss->retry_ms = aic_now_ms() + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
	snprintf(why, sizeof(why), "sbatch exited with %lld: %.300s; trying again in %llu s",
		 (long long)status, first_line(out),
		 (unsigned long long)((ss->retry_ms - aic_now_ms()) / 1000));
	aic_log_error("autoscale: satellite of rank %d: %s", s->rank, why);
	event(h, s, "submit_failed", why);
}

/* After squeue said the main job's time left: sbatch. */
static void have_time(struct head *h, int slot, int64_t status, char *out)
{
	struct satellites *ss = h->sat;
	struct sat *s = &ss->s[slot];
	const char *part = h->cfg.spec->satellites.partition ?: getenv("SLURM_JOB_PARTITION");
	const char *acct = getenv("SLURM_JOB_ACCOUNT");
	char o_part[128], o_acct[128], o_gres[64], o_time[64], o_name[96], o_out[PATH_MAX + 8];
	char o_spec[PATH_MAX + 16], wrap[3 * PATH_MAX + 128];
	char *argv[16];
	long left = status == 0 ? head__slurm_time_left(out) : -1;
	size_t n = 0;

	if (h->ending) {
		s->state = SAT_FREE;
		return;
	}
	if (left >= 0 && left < 120) {
		s->state = SAT_FREE;
		ss->retry_ms = aic_now_ms() + BACKOFF_MAX_MS;
		aic_log_info("autoscale: no satellite: the job has %ld s left", left);
		return;
	}
	snprintf(o_name, sizeof(o_name), "--job-name=aic-sat-%s", ss->main_job);
	snprintf(o_out, sizeof(o_out), "--output=%s/logs/satellite.%d.out", h->cfg.jobdir, s->rank);
	snprintf(o_spec, sizeof(o_spec), "--aic-job=%s", ss->spec);
	/* The paths are the head's own; a quote in them would end the shell's word. */
	if (strchr(h->cfg.jobdir, '\'') || strchr(ss->exe, '\'') || strchr(ss->spec, '\'')) {
		s->state = SAT_FREE;
		ss->retry_ms = UINT64_MAX;
		event(h, s, "submit_failed", "a path of the job has a quote in it: no satellite");
		return;
	}
	snprintf(wrap, sizeof(wrap),
		 "exec srun --ntasks-per-node=1 '%s' '%s' --join '%s' --rank %d", o_spec, ss->exe,
		 h->cfg.jobdir, s->rank);
	argv[n++] = "sbatch";
	argv[n++] = "--parsable";
	argv[n++] = "--nodes=1";
	argv[n++] = "--ntasks-per-node=1";
	argv[n++] = "--exclusive";
	argv[n++] = o_name;
	argv[n++] = o_out;
	if (part && *part) {
		snprintf(o_part, sizeof(o_part), "--partition=%s", part);
		argv[n++] = o_part;
	}
	if (acct && *acct) {
		snprintf(o_acct, sizeof(o_acct), "--account=%s", acct);
		argv[n++] = o_acct;
	}
	if (h->agents[0].n_gpus) {
		snprintf(o_gres, sizeof(o_gres), "--gres=gpu:%zu", h->agents[0].n_gpus);
		argv[n++] = o_gres;
	}
	if (left > 0) {
		/* Whole minutes, rounded down: never past the main job's end. */
		snprintf(o_time, sizeof(o_time), "--time=%ld", left / 60);
		argv[n++] = o_time;
	}
	argv[n++] = "--wrap";
	argv[n++] = wrap;
	argv[n] = NULL;
	if (head__slurm_cmd(h, argv, &ss->live, slot, submitted) != 0) {
		s->state = SAT_FREE;
		ss->retry_ms = aic_now_ms() + BACKOFF_MAX_MS;
	}
}

void head__satellite_want(struct head *h, size_t stage)
{
	struct satellites *ss;
	struct sat *free_s = NULL;
	uint64_t now = aic_now_ms(), gap;
	char *argv[] = {"squeue", "-h", "-j", NULL, "-o", "%L", NULL};
	int active = 0;
	size_t i;

	if (h->n_main == h->cfg.n_agents || h->ending || h->draining || !start(h))
		return;
	ss = h->sat;
	ss->want_ms = now;
	for (i = 0; i < ss->n; i++) {
		struct sat *s = &ss->s[i];
		if (s->state == SAT_SUBMITTING || s->state == SAT_PENDING)
			return; /* one on its way: it will host the next replicas */
		active += s->state == SAT_RUNNING;
		if (s->state == SAT_FREE && !free_s)
			free_s = s;
	}
	gap = (uint64_t)h->cfg.spec->stages[stage].autoscale.up_after_s * 1000;
	if (active >= h->cfg.spec->satellites.max_nodes || !free_s || now < ss->retry_ms ||
	    (ss->submits && now - ss->last_submit_ms < gap))
		return;
	ss->stage = stage;
	ss->last_submit_ms = now;
	ss->submits++;
	free_s->state = SAT_SUBMITTING;
	free_s->cancel = false;
	free_s->why[0] = free_s->slurm_state[0] = free_s->slurm_reason[0] = '\0';
	free_s->submitted_ms = now;
	if (!ss->timer_on) {
		uv_timer_start(&ss->timer, tick, TICK_MS, TICK_MS);
		ss->timer_on = true;
	}
	argv[3] = ss->main_job;
	if (head__slurm_cmd(h, argv, &ss->live, (int)(free_s - ss->s), have_time) != 0)
		free_s->state = SAT_FREE;
}

/* --- joining ------------------------------------------------------------------------ */

bool head__satellite_expected(const struct head *h, int rank)
{
	const struct sat *s = slot_of(h, rank);

	return s && s->state == SAT_PENDING && !h->ending;
}

bool head__satellite_check(struct head *h, const struct hagent *a, const json_t *m, char *why,
			   size_t len)
{
	const struct sat *s = slot_of(h, a->rank);
	const char *job = json_string_value(json_object_get(m, "slurm_job"));

	if (!s || s->state != SAT_PENDING || !h->placed || h->ending) {
		snprintf(why, len, "rank %d is no satellite this head waits for", a->rank);
		return false;
	}
	if (!job || strcmp(job, s->job)) {
		snprintf(why, len,
			 "rank %d joins from SLURM job '%s', but it was submitted as job %s",
			 a->rank, job ? job : "(none)", s->job);
		return false;
	}
	return true;
}

void head__satellite_joined(struct head *h, struct hagent *a)
{
	struct sat *s = slot_of(h, a->rank);
	struct aic_place_node *n = &h->nodes[a->rank];
	char why[160];
	json_t *m;

	if (!s)
		return;
	s->state = SAT_RUNNING;
	s->joined_ms = aic_now_ms();
	s->idle_since = 0;
	n->name = a->node;
	n->topo = a->topo;
	n->gpus = a->gpus;
	n->n_gpus = a->n_gpus;
	n->cpus = aic_cpuset_empty(&a->cpus) ? NULL : &a->cpus;
	n->down = false;
	/* Its data plane first, then the others learn where it listens. */
	m = head__data_plane_config(h);
	if (m)
		aic_conn_send(a->conn, AIC_MSG_CONFIG, m);
	json_decref(m);
	/* Who produces each channel now, scaled replicas' agents included (config_msg.c). */
	m = head__data_plane_members(h);
	if (m)
		aic_conn_send(a->conn, AIC_MSG_MEMBERS, m);
	json_decref(m);
	m = json_pack("{s:i,s:s,s:i}", "rank", a->rank, "addr", a->addr, "port", a->data_port);
	if (m)
		head__broadcast(h, AIC_MSG_PEER, m);
	json_decref(m);
	snprintf(why, sizeof(why), "its agent joined from node '%s' after %.1f s", a->node,
		 (double)(s->joined_ms - s->submitted_ms) / 1000.0);
	event(h, s, "joined", why);
}

bool head__satellite_left(struct head *h, struct hagent *a)
{
	struct sat *s = slot_of(h, a->rank);

	if (!s)
		return false;
	if (a->released)
		return true;
	if (!a->registered) {
		/* Refused, or gone before it registered: the job goes on without it. */
		if (!h->ending)
			end_sat(h, s, "gone", "its agent left before it registered");
		return true;
	}
	/* Lost while it ran: recover.c does the rest; its job goes too. */
	if (!h->ending)
		end_sat(h, s, "lost", "its agent's link closed");
	return false;
}

/* --- the tick: idle satellites, pending ones ------------------------------------------ */

/* Whether satellite s runs or holds anything: a process there, or items queued. */
static bool in_use(struct head *h, const struct sat *s)
{
	size_t i;

	for (i = 0; i < h->n_procs; i++) {
		const struct hproc *hp = &h->procs[i];
		if (hp->p->node == (size_t)s->rank && hp->state != P_IDLE && hp->state != P_DONE &&
		    hp->state != P_FAILED && hp->state != P_LOST)
			return true;
	}
	return head__autoscale_backlog_at(h, s->rank) > 0;
}

static void release(struct head *h, struct sat *s, const char *why)
{
	struct hagent *a = &h->agents[s->rank];
	json_t *m;

	a->released = true;
	a->lost = true; /* nothing is placed there, and it produces nothing now */
	a->lost_ms = aic_now_ms();
	snprintf(a->lost_why, sizeof(a->lost_why), "satellite released: %s", why);
	m = json_pack("{s:i}", "rank", s->rank);
	if (m)
		head__broadcast(h, AIC_MSG_PEER_LEFT, m);
	json_decref(m);
	m = json_pack("{s:b,s:s}", "ok", 1, "reason", "satellite released");
	if (m && a->conn)
		aic_conn_send(a->conn, AIC_MSG_SHUTDOWN, m);
	json_decref(m);
	end_sat(h, s, "released", why);
}

static void polled(struct head *h, int slot, int64_t status, char *out)
{
	struct satellites *ss = h->sat;
	char *line, *save = NULL, job[32], st[32], reason[64];
	size_t i;

	(void)slot;
	ss->polling = false;
	if (status)
		return;
	for (i = 0; i < ss->n; i++)
		ss->s[i].slurm_state[0] = '\0';
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%31s %31s %63s", job, st, reason) != 3)
			continue;
		for (i = 0; i < ss->n; i++)
			if (!strcmp(ss->s[i].job, job)) {
				snprintf(ss->s[i].slurm_state, sizeof(ss->s[i].slurm_state), "%s",
					 st);
				snprintf(ss->s[i].slurm_reason, sizeof(ss->s[i].slurm_reason), "%s",
					 reason);
			}
	}
	/* A pending satellite SLURM no longer has (cancelled by hand, failed to start). */
	for (i = 0; i < ss->n; i++)
		if (ss->s[i].state == SAT_PENDING && !ss->s[i].slurm_state[0] &&
		    aic_now_ms() - ss->s[i].submitted_ms > POLL_MS)
			end_sat(h, &ss->s[i], "gone", "SLURM no longer has its job");
}

static void tick(uv_timer_t *t)
{
	struct head *h = t->data;
	struct satellites *ss = h->sat;
	uint64_t now = aic_now_ms(), idle = (uint64_t)h->cfg.spec->satellites.idle_s * 1000;
	char ids[512] = "", why[96];
	char *argv[] = {"squeue", "-h", "-j", ids, "-o", "%i %T %r", NULL};
	size_t i, n = 0;

	if (h->ending)
		return;
	for (i = 0; i < ss->n; i++) {
		struct sat *s = &ss->s[i];
		/* One still pending when no stage has asked for idle_s is not needed now. */
		if (s->state == SAT_PENDING && now - ss->want_ms >= idle) {
			snprintf(why, sizeof(why), "not needed: no stage short of room for %d s",
				 h->cfg.spec->satellites.idle_s);
			end_sat(h, s, "cancelled", why);
		}
		if (s->state == SAT_PENDING && n + strlen(s->job) + 2 < sizeof(ids))
			n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%s", n ? "," : "",
					      s->job);
		if (s->state != SAT_RUNNING)
			continue;
		if (in_use(h, s)) {
			s->idle_since = 0;
			continue;
		}
		if (!s->idle_since)
			s->idle_since = now;
		if (now - s->idle_since >= idle) {
			snprintf(why, sizeof(why), "idle for %d s", h->cfg.spec->satellites.idle_s);
			release(h, s, why);
		}
	}
	if (n && !ss->polling && now - ss->last_poll_ms >= POLL_MS) {
		ss->last_poll_ms = now;
		ss->polling = head__slurm_cmd(h, argv, &ss->live, -1, polled) == 0;
	}
}

/* --- reports ------------------------------------------------------------------------- */

json_t *head__satellite_json(const struct head *h)
{
	const struct satellites *ss = h->sat;
	json_t *list;
	size_t i;

	if (h->cfg.spec->satellites.max_nodes <= 0)
		return NULL;
	list = json_array();
	for (i = 0; ss && i < ss->n; i++) {
		const struct sat *s = &ss->s[i];
		const char *node = s->joined_ms ? h->agents[s->rank].node : "";
		if (!s->ever && s->state == SAT_FREE)
			continue;
		json_array_append_new(
			list,
			json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:f,s:o?,s:o?,s:s}", "rank", s->rank,
				  "job", s->job, "state", state_names[s->state], "node", node,
				  "slurm_state", s->slurm_state, "slurm_reason", s->slurm_reason,
				  "submitted_s", (double)(s->submitted_ms - h->start_ms) / 1000.0,
				  "joined_s",
				  s->joined_ms
					  ? json_real((double)(s->joined_ms - h->start_ms) / 1000.0)
					  : NULL,
				  "ended_s",
				  s->ended_ms
					  ? json_real((double)(s->ended_ms - h->start_ms) / 1000.0)
					  : NULL,
				  "why", s->why));
	}
	return json_pack("{s:i,s:s?,s:i,s:i,s:o,s:o}", "max_nodes",
			 h->cfg.spec->satellites.max_nodes, "partition",
			 h->cfg.spec->satellites.partition, "submits", ss ? ss->submits : 0,
			 "failures", ss ? ss->failures : 0, "satellites", list, "events",
			 ss ? json_incref(ss->events) : json_array());
}

json_t *head__satellite_state(const struct head *h)
{
	json_t *jobs = json_array();
	size_t i;

	for (i = 0; h->sat && i < h->sat->n; i++) {
		const struct sat *s = &h->sat->s[i];
		if (s->job[0] && (s->state == SAT_PENDING || s->state == SAT_RUNNING))
			json_array_append_new(jobs, json_string(s->job));
	}
	return jobs;
}

static void leftover_cancelled(struct head *h, int slot, int64_t status, char *out)
{
	(void)h;
	(void)slot;
	if (status)
		aic_log_warn("autoscale: scancel of an earlier run's satellites: %s",
			     first_line(out));
}

void head__satellite_leftovers(struct head *h)
{
	json_t *jobs = json_object_get(h->journal, "satellites"), *v;
	char *argv[AIC_SPEC_MAX_SATELLITES * RANKS_PER_SATELLITE + 2] = {"scancel"};
	size_t i, n = 1;

	json_array_foreach(jobs, i,
			   v) if (json_is_string(v) && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = (char *)json_string_value(v);
	if (n == 1 || (h->n_main == h->cfg.n_agents && !getenv("SLURM_JOB_ID")) || !start(h))
		return;
	aic_log_info("autoscale: cancelling %zu satellite job%s an earlier run left", n - 1,
		     n == 2 ? "" : "s");
	argv[n] = NULL;
	head__slurm_cmd(h, argv, &h->sat->live, -1, leftover_cancelled);
}

void head__satellite_free(struct head *h)
{
	if (!h->sat)
		return;
	json_decref(h->sat->events);
	free(h->sat->s);
	free(h->sat);
	h->sat = NULL;
}

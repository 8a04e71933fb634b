/*
 * A node agent (see agent.h).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "auth.h"
#include "dataplane.h"
#include "conn.h"
#include "error.h"
#include "internal.h"
#include "log.h"
#include "procenv.h"
#include "process.h"
#include "strbuf.h"
#include "wire.h"

extern char **environ;

struct aproc;

/* One run of a worker: its pidfd's poll handle, freed when closed. */
struct run {
	uv_poll_t poll;
	struct aproc *p;
};

struct aproc {
	struct agent *a;
	long id;
	struct aic_child child;
	struct run *run;
	uv_timer_t kill_timer;
	bool running;
	char stage[64];
	int index;
	/*
	 * Its connections to this agent that are still open. When it exits,
	 * EXITED waits for them to close (exit_pending): the frames it wrote
	 * last, pipelined puts among them, are read before the head hears that
	 * it is done and closes its channels.
	 */
	unsigned conns;
	bool exit_pending;
	int exit_code;
	/*
	 * A worker killed by a SIGTERM (or SIGINT) that this agent did not send
	 * (`signalled`) is held (`held`): SLURM signals a whole step at once on
	 * a time limit or a cancel, and if this agent is terminated too before
	 * EXTERNAL_TERM_MS, the worker was `cancelled`, not failed (as is a
	 * shell's exit with 128 + that signal). Whatever exits after the
	 * agent's own SIGTERM, however, is `cancelled` at once.
	 */
	bool signalled, held, cancelled;
	/* The cores it was placed on; shared: it reserves none (`cpus: 0`), it runs on the pool. */
	struct aic_cpuset cpus;
	bool shared;
};

/*
 * How long EXITED waits for an exited worker's connections to close: they
 * close with the process unless something it started still holds them.
 */
#define EXIT_DRAIN_MS 5000
/* How long a worker's death by a signal from outside waits for the agent's own (see struct aproc). */
#define EXTERNAL_TERM_MS 5000

static void report(struct agent *a, uint16_t type, json_t *m);

/* The cores running workers reserve changed (one started or exited): the shared ones follow. */
static void pool_update(struct agent *a)
{
	struct aic_cpuset reserved;
	pid_t *groups = calloc(a->n_procs + 1, sizeof(*groups));
	size_t i, n = 0;

	aic_cpuset_zero(&reserved);
	for (i = 0; i < a->n_procs; i++) {
		struct aproc *p = a->procs[i];
		if (!p || !p->running)
			continue;
		if (!p->shared)
			aic_cpuset_or(&reserved, &reserved, &p->cpus);
		else if (groups)
			groups[n++] = p->child.pid;
	}
	agent__pool_update(&a->cpus, &reserved, groups, n);
	free(groups);
}

static void finish_if_idle(struct agent *a)
{
	if (!a->shutting_down || a->running > 0 || a->done)
		return;
	uv_timer_stop(&a->grace);
	a->done = true;
	agent__metrics_flush(&a->metrics); /* before STATS: the head's summary is written after every agent's */
	agent__events_end(a->events);
	if (a->chans) {
		json_t *st = chan_set_stats(a->chans);
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			json_object_set_new(st, "maxrss_kib", json_integer(ru.ru_maxrss));
		report(a, AIC_MSG_STATS, st);
	}
	chan_set_free(a->chans);
	a->chans = NULL;
	if (a->listening)
		aic_server_stop(&a->srv);
	if (a->head)
		aic_conn_close(a->head);
}

static void signal_all(struct agent *a, int sig)
{
	size_t i;

	for (i = 0; i < a->n_procs; i++)
		if (a->procs[i] && a->procs[i]->running) {
			a->procs[i]->signalled = true;
			kill(-a->procs[i]->child.pid, sig);
		}
}

static void grace_expired(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (a->running)
		aic_log_warn("%d worker%s still running after the grace period: SIGKILL", a->running,
			     a->running == 1 ? "" : "s");
	signal_all(a, SIGKILL);
}

static void report_exit(struct aproc *p);

static void shutdown_agent(struct agent *a, int code)
{
	size_t i;

	if (a->shutting_down)
		return;
	a->shutting_down = true;
	a->exit_code = code;
	/* Workers that a signal to the whole step reached first were stopped with the job. */
	for (i = 0; i < a->n_procs; i++) {
		struct aproc *p = a->procs[i];
		if (!p || !p->held)
			continue;
		p->held = false;
		p->cancelled = true;
		if (p->exit_pending && p->conns == 0)
			report_exit(p);
	}
	signal_all(a, SIGTERM);
	uv_timer_start(&a->grace, grace_expired, (uint64_t)a->cfg.grace_ms, 0);
	finish_if_idle(a);
}

void agent_terminate(struct agent *a, int sig)
{
	if (sig == SIGTERM && agent__term_defer(&a->term, a->loop, a))
		return;
	aic_log_info("signal %d: stopping every worker", sig);
	a->terminated = true;
	shutdown_agent(a, 128 + sig);
}

static void report(struct agent *a, uint16_t type, json_t *m)
{
	if (a->head && !a->head->closing)
		aic_conn_send(a->head, type, m);
	json_decref(m);
}

static void kill_timer_cb(uv_timer_t *t)
{
	struct aproc *p = t->data;

	if (p->running)
		kill(-p->child.pid, SIGKILL);
}

static void free_run(uv_handle_t *h)
{
	free(h->data);
}

/* The head learns that a run ended, now that its connections are read to the end. */
static void send_metrics(void *arg, json_t *m)
{
	report(arg, AIC_MSG_METRICS, m);
}

static void report_exit(struct aproc *p)
{
	struct agent *a = p->a;

	p->exit_pending = false;
	p->held = false;
	uv_timer_stop(&p->kill_timer);
	a->running--;
	aic_log_debug("stage '%s' %d exited: %d", p->stage, p->index, p->exit_code);
	report(a, AIC_MSG_EXITED,
	       json_pack("{s:I,s:i,s:b}", "id", (json_int_t)p->id, "status", p->exit_code,
			 "cancelled", p->cancelled));
	finish_if_idle(a);
}

static void exit_overdue(uv_timer_t *t)
{
	struct aproc *p = t->data;

	if (p->conns)
		aic_log_warn("stage '%s' %d exited, but its connection is still open after %d ms",
			     p->stage, p->index, EXIT_DRAIN_MS);
	report_exit(p);
}

static void exited(uv_poll_t *poll, int status, int events)
{
	struct run *r = poll->data;
	struct aproc *p = r->p;
	pid_t pgid = p->child.pid;
	int ws = 0;

	(void)status;
	(void)events;
	if (aic_child_wait(&p->child, &ws) != 1)
		return;
	uv_poll_stop(poll);
	uv_close((uv_handle_t *)poll, free_run);
	p->run = NULL;
	uv_timer_stop(&p->kill_timer);
	/* Whatever the worker left in its process group goes with it. */
	kill(-pgid, SIGKILL);
	p->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? -WTERMSIG(ws) : -1;
	p->running = false;
	p->exit_pending = true;
	if (!p->shared)
		pool_update(p->a);
	/* After the agent's own SIGTERM any exit is the job's cancel; before it, see struct aproc. */
	if (p->a->terminated)
		p->cancelled = true;
	else if (!p->signalled && (p->exit_code == -SIGTERM || p->exit_code == -SIGINT ||
				   p->exit_code == 128 + SIGTERM || p->exit_code == 128 + SIGINT))
		p->held = true;
	if (p->conns > 0 || p->held) {
		/*
		 * worker_closed reports it once the last frames are read, or
		 * agent_terminate once the signal proves to be the job's end
		 * (a->running counts it until then).
		 */
		uv_timer_start(&p->kill_timer, exit_overdue, p->held ? EXTERNAL_TERM_MS : EXIT_DRAIN_MS,
			       0);
		return;
	}
	report_exit(p);
}

static struct aproc *proc_slot(struct agent *a, long id)
{
	struct aproc **np;
	size_t n;

	if (id < 0 || id > 1000000)
		return NULL;
	if ((size_t)id >= a->n_procs) {
		n = (size_t)id + 16;
		np = realloc(a->procs, n * sizeof(*np));
		if (!np)
			return NULL;
		memset(np + a->n_procs, 0, (n - a->n_procs) * sizeof(*np));
		a->procs = np;
		a->n_procs = n;
	}
	if (!a->procs[id]) {
		struct aproc *p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->a = a;
		p->id = id;
		uv_timer_init(a->loop, &p->kill_timer);
		p->kill_timer.data = p;
		a->procs[id] = p;
	}
	return a->procs[id];
}

static void on_spawn(struct agent *a, json_t *m)
{
	long id = (long)json_integer_value(json_object_get(m, "id"));
	json_t *argvj = json_object_get(m, "argv"), *env = json_deep_copy(json_object_get(m, "env")), *v;
	struct aic_spawn_opts o = {0};
	struct aproc *p = proc_slot(a, id);
	struct aic_cpuset cpus;
	char **argv = NULL, **envp = NULL;
	size_t i;
	int rc;

	if (!p || !env || a->shutting_down || p->running || p->exit_pending) {
		json_decref(env);
		return;
	}
	snprintf(p->stage, sizeof(p->stage), "%s", json_string_value(json_object_get(m, "stage")) ?: "?");
	p->index = (int)json_integer_value(json_object_get(m, "index"));
	agent__term_spawned(&a->term, env);
	o.keep_fd = agent__spawn_env(&a->cfg, a->listening ? &a->srv : NULL, a->chans, id, p->stage,
				     json_object_get(m, "gpus"), env);
	argv = calloc(json_array_size(argvj) + 1, sizeof(*argv));
	envp = agent__worker_env(env);
	if (!argv || !envp) {
		rc = -ENOMEM;
		goto out_report;
	}
	json_array_foreach(argvj, i, v)
		argv[i] = (char *)json_string_value(v);
	if (aic_cpuset_parse(&p->cpus, json_string_value(json_object_get(m, "cpus")) ?: "") != 0)
		aic_cpuset_zero(&p->cpus);
	p->shared = json_is_true(json_object_get(m, "shared")) || aic_cpuset_empty(&p->cpus);
	o.argv = argv;
	o.envp = envp;
	o.cwd = json_string_value(json_object_get(m, "cwd"));
	o.log_path = json_string_value(json_object_get(m, "log"));
	o.cpus = p->shared ? agent__pool_for(&a->cpus, &p->cpus, &cpus) : &p->cpus;
	rc = aic_spawn(&o, &p->child);
	if (rc == 0 && p->child.pidfd < 0) {
		kill(p->child.pid, SIGKILL);
		waitpid(p->child.pid, NULL, 0);
		rc = -ENOSYS;
	}
out_report:
	if (rc) {
		agent__spawn_failed(p->stage, p->index, argv ? argv[0] : NULL, o.log_path, rc);
		report(a, AIC_MSG_EXITED, json_pack("{s:I,s:i}", "id", (json_int_t)id, "status", 127));
	} else {
		p->running = true;
		p->signalled = p->held = p->cancelled = false;
		a->running++;
		p->run = calloc(1, sizeof(*p->run));
		if (!p->run || uv_poll_init(a->loop, &p->run->poll, p->child.pidfd) != 0) {
			/* Cannot watch it: do not leave it running unwatched. */
			kill(-p->child.pid, SIGKILL);
			waitpid(p->child.pid, NULL, 0);
			free(p->run);
			p->run = NULL;
			p->running = false;
			a->running--;
			report(a, AIC_MSG_EXITED, json_pack("{s:I,s:i}", "id", (json_int_t)id, "status", -SIGKILL));
			goto out_free;
		}
		p->run->p = p;
		p->run->poll.data = p->run;
		uv_poll_start(&p->run->poll, UV_READABLE, exited);
		if (!p->shared)
			pool_update(a);
		report(a, AIC_MSG_STARTED,
		       json_pack("{s:I,s:I}", "id", (json_int_t)id, "pid", (json_int_t)p->child.pid));
	}
out_free:
	free(argv);
	aic_strv_free(envp);
	json_decref(env);
}

static void on_kill(struct agent *a, json_t *m)
{
	long id = (long)json_integer_value(json_object_get(m, "id"));
	int sig = (int)json_integer_value(json_object_get(m, "signal"));
	struct aproc *p = id >= 0 && (size_t)id < a->n_procs ? a->procs[id] : NULL;

	if (!p || !p->running)
		return;
	p->signalled = true;
	kill(-p->child.pid, sig);
	if (sig != SIGKILL)
		uv_timer_start(&p->kill_timer, kill_timer_cb, (uint64_t)a->cfg.grace_ms, 0);
}

/* A source this agent feeds is exhausted (or unreadable): the head decides what follows. */
static void source_done(void *arg, uint32_t chan, int err)
{
	struct agent *a = arg;

	report(a, AIC_MSG_SOURCE_DONE, json_pack("{s:i,s:i}", "chan", (int)chan, "error", err));
}

static void sink_done(void *arg, uint32_t chan, int err)
{
	struct agent *a = arg;

	report(a, AIC_MSG_SINK_DONE, json_pack("{s:i,s:i}", "chan", (int)chan, "error", err));
}

static void on_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	(void)f;
	struct agent *a = c->owner;

	switch (type) {
	case AIC_MSG_WELCOME:
		/* The head has proved the token: now what this node has (wire.h). */
		if (a->registration && aic_conn_send(c, AIC_MSG_REGISTER, a->registration) == 0)
			aic_log_debug("registering with the head");
		json_decref(a->registration);
		a->registration = NULL;
		break;
	case AIC_MSG_REJECT:
		snprintf(a->why, sizeof(a->why), "the head refused this agent: %s",
			 (m ? json_string_value(json_object_get(m, "error")) : NULL) ?: "?");
		aic_log_error("%s", a->why);
		shutdown_agent(a, 1);
		break;
	case AIC_MSG_SPAWN:
		if (m)
			on_spawn(a, m);
		break;
	case AIC_MSG_KILL:
		if (m)
			on_kill(a, m);
		break;
	case AIC_MSG_SHUTDOWN:
		shutdown_agent(a, m && json_is_true(json_object_get(m, "ok")) ? 0 : 1);
		break;
	case AIC_MSG_CONFIG:
		if (m && !a->chans) {
			a->chans = chan_set_new(a->loop, m, (uint32_t)a->cfg.rank, a->cfg.token);
			chan_set_on_sink_done(a->chans, sink_done, a);
			chan_set_on_source_done(a->chans, source_done, a);
			agent__ckpt_attach(&a->ckpt, a->chans, &a->head);
		}
		break;
	case AIC_MSG_CLOSE:
		if (m)
			chan_set_close(a->chans, (uint32_t)json_integer_value(json_object_get(m, "chan")));
		break;
	case AIC_MSG_CHECKPOINT:
		if (m)
			agent__ckpt_request(&a->ckpt, m);
		chan_set_pause_sources(a->chans);
		break;
	case AIC_MSG_NODE_LOST:
		if (m)
			chan_set_node_lost(a->chans,
					   (uint32_t)json_integer_value(json_object_get(m, "rank")));
		break;
	case AIC_MSG_MEMBERS:
		if (m)
			chan_set_members(a->chans, m);
		break;
	default:
		if (!agent__service_msg(&a->svc, type, m))
			agent__phase_msg(&a->phase, a->head, type, m);
		agent__autoscale_frame(a->chans, c, type, m); /* LOAD, SCALE_DOWN, PEER... */
		break;
	}
}

static void on_close(struct aic_conn *c)
{
	struct agent *a = c->owner;

	a->head = NULL;
	if (!a->shutting_down) {
		snprintf(a->why, sizeof(a->why), "lost the connection to the head%s%s%s",
			 c->why[0] ? " (" : "", c->why, c->why[0] ? ")" : "");
		aic_log_error("%s: stopping every worker", a->why);
		a->lost_head = true;
		shutdown_agent(a, 1);
	}
}

long agent__proc_connected(struct agent *a, const char *stage, int index)
{
	size_t i;

	for (i = 0; i < a->n_procs; i++) {
		struct aproc *p = a->procs[i];
		if (p && p->running && p->index == index && !strcmp(p->stage, stage)) {
			if (p->conns++ == 0)
				agent__ckpt_connected(&a->ckpt, a->chans, p->id);
			return p->id;
		}
	}
	return -1;
}

void agent__proc_closed(struct agent *a, long proc)
{
	struct aproc *p = proc >= 0 && (size_t)proc < a->n_procs ? a->procs[proc] : NULL;

	if (p && p->conns > 0 && --p->conns == 0 && p->exit_pending && !p->held)
		report_exit(p);
}

struct agent *agent_start(uv_loop_t *loop, const struct agent_config *cfg)
{
	struct agent *a = calloc(1, sizeof(*a));
	json_t *hello, *reg;

	if (!a)
		return NULL;
	a->loop = loop;
	a->cfg = *cfg;
	agent__pool_init(&a->cpus);
	uv_timer_init(loop, &a->grace);
	a->grace.data = a;
	agent__metrics_init(&a->metrics, loop, send_metrics, a);
	a->events = agent__events_new(loop, &a->head, &a->chans, &a->cfg);
	agent__service_init(&a->svc, loop, &a->head);
	if (agent__endpoint_start(a) == 0)
		a->listening = true;
	else
		aic_log_warn("workers get no agent endpoint: cannot listen on %s", cfg->addr);
	/* HELLO says who this is; what the node has waits for WELCOME (wire.h's REGISTER). */
	hello = json_pack("{s:s,s:i}", "role", "agent", "rank", cfg->rank);
	reg = agent__registration(cfg, a->listening ? a->srv.port : 0);
	a->registration = reg;
	if (reg)
		a->head = aic_conn_connect(loop, cfg->head_host, cfg->head_port, cfg->token, hello,
					   on_frame, on_close, a);
	else
		json_decref(hello);
	if (a->head) {
		/* Until the head's WELCOME says the job's timeout, the default bounds the handshake. */
		snprintf(a->head->name, sizeof(a->head->name), "the head");
		aic_conn_set_timeout(a->head, AIC_CONN_TIMEOUT_MS);
	} else {
		snprintf(a->why, sizeof(a->why), "cannot connect to the head at %s:%d%s",
			 cfg->head_host, cfg->head_port, reg ? "" : ": out of memory");
		aic_log_error("%s", a->why);
		uv_close((uv_handle_t *)&a->grace, NULL);
		if (a->listening)
			aic_server_stop(&a->srv);
		a->done = true;
		a->exit_code = 1;
	}
	return a;
}

bool agent_done(const struct agent *a)
{
	return a->done;
}

int agent_exit_code(const struct agent *a)
{
	return a->exit_code;
}

const char *agent_error(const struct agent *a)
{
	return a->why;
}

void agent_stop(struct agent *a, const char *why)
{
	if (a->shutting_down)
		return;
	snprintf(a->why, sizeof(a->why), "%s", why);
	aic_log_error("%s: stopping every worker", why);
	shutdown_agent(a, 1);
}

json_t *agent_source_progress(const struct agent *a, size_t chan)
{
	return a && a->chans && chan <= UINT32_MAX ? chan_set_source_progress(a->chans, (uint32_t)chan)
						   : NULL;
}

void agent_free(struct agent *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n_procs; i++)
		free(a->procs[i]);
	free(a->procs);
	agent__metrics_release(&a->metrics);
	agent__events_free(a->events);
	json_decref(a->registration);
	agent__ckpt_release(&a->ckpt);
	agent__phase_release(&a->phase);
	agent__service_release(&a->svc);
	free(a);
}

/*
 * A simulated allocation for bench/scale: a real head and N simulated
 * agents, in two processes, so that the head's own CPU time and memory
 * can be read from /proc.
 *
 *   scale_sim head SPEC N DIR
 *	The head of the engine (launcher/engine/head.c, the same code as
 *	aic-launch's rank 0) for N agents, started as engine.c starts it but
 *	without a local agent: every agent is remote. Prints "PORT TOKEN
 *	JOBDIR" once it listens; after the job it prints one JSON line:
 *	the placement solver's time alone and status.json's write time, both
 *	measured again on the job's own nodes and plan.
 *
 *   scale_sim agents PORT TOKEN N TOPO_XML HEAD_PID
 *	N agents on one libuv loop, each a client of the head on 127.0.0.1
 *	that speaks the agent protocol (wire.h) over launcher/net's
 *	connections: HELLO with its rank, REGISTER with TOPO_XML's topology
 *	and its 8 GPUs, STARTED for each SPAWN as if the worker had started,
 *	EXITED for each KILL, METRICS once a second, STATS and a close on
 *	SHUTDOWN; heartbeats are conn.c's own. Then it measures (one raw JSON
 *	line per sample on stdout, bench/figures.py's "scale"): bootstrap,
 *	steady-state traffic at the head, aic status's latency, a replica's
 *	and the largest gang's restart, a node that goes silent, and ends the
 *	job with STOP.
 *
 * The head runs unmodified: the simulated agents only send what a real
 * agent may send.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "conn.h"
#include "head.h"
#include "internal.h"
#include "jobdir.h"
#include "log.h"
#include "place.h"
#include "spec.h"
#include "token.h"
#include "topo.h"
#include "topo_json.h"
#include "wire.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* --- the head --------------------------------------------------------- */

static void head_check(uv_prepare_t *p)
{
	struct head *h = p->data;

	if (!head_done(h))
		return;
	uv_prepare_stop(p);
	aic_conn_close_all();
	uv_walk(p->loop, close_any, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double least(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[0] : 0;
}

/*
 * The solver alone, and status.json's write, on the job's own nodes and
 * plan: the least of REPEAT runs each, both being deterministic work that
 * the other processes on this shared machine can only slow down.
 */
#define REPEAT 7
static void head_after(struct head *h)
{
	double place[REPEAT], status[REPEAT], t, wall = 0;
	struct aic_plan *plan;
	char *errors;
	size_t i;
	int rc = 0;

	for (i = 0; i < REPEAT && h->nodes; i++) {
		errors = NULL;
		plan = NULL;
		t = now_s();
		rc = aic_place_flags(h->cfg.spec, h->nodes, (size_t)h->cfg.n_agents, 0, &plan,
				     &errors);
		place[i] = now_s() - t;
		aic_plan_free(plan);
		free(errors);
	}
	for (i = 0; i < REPEAT && h->placed; i++) {
		t = now_s();
		head__write_status(h);
		status[i] = now_s() - t;
	}
	/* The longest stage's wall time in summary.json: at most the run's, whatever restarted. */
	{
		char path[4200];
		json_t *sum, *st;
		size_t k;
		snprintf(path, sizeof(path), "%s/summary.json", h->cfg.jobdir);
		sum = json_load_file(path, 0, NULL);
		json_array_foreach(json_object_get(sum, "stages"), k, st)
			if (json_real_value(json_object_get(st, "wall_s")) > wall)
				wall = json_real_value(json_object_get(st, "wall_s"));
		json_decref(sum);
	}
	printf("{\"bench\": \"scale\", \"nodes\": %d, \"place_s\": %.6f, \"place_rc\": %d, "
	       "\"status_write_s\": %.6f, \"procs\": %zu, \"stage_wall_s\": %.3f}\n",
	       h->cfg.n_agents, h->nodes ? least(place, REPEAT) : -1.0, rc,
	       h->placed ? least(status, REPEAT) : -1.0, h->n_procs, wall);
	fflush(stdout);
}

static int run_head(int argc, char **argv)
{
	struct aic_spec *spec = NULL;
	struct head_config hc = {0};
	struct head *h;
	uv_loop_t loop;
	uv_prepare_t check;
	char token[AIC_TOKEN_LEN + 1], jobdir[4096], *errors = NULL, addr[96];
	int n, code;

	if (argc != 5)
		return 2;
	n = atoi(argv[3]);
	if (n < 1) {
		fprintf(stderr, "scale_sim: bad node count '%s'\n", argv[3]);
		return 2;
	}
	if (aic_spec_load(argv[2], &spec, &errors) != 0) {
		fprintf(stderr, "%s\n", errors ? errors : "scale_sim: cannot load the spec");
		return 1;
	}
	if (aic_token_new(token) != 0 ||
	    jobdir_create(argv[4], "scale", token, jobdir, sizeof(jobdir)) != 0) {
		fprintf(stderr, "scale_sim: cannot make the job directory under '%s'\n", argv[4]);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	hc.spec = spec;
	hc.jobdir = jobdir;
	hc.token = token;
	hc.listen_addr = "127.0.0.1";
	hc.n_agents = n;
	hc.grace_ms = 1000;
	h = head_start(&loop, &hc);
	if (!h)
		return 1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", head_port(h));
	jobdir_write_text(jobdir, "head", addr);
	printf("%d %s %s\n", head_port(h), token, jobdir);
	fflush(stdout);
	uv_prepare_init(&loop, &check);
	check.data = h;
	uv_prepare_start(&check, head_check);
	uv_run(&loop, UV_RUN_DEFAULT);
	head_after(h);
	code = head_exit_code(h);
	uv_walk(&loop, close_any, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	head_free(h);
	aic_spec_free(spec);
	return code;
}

/* --- the agents ---------------------------------------------------------- */

#define SIM_GPUS 8

struct sim;

struct sagent {
	struct sim *s;
	int rank;
	struct aic_conn *c;
	bool welcomed, configured, silent, closed;
};

/* A process of the plan as the agents see it (by the head's process id). */
struct sproc {
	int agent; /* -1: never spawned */
	char stage[64];
	int index;
	bool running;
	unsigned spawns;
	double started_s; /* when its last STARTED went */
};

struct sim {
	uv_loop_t loop;
	uv_timer_t tick, metrics;
	struct sagent *agents;
	int n;
	const char *token;
	int port;
	long head_pid;
	json_t *topo;
	struct sproc *procs;
	size_t n_procs, cap_procs;
	int welcomed, configured, closed;
	size_t running;
	uint64_t frames_in, frames_out, spawns, node_lost_seen, other_lost;
	int silenced;	    /* the nodes made silent (AIC_SCALE_LOST, default 1) */
	double first_config_s; /* when the first agent had CONFIG (0: none yet) */
	bool metrics_on;
	/* The cli connection: STATUS round trips. */
	struct aic_conn *cli;
	json_t *status;
	bool cli_ready;
};

static void die(const char *what)
{
	fprintf(stderr, "scale_sim: %s\n", what);
	exit(1);
}

static struct sproc *proc_at(struct sim *s, size_t id)
{
	if (id >= 1000000)
		return NULL;
	if (id >= s->cap_procs) {
		size_t cap = id + 1024;
		struct sproc *p = realloc(s->procs, cap * sizeof(*p));
		if (!p)
			die("out of memory");
		memset(p + s->cap_procs, 0, (cap - s->cap_procs) * sizeof(*p));
		for (size_t i = s->cap_procs; i < cap; i++)
			p[i].agent = -1;
		s->procs = p;
		s->cap_procs = cap;
	}
	if (id >= s->n_procs)
		s->n_procs = id + 1;
	return &s->procs[id];
}

static void send_msg(struct sagent *a, uint16_t type, json_t *m)
{
	if (a->c && !a->silent && aic_conn_send(a->c, type, m) == 0)
		a->s->frames_out++;
	json_decref(m);
}

/* REGISTER, as agent__registration builds it, with the fixture's topology. */
static void do_register(struct sagent *a)
{
	json_t *gpus = json_array(), *ports = json_array();
	char node[64];
	int i;

	for (i = 0; i < SIM_GPUS; i++)
		json_array_append_new(gpus, json_integer(i));
	for (i = 0; i < GANG_PORTS; i++)
		json_array_append_new(ports, json_integer(20000 + i));
	snprintf(node, sizeof(node), "sim%04d", a->rank);
	send_msg(a, AIC_MSG_REGISTER,
		 json_pack("{s:i,s:s,s:s,s:i,s:O,s:o,s:s,s:o}", "rank", a->rank, "node", node,
			   "addr", "127.0.0.1", "port", 0, "topo", a->s->topo, "gpus", gpus,
			   "cpus", "", "ports", ports));
}

static void on_spawn(struct sagent *a, json_t *m)
{
	struct sim *s = a->s;
	json_int_t id = json_integer_value(json_object_get(m, "id"));
	struct sproc *p = id >= 0 ? proc_at(s, (size_t)id) : NULL;

	if (!p || p->running)
		return;
	p->agent = a->rank;
	snprintf(p->stage, sizeof(p->stage), "%s", json_string_value(json_object_get(m, "stage")) ?: "?");
	p->index = (int)json_integer_value(json_object_get(m, "index"));
	p->running = true;
	p->spawns++;
	p->started_s = now_s();
	s->running++;
	s->spawns++;
	/* A worker's pid: made up, but unique and stable per start. */
	send_msg(a, AIC_MSG_STARTED,
		 json_pack("{s:I,s:I}", "id", id, "pid", (json_int_t)(100000 + id * 16 + p->spawns)));
}

/* A process ends on agent a (a KILL's signal, or an exit status for a crash). */
static void proc_exit(struct sagent *a, size_t id, int status, bool cancelled)
{
	struct sproc *p = id < a->s->n_procs ? &a->s->procs[id] : NULL;

	if (!p || !p->running || p->agent != a->rank)
		return;
	p->running = false;
	a->s->running--;
	send_msg(a, AIC_MSG_EXITED,
		 json_pack("{s:I,s:i,s:b}", "id", (json_int_t)id, "status", status, "cancelled",
			   cancelled));
}

static void agent_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	struct sagent *a = c->owner;
	struct sim *s = a->s;

	(void)f;
	s->frames_in++;
	if (a->silent)
		return;
	switch (type) {
	case AIC_MSG_WELCOME:
		a->welcomed = true;
		s->welcomed++;
		do_register(a);
		break;
	case AIC_MSG_REJECT:
		fprintf(stderr, "scale_sim: the head refused agent %d: %s\n", a->rank,
			m ? json_string_value(json_object_get(m, "error")) : "?");
		exit(1);
	case AIC_MSG_CONFIG:
		if (!s->first_config_s)
			s->first_config_s = now_s();
		if (!a->configured)
			s->configured++;
		a->configured = true;
		break;
	case AIC_MSG_SPAWN:
		if (m)
			on_spawn(a, m);
		break;
	case AIC_MSG_KILL:
		if (m)
			proc_exit(a, (size_t)json_integer_value(json_object_get(m, "id")),
				  -(int)json_integer_value(json_object_get(m, "signal")), false);
		break;
	case AIC_MSG_NODE_LOST:
		/* Only the nodes this bench silenced count; any other lost is an error (below). */
		if (m && json_integer_value(json_object_get(m, "rank")) >= 0 &&
		    json_integer_value(json_object_get(m, "rank")) < s->n &&
		    s->agents[json_integer_value(json_object_get(m, "rank"))].silent) {
			s->node_lost_seen++;
		} else {
			s->other_lost++;
		}
		break;
	case AIC_MSG_SHUTDOWN:
		send_msg(a, AIC_MSG_STATS,
			 json_pack("{s:{},s:i}", "channels", "maxrss_kib", 4096));
		aic_conn_close(c);
		break;
	default:
		break;
	}
}

static void agent_close(struct aic_conn *c)
{
	struct sagent *a = c->owner;

	a->c = NULL;
	a->closed = true;
	a->s->closed++;
}

/* A METRICS batch per agent a second: one point per node, as a node-level metric would be. */
static void metrics_tick(uv_timer_t *t)
{
	struct sim *s = t->data;
	double now = (double)time(NULL);
	int i;

	for (i = 0; i < s->n; i++) {
		struct sagent *a = &s->agents[i];
		if (!a->configured || !a->c)
			continue;
		send_msg(a, AIC_MSG_METRICS,
			 json_pack("{s:[{s:f,s:s,s:i,s:s,s:f,s:i}]}", "points", "t", now, "stage",
				   "node", "index", a->rank, "name", "gpu_util", "value", 0.9,
				   "step", -1));
	}
}

static void cli_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	struct sim *s = c->owner;

	(void)f;
	if (type == AIC_MSG_WELCOME)
		s->cli_ready = true;
	else if (type == AIC_MSG_STATUS && m) {
		json_decref(s->status);
		s->status = json_incref(m);
	}
}

static void cli_close(struct aic_conn *c)
{
	struct sim *s = c->owner;

	s->cli = NULL;
	s->cli_ready = false;
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

typedef bool (*cond_fn)(struct sim *s, void *arg);

/* Runs the loop until cond holds; dies naming `what` after timeout_s. */
static double run_until(struct sim *s, cond_fn cond, void *arg, double timeout_s, const char *what)
{
	double t0 = now_s();
	char why[256];

	while (!cond(s, arg)) {
		if (now_s() - t0 > timeout_s) {
			snprintf(why, sizeof(why), "timed out after %.0f s waiting for %s", timeout_s,
				 what);
			die(why);
		}
		uv_run(&s->loop, UV_RUN_ONCE);
	}
	return now_s() - t0;
}

static bool all_welcomed(struct sim *s, void *arg)
{
	(void)arg;
	return s->welcomed == s->n;
}

static bool all_configured(struct sim *s, void *arg)
{
	(void)arg;
	return s->configured == s->n;
}

static bool status_back(struct sim *s, void *arg)
{
	(void)arg;
	return s->status != NULL || !s->cli;
}

static bool cli_up(struct sim *s, void *arg)
{
	(void)arg;
	return s->cli_ready || !s->cli;
}

static bool all_closed(struct sim *s, void *arg)
{
	(void)arg;
	return s->closed == s->n;
}

static bool settle(struct sim *s, void *arg)
{
	double *until = arg;

	(void)s;
	return now_s() >= *until;
}

static void cli_connect(struct sim *s)
{
	s->cli = aic_conn_connect(&s->loop, "127.0.0.1", s->port, s->token,
				  json_pack("{s:s}", "role", "cli"), cli_frame, cli_close, s);
	if (!s->cli)
		die("cannot connect to the head");
	run_until(s, cli_up, NULL, 30, "the cli connection");
	if (!s->cli)
		die("the head refused the cli connection");
}

/* One STATUS round trip (as aic status asks); the answer in s->status. */
static double status_rtt(struct sim *s)
{
	double t0 = now_s();
	json_t *req = json_object();
	int rc;

	json_decref(s->status);
	s->status = NULL;
	/* An empty object, as aic status sends: the head ignores a control frame with no JSON. */
	rc = s->cli && req ? aic_conn_send(s->cli, AIC_MSG_STATUS, req) : -ENOMEM;
	json_decref(req);
	if (rc)
		die("cannot send STATUS");
	run_until(s, status_back, NULL, 60, "STATUS");
	if (!s->status)
		die("the head closed the cli connection");
	return now_s() - t0;
}

/* Processes "running" in the head's status, and all of them. */
static size_t status_running(struct sim *s, size_t *all)
{
	json_t *procs = json_object_get(s->status, "procs"), *p;
	size_t i, n = 0;

	*all = json_array_size(procs);
	json_array_foreach(procs, i, p)
		n += !strcmp(json_string_value(json_object_get(p, "state")) ?: "", "running");
	return n;
}

/* Asks until the head says every process runs; the time until then. */
static void wait_all_running(struct sim *s, const char *what)
{
	size_t all, n;
	double t0 = now_s();

	for (;;) {
		status_rtt(s);
		n = status_running(s, &all);
		if (all && n == all)
			return;
		if (now_s() - t0 > 120) {
			fprintf(stderr, "scale_sim: %zu of %zu processes running\n", n, all);
			die(what);
		}
	}
}

/* /proc/PID's user+system CPU seconds, its RSS and peak RSS in KiB, and its I/O bytes. */
struct pstat {
	double cpu_s;
	long rss_kib, hwm_kib;
	unsigned long long rchar, wchar;
};

static void read_pstat(long pid, struct pstat *ps)
{
	char path[64], line[512];
	unsigned long ut = 0, st = 0;
	FILE *f;

	memset(ps, 0, sizeof(*ps));
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ')');
		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	}
	if (f)
		fclose(f);
	ps->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &ps->rss_kib);
		sscanf(line, "VmHWM: %ld", &ps->hwm_kib);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%ld/io", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "rchar: %llu", &ps->rchar);
		sscanf(line, "wchar: %llu", &ps->wchar);
	}
	if (f)
		fclose(f);
}

/* PINGs the agents have received from the head so far. */
static uint64_t pings(const struct sim *s)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < s->n; i++)
		if (s->agents[i].c)
			n += s->agents[i].c->pings;
	return n;
}

static void sample(const struct sim *s, const char *figure, double value)
{
	printf("{\"bench\": \"scale\", \"nodes\": %d, \"figure\": \"%s\", \"value\": %.6f}\n", s->n,
	       figure, value);
	fflush(stdout);
}

struct respawned {
	size_t *ids;
	size_t n;
	unsigned *before;
};

/* Every process in r has been spawned again and runs. */
static bool all_respawned(struct sim *s, void *arg)
{
	struct respawned *r = arg;
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct sproc *p = &s->procs[r->ids[i]];
		if (!p->running || p->spawns <= r->before[i])
			return false;
	}
	return true;
}

static void respawned_init(struct sim *s, struct respawned *r, size_t *ids, size_t n)
{
	size_t i;

	r->ids = ids;
	r->n = n;
	r->before = calloc(n + 1, sizeof(*r->before));
	if (!r->before)
		die("out of memory");
	for (i = 0; i < n; i++)
		r->before[i] = s->procs[ids[i]].spawns;
}

/* The largest stage by process count whose name starts with `prefix`: its ids into ids. */
static size_t stage_ids(struct sim *s, const char *stage, size_t *ids)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_procs; i++)
		if (s->procs[i].agent >= 0 && !strcmp(s->procs[i].stage, stage))
			ids[n++] = i;
	return n;
}

static bool lost_seen(struct sim *s, void *arg)
{
	(void)arg;
	/* Every agent left has heard of every silent one (which hear nothing they act on). */
	return s->node_lost_seen >= (uint64_t)(s->n - s->silenced) * (uint64_t)s->silenced;
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void cli_exited(uv_process_t *p, int64_t status, int sig)
{
	int *done = p->data;

	*done = status == 0 && sig == 0 ? 1 : -1;
	uv_close((uv_handle_t *)p, free_handle);
}

static bool cli_done(struct sim *s, void *arg)
{
	(void)s;
	return *(int *)arg != 0;
}

/* `aic status --job JOBDIR` run to its end (the agents keep answering meanwhile): its wall time. */
static double run_cli(struct sim *s, const char *aic, const char *jobdir)
{
	char *args[] = {(char *)aic, "status", "--job", (char *)jobdir, NULL};
	uv_stdio_container_t io[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE},
				      {.flags = UV_INHERIT_FD, .data.fd = 2}};
	uv_process_options_t o = {.file = aic, .args = args, .exit_cb = cli_exited,
				  .stdio = io, .stdio_count = 3};
	uv_process_t *p = calloc(1, sizeof(*p));
	double t0 = now_s();
	int done = 0;

	if (!p)
		die("out of memory");
	p->data = &done;
	if (uv_spawn(&s->loop, p, &o) != 0)
		die("cannot run aic status");
	run_until(s, cli_done, &done, 60, "aic status");
	if (done < 0)
		die("aic status failed");
	return now_s() - t0;
}

static int run_agents(int argc, char **argv)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct aic_topo *topo = NULL;
	struct pstat p0, p1, pb;
	char *errors = NULL;
	size_t *ids, n, i;
	double t0, t, steady_s = 5, until;
	uint64_t fin, fout;
	int k;

	if (!s || argc != 7)
		return 2;
	s->port = atoi(argv[2]);
	s->token = argv[3];
	s->n = atoi(argv[4]);
	s->head_pid = atol(argv[6]);
	if (s->n < 2 || s->port <= 0)
		die("bad arguments");
	if (getenv("AIC_SCALE_STEADY_S"))
		steady_s = atof(getenv("AIC_SCALE_STEADY_S"));
	if (aic_topo_load_xml(argv[5], &topo, &errors) != 0)
		die(errors ? errors : "cannot load the topology");
	s->topo = aic_topo_to_json(topo);
	aic_topo_free(topo);
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&s->loop);
	/* A tick bounds each wait of run_until, so that its deadline is checked. */
	uv_timer_init(&s->loop, &s->tick);
	uv_timer_start(&s->tick, tick_cb, 100, 100);
	uv_timer_init(&s->loop, &s->metrics);
	s->metrics.data = s;
	s->agents = calloc((size_t)s->n, sizeof(*s->agents));
	if (!s->agents || !s->topo)
		die("out of memory");

	/* Bootstrap: every agent connects at once, as srun starts them. */
	read_pstat(s->head_pid, &pb);
	t0 = now_s();
	for (k = 0; k < s->n; k++) {
		struct sagent *a = &s->agents[k];
		a->s = s;
		a->rank = k;
		a->c = aic_conn_connect(&s->loop, "127.0.0.1", s->port, s->token,
					json_pack("{s:s,s:i}", "role", "agent", "rank", k), agent_frame,
					agent_close, a);
		if (!a->c)
			die("cannot connect to the head");
	}
	run_until(s, all_welcomed, NULL, 120, "every agent's WELCOME");
	sample(s, "welcomed_s", now_s() - t0);
	run_until(s, all_configured, NULL, 120, "placement (CONFIG to every agent)");
	/*
	 * The head sends CONFIG to every agent at once once placed: the first
	 * agent's is when the head was done; the last's adds this process's
	 * parsing of every agent's copy on the same cores.
	 */
	sample(s, "placed_first_s", s->first_config_s - t0);
	sample(s, "placed_s", now_s() - t0);
	cli_connect(s);
	wait_all_running(s, "every process running");
	sample(s, "bootstrap_s", now_s() - t0);
	read_pstat(s->head_pid, &p0);
	sample(s, "bootstrap_cpu_s", p0.cpu_s - pb.cpu_s);
	sample(s, "procs", (double)s->n_procs);

	/* Steady state: heartbeats and metrics only. */
	s->metrics_on = true;
	uv_timer_start(&s->metrics, metrics_tick, 1000, 1000);
	until = now_s() + 1;
	run_until(s, settle, &until, 10, "a second");
	read_pstat(s->head_pid, &p0);
	/* The head's PINGs are conn.c's own (c->pings), not on_frame's; the agents send none here (METRICS each second). */
	fin = s->frames_in + pings(s);
	fout = s->frames_out;
	t = now_s();
	until = t + steady_s;
	run_until(s, settle, &until, steady_s + 10, "the steady state");
	read_pstat(s->head_pid, &p1);
	t = now_s() - t;
	sample(s, "steady_bytes_per_s", (double)(p1.rchar + p1.wchar - p0.rchar - p0.wchar) / t);
	sample(s, "steady_msgs_per_s",
	       (double)(s->frames_in + pings(s) - fin + s->frames_out - fout) / t);
	sample(s, "steady_cpu_frac", (p1.cpu_s - p0.cpu_s) / t);
	sample(s, "head_rss_mib", (double)p1.rss_kib / 1024);

	/* aic status: the head's answer to STATUS, and the command itself, 5 times each. */
	for (k = 0; k < 5; k++)
		sample(s, "status_s", status_rtt(s));
	for (k = 0; k < 5 && getenv("AIC_SCALE_AIC") && getenv("AIC_SCALE_JOBDIR"); k++)
		sample(s, "aic_status_s", run_cli(s, getenv("AIC_SCALE_AIC"), getenv("AIC_SCALE_JOBDIR")));

	ids = calloc(s->n_procs + 1, sizeof(*ids));
	if (!ids)
		die("out of memory");
	/* A replica crashes: until it runs again. */
	n = stage_ids(s, "rollout", ids);
	if (n) {
		struct respawned r;
		struct sproc *p = &s->procs[ids[n / 2]];
		respawned_init(s, &r, &ids[n / 2], 1);
		t = now_s();
		proc_exit(&s->agents[p->agent], ids[n / 2], 1, false);
		run_until(s, all_respawned, &r, 60, "the replica's restart");
		sample(s, "replica_restart_s", now_s() - t);
		free(r.before);
	}
	/* A gang's rank 0 crashes: until every rank runs again. */
	n = stage_ids(s, "train", ids);
	if (n) {
		struct respawned r;
		respawned_init(s, &r, ids, n);
		t = now_s();
		proc_exit(&s->agents[s->procs[ids[0]].agent], ids[0], 1, false);
		run_until(s, all_respawned, &r, 60, "the gang's restart");
		sample(s, "gang_restart_s", now_s() - t);
		sample(s, "gang_ranks", (double)n);
		free(r.before);
	}
	wait_all_running(s, "every process running after the restarts");
	if (s->other_lost)
		die("the head lost a node this bench did not silence (see the head's log)");

	/*
	 * Nodes go silent at once (AIC_SCALE_LOST, default 1, for which the
	 * spec leaves room): the head must see them within failure_timeout and
	 * place their replicas elsewhere. The nodes with the most replicas and
	 * no gang rank.
	 */
	{
		int want = getenv("AIC_SCALE_LOST") ? atoi(getenv("AIC_SCALE_LOST")) : 1, j;
		struct respawned r;
		bool *pick = calloc((size_t)s->n, sizeof(*pick));
		if (!pick || want < 1 || want >= s->n)
			die("AIC_SCALE_LOST: a number from 1 to the nodes less one");
		for (s->silenced = 0; s->silenced < want; s->silenced++) {
			int best_rank = -1;
			size_t best = 0, cnt;
			for (j = 1; j < s->n; j++) {
				bool gang = false;
				if (pick[j])
					continue;
				for (i = 0, cnt = 0; i < s->n_procs; i++) {
					if (s->procs[i].agent != j || !s->procs[i].running)
						continue;
					gang |= !strcmp(s->procs[i].stage, "train");
					cnt++;
				}
				if (!gang && cnt > best) {
					best = cnt;
					best_rank = j;
				}
			}
			if (best_rank < 0)
				die("AIC_SCALE_LOST: not that many nodes without a gang rank");
			pick[best_rank] = true;
		}
		n = 0;
		for (i = 0; i < s->n_procs; i++)
			if (s->procs[i].agent >= 0 && pick[s->procs[i].agent] && s->procs[i].running) {
				ids[n++] = i;
				s->procs[i].running = false;
				s->running--;
			}
		respawned_init(s, &r, ids, n);
		t = now_s();
		/* Silent: no PING, no answer; their links stay open (hung nodes, not closed sockets). */
		for (j = 0; j < s->n; j++)
			if (pick[j]) {
				s->agents[j].silent = true;
				aic_conn_set_timeout(s->agents[j].c, 0);
			}
		run_until(s, lost_seen, NULL, 120, "NODE_LOST");
		sample(s, "node_lost_detect_s", now_s() - t);
		run_until(s, all_respawned, &r, 60, "the lost nodes' replicas placed again");
		sample(s, "node_lost_recover_s", now_s() - t);
		sample(s, "node_lost_procs", (double)n);
		sample(s, "node_lost_nodes", (double)s->silenced);
		free(r.before);
		for (j = 0; j < s->n; j++)
			if (pick[j] && s->agents[j].c)
				aic_conn_close(s->agents[j].c);
		free(pick);
	}

	/* The end: STOP, then every agent's STATS and close. */
	uv_timer_stop(&s->metrics);
	read_pstat(s->head_pid, &p1);
	sample(s, "head_cpu_s", p1.cpu_s);
	sample(s, "head_maxrss_mib", (double)p1.hwm_kib / 1024);
	if (s->cli) {
		json_t *m = json_object();
		aic_conn_send(s->cli, AIC_MSG_STOP, m);
		json_decref(m);
	}
	run_until(s, all_closed, NULL, 60, "SHUTDOWN to every agent");
	if (s->cli)
		aic_conn_close(s->cli);
	uv_timer_stop(&s->tick);
	aic_conn_close_all();
	uv_walk(&s->loop, close_any, NULL);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);
	json_decref(s->topo);
	json_decref(s->status);
	free(ids);
	free(s->procs);
	free(s->agents);
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	aic_log_set_name("scale_sim", NULL);
	if (argc > 1 && !strcmp(argv[1], "head"))
		return run_head(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "agents"))
		return run_agents(argc, argv);
	fputs("usage: scale_sim head SPEC N DIR\n"
	      "       scale_sim agents PORT TOKEN N TOPO_XML HEAD_PID\n",
	      stderr);
	return 2;
}

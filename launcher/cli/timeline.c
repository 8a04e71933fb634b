/*
 * aic timeline: the job's events.jsonl (doc/design/observe.md) as a trace
 * in Chrome's trace-event JSON format, which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open.
 *
 * A node is a trace process; its GPUs and CPU-only processes are its
 * threads ("GPU 0", "CPU"), with a lane more ("GPU 0 #2") where two
 * processes' lives overlap on one, since slices of a thread must nest.
 * Each process's life is a complete event (X) on each of its GPUs' tracks;
 * a failed exit is an instant there, a restart and a lost node are
 * instants on the node, the job's end a global one. Channel backlog and
 * throughput, weight versions and GPU use (NVML) are counters (C) of the
 * node whose agent sampled them, and each sampled item two async slices
 * (b/e): queued from put to its hand-over, then in a worker until its ack.
 * Stages that take turns on shared GPUs (phases) have a track per pair on
 * each node (on the job's for a pair the head arbitrates): a slice a turn.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/jobdir.h"

#define MAX_LANES 99

const char cmd_timeline_usage[] =
	"aic timeline [--job DIR] [-o FILE]\n"
	"  --job DIR     the job directory (default: .aic/latest in this directory)\n"
	"  -o, --output FILE  write the trace to FILE (default: standard output)\n";

struct tl {
	json_t *out;   /* traceEvents */
	json_t *nodes; /* {node: pid} */
	json_t *lanes; /* {"pid/gpu": [end of each lane's last slice, us]} */
	json_t *named; /* {"pid/tid": true} once the thread has its name */
	json_t *open;  /* {proc: its start event} in the current run */
	json_t *last;  /* {"rank/chan": [t, acked]}: the previous sample, for rates */
	json_t *turns; /* {"group/node/stage": its phase's begin event} */
	double t0, t_end;
};

static double us(const struct tl *t, json_t *ev, const char *key)
{
	return (json_number_value(json_object_get(ev, key)) - t->t0) * 1e6;
}

static void emit(struct tl *t, json_t *e)
{
	if (e)
		json_array_append_new(t->out, e);
}

/* The trace process of a node, named on first use. */
static int node_pid(struct tl *t, const char *node)
{
	json_t *p = json_object_get(t->nodes, node);
	int pid;

	if (p)
		return (int)json_integer_value(p);
	pid = (int)json_object_size(t->nodes) + 1;
	json_object_set_new(t->nodes, node, json_integer(pid));
	emit(t, json_pack("{s:s,s:s,s:i,s:i,s:{s:s+}}", "name", "process_name", "ph", "M", "pid",
			  pid, "tid", 0, "args", "name", "node ", node));
	emit(t, json_pack("{s:s,s:s,s:i,s:i,s:{s:i}}", "name", "process_sort_index", "ph", "M",
			  "pid", pid, "tid", 0, "args", "sort_index", pid));
	return pid;
}

/*
 * The thread for a slice [start, end] on GPU gpu (-1: the CPU) of node
 * pid: the first lane free by start, named on first use.
 */
static int lane_tid(struct tl *t, int pid, int gpu, double start, double end)
{
	char key[64], name[64];
	json_t *ends;
	size_t i;
	int tid;

	snprintf(key, sizeof(key), "%d/%d", pid, gpu);
	ends = json_object_get(t->lanes, key);
	if (!ends) {
		ends = json_array();
		json_object_set_new(t->lanes, key, ends);
	}
	for (i = 0; i < json_array_size(ends); i++)
		if (json_number_value(json_array_get(ends, i)) <= start)
			break;
	if (i >= MAX_LANES)
		i = MAX_LANES - 1;
	if (i < json_array_size(ends))
		json_array_set_new(ends, i, json_real(end));
	else
		json_array_append_new(ends, json_real(end));
	tid = (gpu + 1) * 100 + (int)i + 1;
	snprintf(key, sizeof(key), "%d/%d", pid, tid);
	if (!json_object_get(t->named, key)) {
		json_object_set_new(t->named, key, json_true());
		if (gpu >= 0)
			snprintf(name, sizeof(name), "GPU %d", gpu);
		else
			snprintf(name, sizeof(name), "CPU");
		if (i > 0)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), " #%zu", i + 1);
		emit(t, json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "name", "thread_name", "ph", "M",
				  "pid", pid, "tid", tid, "args", "name", name));
		emit(t, json_pack("{s:s,s:s,s:i,s:i,s:{s:i}}", "name", "thread_sort_index", "ph",
				  "M", "pid", pid, "tid", tid, "args", "sort_index", tid));
	}
	return tid;
}

/*
 * A process's life from its start event to `exit`; with exit NULL, to
 * end_us: it had not ended by then, or (lost) its node was lost then.
 */
static void life(struct tl *t, json_t *start, json_t *exit, double end_us, bool lost)
{
	const char *node = json_string_value(json_object_get(start, "node")) ?: "?";
	json_t *gpus = json_object_get(start, "gpus"), *args;
	double s = us(t, start, "t"), e = exit ? us(t, exit, "t") : end_us;
	int pid = node_pid(t, node),
	    status = (int)json_integer_value(json_object_get(exit, "status"));
	size_t i, n = json_array_size(gpus) ? json_array_size(gpus) : 1;
	char name[160];

	snprintf(name, sizeof(name), "%s/%lld",
		 json_string_value(json_object_get(start, "stage")) ?: "?",
		 (long long)json_integer_value(json_object_get(start, "index")));
	if (e < s)
		e = s;
	for (i = 0; i < n; i++) {
		int gpu = json_array_size(gpus) ? (int)json_integer_value(json_array_get(gpus, i))
						: -1;
		int tid = lane_tid(t, pid, gpu, s, e);
		args = json_pack("{s:O,s:O,s:O,s:O,s:o}", "stage", json_object_get(start, "stage"),
				 "index", json_object_get(start, "index"), "proc",
				 json_object_get(start, "proc"), "pid",
				 json_object_get(start, "pid"), "exit",
				 exit   ? json_integer(status)
				 : lost ? json_string("lost with its node")
					: json_string("none recorded"));
		emit(t, json_pack("{s:s,s:s,s:s,s:f,s:f,s:i,s:i,s:o}", "name", name, "cat",
				  "process", "ph", "X", "ts", s, "dur", e - s, "pid", pid, "tid",
				  tid, "args", args));
		if ((exit && status != 0) || lost)
			emit(t, json_pack("{s:s+,s:s,s:s,s:s,s:f,s:i,s:i,s:{s:i}}", "name", name,
					  lost	       ? " lost"
					  : status < 0 ? " killed"
						       : " failed",
					  "cat", "process", "ph", "i", "s", "t", "ts", e, "pid", pid,
					  "tid", tid, "args", "status", status));
	}
}

/* The lives of the current run's processes that had not ended when it did, to end_us. */
static void close_open(struct tl *t, double end_us)
{
	const char *k;
	json_t *v;

	json_object_foreach(t->open, k, v) {
		life(t, v, NULL, end_us, false);
	}
	json_object_clear(t->open);
}

static void counter(struct tl *t, int pid, const char *what, const char *of, double ts,
		    json_t *args)
{
	emit(t, json_pack("{s:s++,s:s,s:s,s:f,s:i,s:i,s:o}", "name", what, " ", of, "cat", "data",
			  "ph", "C", "ts", ts, "pid", pid, "tid", 0, "args", args));
}

/* A channel's sample: backlog, and throughput since the agent's previous one. */
static void chan_sample(struct tl *t, int pid, json_t *ev)
{
	const char *chan = json_string_value(json_object_get(ev, "chan")) ?: "?";
	double ts = us(t, ev, "t");
	json_int_t acked = json_integer_value(json_object_get(ev, "acked"));
	json_t *prev;
	char key[160];

	counter(t, pid, "backlog", chan, ts,
		json_pack("{s:O,s:O}", "queued", json_object_get(ev, "queued"), "inflight",
			  json_object_get(ev, "inflight")));
	snprintf(key, sizeof(key), "%lld/%s",
		 (long long)json_integer_value(json_object_get(ev, "rank")), chan);
	prev = json_object_get(t->last, key);
	if (prev && ts > json_number_value(json_array_get(prev, 0)))
		counter(t, pid, "throughput", chan, ts,
			json_pack("{s:f}", "acked/s",
				  (double)(acked - json_integer_value(json_array_get(prev, 1))) *
					  1e6 / (ts - json_number_value(json_array_get(prev, 0)))));
	json_object_set_new(t->last, key, json_pack("[f,I]", ts, acked));
}

/*
 * A phase turn (stages taking turns on shared GPUs) from its begin to end_us,
 * on its pair's track of its node (the job's for every node of a pair).
 */
static void turn(struct tl *t, json_t *begin, double end_us)
{
	const char *node = json_string_value(json_object_get(begin, "node"));
	int pid = node ? node_pid(t, node) : 0;
	int group = (int)json_integer_value(json_object_get(begin, "group"));
	int tid = 9000 + group;
	char key[64], name[64];

	snprintf(key, sizeof(key), "%d/%d", pid, tid);
	if (!json_object_get(t->named, key)) {
		json_object_set_new(t->named, key, json_true());
		snprintf(name, sizeof(name), "phases, pair %d", group);
		emit(t, json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "name", "thread_name", "ph", "M",
				  "pid", pid, "tid", tid, "args", "name", name));
	}
	emit(t, json_pack("{s:s,s:s,s:s,s:f,s:f,s:i,s:i,s:{s:O*}}", "name",
			  json_string_value(json_object_get(begin, "stage")) ?: "?", "cat", "phase",
			  "ph", "X", "ts", us(t, begin, "t"), "dur",
			  end_us > us(t, begin, "t") ? end_us - us(t, begin, "t") : 0.0, "pid", pid,
			  "tid", tid, "args", "switch_us", json_object_get(begin, "switch_us")));
}

/* A sampled item: queued from put to its hand-over, then in a worker until acked. */
static void item_span(struct tl *t, int pid, json_t *ev)
{
	const char *chan = json_string_value(json_object_get(ev, "chan")) ?: "?";
	double put = us(t, ev, "put"), ack = us(t, ev, "ack");
	double get = json_number_value(json_object_get(ev, "get")) > 0 ? us(t, ev, "get") : ack;
	char id[192], name[128];

	snprintf(id, sizeof(id), "%s/%lld/%lld", chan,
		 (long long)json_integer_value(json_object_get(ev, "rank")),
		 (long long)json_integer_value(json_object_get(ev, "id")));
	snprintf(name, sizeof(name), "%s item", chan);
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i,s:{s:O}}", "name", name, "cat", "item",
			  "ph", "b", "id", id, "ts", put, "pid", pid, "tid", 0, "args", "id",
			  json_object_get(ev, "id")));
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i}", "name", "queued", "cat", "item", "ph",
			  "b", "id", id, "ts", put, "pid", pid, "tid", 0));
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i}", "name", "queued", "cat", "item", "ph",
			  "e", "id", id, "ts", get, "pid", pid, "tid", 0));
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i}", "name", "in a worker", "cat", "item",
			  "ph", "b", "id", id, "ts", get, "pid", pid, "tid", 0));
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i}", "name", "in a worker", "cat", "item",
			  "ph", "e", "id", id, "ts", ack, "pid", pid, "tid", 0));
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i}", "name", name, "cat", "item", "ph", "e",
			  "id", id, "ts", ack, "pid", pid, "tid", 0));
}

static void instant(struct tl *t, const char *name, const char *scope, double ts, int pid,
		    json_t *args)
{
	emit(t, json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i,s:o}", "name", name, "cat", "job", "ph",
			  "i", "s", scope, "ts", ts, "pid", pid, "tid", 0, "args", args));
}

static void one_event(struct tl *t, json_t *ev)
{
	const char *what = json_string_value(json_object_get(ev, "ev")) ?: "";
	const char *node = json_string_value(json_object_get(ev, "node"));
	double ts = us(t, ev, "t");
	char key[32], name[192];
	json_t *v;
	size_t i;

	snprintf(key, sizeof(key), "%lld",
		 (long long)json_integer_value(json_object_get(ev, "proc")));
	if (!strcmp(what, "placed")) {
		/* A new run: what the last one left ends here; every node gets its track. */
		close_open(t, ts);
		json_array_foreach(json_object_get(ev, "nodes"), i, v)
			node_pid(t, json_string_value(json_object_get(v, "node")) ?: "?");
		instant(t, "placed", "g", ts, 0,
			json_pack("{s:O}", "run", json_object_get(ev, "run")));
	} else if (!strcmp(what, "start")) {
		json_t *open = json_object_get(t->open, key);
		if (open) /* started again with no exit seen: that life ends here */
			life(t, open, NULL, ts, false);
		json_object_set(t->open, key, ev);
	} else if (!strcmp(what, "exit")) {
		json_t *start = json_object_get(t->open, key);
		if (start) {
			life(t, start, ev, ts, false);
			json_object_del(t->open, key);
		}
	} else if (!strcmp(what, "restart")) {
		snprintf(name, sizeof(name), "restart %s/%lld",
			 json_string_value(json_object_get(ev, "stage")) ?: "?",
			 (long long)json_integer_value(json_object_get(ev, "index")));
		instant(t, name, "p", ts, node_pid(t, node ?: "?"),
			json_pack("{s:O}", "restarts", json_object_get(ev, "restarts")));
	} else if (!strcmp(what, "node_lost")) {
		const char *k;
		json_t *start;
		void *tmp;
		instant(t, "node lost", "p", ts, node_pid(t, node ?: "?"),
			json_pack("{s:O}", "why", json_object_get(ev, "why")));
		/* Its processes' lives end with it: no exit comes from a lost node. */
		json_object_foreach_safe(t->open, tmp, k, start) {
			const char *on = json_string_value(json_object_get(start, "node"));
			if (node && on && !strcmp(on, node)) {
				life(t, start, NULL, ts, true);
				json_object_del(t->open, k);
			}
		}
	} else if (!strcmp(what, "phase")) {
		char turn_key[320];
		json_t *begin;
		snprintf(turn_key, sizeof(turn_key), "%lld/%s/%s",
			 (long long)json_integer_value(json_object_get(ev, "group")), node ?: "*",
			 json_string_value(json_object_get(ev, "stage")) ?: "?");
		begin = json_object_get(t->turns, turn_key);
		if (!strcmp(json_string_value(json_object_get(ev, "event")) ?: "", "begin")) {
			json_object_set(t->turns, turn_key, ev);
		} else if (begin) {
			turn(t, begin, ts);
			json_object_del(t->turns, turn_key);
		}
	} else if (!strcmp(what, "end")) {
		const char *k;
		json_t *begin;
		close_open(t, ts);
		json_object_foreach(t->turns, k, begin) {
			turn(t, begin, ts);
		}
		json_object_clear(t->turns);
		snprintf(name, sizeof(name), "job %s",
			 json_string_value(json_object_get(ev, "state")) ?: "?");
		instant(t, name, "g", ts, 0,
			json_pack("{s:O}", "reason", json_object_get(ev, "reason")));
	} else if (!strcmp(what, "chan")) {
		chan_sample(t, node_pid(t, node ?: "?"), ev);
	} else if (!strcmp(what, "weights")) {
		counter(t, node_pid(t, node ?: "?"), "weights",
			json_string_value(json_object_get(ev, "stream")) ?: "?", ts,
			json_pack("{s:O}", "version", json_object_get(ev, "version")));
	} else if (!strcmp(what, "gpu")) {
		snprintf(name, sizeof(name), "%lld",
			 (long long)json_integer_value(json_object_get(ev, "gpu")));
		counter(t, node_pid(t, node ?: "?"), "GPU", name, ts,
			json_pack("{s:O,s:f}", "util %", json_object_get(ev, "util"), "memory GiB",
				  (double)json_integer_value(json_object_get(ev, "mem_used")) /
					  (1 << 30)));
	} else if (!strcmp(what, "span")) {
		item_span(t, node_pid(t, node ?: "?"), ev);
	}
}

/* Events in time order (agents' come a second late at most; a span's t is its put). */
static int by_time(const void *a, const void *b)
{
	double x = json_number_value(json_object_get(*(json_t *const *)a, "t"));
	double y = json_number_value(json_object_get(*(json_t *const *)b, "t"));

	return x < y ? -1 : x > y;
}

static json_t *read_events(const char *dir)
{
	char *line = NULL;
	size_t cap = 0;
	json_t *all = json_array();
	int rc;
	FILE *f = jobdir_open(dir, "events.jsonl", &rc);

	if (!f) {
		fprintf(stderr, "aic: cannot read '%s/events.jsonl': %s\n", dir, strerror(-rc));
		json_decref(all);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *ev = json_loads(line, 0, NULL);
		/* A line cut short by a crash is skipped; the rest stands. */
		if (json_is_number(json_object_get(ev, "t")))
			json_array_append(all, ev);
		json_decref(ev);
	}
	free(line);
	fclose(f);
	return all;
}

int cmd_timeline(int argc, char **argv)
{
	static const struct option opts[] = {
		{"job", required_argument, NULL, 'J'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *given = NULL, *output = NULL;
	char dir[PATH_MAX], err[512];
	struct tl t = {0};
	json_t *all, **evs, *doc;
	size_t i, n;
	int c, rc = 1;
	FILE *f;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			given = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			return cli_help(stdout, argv[0]);
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "aic timeline: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (jobdir_find(given, dir, sizeof(dir), err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	all = read_events(dir);
	if (!all)
		return 1;
	n = json_array_size(all);
	evs = calloc(n + 1, sizeof(*evs));
	t.out = json_array();
	t.nodes = json_object();
	t.lanes = json_object();
	t.named = json_object();
	t.open = json_object();
	t.last = json_object();
	t.turns = json_object();
	if (!evs || !t.out || !t.nodes || !t.lanes || !t.named || !t.open || !t.last || !t.turns) {
		fprintf(stderr, "aic timeline: out of memory\n");
		goto out_free;
	}
	for (i = 0; i < n; i++)
		evs[i] = json_array_get(all, i);
	qsort(evs, n, sizeof(*evs), by_time);
	t.t0 = n ? json_number_value(json_object_get(evs[0], "t")) : 0;
	emit(&t, json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "name", "process_name", "ph", "M", "pid", 0,
			   "tid", 0, "args", "name", "job"));
	for (i = 0; i < n; i++)
		one_event(&t, evs[i]);
	/* Processes still running (a live job): their lives end at the last event. */
	close_open(&t, n ? us(&t, evs[n - 1], "t") : 0);
	doc = json_pack("{s:O,s:s,s:{s:f}}", "traceEvents", t.out, "displayTimeUnit", "ms",
			"otherData", "t0", t.t0);
	f = output && strcmp(output, "-") ? fopen(output, "w") : stdout;
	if (!f) {
		fprintf(stderr, "aic timeline: cannot write '%s': %s\n", output, strerror(errno));
	} else if (!doc || json_dumpf(doc, f, JSON_COMPACT) != 0 || fputc('\n', f) == EOF ||
		   (f != stdout ? fclose(f) : fflush(f)) != 0) {
		fprintf(stderr, "aic timeline: cannot write '%s': %s\n", output ?: "-",
			strerror(errno));
	} else {
		rc = 0;
	}
	json_decref(doc);
out_free:
	free(evs);
	json_decref(all);
	json_decref(t.out);
	json_decref(t.nodes);
	json_decref(t.lanes);
	json_decref(t.named);
	json_decref(t.open);
	json_decref(t.last);
	json_decref(t.turns);
	return rc;
}

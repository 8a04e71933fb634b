/*
 * The head's Prometheus metrics: the text exposition format (version
 * 0.0.4), served at /metrics over HTTP by libmicrohttpd when the build
 * has it, and rewritten to a file for node_exporter's textfile collector
 * when the spec (metrics.textfile) or `aic run --metrics-textfile` names
 * one. doc/design/observe.md lists the metrics.
 *
 * The text is made on the head's loop every PROM_EVERY_MS and at the end
 * (from the agents' last samples, events.c, and the head's own state) and
 * kept under a mutex; libmicrohttpd's thread only copies it out, so the
 * head's state is never read off its loop.
 *
 * Who may read it: the server binds metrics.listen (default 127.0.0.1) on
 * metrics.port (default: an ephemeral port); the job directory's file
 * "metrics" says where. Off the loopback, a request must carry
 * "Authorization: Bearer KEY", KEY being the job directory's metrics.key
 * (an HMAC of the job token, which it does not reveal; doc/SECURITY.md).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_MHD
#include <microhttpd.h>
#endif

#include "auth.h"
#include "internal.h"
#include "jobdir.h"
#include "log.h"
#include "strbuf.h"

#define PROM_EVERY_MS 1000

struct head_prom {
	struct head *h;
	struct chan_set_sample *samples; /* [agent * channels + c]: each agent's last */
	uint64_t *versions;		 /* [agent * streams + w]: version + 1, 0: none */
	uint64_t *ran_ms;		 /* [proc]: its ended runs' time */
	struct {
		bool have;
		uint64_t util, used, total;
	} (*gpus)[AIC_PLACE_MAX_GPUS]; /* [agent][topology index]: NVML's last */
	size_t n_ran;
	uv_timer_t timer;
	const char *textfile;
	pthread_mutex_t lock;
	char *text; /* the latest, under lock */
	size_t len;
	bool need_key;
	char key[AIC_AUTH_KEY_LEN + 1];
#ifdef HAVE_MHD
	struct MHD_Daemon *mhd;
#endif
};

/*
 * A label value with \, " and newlines escaped, as the format wants. The
 * text has a label per process and GPU, remade every PROM_EVERY_MS: the
 * plain runs are appended whole, not a character at a time.
 */
static void label(struct aic_strbuf *b, const char *name, const char *v)
{
	size_t n;

	aic_strbuf_append(b, name, strlen(name));
	aic_strbuf_append(b, "=\"", 2);
	while (v && *v) {
		n = strcspn(v, "\\\"\n");
		aic_strbuf_append(b, v, n);
		v += n;
		if (!*v)
			break;
		aic_strbuf_append(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
		v++;
	}
	aic_strbuf_append(b, "\"", 1);
}

static void family(struct aic_strbuf *b, const char *name, const char *type, const char *help)
{
	aic_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{job="..",k1="v1"[,k2="v2"]} value */
static void sample(struct aic_strbuf *b, const struct head *h, const char *name, const char *k1,
		   const char *v1, const char *k2, const char *v2, double value)
{
	aic_strbuf_printf(b, "%s{", name);
	label(b, "job", h->name);
	if (k1) {
		aic_strbuf_printf(b, ",");
		label(b, k1, v1);
	}
	if (k2) {
		aic_strbuf_printf(b, ",");
		label(b, k2, v2);
	}
	aic_strbuf_printf(b, "} %.15g\n", value);
}

enum { F_ITEMS, F_ACKED, F_BYTES, F_STALE, F_QUEUED, F_INFLIGHT };

static uint64_t field(const struct chan_set_sample *s, int f)
{
	switch (f) {
	case F_ITEMS:
		return s->items;
	case F_ACKED:
		return s->acked;
	case F_BYTES:
		return s->bytes;
	case F_STALE:
		return s->stale;
	case F_QUEUED:
		return s->queued;
	default:
		return s->inflight;
	}
}

/* The sum of a channel's field over the agents' last samples. */
static double chan_total(const struct head_prom *p, size_t c, int f)
{
	const struct head *h = p->h;
	size_t n = h->cfg.spec->n_channels, a;
	double t = 0;

	for (a = 0; a < (size_t)h->cfg.n_agents; a++)
		t += (double)field(&p->samples[a * n + c], f);
	return t;
}

static const struct {
	const char *name, *type, *help;
	int field;
} chan_families[] = {
	{"aic_channel_items_total", "counter",
	 "Items that came into the channel (put, or read from its source).", F_ITEMS},
	{"aic_channel_acked_total", "counter",
	 "Items acked for good (by a worker, a sink, or dropped).", F_ACKED},
	{"aic_channel_bytes_total", "counter", "Bytes of the items that came into the channel.",
	 F_BYTES},
	{"aic_channel_stale_dropped_total", "counter",
	 "Items dropped as older than their readers' weights allow (max_staleness).", F_STALE},
	{"aic_channel_backlog", "gauge", "Items waiting in the channel, not handed out yet.",
	 F_QUEUED},
	{"aic_channel_inflight", "gauge",
	 "Items handed to a worker or another node, not acked yet.", F_INFLIGHT},
};

/* Each GPU NVML reported on, by node and topology index. */
static void gpu_families(struct head_prom *p, struct aic_strbuf *b)
{
	static const char *const names[] = {"aic_gpu_utilization_ratio",
					    "aic_gpu_memory_used_bytes",
					    "aic_gpu_memory_total_bytes"};
	static const char *const helps[] = {
		"The GPU's utilisation over NVML's last sample period (0 to 1).",
		"The GPU's memory in use, all processes'.", "The GPU's memory."};
	struct head *h = p->h;
	size_t k, a, g;
	bool any = false;
	char gpu[16];

	/* None on a node without NVML: no families either. */
	for (a = 0; a < (size_t)h->cfg.n_agents; a++)
		for (g = 0; g < AIC_PLACE_MAX_GPUS; g++)
			any = any || p->gpus[a][g].have;
	for (k = 0; any && k < 3; k++) {
		family(b, names[k], "gauge", helps[k]);
		for (a = 0; a < (size_t)h->cfg.n_agents; a++)
			for (g = 0; g < AIC_PLACE_MAX_GPUS; g++) {
				if (!p->gpus[a][g].have)
					continue;
				snprintf(gpu, sizeof(gpu), "%zu", g);
				sample(b, h, names[k], "node", h->agents[a].node, "gpu", gpu,
				       k == 0	? (double)p->gpus[a][g].util / 100.0
				       : k == 1 ? (double)p->gpus[a][g].used
						: (double)p->gpus[a][g].total);
			}
	}
}

static void make_text(struct head_prom *p, struct aic_strbuf *b)
{
	struct head *h = p->h;
	const struct aic_spec *spec = h->cfg.spec;
	uint64_t now = aic_now_ms();
	size_t i, k, a;
	char proc[160];

	family(b, "aic_job_up", "gauge", "1 while the job runs, 0 once it has ended.");
	sample(b, h, "aic_job_up", NULL, NULL, NULL, NULL, h->ending ? 0 : 1);
	for (k = 0; k < sizeof(chan_families) / sizeof(*chan_families); k++) {
		family(b, chan_families[k].name, chan_families[k].type, chan_families[k].help);
		for (i = 0; i < spec->n_channels; i++)
			sample(b, h, chan_families[k].name, "channel", spec->channels[i].name, NULL,
			       NULL, chan_total(p, i, chan_families[k].field));
	}
	family(b, "aic_weights_version", "gauge",
	       "The newest version of the weight stream on any node (0: none yet).");
	for (i = 0; i < spec->n_weights; i++) {
		uint64_t v = 0;
		for (a = 0; a < (size_t)h->cfg.n_agents; a++)
			if (p->versions[a * spec->n_weights + i] > v)
				v = p->versions[a * spec->n_weights + i];
		sample(b, h, "aic_weights_version", "stream", spec->weights[i].name, NULL, NULL,
		       v ? (double)(v - 1) : 0);
	}
	family(b, "aic_stage_restarts_total", "counter",
	       "Restarts of the stage: a gang's, or the sum of its replicas'.");
	for (i = 0; i < spec->n_stages; i++) {
		int r = spec->stages[i].ranks ? h->stages[i].restarts : 0;
		for (k = 0; !spec->stages[i].ranks && k < h->n_procs; k++)
			if (h->procs[k].p->stage == i)
				r += h->procs[k].restarts;
		sample(b, h, "aic_stage_restarts_total", "stage", spec->stages[i].name, NULL, NULL,
		       r);
	}
	family(b, "aic_process_up", "gauge", "1 while the process runs.");
	for (k = 0; k < h->n_procs; k++) {
		const struct hproc *hp = &h->procs[k];
		snprintf(proc, sizeof(proc), "%s/%d", spec->stages[hp->p->stage].name,
			 hp->p->index);
		sample(b, h, "aic_process_up", "stage", spec->stages[hp->p->stage].name, "process",
		       proc, hp->state == P_RUNNING);
	}
	family(b, "aic_process_restarts_total", "counter",
	       "Restarts of the process (a gang's ranks restart together).");
	for (k = 0; k < h->n_procs; k++) {
		const struct hproc *hp = &h->procs[k];
		const struct aic_stage *st = &spec->stages[hp->p->stage];
		snprintf(proc, sizeof(proc), "%s/%d", st->name, hp->p->index);
		sample(b, h, "aic_process_restarts_total", "stage", st->name, "process", proc,
		       st->ranks ? h->stages[hp->p->stage].restarts : hp->restarts);
	}
	family(b, "aic_process_busy_seconds_total", "counter",
	       "Seconds the process has run, over all its runs.");
	for (k = 0; k < h->n_procs; k++) {
		const struct hproc *hp = &h->procs[k];
		const struct aic_stage *st = &spec->stages[hp->p->stage];
		uint64_t ran = k < p->n_ran ? p->ran_ms[k] : 0;
		if (hp->state == P_RUNNING && hp->started_ms)
			ran += now - hp->started_ms;
		snprintf(proc, sizeof(proc), "%s/%d", st->name, hp->p->index);
		sample(b, h, "aic_process_busy_seconds_total", "stage", st->name, "process", proc,
		       (double)ran / 1000.0);
	}
	gpu_families(p, b);
	if (h->metrics) {
		const char *stage, *name;
		json_t *by, *s;
		family(b, "aic_worker_metric", "gauge",
		       "The last value a stage's workers reported (w.metric, aic_metric).");
		json_object_foreach(h->metrics, stage, by) {
			json_object_foreach(by, name, s) {
				if (json_is_number(json_object_get(s, "last")))
					sample(b, h, "aic_worker_metric", "stage", stage, "name",
					       name, json_number_value(json_object_get(s, "last")));
			}
		}
		family(b, "aic_worker_metric_points_total", "counter",
		       "Points the stage's workers reported under that name.");
		json_object_foreach(h->metrics, stage, by) {
			json_object_foreach(by, name, s) {
				sample(b, h, "aic_worker_metric_points_total", "stage", stage,
				       "name", name,
				       (double)json_integer_value(json_object_get(s, "n")));
			}
		}
	}
}

/* The textfile collector reads whole files: written beside, then renamed over. */
static void write_textfile(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	f = fopen(tmp, "we");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0) {
		static bool said;
		if (!said)
			aic_log_error("cannot write the metrics textfile '%s': %s", path,
				      strerror(errno));
		said = true;
		if (f)
			unlink(tmp);
	}
}

void head__prom_update(struct head *h)
{
	struct head_prom *p = h->prom;
	struct aic_strbuf b;
	char *old;

	if (!p)
		return;
	aic_strbuf_init(&b);
	make_text(p, &b);
	if (!b.buf)
		return;
	if (p->textfile)
		write_textfile(p->textfile, b.buf, b.len);
	pthread_mutex_lock(&p->lock);
	old = p->text;
	p->text = b.buf;
	p->len = b.len;
	pthread_mutex_unlock(&p->lock);
	free(old);
}

static void tick(uv_timer_t *t)
{
	head__prom_update(t->data);
}

void head__prom_sample(struct head *h, const struct hagent *a, uint32_t chan,
		       const struct chan_set_sample *s)
{
	if (h->prom && chan < h->cfg.spec->n_channels && a->rank >= 0 && a->rank < h->cfg.n_agents)
		h->prom->samples[(size_t)a->rank * h->cfg.spec->n_channels + chan] = *s;
}

void head__prom_version(struct head *h, const struct hagent *a, uint32_t stream, uint64_t v)
{
	if (h->prom && stream < h->cfg.spec->n_weights && a->rank >= 0 && a->rank < h->cfg.n_agents)
		h->prom->versions[(size_t)a->rank * h->cfg.spec->n_weights + stream] = v + 1;
}

void head__prom_gpu(struct head *h, const struct hagent *a, uint32_t gpu, uint64_t util,
		    uint64_t used, uint64_t total)
{
	if (!h->prom || gpu >= AIC_PLACE_MAX_GPUS || a->rank < 0 || a->rank >= h->cfg.n_agents)
		return;
	h->prom->gpus[a->rank][gpu].have = true;
	h->prom->gpus[a->rank][gpu].util = util;
	h->prom->gpus[a->rank][gpu].used = used;
	h->prom->gpus[a->rank][gpu].total = total;
}

void head__prom_exited(struct head *h, const struct hproc *hp)
{
	struct head_prom *p = h->prom;

	if (!p || !hp->started_ms || hp->ended_ms < hp->started_ms)
		return;
	if (p->n_ran < h->n_procs) {
		uint64_t *r = realloc(p->ran_ms, h->n_procs * sizeof(*r));
		if (!r)
			return;
		memset(r + p->n_ran, 0, (h->n_procs - p->n_ran) * sizeof(*r));
		p->ran_ms = r;
		p->n_ran = h->n_procs;
	}
	p->ran_ms[hp->id] += hp->ended_ms - hp->started_ms;
}

#ifdef HAVE_MHD
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct head_prom *p = cls;
	struct MHD_Response *r;
	const char *auth;
	unsigned status = MHD_HTTP_OK;
	char *body;
	size_t len;
	enum MHD_Result rc;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)con_cls;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		body = strdup("only GET\n");
	} else if (p->need_key && !(auth && !strncmp(auth, "Bearer ", 7) &&
				    aic_auth_equal(auth + 7, p->key, AIC_AUTH_KEY_LEN))) {
		status = MHD_HTTP_UNAUTHORIZED;
		body = strdup("a bearer token is needed: the job directory's metrics.key\n");
	} else if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		body = strdup("not found: the metrics are at /metrics\n");
	} else {
		pthread_mutex_lock(&p->lock);
		body = p->text ? strndup(p->text, p->len) : strdup("");
		pthread_mutex_unlock(&p->lock);
	}
	if (!body)
		return MHD_NO;
	len = strlen(body);
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
						      : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Listens on addr:port (an IPv4 or IPv6 literal); the port it got, or -errno. */
static int serve(struct head_prom *p, const char *addr, int port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	const union MHD_DaemonInfo *info;

	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		p->need_key = (ntohl(in4->sin_addr.s_addr) >> 24) != 127;
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
		p->need_key = !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		return -EINVAL;
	}
	p->mhd =
		MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, p, MHD_OPTION_SOCK_ADDR,
				 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
				 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!p->mhd)
		return -EADDRINUSE;
	info = MHD_get_daemon_info(p->mhd, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : port;
}
#endif

void head__prom_start(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	struct head_prom *p = calloc(1, sizeof(*p));
	size_t n = (size_t)h->cfg.n_agents;

	if (!p || engine__observe_off()) {
		free(p);
		return;
	}
	p->h = h;
	p->samples = calloc(n * spec->n_channels + 1, sizeof(*p->samples));
	p->versions = calloc(n * spec->n_weights + 1, sizeof(*p->versions));
	p->gpus = calloc(n + 1, sizeof(*p->gpus));
	if (!p->samples || !p->versions || !p->gpus) {
		free(p->samples);
		free(p->versions);
		free(p->gpus);
		free(p);
		return;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->textfile = h->cfg.metrics_textfile ?: spec->metrics.textfile;
	h->prom = p;
	uv_timer_init(h->loop, &p->timer);
	p->timer.data = h;
	uv_timer_start(&p->timer, tick, PROM_EVERY_MS, PROM_EVERY_MS);
#ifdef HAVE_MHD
	{
		const char *addr = spec->metrics.listen ?: "127.0.0.1";
		char where[160];
		int port = serve(p, addr, spec->metrics.port);
		if (port < 0) {
			aic_log_error("no /metrics: cannot listen on '%s' port %d: %s", addr,
				      spec->metrics.port, strerror(-port));
			return;
		}
		snprintf(where, sizeof(where),
			 strchr(addr, ':') ? "http://[%s]:%d/metrics\n" : "http://%s:%d/metrics\n",
			 addr, port);
		jobdir_write_text(h->cfg.jobdir, "metrics", where);
		if (p->need_key) {
			aic_auth_worker_key(h->cfg.token, "|metrics", p->key);
			jobdir_write_text(h->cfg.jobdir, "metrics.key", p->key);
		}
		aic_log_debug("metrics at %.*s", (int)strlen(where) - 1, where);
	}
#endif
	head__prom_update(h);
}

void head__prom_stop(struct head *h)
{
	struct head_prom *p = h->prom;

	if (!p)
		return;
#ifdef HAVE_MHD
	if (p->mhd)
		MHD_stop_daemon(p->mhd);
#endif
	pthread_mutex_destroy(&p->lock);
	free(p->text);
	free(p->samples);
	free(p->versions);
	free(p->gpus);
	free(p->ran_ms);
	free(p);
	h->prom = NULL;
}

/*
 * The agent's side of services (doc/aic-job.5, SERVICES): it checks the
 * readiness of the service replicas the head names (PROBE, UNPROBE) and
 * tells the head each change (HEALTH); it keeps the endpoints the head
 * last sent (ENDPOINTS) and answers its workers' EP_GET from them.
 *
 * A check is a TCP connect to the replica's port, followed for an HTTP
 * check by a GET of its path; a 2xx status line passes. Checks run every
 * PROBE_WAIT_MS until the first pass, then every PROBE_EVERY_MS. A replica
 * is reported not ready at its first failure after passing, and dead
 * after PROBE_FAILS failures in a row, or when it has not passed within
 * its timeout; the head restarts a dead one. Nothing here touches the
 * processes themselves: the head decides, as for any exit.
 *
 * Probes are freed only with the agent (agent__service_release, after
 * the loop has closed every handle), so no callback ever finds one freed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

#define PROBE_WAIT_MS	200  /* between checks until the first pass */
#define PROBE_EVERY_MS	1000 /* between checks after it */
#define PROBE_ANSWER_MS 2000 /* one check's connect and answer */
#define PROBE_FAILS	3    /* failures in a row after passing that make a replica dead */

struct probe {
	struct agent_service *s;
	struct probe *next;
	long id;
	json_int_t run;
	char addr[64], path[256];
	int port;
	bool http;
	uint64_t deadline_ms, timeout_ms;
	bool on;       /* checking (between PROBE and UNPROBE or death) */
	bool busy;     /* a check is under way on tcp */
	bool tcp_open; /* tcp is initialised and not closed yet */
	bool inited;   /* timer is initialised */
	bool passed;   /* has passed a check in this run */
	bool ready;    /* as the head was last told */
	int fails;
	char why[160];
	uv_timer_t timer;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
	char req[400];
	char rx[16];
	size_t nrx;
	char scratch[512];
};

static void health(struct probe *p, bool dead)
{
	struct aic_conn *head = *p->s->head;
	json_t *m;

	if (!head || head->closing)
		return;
	m = json_pack("{s:I,s:I,s:b,s:b,s:s}", "id", (json_int_t)p->id, "run", p->run, "ready",
		      p->ready, "dead", dead, "why", p->why);
	if (m)
		aic_conn_send(head, AIC_MSG_HEALTH, m);
	json_decref(m);
}

static void tcp_closed(uv_handle_t *h)
{
	struct probe *p = h->data;

	p->tcp_open = false;
}

/*
 * The engine closes every handle at its end (engine.c), a check's socket
 * among them, whose callbacks then report the close: never close twice.
 */
static void close_tcp(struct probe *p)
{
	if (!uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, tcp_closed);
}

static void timer_cb(uv_timer_t *t);

/* A check ended: what it means for the replica, and the next one. */
static void finish(struct probe *p, bool ok, const char *why)
{
	if (!p->busy)
		return;
	p->busy = false;
	close_tcp(p);
	if (!p->on)
		return;
	if (ok) {
		p->fails = 0;
		p->passed = true;
		if (!p->ready) {
			p->ready = true;
			p->why[0] = '\0';
			health(p, false);
		}
	} else {
		snprintf(p->why, sizeof(p->why), "%s", why);
		if (p->passed) {
			p->fails++;
			if (p->ready || p->fails >= PROBE_FAILS) {
				bool dead = p->fails >= PROBE_FAILS;
				p->ready = false;
				if (dead) {
					snprintf(p->why, sizeof(p->why),
						 "failed %d readiness checks in a row (the last: "
						 "%s)",
						 p->fails, why);
					p->on = false;
				}
				health(p, dead);
				if (dead)
					return;
			}
		} else if (uv_now(p->timer.loop) >= p->deadline_ms) {
			snprintf(p->why, sizeof(p->why),
				 "did not pass its readiness check within %llu s (the last: %s)",
				 (unsigned long long)(p->timeout_ms / 1000), why);
			p->on = false;
			health(p, true);
			return;
		}
	}
	uv_timer_start(&p->timer, timer_cb, p->passed ? PROBE_EVERY_MS : PROBE_WAIT_MS, 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct probe *p = h->data;

	(void)hint;
	/* The status line, then the rest read into scratch and dropped. */
	if (p->nrx < sizeof(p->rx))
		*buf = uv_buf_init(p->rx + p->nrx, (unsigned)(sizeof(p->rx) - p->nrx));
	else
		*buf = uv_buf_init(p->scratch, sizeof(p->scratch));
}

/*
 * The status line "HTTP/1.x NNN": 2xx passes. The answer is read to its
 * end (the server closes: Connection: close), so that the server never
 * meets a reset while it writes its body.
 */
static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct probe *p = st->data;
	char why[64];

	(void)buf;
	if (!p->busy)
		return;
	if (n >= 0) {
		if (p->nrx < sizeof(p->rx))
			p->nrx += (size_t)n;
		return;
	}
	if (p->nrx < 12 || memcmp(p->rx, "HTTP/1.", 7) != 0) {
		finish(p, false, p->nrx ? "not an HTTP answer" : "closed without an answer");
		return;
	}
	snprintf(why, sizeof(why), "HTTP status %.3s", p->rx + 9);
	finish(p, p->rx[9] == '2', why);
}

static void write_cb(uv_write_t *w, int status)
{
	(void)w;
	(void)status; /* a failed write shows as a failed read */
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct probe *p = req->data;
	uv_buf_t b;

	if (!p->busy)
		return;
	if (status < 0) {
		finish(p, false, uv_strerror(status));
		return;
	}
	if (!p->http) {
		finish(p, true, "");
		return;
	}
	snprintf(p->req, sizeof(p->req),
		 "GET %s HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", p->path, p->addr,
		 p->port);
	b = uv_buf_init(p->req, (unsigned)strlen(p->req));
	p->nrx = 0;
	if (uv_write(&p->wreq, (uv_stream_t *)&p->tcp, &b, 1, write_cb) != 0 ||
	    uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, read_cb) != 0)
		finish(p, false, "cannot send the request");
}

static void timer_cb(uv_timer_t *t)
{
	struct probe *p = t->data;
	struct sockaddr_in sa;
	int rc;

	if (!p->on)
		return;
	if (p->busy) {
		finish(p, false, "no answer in time");
		return;
	}
	if (p->tcp_open) { /* the last check's socket is still closing */
		uv_timer_start(&p->timer, timer_cb, 10, 0);
		return;
	}
	rc = uv_ip4_addr(p->addr, p->port, &sa);
	if (!rc)
		rc = uv_tcp_init(t->loop, &p->tcp);
	if (rc) {
		p->busy = false;
		snprintf(p->why, sizeof(p->why), "%s", uv_strerror(rc));
		uv_timer_start(&p->timer, timer_cb, PROBE_EVERY_MS, 0);
		return;
	}
	p->tcp.data = p;
	p->creq.data = p;
	p->tcp_open = p->busy = true;
	rc = uv_tcp_connect(&p->creq, &p->tcp, (const struct sockaddr *)&sa, connect_cb);
	if (rc) {
		finish(p, false, uv_strerror(rc));
		return;
	}
	uv_timer_start(&p->timer, timer_cb, PROBE_ANSWER_MS, 0);
}

static struct probe *probe_for(struct agent_service *s, long id)
{
	struct probe *p;

	for (p = s->probes; p; p = p->next)
		if (p->id == id)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->s = s;
	p->id = id;
	p->next = s->probes;
	s->probes = p;
	return p;
}

static void probe_stop(struct probe *p)
{
	p->on = false;
	if (p->inited)
		uv_timer_stop(&p->timer);
	if (p->busy) {
		p->busy = false;
		close_tcp(p);
	}
}

static void on_probe(struct agent_service *s, const json_t *m)
{
	long id = (long)json_integer_value(json_object_get(m, "id"));
	const char *http = json_string_value(json_object_get(m, "http"));
	struct probe *p = probe_for(s, id);

	if (!p)
		return;
	probe_stop(p);
	if (!p->inited) {
		uv_timer_init(s->loop, &p->timer);
		p->timer.data = p;
		p->inited = true;
	}
	p->run = json_integer_value(json_object_get(m, "run"));
	snprintf(p->addr, sizeof(p->addr), "%s",
		 json_string_value(json_object_get(m, "addr")) ?: "");
	snprintf(p->path, sizeof(p->path), "%s", http ?: "");
	p->http = http && *http;
	p->port = (int)json_integer_value(json_object_get(m, "port"));
	p->timeout_ms = (uint64_t)json_integer_value(json_object_get(m, "timeout_ms"));
	p->deadline_ms = uv_now(s->loop) + p->timeout_ms;
	p->passed = p->ready = false;
	p->fails = 0;
	p->why[0] = '\0';
	p->on = true;
	uv_timer_start(&p->timer, timer_cb, PROBE_WAIT_MS, 0);
}

bool agent__service_msg(struct agent_service *s, uint16_t type, const json_t *m)
{
	struct probe *p;

	if (type != AIC_MSG_PROBE && type != AIC_MSG_UNPROBE && type != AIC_MSG_ENDPOINTS)
		return false;
	if (!m)
		return true;
	if (type == AIC_MSG_PROBE) {
		on_probe(s, m);
	} else if (type == AIC_MSG_UNPROBE) {
		for (p = s->probes; p; p = p->next)
			if (p->id == (long)json_integer_value(json_object_get(m, "id")))
				probe_stop(p);
	} else if (json_is_object(json_object_get(m, "stages"))) {
		json_decref(s->endpoints);
		s->endpoints = json_incref(json_object_get(m, "stages"));
		s->version = json_integer_value(json_object_get(m, "version"));
	}
	return true;
}

bool agent__service_frame(struct agent_service *s, struct aic_conn *c, const struct aic_frame *f)
{
	char stage[65];
	json_t *list, *e;
	uint8_t *buf;
	size_t i, n;

	if (f->type != AIC_MSG_EP_GET)
		return false;
	if (f->length == 0 || f->length >= sizeof(stage)) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -EINVAL, "a stage name of 1 to 64 bytes");
		return true;
	}
	memcpy(stage, f->payload, f->length);
	stage[f->length] = '\0';
	list = s->endpoints ? json_object_get(s->endpoints, stage) : NULL;
	if (!json_is_array(list)) {
		char why[128];
		snprintf(why, sizeof(why), "no service stage '%s'", stage);
		aic_conn_send_error(c, AIC_MSG_ERROR, -ENOENT, why);
		return true;
	}
	n = json_array_size(list);
	buf = malloc(8 + n * AIC_ENDPOINT_ENTRY);
	if (!buf) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
		return true;
	}
	aic_put_u32(buf, (uint32_t)s->version);
	aic_put_u32(buf + 4, (uint32_t)n);
	json_array_foreach(list, i, e)
		aic_endpoint_encode(buf + 8 + i * AIC_ENDPOINT_ENTRY,
				    (uint32_t)json_integer_value(json_object_get(e, "replica")),
				    json_is_true(json_object_get(e, "ready")),
				    json_string_value(json_object_get(e, "addr")));
	aic_conn_send_raw(c, AIC_MSG_EP_LIST, buf, 8 + n * AIC_ENDPOINT_ENTRY, NULL, 0);
	free(buf);
	return true;
}

void agent__service_init(struct agent_service *s, uv_loop_t *loop, struct aic_conn **head)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->head = head;
}

void agent__service_release(struct agent_service *s)
{
	while (s->probes) {
		struct probe *p = s->probes;
		s->probes = p->next;
		free(p);
	}
	json_decref(s->endpoints);
	s->endpoints = NULL;
}

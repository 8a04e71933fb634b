/*
 * The agent's side of worker metrics: each METRIC frame (w.metric) becomes
 * a point {t, stage, index, name, value, step}, and points go to the head
 * in METRICS messages of at most METRICS_BATCH, or after METRICS_FLUSH_MS,
 * whichever comes first, so a worker reporting every step costs the head
 * one message per batch, not one per point.
 */
#include "config.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "wire.h"

#define METRICS_BATCH 64     /* points per METRICS message, at most */
#define METRICS_FLUSH_MS 100 /* how long a point may wait for more */

static void timer_cb(uv_timer_t *t)
{
	agent__metrics_flush(t->data);
}

void agent__metrics_init(struct agent_metrics *k, uv_loop_t *loop,
			 void (*send)(void *arg, json_t *m), void *arg)
{
	k->points = NULL;
	k->send = send;
	k->arg = arg;
	uv_timer_init(loop, &k->timer);
	k->timer.data = k;
}

void agent__metrics_flush(struct agent_metrics *k)
{
	uv_timer_stop(&k->timer);
	if (k->points && json_array_size(k->points))
		k->send(k->arg, json_pack("{s:O}", "points", k->points));
	json_decref(k->points);
	k->points = NULL;
}

/* METRIC: f64 value, i64 step, name. Bad ones are dropped: a metric never fails a job. */
void agent__metric_frame(struct agent_metrics *k, const char *stage, int index,
			 const struct aic_frame *f)
{
	uint64_t bits = f->length >= 16 ? aic_get_u64(f->payload) : 0;
	int64_t step = f->length >= 16 ? (int64_t)aic_get_u64(f->payload + 8) : -1;
	json_t *name, *value, *point;
	struct timespec ts;
	double v;

	if (f->length <= 16 || f->length > 16 + AIC_METRIC_NAME_MAX)
		return;
	name = json_stringn((const char *)f->payload + 16, f->length - 16); /* NULL unless UTF-8 */
	if (!name)
		return;
	memcpy(&v, &bits, sizeof(v));
	value = isfinite(v) ? json_real(v) : json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
	clock_gettime(CLOCK_REALTIME, &ts);
	point = json_pack("{s:f,s:s,s:i,s:o,s:o,s:o}", "t",
			  (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, "stage", stage, "index", index,
			  "name", name, "value", value, "step",
			  step >= 0 ? json_integer(step) : json_null());
	if (!point)
		return;
	if (!k->points)
		k->points = json_array();
	json_array_append_new(k->points, point);
	if (json_array_size(k->points) >= METRICS_BATCH)
		agent__metrics_flush(k);
	else if (!uv_is_active((uv_handle_t *)&k->timer))
		uv_timer_start(&k->timer, timer_cb, METRICS_FLUSH_MS, 0);
}

void agent__metrics_release(struct agent_metrics *k)
{
	json_decref(k->points);
	k->points = NULL;
}

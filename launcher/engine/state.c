/*
 * The engine's journal: state.json in the job directory, what a later run
 * of the same job (requeued, or `aic submit --resume`) continues from.
 *
 *   version      1
 *   job          the job's name
 *   spec         what a later run must keep: per stage its GPUs, gang size
 *                and replicas; the channels; the weight streams
 *   runs         one entry per run: its number, SLURM job id and restart
 *                count, start and end (epoch seconds), state and reason,
 *                and its restarts per stage
 *   restarts     per stage, over every run
 *   placement    where the newest run placed each process
 *   checkpoints  per stage: its directory, and per index the version of
 *                the checkpoint that counts (null: none), what AIC_RESUME
 *                gives a worker of the next run, and in "sources" the
 *                sources' progress that goes with it ({channel: progress}
 *                as of the worker's mark, drain.c; null: unknown)
 *   weights      per stream: the stage that publishes it and the version
 *                its checkpoint holds (the newest version it will publish
 *                again on resume)
 *   metrics      per stage and name: count, last, min, max, last_step, so
 *                curves and summaries continue
 *   sinks        per channel with a sink: its path, and the bytes and
 *                lines it holds (a resumed sink appends after them)
 *   sources      per channel with a source: its path, and "progress",
 *                which lines are fully processed (chan_set_source_progress
 *                at rank 0's agent: {"done": true}, or {"done": false,
 *                "next": [epoch, line], "unfinished": [[epoch, line]...]});
 *                null before the first run's data plane started. A
 *                resumed run's feeder skips the lines done in it and in
 *                every counted checkpoint's (config_msg.c)
 *
 * It is written whole and durably (jobdir_write_durable: fsync, rename,
 * the directory fsynced) at placement, whenever a checkpoint counts, at
 * the end, and every second while the sources' progress changes, so a
 * crash at any moment leaves the previous state whole. A process killed
 * without notice resumes from the last state written.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"
#include "jobdir.h"
#include "log.h"

#define STATE_FILE "state.json"
#define STATE_VERSION 1

/*
 * How often the sources' progress is journalled while the job runs, when
 * it changed. A timer, not each sink sync: a journal write (write, fsync,
 * rename, the directory fsynced; 0.5 ms median, 4.8 ms p90 on the
 * project's VM) costs 8 to 80 times a sink's batched fsync (0.06 ms), and
 * a sink-bound job syncs every few dozen to a thousand lines (983 syncs
 * for 1,000,000 lines straight to a sink in 0.57 s; 947 for 20,000 lines
 * through three Python stages in 0.6 s), so it would run several times
 * slower. What a SIGKILL costs instead: the sink's lines of the last
 * second, written again with the same origin (142 of 20,000 in
 * tests/python/source-resume.sh).
 */
#define PROGRESS_EVERY_MS 1000

/*
 * A source's progress for the journal (a new reference): which of its
 * lines are fully processed, from rank 0's agent (head_config's
 * source_progress), else what the journal last held; NULL: none known.
 */
static json_t *journal_progress(struct head *h, size_t chan)
{
	json_t *p = h->cfg.source_progress ? h->cfg.source_progress(chan, h->cfg.source_progress_arg)
					   : NULL;
	const struct aic_channel *ch = &h->cfg.spec->channels[chan];

	if (p)
		return p;
	/*
	 * Before this run's data plane exists (at placement) and after it has
	 * ended: what the journal last held, this run's or the earlier one's.
	 */
	p = json_object_get(json_object_get(json_object_get(h->journal, "sources"), ch->name),
			    "progress");
	return json_is_object(p) ? json_incref(p) : NULL;
}

/* What a later run must keep of the spec (see check_spec). */
static json_t *spec_json(const struct aic_spec *spec)
{
	json_t *stages = json_object(), *chans = json_array(), *weights = json_array();
	size_t i;

	for (i = 0; i < spec->n_stages; i++) {
		const struct aic_stage *st = &spec->stages[i];
		json_object_set_new(stages, st->name,
				    json_pack("{s:i,s:i,s:i}", "gpus", st->gpus, "ranks", st->ranks,
					      "replicas", st->replicas_max));
	}
	for (i = 0; i < spec->n_channels; i++)
		json_array_append_new(chans, json_string(spec->channels[i].name));
	for (i = 0; i < spec->n_weights; i++)
		json_array_append_new(weights, json_string(spec->weights[i].name));
	return json_pack("{s:o,s:o,s:o}", "stages", stages, "channels", chans, "weights", weights);
}

/* Whether the string array a holds s. */
static bool has_name(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

/* Appends "what 'name' added/removed" for names in a but not in b (and b not in a). */
static void diff_names(const json_t *was, const json_t *now, const char *what, char *buf,
		       size_t len)
{
	size_t i, n;
	json_t *v;

	json_array_foreach(now, i, v)
		if (!has_name(was, json_string_value(v)) && (n = strlen(buf)) < len)
			snprintf(buf + n, len - n, "%s%s '%s' added", n ? "; " : "", what,
				 json_string_value(v));
	json_array_foreach(was, i, v)
		if (json_is_string(v) && !has_name(now, json_string_value(v)) && (n = strlen(buf)) < len)
			snprintf(buf + n, len - n, "%s%s '%s' removed", n ? "; " : "", what,
				 json_string_value(v));
}

/*
 * A later run resumes checkpoints the earlier one saved: the stages, their
 * GPUs and gang sizes (a gang's checkpoint is one shard per rank), the
 * channels and the weight streams must be the same. Commands, environment,
 * replica counts (a new replica starts fresh), restart policies and channel
 * settings may change. Fills why with every change found; false if any.
 */
static bool check_spec(const json_t *was, const json_t *now, char *why, size_t len)
{
	const char *name;
	json_t *v, *w;
	size_t n;

	why[0] = '\0';
	json_object_foreach(json_object_get(now, "stages"), name, v) {
		w = json_object_get(json_object_get(was, "stages"), name);
		n = strlen(why);
		if (!w) {
			if (n < len)
				snprintf(why + n, len - n, "%sstage '%s' added", n ? "; " : "", name);
			continue;
		}
		if (json_integer_value(json_object_get(w, "gpus")) !=
			    json_integer_value(json_object_get(v, "gpus")) &&
		    n < len)
			snprintf(why + n, len - n, "%sstage '%s' gpus %lld -> %lld", n ? "; " : "", name,
				 (long long)json_integer_value(json_object_get(w, "gpus")),
				 (long long)json_integer_value(json_object_get(v, "gpus")));
		n = strlen(why);
		if (json_integer_value(json_object_get(w, "ranks")) !=
			    json_integer_value(json_object_get(v, "ranks")) &&
		    n < len)
			snprintf(why + n, len - n, "%sstage '%s' ranks %lld -> %lld", n ? "; " : "", name,
				 (long long)json_integer_value(json_object_get(w, "ranks")),
				 (long long)json_integer_value(json_object_get(v, "ranks")));
	}
	json_object_foreach(json_object_get(was, "stages"), name, v)
		if (!json_object_get(json_object_get(now, "stages"), name) && (n = strlen(why)) < len)
			snprintf(why + n, len - n, "%sstage '%s' removed", n ? "; " : "", name);
	diff_names(json_object_get(was, "channels"), json_object_get(now, "channels"), "channel",
		   why, len);
	diff_names(json_object_get(was, "weights"), json_object_get(now, "weights"), "weights",
		   why, len);
	return why[0] == '\0';
}

int head__state_load(struct head *h, char *err, size_t errlen)
{
	json_t *j, *spec, *runs;
	json_error_t je;
	char why[1024];
	FILE *f;
	int rc = 0;

	f = jobdir_open(h->cfg.jobdir, STATE_FILE, &rc);
	if (!f)
		return rc == -ENOENT ? 0 : (snprintf(err, errlen, "cannot read '%s/%s': %s",
						     h->cfg.jobdir, STATE_FILE, strerror(-rc)),
					    rc);
	j = json_loadf(f, 0, &je);
	fclose(f);
	if (!json_is_object(j) || json_integer_value(json_object_get(j, "version")) != STATE_VERSION) {
		snprintf(err, errlen, "'%s/%s' is not an aic state (version %d): %s", h->cfg.jobdir,
			 STATE_FILE, STATE_VERSION, j ? "another version" : je.text);
		json_decref(j);
		return -EINVAL;
	}
	spec = spec_json(h->cfg.spec);
	if (!check_spec(json_object_get(j, "spec"), spec, why, sizeof(why))) {
		snprintf(err, errlen,
			 "the spec changed since the job's earlier run, and its checkpoints no longer "
			 "fit: %s; restore the spec, or start a new job",
			 why);
		json_decref(spec);
		json_decref(j);
		return -EINVAL;
	}
	json_decref(spec);
	runs = json_object_get(j, "runs");
	h->run = (int)json_array_size(runs);
	h->journal = j;
	/* Metric summaries continue where the earlier run left them. */
	if (json_is_object(json_object_get(j, "metrics"))) {
		const char *stage, *name;
		json_t *names, *v;
		h->metrics = json_deep_copy(json_object_get(j, "metrics"));
		json_object_foreach(h->metrics, stage, names)
			json_object_foreach(names, name, v)
				h->n_metric_names++;
	}
	aic_log_info("run %d of job '%s': continuing from %s/%s", h->run, h->name, h->cfg.jobdir,
		     STATE_FILE);
	return 0;
}

/* Counts '\n' in the file from byte `from` on; -1 when it cannot be read. */
static long long count_lines(const char *path, long long from)
{
	char buf[65536];
	long long n = 0;
	size_t got, i;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (from > 0 && fseeko(f, (off_t)from, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		for (i = 0; i < got; i++)
			n += buf[i] == '\n';
	fclose(f);
	return n;
}

/*
 * Each sink's bytes and lines: the file as it is (an agent syncs before it
 * acks, and cuts back what it could not sync), lines counted only past
 * what the last journal had counted.
 */
static json_t *sinks_json(struct head *h)
{
	json_t *o = json_object(), *was = json_object_get(h->journal, "sinks");
	char path[PATH_MAX];
	struct stat st;
	size_t c;

	for (c = 0; c < h->cfg.spec->n_channels; c++) {
		const struct aic_channel *ch = &h->cfg.spec->channels[c];
		json_t *w = json_object_get(was, ch->name);
		long long bytes = 0, lines = 0, before = json_integer_value(json_object_get(w, "bytes"));
		long long more;

		if (!ch->sink)
			continue;
		head__spec_relative(h, ch->sink, path, sizeof(path));
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			bytes = (long long)st.st_size;
		if (before > bytes || !w)
			before = 0;
		more = bytes ? count_lines(path, before) : 0;
		lines = (before ? json_integer_value(json_object_get(w, "lines")) : 0) + (more > 0 ? more : 0);
		json_object_set_new(o, ch->name, json_pack("{s:s,s:I,s:I}", "path", path, "bytes",
							   (json_int_t)bytes, "lines",
							   (json_int_t)lines));
	}
	return o;
}

static json_t *sources_json(struct head *h)
{
	json_t *o = json_object(), *p;
	char path[PATH_MAX];
	size_t c;

	for (c = 0; c < h->cfg.spec->n_channels; c++) {
		const struct aic_channel *ch = &h->cfg.spec->channels[c];
		if (!ch->source)
			continue;
		head__spec_relative(h, ch->source, path, sizeof(path));
		p = journal_progress(h, c);
		json_object_set_new(o, ch->name,
				    json_pack("{s:s,s:o}", "path", path, "progress", p ? p : json_null()));
	}
	return o;
}

void head__state_progress(struct head *h)
{
	json_t *now;

	if (!h->journal || !h->placed)
		return;
	now = sources_json(h);
	if (!json_equal(now, json_object_get(h->journal, "sources")))
		head__state_save(h);
	json_decref(now);
}

static void progress_tick(uv_timer_t *t)
{
	head__state_progress(t->data);
}

/* This run's restarts per stage (a gang's, or its replicas' summed). */
static json_t *run_restarts(struct head *h)
{
	json_t *o = json_object();
	size_t s, i;

	for (s = 0; s < h->cfg.spec->n_stages; s++) {
		const struct aic_stage *st = &h->cfg.spec->stages[s];
		int n = st->ranks ? h->stages[s].restarts : 0;
		for (i = 0; !st->ranks && i < h->n_procs; i++)
			if (h->procs[i].p->stage == s)
				n += h->procs[i].restarts;
		json_object_set_new(o, st->name, json_integer(n));
	}
	return o;
}

static json_t *run_json(struct head *h)
{
	const char *id = getenv("SLURM_JOB_ID"), *rc = getenv("SLURM_RESTART_COUNT");
	json_t *was = json_array_get(json_object_get(h->journal, "runs"), (size_t)h->run);
	json_t *started = json_object_get(was, "started");
	time_t now = time(NULL);

	return json_pack("{s:i,s:o,s:i,s:o,s:o,s:s,s:s,s:o}", "run", h->run, "slurm_job_id",
			 id ? json_string(id) : json_null(), "restart_count", rc ? atoi(rc) : 0,
			 "started", started ? json_incref(started) : json_integer((json_int_t)now), "ended",
			 h->done ? json_integer((json_int_t)now) : json_null(), "state",
			 h->final_state ? h->final_state : h->placed ? "running" : "starting",
			 "reason", h->reason, "restarts", run_restarts(h));
}

/* The spec's restarts summed over every run, this one included. */
static json_t *total_restarts(json_t *runs)
{
	json_t *o = json_object(), *r, *v;
	const char *name;
	size_t i;

	json_array_foreach(runs, i, r)
		json_object_foreach(json_object_get(r, "restarts"), name, v)
			json_object_set_new(o, name,
					    json_integer(json_integer_value(json_object_get(o, name)) +
							 json_integer_value(v)));
	return o;
}

static json_t *checkpoints_json(struct head *h)
{
	json_t *o = json_object();
	char dir[PATH_MAX + 160];
	size_t s, i;

	for (s = 0; s < h->cfg.spec->n_stages; s++) {
		const struct aic_stage *st = &h->cfg.spec->stages[s];
		json_t *was = json_object_get(json_object_get(h->journal, "checkpoints"), st->name);
		json_t *versions = json_array(), *sources = json_array();
		int n = aic_stage_procs(st), k;

		/* Before placement (or for indices this run has not), the earlier run's stand. */
		for (k = 0; k < n; k++) {
			json_t *v = json_array_get(json_object_get(was, "versions"), (size_t)k);
			json_t *p = json_array_get(json_object_get(was, "sources"), (size_t)k);
			json_array_append_new(versions, v ? json_incref(v) : json_null());
			json_array_append_new(sources, p ? json_incref(p) : json_null());
		}
		for (i = 0; i < h->n_procs; i++) {
			const struct hproc *hp = &h->procs[i];
			if (hp->p->stage != s || !(hp->counted || hp->counted_none) ||
			    hp->p->index >= n)
				continue;
			json_array_set_new(versions, (size_t)hp->p->index,
					   hp->counted ? json_integer((json_int_t)hp->counted_version)
						       : json_null());
			json_array_set_new(sources, (size_t)hp->p->index,
					   hp->counted_progress ? json_incref(hp->counted_progress)
								: json_null());
		}
		snprintf(dir, sizeof(dir), "%s/checkpoints/%s", h->cfg.jobdir, st->name);
		json_object_set_new(o, st->name,
				    json_pack("{s:s,s:o,s:o}", "dir", dir, "versions", versions,
					      "sources", sources));
	}
	return o;
}

static json_t *weights_json(struct head *h, json_t *checkpoints)
{
	json_t *o = json_object();
	size_t w, s;

	for (w = 0; w < h->cfg.spec->n_weights; w++) {
		const char *stream = h->cfg.spec->weights[w].name;
		const struct aic_stage *pub = NULL;
		json_t *v = NULL;
		for (s = 0; s < h->cfg.spec->n_stages && !pub; s++)
			if (h->cfg.spec->stages[s].weights_to &&
			    !strcmp(h->cfg.spec->stages[s].weights_to, stream))
				pub = &h->cfg.spec->stages[s];
		if (pub)
			v = json_array_get(json_object_get(json_object_get(checkpoints, pub->name),
							   "versions"),
					   0);
		json_object_set_new(o, stream,
				    json_pack("{s:o,s:O}", "stage",
					      pub ? json_string(pub->name) : json_null(), "version",
					      v ? v : json_null()));
	}
	return o;
}

static json_t *placement_json(struct head *h)
{
	json_t *a, *was = json_object_get(h->journal, "placement");
	size_t i, g;

	if (!h->placed)
		return was ? json_incref(was) : json_array();
	a = json_array();
	for (i = 0; i < h->n_procs; i++) {
		const struct hproc *hp = &h->procs[i];
		json_t *gpus = json_array();
		for (g = 0; g < hp->p->n_gpus; g++)
			json_array_append_new(gpus, json_integer(hp->p->gpus[g]));
		json_array_append_new(a, json_pack("{s:s,s:i,s:s,s:o}", "stage",
						   h->cfg.spec->stages[hp->p->stage].name, "index",
						   hp->p->index, "node", h->agents[hp->p->node].node,
						   "gpus", gpus));
	}
	return a;
}

void head__state_save(struct head *h)
{
	json_t *s, *runs, *ck;
	size_t i;
	int rc;

	runs = json_array();
	for (i = 0; i < (size_t)h->run; i++) {
		json_t *r = json_array_get(json_object_get(h->journal, "runs"), i);
		json_array_append_new(runs, r ? json_incref(r) : json_object());
	}
	json_array_append_new(runs, run_json(h));
	ck = checkpoints_json(h);
	s = json_pack("{s:i,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "version", STATE_VERSION,
		      "job", h->name, "spec", spec_json(h->cfg.spec), "runs", runs, "restarts",
		      total_restarts(runs), "placement", placement_json(h), "checkpoints", ck,
		      "weights", weights_json(h, ck), "metrics",
		      h->metrics ? json_deep_copy(h->metrics) : json_object(), "sinks", sinks_json(h),
		      "sources", sources_json(h));
	if (!s) {
		aic_log_error("cannot record the job's state: out of memory");
		return;
	}
	json_object_set_new(s, "satellites", head__satellite_state(h));
	rc = jobdir_write_durable(h->cfg.jobdir, STATE_FILE, s);
	if (rc) {
		aic_log_error("cannot record the job's state in '%s/%s': %s", h->cfg.jobdir,
			      STATE_FILE, strerror(-rc));
		json_decref(s);
		return;
	}
	json_decref(h->journal);
	h->journal = s;
	/* From the first save (at placement) to the last (the end), progress is checked. */
	if (!h->progress_timer_on && !h->done && h->cfg.source_progress) {
		uv_timer_init(h->loop, &h->progress_timer);
		h->progress_timer.data = h;
		uv_timer_start(&h->progress_timer, progress_tick, PROGRESS_EVERY_MS,
			       PROGRESS_EVERY_MS);
		h->progress_timer_on = true;
	} else if (h->progress_timer_on && h->done) {
		uv_timer_stop(&h->progress_timer);
	}
}

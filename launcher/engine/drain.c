/*
 * Checkpoints and the notice of a job's end.
 *
 * Contract: a worker reports each checkpoint it has saved (CHECKPOINTED,
 * from its agent); a replica's counts at once, a gang's only once every
 * rank has reported the same version (every rank done, or none counted).
 * AIC_CHECKPOINT_NONE (a worker that keeps no state) answers a request
 * and leaves the process with no checkpoint.
 * What counts is journalled (state.c) and given to the process's next
 * start, in this run or a later one, as AIC_RESUME, with the sources'
 * progress that goes with it: as of the worker's mark, which the acker
 * snapshots (launcher/dataplane/acker.c, "Checkpoints"; a gang's, each
 * rank's own), or without a mark this run's start (start_progress). A
 * later run reads again every line not done in all of them
 * (config_msg.c).
 *
 * On notice (head_drain: SIGUSR1 before a time limit or preemption, or
 * `aic stop --checkpoint`) the head asks every agent to stop feeding
 * sources and every worker to checkpoint (a numbered request), and waits
 * until every running process has answered it or the spec's
 * checkpoint.grace_s has passed; it then records the state and ends the
 * job as "checkpointed" with HEAD_EXIT_REQUEUE, so the batch script has
 * SLURM requeue it. A process that did not answer in time resumes from
 * its last counted checkpoint, or starts over: what is not checkpointed
 * is redone.
 *
 * SIGTERM (scancel, preemption within its GraceTime, scontrol requeue) is
 * such a notice too in a job that writes a `checkpoint:` section with
 * term_grace_s > 0 (head_term_notice): the same drain, bounded by
 * term_grace_s, SLURM's KillWait being all the time left. Its workers
 * learn it from AIC_TERM_NOTICE (they must then survive SLURM's SIGTERM
 * until they have checkpointed), and its agents from their workers'
 * environment (term.c). A second SIGTERM cancels.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aic.h"
#include "internal.h"
#include "log.h"
#include "wire.h"

/* Makes path (mode 0700) unless it is there; refuses a link or someone else's. */
static int private_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return st.st_uid == geteuid() ? 0 : -EPERM;
}

int head__ckpt_start(struct head *h)
{
	char dir[PATH_MAX + 160];
	json_t *runs = json_object_get(h->journal, "runs"), *cks;
	const char *last;
	size_t s, i;
	int rc;

	snprintf(dir, sizeof(dir), "%s/checkpoints", h->cfg.jobdir);
	rc = private_dir(dir);
	for (s = 0; rc == 0 && s < h->cfg.spec->n_stages; s++) {
		snprintf(dir, sizeof(dir), "%s/checkpoints/%s", h->cfg.jobdir,
			 h->cfg.spec->stages[s].name);
		rc = private_dir(dir);
	}
	if (rc) {
		aic_log_error("cannot make the checkpoint directory '%s': %s", dir, strerror(-rc));
		return rc;
	}
	/* What an earlier run counted is what each process resumes from. */
	cks = json_object_get(h->journal, "checkpoints");
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		json_t *ck = json_object_get(cks, h->cfg.spec->stages[hp->p->stage].name);
		json_t *v = json_array_get(json_object_get(ck, "versions"), (size_t)hp->p->index);
		json_t *p = json_array_get(json_object_get(ck, "sources"), (size_t)hp->p->index);
		if (json_is_integer(v)) {
			hp->counted = true;
			hp->counted_version = (uint64_t)json_integer_value(v);
			hp->counted_progress = json_is_object(p) ? json_incref(p) : NULL;
		}
	}
	last = json_string_value(
		json_object_get(json_array_get(runs, json_array_size(runs) - 1), "state"));
	return last && !strcmp(last, "succeeded") ? 1 : 0;
}

/* checkpoint.term_grace_s when the spec writes a checkpoint section, else 0: SIGTERM cancels. */
static int term_grace_s(const struct head *h)
{
	const struct aic_checkpoint *ck = &h->cfg.spec->checkpoint;

	return ck->mark.line > 0 ? ck->term_grace_s : 0;
}

void head__ckpt_env(struct head *h, const struct hproc *hp, json_t *env)
{
	char buf[PATH_MAX + 160];

	snprintf(buf, sizeof(buf), "%s/checkpoints/%s", h->cfg.jobdir,
		 h->cfg.spec->stages[hp->p->stage].name);
	json_object_set_new(env, "AIC_CHECKPOINT_DIR", json_string(buf));
	if (hp->counted) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)hp->counted_version);
		json_object_set_new(env, "AIC_RESUME", json_string(buf));
	}
	if (term_grace_s(h) > 0) {
		snprintf(buf, sizeof(buf), "%d", term_grace_s(h));
		json_object_set_new(env, "AIC_TERM_NOTICE", json_string(buf));
	}
}

/* Every process that runs has answered the newest request (those that do not run cannot). */
static bool all_answered(struct head *h, char *missing, size_t len)
{
	size_t i, n;
	bool all = true;

	missing[0] = '\0';
	for (i = 0; i < h->n_procs; i++) {
		const struct hproc *hp = &h->procs[i];
		if ((hp->state != P_RUNNING && hp->state != P_STARTING) || hp->answered >= h->request)
			continue;
		all = false;
		n = strlen(missing);
		if (n + 1 < len)
			snprintf(missing + n, len - n, "%s%s/%d", n ? ", " : "",
				 h->cfg.spec->stages[hp->p->stage].name, hp->p->index);
	}
	return all;
}

/* The drain is over (every process answered, or the grace ran out): record and end. */
static void drain_finish(struct head *h, const char *missing)
{
	char why[1024];

	uv_timer_stop(&h->grace);
	if (missing && *missing)
		snprintf(why, sizeof(why),
			 "%s; not checkpointed within checkpoint.%s (%d s), resumed from an "
			 "earlier checkpoint or redone: %.600s",
			 h->drain_why, h->drain_term ? "term_grace_s" : "grace_s", h->drain_grace_s,
			 missing);
	else
		snprintf(why, sizeof(why), "%s; every stage checkpointed", h->drain_why);
	aic_log_info("%s", why);
	head__end(h, HEAD_EXIT_REQUEUE, "checkpointed", why);
	head__state_save(h);
}

static void grace_expired(uv_timer_t *t)
{
	struct head *h = t->data;
	char missing[1024];

	if (h->ending)
		return;
	all_answered(h, missing, sizeof(missing));
	drain_finish(h, missing);
}

static void drain(struct head *h, const char *why, int grace_s)
{
	char missing[1024];
	json_t *m;

	snprintf(h->drain_why, sizeof(h->drain_why), "%s", why);
	if (!h->placed) {
		/* Nothing runs yet: nothing to save, and the job can start over. */
		head__end(h, HEAD_EXIT_REQUEUE, "checkpointed", why);
		return;
	}
	h->draining = true;
	h->drain_grace_s = grace_s;
	h->request++;
	aic_log_info("%s: stopping the sources and asking every stage for a checkpoint (request "
		     "%llu, at most %d s)",
		     why, (unsigned long long)h->request, grace_s);
	m = json_pack("{s:I}", "request", (json_int_t)h->request);
	head__broadcast(h, AIC_MSG_CHECKPOINT, m);
	json_decref(m);
	if (all_answered(h, missing, sizeof(missing))) {
		drain_finish(h, NULL);
		return;
	}
	uv_timer_start(&h->grace, grace_expired, (uint64_t)grace_s * 1000, 0);
}

void head_drain(struct head *h, const char *why)
{
	if (h->ending || h->draining)
		return;
	drain(h, why, h->cfg.spec->checkpoint.grace_s);
}

bool head_term_notice(struct head *h)
{
	int grace_s = term_grace_s(h);

	if (grace_s <= 0 || !h->placed || h->ending || h->drain_term)
		return false;
	h->drain_term = true;
	if (!h->draining) {
		drain(h, "SIGTERM (scancel, preemption or requeue)", grace_s);
	} else if ((uint64_t)grace_s * 1000 < uv_timer_get_due_in(&h->grace)) {
		/* Already draining on an earlier notice: KillWait may now be all that is left. */
		aic_log_info("SIGTERM while checkpointing: at most %d s more", grace_s);
		h->drain_grace_s = grace_s;
		uv_timer_start(&h->grace, grace_expired, (uint64_t)grace_s * 1000, 0);
	}
	return true;
}

void head__drain_check(struct head *h)
{
	char missing[1024];

	if (h->draining && !h->ending && all_answered(h, missing, sizeof(missing)))
		drain_finish(h, NULL);
}

/*
 * A process's checkpoint counts, with the progress it reported with it;
 * AIC_CHECKPOINT_NONE (a worker without state): it has none from now on.
 */
static void count(struct hproc *hp, uint64_t version)
{
	hp->counted_none = version == AIC_CHECKPOINT_NONE;
	hp->counted = !hp->counted_none;
	hp->counted_version = version;
	json_decref(hp->counted_progress);
	hp->counted_progress = hp->counted ? json_incref(hp->reported_progress) : NULL;
}

/*
 * A gang's checkpoint counts once every rank has reported the same
 * version; then it counts for all of them at once.
 */
static bool count_gang(struct head *h, size_t stage, uint64_t version)
{
	size_t i;

	for (i = 0; i < h->n_procs; i++) {
		const struct hproc *hp = &h->procs[i];
		if (hp->p->stage == stage && (!hp->reported || hp->reported_version != version))
			return false;
	}
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage)
			count(&h->procs[i], version);
	return true;
}

void head__on_checkpointed(struct head *h, json_t *m)
{
	size_t id = (size_t)json_integer_value(json_object_get(m, "id"));
	json_int_t request = json_integer_value(json_object_get(m, "request"));
	uint64_t version = (uint64_t)json_integer_value(json_object_get(m, "version"));
	struct hproc *hp;
	const struct aic_stage *st;
	bool counted;

	if (id >= h->n_procs)
		return;
	hp = &h->procs[id];
	st = &h->cfg.spec->stages[hp->p->stage];
	hp->reported = true;
	hp->reported_version = version;
	json_decref(hp->reported_progress);
	hp->reported_progress = json_is_object(json_object_get(m, "progress"))
					? json_incref(json_object_get(m, "progress"))
					: json_incref(h->start_progress);
	if (request > 0 && (uint64_t)request > hp->answered)
		hp->answered = (uint64_t)request;
	if (st->ranks) {
		counted = count_gang(h, hp->p->stage, version);
	} else {
		count(hp, version);
		counted = true;
	}
	aic_log_debug("stage '%s' %d saved checkpoint %lld%s", st->name, hp->p->index,
		      version == AIC_CHECKPOINT_NONE ? -1LL : (long long)version,
		      counted ? "" : " (its gang's other ranks not yet)");
	if (counted)
		head__state_save(h);
	head__drain_check(h);
}

void head__ckpt_close(struct head *h)
{
	size_t i;

	for (i = 0; h->procs && i < h->n_procs; i++) {
		json_decref(h->procs[i].reported_progress);
		json_decref(h->procs[i].counted_progress);
	}
	json_decref(h->start_progress);
	h->start_progress = NULL;
	json_decref(h->journal);
	h->journal = NULL;
}
